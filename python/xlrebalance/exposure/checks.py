"""Exposure limits and take-profit targets checked against a plan: warnings, not constraints.

The planner knows tickers, not what funds hold; these checks run beside it, on the holdings
before the orders and after them, and add a line to the plan's warnings for each limit broken
and each row past its take-profit return.
"""

from __future__ import annotations

from collections.abc import Mapping

from xlrebalance.exposure.lookthrough import (
    Exposure,
    FundHoldings,
    limit_breaches,
    look_through,
    ticker_values,
)
from xlrebalance.model import Plan, Portfolio, Side
from xlrebalance.pnl import pnl_report


def quantities_after(portfolio: Portfolio, plan: Plan) -> list[float]:
    """Each holdings row's quantity once ``plan``'s orders are filled."""
    row = {(h.account, h.ticker): i for i, h in enumerate(portfolio.holdings)}
    quantities = [h.quantity for h in portfolio.holdings]
    for order in plan.orders:
        sign = 1.0 if order.side is Side.BUY else -1.0
        quantities[row[(order.account, order.ticker)]] += sign * order.quantity
    return quantities


def exposure_after(portfolio: Portfolio, plan: Plan, funds: Mapping[str, FundHoldings]) -> Exposure:
    values, _ = ticker_values(portfolio, quantities_after(portfolio, plan))
    cash = sum(
        amount * portfolio.rate(currency)
        for balances in plan.summary.cash_after.values()
        for currency, amount in balances.items()
    )
    return look_through(portfolio, funds, values=values, cash=cash)


def plan_warnings(
    portfolio: Portfolio, plan: Plan, funds: Mapping[str, FundHoldings]
) -> tuple[str, ...]:
    """Limits broken before or after ``plan`` and rows past their take-profit return."""
    out: list[str] = []
    limits = portfolio.settings.exposure_limits
    if limits.any_set:
        before = look_through(portfolio, funds)
        after = exposure_after(portfolio, plan, funds)
        out += limit_breaches(before, limits, "before the orders")
        out += limit_breaches(after, limits, "after the orders")
        if after.unknown:
            out.append(
                "look-through limits checked without the holdings of "
                + ", ".join(after.unknown)
                + " (unknown to the data source)"
            )
    for row in pnl_report(portfolio).take_profit_rows:
        assert row.ret is not None and row.take_profit is not None
        out.append(
            f"{row.ticker} in {row.account} is up {row.ret:.1%}, past its take-profit "
            f"target {row.take_profit:.0%}"
        )
    return tuple(out)
