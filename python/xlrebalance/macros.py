"""What the ribbon buttons (and the headless refresh) do, through the :class:`Book` interface.

Each macro reads everything it needs and plans before it writes anything, so an input error
leaves the workbook as it was. The ``*_caller`` functions are what the VBA callbacks run
(``RunPython "import xlrebalance.macros as m; m.refresh_prices_caller()"``); they bind the
calling Excel workbook through xlwings, imported only there.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from xlrebalance.model import Plan, Portfolio
from xlrebalance.planner import plan as make_plan
from xlrebalance.workbook.book import Book
from xlrebalance.workbook.reader import WorkbookInput, read_input
from xlrebalance.workbook.schema import SETTINGS_SHEET
from xlrebalance.workbook.writer import (
    PriceUpdate,
    Staleness,
    append_history,
    history_row,
    valuation,
    write_orders,
    write_prices,
)


@dataclass(frozen=True)
class RefreshResult:
    plan: Plan
    portfolio: Portfolio
    staleness: Staleness
    lang: str


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def staleness(
    inp: WorkbookInput, now: dt.datetime, fresh: frozenset[str] = frozenset()
) -> Staleness:
    """Tickers whose sheet price is older than the freshness setting or has no time."""
    limit = dt.timedelta(hours=inp.quote_max_age_hours)
    stale: dict[str, None] = {}
    for h, time in zip(inp.portfolio.holdings, inp.price_times, strict=True):
        if h.ticker in fresh:
            continue
        if time is None or now - time.replace(tzinfo=None) > limit:
            stale[h.ticker] = None
    return Staleness(tuple(stale), inp.quote_max_age_hours, len(inp.portfolio.tickers()))


def _fetch_quotes(
    book: Book, inp: WorkbookInput, now: dt.datetime
) -> tuple[WorkbookInput, frozenset[str]]:
    """Fill prices and FX through the quotes package and write them to the sheet."""
    quotes = importlib.import_module("xlrebalance.quotes")
    portfolio, report = quotes.fill_prices(inp.portfolio, offline=False)
    by_ticker = _report_quotes(report)
    updates: dict[int, PriceUpdate] = {}
    fresh: set[str] = set()
    for i, (old, new) in enumerate(zip(inp.portfolio.holdings, portfolio.holdings, strict=True)):
        quote = by_ticker.get(new.ticker)
        if new.price is None:
            continue
        is_stale = bool(getattr(quote, "stale", False)) or bool(getattr(quote, "missing", False))
        if new.price != old.price or quote is not None:
            time = getattr(quote, "time", None)
            source = str(getattr(quote, "source", "") or "quotes")
            updates[i] = PriceUpdate(
                new.price,
                time.replace(tzinfo=None) if isinstance(time, dt.datetime) else now,
                source + (" (stale)" if is_stale else ""),
            )
            if not is_stale:
                fresh.add(new.ticker)
    write_prices(book, inp, updates)
    for key, rate in portfolio.fx.items():
        row = inp.settings_rows.get(f"fx.{key}")
        if row is not None and inp.portfolio.fx.get(key) != rate:
            book.write_block(SETTINGS_SHEET, row, inp.settings_value_column, [[rate]])
    return replace(inp, portfolio=portfolio), frozenset(fresh)


def _report_quotes(report: Any) -> Mapping[str, Any]:
    quotes = getattr(report, "quotes", {})
    if isinstance(quotes, Mapping):
        return quotes
    return {getattr(q, "ticker", ""): q for q in quotes}


def refresh(book: Book, *, offline: bool = False, now: dt.datetime | None = None) -> RefreshResult:
    """The main job: prices (unless ``offline``), orders and a History row."""
    now = now or _now()
    inp = read_input(book, offline=offline)
    fresh: frozenset[str] = frozenset()
    if not offline:
        inp, fresh = _fetch_quotes(book, inp, now)
    result = _plan(inp, now, fresh)
    write_orders(book, result.plan, inp.portfolio, inp.lang, result.staleness, now)
    _history(book, "refresh", inp.portfolio, result.plan, result.staleness, now)
    return result


def _plan(inp: WorkbookInput, now: dt.datetime, fresh: frozenset[str]) -> RefreshResult:
    from xlrebalance.model import validate

    validate(inp.portfolio, offline=True, locate=inp.locate)
    plan = make_plan(inp.portfolio)
    return RefreshResult(plan, inp.portfolio, staleness(inp, now, fresh), inp.lang)


def _history(
    book: Book,
    event: str,
    portfolio: Portfolio,
    plan: Plan | None,
    stale: Staleness,
    now: dt.datetime,
) -> None:
    v = valuation(portfolio)
    values, formats = history_row(event, now, v.value, v.cash, v.drift, plan, len(stale.tickers))
    append_history(book, values, formats)


def refresh_prices(book: Book, *, now: dt.datetime | None = None) -> Staleness:
    """Ribbon "Refresh prices": fetch quotes into Holdings (and FX into Settings)."""
    now = now or _now()
    inp = read_input(book, offline=False)
    inp, fresh = _fetch_quotes(book, inp, now)
    return staleness(inp, now, fresh)


def compute_orders(book: Book, *, now: dt.datetime | None = None) -> Plan:
    """Ribbon "Compute orders": plan from the prices on the sheet, write the Orders sheet."""
    now = now or _now()
    inp = read_input(book, offline=True)
    result = _plan(inp, now, frozenset())
    write_orders(book, result.plan, inp.portfolio, inp.lang, result.staleness, now)
    return result.plan


def snapshot(book: Book, *, now: dt.datetime | None = None) -> None:
    """Ribbon "Snapshot": a History row with today's value and drift (no planning)."""
    now = now or _now()
    inp = read_input(book, offline=True)
    _history(book, "snapshot", inp.portfolio, None, staleness(inp, now), now)


def _caller_book() -> Book:
    import xlwings as xw  # only inside Excel

    adapter = importlib.import_module("xlrebalance.workbook.xlwings_book")
    book: Book = adapter.XlwingsBook(xw.Book.caller())
    return book


def refresh_prices_caller() -> None:
    refresh_prices(_caller_book())


def compute_orders_caller() -> None:
    compute_orders(_caller_book())


def snapshot_caller() -> None:
    snapshot(_caller_book())
