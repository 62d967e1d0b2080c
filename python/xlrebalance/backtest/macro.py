"""The ribbon's *Backtest* button and ``xlrebalance backtest BOOK --write``: run the policies
typed on the Backtest sheet and fill it (see :mod:`xlrebalance.backtest.sheet`)."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from xlrebalance.backtest.command import DEFAULT_SPECS
from xlrebalance.backtest.policy import parse_policy
from xlrebalance.backtest.sheet import BACKTEST_SHEET, STATUS_ROW, read_inputs, write_results
from xlrebalance.backtest.simulate import BacktestConfig, Market, PolicyResult, prepare, simulate
from xlrebalance.backtest.stop import BacktestStopped, StopSignal, escape_key
from xlrebalance.errors import PortfolioError, XlRebalanceError
from xlrebalance.model import Portfolio
from xlrebalance.workbook.book import Book

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BacktestRun:
    market: Market
    results: tuple[PolicyResult, ...]
    source: str
    not_run: tuple[str, ...] = ()
    """Policies a stop (Esc in Excel, Ctrl-C) left out; the results are those that finished."""

    @property
    def notes(self) -> tuple[str, ...]:
        """The market's notes, and what a stop left out (said first: it changes the table)."""
        if not self.not_run:
            return self.market.notes
        stopped = f"stopped by the user; not run: {', '.join(self.not_run)}"
        return (stopped, *self.market.notes)


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
    stop: StopSignal | None = None,
) -> BacktestRun:
    """Everything ``xlrebalance backtest`` does before printing (shared with the sheet).

    A stop (``stop`` requested, checked between rebalances and policies, or Ctrl-C) ends the
    run with the policies that finished; the others are named in ``not_run``."""
    from xlrebalance.backtest.command import load_history, too_few_days

    if start is not None and end is not None and start > end:
        raise PortfolioError("--start", f"{start} is after --end {end}")
    policies = [parse_policy(s) for s in specs]
    history, source = load_history(
        portfolio, prices=prices, offline=offline, start=start, end=end, dividends=dividends
    )
    sliced = history.between(start, end)
    if len(sliced.dates) < 2:
        raise too_few_days(history, start, end)
    market = prepare(portfolio, sliced, capital)
    results: list[PolicyResult] = []
    try:
        for policy in policies:

            def report(done: int, total: int, name: str = policy.name) -> None:
                if progress is not None:
                    progress(name, done, total)
                if stop is not None and done < total:  # at 100% the result is whole: keep it
                    stop.raise_if_requested()

            if stop is not None:
                stop.raise_if_requested()
            results.append(simulate(market, policy, config, report))
    except (BacktestStopped, KeyboardInterrupt):
        left = tuple(p.name for p in policies[len(results) :])
        if not results:
            raise PortfolioError(
                "Backtest", "stopped before the first policy finished: no results to show"
            ) from None
        return BacktestRun(market, tuple(results), source, left)
    return BacktestRun(market, tuple(results), source)


def backtest_sheet(
    book: Book,
    portfolio: Portfolio,
    *,
    offline: bool = False,
    now: dt.datetime | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    stop: StopSignal | None = None,
    folder: Path | None = None,
) -> BacktestRun:
    """Run what the Backtest sheet asks for and fill the sheet. A relative prices CSV path
    (H3) is taken from ``folder`` (the workbook's) when given."""
    if BACKTEST_SHEET not in book.sheet_names():
        raise PortfolioError(
            BACKTEST_SHEET,
            "this workbook has no Backtest sheet (run: xlrebalance backtest "
            "BOOK --write, which adds it)",
        )
    inputs = read_inputs(book)
    if inputs["prices"] and folder is not None and not Path(inputs["prices"]).is_absolute():
        inputs["prices"] = str(folder / inputs["prices"])  # beside the workbook, not the cwd
    run = run_policies(
        portfolio,
        start=_day(inputs["start"], f"{BACKTEST_SHEET}!B3"),
        end=_day(inputs["end"], f"{BACKTEST_SHEET}!D3"),
        specs=inputs["policies"] or DEFAULT_SPECS,
        prices=inputs["prices"],
        offline=offline,
        progress=progress,
        stop=stop,
    )
    write_results(book, run.market, run.results, run.source, run.notes,
                  now or dt.datetime.now())  # fmt: skip
    return run


def require_sheet(book: Book) -> None:
    """``refresh --backtest`` checks this before doing anything, so it fails with nothing
    written rather than after the refresh."""
    if BACKTEST_SHEET not in book.sheet_names():
        raise PortfolioError(
            BACKTEST_SHEET,
            "this workbook has no Backtest sheet (add it with: xlrebalance backtest BOOK "
            "--write), so refresh --backtest has nothing to fill",
        )


def fill_on_refresh(
    book: Book, portfolio: Portfolio, *, offline: bool, folder: Path, stream: TextIO
) -> str | None:
    """``xlrebalance refresh BOOK --backtest``: run the Backtest sheet's row 3 into the same
    save as the refresh, with progress on ``stream``. A backtest problem does not undo the
    refresh: it goes on the sheet's status line (as from the ribbon) and is returned."""
    from xlrebalance.backtest.command import _Progress

    bar = _Progress(stream)
    current = [""]

    def progress(name: str, done: int, total: int) -> None:
        if name != current[0]:
            bar.begin(name)
            current[0] = name
        bar(done, total)
        if done >= total:
            bar.end()

    try:
        run = backtest_sheet(book, portfolio, offline=offline, progress=progress, folder=folder)
    except XlRebalanceError as exc:
        book.write_block(BACKTEST_SHEET, STATUS_ROW, 1, [[f"ERROR (Backtest): {exc}"]])
        return str(exc)
    if run.not_run:
        stream.write(f"xlrebalance: backtest stopped; not run: {', '.join(run.not_run)}\n")
    return None


def backtest_caller() -> None:
    """What the ribbon's Backtest button runs inside Excel (through xlwings' RunPython)."""
    import xlwings as xw  # only inside Excel

    run_in_excel(xw.Book.caller())


def run_in_excel(xw_book: Any, *, stop: StopSignal | None = None) -> bool:
    """Run the Backtest sheet inside Excel; Esc stops it (see :mod:`.stop`) unless ``stop``
    is given. A stopped run fills the sheet with the policies that finished and says so."""
    adapter = importlib.import_module("xlrebalance.workbook.xlwings_book")
    reader = importlib.import_module("xlrebalance.workbook.reader")
    book = adapter.XlwingsBook(xw_book)
    if stop is None:
        key = escape_key(_excel_window(xw_book))
        stop = StopSignal([key] if key is not None else [])
    hint = " (Esc: stop)" if stop.watching else ""

    def progress(name: str, done: int, total: int) -> None:
        book.status(f"xlrebalance: backtest {name} {100 * done // max(total, 1)}%{hint}")

    try:
        portfolio = reader.read_input(book, offline=False).portfolio
        with stop:
            run = backtest_sheet(book, portfolio, progress=progress, stop=stop)
        if run.not_run:
            book.alert(
                f"Backtest stopped: the sheet shows {len(run.results)} policies; "
                f"not run: {', '.join(run.not_run)}",
                title="xlrebalance",
            )
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


def _excel_window(xw_book: Any) -> int | None:
    try:
        return int(xw_book.app.hwnd)
    except Exception:  # the remote engine and non-Windows Excel have no window handle
        return None


def _report(book: Any, message: str) -> None:
    """On the sheet's status line (where results say what they are) and in a message box."""
    try:
        if BACKTEST_SHEET in book.sheet_names():
            book.write_block(BACKTEST_SHEET, STATUS_ROW, 1, [[f"ERROR (Backtest): {message}"]])
    except Exception:  # the message box still tells the user
        log.exception("xlrebalance: could not write the problem on the Backtest sheet")
    book.alert(f"Backtest\n\n{message}", title="xlrebalance")
