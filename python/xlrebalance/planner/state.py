"""A candidate plan with its exact objective, kept up to date one trade change at a time.

The objective (in base currency; divide by the total for weight units) is

    sum_k |v_k - T_k|  +  |sum_k (T_k - v_k) - K|  +  COST_WEIGHT * K

where ``v_k`` is ticker k's value after trading at today's prices, ``T_k`` its target value on
the pre-trade total, ``K`` the costs (fees, taxes, FX spread) and the middle term cash's
distance from its target after paying them. The first two terms are the drift (to first order
in K/total); the last counts costs once more, so that a plan never burns money on trades that
do not bring the portfolio closer to its targets (paying fees out of surplus cash would
otherwise look like progress).

Changing one position's trade touches one ticker, one account and the cost total, so a move is
evaluated in time independent of the portfolio's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xlrebalance.planner.costs import CASH_TOLERANCE, settle, trade_fee, trade_tax
from xlrebalance.planner.problem import FloatArray, Problem, min_trade_quantity

COST_WEIGHT = 1.001
"""Costs' weight on top of their effect on cash; above 1 so that a trade that only moves
surplus cash into fees is strictly worse, not a tie."""

TURNOVER_WEIGHT = 1e-6
"""Weight of the turnover (value traded, base currency) in the objective: the tie-break.
Where drift and costs leave several plans equally good (zero or equal costs), the one that
trades least wins, whatever the solver's version; small enough that it never trades more than
2e-6 of the portfolio's drift for it, large enough for HiGHS's tolerances to see it."""


@dataclass(frozen=True)
class Move:
    position: int
    quantity: float
    delta: float


class TradeState:
    def __init__(self, problem: Problem, trades: FloatArray | None = None) -> None:
        p = problem
        self.problem = p
        n = p.size
        self.x = [0.0] * n
        self._account = p.account.tolist()
        self._ticker = p.ticker.tolist()
        self._currency = p.currency.tolist()
        self._price = p.price_native.tolist()
        self._unit = p.unit.tolist()
        self._rate_of_position = p.rate[p.currency].tolist()
        self._fee_rate = p.fee_rate.tolist()
        self._fee_min = p.fee_min_native.tolist()
        self._tax = p.tax_rate.tolist()
        self.lo = p.lo.tolist()
        self.hi = p.hi.tolist()
        self.min_qty = [min_trade_quantity(p, i) for i in range(n)]
        self._rates = p.rate.tolist()
        self.target = p.target_value.tolist()
        self.value = np.bincount(
            p.ticker, weights=p.unit * p.held, minlength=len(p.tickers)
        ).tolist()
        self.gap = sum(t - v for t, v in zip(self.target, self.value, strict=True))  # S
        self.deviation = sum(abs(v - t) for v, t in zip(self.value, self.target, strict=True))
        self.cost_native = [0.0] * n
        self.turnover = 0.0  # value traded, base currency
        self.balances = [row[:] for row in p.cash_native.tolist()]
        self.trade_costs = 0.0  # fees and taxes, base currency
        self.spread = [0.0] * len(p.accounts)
        self.feasible = [True] * len(p.accounts)
        self.shortfall = [0.0] * len(p.accounts)
        self._caps = [(c.cap, set(c.members.tolist())) for c in p.caps if c.enforce]
        self.cap_names = [c.name for c in p.caps if c.enforce]
        self.cap_value = [
            sum(self._unit[i] * p.held[i] for i in members) for _, members in self._caps
        ]
        self.cap_started_above = [
            value > cap * p.total + CASH_TOLERANCE
            for (cap, _), value in zip(self._caps, self.cap_value, strict=True)
        ]
        self.dropped_caps: list[str] = []
        self._index_caps()
        for a in range(len(p.accounts)):
            self._resettle(a)
        if trades is not None:
            for i, q in enumerate(trades.tolist()):
                if q != 0:
                    self.apply(i, q)

    # ---------------------------------------------------------------- objective and feasibility
    @property
    def costs(self) -> float:
        return self.trade_costs + sum(self.spread)

    @property
    def cash_gap(self) -> float:
        """Cash's distance below its target after costs (negative: above target)."""
        return float(self.gap - self.costs)

    @property
    def objective(self) -> float:
        costs = self.costs
        return float(
            self.deviation
            + abs(self.gap - costs)
            + COST_WEIGHT * costs
            + TURNOVER_WEIGHT * self.turnover
        )

    def account_feasible(self) -> bool:
        return all(self.feasible)

    def violated_caps(self) -> list[int]:
        total, costs = self.problem.total, self.costs
        return [
            g
            for g, ((cap, _), value) in enumerate(zip(self._caps, self.cap_value, strict=True))
            if value + cap * costs > cap * total + CASH_TOLERANCE
        ]

    def cap_violation(self, g: int) -> float:
        cap = self._caps[g][0]
        excess = self.cap_value[g] + cap * self.costs - cap * self.problem.total
        return max(0.0, float(excess))

    def infeasibility(self) -> float:
        """Cash missing over all accounts plus value above all caps (0 when feasible)."""
        return sum(self.shortfall) + sum(self.cap_violation(g) for g in range(len(self._caps)))

    def _index_caps(self) -> None:
        self._cap_of_position: list[list[int]] = [[] for _ in range(self.problem.size)]
        for g, (_, members) in enumerate(self._caps):
            for i in members:
                self._cap_of_position[i].append(g)

    def drop_cap(self, g: int) -> None:
        """Stop enforcing cap ``g`` (a group that was above it and that no affordable sale can
        bring under it); the plan then says so instead of failing."""
        self.dropped_caps.append(self.cap_names.pop(g))
        del self._caps[g], self.cap_value[g], self.cap_started_above[g]
        self._index_caps()

    def cap_members(self, g: int) -> set[int]:
        return self._caps[g][1]

    def is_feasible(self) -> bool:
        return self.account_feasible() and not self.violated_caps()

    def _resettle(self, a: int) -> None:
        p = self.problem
        result = settle(self.balances[a], self._rates, p.base, p.auto_fx, p.fx_spread)
        self.spread[a] = result.spread_cost
        self.feasible[a] = result.feasible
        self.shortfall[a] = result.shortfall

    def _costs_of(self, i: int, q: float) -> float:
        return trade_fee(q, self._price[i], self._fee_rate[i], self._fee_min[i]) + trade_tax(
            q, self._price[i], self._tax[i]
        )

    def allowed(self, i: int, q: float) -> bool:
        """Within bounds and the minimum trade size."""
        if q < self.lo[i] - 1e-12 or q > self.hi[i] + 1e-12:
            return False
        return q == 0 or abs(q) >= self.min_qty[i] - 1e-12

    # ---------------------------------------------------------------- moves
    def evaluate(self, i: int, q: float) -> tuple[float, bool]:
        """Objective change if position ``i`` traded ``q`` instead of now, and whether that is
        allowed: no constraint that holds now breaks, and none that is broken gets worse."""
        old = self.x[i]
        if q == old:
            return 0.0, True
        unit = self._unit[i]
        k = self._ticker[i]
        dv = (q - old) * unit
        v, t = self.value[k], self.target[k]
        new_cost = self._costs_of(i, q)
        d_cost_native = new_cost - self.cost_native[i]
        d_cost = d_cost_native * self._rate_of_position[i]
        a, c = self._account[i], self._currency[i]
        balances = self.balances[a][:]
        balances[c] -= (q - old) * self._price[i] + d_cost_native
        p = self.problem
        result = settle(balances, self._rates, p.base, p.auto_fx, p.fx_spread)
        d_spread = result.spread_cost - self.spread[a]
        d_all = d_cost + d_spread
        gap = self.cash_gap
        delta = (
            abs(v + dv - t)
            - abs(v - t)
            + abs(gap - dv - d_all)
            - abs(gap)
            + COST_WEIGHT * d_all
            + TURNOVER_WEIGHT * unit * (abs(q) - abs(old))
        )
        ok = result.feasible or result.shortfall <= self.shortfall[a] - CASH_TOLERANCE
        if ok and self._caps:
            costs = self.costs + d_cost + d_spread
            for (cap, members), value in zip(self._caps, self.cap_value, strict=True):
                new_value = value + (dv if i in members else 0.0)
                if new_value + cap * costs > cap * p.total + CASH_TOLERANCE and (
                    new_value + cap * costs > value + cap * self.costs
                ):
                    ok = False
                    break
        return delta, ok

    def apply(self, i: int, q: float) -> None:
        old = self.x[i]
        if q == old:
            return
        dv = (q - old) * self._unit[i]
        k = self._ticker[i]
        v, t = self.value[k], self.target[k]
        self.deviation += abs(v + dv - t) - abs(v - t)
        self.value[k] = v + dv
        self.gap -= dv
        self.turnover += self._unit[i] * (abs(q) - abs(old))
        new_cost = self._costs_of(i, q)
        d_cost_native = new_cost - self.cost_native[i]
        self.cost_native[i] = new_cost
        self.trade_costs += d_cost_native * self._rate_of_position[i]
        a, c = self._account[i], self._currency[i]
        self.balances[a][c] -= (q - old) * self._price[i] + d_cost_native
        self._resettle(a)
        for g in self._cap_of_position[i]:
            self.cap_value[g] += dv
        self.x[i] = q

    def trades(self) -> FloatArray:
        return np.array(self.x, dtype=np.float64)

    def fee_native(self, i: int) -> float:
        q = self.x[i]
        return trade_fee(q, self._price[i], self._fee_rate[i], self._fee_min[i])

    def tax_native(self, i: int) -> float:
        return trade_tax(self.x[i], self._price[i], self._tax[i])
