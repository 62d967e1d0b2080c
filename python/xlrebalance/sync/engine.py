"""status, pull and push: read everything, merge, check, and only then write.

Order of writes, chosen so that a crash at any point loses nothing:

* pull: the remote is only read. The local copy is written first, the base (the last synced
  version) after it. A crash between the two leaves the old base: the next merge sees the
  same values on both sides and agrees -- the reverse order could make a stale local copy
  look like edits that undo the remote's.
* push: the new version is published (conditionally) before anything local changes. A crash
  after the publish and before the local save leaves the remote ahead; the next sync merges
  it back, again with both sides equal.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from xlrebalance.errors import PortfolioError
from xlrebalance.sync.envelope import Version, decode, encode, salt_of, version_id
from xlrebalance.sync.errors import RemoteCorrupt, SyncError, WriteConflict
from xlrebalance.sync.merge import Conflict, changed, merge
from xlrebalance.sync.remote import Remote, Snapshot, Stored
from xlrebalance.sync.rows import (
    LocalOnly,
    RowKey,
    SyncedState,
    describe_key,
    history_rows,
    rows_portfolio,
)

PUSH_ATTEMPTS = 12
KEEP_VERSIONS = 16
"""Folder remotes keep this many superseded versions (a late machine can still merge)."""


@dataclass(frozen=True)
class Base:
    """The last version this copy synced with, kept beside it."""

    remote: str
    version: str
    revision: int
    state: SyncedState


@dataclass(frozen=True)
class LocalCopy:
    state: SyncedState
    local_only: LocalOnly
    base: Base | None
    locate: Callable[[RowKey, str | None], str]
    """Where a row's cell is: ``Holdings!E7`` in a workbook, ``holdings[2].quantity`` in JSON."""


class Local(Protocol):
    """A workbook or a JSON file, as the engine sees it."""

    name: str

    def load(self) -> LocalCopy: ...

    def save(self, state: SyncedState | None, base: Base) -> None:
        """Write ``state`` (None: the portfolio is unchanged) and then ``base``."""
        ...


@dataclass(frozen=True)
class Outcome:
    action: str
    """``pushed``, ``pulled``, ``up to date``, ``ahead``, ``behind``, ``diverged``, ``empty``..."""
    revision: int
    conflicts: tuple[str, ...] = ()
    changed_local: bool = False
    detail: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RemoteView:
    snapshot: Snapshot
    heads: tuple[tuple[str, Version, Stored], ...]
    state: SyncedState | None
    fork_conflicts: tuple[Conflict, ...]
    versions: Mapping[str, tuple[Version, Stored]]

    @property
    def head_id(self) -> str | None:
        return self.heads[0][0] if len(self.heads) == 1 else None


def read_remote(remote: Remote, passphrase: str | None) -> RemoteView:
    """Read and check every version the remote offers; merge a forked folder's heads."""
    snapshot = remote.read()
    versions: dict[str, tuple[Version, Stored]] = {}
    for stored in snapshot.versions:
        versions[version_id(stored.blob)] = (decode(stored.blob, passphrase, stored.name), stored)
    parents = {p for v, _ in versions.values() for p in v.parents}
    heads = sorted(
        ((i, v, s) for i, (v, s) in versions.items() if i not in parents),
        key=lambda h: (-h[1].revision, h[0]),
    )
    if versions and not heads:
        raise RemoteCorrupt(f"{remote.url}: its versions form a cycle")
    if not heads:
        return RemoteView(snapshot, (), None, (), versions)
    state = heads[0][1].state
    fork: list[Conflict] = []
    for head_id, head, _ in heads[1:]:
        base = _common_ancestor(heads[0][0], head_id, versions)
        rows = merge(base.rows, state.rows, head.state.rows)
        hist = merge(base.history, state.history, head.state.history)
        fork.extend(rows.conflicts)
        state = SyncedState(rows.rows, history_rows(hist.rows.values()))
    return RemoteView(snapshot, tuple(heads), state, tuple(fork), versions)


def _common_ancestor(a: str, b: str, versions: Mapping[str, tuple[Version, Stored]]) -> SyncedState:
    def ancestors(start: str) -> dict[str, int]:
        seen: dict[str, int] = {}
        todo = [start]
        while todo:
            item = todo.pop()
            if item in seen or item not in versions:
                continue
            seen[item] = versions[item][0].revision
            todo.extend(versions[item][0].parents)
        return seen

    common = set(ancestors(a)) & set(ancestors(b))
    if not common:
        return SyncedState()  # pruned: every difference becomes a reported conflict
    best = max(common, key=lambda i: (versions[i][0].revision, i))
    return versions[best][0].state


def status(local: Local, remote: Remote, passphrase: str | None) -> Outcome:
    copy = local.load()
    view = read_remote(remote, passphrase)
    base = _base_for(copy, remote)
    top = view.snapshot.top_revision
    if view.state is None:
        return Outcome("empty", 0, detail=f"{remote.url} holds no portfolio yet: push to start")
    if base is None:
        return Outcome(
            "not synced",
            top,
            detail="this copy has never synced with the remote: pull takes the remote's "
            "portfolio (the previous file is kept as a backup)",
        )
    local_changed = _differs(base.state, copy.state)
    remote_changed = view.head_id != base.version
    if len(view.heads) > 1:
        action = "diverged"
        detail = (
            f"the remote has {len(view.heads)} versions made at the same time; sync merges them"
        )
    elif local_changed and remote_changed:
        action, detail = "diverged", "both this copy and the remote changed: push merges them"
    elif local_changed:
        action, detail = "ahead", "this copy has changes to push"
    elif remote_changed:
        action, detail = "behind", "the remote has changes to pull"
    else:
        action, detail = "up to date", ""
    return Outcome(action, top, detail=detail)


def pull(local: Local, remote: Remote, passphrase: str | None) -> Outcome:
    copy = local.load()
    view = read_remote(remote, passphrase)
    if view.state is None:
        return Outcome("empty", 0, detail=f"{remote.url} holds no portfolio yet: push to start")
    head_id, revision = _head(view)
    base = _base_for(copy, remote)
    conflicts: tuple[Conflict, ...] = ()
    if base is None:
        # First sync of this copy: the remote's portfolio replaces it (prices stay).
        state = view.state
    else:
        state, conflicts = _merge(base.state, copy.state, view.state)
    _check(state, copy)
    new_base = Base(remote.url, head_id, revision, view.state)
    changed_local = _differs(copy.state, state)
    local.save(state if changed_local else None, new_base)
    texts = _describe(conflicts + view.fork_conflicts, copy)
    return Outcome("pulled", revision, texts, changed_local, notes=_recorded(view, base))


def push(local: Local, remote: Remote, passphrase: str | None) -> Outcome:
    copy = local.load()
    base = _base_for(copy, remote)
    for attempt in range(PUSH_ATTEMPTS):
        view = read_remote(remote, passphrase)
        if view.state is None:
            base_state, theirs = SyncedState(), SyncedState()
        elif base is None:
            raise SyncError(
                f"{remote.url} already holds a portfolio and this copy never synced with it: "
                "run sync pull first (it takes the remote's portfolio), or choose another "
                "remote. Nothing was changed"
            )
        else:
            base_state, theirs = base.state, view.state
        state, conflicts = _merge(base_state, copy.state, theirs)
        all_conflicts = conflicts + view.fork_conflicts
        _check(state, copy)
        changed_local = _differs(copy.state, state)
        if view.state is not None and len(view.heads) == 1 and not _differs(view.state, state):
            head_id, revision = _head(view)
            local.save(state if changed_local else None, Base(remote.url, head_id, revision, state))
            return Outcome("up to date", revision, _describe(all_conflicts, copy), changed_local)
        revision = view.snapshot.top_revision + 1
        version = Version(
            state=state,
            revision=revision,
            parents=tuple(h[0] for h in view.heads),
            conflicts=tuple(c.to_json() for c in all_conflicts),
        )
        salt = next((salt_of(h[2].blob) for h in view.heads if salt_of(h[2].blob)), None)
        blob = encode(version, passphrase, salt)
        new_id = version_id(blob)
        try:
            remote.publish(blob, new_id, revision, view.snapshot)
        except WriteConflict:
            # Someone pushed first (or holds the WebDAV lock): read their version and merge
            # again, after a short random pause so that two machines do not retry in step.
            time.sleep(random.uniform(0.0, 0.05 * (attempt + 1)))
            continue
        local.save(state if changed_local else None, Base(remote.url, new_id, revision, state))
        remote.prune(_superseded(view, revision))
        return Outcome("pushed", revision, _describe(all_conflicts, copy), changed_local)
    raise SyncError(
        f"{remote.url}: other machines kept pushing while this one tried {PUSH_ATTEMPTS} times "
        "(or a WebDAV lock left by an interrupted sync has not expired yet: it does within 30 s); "
        "nothing was changed here, try again"
    )


def _recorded(view: RemoteView, base: Base | None) -> tuple[str, ...]:
    """Conflicts another machine resolved in the version just pulled (it kept its value)."""
    if base is not None and view.head_id == base.version:
        return ()
    notes = []
    for _, version, _ in view.heads:
        for c in version.conflicts:
            key = "/".join(str(k) for k in c.get("key", []))
            notes.append(
                f"{version.written_by} synced revision {version.revision} with a conflict on "
                f"{key} {c.get('cell') or ''}: kept {c.get('local')!r}, "
                f"the other value was {c.get('remote')!r}"
            )
    return tuple(notes)


def _superseded(view: RemoteView, revision: int) -> list[str]:
    """Versions every new version descends from, old enough to let go."""
    if not view.snapshot.keeps_history:
        return [s.name for _, _, s in view.heads]  # pointer store: the replaced version
    keep_from = revision - KEEP_VERSIONS
    heads = {h[0] for h in view.heads}
    ancestors: set[str] = set()
    todo = list(heads)
    while todo:
        item = todo.pop()
        if item in ancestors or item not in view.versions:
            continue
        ancestors.add(item)
        todo.extend(view.versions[item][0].parents)
    return [
        stored.name
        for vid, (version, stored) in view.versions.items()
        if vid in ancestors and version.revision < keep_from
    ]


def _head(view: RemoteView) -> tuple[str, int]:
    head_id, version, _ = view.heads[0]
    return head_id, version.revision


def _base_for(copy: LocalCopy, remote: Remote) -> Base | None:
    if copy.base is None or copy.base.remote.rstrip("/") != remote.url.rstrip("/"):
        return None
    return copy.base


def _differs(a: SyncedState, b: SyncedState) -> bool:
    return changed(a.rows, b.rows) or set(a.history) != set(b.history)


def _merge(
    base: SyncedState, mine: SyncedState, theirs: SyncedState
) -> tuple[SyncedState, tuple[Conflict, ...]]:
    rows = merge(base.rows, mine.rows, theirs.rows)
    history = merge(base.history, mine.history, theirs.history)
    return (
        SyncedState(rows.rows, history_rows(history.rows.values())),
        rows.conflicts + history.conflicts,
    )


def _check(state: SyncedState, copy: LocalCopy) -> None:
    try:
        rows_portfolio(state.rows, copy.local_only)
    except (PortfolioError, ValueError) as exc:
        raise SyncError(
            f"the merged portfolio would not be valid ({exc}); nothing was changed. Edit this "
            "copy so that both sides' changes fit together, then sync again"
        ) from exc


def _describe(conflicts: tuple[Conflict, ...], copy: LocalCopy) -> tuple[str, ...]:
    return tuple(describe_conflict(c, copy.locate) for c in conflicts)


def describe_conflict(c: Conflict, locate: Callable[[RowKey, str | None], str]) -> str:
    where = locate(c.key, c.cell)
    what = describe_key(c.key) + (f" {c.cell}" if c.cell else "")
    kept = c.local if c.kept == "local" else c.remote
    return (
        f"{where} ({what}): this copy {_show(c.local)}, remote {_show(c.remote)}; "
        f"kept {c.kept} {_show(kept)}"
    )


def _show(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)


__all__ = ["Base", "Local", "LocalCopy", "Outcome", "pull", "push", "read_remote", "status"]
