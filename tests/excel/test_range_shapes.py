"""Worksheet functions over ranges users really select: holdings without an account column,
targets typed as percentages, and a Total/합계 line under the holdings. Called through the UDF
module as xlwings calls it (2-D lists, ``None`` blanks), prices typed in the ranges."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from xlrebalance import worksheet

HEADER = ["Ticker", "Quantity", "Price"]
ROWS: list[list[Any]] = [["QQQ", 3.0, 500.0], ["069500", 10.0, 40000.0]]
SETTINGS = [["fx.USDKRW", 1400.0]]
HALF = [["QQQ", 0.5], ["069500", 0.5]]


def _trades(udfs: ModuleType, holdings: Any, targets: Any, cash: Any = 1_000_000.0) -> Any:
    return udfs.REBAL_TRADES(holdings, targets, cash, SETTINGS)


def _error(result: Any) -> str:
    assert isinstance(result, str) and result.startswith("#XLREBALANCE: "), result
    return result.removeprefix("#XLREBALANCE: ")


# -- (a) no account column ------------------------------------------------------------------


def test_no_account_column_belongs_to_the_one_account_cash_names(
    udfs: ModuleType, live: worksheet.LiveQuotes
) -> None:
    cash = [["Account", "Currency", "Amount"], ["isa", "KRW", 100000.0]]
    result = _trades(udfs, [HEADER, *ROWS], HALF, cash)
    assert isinstance(result, list) and len(result) > 1, result
    assert {row[0] for row in result[1:]} == {"isa"}


def test_no_account_column_with_two_cash_accounts_is_a_clear_error(
    udfs: ModuleType, live: worksheet.LiveQuotes
) -> None:
    # Before: the rows went to a made-up account "default" and planned without either cash.
    cash = [["Account", "Currency", "Amount"], ["a", "KRW", 100000.0], ["b", "USD", 100.0]]
    message = _error(_trades(udfs, [HEADER, *ROWS], HALF, cash))
    assert message.startswith("Holdings: no account column, but Cash names 2 accounts (a, b)")
    assert "계좌" in message


def test_a_blank_account_cell_with_two_cash_accounts_names_its_row(
    udfs: ModuleType, live: worksheet.LiveQuotes
) -> None:
    cash = [["Account", "Currency", "Amount"], ["a", "KRW", 100000.0], ["b", "USD", 100.0]]
    holdings = [["Account", *HEADER], ["a", *ROWS[0]], [None, *ROWS[1]]]
    message = _error(_trades(udfs, holdings, HALF, cash))
    assert message.startswith("Holdings row 3: account is empty"), message


# -- (b) targets as percentages -------------------------------------------------------------


@pytest.mark.parametrize(
    "targets",
    [
        [["QQQ", 0.3], ["069500", 0.7]],
        [["QQQ", 30.0], ["069500", 70.0]],
        [["QQQ", "30%"], ["069500", "70%"]],
        [["QQQ", "30"], ["069500", "70"]],
        [["Ticker", "Target"], ["QQQ", 30.0], ["069500", 70.0]],
    ],
    ids=["fractions", "percent numbers", "percent text", "numbers as text", "with header"],
)
def test_targets_in_every_spelling_give_one_plan(
    udfs: ModuleType, live: worksheet.LiveQuotes, targets: Any
) -> None:
    expected = _trades(udfs, [HEADER, *ROWS], [["QQQ", 0.3], ["069500", 0.7]])
    assert isinstance(expected, list) and len(expected) > 1, expected
    assert _trades(udfs, [HEADER, *ROWS], targets) == expected


@pytest.mark.parametrize(
    ("targets", "where", "first", "total"),
    [
        ([["QQQ", 30.0], ["069500", 60.0]], "Targets row 1", "30", "90"),
        ([["QQQ", 0.3], ["069500", 70.0]], "Targets row 2", "70", "70.3"),
        ([["QQQ", "30%"], ["069500", 70.0]], "Targets row 2", "70", "70.3"),
        ([["QQQ", 30.0], ["069500", 69.7]], "Targets row 1", "30", "99.7"),
    ],
    ids=["short of 100", "fraction and percent", "percent text and number", "99.7"],
)
def test_percentages_that_do_not_sum_to_100_say_what_is_expected(
    udfs: ModuleType, live: worksheet.LiveQuotes, targets: Any, where: str, first: str, total: str
) -> None:
    # Before: "Targets row 1: expected a fraction from 0 to 1 (0.3 for 30%), got 30", about a
    # user whose 30 was right and whose sum was wrong.
    message = _error(_trades(udfs, [HEADER, *ROWS], targets))
    assert message.startswith(
        f"{where}: target {first} reads as a percentage, but the weights sum to {total}, not 100: "
    ), message
    assert "percentages summing to 100" in message
    assert "fractions summing to 1" in message


def test_fractions_short_of_one_keep_their_message(
    udfs: ModuleType, live: worksheet.LiveQuotes
) -> None:
    message = _error(_trades(udfs, [HEADER, *ROWS], [["QQQ", 0.3], ["069500", 0.6]]))
    assert message.startswith("Targets: target weights sum to 0.9, expected 1"), message


# -- (c) a Total/합계 line -------------------------------------------------------------------


@pytest.mark.parametrize(
    "total",
    [
        ["Total", None, None],
        ["TOTAL:", 13.0, None],
        ["합계", 13.0, 2_500_000.0],
        ["소계", None, None],
        ["Sum", None, 40500.0],
    ],
    ids=["Total blank", "TOTAL: with quantity", "합계 with quantity and price", "소계", "Sum"],
)
def test_a_total_line_under_the_holdings_is_skipped(
    udfs: ModuleType, live: worksheet.LiveQuotes, total: list[Any]
) -> None:
    # Before: "Total" was a ticker to quote (#N/A waiting for quotes (TOTAL)) and "합계" with
    # a quantity and price a position: the plan sold 13 "합계".
    expected = _trades(udfs, [HEADER, *ROWS], HALF)
    assert isinstance(expected, list) and len(expected) > 1, expected
    assert _trades(udfs, [HEADER, *ROWS, total], HALF) == expected


def test_a_total_line_in_an_account_first_column_is_skipped(
    udfs: ModuleType, live: worksheet.LiveQuotes
) -> None:
    holdings = [["Account", *HEADER], ["a", *ROWS[0]], ["a", *ROWS[1]]]
    expected = _trades(udfs, holdings, HALF)
    assert isinstance(expected, list) and len(expected) > 1, expected
    assert _trades(udfs, [*holdings, ["합계", None, 13.0, None]], HALF) == expected


def test_drift_skips_the_total_line_too(udfs: ModuleType, live: worksheet.LiveQuotes) -> None:
    holdings = [HEADER, ["069500", 10.0, 40000.0], ["005930", 5.0, 70000.0]]
    targets = [["069500", 0.5], ["005930", 0.5]]
    expected = udfs.REBAL_DRIFT(holdings, targets, 100000.0)
    assert isinstance(expected, float), expected
    assert udfs.REBAL_DRIFT([*holdings, ["합계", 15.0, 110000.0]], targets, 100000.0) == expected


def test_a_row_without_ticker_but_with_quantity_is_still_an_error(
    udfs: ModuleType, live: worksheet.LiveQuotes
) -> None:
    # Only the total labels are skipped: a forgotten ticker is not silently dropped.
    message = _error(_trades(udfs, [HEADER, *ROWS, ["", 4.0, 100.0]], HALF))
    assert message == "Holdings row 4: ticker is empty"
