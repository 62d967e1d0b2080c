"""The planning problem as a mixed-integer linear program.

One formulation serves three purposes: its LP relaxation seeds the heuristic and gives a lower
bound, HiGHS solves it exactly (warm-started, under a budget), and the benchmark's reference
solver is scipy's ``milp`` on the very same matrices.

Columns: buys ``b`` and sales ``s`` per position (shares), deviation ``e`` per ticker, cash
deviation ``g``, the cost total ``K``, FX conversions per account and foreign currency
(base->foreign ``yin``, foreign->base ``yout``), and, where a minimum fee or minimum trade value
needs it, a "trades" binary ``z`` and a fee ``f`` per position. Targets are on the value after
costs, ``t_k (V - K)``, so every deviation row holds ``K`` (one column, not every cost).
Objective and constraints mirror :mod:`xlrebalance.planner.state` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from xlrebalance.planner.costs import settle
from xlrebalance.planner.problem import FloatArray, IntArray, Problem
from xlrebalance.planner.state import COST_WEIGHT, TURNOVER_WEIGHT, TradeState


@dataclass(frozen=True)
class Formulation:
    cost: FloatArray
    matrix: sparse.csc_array
    row_lower: FloatArray
    row_upper: FloatArray
    col_lower: FloatArray
    col_upper: FloatArray
    integrality: IntArray  # 1 = integer
    n: int  # positions
    binaries: IntArray  # position index of each z (and f) column
    z_start: int
    f_start: int
    fee_positions: IntArray
    copies: slice  # the per-ticker copies of K

    def trades(self, solution: FloatArray) -> FloatArray:
        """Net trade per position from a solution vector."""
        return np.asarray(solution[: self.n] - solution[self.n : 2 * self.n], dtype=np.float64)

    def solution_for(self, problem: Problem, trades: FloatArray) -> FloatArray:
        """A full column vector consistent with ``trades`` (for warm starts)."""
        state = TradeState(problem, trades)
        n = self.n
        x = np.zeros(self.cost.shape[0])
        x[:n] = np.maximum(trades, 0.0)
        x[n : 2 * n] = np.maximum(-trades, 0.0)
        k = len(problem.tickers)
        x[2 * n : 2 * n + k] = np.abs(state.deviations())
        x[2 * n + k] = abs(state.cash_gap)
        x[2 * n + k + 1] = state.costs
        yin_start = 2 * n + k + 2
        pairs = _fx_pairs(problem)
        for a, account_balances in enumerate(state.balances):
            result = settle(
                account_balances,
                problem.rate.tolist(),
                problem.base,
                problem.auto_fx,
                problem.fx_spread,
            )
            for c, amount in result.converted:
                column = pairs.index((a, c))
                if amount > 0:
                    x[yin_start + column] = amount
                else:
                    x[yin_start + len(pairs) + column] = -amount
        for j, i in enumerate(self.binaries.tolist()):
            if trades[i] != 0:
                x[self.z_start + j] = 1.0
        for j, i in enumerate(self.fee_positions.tolist()):
            x[self.f_start + j] = state.fee_native(i)
        x[self.copies] = state.costs
        return x


def _fx_pairs(problem: Problem) -> list[tuple[int, int]]:
    if not problem.auto_fx:
        return []
    return [
        (a, c)
        for a in range(len(problem.accounts))
        for c in range(len(problem.currencies))
        if c != problem.base
    ]


class _Rows:
    """The constraint rows as they are added: entries kept as blocks of arrays, so that the
    per-ticker and per-position rows are built with numpy, not entry by entry. Zero entries
    are left out, as a sparse matrix would."""

    def __init__(self) -> None:
        self._rows: list[IntArray] = []
        self._cols: list[IntArray] = []
        self._vals: list[FloatArray] = []
        self._lower: list[FloatArray] = []
        self._upper: list[FloatArray] = []
        self.count = 0

    def add(self, entries: list[tuple[int, float]], lo: float, hi: float) -> None:
        """One row from (column, value) pairs."""
        self.add_block(
            np.zeros(len(entries), dtype=np.int64),
            np.array([col for col, _ in entries], dtype=np.int64),
            np.array([float(val) for _, val in entries], dtype=np.float64),
            np.array([lo], dtype=np.float64),
            np.array([hi], dtype=np.float64),
        )

    def add_block(
        self, rows: IntArray, cols: IntArray, vals: FloatArray, lo: FloatArray, hi: FloatArray
    ) -> None:
        """``len(lo)`` rows at once; ``rows`` counts from the first of them."""
        keep = vals != 0.0
        self._rows.append(rows[keep].astype(np.int64) + self.count)
        self._cols.append(cols[keep].astype(np.int64))
        self._vals.append(vals[keep].astype(np.float64))
        self._lower.append(lo)
        self._upper.append(hi)
        self.count += int(lo.shape[0])

    def lower(self) -> FloatArray:
        return np.concatenate(self._lower) if self._lower else np.zeros(0)

    def upper(self) -> FloatArray:
        return np.concatenate(self._upper) if self._upper else np.zeros(0)

    def matrix(self, ncol: int) -> sparse.csc_array:
        rows = np.concatenate(self._rows) if self._rows else np.zeros(0, dtype=np.int64)
        cols = np.concatenate(self._cols) if self._cols else np.zeros(0, dtype=np.int64)
        vals = np.concatenate(self._vals) if self._vals else np.zeros(0)
        return sparse.csc_array((vals, (rows, cols)), shape=(self.count, ncol))


def formulate(problem: Problem, *, relax: bool = False) -> Formulation:
    """Build the MILP (``relax``: the LP without binaries, minimum fees or trade sizes)."""
    p = problem
    n, k = p.size, len(p.tickers)
    rate_i = p.rate[p.currency]
    tradable = (p.hi > 0) | (p.lo < 0)
    needs_binary = tradable & ((p.fee_min_native > 0) | (p.min_trade_value > 0))
    binaries = np.flatnonzero(needs_binary) if not relax else np.zeros(0, dtype=np.int64)
    fee_positions = (
        np.flatnonzero(needs_binary & (p.fee_min_native > 0))
        if not relax
        else np.zeros(0, dtype=np.int64)
    )
    has_fee_col = np.zeros(n, dtype=bool)
    has_fee_col[fee_positions] = True
    pairs = _fx_pairs(p)
    m = len(pairs)

    b0, s0, e0 = 0, n, 2 * n
    g0 = 2 * n + k
    k0 = g0 + 1  # the cost total K
    yin0 = k0 + 1
    yout0 = yin0 + m
    z0 = yout0 + m
    f0 = z0 + len(binaries)
    # Every deviation row needs K; a column in all of them would make the interior point
    # method's normal equations dense (minutes at 10,000 positions), so each ticker reads its
    # own copy of K, chained to the next by an equality row.
    c0 = f0 + len(fee_positions)
    ncol = c0 + k

    cost = np.zeros(ncol)
    col_lower = np.zeros(ncol)
    col_upper = np.full(ncol, np.inf)
    integrality = np.zeros(ncol, dtype=np.int64)
    col_upper[b0 : b0 + n] = p.hi
    col_upper[s0 : s0 + n] = -p.lo
    if not p.fractional and not relax:
        integrality[b0 : b0 + 2 * n] = 1
    # What each column costs (fees, taxes, FX spread) in base currency: the K of the objective.
    # Linear fees sit on the trade columns where no fee column carries them.
    k_cost = np.zeros(ncol)
    linear_fee = np.where(has_fee_col, 0.0, p.fee_rate * p.price_native)
    tax = p.tax_rate * p.price_native
    k_cost[b0 : b0 + n] = linear_fee * rate_i
    k_cost[s0 : s0 + n] = (linear_fee + tax) * rate_i
    for j, (_, c) in enumerate(pairs):
        k_cost[yin0 + j] = p.fx_spread * p.rate[c]
        k_cost[yout0 + j] = p.fx_spread * p.rate[c]
    for j, i in enumerate(fee_positions.tolist()):
        k_cost[f0 + j] = rate_i[i]
    # The tie-break: turnover, in base currency.
    cost[b0 : b0 + n] = TURNOVER_WEIGHT * p.unit
    cost[s0 : s0 + n] = TURNOVER_WEIGHT * p.unit
    cost[e0 : e0 + k] = 1.0
    cost[g0] = 1.0
    cost[k0] = COST_WEIGHT
    col_upper[z0:f0] = 1.0
    integrality[z0:f0] = 1

    rows = _Rows()
    add_row = rows.add

    # K = every cost column's cost.
    cost_columns = np.flatnonzero(k_cost)
    rows.add_block(
        np.zeros(cost_columns.size + 1, dtype=np.int64),
        np.concatenate([[k0], cost_columns]),
        np.concatenate([[1.0], -k_cost[cost_columns]]),
        np.zeros(1),
        np.zeros(1),
    )
    # Each copy of K equals the one before it (the first equals K).
    chain = np.arange(k)
    rows.add_block(
        np.concatenate([chain, chain]),
        np.concatenate([c0 + chain, np.where(chain == 0, k0, c0 + chain - 1)]),
        np.concatenate([np.ones(k), np.full(k, -1.0)]),
        np.zeros(k),
        np.zeros(k),
    )
    value0 = np.bincount(p.ticker, weights=p.unit * p.held, minlength=k)
    share = p.target_value / p.total
    # e_t >= |value0 + trades - share (V - K)|: rows 2t (e - trades >= d0) and 2t + 1
    # (e + trades >= -d0), trades read as the ticker's buys and sales and its copy of K.
    d0 = value0 - p.target_value
    at = np.arange(n)
    over, under = 2 * chain, 2 * chain + 1  # per ticker
    over_i, under_i = 2 * p.ticker, 2 * p.ticker + 1  # per position
    rows.add_block(
        np.concatenate([over, over_i, over_i, over, under, under_i, under_i, under]),
        np.concatenate([e0 + chain, b0 + at, s0 + at, c0 + chain] * 2),
        np.concatenate([np.ones(k), -p.unit, p.unit, -share, np.ones(k), p.unit, -p.unit, share]),
        np.stack([d0, -d0], axis=1).ravel(),
        np.full(2 * k, np.inf),
    )
    cash_share = 1.0 - p.cash_target_value / p.total
    gap0 = float(cash_share * p.total - value0.sum())
    # g >= |gap0 - trades - (1 - t_cash) K|: cash's distance from its target after costs.
    row_entries = 2 * n + 2
    rows.add_block(
        np.repeat(np.arange(2), row_entries),
        np.tile(np.concatenate([[g0], b0 + at, s0 + at, [k0]]), 2),
        np.concatenate(
            [[1.0], p.unit, -p.unit, [cash_share], [1.0], -p.unit, p.unit, [-cash_share]]
        ),
        np.array([gap0, -gap0]),
        np.full(2, np.inf),
    )

    # Cash per account and currency never below zero, costs and conversions included.
    fee_col_of = np.full(n, -1, dtype=np.int64)
    fee_col_of[fee_positions] = f0 + np.arange(len(fee_positions))
    buy_cash = -p.price_native - linear_fee
    sell_cash = p.price_native - linear_fee - tax
    for a in range(len(p.accounts)):
        for c in range(len(p.currencies)):
            here = np.flatnonzero((p.account == a) & (p.currency == c))
            fx: list[tuple[int, float]] = []
            for j, (pa, pc) in enumerate(pairs):
                if pa != a:
                    continue
                if c == pc:
                    fx.append((yin0 + j, 1.0))
                    fx.append((yout0 + j, -1.0))
                elif c == p.base:
                    fx.append((yin0 + j, -p.rate[pc] * (1 + p.fx_spread)))
                    fx.append((yout0 + j, p.rate[pc] * (1 - p.fx_spread)))
            if not (here.size or fx or p.cash_native[a, c] < 0):
                continue
            fees = here[fee_col_of[here] >= 0]
            columns = [b0 + here, s0 + here, fee_col_of[fees], np.array([col for col, _ in fx])]
            values = [buy_cash[here], sell_cash[here], np.full(fees.size, -1.0)]
            values.append(np.array([val for _, val in fx]))
            count = sum(part.size for part in columns)
            rows.add_block(
                np.zeros(count, dtype=np.int64),
                np.concatenate(columns),
                np.concatenate(values),
                np.array([-float(p.cash_native[a, c])]),
                np.array([np.inf]),
            )

    unit = p.unit.tolist()
    price = p.price_native.tolist()
    # Group caps: value + cap * (all costs) <= cap * total.
    # An unreachable cap: the group's value may not rise (its trades sum to <= 0).
    for rule in p.caps:
        members = rule.members.tolist()
        entries = [(b0 + i, unit[i]) for i in members] + [(s0 + i, -unit[i]) for i in members]
        if rule.reachable:
            entries.append((k0, rule.cap))
            # The cap on the value after costs, with room for broker rounding of the fees.
            add_row(entries, -np.inf, rule.cap * p.cap_room - rule.start_value)
        else:
            add_row(entries, -np.inf, 0.0)

    # Binaries: z = 1 when the position trades; minimum trade value and minimum fee.
    for j, i in enumerate(binaries.tolist()):
        big = max(p.hi[i], -p.lo[i], 1.0)
        add_row([(b0 + i, 1.0), (s0 + i, 1.0), (z0 + j, -big)], -np.inf, 0.0)
        if p.min_trade_value > 0:
            add_row(
                [(b0 + i, unit[i]), (s0 + i, unit[i]), (z0 + j, -p.min_trade_value)], 0.0, np.inf
            )
    for j, i in enumerate(fee_positions.tolist()):
        zj = int(np.flatnonzero(binaries == i)[0])
        fee_per_share = p.fee_rate[i] * price[i]
        add_row([(f0 + j, 1.0), (b0 + i, -fee_per_share), (s0 + i, -fee_per_share)], 0.0, np.inf)
        add_row([(f0 + j, 1.0), (z0 + zj, -p.fee_min_native[i])], 0.0, np.inf)

    matrix = rows.matrix(ncol)
    return Formulation(
        cost=cost,
        matrix=matrix,
        row_lower=rows.lower(),
        row_upper=rows.upper(),
        col_lower=col_lower,
        col_upper=col_upper,
        integrality=integrality,
        n=n,
        binaries=binaries.astype(np.int64),
        z_start=z0,
        f_start=f0,
        fee_positions=fee_positions.astype(np.int64),
        copies=slice(c0, c0 + k),
    )
