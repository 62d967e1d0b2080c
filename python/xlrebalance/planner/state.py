"""A candidate plan with its exact objective, kept up to date one trade change at a time.

The objective (in base currency; divide by the total for weight units) is

    sum_k |v_k - t_k (V - K)|  +  |c - t_cash (V - K)|  +  COST_WEIGHT * K  +  TURNOVER_WEIGHT * U

where ``v_k`` is ticker k's value after trading at today's prices, ``t_k`` its target weight,
``V`` the total before trading (contribution included), ``K`` the costs (fees, taxes, FX
spread), ``c = V - K - sum_k v_k`` the cash after trading and paying them and ``U`` the
turnover. ``V - K`` is the value after trading, so the first two terms are exactly the reported
drift times that value; the third counts costs on top of that (see ``COST_WEIGHT``), so that
a plan never burns money on trades that do not bring the portfolio closer to its targets;
the last breaks ties.

Changing one position's trade touches one ticker, one account and the cost total. The cost
total moves every target a little (``t_k K``); the sum of those terms is kept as a piecewise
linear function of ``K`` with its breakpoints sorted, so a move is evaluated in time
logarithmic in the number of tickers (plus one step per ticker whose sign it flips).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from xlrebalance.planner.costs import CASH_TOLERANCE, settle, trade_fee, trade_tax
from xlrebalance.planner.problem import FloatArray, Problem, min_trade_quantity

COST_WEIGHT = 2.001
"""Costs' own weight. Burning surplus cash lowers the drift terms by up to 2 K (cash comes
down to its target by K and every target on ``V - K`` shrinks by ``t_k K``, together
``(1 - t_cash) K`` more), so costs must weigh more than 2 for a trade that only turns surplus
cash into fees to be strictly worse, not a gain or a tie."""

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
        self.target = p.target_value.tolist()  # on the total before costs
        self.value = np.bincount(
            p.ticker, weights=p.unit * p.held, minlength=len(p.tickers)
        ).tolist()
        self.share = (p.target_value / p.total).tolist()  # t_k
        # Cash's distance below its target before costs: (1 - t_cash) V - sum v.
        self.cash_share = 1.0 - p.cash_target_value / p.total
        self.gap = self.cash_share * p.total - sum(self.value)
        # The ticker terms at cost total K: sum_k |d_k + t_k K| with d_k = v_k - t_k V. A ticker
        # with t_k > 0 changes sign at K = -d_k / t_k (its breakpoint); ``sign`` is +1 at or
        # past it, and ``slope`` is sum_k t_k sign_k.
        self._k = 0.0
        self._breaks: list[tuple[float, int]] = []
        self._beta = [math.inf] * len(self.value)
        self._sign = [1.0] * len(self.value)
        self.slope = 0.0
        self.deviation = 0.0
        for j, (v, t) in enumerate(zip(self.value, self.target, strict=True)):
            self._insert(j, v - t)
        self._breaks.sort()
        self.cost_native = [0.0] * n
        self.turnover = 0.0  # value traded, base currency
        self.orders = 0  # positions that trade: the tie-break after turnover
        self.balances = [row[:] for row in p.cash_native.tolist()]
        self.trade_costs = 0.0  # fees and taxes, base currency
        self.spread = [0.0] * len(p.accounts)
        self.spread_total = 0.0
        self.feasible = [True] * len(p.accounts)
        self.shortfall = [0.0] * len(p.accounts)
        # Each group rule as ``value + coef * costs <= limit``: the cap on the value after
        # costs, or, for a cap no plan can reach, "the group's value may not rise".
        self._caps: list[tuple[float, float, set[int]]] = [
            (c.cap, c.cap * p.cap_room, set(c.members.tolist()))
            if c.reachable
            else (0.0, c.start_value, set(c.members.tolist()))
            for c in p.caps
        ]
        self.cap_names = [c.name for c in p.caps]
        self._cap_start = [c.start_value for c in p.caps]
        self.cap_value = list(self._cap_start)
        self.cap_started_above = [
            c.reachable and c.start_value > c.cap * p.total + CASH_TOLERANCE for c in p.caps
        ]
        self.relaxed_caps: list[str] = []
        self._index_caps()
        for a in range(len(p.accounts)):
            self._resettle(a)
        self._move_k(self.costs)  # a withdrawal may need FX before any trade
        if trades is not None:
            for i, q in enumerate(trades.tolist()):
                if q != 0:
                    self.apply(i, q)

    # ---------------------------------------------------------------- objective and feasibility
    @property
    def costs(self) -> float:
        return self.trade_costs + self.spread_total

    @property
    def cash_gap(self) -> float:
        """Cash's distance below its target after costs (negative: above target)."""
        return float(self.gap - self.cash_share * self.costs)

    @property
    def objective(self) -> float:
        costs = self.costs
        return float(
            self.deviation
            + abs(self.gap - self.cash_share * costs)
            + COST_WEIGHT * costs
            + TURNOVER_WEIGHT * self.turnover
        )

    def deviations(self) -> FloatArray:
        """Each ticker's value minus its target on the value after costs."""
        out = np.array(self.value) - np.array(self.target) + np.array(self.share) * self._k
        return np.asarray(out, dtype=np.float64)

    # ---------------------------------------------------------------- targets after costs
    def _insert(self, j: int, d: float) -> None:
        """Add ticker j's term with offset ``d`` (value minus target before costs) at ``_k``;
        the caller keeps ``_breaks`` sorted (``_init`` sorts once)."""
        t = self.share[j]
        self.deviation += abs(d + t * self._k)
        if t <= 0:
            self._beta[j] = math.inf
            self._sign[j] = 1.0
            return
        beta = -d / t
        self._beta[j] = beta
        self._sign[j] = 1.0 if beta <= self._k else -1.0
        self.slope += t * self._sign[j]
        self._breaks.append((beta, j))

    def _remove(self, j: int, d: float) -> None:
        t = self.share[j]
        self.deviation -= abs(d + t * self._k)
        if t <= 0:
            return
        self.slope -= t * self._sign[j]
        at = bisect.bisect_left(self._breaks, (self._beta[j], j))
        del self._breaks[at]

    def _crossing(self, k_new: float) -> list[int]:
        """Tickers whose breakpoint lies between ``_k`` and ``k_new`` (their sign flips)."""
        lo, hi = sorted((self._k, k_new))
        first = bisect.bisect_right(self._breaks, (lo, math.inf))
        last = bisect.bisect_right(self._breaks, (hi, math.inf))
        return [j for _, j in self._breaks[first:last]]

    def _shift(self, k_new: float, skip: int = -1) -> float:
        """Change of the ticker terms (all but ``skip``) if the cost total became ``k_new``."""
        dk = k_new - self._k
        if dk == 0:
            return 0.0
        slope = self.slope - (self.share[skip] * self._sign[skip] if skip >= 0 else 0.0)
        out = slope * dk
        for j in self._crossing(k_new):
            if j == skip:
                continue
            t, d = self.share[j], self.value[j] - self.target[j]
            out += abs(d + t * k_new) - abs(d + t * self._k) - t * self._sign[j] * dk
        return out

    def _move_k(self, k_new: float) -> None:
        if k_new == self._k:
            return
        self.deviation += self._shift(k_new)
        for j in self._crossing(k_new):
            self.slope -= 2 * self.share[j] * self._sign[j]
            self._sign[j] = -self._sign[j]
        self._k = k_new

    def account_feasible(self) -> bool:
        return all(self.feasible)

    def violated_caps(self) -> list[int]:
        costs = self.costs
        return [
            g
            for g, ((coef, limit, _), value) in enumerate(
                zip(self._caps, self.cap_value, strict=True)
            )
            if value + coef * costs > limit + CASH_TOLERANCE
        ]

    def cap_violation(self, g: int) -> float:
        coef, limit, _ = self._caps[g]
        return max(0.0, float(self.cap_value[g] + coef * self.costs - limit))

    def infeasibility(self) -> float:
        """Cash missing over all accounts plus value above all caps (0 when feasible)."""
        return sum(self.shortfall) + sum(self.cap_violation(g) for g in range(len(self._caps)))

    def _index_caps(self) -> None:
        self._cap_of_position: list[list[int]] = [[] for _ in range(self.problem.size)]
        for g, (_, _, members) in enumerate(self._caps):
            for i in members:
                self._cap_of_position[i].append(g)

    def relax_cap(self, g: int) -> None:
        """Cap ``g`` cannot be reached (the group started above it and no sale the accounts
        can pay for brings it under): from now on its value may only not rise, and the plan
        says so instead of failing."""
        self.relaxed_caps.append(self.cap_names[g])
        self._caps[g] = (0.0, self._cap_start[g], self._caps[g][2])
        self.cap_started_above[g] = False

    def cap_members(self, g: int) -> set[int]:
        return self._caps[g][2]

    def cap_ids(self) -> range:
        return range(len(self._caps))

    def cap_headroom(self, g: int) -> float:
        """How much cap ``g``'s group value may still rise with today's costs (negative when
        it is above its limit)."""
        coef, limit, _ = self._caps[g]
        return float(limit + CASH_TOLERANCE - self.cap_value[g] - coef * self.costs)

    def is_feasible(self) -> bool:
        return self.account_feasible() and not self.violated_caps()

    def _resettle(self, a: int) -> None:
        p = self.problem
        result = settle(self.balances[a], self._rates, p.base, p.auto_fx, p.fx_spread)
        self.spread_total += result.spread_cost - self.spread[a]
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
        k_new = self._k + d_all
        share = self.share[k]
        delta = (
            self._shift(k_new, skip=k)
            + abs(v + dv - t + share * k_new)
            - abs(v - t + share * self._k)
            + abs(gap - dv - self.cash_share * d_all)
            - abs(gap)
            + COST_WEIGHT * d_all
            + TURNOVER_WEIGHT * unit * (abs(q) - abs(old))
        )
        ok = result.feasible or result.shortfall <= self.shortfall[a] - CASH_TOLERANCE
        if ok and self._caps:
            costs = self.costs + d_cost + d_spread
            for (coef, limit, members), value in zip(self._caps, self.cap_value, strict=True):
                new_value = value + (dv if i in members else 0.0)
                if new_value + coef * costs > limit + CASH_TOLERANCE and (
                    new_value + coef * costs > value + coef * self.costs
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
        self._remove(k, v - t)
        self.value[k] = v + dv
        self.gap -= dv
        self.turnover += self._unit[i] * (abs(q) - abs(old))
        self.orders += (q != 0) - (old != 0)
        new_cost = self._costs_of(i, q)
        d_cost_native = new_cost - self.cost_native[i]
        self.cost_native[i] = new_cost
        self.trade_costs += d_cost_native * self._rate_of_position[i]
        a, c = self._account[i], self._currency[i]
        self.balances[a][c] -= (q - old) * self._price[i] + d_cost_native
        self._resettle(a)
        self._move_k(self.costs)
        self._insert(k, v + dv - t)
        if self.share[k] > 0:
            bisect.insort(self._breaks, self._breaks.pop())
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
