"""Three-way merge of synced rows against the last synced base. Pure: no I/O.

Per row, then per cell: a side that left something as it was in the base takes the other
side's change; a change made identically on both sides is kept once; a cell changed
differently on both sides is a :class:`Conflict` -- the local value is kept (it is the edit
the person syncing just made on this machine) and the remote value is reported, and stored in
the pushed version, so nothing disappears silently. A row deleted on one side and edited on
the other is kept (with its edits) and reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from xlrebalance.sync.rows import Cell, RowKey, Rows

LOCAL = "local"
REMOTE = "remote"


@dataclass(frozen=True)
class Conflict:
    key: RowKey
    cell: str | None
    """None: the whole row (deleted on one side, edited on the other)."""
    local: Cell | str
    remote: Cell | str
    kept: str
    """``local`` or ``remote``."""

    def to_json(self) -> dict[str, object]:
        return {
            "key": list(self.key),
            "cell": self.cell,
            "local": self.local,
            "remote": self.remote,
            "kept": self.kept,
        }


@dataclass(frozen=True)
class Merged:
    rows: Rows
    conflicts: tuple[Conflict, ...]


DELETED = "(deleted)"


def merge(base: Rows, local: Rows, remote: Rows) -> Merged:
    """Rows in local order, then rows only the remote has, in its order."""
    conflicts: list[Conflict] = []
    out: Rows = {}
    keys = (
        list(local)
        + [k for k in remote if k not in local]
        + [k for k in base if k not in local and k not in remote]
    )
    for key in keys:
        b, lo, r = base.get(key), local.get(key), remote.get(key)
        if lo == r:
            chosen = lo
        elif lo == b:
            chosen = r
        elif r == b:
            chosen = lo
        elif lo is None:
            assert r is not None
            chosen = r
            conflicts.append(Conflict(key, None, DELETED, _show(r), REMOTE))
        elif r is None:
            chosen = lo
            conflicts.append(Conflict(key, None, _show(lo), DELETED, LOCAL))
        else:
            chosen = _merge_cells(key, b or {}, lo, r, conflicts)
        if chosen is not None:
            out[key] = dict(chosen)
    return Merged(out, tuple(conflicts))


def _merge_cells(
    key: RowKey,
    base: dict[str, Cell],
    local: dict[str, Cell],
    remote: dict[str, Cell],
    conflicts: list[Conflict],
) -> dict[str, Cell]:
    cells: dict[str, Cell] = {}
    for name in list(local) + [n for n in remote if n not in local]:
        b, lo, r = base.get(name), local.get(name), remote.get(name)
        if lo == r or r == b:
            cells[name] = lo
        elif lo == b:
            cells[name] = r
        else:
            cells[name] = lo
            conflicts.append(Conflict(key, name, lo, r, LOCAL))
    return cells


def _show(cells: dict[str, Cell]) -> str:
    return ", ".join(f"{k}={v}" for k, v in cells.items()) or "(row)"


def changed(base: Rows, rows: Rows) -> bool:
    """Whether ``rows`` differ from ``base`` (order of rows included)."""
    return list(base.items()) != list(rows.items())
