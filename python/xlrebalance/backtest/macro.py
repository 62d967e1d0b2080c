"""The ribbon's *Backtest* button and ``xlrebalance backtest BOOK --write``: run the policies
typed on the Backtest sheet and fill it (see :mod:`xlrebalance.backtest.sheet`)."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from xlrebalance.backtest.command import DEFAULT_SPECS
from xlrebalance.backtest.policy import parse_policy
from xlrebalance.backtest.sheet import BACKTEST_SHEET, STATUS_ROW, read_inputs, write_results
from xlrebalance.backtest.simulate import BacktestConfig, Market, PolicyResult, prepare, simulate
from xlrebalance.errors import PortfolioError, XlRebalanceError
from xlrebalance.model import Portfolio
from xlrebalance.workbook.book import Book

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BacktestRun:
    market: Market
    results: tuple[PolicyResult, ...]
    source: str


def _day(text: str | None, where: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise PortfolioError(where, f"{text!r} is not a date (expected YYYY-MM-DD)") from None


def run_policies(
    portfolio: Portfolio,
    *,
    start: date | None,
    end: date | None,
    specs: Sequence[str],
    prices: str | None,
    offline: bool,
    dividends: str = "reinvest",
    capital: float | None = None,
    config: BacktestConfig | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> BacktestRun:
    """Everything ``xlrebalance backtest`` does before printing (shared with the sheet)."""
    from xlrebalance.backtest.command import load_history

    if start is not None and end is not None and start > end:
        raise PortfolioError("--start", f"{start} is after --end {end}")
    policies = [parse_policy(s) for s in specs]
    history, source = load_history(
        portfolio, prices=prices, offline=offline, start=start, end=end, dividends=dividends
    )
    sliced = history.between(start, end)
    if len(sliced.dates) < 2:
        raise PortfolioError("--start", f"fewer than two days of prices from {start} to {end}")
    market = prepare(portfolio, sliced, capital)
    results = []
    for policy in policies:

        def report(done: int, total: int, name: str = policy.name) -> None:
            if progress is not None:
                progress(name, done, total)

        results.append(simulate(market, policy, config, report))
    return BacktestRun(market, tuple(results), source)


def backtest_sheet(
    book: Book,
    portfolio: Portfolio,
    *,
    offline: bool = False,
    now: dt.datetime | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> BacktestRun:
    """Run what the Backtest sheet asks for and fill the sheet."""
    if BACKTEST_SHEET not in book.sheet_names():
        raise PortfolioError(
            BACKTEST_SHEET,
            "this workbook has no Backtest sheet (run: xlrebalance backtest "
            "BOOK --write, which adds it)",
        )
    inputs = read_inputs(book)
    run = run_policies(
        portfolio,
        start=_day(inputs["start"], f"{BACKTEST_SHEET}!B3"),
        end=_day(inputs["end"], f"{BACKTEST_SHEET}!D3"),
        specs=inputs["policies"] or DEFAULT_SPECS,
        prices=inputs["prices"],
        offline=offline,
        progress=progress,
    )
    write_results(book, run.market, run.results, run.source, run.market.notes,
                  now or dt.datetime.now())  # fmt: skip
    return run


def backtest_caller() -> None:
    """What the ribbon's Backtest button runs inside Excel (through xlwings' RunPython)."""
    import xlwings as xw  # only inside Excel

    run_in_excel(xw.Book.caller())


def run_in_excel(xw_book: Any) -> bool:
    adapter = importlib.import_module("xlrebalance.workbook.xlwings_book")
    reader = importlib.import_module("xlrebalance.workbook.reader")
    book = adapter.XlwingsBook(xw_book)

    def progress(name: str, done: int, total: int) -> None:
        book.status(f"xlrebalance: backtest {name} {100 * done // max(total, 1)}%")

    try:
        portfolio = reader.read_input(book, offline=False).portfolio
        backtest_sheet(book, portfolio, progress=progress)
    except XlRebalanceError as exc:
        _report(book, str(exc))
        return False
    except Exception as exc:
        log.exception("xlrebalance: backtest failed")
        _report(book, f"unexpected {type(exc).__name__}: {exc}")
        return False
    finally:
        book.status(None)
    return True


def _report(book: Any, message: str) -> None:
    """On the sheet's status line (where results say what they are) and in a message box."""
    try:
        if BACKTEST_SHEET in book.sheet_names():
            book.write_block(BACKTEST_SHEET, STATUS_ROW, 1, [[f"ERROR (Backtest): {message}"]])
    except Exception:  # the message box still tells the user
        log.exception("xlrebalance: could not write the problem on the Backtest sheet")
    book.alert(f"Backtest\n\n{message}", title="xlrebalance")
