"""Fee rounding and cash reserves on the Settings sheet, read as the JSON document reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlrebalance.errors import PortfolioError
from xlrebalance.model import FeeRounding, Market, RoundingMode
from xlrebalance.planner import plan
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.reader import read_input


@pytest.fixture
def book(tmp_path: Path) -> OpenpyxlBook:
    return OpenpyxlBook.open(build_workbook(tmp_path / "book.xlsm", example="seed"))


def _set(book: OpenpyxlBook, key: str, value: object) -> None:
    ws = book.workbook["Settings"]
    for row in range(1, ws.max_row + 1):
        if ws.cell(row, 1).value == key:
            ws.cell(row, 3).value = value
            return
    ws.append([key, None, value])


def test_a_build_shows_the_default_rounding(book: OpenpyxlBook) -> None:
    s = read_input(book).portfolio.settings
    assert s.rounding(Market.KR) == FeeRounding(1.0, RoundingMode.DOWN)
    assert s.rounding(Market.US) == FeeRounding(0.01, RoundingMode.UP)
    assert s.cash_reserve == {}


def test_rounding_and_a_reserve_row_the_user_adds(book: OpenpyxlBook) -> None:
    _set(book, "settings.fee_rounding.KR.mode", "up")
    _set(book, "settings.fee_rounding.KR.unit", 10)
    _set(book, "settings.cash_reserve.general.KRW", 500_000)
    inp = read_input(book)
    s = inp.portfolio.settings
    assert s.rounding(Market.KR) == FeeRounding(10.0, RoundingMode.UP)
    assert s.cash_reserve == {"general": {"KRW": 500_000.0}}
    out = plan(inp.portfolio)
    assert out.summary.cash_after["general"]["KRW"] >= 500_000 - 1e-6
    for order in out.orders:
        if order.currency == "KRW":
            assert order.fees % 10 == 0 and order.taxes % 10 == 0


def test_a_bad_rounding_mode_names_its_cell(book: OpenpyxlBook) -> None:
    _set(book, "settings.fee_rounding.US.mode", "ceiling")
    with pytest.raises(PortfolioError) as raised:
        read_input(book)
    assert raised.value.location.startswith("Settings!C")
    assert raised.value.message == 'rounding "ceiling" is not one of up, nearest, down'


def test_a_reserve_for_an_unknown_account_names_its_cell(book: OpenpyxlBook) -> None:
    _set(book, "settings.cash_reserve.nobody.KRW", 1000)
    with pytest.raises(PortfolioError) as raised:
        read_input(book)
    assert raised.value.location.startswith("Settings!C")
    assert "'nobody' is not one of the accounts" in raised.value.message
