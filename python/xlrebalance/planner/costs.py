"""What a trade costs and how an account settles its currencies.

Fees are ``max(rate * amount, min)`` per non-zero trade; sell tax is ``rate * amount`` on sales;
both are paid in the trade's currency. With automatic FX an account short of a foreign currency
buys it with base currency at the rate plus the spread, and an account short of base currency
sells its foreign surpluses at the rate minus the spread (as Korean brokers' integrated margin
does). The spread is a cost like fees: it leaves the portfolio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CASH_TOLERANCE = 1e-6
"""Rounding slack, in currency units, below which a balance counts as zero."""


def trade_fee(quantity: float, price: float, rate: float, minimum: float) -> float:
    if quantity == 0:
        return 0.0
    return max(rate * price * abs(quantity), minimum)


def trade_tax(quantity: float, price: float, rate: float) -> float:
    return rate * price * -quantity if quantity < 0 else 0.0


@dataclass(frozen=True)
class Settlement:
    feasible: bool
    spread_cost: float  # base currency
    converted: tuple[tuple[int, float], ...]  # (currency index, amount bought (+) or sold (-))
    shortfall: float  # base currency still missing when infeasible


def settle(
    balances: Sequence[float],
    rates: Sequence[float],
    base: int,
    auto_fx: bool,
    spread: float,
) -> Settlement:
    """Settle one account's balances (native units, after trades and costs)."""
    if not auto_fx:
        short = sum(-b * rates[c] for c, b in enumerate(balances) if b < -CASH_TOLERANCE)
        return Settlement(short == 0, 0.0, (), short)
    cost = 0.0
    converted: list[tuple[int, float]] = []
    base_left = balances[base]
    for c, b in enumerate(balances):
        if c != base and b < 0:
            base_left -= -b * rates[c] * (1 + spread)
            cost += -b * rates[c] * spread
            converted.append((c, -b))
    if base_left < -CASH_TOLERANCE:
        for c, b in enumerate(balances):
            if c == base or b <= 0:
                continue
            gives = b * rates[c] * (1 - spread)
            if gives <= 0:
                continue
            use = min(1.0, -base_left / gives)
            base_left += use * gives
            cost += use * b * rates[c] * spread
            converted.append((c, -use * b))
            if base_left >= -CASH_TOLERANCE:
                break
    feasible = base_left >= -CASH_TOLERANCE
    return Settlement(feasible, cost, tuple(converted), 0.0 if feasible else -base_left)
