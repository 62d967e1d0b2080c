"""Rules shared by the three readers that a one-cell case cannot show: sell-tax keys merged
over the defaults, the header row searched as deep everywhere, one valuation for the planner,
the worksheet functions and the workbook's History."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from xlrebalance import cells
from xlrebalance.document import load_portfolio, portfolio_from_dict
from xlrebalance.macros import refresh
from xlrebalance.model import DEFAULT_SELL_TAX, Kind, Market, merge_sell_tax, valuation
from xlrebalance.planner import plan
from xlrebalance.ranges import read_ranges
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.package import save_workbook
from xlrebalance.workbook.reader import read_input

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "python" / "xlrebalance" / "templates" / "examples" / "seed.json"
SEC_FEE = 0.0000278


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workbook(tmp_path_factory.mktemp("one") / "rebalance.xlsm")


def _seed() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(SEED.read_text(encoding="utf-8"))
    return doc


@pytest.mark.parametrize(
    ("user", "merged"),
    [
        ({}, dict(DEFAULT_SELL_TAX)),
        ({"US": SEC_FEE}, {**DEFAULT_SELL_TAX, "US": SEC_FEE}),
        ({"KR:STOCK": 0.0}, {"KR:STOCK": 0.0, "KR:ETF": 0.0}),
        ({"KR": 0.001}, {"KR": 0.001}),
        ({"KR:ETF": 0.001}, {"KR:STOCK": 0.002, "KR:ETF": 0.001}),
    ],
)
def test_sell_tax_keys_merge_over_the_defaults(
    user: dict[str, float], merged: dict[str, float]
) -> None:
    assert merge_sell_tax(user) == merged


def test_the_sec_fee_alone_keeps_the_korean_stock_tax_in_all_three_readers(
    built: Path, tmp_path: Path
) -> None:
    doc = _seed()
    doc["settings"]["sell_tax"] = {"US": SEC_FEE}
    from_json = portfolio_from_dict(doc).settings

    wb = load_workbook(built, keep_vba=True)
    ws = wb["Settings"]
    for r in range(1, ws.max_row + 1):  # the user clears both Korean rows and adds the SEC fee
        if str(ws.cell(row=r, column=1).value).startswith("settings.sell_tax."):
            ws.cell(row=r, column=3).value = None
    row = ws.max_row + 1
    ws.cell(row=row, column=1).value = "settings.sell_tax.US"
    ws.cell(row=row, column=3).value = SEC_FEE
    from_workbook = read_input(OpenpyxlBook(wb, built)).portfolio.settings

    from_ranges = read_ranges(
        [["ticker", "quantity"], ["AAPL", 1.0]],
        [["AAPL", 1.0]],
        None,
        [["sell_tax.US", SEC_FEE]],
    ).portfolio.settings

    for settings in (from_json, from_workbook, from_ranges):
        assert settings.tax_rate(Market.KR, Kind.STOCK) == 0.002
        assert settings.tax_rate(Market.KR, Kind.ETF) == 0.0
        assert settings.tax_rate(Market.US, Kind.ETF) == SEC_FEE


def test_the_header_is_searched_as_deep_in_every_reader() -> None:
    header = ["Account", "Ticker", "Quantity", "Price"]
    block: list[list[object]] = [[f"note {i}"] for i in range(cells.HEADER_SCAN_ROWS - 1)]
    found = cells.find_header([*block, header], {"ticker": frozenset({"ticker"})}, ["ticker"])
    assert found is not None and found.row == cells.HEADER_SCAN_ROWS - 1
    too_deep = [*block, ["more"], header]
    assert cells.find_header(too_deep, {"ticker": frozenset({"ticker"})}, ["ticker"]) is None
    # A range with 15 rows of notes above its header (past the old 10-row limit).
    notes: list[list[object]] = [[f"note {i}", None, None, None] for i in range(15)]
    holdings = [*notes, header, ["isa", "A005930", "15", "₩71,200"]]
    p = read_ranges(holdings, [["005930", 1.0]]).portfolio
    assert (p.holdings[0].ticker, p.holdings[0].market, p.holdings[0].price) == (
        "005930",
        Market.KR,
        71200.0,
    )


def test_a_broker_header_reads_the_same_in_a_workbook_and_a_range(built: Path) -> None:
    # Headers as a Korean broker's export names them, typed over the workbook's own.
    wb = load_workbook(built, keep_vba=True)
    ws = wb["Holdings"]
    ws["B3"], ws["E3"], ws["H3"] = "단축코드", "보유수량", "현재가"
    sheet = read_input(OpenpyxlBook(wb, built)).portfolio
    assert sheet.holdings == load_portfolio(SEED).holdings


def test_one_valuation_for_planner_history_and_worksheet(built: Path, tmp_path: Path) -> None:
    p = load_portfolio(SEED)
    v = valuation(p)
    summary = plan(p).summary
    assert summary.drift_before == pytest.approx(v.drift, abs=1e-9)
    assert summary.value_before == pytest.approx(v.value)
    assert dict(summary.weights_before) == pytest.approx(dict(v.weights), abs=1e-9)
    book_path = tmp_path / "book.xlsm"
    shutil.copyfile(built, book_path)
    book = OpenpyxlBook.open(book_path)
    refresh(book, offline=True)
    save_workbook(book.workbook, book_path, backup=False)
    history = load_workbook(book_path)["History"]
    assert history["C4"].value == pytest.approx(v.value)
    assert history["E4"].value == pytest.approx(v.drift)
