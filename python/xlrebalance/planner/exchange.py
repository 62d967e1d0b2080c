"""The search for large books in a :class:`~xlrebalance.planner.session.PlanSession`.

The planner's own search (``search.improve``) settles the cash left over from rounding with
ejection chains, simulated one at a time: at 500 positions about 850 chains a plan, nearly all
rejected, most of a backtest's time. Here the same single moves run first, and then every
exchange of two positions (one bought and one sold by a step or a few, both in all orders)
is screened at once as a matrix with numpy; the improving ones are applied best first, each
checked exactly on the planner's own :class:`~xlrebalance.planner.state.TradeState`, and the
two alternate until neither improves. Work is bounded by rounds, not by the clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xlrebalance.planner.candidates import Candidates
from xlrebalance.planner.problem import FloatArray, IntArray
from xlrebalance.planner.search import (
    IMPROVE_EPS,
    MAX_ROUNDS,
    _keep_if_better,
    _pocket_slack,
    _single_moves,
    _StepMoves,
    _Vectors,
)
from xlrebalance.planner.state import COST_WEIGHT, TradeState

__all__ = ["EXCHANGE_STEPS", "exchange_search"]

EXCHANGE_STEPS = (1.0, 2.0, 3.0)
"""Steps by which each side of an exchange moves: one dear share may pay for several
cheaper ones (or several of one ticker for a dear one)."""

EXCHANGES_CHECKED = 2000
"""Improving exchanges of one kind checked exactly per round at most (the best ones)."""


def exchange_search(state: TradeState) -> None:
    """Improve ``state`` in place by single moves and exchanges until neither helps."""
    p = state.problem
    movable = [i for i in range(p.size) if p.lo[i] < 0 or p.hi[i] > 0]
    if not movable:
        return
    eps = IMPROVE_EPS * p.total
    v = _Vectors(state, movable)
    _cash_priced_start(state, v)
    for _ in range(MAX_ROUNDS):
        changed = _single_moves(state, v, eps, math.inf)
        if len(movable) >= 2:
            changed = _exchanges(state, v, eps) or changed
        if not changed:
            return


PRICE_GRID = 201
"""Prices of cash tried by :func:`_cash_priced_start`: this many over [-1, 1], then as many
again between the best one's neighbours."""
PRICED_STEPS = np.arange(-2.0, 3.0)
"""Steps each position may move in a cash-priced plan."""


def _cash_priced_start(state: TradeState, v: _Vectors) -> None:
    """Move ``state`` to the best of the plans that price cash: the objective's cash term
    ``|gap - sum cash_r|`` is the largest of ``lam * (gap - sum cash_r)`` over ``lam`` in
    [-1, 1], so for a fixed ``lam`` each position's best move (within a few steps) is its
    own choice, and those plans, over a grid of ``lam``, are scored at once exactly
    (:class:`~xlrebalance.planner.session.Candidates`). Which whole shares to round up or
    down is then decided for all positions together, where single moves and exchanges see
    one or two at a time. Kept only if it is better on the state itself."""
    p = state.problem
    c = Candidates(p)
    x = np.array([state.x[i] for i in c.idx.tolist()])
    dev = state.deviations()[v.tick]
    options = x[:, None] + PRICED_STEPS[None, :] * p.step
    options = np.where((x == 0)[:, None] & (np.abs(options) < v.min_qty[:, None]), 0.0, options)
    allowed = (options >= v.lo[:, None] - 1e-12) & (options <= v.hi[:, None] + 1e-12)
    allowed &= (options == 0) | (np.abs(options) >= v.min_qty[:, None] - 1e-12)
    moved = (options - x[:, None]) * v.unit[:, None]
    cost = v.cost(options.T).T - v.cost(x)[:, None]
    own = np.abs(dev[:, None] + moved + v.share[:, None] * cost) + COST_WEIGHT * cost
    own = np.where(allowed, own + v.tie[:, None] * np.abs(options), np.inf)
    cash = moved + state.cash_share * cost
    plans, scores, at = _priced_plans(c, options, own, cash, np.linspace(-1.0, 1.0, PRICE_GRID))
    width = 2.0 / (PRICE_GRID - 1)
    finer = np.linspace(max(at - width, -1.0), min(at + width, 1.0), PRICE_GRID)
    plans_fine, scores_fine, _ = _priced_plans(c, options, own, cash, finer)
    plans, scores = np.vstack([plans, plans_fine]), np.concatenate([scores, scores_fine])
    best = int(np.argmin(scores))
    if not float(scores[best]) < state.objective - IMPROVE_EPS * p.total:
        return
    before = state.objective
    changed = [
        (i, q) for i, q in zip(c.idx.tolist(), plans[best].tolist(), strict=True) if q != state.x[i]
    ]
    undo = [(i, state.x[i]) for i, _ in changed]
    for i, q in changed:
        state.apply(i, q)
    if state.is_feasible() and state.objective < before:
        return
    for i, q in reversed(undo):
        state.apply(i, q)


def _priced_plans(
    c: Candidates, options: FloatArray, own: FloatArray, cash: FloatArray, lams: FloatArray
) -> tuple[FloatArray, FloatArray, float]:
    """Each position's best option at each price of cash, the plans' exact scores, and the
    price of the best."""
    pick = np.argmin(own[None, :, :] + lams[:, None, None] * cash[None, :, :], axis=2)
    plans = options[np.arange(options.shape[0])[None, :], pick]
    scores, _ = c.score(plans)
    return plans, scores, float(lams[int(np.argmin(scores))])


def _steps(v: _Vectors, x: FloatArray, direction: float, count: float) -> _StepMoves:
    """Each position moved ``count`` steps in ``direction`` (the minimum trade size kept as
    one step is: from zero straight to it, and to zero rather than below it)."""
    if count == 1.0:
        return _StepMoves.of(v, x, direction)
    q = np.where(x == 0, direction * v.min_qty, x) + direction * (count - 1.0) * v.step
    q = np.where(x == 0, q, x + direction * count * v.step)
    below_min = (q != 0) & (np.abs(q) < v.min_qty - 1e-12) & (np.sign(q) == np.sign(x))
    q = np.where(below_min, 0.0, np.round(q, 9))
    ok = (q >= v.lo - 1e-12) & (q <= v.hi + 1e-12) & (q != x)
    ok &= (q == 0) | (np.abs(q) >= v.min_qty - 1e-12)
    d_tie = v.tie * (np.abs(q) - np.abs(x))
    return _StepMoves(q, (q - x) * v.unit, v.cost(q) - v.cost(x), d_tie, ok)


@dataclass
class _Side:
    """One side of the exchanges (the buys or the sells by some steps), as vectors: its own
    objective change ``own`` (its ticker's term, the others' to first order in the cost
    total, costs and the tie-break), what it takes from cash ``cash`` (value and the cost
    total's share of cash), what it needs from its pocket ``need``."""

    moves: _StepMoves
    own: FloatArray
    cash: FloatArray
    need: FloatArray


def _side(
    v: _Vectors, moves: _StepMoves, dev: FloatArray, slope: float, c1: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    sign = np.where(dev >= 0, 1.0, -1.0)
    d_cost = moves.d_cost
    own = (
        np.abs(dev + moves.dv + v.share * d_cost)
        - np.abs(dev)
        + (slope - v.share * sign + COST_WEIGHT) * d_cost
        + moves.d_tie
    )
    cash = moves.dv + c1 * d_cost
    need = moves.dv * (1 + v.spread) + d_cost
    return own, cash, need


def _best_partners(
    v: _Vectors, gap: float, b: _Side, s: _Side, room: FloatArray, eps: float
) -> list[tuple[int, int, float]]:
    """For every bought position, its best sold partner in each cash pocket, without looking
    at every pair: apart from the cash term the objective change of a pair is the sum of its
    two sides' (``own``), and the cash term ``|c_r - cash_s|`` (``c_r`` the gap after the buy)
    is ``c_r - cash_s`` for sales that move at most ``c_r`` and ``cash_s - c_r`` above it. With
    the sales sorted by what they move, the best of the first kind is a prefix minimum, the
    best of the second a range minimum (a sparse table) up to what the pocket can pay for."""
    out: list[tuple[int, int, float]] = []
    buyers = np.flatnonzero(b.moves.ok)
    if buyers.size == 0:
        return out
    c = gap - b.cash[buyers]
    for pocket in np.unique(v.pocket[s.moves.ok]).tolist():
        sellers = np.flatnonzero(s.moves.ok & (v.pocket == pocket))
        order = sellers[np.argsort(s.cash[sellers], kind="stable")]
        key = s.cash[order]
        below = s.own[order] - key  # plus c_r: the sale moves at most c_r
        above = s.own[order] + key  # minus c_r: it moves more
        running = np.minimum.accumulate(below)
        prefix_best = np.maximum.accumulate(np.where(below == running, np.arange(below.size), 0))
        table = _SparseArgmin(above)
        split = np.searchsorted(key, c, side="right")
        # Same pocket: buy and sale together may not need more than the pocket has (the
        # sale's need is its cash to within spread and fee share: checked exactly below).
        # Another pocket: the buy alone must be paid for.
        alone = np.where(b.need[buyers] <= room[buyers], np.inf, -np.inf)
        limit_value = np.where(v.pocket[buyers] == pocket, room[buyers] - b.need[buyers], alone)
        margin = np.where(np.isfinite(limit_value), 1e-6 * np.abs(limit_value), 0.0)
        limit = np.searchsorted(key, limit_value + margin, side="right")
        first_end = np.minimum(split, limit)
        has = first_end > 0
        picks = [
            (has, order[prefix_best[np.maximum(first_end - 1, 0)]]),
            (limit > split, order[table.query(split, np.maximum(limit, split + 1))]),
        ]
        for valid, partner in picks:
            cash_term = np.abs(c - s.cash[partner]) - abs(gap)
            delta = b.own[buyers] + s.own[partner] + cash_term
            same_pocket = v.pocket[partner] == v.pocket[buyers]
            afford = np.where(
                same_pocket,
                b.need[buyers] + s.need[partner] <= room[buyers],
                b.need[buyers] <= room[buyers],
            )
            keep = valid & afford & (delta < -eps) & (v.tick[partner] != v.tick[buyers])
            rows = buyers[keep].tolist()
            out.extend(zip(rows, partner[keep].tolist(), delta[keep].tolist(), strict=True))
    return out


class _SparseArgmin:
    """Where the minimum of ``values[lo:hi]`` is, for many ranges at once (a sparse table:
    the argmin of every range of a power-of-two length, so any range is two of them)."""

    def __init__(self, values: FloatArray) -> None:
        self.values = values
        n = values.shape[0]
        levels = [np.arange(n)]
        width = 1
        while 2 * width <= n:
            prev = levels[-1]
            left, right = prev[: n - width], prev[width:]
            best = np.where(values[right] < values[left], right, left)
            level = prev.copy()
            level[: n - 2 * width + 1] = best[: n - 2 * width + 1]
            levels.append(level)
            width *= 2
        self.table = np.stack(levels)

    def query(self, lo: IntArray, hi: IntArray) -> IntArray:
        """Argmin over ``[lo, hi)`` per pair (ranges must not be empty; clipped to the
        values)."""
        n = self.values.shape[0]
        lo = np.clip(lo, 0, n - 1)
        hi = np.clip(hi, lo + 1, n)
        level = np.floor(np.log2(hi - lo)).astype(np.int64)
        left = self.table[level, lo]
        right = self.table[level, hi - (1 << level)]
        best: IntArray = np.where(self.values[right] < self.values[left], right, left)
        return best


def _exchanges(state: TradeState, v: _Vectors, eps: float) -> bool:
    """Screen every (bought, sold) pair for each pair of step counts with numpy (to first
    order in the cost total, as the planner's own screens), then apply the improving ones
    best first, each checked exactly; a ticker takes part in one exchange a round."""
    movable = v.idx.tolist()
    x = np.array([state.x[i] for i in movable])
    dev = state.deviations()[v.tick]
    gap = state.cash_gap
    c1 = state.cash_share
    slope = state.slope
    room = _pocket_slack(state)[v.pocket]
    room = room + 1e-6 * np.abs(room) + 1e-6
    sides: dict[tuple[float, float], _Side] = {}
    for direction in (1.0, -1.0):
        for count in EXCHANGE_STEPS:
            moves = _steps(v, x, direction, count)
            own, cash, need = _side(v, moves, dev, slope, c1)
            sides[direction, count] = _Side(moves, own, cash, need)
    found: list[tuple[float, int, int, float, float]] = []
    for bought in EXCHANGE_STEPS:
        for sold in EXCHANGE_STEPS:
            if bought > 1 and sold > 1:
                continue  # one side moves a single step: the others are multiples
            b, s = sides[1.0, bought], sides[-1.0, sold]
            for r, c, d in _best_partners(v, gap, b, s, room, eps):
                found.append((d, r, c, float(b.moves.q[r]), float(s.moves.q[c])))
    found.sort()
    touched: set[int] = set()
    changed = False
    for _, r, c, q_buy, q_sell in found:
        tickers = (int(v.tick[r]), int(v.tick[c]))
        if tickers[0] in touched or tickers[1] in touched:
            continue
        if state.x[movable[r]] != x[r] or state.x[movable[c]] != x[c]:
            continue
        if _keep_if_better(state, movable, [(c, q_sell), (r, q_buy)], eps):
            touched.update(tickers)
            changed = True
    return changed
