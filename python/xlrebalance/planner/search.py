"""The fast path: round the LP relaxation, repair it, then improve it with local moves.

Rounding buys down and sales up only ever adds cash, so the rounded plan is nearly feasible;
``repair`` fixes what the relaxation could not see (minimum fees, minimum trade sizes).
``improve`` then applies single moves (one step up or down, straight to the ticker's ideal
quantity, back to zero) until none helps, and exchange moves (one position up, another down)
that settle the cash left over from rounding -- the part of the problem that is a subset sum.
"""

from __future__ import annotations

import math
import time

import numpy as np

from xlrebalance.errors import InfeasibleError
from xlrebalance.planner.problem import FloatArray, Problem
from xlrebalance.planner.state import TradeState

IMPROVE_EPS = 1e-9


def round_trades(problem: Problem, relaxed: FloatArray) -> FloatArray:
    step = problem.step
    out = np.zeros(problem.size)
    for i, q in enumerate(relaxed.tolist()):
        if q > 0:
            r = math.floor(q / step + 1e-9) * step
        elif q < 0:
            r = -min(problem.held[i], math.ceil(-q / step - 1e-9) * step)
            r = max(r, problem.lo[i])
        else:
            r = 0.0
        out[i] = round(r, 9)
    return out


def _snap_to_min_trade(state: TradeState) -> None:
    for i, q in enumerate(state.x):
        if q != 0 and abs(q) < state.min_qty[i] - 1e-12:
            bigger = math.copysign(state.min_qty[i], q)
            state.apply(i, bigger if q < 0 and state.allowed(i, bigger) else 0.0)


def repair(state: TradeState) -> None:
    """Make the plan feasible by cutting buys, then by selling, in the offending account or
    group; raise :class:`InfeasibleError` when nothing more can be done."""
    _snap_to_min_trade(state)
    p = state.problem
    for _ in range(10 * p.size + 100):
        bad_accounts = [a for a, ok in enumerate(state.feasible) if not ok]
        bad_caps = state.violated_caps()
        if not bad_accounts and not bad_caps:
            return
        if bad_accounts:
            a = bad_accounts[0]
            pool = np.flatnonzero(p.account == a).tolist()
            need = state.shortfall[a]
        else:
            g = bad_caps[0]
            pool = sorted(state.cap_members(g))
            need = p.total  # cut one step at a time; caps are rare and small
        move = _best_relief(state, pool, need)
        if move is None:
            if bad_accounts:
                a = bad_accounts[0]
                raise InfeasibleError(
                    f"account {p.accounts[a]!r}: cash is short by "
                    f"{state.shortfall[a]:,.2f} {p.currencies[p.base]} and nothing more may be "
                    "sold (check the withdrawal, the mode, locked rows and bands)"
                )
            raise InfeasibleError("a group cap cannot be met")
        state.apply(*move)
    raise InfeasibleError("could not find a plan that respects cash and caps")


def _best_relief(state: TradeState, pool: list[int], need: float) -> tuple[int, float] | None:
    """Cut a buy (cheapest in objective first), else add a sale, sized to cover ``need``."""
    step = state.problem.step
    best: tuple[float, int, float] | None = None
    for want_buys in (True, False):
        for i in pool:
            x = state.x[i]
            if want_buys and x <= 0:
                continue
            if not want_buys and (x > 0 or x <= state.lo[i]):
                continue
            shares = max(step, math.ceil(need / state.problem.unit[i] / step) * step)
            if want_buys:
                q = max(0.0, x - shares)
                if 0 < q < state.min_qty[i]:
                    q = 0.0
            else:
                q = max(state.lo[i], x - shares)
                if 0 < -q < state.min_qty[i]:
                    q = max(state.lo[i], -state.min_qty[i])
            q = round(q, 9)
            if q == x:
                continue
            delta, _ = state.evaluate(i, q)
            if best is None or delta < best[0]:
                best = (delta, i, q)
        if best is not None:
            return best[1], best[2]
    return None


def _candidates(state: TradeState, i: int) -> list[float]:
    """Quantities worth trying for position ``i`` from where it is."""
    step = state.problem.step
    x = state.x[i]
    out = {x + step, x - step, 0.0}
    if x == 0:
        out.update((state.min_qty[i], -state.min_qty[i]))
    k = state.problem.ticker[i]
    ideal_shift = (state.target[k] - state.value[k]) / state.problem.unit[i]
    for r in (math.floor(ideal_shift / step) * step, math.ceil(ideal_shift / step) * step):
        out.add(x + r)
    result = []
    for q in out:
        q = round(q, 9)
        if 0 < abs(q) < state.min_qty[i]:
            continue
        q = min(max(q, state.lo[i]), state.hi[i])
        if q != x and state.allowed(i, q):
            result.append(q)
    return sorted(result)


def improve(state: TradeState, deadline: float) -> None:
    """Local search until no move improves the objective (or the deadline passes)."""
    p = state.problem
    movable = [i for i in range(p.size) if p.lo[i] < 0 or p.hi[i] > 0]
    eps = IMPROVE_EPS * p.total
    while time.perf_counter() < deadline:
        changed = _single_moves(state, movable, eps, deadline)
        changed = _exchange_moves(state, movable, eps) or changed
        if not changed:
            return


def _single_moves(state: TradeState, movable: list[int], eps: float, deadline: float) -> bool:
    changed = False
    while time.perf_counter() < deadline:
        improved = False
        for i in movable:
            best_delta, best_q = -eps, None
            for q in _candidates(state, i):
                delta, ok = state.evaluate(i, q)
                if ok and delta < best_delta:
                    best_delta, best_q = delta, q
            if best_q is not None:
                state.apply(i, best_q)
                improved = changed = True
        if not improved:
            break
    return changed


def _step_move(state: TradeState, i: int, direction: int) -> float | None:
    step = state.problem.step
    x = state.x[i]
    q = x + direction * step
    if x == 0:
        q = direction * state.min_qty[i]
    elif 0 < abs(q) < state.min_qty[i]:
        q = 0.0
    q = round(q, 9)
    return q if state.allowed(i, q) else None


def _exchange_moves(state: TradeState, movable: list[int], eps: float) -> bool:
    """Apply the best pair (one position up, one down) while it improves the objective."""
    p = state.problem
    changed = False
    for _ in range(4 * len(movable) + 10):
        ups, downs = [], []
        for i in movable:
            for direction, bucket in ((1, ups), (-1, downs)):
                q = _step_move(state, i, direction)
                if q is None:
                    continue
                gap = state.gap
                delta, _ = state.evaluate(i, q)
                dv = (q - state.x[i]) * state._unit[i]
                local = delta - (abs(gap - dv) - abs(gap))
                bucket.append((i, q, local, dv))
        if not ups or not downs:
            return changed
        up_local = np.array([u[2] for u in ups])
        up_dv = np.array([u[3] for u in ups])
        down_local = np.array([d[2] for d in downs])
        down_dv = np.array([d[3] for d in downs])
        gap = state.gap
        score = (
            up_local[:, None]
            + down_local[None, :]
            + np.abs(gap - up_dv[:, None] - down_dv[None, :])
            - abs(gap)
        )
        up_ticker = p.ticker[[u[0] for u in ups]]
        down_ticker = p.ticker[[d[0] for d in downs]]
        score[up_ticker[:, None] == down_ticker[None, :]] = np.inf
        applied = False
        order = np.argsort(score, axis=None, kind="stable")[:32]
        for flat in order.tolist():
            if score.flat[flat] >= -eps:
                break
            r, c = divmod(flat, score.shape[1])
            i, qi = ups[r][0], ups[r][1]
            j, qj = downs[c][0], downs[c][1]
            before = state.objective
            old_i, old_j = state.x[i], state.x[j]
            state.apply(i, qi)
            state.apply(j, qj)
            if state.is_feasible() and state.objective < before - eps:
                applied = changed = True
                break
            state.apply(j, old_j)
            state.apply(i, old_i)
        if not applied:
            return changed
    return changed


def separable_bound(problem: Problem) -> float:
    """A lower bound on the objective that knows shares are whole: each ticker on its own,
    at its cheapest fee rate, ignoring cash (whose term is >= 0)."""
    p = problem
    total = 0.0
    step = p.step
    for k in range(len(p.tickers)):
        members = np.flatnonzero(p.ticker == k)
        unit = float(p.unit[members[0]])
        value = float(p.unit[members] @ p.held[members])
        lo = float(p.lo[members].sum())
        hi = float(p.hi[members].sum())
        rate = float(np.min(p.fee_rate[members]))
        target = float(p.target_value[k])
        ideal = (target - value) / unit
        candidates = {0.0, lo, hi}
        for c in (math.floor(ideal / step) * step, math.ceil(ideal / step) * step):
            candidates.add(min(max(c, lo), hi))
        total += min(abs(value + q * unit - target) + rate * unit * abs(q) for q in candidates)
    return total
