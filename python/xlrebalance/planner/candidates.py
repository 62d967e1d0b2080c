"""Many plans of a book's movable positions scored at once with numpy, exactly as
:class:`~xlrebalance.planner.state.TradeState` scores one (the session's searches use it)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from xlrebalance.planner.costs import CASH_TOLERANCE
from xlrebalance.planner.problem import FloatArray, IntArray, Problem, min_trade_quantity
from xlrebalance.planner.state import COST_WEIGHT, TURNOVER_WEIGHT

__all__ = ["PLAIN_SUMS_ABOVE", "Candidates"]

PLAIN_SUMS_ABOVE = 12
"""Movable positions above which batches are summed without BLAS (the exchange search's)."""

BoolArray = npt.NDArray[np.bool_]


class Candidates:
    """Score many plans of the movable positions at once: the exact objective and feasibility
    of :class:`TradeState` (fees with minimums, sell tax, cash per account and currency with
    automatic FX and its spread, group caps, bounds and minimum trade sizes), in numpy."""

    def __init__(self, problem: Problem) -> None:
        p = problem
        self.problem = p
        self.idx: IntArray = np.flatnonzero((p.lo < 0) | (p.hi > 0)).astype(np.int64)
        idx = self.idx
        m = idx.shape[0]
        self.price = p.price_native[idx]
        self.unit = p.unit[idx]
        self.rate_i = p.rate[p.currency[idx]]
        self.fee_rate = p.fee_rate[idx] * self.price
        self.fee_min = p.fee_min_native[idx]
        self.tax = p.tax_rate[idx] * self.price
        self.any_fee_min = bool((self.fee_min > 0).any())
        self.any_tax = bool((self.tax > 0).any())
        self.lo, self.hi = p.lo[idx], p.hi[idx]
        self.min_qty = np.array([min_trade_quantity(p, i) for i in idx.tolist()])
        n_acc, n_cur = p.cash_native.shape
        self.n_acc, self.n_cur = n_acc, n_cur
        pocket = p.account[idx] * n_cur + p.currency[idx]
        self.pocket = pocket
        # Large books sum without matrix products: multithreaded BLAS on products of a few
        # hundred rows is slower than plain sums on a busy machine (small books keep the
        # products, whose sums their plans were tuned on).
        self.plain_sums = m > PLAIN_SUMS_ABOVE
        self.to_pocket = np.zeros((m, n_acc * n_cur))
        self.to_pocket[np.arange(m), pocket] = 1.0
        self.cash0 = p.cash_native.reshape(-1)
        k = len(p.tickers)
        self.to_ticker = np.zeros((m, k))
        self.to_ticker[np.arange(m), p.ticker[idx]] = 1.0
        unique = np.unique(p.ticker[idx]).shape[0] == m
        self.ticker_of: IntArray | None = p.ticker[idx] if unique else None
        self.offset0 = np.bincount(p.ticker, weights=p.unit * p.held, minlength=k) - p.target_value
        self.share = p.target_value / p.total
        self.cash_share = 1.0 - p.cash_target_value / p.total
        self.gap0 = self.cash_share * p.total - float(
            np.bincount(p.ticker, weights=p.unit * p.held, minlength=k).sum()
        )
        self.in_cap = np.zeros((m, len(p.caps)))
        coef, limit, start = [], [], []
        for g, rule in enumerate(p.caps):
            self.in_cap[:, g] = np.isin(idx, rule.members)
            start.append(rule.start_value)
            if rule.reachable:
                coef.append(rule.cap)
                limit.append(rule.cap * (p.total - p.rounding_margin))
            else:
                coef.append(0.0)
                limit.append(rule.start_value)
        self.cap_coef, self.cap_limit = np.array(coef), np.array(limit)
        self.cap_start = np.array(start)

    def costs(self, q: FloatArray) -> FloatArray:
        """Fees and taxes per position, native currency (``q`` is (candidates, positions))."""
        out: FloatArray = self.fee_rate * np.abs(q)
        if self.any_fee_min:
            out = np.where(q != 0, np.maximum(out, self.fee_min), 0.0)
        if self.any_tax:
            out = out + self.tax * np.maximum(-q, 0.0)
        return out

    def score(self, q: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Objective of each candidate row of ``q`` (inf where infeasible) and its costs."""
        p = self.problem
        cost = self.costs(q)
        spend = q * self.price + cost
        if self.plain_sums:
            balances = self.cash0 - np.stack(
                [spend[:, self.pocket == j].sum(axis=1) for j in range(self.cash0.shape[0])],
                axis=1,
            )
            total_cost = (cost * self.rate_i).sum(axis=1)
        else:
            balances = self.cash0 - spend @ self.to_pocket
            total_cost = cost @ self.rate_i
        spread, feasible = self._settle(balances.reshape(-1, self.n_acc, self.n_cur))
        total_cost = total_cost + spread
        dv = q * self.unit
        if self.ticker_of is not None:  # one row per ticker: no matrix product needed
            moved = np.zeros((q.shape[0], self.to_ticker.shape[1]))
            moved[:, self.ticker_of] = dv
        else:
            moved = dv @ self.to_ticker
        deviation = np.abs(self.offset0 + moved + self.share * total_cost[:, None]).sum(axis=1)
        gap = self.gap0 - dv.sum(axis=1)
        objective = (
            deviation
            + np.abs(gap - self.cash_share * total_cost)
            + COST_WEIGHT * total_cost
            + TURNOVER_WEIGHT * np.abs(dv).sum(axis=1)
        )
        allowed = (q >= self.lo - 1e-12) & (q <= self.hi + 1e-12)
        allowed &= (q == 0) | (np.abs(q) >= self.min_qty - 1e-12)
        feasible = feasible & allowed.all(axis=1)
        if p.caps:
            if self.plain_sums:
                value = self.cap_start + np.stack(
                    [dv[:, self.in_cap[:, g] > 0].sum(axis=1) for g in range(len(p.caps))],
                    axis=1,
                )
            else:
                value = self.cap_start + dv @ self.in_cap
            over = value + self.cap_coef * total_cost[:, None] > self.cap_limit + CASH_TOLERANCE
            feasible = feasible & ~over.any(axis=1)
        return np.where(feasible, objective, np.inf), total_cost

    def _settle(self, balances: FloatArray) -> tuple[FloatArray, BoolArray]:
        """:func:`~xlrebalance.planner.costs.settle` for every account of every candidate:
        spread paid (base currency, summed over accounts) and whether all accounts settle."""
        p = self.problem
        rates = p.rate
        if not p.auto_fx or self.n_cur == 1:
            ok: BoolArray = np.asarray((balances >= -CASH_TOLERANCE).all(axis=(1, 2)))
            return np.zeros(balances.shape[0]), ok
        s = p.fx_spread
        foreign = np.arange(self.n_cur) != p.base
        short = np.where(foreign & (balances < 0), -balances, 0.0) * rates
        base_left = balances[:, :, p.base] - short.sum(axis=2) * (1 + s)
        cost = short.sum(axis=2) * s
        # Short of base currency: foreign surpluses are sold in currency order until covered.
        need = np.where(base_left < -CASH_TOLERANCE, -base_left, 0.0)
        surplus = np.where(foreign & (balances > 0), balances, 0.0) * rates
        gives = surplus * (1 - s)
        before = np.cumsum(gives, axis=2) - gives
        with np.errstate(divide="ignore", invalid="ignore"):
            use = np.where(gives > 0, np.clip((need[:, :, None] - before) / gives, 0.0, 1.0), 0.0)
        cost += (use * surplus).sum(axis=2) * s
        base_left += (use * gives).sum(axis=2)
        settled: BoolArray = np.asarray((base_left >= -CASH_TOLERANCE).all(axis=1))
        return cost.sum(axis=1), settled
