"""The ribbon macros end to end on xlwings' remote engine (``xw.Book(json=...)``): the
workbook goes in as JSON, and what comes back is the list of actions Excel would apply --
which cells get which values, number formats, message boxes."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from excel_data import PRICES, ROOT, quote
from remote import apply, book_json

from xlrebalance import macros
from xlrebalance.quotes import Sources
from xlrebalance.quotes.fake import FakeSource
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.schema import ORDERS_HEADER_ROW

NOW = dt.datetime(2026, 3, 9, 10, 30)


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    path = tmp_path / "rebalance.xlsm"
    shutil.copy(ROOT / "rebalance.xlsm", path)
    return path


@pytest.fixture
def payload(workbook: Path, xw: ModuleType) -> dict[str, Any]:
    return book_json(workbook, xw.__version__)


def run(xw: ModuleType, payload: dict[str, Any], name: str) -> tuple[bool, list[dict[str, Any]]]:
    book = xw.Book(json=payload)
    ok = macros.run_in_excel(book, name, now=NOW)
    return ok, book.json()["actions"]


def sheet_index(payload: dict[str, Any], name: str) -> int:
    return [s["name"] for s in payload["sheets"]].index(name)


def as_remote(value: object) -> object:
    """A cell value as the remote engine writes it."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value


def headless(workbook: Path, name: str) -> dict[str, list[list[object]]]:
    book = OpenpyxlBook.open(workbook)
    getattr(macros, name)(book, now=NOW)
    return {s: [[as_remote(v) for v in row] for row in book.read_block(s)] for s in ("Orders",)}


def trim(grid: list[list[object]]) -> list[list[object]]:
    """Trailing blanks dropped, and the solver's time masked (it differs run to run)."""
    rows = [list(r) for r in grid]
    for r in rows:
        if "Solver seconds" in r:
            r[r.index("Solver seconds") + 1] = "time"
    for r in rows:
        while r and r[-1] == "":
            r.pop()
    while rows and not rows[-1]:
        rows.pop()
    return rows


def test_compute_orders_writes_what_the_headless_path_writes(
    xw: ModuleType, payload: dict[str, Any], workbook: Path
) -> None:
    ok, actions = run(xw, payload, "compute_orders")
    assert ok
    orders = sheet_index(payload, "Orders")
    writes = [a for a in actions if a["func"] == "setValues"]
    # One call per block: banner, header, order rows, summary.
    assert [(a["start_row"] + 1, a["start_column"] + 1) for a in writes] == [
        (2, 1),
        (ORDERS_HEADER_ROW, 1),
        (ORDERS_HEADER_ROW + 1, 1),
        (ORDERS_HEADER_ROW, 14),
    ]
    assert {a["sheet_position"] for a in writes} == {orders}
    assert writes[2]["row_count"] >= 2 and writes[2]["column_count"] == 12
    assert writes[1]["values"][0][:4] == ["Account", "Ticker", "Name", "Side"]
    assert {row[3] for row in writes[2]["values"]} <= {"BUY", "SELL"}
    clears = [a for a in actions if a["func"] == "rangeClearContents"]
    assert len(clears) == 2 and all(a["sheet_position"] == orders for a in clears)
    formats = [a for a in actions if a["func"] == "setNumberFormat"]
    assert {"0.00%", "#,##0.00"} <= {a["args"][0] for a in formats}
    assert not [a for a in actions if a["func"] == "alert"]
    expected = headless(workbook, "compute_orders")["Orders"]
    assert trim(apply(payload, actions)["Orders"]) == trim(expected)


def test_bad_input_goes_to_a_message_box_and_the_orders_banner(
    xw: ModuleType, payload: dict[str, Any]
) -> None:
    holdings = payload["sheets"][sheet_index(payload, "Holdings")]["values"]
    holdings[4][4] = "ten"  # Holdings!E5, the second holding's quantity
    ok, actions = run(xw, payload, "compute_orders")
    assert not ok
    message = 'Holdings!E5: quantity "ten" is not a number'
    assert [a["func"] for a in actions] == ["setValues", "alert"]
    banner, alert = actions
    assert (banner["sheet_position"], banner["start_row"], banner["start_column"]) == (
        sheet_index(payload, "Orders"),
        1,
        0,
    )
    assert banner["values"] == [[f"ERROR (Compute orders): {message}"]]
    assert alert["args"][:2] == [f"Compute orders\n\n{message}", "xlrebalance"]


def test_unexpected_failure_is_reported_not_raised(
    xw: ModuleType, payload: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(macros, "make_plan", broken)
    ok, actions = run(xw, payload, "compute_orders")
    assert not ok
    assert actions[-1]["func"] == "alert"
    assert "unexpected RuntimeError: solver exploded" in actions[-1]["args"][0]
    assert actions[0]["values"] == [
        ["ERROR (Compute orders): unexpected RuntimeError: solver exploded"]
    ]


def test_snapshot_appends_below_history_and_grows_its_table(
    xw: ModuleType, payload: dict[str, Any]
) -> None:
    history = payload["sheets"][sheet_index(payload, "History")]["values"]
    history[3] = ["2026-03-01T09:00:00.000Z", "snapshot", 1.0, 1.0, 0.1, "", "", "", 0]
    ok, actions = run(xw, payload, "snapshot")
    assert ok
    write = next(a for a in actions if a["func"] == "setValues")
    assert (write["start_row"] + 1, write["start_column"] + 1) == (5, 1)
    assert write["values"][0][:2] == ["2026-03-09 10:30:00", "snapshot"]
    resize = next(a for a in actions if a["func"] == "resizeTable")
    assert resize["args"] == [0, "$A$3:$I$5"]


def test_refresh_prices_marks_an_unknown_ticker_and_warns(
    xw: ModuleType, payload: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    holdings = payload["sheets"][sheet_index(payload, "Holdings")]["values"]
    header = holdings[2]
    price, source = header.index("Price"), header.index("Source")
    spy_row = next(row for row in holdings[3:] if row[1] == "SPY")
    spy_row[price] = ""  # no typed price to fall back on
    tickers = [row[1] for row in holdings[3:] if row[1]]
    answers: dict[str, object] = {t: 100.0 for t in tickers if t.isalpha() and t != "SPY"}
    answers.update({f"{t}.KS": quote(10000.0, "KRW") for t in tickers if t[0].isdigit()})
    answers.update(PRICES)
    yahoo = FakeSource(answers, name="yahoo")  # type: ignore[arg-type]
    monkeypatch.setattr(Sources, "default", classmethod(lambda cls, cache=None: Sources(yahoo)))
    ok, actions = run(xw, payload, "refresh_prices")
    assert ok
    assert len(yahoo.calls) == 1  # one batch for every ticker and USDKRW
    after = apply(payload, actions)["Holdings"]
    spy = next(row for row in after[3:] if row[1] == "SPY")
    assert spy[price] == "" and spy[source] == "no price: unknown symbol"
    qqq = next(row for row in after[3:] if row[1] == "QQQ")
    assert (qqq[price], qqq[source]) == (512.3, "yahoo")
    alert = actions[-1]
    assert (
        alert["func"] == "alert" and "1 without a price (SPY: unknown symbol)" in alert["args"][0]
    )
    banner = next(a for a in actions if a["func"] == "setValues" and a["start_row"] == 1)
    assert banner["values"][0][0].startswith("WARNING (Refresh prices): Prices: 1 without a price")


def test_the_ribbon_entry_binds_the_calling_book(
    xw: ModuleType, payload: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    book = xw.Book(json=payload)
    monkeypatch.setattr(xw.Book, "caller", staticmethod(lambda: book))
    macros.snapshot_caller()
    assert any(a["func"] == "setValues" for a in book.json()["actions"])
