"""A portfolio JSON file as a sync copy, with its base in a sidecar file beside it.

The sidecar (``.NAME.sync.json``) holds the last synced version, so the three-way merge has
its base. It sits beside the file rather than inside it because the document is a contract
other programs read (docs/portfolio-format.md); History snapshots, which the contract has no
place for, go under the document's ``history`` field, which readers of version 1 ignore.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from xlrebalance import cells
from xlrebalance.document import portfolio_from_dict, portfolio_to_dict
from xlrebalance.errors import PortfolioError
from xlrebalance.sync.engine import Base, LocalCopy
from xlrebalance.sync.rows import (
    LocalOnly,
    RowKey,
    SyncedState,
    history_rows,
    portfolio_rows,
    rows_portfolio,
    state_from_json,
)

HISTORY_KEY = "history"


def sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}.sync.json")


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file beside ``path``, flushed, then renamed over it: never half a file."""
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.chmod(temp, mode)  # the user's file keeps its permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def read_base(data: Any) -> Base | None:
    if not isinstance(data, dict):
        return None
    try:
        return Base(
            remote=str(data["remote"]),
            version=str(data["version"]),
            revision=int(data["revision"]),
            state=state_from_json(data["state"], "sync base"),
        )
    except (KeyError, TypeError, ValueError):
        return None  # an unreadable base is no base: the next sync asks for a pull


def base_json(base: Base) -> dict[str, Any]:
    return {
        "remote": base.remote,
        "version": base.version,
        "revision": base.revision,
        "state": base.state.to_json(),
    }


class JsonFileCopy:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self._doc: dict[str, Any] = {}
        self._local_only = LocalOnly()

    def load(self) -> LocalCopy:
        try:
            self._doc = json.loads(self.path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise PortfolioError(str(self.path), f"cannot read the file: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise PortfolioError(str(self.path), f"not valid JSON (line {exc.lineno})") from exc
        if not isinstance(self._doc, dict):
            raise PortfolioError(str(self.path), "expected a JSON object")
        document = {k: v for k, v in self._doc.items() if k != HISTORY_KEY}
        portfolio = portfolio_from_dict(document, offline=False)
        raw_history = self._doc.get(HISTORY_KEY, [])
        if not isinstance(raw_history, list):
            raise PortfolioError(HISTORY_KEY, "expected a list of snapshots")
        history = history_rows(h for h in raw_history if isinstance(h, dict))
        base: Base | None = None
        side = sidecar(self.path)
        if side.exists():
            try:
                base = read_base(json.loads(side.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                base = None
        paths = _paths(document)
        self._local_only = LocalOnly.of(portfolio)
        return LocalCopy(
            SyncedState(portfolio_rows(portfolio), history),
            self._local_only,
            base,
            lambda key, cell: _locate(paths, key, cell),
        )

    def save(self, state: SyncedState | None, base: Base) -> None:
        if state is not None:
            doc = portfolio_to_dict(rows_portfolio(state.rows, self._local_only))
            doc[HISTORY_KEY] = list(state.history.values())
            text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
            write_atomic(self.path, text.encode("utf-8"))
        side = json.dumps(base_json(base), ensure_ascii=False, separators=(",", ":"))
        write_atomic(sidecar(self.path), side.encode("utf-8"))


def _paths(document: dict[str, Any]) -> dict[RowKey, str]:
    """Each row's JSON path in the document as the user wrote it."""
    paths: dict[RowKey, str] = {}
    from xlrebalance.model import normalize_ticker

    for i, a in enumerate(document.get("accounts") or []):
        if isinstance(a, dict):
            paths[("account", str(a.get("id")))] = f"accounts[{i}]"
            for cur in a.get("cash") or {}:
                key = ("cash", str(a.get("id")), cells.currency_key(cur))
                paths[key] = f"accounts[{i}].cash.{cur}"
    for i, h in enumerate(document.get("holdings") or []):
        if isinstance(h, dict):
            ticker = normalize_ticker(str(h.get("ticker", "")))
            paths[("holding", str(h.get("account")), ticker)] = f"holdings[{i}]"
    for i, g in enumerate(document.get("groups") or []):
        if isinstance(g, dict):
            paths[("group", str(g.get("name")))] = f"groups[{i}]"
    return paths


def _locate(paths: dict[RowKey, str], key: RowKey, cell: str | None) -> str:
    kind = key[0]
    if kind == "target":
        return f"targets.{key[1]}"
    if kind == "setting":
        return key[1]
    if kind == "history":
        return f"history ({key[1]})"
    where = paths.get(key) or f"{kind} {'/'.join(key[1:])} (new on the remote)"
    if kind == "cash" or cell is None or cell == "amount":
        return where
    return f"{where}.{cell}"
