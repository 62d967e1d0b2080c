"""The reference for tests/planner/test_formulation_blocks.py: ``formulate`` as it was, the
constraint matrix built one entry at a time in plain Python lists (slow on 500 positions, but
plain to read). The planner's ``formulate`` builds the same rows with numpy blocks."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from xlrebalance.planner.formulation import Formulation, _fx_pairs
from xlrebalance.planner.problem import Problem
from xlrebalance.planner.state import COST_WEIGHT, TURNOVER_WEIGHT


def formulate_entrywise(problem: Problem, *, relax: bool = False) -> Formulation:
    """The MILP as ``formulate`` built it before its rows were blocks of arrays."""
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
    cost_columns = [(col, float(k_cost[col])) for col in np.flatnonzero(k_cost).tolist()]

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lower: list[float] = []
    upper: list[float] = []

    def add_row(entries: list[tuple[int, float]], lo: float, hi: float) -> None:
        r = len(lower)
        for col, val in entries:
            if val != 0.0:
                rows.append(r)
                cols.append(col)
                vals.append(float(val))
        lower.append(lo)
        upper.append(hi)

    # K = every cost column's cost.
    add_row([(k0, 1.0), *[(c, -v) for c, v in cost_columns]], 0.0, 0.0)
    for t in range(k):
        add_row([(c0 + t, 1.0), (k0 if t == 0 else c0 + t - 1, -1.0)], 0.0, 0.0)
    value0 = np.bincount(p.ticker, weights=p.unit * p.held, minlength=k)
    share = p.target_value / p.total
    members_of: list[list[int]] = [[] for _ in range(k)]
    for i, t in enumerate(p.ticker.tolist()):
        members_of[t].append(i)
    unit = p.unit.tolist()
    for t in range(k):
        # e_t >= |value0 + trades - share (V - K)|
        trade = [(b0 + i, unit[i]) for i in members_of[t]] + [
            (s0 + i, -unit[i]) for i in members_of[t]
        ]
        trade.append((c0 + t, float(share[t])))
        d0 = float(value0[t] - p.target_value[t])
        add_row([(e0 + t, 1.0), *[(c, -v) for c, v in trade]], d0, np.inf)
        add_row([(e0 + t, 1.0), *trade], -d0, np.inf)
    cash_share = 1.0 - p.cash_target_value / p.total
    gap0 = float(cash_share * p.total - value0.sum())
    all_trades = [(b0 + i, unit[i]) for i in range(n)] + [(s0 + i, -unit[i]) for i in range(n)]
    all_trades.append((k0, cash_share))
    # g >= |gap0 - trades - (1 - t_cash) K|: cash's distance from its target after costs.
    add_row([(g0, 1.0), *all_trades], gap0, np.inf)
    add_row([(g0, 1.0), *[(c, -v) for c, v in all_trades]], -gap0, np.inf)

    # Cash per account and currency never below zero, costs and conversions included.
    price = p.price_native.tolist()
    fee_col_of = {i: f0 + j for j, i in enumerate(fee_positions.tolist())}
    for a in range(len(p.accounts)):
        for c in range(len(p.currencies)):
            entries: list[tuple[int, float]] = []
            for i in np.flatnonzero((p.account == a) & (p.currency == c)).tolist():
                entries.append((b0 + i, -price[i] - linear_fee[i]))
                entries.append((s0 + i, price[i] - linear_fee[i] - tax[i]))
                if i in fee_col_of:
                    entries.append((fee_col_of[i], -1.0))
            for j, (pa, pc) in enumerate(pairs):
                if pa != a:
                    continue
                if c == pc:
                    entries.append((yin0 + j, 1.0))
                    entries.append((yout0 + j, -1.0))
                elif c == p.base:
                    entries.append((yin0 + j, -p.rate[pc] * (1 + p.fx_spread)))
                    entries.append((yout0 + j, p.rate[pc] * (1 - p.fx_spread)))
            if entries or p.cash_native[a, c] < 0:
                add_row(entries, -float(p.cash_native[a, c]), np.inf)

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

    matrix = sparse.csc_array(
        (np.array(vals), (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64))),
        shape=(len(lower), ncol),
    )
    return Formulation(
        cost=cost,
        matrix=matrix,
        row_lower=np.array(lower),
        row_upper=np.array(upper),
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
