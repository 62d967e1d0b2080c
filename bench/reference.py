"""An independently written reference MILP for the planner's documented objective.

It is built straight from a validated :class:`~xlrebalance.model.Portfolio` with its own
variables and rows (nothing from ``xlrebalance.planner``), and solved with scipy's ``milp``.
The property tests compare the planner with it; the benchmark prints it next to the planner.
The objective is the one docs/planner.md defines:

    J = sum_k |v_k - t_k (V - K)| + |c - t_cash (V - K)| + 2.001 K + 1e-6 U

Variables (one block each): buys ``b`` and sales ``s`` per holdings row; ``zb``/``zs`` binaries
per row where a minimum fee or minimum trade value makes trading a yes/no decision; a fee
``f`` per such row; deviations ``e`` per ticker and ``ec`` for cash; the cost total ``K``;
and, with automatic FX, per account and foreign currency the amount bought with base
currency (``fin``) and sold for it (``fout``). Cap rule: a group at or under its cap stays
so; a group above it gets there if any plan can, and otherwise may not rise in value.

    python bench/reference.py templates/examples/seed.json
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from xlrebalance.model import CASH, Mode, Portfolio

COST_WEIGHT = 2.001
TURNOVER_WEIGHT = 1e-6


@dataclass(frozen=True)
class Reference:
    status: str  # "optimal", "infeasible" or scipy's message
    objective: float  # J / V
    drift: float  # drift after, exact, from the solution's trades
    trades: dict[tuple[str, str], float]  # (account, ticker) -> signed quantity
    unreachable: tuple[str, ...]  # groups above their cap that no plan brings under it


class _Rows:
    def __init__(self) -> None:
        self.r: list[int] = []
        self.c: list[int] = []
        self.v: list[float] = []
        self.lo: list[float] = []
        self.hi: list[float] = []

    def add(self, coefs: dict[int, float], lo: float, hi: float) -> None:
        row = len(self.lo)
        for col, val in coefs.items():
            if val != 0:
                self.r.append(row)
                self.c.append(col)
                self.v.append(val)
        self.lo.append(lo)
        self.hi.append(hi)


def solve_reference(
    portfolio: Portfolio, *, time_limit: float = 60.0, no_rise: frozenset[str] | None = None
) -> Reference:
    """The optimum of the documented objective (``no_rise``: groups to treat as unreachable;
    None finds them by solving once per group above its cap)."""
    pf = portfolio
    s = pf.settings
    rows = pf.holdings
    n = len(rows)
    rate = [pf.rate(h.currency) for h in rows]
    price = [float(h.price or 0.0) for h in rows]
    unit = [p * r for p, r in zip(price, rate, strict=True)]
    accounts = [a.id for a in pf.accounts]
    base = pf.base_currency
    currencies = list(dict.fromkeys([base, *pf.currencies()]))
    cash0 = {(a.id, c): 0.0 for a in pf.accounts for c in currencies}
    for a in pf.accounts:
        for c, amount in a.cash.items():
            cash0[(a.id, c)] += amount
    into = s.contribution_account or accounts[0]
    for c, amount in s.contribution.items():
        cash0[(into, c)] += amount
    total = sum(u * h.quantity for u, h in zip(unit, rows, strict=True)) + sum(
        v * pf.rate(c) for (_, c), v in cash0.items()
    )
    tickers = list(dict.fromkeys(h.ticker for h in rows))
    weight = {t: pf.targets.get(t, 0.0) for t in tickers}
    cash_weight = pf.targets.get(CASH, 0.0)
    value0 = {t: 0.0 for t in tickers}
    for u, h in zip(unit, rows, strict=True):
        value0[h.ticker] += u * h.quantity

    # Which rows may buy / sell, and how much.
    frozen = set()
    if s.band.absolute > 0 or s.band.relative > 0:
        for t in tickers:
            if abs(value0[t] / total - weight[t]) <= s.band.width(weight[t]) + 1e-12:
                frozen.add(t)
    max_buy, max_sell = [], []
    for u, h in zip(unit, rows, strict=True):
        still = h.locked or h.ticker in frozen
        wealth = sum(cash0[(h.account, c)] * pf.rate(c) for c in currencies) + sum(
            uu * hh.quantity for uu, hh in zip(unit, rows, strict=True) if hh.account == h.account
        )
        buy = 0.0 if still or s.mode is Mode.SELL_ONLY else max(wealth, 0.0) / u
        sell = 0.0 if still or s.mode is Mode.BUY_ONLY else h.quantity
        max_buy.append(np.floor(buy) if not s.fractional else buy)
        max_sell.append(sell)

    fee_rate = [s.fee(h.market).rate for h in rows]
    fee_min = [s.fee(h.market).min for h in rows]
    tax = [s.tax_rate(h.market, h.kind) for h in rows]
    decided = [
        (max_buy[i] > 0 or max_sell[i] > 0) and (fee_min[i] > 0 or s.min_trade_value > 0)
        for i in range(n)
    ]
    dec = [i for i in range(n) if decided[i]]
    fx = [(a, c) for a in accounts for c in currencies if c != base] if s.auto_fx else []

    # Columns.
    col = 0

    def block(size: int) -> int:
        nonlocal col
        start = col
        col += size
        return start

    b0, s0 = block(n), block(n)
    zb0, zs0, f0 = block(len(dec)), block(len(dec)), block(len(dec))
    e0, ec, kk = block(len(tickers)), block(1), block(1)
    fin0, fout0 = block(len(fx)), block(len(fx))
    ncol = col
    lower = np.zeros(ncol)
    upper = np.full(ncol, np.inf)
    upper[b0 : b0 + n] = max_buy
    upper[s0 : s0 + n] = max_sell
    upper[zb0 : zb0 + 2 * len(dec)] = 1.0
    integral = np.zeros(ncol)
    if not s.fractional:
        integral[b0 : b0 + 2 * n] = 1
    integral[zb0 : zb0 + 2 * len(dec)] = 1
    objective = np.zeros(ncol)
    objective[e0 : e0 + len(tickers)] = 1.0
    objective[ec] = 1.0
    objective[kk] = COST_WEIGHT
    for i in range(n):
        objective[b0 + i] = objective[s0 + i] = TURNOVER_WEIGHT * unit[i]

    m = _Rows()
    # K: every cost in base currency (fees, taxes, spread).
    k_row: dict[int, float] = {kk: 1.0}
    fee_col = {i: f0 + j for j, i in enumerate(dec)}
    for i in range(n):
        if i in fee_col:
            k_row[fee_col[i]] = -rate[i]
        else:
            k_row[b0 + i] = -fee_rate[i] * price[i] * rate[i]
        k_row[s0 + i] = k_row.get(s0 + i, 0.0) - tax[i] * price[i] * rate[i]
        if i not in fee_col:
            k_row[s0 + i] -= fee_rate[i] * price[i] * rate[i]
    for j, (_, c) in enumerate(fx):
        k_row[fin0 + j] = -s.fx_spread * pf.rate(c)
        k_row[fout0 + j] = -s.fx_spread * pf.rate(c)
    m.add(k_row, 0.0, 0.0)

    # Minimum fees and trade sizes: a row trades in one direction at most, then pays at least
    # the minimum fee and trades at least the minimum value.
    for j, i in enumerate(dec):
        zb, zs = zb0 + j, zs0 + j
        m.add({b0 + i: 1.0, zb: -max(max_buy[i], 1.0)}, -np.inf, 0.0)
        m.add({s0 + i: 1.0, zs: -max(max_sell[i], 1.0)}, -np.inf, 0.0)
        m.add({zb: 1.0, zs: 1.0}, -np.inf, 1.0)
        per_share = fee_rate[i] * price[i]
        m.add({fee_col[i]: 1.0, b0 + i: -per_share, s0 + i: -per_share}, 0.0, np.inf)
        m.add({fee_col[i]: 1.0, zb: -fee_min[i], zs: -fee_min[i]}, 0.0, np.inf)
        if s.min_trade_value > 0:
            m.add({b0 + i: unit[i], zb: -s.min_trade_value}, 0.0, np.inf)
            m.add({s0 + i: unit[i], zs: -s.min_trade_value}, 0.0, np.inf)

    # Cash per account and currency, after trades, costs and conversions.
    for a in accounts:
        for c in currencies:
            coefs: dict[int, float] = {}
            for i, h in enumerate(rows):
                if h.account != a or h.currency != c:
                    continue
                linear = 0.0 if i in fee_col else fee_rate[i] * price[i]
                coefs[b0 + i] = -price[i] - linear
                coefs[s0 + i] = price[i] - linear - tax[i] * price[i]
                if i in fee_col:
                    coefs[fee_col[i]] = -1.0
            for j, (fa, fc) in enumerate(fx):
                if fa != a:
                    continue
                if fc == c:
                    coefs[fin0 + j] = 1.0
                    coefs[fout0 + j] = -1.0
                elif c == base:
                    coefs[fin0 + j] = -pf.rate(fc) * (1 + s.fx_spread)
                    coefs[fout0 + j] = pf.rate(fc) * (1 - s.fx_spread)
            m.add(coefs, -cash0[(a, c)], np.inf)

    # Deviations: e_k >= |v_k - t_k (V - K)|, cash likewise.
    for kx, t in enumerate(tickers):
        trade = {kk: weight[t]}
        for i, h in enumerate(rows):
            if h.ticker == t:
                trade[b0 + i] = unit[i]
                trade[s0 + i] = -unit[i]
        offset = value0[t] - weight[t] * total
        m.add({e0 + kx: 1.0, **{c: -v for c, v in trade.items()}}, offset, np.inf)
        m.add({e0 + kx: 1.0, **trade}, -offset, np.inf)
    # cash after = V - K - sum v: deviation (1 - t_cash)(V - K) - sum v0 - trades.
    cash_trade = {kk: 1.0 - cash_weight}
    for i in range(n):
        cash_trade[b0 + i] = unit[i]
        cash_trade[s0 + i] = -unit[i]
    offset = sum(value0.values()) - (1.0 - cash_weight) * total
    m.add({ec: 1.0, **{c: -v for c, v in cash_trade.items()}}, offset, np.inf)
    m.add({ec: 1.0, **cash_trade}, -offset, np.inf)

    def cap_row(group_tickers: tuple[str, ...], cap: float, rise: bool) -> tuple[dict, float]:
        coefs = {}
        start = 0.0
        for i, h in enumerate(rows):
            if h.ticker in group_tickers:
                coefs[b0 + i] = unit[i]
                coefs[s0 + i] = -unit[i]
                start += unit[i] * h.quantity
        if rise:
            coefs[kk] = cap
            return coefs, cap * total - start
        return coefs, 0.0

    def solve(unreachable: frozenset[str]) -> tuple[str, np.ndarray | None]:
        rows_here = _Rows()
        rows_here.r, rows_here.c, rows_here.v = list(m.r), list(m.c), list(m.v)
        rows_here.lo, rows_here.hi = list(m.lo), list(m.hi)
        for g in pf.groups:
            coefs, limit = cap_row(g.tickers, g.max_weight, g.name not in unreachable)
            rows_here.add(coefs, -np.inf, limit)
        matrix = sparse.csr_array(
            (rows_here.v, (rows_here.r, rows_here.c)), shape=(len(rows_here.lo), ncol)
        )
        res = milp(
            objective,
            constraints=LinearConstraint(matrix, rows_here.lo, rows_here.hi),
            integrality=integral,
            bounds=Bounds(lower, upper),
            options={"time_limit": time_limit, "disp": False, "mip_rel_gap": 0.0},
        )
        if res.status == 2:
            return "infeasible", None
        if res.x is None:
            return str(res.message), None
        return ("optimal" if res.status == 0 else "time_limit"), res.x

    above = [
        g
        for g in pf.groups
        if sum(value0.get(t, 0.0) for t in g.tickers) > g.max_weight * total + 1e-6
    ]
    if no_rise is None:
        # A group above its cap is unreachable when no plan gets it there, the other groups
        # above theirs being held to "no rise" (which doing nothing in them always keeps).
        others = frozenset(g.name for g in above)
        no_rise = frozenset(g.name for g in above if solve(others - {g.name})[0] == "infeasible")
    status, x = solve(no_rise)
    if x is None:
        return Reference(status, np.inf, np.inf, {}, tuple(sorted(no_rise)))
    trades = {}
    for i, h in enumerate(rows):
        q = float(x[b0 + i] - x[s0 + i])
        q = round(q) if not s.fractional else round(q, 9)
        if q != 0:
            trades[(h.account, h.ticker)] = q
    costs = float(x[kk])
    after = dict(value0)
    for (acc, t), q in trades.items():
        i = next(j for j, h in enumerate(rows) if h.account == acc and h.ticker == t)
        after[t] += q * unit[i]
    value_after = total - costs
    cash_after = value_after - sum(after.values())
    drift = sum(abs(v / value_after - weight[t]) for t, v in after.items()) + abs(
        cash_after / value_after - cash_weight
    )
    return Reference(status, float(objective @ x) / total, drift, trades, tuple(sorted(no_rise)))


def main() -> None:
    from xlrebalance.document import portfolio_from_dict

    for name in sys.argv[1:]:
        doc = json.loads(Path(name).read_text(encoding="utf-8"))
        ref = solve_reference(portfolio_from_dict(doc, offline=True))
        print(f"{name}: {ref.status} J/V {ref.objective:.8f} drift {ref.drift:.6f}")
        for (account, ticker), q in sorted(ref.trades.items()):
            print(f"  {account:<12}{ticker:<10}{q:>+14g}")


if __name__ == "__main__":
    main()
