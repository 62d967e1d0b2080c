"""Properties of the three-way merge: nothing dropped silently."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from xlrebalance.sync.merge import DELETED, merge
from xlrebalance.sync.rows import Cell, RowKey, Rows

KEYS: list[RowKey] = [("holding", "a", t) for t in "ABCDEF"] + [("setting", "mode"), ("group", "g")]
FIELDS = ["quantity", "locked", "name"]
values = st.one_of(
    st.none(), st.booleans(), st.sampled_from([0.5, 2.5, 7.0, 12.0]), st.text(max_size=2)
)


@st.composite
def rows(draw: st.DrawFn) -> Rows:
    keys = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=len(KEYS)))
    return {k: {f: draw(values) for f in FIELDS} for k in keys}


@st.composite
def edited(draw: st.DrawFn, base: Rows) -> Rows:
    """``base`` with some rows deleted, some cells changed and some rows added."""
    out: Rows = {}
    for key, cells in base.items():
        action = draw(st.sampled_from(["keep", "keep", "edit", "delete"]))
        if action == "delete":
            continue
        row = dict(cells)
        if action == "edit":
            for f in draw(st.lists(st.sampled_from(FIELDS), unique=True, min_size=1)):
                row[f] = draw(values)
        out[key] = row
    for key in draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=3)):
        if key not in base:
            out[key] = {f: draw(values) for f in FIELDS}
    return out


@st.composite
def triples(draw: st.DrawFn) -> tuple[Rows, Rows, Rows]:
    base = draw(rows())
    return base, draw(edited(base)), draw(edited(base))


def cell(rows_: Rows, key: RowKey, field: str) -> Cell | str:
    return rows_[key].get(field) if key in rows_ else DELETED


@settings(max_examples=100, deadline=None)
@given(triples())
def test_every_one_sided_change_survives_and_every_clash_is_reported(
    t: tuple[Rows, Rows, Rows],
) -> None:
    base, local, remote = t
    result = merge(base, local, remote)
    clashes = {(c.key, c.cell) for c in result.conflicts}
    for key in set(base) | set(local) | set(remote):
        for field in FIELDS:
            b, lo, r = cell(base, key, field), cell(local, key, field), cell(remote, key, field)
            if key not in base and key in local and key in remote:
                b = None  # added on both sides: an empty cell on one side is no edit
            got = cell(result.rows, key, field)
            if (key, None) in clashes:
                # Deleted on one side, edited on the other: the edited row is kept whole.
                assert key in result.rows and got in (lo, r)
            elif lo == r:
                assert got == lo
            elif lo == b:
                assert got == r  # only the remote changed it: its change wins
            elif r == b:
                assert got == lo  # only this copy changed it
            else:
                # Changed differently on both sides: reported (by cell, or the whole row when
                # one side deleted it), and the kept value is one of the two, never a third.
                assert (key, field) in clashes or (key, None) in clashes
                assert got in (lo, r)


@settings(max_examples=150, deadline=None)
@given(triples())
def test_conflicts_name_both_values_and_the_kept_one(t: tuple[Rows, Rows, Rows]) -> None:
    base, local, remote = t
    result = merge(base, local, remote)
    for c in result.conflicts:
        if c.cell is None:
            continue
        assert c.local == local[c.key][c.cell] and c.remote == remote[c.key][c.cell]
        assert c.local != c.remote
        assert result.rows[c.key][c.cell] == (c.local if c.kept == "local" else c.remote)


@settings(max_examples=150, deadline=None)
@given(triples())
def test_no_row_is_lost_unless_deleted_and_untouched(t: tuple[Rows, Rows, Rows]) -> None:
    base, local, remote = t
    result = merge(base, local, remote)
    for key in set(local) | set(remote):
        if key not in result.rows:
            # Only a deletion on one side of a row the other side left as it was.
            assert (key not in local and remote.get(key) == base.get(key)) or (
                key not in remote and local.get(key) == base.get(key)
            )


@settings(max_examples=100, deadline=None)
@given(triples())
def test_trivial_merges(t: tuple[Rows, Rows, Rows]) -> None:
    base, local, remote = t
    assert merge(base, local, base).rows == local
    assert merge(base, base, remote).rows == remote
    same = merge(base, local, local)
    assert same.rows == local and not same.conflicts


@settings(max_examples=100, deadline=None)
@given(triples())
def test_sides_swapped_give_the_same_rows_where_there_is_no_conflict(
    t: tuple[Rows, Rows, Rows],
) -> None:
    base, local, remote = t
    one, two = merge(base, local, remote), merge(base, remote, local)
    assert len(one.conflicts) == len(two.conflicts)
    clashing = {c.key for c in one.conflicts}
    for key in set(one.rows) | set(two.rows):
        if key not in clashing:
            assert one.rows.get(key) == two.rows.get(key)
