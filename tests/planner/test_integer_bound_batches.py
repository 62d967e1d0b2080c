"""The integer bound's multiplier grids are evaluated as batches (search._TickerBound); each
point must be worth exactly what the plain one-point-at-a-time loop gives, bit for bit: the
bound decides a plan's reported gap and status, and must not move with how it is computed."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_planner_properties import portfolios

from xlrebalance.document import portfolio_from_dict
from xlrebalance.errors import PortfolioError
from xlrebalance.planner.problem import FloatArray, Problem, build_problem
from xlrebalance.planner.search import _TickerBound
from xlrebalance.planner.state import COST_WEIGHT


def _problem(doc: dict[str, Any]) -> Problem:
    try:
        return build_problem(portfolio_from_dict(doc))
    except PortfolioError:
        assume(False)
        raise


def _best_prices_point_by_point(b: _TickerBound, lam: float, mu: FloatArray) -> FloatArray:
    weight = COST_WEIGHT - lam * b.c1 - b.s_total
    if weight < 0:
        return mu
    f = (b.base + weight * b.phi - lam * b.move)[b.single]
    move, account = b.move[b.single], b.account[b.single]
    out = mu.copy()
    for coarse in (True, False):
        if coarse:
            grid = np.linspace(0.0, 2.5, 51)
            points = np.broadcast_to(grid, (b.n_acc, grid.shape[0]))
        else:
            points = np.maximum(out[:, None] + np.linspace(-0.05, 0.05, 21)[None, :], 0.0)
        totals = np.empty(points.shape)
        for j in range(points.shape[1]):
            price = points[account, j]
            chosen = (f + price[:, None] * move).min(axis=1)
            totals[:, j] = np.bincount(account, chosen, b.n_acc) - points[:, j] * b.cash
        out = points[np.arange(b.n_acc), np.argmax(totals, axis=1)].copy()
    return out


def _grid_point_by_point(b: _TickerBound, lams: FloatArray, mu: FloatArray) -> FloatArray:
    weight = COST_WEIGHT - lams * b.c1 - b.s_total
    price, penalty = b._prices(mu)
    f = (
        b.base[None]
        + weight[:, None, None] * b.phi[None]
        + (price[None, :, None] - lams[:, None, None]) * b.move[None]
    )
    values = lams * b.gap0 + f.min(axis=2).sum(axis=1) - penalty - float(mu @ b.cash)
    return np.where(weight >= 0, values, -np.inf)


@settings(deadline=None, max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios(), st.floats(-1.0, 1.0), st.floats(0.0, 2.0))
def test_batched_grids_equal_the_point_by_point_loop(
    doc: dict[str, Any], lam: float, scale: float
) -> None:
    b = _TickerBound(_problem(doc))
    mu = np.linspace(0.0, scale, b.n_acc)
    assert b.best_prices(lam, mu).tobytes() == _best_prices_point_by_point(b, lam, mu).tobytes()
    lams = np.linspace(-1.0, 1.0, 41)
    values = _grid_point_by_point(b, lams, mu)
    at = len(lams) - 1 - int(np.argmax(values[::-1]))
    assert b.best_on_grid(lams, mu) == (float(values[at]), float(lams[at]))
