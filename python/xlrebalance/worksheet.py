"""What the worksheet functions compute: ``=QUOTE()``, ``=FX()``, ``=REBAL_TRADES()``,
``=REBAL_SUMMARY()``, ``=REBAL_DRIFT()``. ``udfs/xlrebalance_udfs.py`` only declares them to
xlwings and calls here.

Every function returns a value for a cell and never raises: a problem comes back as one short
text starting with ``#XLREBALANCE:`` (``#XLREBALANCE: Holdings row 3: quantity "ten" is not a
number``), a ticker still being fetched as ``#N/A waiting for quotes``.

Prices come from the quote cache only (:class:`LiveQuotes`); what the cache lacks is handed to
:class:`~xlrebalance.quotes.pending.PendingQuotes`, fetched in one batch in the background, and
the waiting cells are recalculated when it arrives. A recalculation never waits for the
network.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from xlrebalance.cells import text, ticker
from xlrebalance.errors import PortfolioError, XlRebalanceError
from xlrebalance.model import KNOWN_CURRENCIES, Plan, Portfolio, validate, valuation
from xlrebalance.quotes.cache import QuoteCache
from xlrebalance.quotes.calendar import FreshnessPolicy
from xlrebalance.quotes.engine import Sources, Want
from xlrebalance.quotes.pending import PendingQuotes, Waiter
from xlrebalance.quotes.prices import want_of
from xlrebalance.quotes.types import Quote, QuoteStatus
from xlrebalance.ranges import RangeInput, as_grid, read_ranges
from xlrebalance.workbook.schema import SUMMARY_LABELS

log = logging.getLogger(__name__)

ERROR_PREFIX = "#XLREBALANCE: "
WAITING = "#N/A waiting for quotes"
MAX_MESSAGE = 240
"""Excel shows a long text in one line across the sheet: keep messages short."""

CellValue = str | float | int | bool | dt.datetime | None
TRADE_HEADER = {
    "en": ("account", "ticker", "side", "quantity", "price", "currency", "amount", "fees",
           "taxes"),
    "ko": ("계좌", "종목코드", "구분", "수량", "가격", "통화", "금액", "수수료", "세금"),
}  # fmt: skip
"""Price, amount, fees and taxes are in the order's own currency (the currency column)."""
SUMMARY_ROWS = (
    "solver", "gap", "drift_before", "drift_after", "value_before", "value_after", "fees",
    "taxes", "fx_cost",
)  # fmt: skip
"""What ``=REBAL_SUMMARY()`` shows, in order (labels from the Orders sheet's summary), then
one ``warning`` row per warning of the plan."""
PLAN_MEMORY = 32
"""Plans remembered by their priced portfolio: ``=REBAL_TRADES()`` and ``=REBAL_SUMMARY()``
over the same ranges plan once."""
QUOTE_FIELDS = {
    "price": "price", "가격": "price", "현재가": "price",
    "currency": "currency", "통화": "currency",
    "time": "time", "시각": "time", "시간": "time",
    "name": "name", "이름": "name", "종목명": "name",
    "change": "change", "등락": "change", "변동": "change",
    "source": "source", "출처": "source",
    "status": "status", "상태": "status",
    "market": "market", "시장": "market",
    "symbol": "symbol",
}  # fmt: skip


class Waiting(Exception):
    """Some prices are being fetched; the cell shows :data:`WAITING` until they arrive."""

    def __init__(self, tickers: Sequence[str]) -> None:
        self.tickers = tuple(tickers)
        shown = ", ".join(self.tickers[:5]) + (" ..." if len(self.tickers) > 5 else "")
        super().__init__(f"{WAITING} ({shown})" if shown else WAITING)


class LiveQuotes:
    """The cache the worksheet functions read, and the queue for what it lacks."""

    def __init__(
        self,
        *,
        cache: QuoteCache | None = None,
        sources: Sources | Callable[[QuoteCache], Sources] | None = None,
        pending: PendingQuotes | None = None,
        policy: FreshnessPolicy | None = None,
        now: Callable[[], dt.datetime] | None = None,
        on_ready: Callable[[Sequence[Waiter]], None] | None = None,
        background: bool = True,
    ) -> None:
        self._cache = cache
        self.policy = policy or FreshnessPolicy()
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self.pending = pending or PendingQuotes(
            cache=lambda: self.cache,
            sources=sources if sources is not None else Sources.default,
            on_ready=on_ready,
            policy=self.policy,
            background=background,
        )

    @property
    def cache(self) -> QuoteCache:
        if self._cache is None:
            self._cache = QuoteCache()
        return self._cache

    def lookup(
        self, wants: Sequence[Want], waiter: Waiter | None = None
    ) -> tuple[dict[Want, Quote], list[Want], dict[Want, Quote]]:
        """Cached quotes (fresh, or stale and being refreshed), the wants now being fetched,
        and the wants that recently failed (with the failed answer)."""
        found: dict[Want, Quote] = {}
        misses: list[Want] = []
        refresh: list[Want] = []
        now = self.now()
        for want in dict.fromkeys(wants):
            hit = self.cache.get(want.market, want.ticker)
            if hit is None:
                misses.append(want)
                continue
            fetched = hit.fetched or dt.datetime.fromtimestamp(0, dt.UTC)
            if self.policy.is_fresh(want.market, fetched, now):
                found[want] = hit
            else:
                found[want] = hit.with_status(QuoteStatus.STALE, "older than the freshness window")
                refresh.append(want)
        waiting: list[Want] = []
        failed: dict[Want, Quote] = {}
        if misses:
            self.pending.request(misses, waiter)
            for want in misses:
                answer = self.pending.failure(want)
                if self.pending.is_waiting(want) or answer is None:
                    waiting.append(want)
                else:
                    failed[want] = answer
        if refresh:
            # A stale price is shown now and replaced when the refresh lands (the queue asks
            # again only after its retry delay, so a failing source cannot loop).
            self.pending.request(refresh, waiter)
        return found, waiting, failed


_live: LiveQuotes | None = None
_live_lock = threading.Lock()


def default_live() -> LiveQuotes:
    """The process-wide service the UDFs use (Excel keeps one Python process)."""
    global _live
    with _live_lock:
        if _live is None:
            _live = LiveQuotes(on_ready=_recalculate_in_excel)
        return _live


def use_live(live: LiveQuotes | None) -> LiveQuotes | None:
    """Replace the process-wide service (tests); returns the previous one."""
    global _live
    with _live_lock:
        previous, _live = _live, live
        return previous


def _recalculate_in_excel(callers: Sequence[Waiter]) -> None:
    from xlrebalance.workbook.xlwings_book import recalculate_callers

    recalculate_callers(callers)


# -- errors ------------------------------------------------------------------------------


def error_text(exc: BaseException) -> str:
    """A short cell text for any exception: never a traceback."""
    if isinstance(exc, Waiting):
        return str(exc)
    if isinstance(exc, XlRebalanceError):
        message = str(exc)
    else:
        log.exception("xlrebalance: unexpected error in a worksheet function", exc_info=exc)
        message = f"unexpected {type(exc).__name__}: {exc}"
    message = " ".join(message.split())
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    return ERROR_PREFIX + message


def guarded(compute: Callable[[], Any]) -> Any:
    """Run ``compute``; any problem becomes an error text for the cell."""
    try:
        return compute()
    except Exception as exc:
        return error_text(exc)


# -- QUOTE and FX ------------------------------------------------------------------------


def quote_cell(
    tickers: object,
    field: object = None,
    *,
    live: LiveQuotes | None = None,
    waiter: Waiter | None = None,
) -> Any:
    """``=QUOTE(ticker, [field])``: one value, or one per cell when ``ticker`` is a range."""

    def compute() -> Any:
        name = _field(field)
        service = live or default_live()
        if isinstance(tickers, list | tuple):
            grid = as_grid(tickers)
            wants = {c: want_of(ticker(c)) for row in grid for c in row if ticker(c)}
            found, _, failed = service.lookup(list(wants.values()), waiter)
            return [
                [_quote_value(wants[c], name, found, failed) if c in wants else None for c in row]
                for row in grid
            ]
        code = ticker(tickers)
        if not code:
            raise PortfolioError("QUOTE", "ticker is empty")
        want = want_of(code)
        found, _, failed = service.lookup([want], waiter)
        return _quote_value(want, name, found, failed)

    return guarded(compute)


def _field(field: object) -> str:
    raw = text(field).lower() or "price"
    name = QUOTE_FIELDS.get(raw)
    if name is None:
        options = ", ".join(dict.fromkeys(QUOTE_FIELDS.values()))
        raise PortfolioError("QUOTE", f"unknown field {raw!r} (expected one of {options})")
    return name


def _quote_value(
    want: Want, field: str, found: dict[Want, Quote], failed: dict[Want, Quote]
) -> CellValue:
    quote = found.get(want)
    if quote is None:
        bad = failed.get(want)
        if field == "status":
            return bad.status.value if bad is not None else "waiting"
        if bad is None:
            return WAITING
        why = bad.detail or bad.status.value
        return error_text(PortfolioError(want.ticker, f"no quote ({why})"))
    if field == "price":
        return quote.price
    if field == "time":
        return _local(quote.time)
    if field == "name":
        return quote.display_name
    if field == "status":
        return quote.status.value
    value = getattr(quote, field)
    return value if value is None or isinstance(value, float | str) else str(value)


def _local(moment: dt.datetime | None) -> dt.datetime | None:
    """Excel has no time zones: a quote's time in the computer's local time."""
    if moment is None:
        return None
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo else moment


def fx_cell(
    source: object,
    target: object = "KRW",
    *,
    live: LiveQuotes | None = None,
    waiter: Waiter | None = None,
) -> Any:
    """``=FX(from, to)``: units of ``to`` per one ``from`` (``=FX("USD","KRW")`` ~ 1450)."""

    def compute() -> Any:
        a, b = text(source).upper(), (text(target) or "KRW").upper()
        for code in (a, b):
            if code not in KNOWN_CURRENCIES:
                raise PortfolioError("FX", f"unknown currency {code!r} (expected e.g. USD, KRW)")
        if a == b:
            return 1.0
        want = Want(a + b, "FX")
        found, _, failed = (live or default_live()).lookup([want], waiter)
        return _quote_value(want, "price", found, failed)

    return guarded(compute)


# -- REBAL_TRADES and REBAL_DRIFT --------------------------------------------------------


def priced(inp: RangeInput, live: LiveQuotes, waiter: Waiter | None) -> Portfolio:
    """The portfolio with every missing price and FX rate from the cache.

    Raises :class:`Waiting` when some are being fetched, :class:`PortfolioError` naming the
    row when a ticker has no quote at all."""
    p = inp.portfolio
    first: dict[str, int] = {}
    for i, h in enumerate(p.holdings):
        first.setdefault(h.ticker, i)
    typed = {h.ticker: h.price for h in p.holdings if h.price is not None}
    wants = {
        Want(h.ticker, h.market.value): i
        for h, i in ((p.holdings[i], i) for i in first.values())
        if h.ticker not in typed
    }
    pairs = [c + p.base_currency for c in p.currencies() if c != p.base_currency]
    fx_wants = [Want(pair, "FX") for pair in pairs if pair not in p.fx]
    found, waiting, failed = live.lookup([*wants, *fx_wants], waiter)
    if waiting:
        raise Waiting([w.ticker for w in waiting])
    for want, bad in failed.items():
        where = inp.locate(f"holdings[{wants[want]}]") if want in wants else "Settings"
        why = bad.detail or bad.status.value
        hint = "type its price in the price column" if want in wants else f"add fx.{want.ticker}"
        raise PortfolioError(where, f"{want.ticker}: no quote ({why}); {hint}")
    prices: dict[str, float] = dict(typed)
    for want in wants:
        quote = found[want]
        holding = p.holdings[wants[want]]
        if quote.currency and quote.currency != holding.currency:
            raise PortfolioError(
                inp.locate(f"holdings[{wants[want]}]"),
                f"{want.ticker} is quoted in {quote.currency} but the row says {holding.currency}",
            )
        assert quote.price is not None, "the cache keeps priced quotes only"
        prices[want.ticker] = quote.price
    fx = dict(p.fx)
    for want in fx_wants:
        rate = found[want].price
        assert rate is not None
        fx[want.ticker] = rate
    holdings = tuple(replace(h, price=prices.get(h.ticker, h.price)) for h in p.holdings)
    return replace(p, holdings=holdings, fx=fx)


def _portfolio(
    holdings: object,
    targets: object,
    cash: object,
    settings: object,
    live: LiveQuotes | None,
    waiter: Waiter | None,
) -> tuple[RangeInput, Portfolio]:
    return _validated(read_ranges(holdings, targets, cash, settings), live, waiter)


def _validated(
    inp: RangeInput, live: LiveQuotes | None, waiter: Waiter | None
) -> tuple[RangeInput, Portfolio]:
    """``inp`` checked, priced from the cache, and checked again with its prices."""
    # Input mistakes first: a typo should show at once, not after the quotes arrive.
    validate(inp.portfolio, offline=False, locate=inp.locate)
    portfolio = priced(inp, live or default_live(), waiter)
    validate(portfolio, offline=True, locate=inp.locate)
    return inp, portfolio


_plans: dict[str, Plan] = {}
_plans_lock = threading.Lock()


def _plan_for(portfolio: Portfolio, planner: Callable[[Portfolio], Plan] | None) -> Plan:
    if planner is not None:
        return planner(portfolio)
    from xlrebalance.planner import plan as make_plan

    key = f"{id(make_plan)}:{portfolio!r}"
    with _plans_lock:
        known = _plans.get(key)
    if known is not None:
        return known
    result = make_plan(portfolio)
    with _plans_lock:
        while len(_plans) >= PLAN_MEMORY:
            _plans.pop(next(iter(_plans)))
        _plans[key] = result
    return result


def trades_table(
    holdings: object,
    targets: object,
    cash: object = None,
    settings: object = None,
    *,
    live: LiveQuotes | None = None,
    waiter: Waiter | None = None,
    planner: Callable[[Portfolio], Plan] | None = None,
) -> Any:
    """``=REBAL_TRADES(...)``: a header row, then one row per order (spills). Amounts are in
    each order's currency, named in the currency column."""

    def compute() -> Any:
        inp, portfolio = _portfolio(holdings, targets, cash, settings, live, waiter)
        result = _plan_for(portfolio, planner)
        rows: list[list[CellValue]] = [list(TRADE_HEADER["ko" if inp.korean else "en"])]
        for o in result.orders:
            quantity = int(o.quantity) if float(o.quantity).is_integer() else o.quantity
            rows.append(
                [o.account, o.ticker, o.side.value, quantity, o.price, o.currency, o.amount,
                 o.fees, o.taxes]
            )  # fmt: skip
        return rows

    return guarded(compute)


def summary_table(
    holdings: object,
    targets: object,
    cash: object = None,
    settings: object = None,
    *,
    live: LiveQuotes | None = None,
    waiter: Waiter | None = None,
    planner: Callable[[Portfolio], Plan] | None = None,
) -> Any:
    """``=REBAL_SUMMARY(...)``: the plan of ``=REBAL_TRADES()`` over the same ranges, as
    label/value rows: solver status and gap, drift, value and costs in the base currency,
    then one row per warning (spills)."""

    def compute() -> Any:
        inp, portfolio = _portfolio(holdings, targets, cash, settings, live, waiter)
        result = _plan_for(portfolio, planner)
        s = result.summary
        values: dict[str, CellValue] = {
            "solver": s.solver.status.value,
            "gap": s.solver.gap,
            "drift_before": s.drift_before,
            "drift_after": s.drift_after,
            "value_before": s.value_before,
            "value_after": s.value_after,
            "fees": s.fees_total,
            "taxes": s.taxes_total,
            "fx_cost": s.fx_cost_total,
        }
        lang = 1 if inp.korean else 0
        rows: list[list[CellValue]] = [[SUMMARY_LABELS[k][lang], values[k]] for k in SUMMARY_ROWS]
        rows.extend([SUMMARY_LABELS["warning"][lang], w] for w in result.warnings)
        return rows

    return guarded(compute)


def drift_value(
    holdings: object,
    targets: object,
    cash: object = None,
    *,
    live: LiveQuotes | None = None,
    waiter: Waiter | None = None,
) -> Any:
    """``=REBAL_DRIFT(...)``: sum of |weight - target| over tickers and cash (0 = on target)."""

    def compute() -> Any:
        _, p = _portfolio(holdings, targets, cash, None, live, waiter)
        value = valuation(p)
        if value.value <= 0:
            raise PortfolioError("Holdings", "the portfolio has no value (quantities and cash)")
        return value.drift

    return guarded(compute)


# -- EXPOSURE and PNL --------------------------------------------------------------------

EXPOSURE_VIEWS = ("company", "sector", "ticker", "summary")
EXPOSURE_HEADER: dict[str, dict[str, list[CellValue]]] = {
    "company": {"en": ["Company", "Weight", "Via"], "ko": ["기업", "실질 비중", "경로"]},
    "sector": {"en": ["Sector", "Weight"], "ko": ["섹터", "비중"]},
    "ticker": {
        "en": ["Ticker", "Weight", "Leverage", "Exposure", "Look-through"],
        "ko": ["종목코드", "비중", "레버리지", "노출", "분해 기준"],
    },
    "summary": {"en": ["Measure", "Value"], "ko": ["항목", "값"]},
}
PNL_HEADER: dict[str, list[CellValue]] = {
    "en": ["Account", "Ticker", "Quantity", "Average cost", "Price", "Currency", "Gain",
           "Gain (base)", "Return", "Take profit"],
    "ko": ["계좌", "종목코드", "수량", "평균 단가", "가격", "통화", "평가 손익",
           "평가 손익 (기준통화)", "수익률", "목표 수익률 도달"],
}  # fmt: skip


def _unplanned(
    holdings: object, cash: object, settings: object, live: LiveQuotes | None,
    waiter: Waiter | None,
) -> tuple[RangeInput, Portfolio]:  # fmt: skip
    """Holdings priced from the cache, without targets (exposure and P&L need none)."""
    from xlrebalance.model import CASH

    inp = read_ranges(holdings, None, cash, settings)
    return _validated(
        replace(inp, portfolio=replace(inp.portfolio, targets={CASH: 1.0})), live, waiter
    )


def exposure_table(
    holdings: object,
    by: object = None,
    cash: object = None,
    settings: object = None,
    *,
    live: LiveQuotes | None = None,
    waiter: Waiter | None = None,
) -> Any:
    """``=EXPOSURE(holdings, [by], [cash], [settings])``: look-through weights (spills).
    ``by``: company (default), sector, ticker or summary. Fund holdings come from the quote
    cache only (a Refresh or ``xlrebalance exposure`` fills it weekly): a cell never waits
    on the network for them, and funds not cached count as unknown."""

    def compute() -> Any:
        from xlrebalance.exposure.lookthrough import UNKNOWN_SECTOR, look_through
        from xlrebalance.quotes.funds import fund_holdings

        view = (text(by) or "company").lower()
        if view not in EXPOSURE_VIEWS:
            raise PortfolioError("by", f"expected one of {', '.join(EXPOSURE_VIEWS)}, got {view!r}")
        inp, portfolio = _unplanned(holdings, cash, settings, live, waiter)
        cache = (live or default_live()).cache
        funds = fund_holdings(portfolio, cache, None).holdings
        e = look_through(portfolio, funds)
        lang = "ko" if inp.korean else "en"
        rows: list[list[CellValue]] = [list(EXPOSURE_HEADER[view][lang])]
        if view == "company":
            for c in e.companies:
                rows.append([c.symbol, c.weight, ", ".join(t for t, _ in c.via)])
        elif view == "sector":
            for sector, weight in e.sectors.items():
                rows.append(["(not attributed)" if sector == UNKNOWN_SECTOR else sector, weight])
        elif view == "ticker":
            for p in e.positions:
                rows.append([p.ticker, p.weight, p.leverage.factor, p.exposure, p.basis])
        else:
            rows += [
                ["net", e.net],
                ["gross", e.gross],
                ["coverage", e.coverage],
                ["unknown", ", ".join(e.unknown) or "-"],
            ]
        return rows

    return guarded(compute)


def pnl_table(
    holdings: object,
    cash: object = None,
    settings: object = None,
    *,
    live: LiveQuotes | None = None,
    waiter: Waiter | None = None,
) -> Any:
    """``=PNL(holdings, [cash], [settings])``: unrealised gain per row (spills), then a total
    row in the base currency. Rows without an average cost show blanks, never a zero."""

    def compute() -> Any:
        from xlrebalance.pnl import pnl_report

        inp, portfolio = _unplanned(holdings, cash, settings, live, waiter)
        report = pnl_report(portfolio)
        lang = "ko" if inp.korean else "en"
        rows: list[list[CellValue]] = [list(PNL_HEADER[lang])]
        for p in report.positions:
            quantity = int(p.quantity) if float(p.quantity).is_integer() else p.quantity
            rows.append(
                [p.account, p.ticker, quantity, _blank(p.average_cost), _blank(p.price),
                 p.currency, _blank(p.gain), _blank(p.gain_base), _blank(p.ret),
                 p.take_profit_hit if p.take_profit is not None else ""]
            )  # fmt: skip
        t = report.total
        total = "합계" if lang == "ko" else "Total"
        rows.append(
            [total, "", "", "", "", report.base_currency, "", t.gain_base, _blank(t.ret), ""]
        )
        return rows

    return guarded(compute)


def _blank(value: float | None) -> CellValue:
    return "" if value is None else value
