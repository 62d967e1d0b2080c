"""The Sync button's macro on xlwings' remote engine: what Excel would be told to write."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from excel_data import ROOT
from remote import book_json

from xlrebalance import macros
from xlrebalance.sync.book_copy import SYNC_SHEET, WorkbookCopy
from xlrebalance.sync.engine import pull, push, read_remote
from xlrebalance.sync.files import JsonFileCopy
from xlrebalance.sync.remote import open_remote
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.package import save_workbook


@pytest.fixture(autouse=True)
def no_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XLREBALANCE_SYNC_PASSPHRASE", raising=False)


def set_remote(payload: dict[str, Any], url: str) -> None:
    settings = next(s for s in payload["sheets"] if s["name"] == "Settings")["values"]
    row = next(r for r in settings if r and r[0] == "sync.remote")
    row[2] = url


def position(payload: dict[str, Any], name: str) -> int:
    return [s["name"] for s in payload["sheets"]].index(name)


def cell_of(payload: dict[str, Any], sheet: str, ticker: str, header: str) -> tuple[int, int]:
    values = next(s for s in payload["sheets"] if s["name"] == sheet)["values"]
    head = next(i for i, r in enumerate(values) if "Ticker" in r)
    column = values[head].index(header)
    row = next(i for i, r in enumerate(values) if i > head and r[1] == ticker)
    return row, column


def test_sync_publishes_the_workbook_and_keeps_its_base_in_a_hidden_sheet(
    xw: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "rebalance.xlsm"
    shutil.copy(ROOT / "rebalance.xlsm", path)
    remote_dir = tmp_path / "remote"
    remote_dir.mkdir()
    payload = book_json(path, xw.__version__)
    set_remote(payload, remote_dir.as_uri())
    book = xw.Book(json=payload)
    assert macros.run_in_excel(book, "sync")
    actions = book.json()["actions"]
    assert not [a for a in actions if a["func"] == "alert"]
    added = [a for a in actions if a["func"] == "addSheet"]
    assert added and added[0]["args"][1] == SYNC_SHEET
    hidden = added[0]["args"][0]
    assert any(a["func"] == "setSheetVisibility" and a["sheet_position"] == hidden for a in actions)
    assert any(a["func"] == "setValues" and a["sheet_position"] == hidden for a in actions)
    view = read_remote(open_remote(remote_dir.as_uri()), None)
    rows = view.heads[0][1].state.rows
    assert ("holding", "general", "VOO") in rows and ("setting", "settings.mode") in rows
    assert not any(k[0] == "setting" and k[1].startswith("sync.") for k in rows)


def test_sync_merges_another_machines_edit_and_reports_the_clash(
    xw: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "rebalance.xlsm"
    shutil.copy(ROOT / "rebalance.xlsm", path)
    url = (tmp_path / "remote").as_uri()
    (tmp_path / "remote").mkdir()
    # This workbook synced once (headless), so it has a base.
    opened = OpenpyxlBook.open(path)
    push(WorkbookCopy(opened), open_remote(url), None)
    save_workbook(opened.workbook, path, source=path)
    # Another machine (a JSON copy) edits VOO and QQQ and pushes.
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"version": 1, "accounts": [{"id": "x"}], "holdings": [],
                                 "targets": {"CASH": 1}}))  # fmt: skip
    pull(JsonFileCopy(other), open_remote(url), None)
    doc = json.loads(other.read_text())
    for h in doc["holdings"]:
        if h["ticker"] == "VOO":
            h["quantity"] = 99
        if h["ticker"] == "QQQ":
            h["quantity"] = 55
    other.write_text(json.dumps(doc))
    push(JsonFileCopy(other), open_remote(url), None)
    # Here, QQQ was changed too (differently), then Sync pressed.
    payload = book_json(path, xw.__version__)
    set_remote(payload, url)
    qqq = cell_of(payload, "Holdings", "QQQ", "Quantity")
    voo = cell_of(payload, "Holdings", "VOO", "Quantity")
    next(s for s in payload["sheets"] if s["name"] == "Holdings")["values"][qqq[0]][qqq[1]] = 77
    book = xw.Book(json=payload)
    assert macros.run_in_excel(book, "sync")
    actions = book.json()["actions"]
    holdings = position(payload, "Holdings")
    writes = {
        (a["start_row"], a["start_column"]): a["values"]
        for a in actions
        if a["func"] == "setValues" and a["sheet_position"] == holdings
    }
    assert writes[voo] == [[99.0]]  # the other machine's edit, written into its cell
    assert qqq not in writes  # the clash kept this workbook's value
    alert = next(a for a in actions if a["func"] == "alert")
    letter = "ABCDEFGHIJ"[qqq[1]]
    assert f"Holdings!{letter}{qqq[0] + 1}" in alert["args"][0]
    assert "this copy 77, remote 55; kept local 77" in alert["args"][0]
    head = read_remote(open_remote(url), None).heads[0][1]
    assert head.state.rows[("holding", "general", "QQQ")]["quantity"] == 77
    assert head.conflicts[0]["remote"] == 55  # the value not kept is in the version


def test_sync_without_a_remote_says_where_to_put_one(xw: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "rebalance.xlsm"
    shutil.copy(ROOT / "rebalance.xlsm", path)
    book = xw.Book(json=book_json(path, xw.__version__))
    assert not macros.run_in_excel(book, "sync")
    alert = next(a for a in book.json()["actions"] if a["func"] == "alert")
    assert "sync.remote" in alert["args"][0]
