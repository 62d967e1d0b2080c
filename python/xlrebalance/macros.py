"""What the ribbon buttons (and the headless refresh) do, through the :class:`Book` interface.

Each macro reads everything it needs and plans before it writes anything, so an input error
leaves the workbook as it was. The ``*_caller`` functions are what the VBA callbacks run
(``RunPython "import xlrebalance.macros as m; m.refresh_prices_caller()"``); they bind the
calling Excel workbook through xlwings (imported only there) and :func:`run_in_excel` reports
progress in the status bar and problems in a message box and on the Orders sheet.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from xlrebalance.errors import PortfolioError, XlRebalanceError
from xlrebalance.model import Plan, Portfolio
from xlrebalance.planner import plan as make_plan
from xlrebalance.quotes import QuoteStatus, fill_prices
from xlrebalance.quotes.sanity import ACCEPT_HINT
from xlrebalance.workbook.book import Book, CellValue
from xlrebalance.workbook.reader import WorkbookInput, read_input
from xlrebalance.workbook.schema import (
    HEADER_ROW,
    HISTORY_COLUMNS,
    HISTORY_SHEET,
    ORDER_COLUMNS,
    ORDERS_HEADER_ROW,
    ORDERS_SHEET,
    SETTINGS_SHEET,
    WARNING_CELL,
    Lang,
    sheet_title,
)
from xlrebalance.workbook.writer import (
    PriceUpdate,
    Staleness,
    append_history,
    history_row,
    is_tool_output,
    refuse_foreign_output,
    valuation,
    write_orders,
    write_prices,
)

if TYPE_CHECKING:
    from xlrebalance.quotes import Sources

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshResult:
    plan: Plan
    portfolio: Portfolio
    staleness: Staleness
    lang: str
    refused: tuple[str, ...] = ()
    """Fetched prices refused as absurd, in the wrong currency or an implausible jump."""
    notes: tuple[str, ...] = ()
    """What the user should be told beside the plan (a sheet recreated, no network)."""
    held: tuple[str, ...] = ()
    """Tickers whose fetched price is an implausible jump, held back (the user said No, or
    was not asked)."""


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


STALE_MARK = " (stale)"
"""Appended to a Source cell whose price is not fresh; it stays until a real quote replaces
the price, so the next run still counts that price stale whatever its time says."""


def staleness(
    inp: WorkbookInput, now: dt.datetime, fresh: frozenset[str] = frozenset()
) -> Staleness:
    """Tickers whose sheet price is older than the freshness setting, has no time, or is
    marked stale in its Source cell (``fresh``: tickers just priced by a fresh quote)."""
    limit = dt.timedelta(hours=inp.quote_max_age_hours)
    stale: dict[str, None] = {}
    rows = zip(inp.portfolio.holdings, inp.price_times, inp.sources, strict=True)
    for h, time, source in rows:
        if h.ticker in fresh:
            continue
        marked = bool(source) and str(source).endswith(STALE_MARK)
        if marked or time is None or now - time.replace(tzinfo=None) > limit:
            stale[h.ticker] = None
    return Staleness(tuple(stale), inp.quote_max_age_hours, len(inp.portfolio.tickers()))


Say = Callable[[str | None], None]
"""Where a macro reports progress: Excel's status bar, or nowhere."""


def _quiet(_: str | None) -> None:
    return None


def _say(book: Book) -> Say:
    status = getattr(book, "status", None)
    return status if callable(status) else _quiet


ConfirmJumps = Callable[[tuple[str, ...]], bool]
"""Asks the user whether the listed price jumps (one line each) are real, e.g. after a split
(Excel's Yes/No box): True uses those prices."""


@dataclass(frozen=True)
class _Fetched:
    inp: WorkbookInput
    fresh: frozenset[str]
    missing: dict[str, str]
    refused: tuple[str, ...]
    notes: tuple[str, ...]
    held: tuple[str, ...]


def _fetch_confirmed(
    book: Book,
    inp: WorkbookInput,
    now: dt.datetime,
    sources: Sources | None,
    *,
    accept_jumps: bool,
    confirm: ConfirmJumps | None,
) -> _Fetched:
    """:func:`_fetch_quotes`, then, when prices were held back as jumps and ``confirm`` says
    they are real, once more accepting exactly those tickers' jumps (the other prices come
    from the cache the first fetch filled; a held price was never cached, so it is fetched
    again). Without a Yes a jump is never used."""
    fetched = _fetch_quotes(book, inp, now, sources, accept_jumps=accept_jumps)
    if not fetched.held or confirm is None:
        return fetched
    lines = tuple(
        line.replace(f"; {ACCEPT_HINT}", "")
        for line in fetched.refused
        if line.split(":", 1)[0] in fetched.held
    )
    if not confirm(lines):
        return fetched
    return _fetch_quotes(book, inp, now, sources, accepted=frozenset(fetched.held))


def _fetch_quotes(
    book: Book,
    inp: WorkbookInput,
    now: dt.datetime,
    sources: Sources | None = None,
    *,
    accept_jumps: bool = False,
    accepted: frozenset[str] = frozenset(),
) -> _Fetched:
    """Fill prices and FX through the quotes package and write them to the sheet.

    Returns the refreshed input, the tickers priced fresh, the tickers the sources had no
    price for (with why) -- shown in their Source cell, not raised, so one unknown ticker
    does not lose every other price --, one line per refused price, notes for the user, and
    the tickers held back as jumps (``accepted``: tickers whose jump the user confirmed).

    A price's time is the time of the quote it came from, never the time of this run: a
    price the sources could not refresh (or gave and was refused: absurd, wrong currency, a
    jump) keeps its price, time and Source (stale mark included) untouched, and without a
    network nothing on the sheet changes at all."""
    from xlrebalance.quotes.prices import TYPED_SOURCE
    from xlrebalance.quotes.sanity import SanityPolicy

    say = _say(book)
    sanity = SanityPolicy(max_jump=inp.max_price_jump, accept_jumps=accept_jumps, accepted=accepted)

    def progress(done: int, total: int) -> None:
        say(f"xlrebalance: fetching prices {done}/{total}")

    say("xlrebalance: fetching prices")
    portfolio, report = fill_prices(
        inp.portfolio,
        offline=False,
        strict=False,
        progress=progress,
        sanity=sanity,
        sources=sources,
    )
    if report.unreachable:
        return _Fetched(inp, frozenset(), {}, (), (no_network_note(inp, report.unreachable),), ())
    updates: dict[int, PriceUpdate] = {}
    times = list(inp.price_times)
    marks = list(inp.sources)
    fresh: set[str] = set()
    missing: dict[str, str] = {}
    for i, h in enumerate(portfolio.holdings):
        quote = report.get(h.ticker, h.market.value) or report.get(h.ticker)
        if h.price is None:
            why = (quote.detail or quote.status.value) if quote is not None else "no price"
            missing[h.ticker] = why
            updates[i] = PriceUpdate(None, None, f"no price: {why}")
        elif quote is None or quote.source == TYPED_SOURCE or quote.price is None:
            continue  # not refreshed: the sheet's own price, time and mark stand
        else:
            ok = quote.status is QuoteStatus.OK
            time = _sheet_time(quote.time or quote.fetched)
            updates[i] = PriceUpdate(quote.price, time, quote.source + ("" if ok else STALE_MARK))
            if ok:
                fresh.add(h.ticker)
        if i in updates:
            times[i], marks[i] = updates[i].time, updates[i].source
    say("xlrebalance: writing prices")
    write_prices(book, inp, updates)
    for key, rate in portfolio.fx.items():
        row = inp.settings_rows.get(f"fx.{key}")
        if row is not None and inp.portfolio.fx.get(key) != rate:
            book.write_block(SETTINGS_SHEET, row, inp.settings_value_column, [[rate]])
    for q in report.fx:
        if q.price is None and q.ticker not in portfolio.fx:
            missing[q.ticker] = q.detail or q.status.value
    refused = tuple(str(line) for line in report.refused)
    refreshed = replace(inp, portfolio=portfolio, price_times=tuple(times), sources=tuple(marks))
    return _Fetched(refreshed, frozenset(fresh), missing, refused, (), report.held)


NO_NETWORK = "no network:"


def no_network_note(inp: WorkbookInput, why: str) -> str:
    """The one line a refresh without a network says: which prices the plan is made from."""
    times = [t for t in inp.price_times if t is not None]
    if not times:
        return f"{NO_NETWORK} using the prices on the sheet, which have no price time ({why})"
    old, new = min(times), max(times)
    when = f"{old:%Y-%m-%d %H:%M}" + (f" to {new:%Y-%m-%d %H:%M}" if new != old else "")
    undated = ", some without a time" if len(times) < len(inp.price_times) else ""
    return f"{NO_NETWORK} using the prices on the sheet from {when}{undated} ({why})"


def _sheet_time(time: dt.datetime | None) -> dt.datetime | None:
    """Excel has no time zones: a quote's time in this computer's local time."""
    if time is None:
        return None
    return time.astimezone().replace(tzinfo=None) if time.tzinfo else time


def refresh(
    book: Book,
    *,
    offline: bool = False,
    now: dt.datetime | None = None,
    accept_jumps: bool = False,
    sources: Sources | None = None,
    confirm: ConfirmJumps | None = None,
) -> RefreshResult:
    """The main job: prices (unless ``offline``), orders and a History row.

    Prices fetched are written even when a ticker has none; planning then stops with an
    error naming that ticker's row (the planner values every holding). A price held back as
    an implausible jump is used when ``accept_jumps``, or when ``confirm`` says so."""
    now = now or _now()
    say = _say(book)
    say("xlrebalance: reading the workbook")
    refuse_foreign_output(book, (ORDERS_SHEET, HISTORY_SHEET))
    inp = read_input(book, offline=offline)
    fresh: frozenset[str] = frozenset()
    refused: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    held: tuple[str, ...] = ()
    if not offline:
        fetched = _fetch_confirmed(
            book, inp, now, sources, accept_jumps=accept_jumps, confirm=confirm
        )
        inp, fresh, refused, notes, held = (
            fetched.inp,
            fetched.fresh,
            fetched.refused,
            fetched.notes,
            fetched.held,
        )
        _require_prices(inp, fetched.missing)
    # Found out there is no network: the rest of the run (fund holdings) stays offline too.
    offline = offline or any(note.startswith(NO_NETWORK) for note in notes)
    say("xlrebalance: computing orders")
    result = _with_hidden_rows(book, inp, _plan(inp, now, fresh))
    if refused:  # shown in the Orders summary: a held-back price is never a silent one
        plan = replace(result.plan, warnings=result.plan.warnings + refused)
        result = replace(result, plan=plan, refused=refused, held=held)
    result = _exposure(book, inp, result, offline=offline)
    notes += ensure_owned_sheets(book, inp.lang, (ORDERS_SHEET, HISTORY_SHEET))
    if notes:
        plan = replace(result.plan, warnings=result.plan.warnings + notes)
        result = replace(result, plan=plan, notes=notes)
    say("xlrebalance: writing orders")
    write_orders(book, result.plan, inp.portfolio, inp.lang, result.staleness, now)
    _history(book, "refresh", inp.portfolio, result.plan, result.staleness, now, inp.lang)
    return result


def ensure_owned_sheets(book: Book, lang: Lang, names: tuple[str, ...]) -> tuple[str, ...]:
    """Recreate the sheets the tool writes (Orders, History) when the user deleted them, with
    their title and header; one note per sheet made, to tell the user."""
    notes = []
    for name in names:
        if name in book.sheet_names():
            continue
        book.add_sheet(name)
        book.write_block(name, 1, 1, [[sheet_title(name, lang)]])
        if name == HISTORY_SHEET:
            header: list[CellValue] = [c.header(lang) for c in HISTORY_COLUMNS]
            book.write_block(name, HEADER_ROW, 1, [header])
        notes.append(
            f"{name} 시트가 없어서 새로 만들었습니다"
            if lang == "ko"
            else f"the {name} sheet was missing: recreated it"
        )
    return tuple(notes)


def _exposure(
    book: Book, inp: WorkbookInput, result: RefreshResult, *, offline: bool
) -> RefreshResult:
    """Look-through limits and take-profit rows as plan warnings, and the Exposure sheet
    (when the workbook has one). Fund holdings come from the quote cache, fetched when older
    than a week and online; a failure there costs the view, never the refresh."""
    from xlrebalance.exposure.checks import plan_warnings
    from xlrebalance.exposure.lookthrough import FundHoldings, look_through
    from xlrebalance.pnl import pnl_report
    from xlrebalance.quotes import funds as fund_data
    from xlrebalance.workbook import exposure_sheet
    from xlrebalance.workbook.schema import EXPOSURE_SHEET

    portfolio = inp.portfolio
    has_limits = portfolio.settings.exposure_limits.any_set
    has_sheet = EXPOSURE_SHEET in book.sheet_names()
    funds: Mapping[str, FundHoldings] = {}
    if has_sheet or has_limits:
        _say(book)("xlrebalance: fund holdings")
        try:
            funds = fund_data.holdings_for(portfolio, offline=offline)
        except XlRebalanceError as exc:
            log.warning("fund holdings unavailable: %s", exc)
    warnings = plan_warnings(portfolio, result.plan, funds)
    if has_sheet:
        exposure_sheet.write(book, look_through(portfolio, funds), pnl_report(portfolio), inp.lang)
    if not warnings:
        return result
    plan = replace(result.plan, warnings=result.plan.warnings + warnings)
    return replace(result, plan=plan)


def _require_prices(inp: WorkbookInput, missing: Mapping[str, str]) -> None:
    if not missing:
        return
    listed = "; ".join(f"{t} ({why})" for t, why in list(missing.items())[:5])
    for i, h in enumerate(inp.portfolio.holdings):
        if h.ticker in missing:
            raise PortfolioError(
                inp.locate(f"holdings[{i}].price"),
                f"no price from the quote sources for {len(missing)} ticker(s): {listed}. "
                "Fix the ticker or type its price, then Compute orders",
            )
    raise PortfolioError("Settings", f"no FX rate from the quote sources: {listed}")


def _plan(inp: WorkbookInput, now: dt.datetime, fresh: frozenset[str]) -> RefreshResult:
    from xlrebalance.model import validate

    validate(inp.portfolio, offline=True, locate=inp.locate)
    try:
        plan = make_plan(inp.portfolio)
    except PortfolioError as exc:  # the planner names fields; the user knows cells
        raise PortfolioError(inp.locate(exc.location), exc.message) from exc
    return RefreshResult(plan, inp.portfolio, staleness(inp, now, fresh), inp.lang)


def _with_hidden_rows(book: Book, inp: WorkbookInput, result: RefreshResult) -> RefreshResult:
    """Hidden or filtered-out Holdings rows are planned like any other (hiding a row is not
    deleting it), and the Orders summary says which."""
    hidden_rows = getattr(book, "hidden_rows", None)
    if hidden_rows is None:
        return result
    hidden = hidden_rows("Holdings")
    rows = [r for r in inp.holdings_rows if r in hidden]
    if not rows:
        return result
    shown = ", ".join(str(r) for r in rows[:10]) + (" ..." if len(rows) > 10 else "")
    if inp.lang == "ko":
        note = f"숨겨지거나 필터로 가려진 Holdings 행 {len(rows)}개도 계산에 포함됨 (행 {shown})"
    else:
        note = f"{len(rows)} hidden or filtered-out Holdings row(s) were planned too (rows {shown})"
    plan = replace(result.plan, warnings=(*result.plan.warnings, note))
    return replace(result, plan=plan)


def _history(
    book: Book,
    event: str,
    portfolio: Portfolio,
    plan: Plan | None,
    stale: Staleness,
    now: dt.datetime,
    lang: Lang = "en",
) -> None:
    v = valuation(portfolio)
    values, formats = history_row(
        event, now, v.value, v.cash, v.drift, plan, len(stale.tickers), lang
    )
    append_history(book, values, formats)


@dataclass(frozen=True)
class PriceRefresh:
    """What "Refresh prices" did: which prices are old, which tickers got none (and why)."""

    staleness: Staleness
    missing: Mapping[str, str]
    refused: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    held: tuple[str, ...] = ()

    def problems(self) -> str | None:
        """One message for the user, or None when every price is fresh."""
        if self.notes:  # no network: the one line says it all
            return "; ".join(self.notes)
        parts = []
        if self.missing:
            listed = "; ".join(f"{t}: {why}" for t, why in list(self.missing.items())[:8])
            parts.append(f"{len(self.missing)} without a price ({listed})")
        if self.staleness.tickers:
            shown = ", ".join(self.staleness.tickers[:8])
            parts.append(f"{len(self.staleness.tickers)} stale ({shown})")
        if self.refused:
            parts.append(f"{len(self.refused)} refused ({'; '.join(self.refused[:8])})")
        return "Prices: " + "; ".join(parts) if parts else None


def refresh_prices(
    book: Book,
    *,
    now: dt.datetime | None = None,
    sources: Sources | None = None,
    confirm: ConfirmJumps | None = None,
) -> PriceRefresh:
    """Ribbon "Refresh prices": fetch quotes into Holdings (and FX into Settings).

    A ticker the sources do not know is marked in its Source cell and reported, never
    raised: the other prices are still written. A price held back as an implausible jump
    is used only when ``confirm`` (Excel's Yes/No box) says it is real."""
    now = now or _now()
    _say(book)("xlrebalance: reading the workbook")
    inp = read_input(book, offline=False)
    got = _fetch_confirmed(book, inp, now, sources, accept_jumps=False, confirm=confirm)
    return PriceRefresh(
        staleness(got.inp, now, got.fresh), got.missing, got.refused, got.notes, got.held
    )


def compute_orders(book: Book, *, now: dt.datetime | None = None) -> Plan:
    """Ribbon "Compute orders": plan from the prices on the sheet, write the Orders sheet."""
    now = now or _now()
    refuse_foreign_output(book, (ORDERS_SHEET,))
    inp = read_input(book, offline=True)
    result = _with_hidden_rows(book, inp, _plan(inp, now, frozenset()))
    notes = ensure_owned_sheets(book, inp.lang, (ORDERS_SHEET,))
    plan = replace(result.plan, warnings=result.plan.warnings + notes)
    write_orders(book, plan, inp.portfolio, inp.lang, result.staleness, now)
    return plan


def snapshot(book: Book, *, now: dt.datetime | None = None) -> tuple[str, ...]:
    """Ribbon "Snapshot": a History row with today's value and drift (no planning). Returns
    what the user should be told (a History sheet recreated)."""
    now = now or _now()
    refuse_foreign_output(book, (HISTORY_SHEET,))
    inp = read_input(book, offline=True)
    notes = ensure_owned_sheets(book, inp.lang, (HISTORY_SHEET,))
    _history(book, "snapshot", inp.portfolio, None, staleness(inp, now), now, inp.lang)
    return notes


def sync(book: Book, *, passphrase: str | None = None) -> Any:
    """Ribbon "Sync": merge with the remote named on Settings (``sync.remote``) and publish.

    Returns the sync outcome (its ``conflicts`` name sheet and cell, both values and which
    was kept). The passphrase, when the remote is encrypted, comes from the environment or
    the OS keyring -- never from the workbook."""
    from xlrebalance.sync.book_copy import ENDPOINT_KEY, REMOTE_KEY, WorkbookCopy
    from xlrebalance.sync.command import passphrase as stored_passphrase
    from xlrebalance.sync.engine import push
    from xlrebalance.sync.remote import Options, open_remote

    _say(book)("xlrebalance: syncing")
    copy = WorkbookCopy(book)
    url = copy.setting(REMOTE_KEY)
    if not url:
        raise PortfolioError(
            SETTINGS_SHEET,
            f"no sync remote: put a folder (file:///...), s3://bucket/path or webdav://host/path "
            f"in the Value of the row {REMOTE_KEY}",
        )
    remote = open_remote(url, Options(endpoint=copy.setting(ENDPOINT_KEY)))
    secret = passphrase if passphrase is not None else stored_passphrase(remote.url)
    return push(copy, remote, secret)


# -- what the ribbon runs (through xlwings' RunPython) -------------------------------------

LABELS = {
    "refresh": ("Refresh", "새로 고침"),
    "refresh_prices": ("Refresh prices", "시세 새로 고침"),
    "compute_orders": ("Compute orders", "주문 계산"),
    "snapshot": ("Snapshot", "스냅샷"),
    "sync": ("Sync", "동기화"),
}


def run_in_excel(xw_book: Any, name: str, *, now: dt.datetime | None = None) -> bool:
    """Run macro ``name`` on an xlwings book, reporting instead of raising.

    Progress goes to the status bar; a problem (bad input, no price, a planner failure,
    anything unexpected) goes to a message box and to the banner cell of the Orders sheet,
    never to a Python traceback dialog. Returns whether the macro succeeded."""
    from xlrebalance.workbook.xlwings_book import XlwingsBook  # xlwings: only inside Excel

    book = XlwingsBook(xw_book)
    problem: str | None = None
    confirm = _jump_question(book)
    try:
        if name == "refresh":
            problem = "; ".join(refresh(book, now=now, confirm=confirm).notes) or None
        elif name == "refresh_prices":
            problem = refresh_prices(book, now=now, confirm=confirm).problems()
        elif name == "compute_orders":
            compute_orders(book, now=now)
        elif name == "snapshot":
            problem = "; ".join(snapshot(book, now=now)) or None
        elif name == "sync":
            outcome = sync(book)
            lines = [*outcome.conflicts, *outcome.notes]
            if lines:
                problem = f"{len(lines)} conflict(s), kept as listed: " + " | ".join(lines[:10])
        else:
            raise ValueError(f"no macro named {name!r}")
    except XlRebalanceError as exc:
        _report(book, name, str(exc), failed=True)
        return False
    except Exception as exc:
        log.exception("xlrebalance: %s failed", name)
        _report(book, name, f"unexpected {type(exc).__name__}: {exc}", failed=True)
        return False
    finally:
        book.status(None)
    if problem:
        _report(book, name, problem, failed=False)
    return True


def _jump_question(book: Any) -> ConfirmJumps | None:
    """A Yes/No box listing the price jumps, where Excel can answer one (desktop Excel; not
    xlwings' remote engine, whose boxes answer later, to a JavaScript callback: there the
    jumps are listed in the usual message and stay held back)."""
    if not book.can_ask():
        return None

    def ask(lines: tuple[str, ...]) -> bool:
        shown = "\n".join(lines[:12]) + ("\n..." if len(lines) > 12 else "")
        if _lang(book) == "ko":
            text = (
                f"시세 {len(lines)}개가 직전 가격에서 비정상적으로 크게 변했습니다:\n\n{shown}\n\n"
                "이 가격을 사용할까요? (액면분할·병합이면 예; 아니요는 직전 가격을 오래된 "
                "가격으로 유지합니다)"
            )
        else:
            text = (
                f"{len(lines)} price(s) jumped implausibly far from the last good ones:\n\n"
                f"{shown}\n\nUse them? (Yes if it is real, e.g. a split or a reverse split; "
                "No keeps the last good prices, marked stale)"
            )
        return bool(book.confirm(text))

    return ask


def _report(book: Any, name: str, message: str, *, failed: bool) -> None:
    lang = _lang(book)
    label = LABELS.get(name, (name, name))[1 if lang == "ko" else 0]
    if failed:
        head = f"오류 ({label})" if lang == "ko" else f"ERROR ({label})"
    else:
        head = f"주의 ({label})" if lang == "ko" else f"WARNING ({label})"
    try:
        if ORDERS_SHEET in book.sheet_names() and is_tool_output(book, ORDERS_SHEET):
            row, column = WARNING_CELL
            book.write_block(ORDERS_SHEET, row, column, [[f"{head}: {message}"]])
    except Exception:  # the message box below still tells the user
        log.exception("xlrebalance: could not write the problem on the Orders sheet")
    book.alert(f"{label}\n\n{message}", title="xlrebalance")


def _lang(book: Book) -> Lang:
    """The Orders sheet's language, from its header row (the error path only)."""
    try:
        header = book.read_block(ORDERS_SHEET)[ORDERS_HEADER_ROW - 1][0]
    except Exception:
        return "en"
    return "ko" if header == ORDER_COLUMNS[0].ko else "en"


def _caller(name: str) -> None:
    import xlwings as xw  # only inside Excel

    run_in_excel(xw.Book.caller(), name)


def refresh_caller() -> None:
    _caller("refresh")


def refresh_prices_caller() -> None:
    _caller("refresh_prices")


def compute_orders_caller() -> None:
    _caller("compute_orders")


def snapshot_caller() -> None:
    _caller("snapshot")


def sync_caller() -> None:
    _caller("sync")


def backtest_caller() -> None:
    """The ribbon's Backtest button (the work is in xlrebalance.backtest.macro)."""
    from xlrebalance.backtest.macro import backtest_caller as run

    run()
