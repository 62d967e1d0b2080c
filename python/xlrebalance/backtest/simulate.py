"""Simulation of one policy over a price history, each rebalance planned by our planner.

The portfolio's holdings rows (account x ticker) are the positions; cash is kept per account
and currency. On the first day every policy buys its targets with the starting capital; after
that the policy's check days decide whether the planner is asked for orders, which are then
filled at that day's close with the portfolio's real costs (fees with minimums, sell tax, FX
spread and automatic FX, whole shares unless fractional, caps, locks).

Prices: a ticker trades only on days it has a real close; valuation carries its last real close
forward. A ticker enters when its history starts (its target is spread over the others until
then); one whose history ends before the backtest does is sold at its last close.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from xlrebalance.backtest.history import (
    GAP_ROWS,
    Coverage,
    DateArray,
    FloatArray,
    PriceHistory,
    coverage,
    day_text,
    forward_fill,
)
from xlrebalance.backtest.metrics import Performance, performance
from xlrebalance.backtest.policy import Policy, check_days
from xlrebalance.errors import InfeasibleError, PortfolioError
from xlrebalance.model import (
    CASH,
    Account,
    Band,
    Group,
    Holding,
    Mode,
    Portfolio,
    Side,
)
from xlrebalance.planner import PlannerOptions
from xlrebalance.planner.session import PlanSession

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Rebalances plan with the planner's heuristic path (relaxation, rounding, repair, search),
# through a PlanSession per run: one HiGHS instance for every plan, and on books of at most 12
# movable positions every rounding scored at once instead of the ejection chains. The exact
# branch and bound costs ~0.4 s per call at 10 positions. Both are deterministic.
THOROUGH = PlannerOptions(exact=False)
# ``--fast``: no local search at all (a zero budget ends it before its first move), still
# deterministic; docs/backtest.md measures what it costs in drift and final value.
QUICK = PlannerOptions(exact=False, search_seconds=0.0)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BacktestConfig:
    capital: float | None = None  # base currency; None: the portfolio's value today
    risk_free: float = 0.0
    planner: PlannerOptions = THOROUGH


@dataclass(frozen=True)
class Market:
    """Everything the policies share: positions mapped onto history columns, prices filled
    forward for valuation, FX per day, entries, exits and gaps (with the notes saying so)."""

    portfolio: Portfolio
    dates: DateArray
    rows: tuple[int, ...]  # holdings indices that take part
    column: IntArray  # history column per taking-part row
    ticker: IntArray  # index into tickers per row
    tickers: tuple[str, ...]
    account: IntArray
    accounts: tuple[str, ...]
    currency: IntArray
    currencies: tuple[str, ...]
    value_price: FloatArray  # (days, tickers) last real close, native; NaN before the first
    live: BoolArray  # (days, tickers) a real close that day
    rates: FloatArray  # (days, currencies) base units per unit
    first: IntArray  # per ticker: row of its first close
    delisted_at: IntArray  # per ticker: row of its last close if it ends early, else -1
    dividends: FloatArray | None  # (days, tickers) cash per share
    targets: FloatArray  # per ticker, as in the portfolio
    cash_target: float
    capital: float
    capital_split: FloatArray  # (accounts, currencies) share of capital, sums to 1
    notes: tuple[str, ...]


@dataclass
class _Tally:
    checks: int = 0
    rebalances: int = 0
    traded: float = 0.0
    turnover: float = 0.0
    fees: float = 0.0
    taxes: float = 0.0
    fx_cost: float = 0.0
    narrow_checks: int = 0
    narrow_tickers: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)  # by shape, figures masked
    examples: dict[str, str] = field(default_factory=dict)  # first text of each shape
    statuses: Counter[str] = field(default_factory=Counter)
    planner_seconds: float = 0.0

    def note(self, text: str) -> None:
        """Count a planner warning; the same warning with other figures counts as one."""
        shape = _FIGURES.sub("#", text)
        self.warnings[shape] += 1
        self.examples.setdefault(shape, text)


_FIGURES = re.compile(r"\d[\d,]*(?:\.\d+)?%?|\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class PolicyResult:
    policy: Policy
    dates: DateArray
    values: FloatArray
    flows: FloatArray
    drift: FloatArray
    rebalance_days: tuple[str, ...]
    checks: int
    traded: float
    turnover: float  # sum over rebalances of one-way traded value / value that day
    fees: float
    taxes: float
    fx_cost: float
    performance: Performance
    warnings: tuple[str, ...]
    solver: Mapping[str, int]
    planner_seconds: float
    quantities: FloatArray  # at the end, per taking-part holdings row (Market.rows)

    @property
    def rebalances(self) -> int:
        """Days after the first on which anything traded (the first day's purchase is not a
        rebalance; nothing may trade on the first day when its capital buys no share)."""
        first = day_text(self.dates[0])
        return sum(1 for day in self.rebalance_days if day != first)

    @property
    def years(self) -> float:
        return float((self.dates[-1] - self.dates[0]).astype(np.int64)) / 365.25


def prepare(portfolio: Portfolio, history: PriceHistory, capital: float | None) -> Market:
    """Map the portfolio onto the history; raise when nothing can be backtested."""
    if len(history.dates) < 2:
        raise PortfolioError("prices", "the price history has fewer than two days in the range")
    base = portfolio.base_currency
    notes: list[str] = list(history.notes)
    wanted = portfolio.tickers()
    column_of = {t: c for c, t in enumerate(history.tickers)}
    missing = [t for t in wanted if t not in column_of]
    if len(missing) == len(wanted):
        raise PortfolioError(
            "prices", f"no price history for any ticker of the portfolio ({', '.join(missing)})"
        )
    for t in missing:
        notes.append(f"{t}: no price history; left out (its target is spread over the others)")
    tickers = tuple(t for t in wanted if t in column_of)
    index_of = {t: k for k, t in enumerate(tickers)}
    rows = tuple(i for i, h in enumerate(portfolio.holdings) if h.ticker in index_of)
    holdings = [portfolio.holdings[i] for i in rows]
    accounts = tuple(a.id for a in portfolio.accounts)
    currencies = tuple(dict.fromkeys((base, *portfolio.currencies())))

    # FX: every currency needs a rate; the backtest starts when all of them have one.
    rates = np.ones((len(history.dates), len(currencies)))
    for c, currency in enumerate(currencies[1:], start=1):
        series = history.fx.get(currency)
        if series is None:
            fixed = portfolio.fx.get(currency + base)
            raise PortfolioError(
                f"prices.fx.{currency}{base}",
                f"no {currency}{base} history"
                + (f" (the file's fixed rate {fixed:g} is not used for the past)" if fixed else ""),
            )
        rates[:, c] = forward_fill(series)
    start = 0
    if currencies[1:]:
        known = ~np.isnan(rates).any(axis=1)
        if not known.any():
            raise PortfolioError("prices.fx", "no day has every FX rate the portfolio needs")
        start = int(np.argmax(known))
        if start > 0:
            notes.append(
                f"the backtest starts on {day_text(history.dates[start])}, the first day with "
                "every FX rate"
            )

    columns = np.array([column_of[t] for t in tickers], dtype=np.int64)
    opening = _first_full_day(history.closes[start:, columns])
    if opening > 0:
        start += opening
        notes.append(
            f"the backtest starts on {day_text(history.dates[start])}, the first day with a "
            "close of every ticker that trades in its first week (earlier rows: a market closed)"
        )
    if start >= len(history.dates) - 1:
        raise PortfolioError("prices", "the price history has fewer than two days in the range")
    closes = history.closes[start:, columns]
    dates = history.dates[start:]
    rates = rates[start:]
    live: BoolArray = ~np.isnan(closes)
    markets = {t: h.market.value for h in holdings for t in (h.ticker,)}
    by_market: dict[str, list[int]] = {}
    for k, t in enumerate(tickers):
        by_market.setdefault(markets[t], []).append(k)
    spans: dict[int, Coverage] = {}
    trading: dict[str, BoolArray] = {}  # rows its market traded: a peer's close or a session
    for name, cols in by_market.items():
        opened = _open_days(name, dates)
        trading[name] = np.asarray(live[:, cols].any(axis=1), dtype=bool)
        if opened is not None:
            trading[name] |= opened
        found = coverage(closes[:, cols], range(len(cols)), opened)
        for k, span in zip(cols, found, strict=True):
            spans[k] = span
    first = np.full(len(tickers), -1, dtype=np.int64)
    delisted = np.full(len(tickers), -1, dtype=np.int64)
    for k, t in enumerate(tickers):
        span = spans[k]
        if span.first is None:
            notes.append(f"{t}: no close in the backtest's range; left out")
            continue
        first[k] = span.first
        if span.first > 0:
            notes.append(
                f"{t}: enters on {day_text(dates[span.first])} when its history starts "
                "(until then its target is spread over the others)"
            )
        assert span.last is not None
        # The only ticker of its market has no peer that goes on trading: the exchange's
        # sessions say its history ended.
        if int(trading[markets[t]][span.last + 1 :].sum()) > GAP_ROWS:
            delisted[k] = span.last
            notes.append(
                f"{t}: history ends on {day_text(dates[span.last])} (delisted or renamed?); "
                "sold at that close, then left out"
            )
        for a, b in span.gaps:
            notes.append(
                f"{t}: history gap from {day_text(dates[a])} to {day_text(dates[b])} "
                f"({b - a + 1} trading days): valued at its last close, not traded until it "
                "trades again"
            )
    if (first < 0).all():
        raise PortfolioError("prices", "no ticker of the portfolio has a close in the range")
    value_price = forward_fill(closes)
    dividends = None
    if history.dividends is not None:
        dividends = np.nan_to_num(history.dividends[start:, columns])

    targets = np.array([portfolio.targets.get(t, 0.0) for t in tickers])
    total_now, split = _capital_split(portfolio, holdings, accounts, currencies, closes)
    return Market(
        portfolio=portfolio,
        dates=dates,
        rows=rows,
        column=np.arange(len(tickers), dtype=np.int64)[[index_of[h.ticker] for h in holdings]],
        ticker=np.array([index_of[h.ticker] for h in holdings], dtype=np.int64),
        tickers=tickers,
        account=np.array([accounts.index(h.account) for h in holdings], dtype=np.int64),
        accounts=accounts,
        currency=np.array([currencies.index(h.currency) for h in holdings], dtype=np.int64),
        currencies=currencies,
        value_price=value_price,
        live=live,
        rates=rates,
        first=first,
        delisted_at=delisted,
        dividends=dividends,
        targets=targets,
        cash_target=portfolio.targets.get(CASH, 0.0),
        capital=capital if capital is not None else total_now,
        capital_split=split,
        notes=tuple(notes),
    )


def _first_full_day(closes: FloatArray) -> int:
    """The row on which the backtest can buy its targets: the first close of every ticker
    whose history starts within :data:`GAP_ROWS` rows of the earliest one. A row where one
    market was closed (a holiday of one exchange, an FX-only row) would otherwise leave its
    tickers out of the first purchase, and a buy-and-hold policy would never buy them."""
    live = ~np.isnan(closes)
    firsts = [int(np.argmax(col)) for col in live.T if col.any()]
    if not firsts:
        return 0
    earliest = min(firsts)
    return max(f for f in firsts if f <= earliest + GAP_ROWS)


def _open_days(market: str, dates: DateArray) -> BoolArray | None:
    """Rows on which the market's exchange was open (exchange-calendars with our overlay)."""
    try:
        from xlrebalance.backtest.calendars import sessions
    except ImportError:  # pragma: no cover - exchange-calendars is a dependency
        return None
    first, last = dates[0].astype(object), dates[-1].astype(object)
    return np.isin(dates, sessions(market, first, last))


def _capital_split(
    portfolio: Portfolio,
    holdings: list[Holding],
    accounts: tuple[str, ...],
    currencies: tuple[str, ...],
    closes: FloatArray,
) -> tuple[float, FloatArray]:
    """Today's value of the portfolio and how it divides over accounts and currencies (the
    backtest starts with that much cash, divided the same way). Prices and FX come from the
    file, else from the history's latest closes."""
    last = forward_fill(closes)[-1]
    tickers = list(dict.fromkeys(h.ticker for h in holdings))
    split = np.zeros((len(accounts), len(currencies)))

    def rate(currency: str) -> float:
        try:
            return portfolio.rate(currency)
        except PortfolioError:
            return math.nan

    for h in holdings:
        price = h.price if h.price is not None else float(last[tickers.index(h.ticker)])
        split[accounts.index(h.account), currencies.index(h.currency)] += (
            h.quantity * price * rate(h.currency)
        )
    for account in portfolio.accounts:
        for currency, amount in account.cash.items():
            split[accounts.index(account.id), currencies.index(currency)] += amount * rate(currency)
    split = np.nan_to_num(split)
    total = float(split.sum())
    if total <= 0:
        split[0, 0] = 1.0
        return 0.0, split
    return total, split / total


def _band_width(band: Band, target: FloatArray) -> FloatArray:
    width = np.full(target.shape, np.inf)
    if band.absolute > 0:
        width = np.minimum(width, band.absolute)
    if band.relative > 0:
        width = np.minimum(width, band.relative * target)
    return np.where(np.isinf(width), 0.0, width)


def simulate(
    market: Market,
    policy: Policy,
    config: BacktestConfig | None = None,
    progress: Progress | None = None,
) -> PolicyResult:
    config = config or BacktestConfig()
    m = market
    if m.capital <= 0:
        raise PortfolioError(
            "--capital", "the portfolio is worth 0 today: give the starting capital"
        )
    p = m.portfolio
    n_days = len(m.dates)
    n_rows = len(m.rows)
    quantity = np.zeros(n_rows)
    cash = m.capital_split * m.capital / m.rates[0][None, :]
    values = np.zeros(n_days)
    flows = np.zeros(n_days)
    drift = np.zeros(n_days)
    checks = check_days(m.dates, policy.check, policy.day)
    tally = _Tally()
    rebalance_days: list[str] = []
    contribution_cell: tuple[int, int] | None = None
    if policy.contribution is not None:
        currency = policy.contribution[1]
        if currency not in m.currencies:
            raise PortfolioError(
                f"--policy {policy.name}",
                f"{currency} is not a currency of the portfolio ({', '.join(m.currencies)})",
            )
        account = p.settings.contribution_account or m.accounts[0]
        contribution_cell = (m.accounts.index(account), m.currencies.index(currency))
    active = np.zeros(len(m.tickers), dtype=bool)
    one_hot = np.zeros((n_rows, len(m.tickers)))
    one_hot[np.arange(n_rows), m.ticker] = 1.0
    events = _event_days(m, checks)
    session = PlanSession(config.planner)  # one per run: the same book plan after plan
    last_report = time.monotonic()
    trigger = policy.band is not None and not policy.per_position
    plain = _plain_checks(m, checks) if trigger and contribution_cell is None else None
    j = 0
    while j < len(events):
        d = events[j]
        rate = m.rates[d]
        active |= m.first == d
        if m.dividends is not None:
            paid = m.dividends[d, m.ticker] * quantity
            if paid.any():
                np.add.at(cash, (m.account, m.currency), paid)
        if contribution_cell is not None and checks[d]:
            assert policy.contribution is not None
            cash[contribution_cell] += policy.contribution[0]
            flows[d] = policy.contribution[0] * rate[contribution_cell[1]]
        for k in np.flatnonzero(m.delisted_at == d).tolist():
            _liquidate(m, k, d, quantity, cash, tally)
            active[k] = False
        row_unit = np.nan_to_num(m.value_price[d, m.ticker]) * rate[m.currency]
        targets = _effective_targets(m, active)
        trade = d == 0
        if d > 0 and checks[d]:
            tally.checks += 1
            trade = (
                policy.band is None
                or policy.per_position
                or _outside_band(m, policy.band, targets, quantity, cash, rate, row_unit, d, tally)
            )
        if trade:
            before = float(quantity @ row_unit + (cash * rate).sum())
            if _rebalance(m, policy, session, d, d == 0, quantity, cash, targets, tally, before):
                rebalance_days.append(day_text(m.dates[d]))
        if plain is not None and policy.band is not None:
            # Band checks on days where nothing else happens: all of them at once, up to the
            # first that trades (the loop takes that one as before).
            j += _quiet_checks(m, policy.band, targets, quantity, cash, events, j, plain, tally)
        end = events[j + 1] if j + 1 < len(events) else n_days
        _value(m, quantity, cash, targets, one_hot, d, end, values, drift)
        j += 1
        if progress is not None and time.monotonic() - last_report > 0.2:
            progress(end, n_days)
            last_report = time.monotonic()
    if progress is not None:
        progress(n_days, n_days)
    warnings = [
        tally.examples[w] + (f" ({n} times; the figures are from the first)" if n > 1 else "")
        for w, n in tally.warnings.items()
    ]
    if tally.narrow_checks:
        names = ", ".join(t for t, _ in tally.narrow_tickers.most_common(5))
        more = len(tally.narrow_tickers) - 5
        warnings.append(
            f"the band is narrower than one share of {names}"
            + (f" and {more} more" if more > 0 else "")
            + f" on {tally.narrow_checks} of {tally.checks} checks: there it was widened to one "
            "share, so whole-share rounding does not trigger trades (no churn)"
        )
    return PolicyResult(
        policy=policy,
        dates=m.dates,
        values=values,
        flows=flows,
        drift=drift,
        rebalance_days=tuple(rebalance_days),
        checks=tally.checks,
        traded=tally.traded,
        turnover=tally.turnover,
        fees=tally.fees,
        taxes=tally.taxes,
        fx_cost=tally.fx_cost,
        performance=performance(m.dates, values, flows, m.capital, config.risk_free),
        warnings=tuple(warnings),
        solver=dict(tally.statuses),
        planner_seconds=tally.planner_seconds,
        quantities=quantity,
    )


def _event_days(m: Market, checks: BoolArray) -> list[int]:
    """Days on which something can change: between them holdings and cash stand still."""
    marks = checks.copy()
    marks[0] = True
    marks[m.first[m.first >= 0]] = True
    marks[m.delisted_at[m.delisted_at >= 0]] = True
    if m.dividends is not None:
        marks |= m.dividends.any(axis=1)
    return [int(d) for d in np.flatnonzero(marks)]


def _value(
    m: Market,
    quantity: FloatArray,
    cash: FloatArray,
    targets: FloatArray,
    one_hot: FloatArray,
    start: int,
    end: int,
    values: FloatArray,
    drift: FloatArray,
) -> None:
    """Value and drift of unchanged holdings on days ``start`` to ``end - 1``."""
    prices = np.nan_to_num(m.value_price[start:end][:, m.ticker])
    rates = m.rates[start:end]
    row_values = prices * rates[:, m.currency] * quantity
    if _one_row_per_ticker(m):
        # The same sums without a matrix product: multithreaded BLAS on small products is
        # slow on a busy machine (19 ms against 1.4 ms single-threaded at 21 x 500 x 500).
        held = np.zeros((end - start, len(m.tickers)))
        held[:, m.ticker] = row_values
    else:
        held = row_values @ one_hot
    cash_value = rates @ cash.sum(axis=0)
    total = held.sum(axis=1) + cash_value
    values[start:end] = total
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.abs(held / total[:, None] - targets).sum(axis=1) + np.abs(
            cash_value / total - (1.0 - float(targets.sum()))
        )
    drift[start:end] = np.where(total > 0, off, 0.0)


def _one_row_per_ticker(m: Market) -> bool:
    return len(np.unique(m.ticker)) == len(m.ticker)


def _effective_targets(m: Market, active: BoolArray) -> FloatArray:
    """Targets of tickers without prices yet (or any more) spread over the active ones."""
    targets = np.where(active, m.targets, 0.0)
    stock = 1.0 - m.cash_target
    held = float(targets.sum())
    if held <= 0:
        return targets
    return targets * (stock / held)


def _outside_band(
    m: Market,
    band: Band,
    targets: FloatArray,
    quantity: FloatArray,
    cash: FloatArray,
    rate: FloatArray,
    row_unit: FloatArray,
    d: int,
    tally: _Tally,
) -> bool:
    total = float(quantity @ row_unit + (cash * rate).sum())
    if total <= 0:
        return False
    held = np.bincount(m.ticker, weights=quantity * row_unit, minlength=len(m.tickers))
    one_share = np.zeros(len(m.tickers))
    np.maximum.at(one_share, m.ticker, row_unit)
    width = _band_width(band, targets) * total
    narrow = (width < one_share) & (targets > 0)
    if narrow.any():
        tally.narrow_checks += 1
        tally.narrow_tickers.update(m.tickers[k] for k in np.flatnonzero(narrow).tolist())
    # Whole shares: a position one share off target is as close as it can get.
    if not m.portfolio.settings.fractional:
        width = np.maximum(width, one_share)
    off = np.abs(held - targets * total) > width + 1e-9 * total
    return bool((off & m.live[d]).any())


QUIET_BLOCK = 64
"""Band checks evaluated together at most (most blocks end early: a band trades)."""


def _plain_checks(m: Market, checks: BoolArray) -> BoolArray:
    """Days that are only a check: no entry, delisting or dividend."""
    plain = checks.copy()
    plain[0] = False
    plain[m.first[m.first >= 0]] = False
    plain[m.delisted_at[m.delisted_at >= 0]] = False
    if m.dividends is not None:
        plain &= ~m.dividends.any(axis=1)
    return plain


def _quiet_checks(
    m: Market,
    band: Band,
    targets: FloatArray,
    quantity: FloatArray,
    cash: FloatArray,
    events: list[int],
    j: int,
    plain: BoolArray,
    tally: _Tally,
) -> int:
    """How many of the events after ``events[j]`` are plain band checks that do not trade
    (counted as :func:`_outside_band` counts them); the one that trades is left to the loop."""
    skipped = 0
    while True:
        start = j + 1 + skipped
        block = events[start : start + QUIET_BLOCK]
        run = 0
        while run < len(block) and plain[block[run]]:
            run += 1
        if run == 0:
            return skipped
        days = np.array(block[:run])
        outside = _outside_band_days(m, band, targets, quantity, cash, days, tally)
        skipped += outside
        if outside < run:
            return skipped


def _outside_band_days(
    m: Market,
    band: Band,
    targets: FloatArray,
    quantity: FloatArray,
    cash: FloatArray,
    days: IntArray,
    tally: _Tally,
) -> int:
    """:func:`_outside_band` for each of ``days`` with the same holdings: the number of days
    before the first that trades (all of them when none does); those days are tallied."""
    n_tickers = len(m.tickers)
    rates = m.rates[days]
    row_unit = np.nan_to_num(m.value_price[days][:, m.ticker]) * rates[:, m.currency]
    total = row_unit @ quantity + (cash[None, :, :] * rates[:, None, :]).sum(axis=(1, 2))
    held = np.zeros((len(days), n_tickers))
    one_share = np.zeros((len(days), n_tickers))
    for r, k in enumerate(m.ticker.tolist()):
        held[:, k] += quantity[r] * row_unit[:, r]
        one_share[:, k] = np.maximum(one_share[:, k], row_unit[:, r])
    width = _band_width(band, targets)[None, :] * total[:, None]
    narrow = (width < one_share) & (targets > 0)[None, :]
    if not m.portfolio.settings.fractional:
        width = np.maximum(width, one_share)
    off = np.abs(held - targets[None, :] * total[:, None]) > width + 1e-9 * total[:, None]
    trades = (off & m.live[days]).any(axis=1) & (total > 0)
    first = int(np.argmax(trades)) if trades.any() else len(days)
    counted = narrow[:first] & (total[:first] > 0)[:, None]
    tally.checks += first
    tally.narrow_checks += int(counted.any(axis=1).sum())
    # In the order the day-by-day check would have met them (most_common breaks ties so).
    seen = np.flatnonzero(counted.any(axis=0))
    order = sorted(seen.tolist(), key=lambda k: (int(np.argmax(counted[:, k])), k))
    for k in order:
        tally.narrow_tickers[m.tickers[k]] += int(counted[:, k].sum())
    return first


def _rebalance(
    m: Market,
    policy: Policy,
    session: PlanSession,
    d: int,
    initial: bool,
    quantity: FloatArray,
    cash: FloatArray,
    targets: FloatArray,
    tally: _Tally,
    value_before: float,
) -> bool:
    """Plan with our planner on day ``d`` and fill its orders; True when anything traded."""
    p = m.portfolio
    rate = m.rates[d]
    holdings: list[Holding] = []
    places: list[int] = []
    for r, i in enumerate(m.rows):
        k = int(m.ticker[r])
        if targets[k] <= 0 and quantity[r] == 0:
            continue  # not (yet / any more) in the backtest
        h = p.holdings[i]
        price = float(m.value_price[d, k])
        if math.isnan(price):
            continue
        holdings.append(
            replace(
                h,
                quantity=float(quantity[r]),
                price=price,
                locked=(h.locked and not initial) or not bool(m.live[d, k]),
            )
        )
        places.append(r)
    if not holdings:
        return False
    present = {h.ticker for h in holdings}
    goal = {t: float(targets[k]) for k, t in enumerate(m.tickers) if t in present}
    goal[CASH] = max(0.0, 1.0 - sum(goal.values()))
    settings = p.settings
    mode = Mode.BUY_ONLY if policy.buy_only else Mode.REBALANCE
    band = Band()
    if not initial and policy.own:
        band = settings.band
    elif not initial and policy.per_position and policy.band is not None:
        band = policy.band
    settings = replace(
        settings,
        band=band,
        mode=settings.mode if policy.own and not initial else mode,
        contribution={},
        contribution_account=None,
    )
    groups = tuple(
        Group(g.name, tuple(t for t in g.tickers if t in present), g.max_weight)
        for g in p.groups
        if any(t in present for t in g.tickers)
    )
    accounts = tuple(
        Account(
            a,
            {c: max(0.0, float(cash[x, y])) for y, c in enumerate(m.currencies) if cash[x, y]},
        )
        for x, a in enumerate(m.accounts)
    )
    fx = {c + p.base_currency: float(rate[y]) for y, c in enumerate(m.currencies) if y > 0}
    book = Portfolio(
        base_currency=p.base_currency,
        accounts=accounts,
        holdings=tuple(holdings),
        targets=goal,
        fx=fx,
        groups=groups,
        settings=settings,
    )
    started = time.perf_counter()
    try:
        result = session.plan(book)
    except (InfeasibleError, PortfolioError) as exc:
        tally.note(f"no plan on {day_text(m.dates[d])}: {exc}")
        return False
    finally:
        tally.planner_seconds += time.perf_counter() - started
    tally.statuses[result.summary.solver.status.value] += 1
    for w in result.warnings:
        tally.note(w)
    if not result.orders:
        return False
    where = {(h.account, h.ticker): places[j] for j, h in enumerate(holdings)}
    traded = 0.0
    for order in result.orders:
        r = where[(order.account, order.ticker)]
        quantity[r] += order.quantity if order.side is Side.BUY else -order.quantity
        traded += order.amount * float(rate[m.currencies.index(order.currency)])
    cash[:] = 0.0
    for x, a in enumerate(m.accounts):
        for currency, amount in result.summary.cash_after.get(a, {}).items():
            cash[x, m.currencies.index(currency)] = amount
    s = result.summary
    tally.rebalances += 1
    tally.traded += traded
    if not initial:
        tally.turnover += traded / 2 / value_before if value_before > 0 else 0.0
    tally.fees += s.fees_total
    tally.taxes += s.taxes_total
    tally.fx_cost += s.fx_cost_total
    return True


def _liquidate(
    m: Market, k: int, d: int, quantity: FloatArray, cash: FloatArray, tally: _Tally
) -> None:
    """Sell every share of ticker ``k`` at its last close (its history ends on day ``d``)."""
    p = m.portfolio
    price = float(m.value_price[d, k])
    rate = m.rates[d]
    for r in np.flatnonzero((m.ticker == k) & (quantity > 0)).tolist():
        h = p.holdings[m.rows[r]]
        amount = float(quantity[r]) * price
        fee = p.settings.fee(h.market)
        fees = max(fee.rate * amount, fee.min)
        taxes = p.settings.tax_rate(h.market, h.kind) * amount
        y = int(m.currency[r])
        quantity[r] = 0.0
        if amount - fees - taxes < 0:
            # Selling would cost more than it brings (a minimum fee): the account's cash must
            # not go below zero, so the shares are written off instead.
            tally.note(
                f"{m.tickers[k]}: the sale at its last close ({amount:,.2f} {h.currency}) would "
                f"not pay its fee and tax ({fees + taxes:,.2f}); written off at zero"
            )
            continue
        cash[int(m.account[r]), y] += amount - fees - taxes
        tally.traded += amount * float(rate[y])
        tally.fees += fees * float(rate[y])
        tally.taxes += taxes * float(rate[y])
