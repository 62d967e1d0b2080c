"""Profit and loss: unrealised gains per holdings row and account, the gains a plan's sales
would realise at average cost, and an estimate of the Korean tax on overseas capital gains.

Gains are in each row's own currency and, for totals, in the base currency at today's FX
rate. Korea taxes a resident's net gains on overseas shares per calendar year at 22% (20%
national plus 2% local) above a 2,500,000 KRW deduction, losses offsetting gains within the
year; the law converts costs at the rate of the day they were bought, which a workbook does
not know, so this is an estimate and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from xlrebalance.model import Market, Plan, Portfolio, Side

OVERSEAS_GAINS_TAX_RATE = 0.22
OVERSEAS_GAINS_DEDUCTION_KRW = 2_500_000.0
ESTIMATE_NOTE = (
    "estimate: 22% of the year's net overseas gains above 2,500,000 KRW, costs at today's FX "
    "rate (the law uses the rate of each purchase day); not tax advice"
)


@dataclass(frozen=True)
class PositionPnl:
    account: str
    ticker: str
    currency: str
    quantity: float
    average_cost: float | None
    price: float | None
    cost: float | None  # native
    value: float | None  # native
    gain: float | None  # native
    gain_base: float | None
    cost_base: float | None
    value_base: float | None
    ret: float | None  # price / average cost - 1
    take_profit: float | None
    take_profit_hit: bool


@dataclass(frozen=True)
class AccountPnl:
    account: str
    cost_base: float  # rows with a known average cost only
    value_base: float  # the same rows
    gain_base: float
    ret: float | None
    rows_without_cost: int


@dataclass(frozen=True)
class RealisedSale:
    account: str
    ticker: str
    currency: str
    quantity: float
    proceeds: float  # native, after fees and taxes
    cost: float | None  # native, at average cost
    gain: float | None  # native
    gain_base: float | None
    overseas: bool


@dataclass(frozen=True)
class TaxEstimate:
    earlier_gains: float  # KRW, this year's overseas gains before the plan
    plan_gains: float  # KRW, net overseas gains of the plan's sales
    taxable: float  # KRW, after the deduction, with the plan
    tax_before: float
    tax_after: float
    note: str = ESTIMATE_NOTE

    @property
    def due_to_plan(self) -> float:
        """Extra tax the plan's sales cause (negative: its losses lower the year's tax)."""
        return self.tax_after - self.tax_before


@dataclass(frozen=True)
class PnlReport:
    base_currency: str
    positions: tuple[PositionPnl, ...]
    accounts: tuple[AccountPnl, ...]
    total: AccountPnl
    sales: tuple[RealisedSale, ...]
    tax: TaxEstimate | None  # None when the base currency is not KRW (not a Korean book)

    @property
    def take_profit_rows(self) -> tuple[PositionPnl, ...]:
        return tuple(p for p in self.positions if p.take_profit_hit)


def overseas_gains_tax(gains_krw: float) -> float:
    """Tax on a year's net overseas gains (KRW): 22% above the 2,500,000 KRW deduction."""
    return OVERSEAS_GAINS_TAX_RATE * max(0.0, gains_krw - OVERSEAS_GAINS_DEDUCTION_KRW)


def estimate_tax(earlier_gains: float, plan_gains: float) -> TaxEstimate:
    year = earlier_gains + plan_gains
    return TaxEstimate(
        earlier_gains=earlier_gains,
        plan_gains=plan_gains,
        taxable=max(0.0, year - OVERSEAS_GAINS_DEDUCTION_KRW),
        tax_before=overseas_gains_tax(earlier_gains),
        tax_after=overseas_gains_tax(year),
    )


def pnl_report(portfolio: Portfolio, plan: Plan | None = None) -> PnlReport:
    """Unrealised P&L of ``portfolio`` and, with ``plan``, what its sales would realise."""
    positions = tuple(_position(portfolio, i) for i in range(len(portfolio.holdings)))
    accounts = tuple(
        _account_total(a.id, [p for p in positions if p.account == a.id])
        for a in portfolio.accounts
    )
    total = _account_total("", list(positions))
    sales = realised_sales(portfolio, plan) if plan is not None else ()
    tax = None
    if portfolio.base_currency == "KRW":
        plan_gains = sum(s.gain_base for s in sales if s.overseas and s.gain_base is not None)
        tax = estimate_tax(portfolio.settings.realised_gains_this_year, plan_gains)
    return PnlReport(portfolio.base_currency, positions, accounts, total, sales, tax)


def realised_sales(portfolio: Portfolio, plan: Plan) -> tuple[RealisedSale, ...]:
    """Each sale of ``plan`` with its gain at the row's average cost (unknown without one)."""
    rows = {(h.account, h.ticker): h for h in portfolio.holdings}
    out = []
    for order in plan.orders:
        if order.side is not Side.SELL:
            continue
        h = rows[(order.account, order.ticker)]
        proceeds = order.amount - order.fees - order.taxes
        cost = None if h.average_cost is None else h.average_cost * order.quantity
        gain = None if cost is None else proceeds - cost
        out.append(
            RealisedSale(
                account=order.account,
                ticker=order.ticker,
                currency=order.currency,
                quantity=order.quantity,
                proceeds=proceeds,
                cost=cost,
                gain=gain,
                gain_base=None if gain is None else gain * portfolio.rate(order.currency),
                overseas=h.market is not Market.KR,
            )
        )
    return tuple(out)


def _position(portfolio: Portfolio, i: int) -> PositionPnl:
    h = portfolio.holdings[i]
    known = h.average_cost is not None and h.price is not None
    cost = h.average_cost * h.quantity if h.average_cost is not None else None
    value = h.price * h.quantity if h.price is not None else None
    gain = value - cost if known and value is not None and cost is not None else None
    ret = None
    if known and h.average_cost and h.price is not None:
        ret = h.price / h.average_cost - 1.0
    rate = portfolio.rate(h.currency)
    hit = h.take_profit is not None and ret is not None and h.quantity > 0 and ret >= h.take_profit
    return PositionPnl(
        account=h.account,
        ticker=h.ticker,
        currency=h.currency,
        quantity=h.quantity,
        average_cost=h.average_cost,
        price=h.price,
        cost=cost,
        value=value,
        gain=gain,
        gain_base=None if gain is None else gain * rate,
        cost_base=None if cost is None else cost * rate,
        value_base=None if value is None else value * rate,
        ret=ret,
        take_profit=h.take_profit,
        take_profit_hit=hit,
    )


def _account_total(account: str, rows: list[PositionPnl]) -> AccountPnl:
    """Totals over the rows whose average cost is known (the others are counted)."""
    cost = value = 0.0
    missing = 0
    for p in rows:
        if p.cost_base is None or p.value_base is None or p.gain_base is None:
            missing += p.quantity > 0
            continue
        cost += p.cost_base
        value += p.value_base
    gain = value - cost
    return AccountPnl(account, cost, value, gain, gain / cost if cost > 0 else None, missing)
