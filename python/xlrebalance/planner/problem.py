"""The planning problem flattened into arrays: one row per holdings row ("position").

Everything the solvers need is computed here once from a validated :class:`Portfolio`: prices
in base currency, bounds from mode, locks and bands, fee and tax rates, cash per account and
currency after the contribution, and group caps. Values are in the base currency unless the
name says ``native``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from xlrebalance.errors import PortfolioError
from xlrebalance.model import CASH, Mode, Portfolio, Settings

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

FRACTIONAL_DIGITS = 6
"""Fractional quantities are whole multiples of 10**-6 shares."""


@dataclass(frozen=True)
class CapRule:
    """A group cap: ``sum(value of members) + cap * costs <= cap * total`` when ``reachable``.

    Members may be bought and sold within it (sell TQQQ, buy XLK while the group comes down to
    its cap). A group above its cap that no allowed plan can bring under it (mode, locks,
    bands, fees) is ``reachable=False``: then its value may not rise, ``sum(value of members
    after) <= start_value`` (buys only where sales in the group pay for them), and the plan
    warns."""

    name: str
    members: IntArray  # position indices
    cap: float
    reachable: bool
    start_value: float  # value of the members before trading, base currency


@dataclass(frozen=True)
class Problem:
    # positions
    account: IntArray
    ticker: IntArray
    currency: IntArray
    price_native: FloatArray
    unit: FloatArray  # base value of one share
    held: FloatArray
    lo: FloatArray  # most negative trade (a sale), <= 0
    hi: FloatArray  # largest buy, >= 0
    fee_rate: FloatArray
    fee_min_native: FloatArray
    tax_rate: FloatArray
    # tickers
    tickers: tuple[str, ...]
    target_value: FloatArray
    # cash
    accounts: tuple[str, ...]
    currencies: tuple[str, ...]
    rate: FloatArray  # base units per unit of each currency
    base: int  # index of the base currency
    cash_native: FloatArray  # (accounts, currencies), contribution included
    cash_target_value: float
    auto_fx: bool
    fx_spread: float
    # rules
    fractional: bool
    min_trade_value: float
    caps: tuple[CapRule, ...]
    total: float  # value of everything after the contribution, before trading: V0
    warnings: tuple[str, ...]
    # broker rounding and reserves: cash_native is what may be spent, this much less
    reserve_native: FloatArray  # (accounts, currencies): the reserve, as far as cash covers it
    withheld_native: FloatArray  # reserve + rounding margin taken out of cash_native
    margin_short: bool  # some account could not set the whole rounding margin aside
    # The most broker rounding can add to the plan's costs (base currency): a cap on the value
    # after costs holds with it, so rounded fees cannot lift a group over its cap.
    rounding_margin: float = 0.0

    @property
    def cap_room(self) -> float:
        """The value caps apply to: the total less the rounding margin, never below zero (on
        a book worth less than its margin, doing nothing must still keep every cap)."""
        return max(self.total - self.rounding_margin, 0.0)

    @property
    def size(self) -> int:
        return int(self.unit.shape[0])

    @property
    def step(self) -> float:
        return 10.0**-FRACTIONAL_DIGITS if self.fractional else 1.0


PLAUSIBLE_RATE = 0.05
"""Above this, a fee, tax or spread rate is more likely a percentage typed as a fraction
(0.25 meant as 0.25%) than a real charge: valid, planned as written, but said."""


def _implausible_rates(s: Settings) -> list[str]:
    rates = [(f"settings.fees.{m}.rate", fee.rate) for m, fee in s.fees.items()]
    rates += [(f"settings.sell_tax.{key}", rate) for key, rate in s.sell_tax.items()]
    rates.append(("settings.fx_spread", s.fx_spread))
    return [
        f"{field} is {rate:.2%} of every trade; if you meant {rate:.2f}%, write "
        f"{rate / 100:g} or {rate:g}%"
        for field, rate in rates
        if rate > PLAUSIBLE_RATE
    ]


def build_problem(portfolio: Portfolio, *, full_margin: bool = False) -> Problem:
    """Flatten a validated portfolio (prices and FX present) into a :class:`Problem`.

    The cash that may be spent leaves out each account's reserve and a rounding margin: the
    most broker rounding can add (one unit per fee and per tax a trade there may pay), so a
    plan stays above the reserve once fees are rounded. The margin comes out of cash on hand
    only as far as there is some, so that doing nothing stays possible; ``full_margin``
    takes all of it (trades must then earn it), for :func:`~xlrebalance.planner.plan` to
    retry with when the first plan would dip below after rounding."""
    s = portfolio.settings
    accounts = tuple(a.id for a in portfolio.accounts)
    account_of = {a: i for i, a in enumerate(accounts)}
    currencies = tuple(dict.fromkeys((portfolio.base_currency, *portfolio.currencies())))
    currency_of = {c: i for i, c in enumerate(currencies)}
    rate = np.array([portfolio.rate(c) for c in currencies], dtype=np.float64)
    tickers = portfolio.tickers()
    ticker_of = {t: i for i, t in enumerate(tickers)}
    holdings = portfolio.holdings
    n = len(holdings)

    price = np.empty(n)
    for i, h in enumerate(holdings):
        if h.price is None:
            raise PortfolioError(f"holdings[{i}].price", f"{h.ticker}: no price")
        price[i] = h.price
    cur = np.array([currency_of[h.currency] for h in holdings], dtype=np.int64)
    unit = price * rate[cur]
    held = np.array([h.quantity for h in holdings], dtype=np.float64)

    cash = np.zeros((len(accounts), len(currencies)))
    for a, account in enumerate(portfolio.accounts):
        for c, amount in account.cash.items():
            cash[a, currency_of[c]] += amount
    contribution_account = account_of[s.contribution_account or accounts[0]]
    for c, amount in s.contribution.items():
        cash[contribution_account, currency_of[c]] += amount

    total = float(unit @ held + (cash * rate).sum())
    if total <= 0:
        withdrawn = -sum(a * portfolio.rate(c) for c, a in s.contribution.items())
        if withdrawn > 0:
            largest = min(s.contribution, key=lambda c: s.contribution[c] * portfolio.rate(c))
            base = portfolio.base_currency
            said = f"{withdrawn:,.2f} {base}"
            if set(s.contribution) == {largest} and largest != base:
                # Said in the currency the field is in, its base value beside it.
                said = f"{-s.contribution[largest]:,.2f} {largest} ({said})"
            raise PortfolioError(
                f"settings.contribution.{largest}",
                f"a withdrawal of {said} is not less than the whole portfolio "
                f"({total + withdrawn:,.2f} {base})",
            )
        raise PortfolioError(
            "", "the portfolio has no value to rebalance (holdings and cash are 0)"
        )

    target = np.zeros(len(tickers))
    for t, w in portfolio.targets.items():
        if t != CASH:
            target[ticker_of[t]] = w
    target_value = target * total
    ticker = np.array([ticker_of[h.ticker] for h in holdings], dtype=np.int64)

    # Bounds: a sale never exceeds what is held; a buy never exceeds what the account could pay
    # with all its cash and all its sales (a loose bound that keeps the MILP finite).
    position_account = np.array([account_of[h.account] for h in holdings], dtype=np.int64)
    account_wealth = (cash * rate).sum(axis=1) + np.bincount(
        position_account, weights=unit * held, minlength=len(accounts)
    )
    budget = np.maximum(account_wealth[position_account], 0.0)
    if s.fractional:
        hi = np.floor(budget / unit * 10**FRACTIONAL_DIGITS) / 10**FRACTIONAL_DIGITS
    else:
        hi = np.floor(budget / unit)
    lo = -held.copy()
    if s.mode is Mode.BUY_ONLY:
        lo[:] = 0.0
    if s.mode is Mode.SELL_ONLY:
        hi[:] = 0.0

    ticker_value = np.bincount(ticker, weights=unit * held, minlength=len(tickers))
    warnings: list[str] = _implausible_rates(s)
    if s.band.absolute > 0 or s.band.relative > 0:
        off = np.abs(ticker_value / total - target)
        for k in range(len(tickers)):
            if off[k] <= s.band.width(target[k]) + 1e-12:
                frozen = ticker == k
                lo[frozen] = 0.0
                hi[frozen] = 0.0
    for i, h in enumerate(holdings):
        if h.locked:
            lo[i] = hi[i] = 0.0
    warnings.extend(_locked_empty_targets(portfolio))
    # A position whose whole value is below the minimum trade cannot be sold at all.
    lo[held * unit < s.min_trade_value] = 0.0

    fee_rate = np.array([s.fee(h.market).rate for h in holdings])
    fee_min = np.array([s.fee(h.market).min for h in holdings])
    tax_rate = np.array([s.tax_rate(h.market, h.kind) for h in holdings])

    caps = []
    for g in portfolio.groups:
        missing = [t for t in g.tickers if t not in ticker_of]
        if missing:
            warnings.append(f"group {g.name}: {', '.join(missing)} not in holdings")
        members = np.flatnonzero(
            np.isin(ticker, [ticker_of[t] for t in g.tickers if t in ticker_of])
        )
        group_target = sum(portfolio.targets.get(t, 0.0) for t in g.tickers)
        if group_target > g.max_weight + 1e-12:
            warnings.append(
                f"group {g.name}: targets add up to {group_target:.2%}, above its cap "
                f"{g.max_weight:.2%}; the cap wins"
            )
        value = float(unit[members] @ held[members])
        reachable = True
        if value > g.max_weight * total:
            floor_value = float(unit[members] @ (held[members] + lo[members]))
            if floor_value > g.max_weight * total:
                reachable = False
                warnings.append(
                    f"group {g.name} is at {value / total:.2%}, above its cap "
                    f"{g.max_weight:.2%}, and cannot be brought under it "
                    f"(mode {s.mode.value}, locked or in-band rows): it may not rise"
                )
        caps.append(CapRule(g.name, members.astype(np.int64), g.max_weight, reachable, value))

    reserve, withheld, short, margin = _withheld(portfolio, cash, currency_of, lo, hi, full_margin)
    return Problem(
        account=position_account,
        ticker=ticker,
        currency=cur,
        price_native=price,
        unit=unit,
        held=held,
        lo=lo,
        hi=hi,
        fee_rate=fee_rate,
        fee_min_native=fee_min,
        tax_rate=tax_rate,
        tickers=tickers,
        target_value=target_value,
        accounts=accounts,
        currencies=currencies,
        rate=rate,
        base=0,
        cash_native=cash - withheld,
        cash_target_value=portfolio.targets.get(CASH, 0.0) * total,
        auto_fx=s.auto_fx,
        fx_spread=s.fx_spread,
        fractional=s.fractional,
        min_trade_value=s.min_trade_value,
        caps=tuple(caps),
        total=total,
        warnings=tuple(warnings),
        reserve_native=reserve,
        withheld_native=withheld,
        margin_short=short,
        rounding_margin=float((margin * rate).sum()),
    )


def _locked_empty_targets(portfolio: Portfolio) -> list[str]:
    """A target on a ticker whose rows are all locked and hold nothing can never be met:
    most likely the lock was meant for another row, so the plan says so."""
    listed: set[str] = set()
    tradable: set[str] = set()  # tickers with a row that is unlocked or holds something
    for h in portfolio.holdings:
        listed.add(h.ticker)
        if not h.locked or h.quantity != 0:
            tradable.add(h.ticker)
    return [
        f"{ticker}: target {weight:.2%}, but its holdings rows are locked and hold nothing, "
        "so it is never bought (unlock it or move its target)"
        for ticker, weight in portfolio.targets.items()
        if weight > 0 and ticker in listed and ticker not in tradable
    ]


def without_margin(problem: Problem, trading: BoolArray) -> Problem:
    """``problem`` with only the positions in ``trading`` allowed to move and no rounding
    margin withheld (the reserve still is): for topping a finished plan up, where the fees
    as billed are checked trade by trade instead of set aside in advance."""
    return replace(
        problem,
        lo=np.where(trading, problem.lo, 0.0),
        hi=np.where(trading, problem.hi, 0.0),
        cash_native=problem.cash_native + problem.withheld_native - problem.reserve_native,
        withheld_native=problem.reserve_native.copy(),
        margin_short=False,
    )


def _withheld(
    portfolio: Portfolio,
    cash: FloatArray,
    currency_of: dict[str, int],
    lo: FloatArray,
    hi: FloatArray,
    full_margin: bool,
) -> tuple[FloatArray, FloatArray, bool, FloatArray]:
    """Reserve, what is withheld, whether some account could not withhold its whole margin,
    and the rounding margin itself, per account and currency (see :func:`build_problem`)."""
    s = portfolio.settings
    account_of = {a.id: i for i, a in enumerate(portfolio.accounts)}
    margin = np.zeros_like(cash)
    for i, h in enumerate(portfolio.holdings):
        if lo[i] == 0 and hi[i] == 0:
            continue  # cannot trade: pays nothing
        step = s.rounding(h.market).margin
        fee = s.fee(h.market)
        payments = int(fee.rate > 0 or fee.min > 0) + int(
            lo[i] < 0 and s.tax_rate(h.market, h.kind) > 0
        )
        margin[account_of[h.account], currency_of[h.currency]] += step * payments
    reserve = np.zeros_like(cash)
    for account, amounts in s.cash_reserve.items():
        for currency, amount in amounts.items():
            if currency in currency_of:
                a, c = account_of[account], currency_of[currency]
                reserve[a, c] = min(amount, max(float(cash[a, c]), 0.0))
    room = np.maximum(cash - reserve, 0.0)
    taken = margin if full_margin else np.minimum(margin, room)
    return reserve, reserve + taken, bool((taken < margin - 1e-12).any()), margin


def min_trade_quantity(problem: Problem, i: int) -> float:
    """Smallest non-zero quantity of position ``i`` that meets the minimum trade value."""
    if problem.min_trade_value <= 0:
        return problem.step
    raw = problem.min_trade_value / float(problem.unit[i])
    step = problem.step
    return max(step, math.ceil(raw / step - 1e-9) * step)
