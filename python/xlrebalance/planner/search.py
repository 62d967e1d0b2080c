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
from dataclasses import dataclass

import numpy as np

from xlrebalance.errors import InfeasibleError
from xlrebalance.planner.costs import CASH_TOLERANCE
from xlrebalance.planner.problem import FloatArray, Problem
from xlrebalance.planner.state import COST_WEIGHT, TURNOVER_WEIGHT, TradeState

IMPROVE_EPS = 1e-9
TIE_NOISE = 1e-12
"""Objective change (share of the portfolio) that counts as float noise in a tie."""
MAX_ROUNDS = 200
KICKS_PER_ROUND = 32
CHAIN_BUDGET = 4000
"""Chains simulated per plan at most: bounds the search on large, far-off books."""
CHAIN_WORK = 2_000_000
"""A chain costs work in proportion to the movable positions; on books above 500 of them the
budget shrinks so that chains times positions stays under this (10,000 positions: 200)."""
"""Work bounds keep plans deterministic; the wall-clock deadline is only a safety net."""


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


def _net_unit(p: Problem, i: int) -> float:
    """What selling one share of position ``i`` brings after its proportional costs, in base
    currency (at least half its value: a bound for sizing, not a price)."""
    spread = p.fx_spread if p.auto_fx and int(p.currency[i]) != p.base else 0.0
    kept = 1.0 - float(p.fee_rate[i]) - float(p.tax_rate[i]) - spread
    return float(p.unit[i]) * max(kept, 0.5)


def _fee_min_base(p: Problem, i: int) -> float:
    return float(p.fee_min_native[i] * p.rate[p.currency[i]])


def repair(state: TradeState, *, keep_cash: bool = False) -> None:
    """Make the plan feasible: in the offending account or group, apply the allowed change
    (cut a buy, undo a trade, sell more) that relieves the most infeasibility per unit of
    objective it costs; raise :class:`InfeasibleError` when no change relieves anything.

    ``keep_cash``: a change that brings a group toward its cap may not leave an account
    short (a sale whose minimum fee is more than it brings); where no other change can, the
    cap is found unreachable instead."""
    _snap_to_min_trade(state)
    p = state.problem
    step = p.step
    for _ in range(4 * p.size + 100):
        bad_accounts = [a for a, ok in enumerate(state.feasible) if not ok]
        bad_caps = state.violated_caps()
        if not bad_accounts and not bad_caps:
            return
        if bad_accounts:
            pool = np.flatnonzero(p.account == bad_accounts[0]).tolist()
            need = state.shortfall[bad_accounts[0]]
        else:
            pool = sorted(state.cap_members(bad_caps[0]))
            need = state.cap_violation(bad_caps[0])
        before = state.infeasibility()
        # Changes that cover the whole need come first, then the cheapest relief per unit of
        # objective: a one-step relief at the same rate would take thousands of rounds.
        best: tuple[tuple[bool, float], int, float] | None = None
        for i in pool:
            x = state.x[i]
            # A little more than the need: the sale's own costs (tax, fees, the FX spread on
            # foreign proceeds) come out of what it brings, and a change that falls short by
            # them would not count as covering (a 0.2% tax once made repair crawl in 1e-6
            # share steps and give up). A sale that starts a trade pays its minimum fee too.
            cover = need * 1.001 + (_fee_min_base(p, i) if x == 0 else 0.0)
            shares = max(step, math.ceil(cover / _net_unit(p, i) / step) * step)
            for q in sorted({0.0, x - step, x - shares}):
                q = round(max(q, state.lo[i]), 9)
                if 0 < abs(q) < state.min_qty[i]:
                    q = 0.0 if x > 0 else round(max(state.lo[i], -state.min_qty[i]), 9)
                if q == x or not state.allowed(i, q):
                    continue
                delta, _ = state.evaluate(i, q)
                state.apply(i, q)
                relief = before - state.infeasibility()
                if keep_cash and not bad_accounts and not state.account_feasible():
                    relief = 0.0
                state.apply(i, x)
                if relief <= CASH_TOLERANCE:
                    continue
                key = (relief < need * (1 - 1e-9), delta / relief)
                if best is None or key < best[0]:
                    best = (key, i, q)
        if best is None:
            if bad_accounts or not state.cap_started_above[bad_caps[0]]:
                break
            state.relax_cap(bad_caps[0])
            continue
        state.apply(best[1], best[2])
    if bad_accounts := [a for a, ok in enumerate(state.feasible) if not ok]:
        a = bad_accounts[0]
        raise InfeasibleError(
            f"account {p.accounts[a]!r}: {_shortfall_text(state, a)} and nothing more may be "
            "sold (check the withdrawal, the mode, locked rows, bands and the minimum trade "
            "value)"
        )
    if bad_caps := state.violated_caps():
        raise InfeasibleError(f"group cap {state.cap_names[bad_caps[0]]!r} cannot be met")


def _shortfall_text(state: TradeState, a: int) -> str:
    """Where account ``a`` is short, in the currencies it is short of. Without automatic FX
    each currency settles on its own, so a USD withdrawal is short in USD, not in base."""
    p = state.problem
    if p.auto_fx:
        return (
            f"cash is short by {state.shortfall[a]:,.2f} {p.currencies[p.base]} "
            "(all its currencies counted, converted at the FX rates)"
        )
    parts = [
        f"{c} cash is short by {-b:,.2f} {c}"
        for c, b in zip(p.currencies, state.balances[a], strict=True)
        if b < -CASH_TOLERANCE
    ]
    return ", ".join(parts) + " (auto_fx is off: other currencies cannot pay for it)"


def improve(state: TradeState, deadline: float) -> None:
    """Local search until no move improves the objective (or the deadline passes)."""
    p = state.problem
    movable = [i for i in range(p.size) if p.lo[i] < 0 or p.hi[i] > 0]
    eps = IMPROVE_EPS * p.total
    if not movable:
        return
    vectors = _Vectors(state, movable)
    budget = [max(100, min(CHAIN_BUDGET, CHAIN_WORK // len(movable)))]
    for _ in range(MAX_ROUNDS):
        if time.perf_counter() > deadline:
            return
        changed = _single_moves(state, vectors, eps, deadline)
        changed = _compound_moves(state, vectors, eps, deadline, budget) or changed
        if not changed:
            return


def _single_moves(state: TradeState, v: _Vectors, eps: float, deadline: float) -> bool:
    """Best single moves first: screen every position's step up, step down, jump to its
    ticker's ideal quantity and return to zero with numpy, then apply the improving ones in
    order, each re-checked exactly against the current state."""
    movable = v.idx.tolist()
    changed = False
    for _ in range(MAX_ROUNDS):
        if time.perf_counter() > deadline:
            break
        x = np.array([state.x[i] for i in movable])
        dev = state.deviations()[v.tick]
        gap = state.cash_gap
        # Costs move every target (t_k K); to first order the other tickers' terms change by
        # their slope times the change in K (screening only: moves are checked exactly).
        others = state.slope - v.share * np.where(dev >= 0, 1.0, -1.0)
        c1 = state.cash_share
        shift = -dev / v.unit / v.step
        # Moves that spend more than their account has are screened out before the exact
        # check (with thousands of small accounts, most buys are: 466,000 exact checks).
        slack = _pocket_slack(state)[v.pocket]
        options = [
            v.next_quantity(x, 1.0),
            v.next_quantity(x, -1.0),
            np.zeros_like(x),
            np.round(x + np.floor(shift) * v.step, 9),
            np.round(x + np.ceil(shift) * v.step, 9),
        ]
        if state.problem.fractional:
            options.append(v.within_room(x, np.ceil(shift), slack, v.headroom(state)))
        found: list[tuple[float, int, float]] = []
        base_cost = v.cost(x)
        for q in options:
            q = np.clip(q, v.lo, v.hi)
            q = np.where((q != 0) & (np.abs(q) < v.min_qty - 1e-12), x, q)
            dv = (q - x) * v.unit
            d_cost = v.cost(q) - base_cost
            delta = (
                np.abs(dev + dv + v.share * d_cost)
                - np.abs(dev)
                + others * d_cost
                + np.abs(gap - dv - c1 * d_cost)
                - abs(gap)
                + COST_WEIGHT * d_cost
                + v.tie * (np.abs(q) - np.abs(x))
            )
            affordable = dv * (1 + v.spread) + d_cost <= slack + 1e-6 * np.abs(slack) + 1e-6
            for r in np.flatnonzero((delta < -eps) & (q != x) & affordable).tolist():
                found.append((float(delta[r]), r, float(q[r])))
        found.sort()
        applied = False
        for _, r, to in found:
            i = movable[r]
            if to == state.x[i] or not state.allowed(i, to):
                continue
            change, ok = state.evaluate(i, to)
            if ok and change < -eps:
                state.apply(i, to)
                applied = changed = True
        if not applied:
            break
    return changed


class _Vectors:
    """The movable positions as numpy arrays, for screening many moves at once."""

    def __init__(self, state: TradeState, movable: list[int]) -> None:
        p = state.problem
        self.idx = np.array(movable, dtype=np.int64)
        idx = self.idx
        self.unit = p.unit[idx]
        rate = p.rate[p.currency[idx]]
        self.fee_rate = p.fee_rate[idx] * self.unit
        self.fee_min = p.fee_min_native[idx] * rate
        self.tax = p.tax_rate[idx] * self.unit
        self.tie = TURNOVER_WEIGHT * self.unit  # the tie-break's weight per share
        self.tick = p.ticker[idx]
        self.share = (p.target_value / p.total)[self.tick]
        self.lo, self.hi = p.lo[idx], p.hi[idx]
        self.min_qty = np.array([state.min_qty[i] for i in movable])
        self.step = p.step
        foreign = p.currency[idx] != p.base
        self.spread = np.where(foreign & p.auto_fx, p.fx_spread, 0.0)
        # Cash "pockets": a whole account with automatic FX, else one per account and currency.
        ncur = len(p.currencies)
        self.pocket = p.account[idx] * (1 if p.auto_fx else ncur) + (
            0 if p.auto_fx else p.currency[idx]
        )
        self.members: np.ndarray | None = None  # caps x positions, built on first use

    def cost(self, q: np.ndarray) -> np.ndarray:
        fee = np.maximum(self.fee_rate * np.abs(q), self.fee_min)
        out: np.ndarray = np.where(q != 0, fee, 0.0) + self.tax * np.maximum(-q, 0.0)
        return out

    def within_room(
        self, x: np.ndarray, steps: np.ndarray, slack: np.ndarray, headroom: np.ndarray
    ) -> np.ndarray:
        """Up by ``steps`` (where positive) as far as the pocket's cash pays for and the
        position's group caps leave room, fees counted at their rate plus the minimum where a
        trade starts (so the screen errs short). Where cash or a cap stops a position before
        its ideal quantity, single steps would creep there 10**-6 share at a time: a few
        dollars freed by a sale undone once took 40,000 rounds (10 s)."""
        start_fee = np.where(x == 0, self.fee_min, 0.0)
        cash = np.maximum(slack - start_fee, 0.0) / (self.unit * (1 + self.spread) + self.fee_rate)
        # A cap counts costs at its weight (at most 1): value plus fees bounds it.
        cap = np.maximum(headroom - start_fee, 0.0) / (self.unit + self.fee_rate)
        reach = np.floor(np.minimum(cash, cap) / self.step) * self.step
        up = np.minimum(np.maximum(steps, 0.0) * self.step, reach)
        return np.asarray(np.round(x + up, 9), dtype=np.float64)

    def headroom(self, state: TradeState) -> np.ndarray:
        """How much each position's value may still rise before one of its caps binds."""
        if self.members is None:
            self.members = np.array(
                [[i in state.cap_members(g) for i in self.idx.tolist()] for g in state.cap_ids()],
                dtype=bool,
            ).reshape(-1, len(self.idx))
        rooms = np.array([state.cap_headroom(g) for g in state.cap_ids()])
        if not len(rooms):
            return np.full(len(self.idx), np.inf)
        return np.asarray(np.where(self.members, rooms[:, None], np.inf).min(axis=0))

    def next_quantity(self, x: np.ndarray, direction: float) -> np.ndarray:
        """One step from ``x``: from zero straight to the minimum trade, and back to zero
        rather than below it (``_StepMoves.update`` is the same rule for one position)."""
        min_qty = self.min_qty
        q = np.where(x == 0, direction * min_qty, x + direction * self.step)
        below_min = (q != 0) & (np.abs(q) < min_qty - 1e-12) & (np.sign(q) == np.sign(x))
        q = np.where(below_min, 0.0, np.round(q, 9))
        return q


def _pocket_slack(state: TradeState) -> np.ndarray:
    """Cash each pocket could still spend, in base currency (screening only)."""
    p = state.problem
    balances = np.array(state.balances) * p.rate[None, :]
    if not p.auto_fx:
        return balances.ravel()
    foreign = np.arange(len(p.currencies)) != p.base
    haircut = np.where(foreign[None, :] & (balances > 0), 1 - p.fx_spread, 1.0)
    return np.asarray((balances * haircut).sum(axis=1))


@dataclass
class _StepMoves:
    """For every movable position: its next step in one direction, the value that moves,
    the change in its costs, and whether the step is within bounds."""

    q: np.ndarray
    dv: np.ndarray
    d_cost: np.ndarray
    d_tie: np.ndarray  # change of the tie-break term
    ok: np.ndarray

    @classmethod
    def of(cls, v: _Vectors, x: np.ndarray, direction: float) -> _StepMoves:
        q = v.next_quantity(x, direction)
        ok = (q >= v.lo - 1e-12) & (q <= v.hi + 1e-12) & (q != x)
        d_tie = v.tie * (np.abs(q) - np.abs(x))
        return cls(q, (q - x) * v.unit, v.cost(q) - v.cost(x), d_tie, ok)

    def copy(self) -> _StepMoves:
        return _StepMoves(
            self.q.copy(), self.dv.copy(), self.d_cost.copy(), self.d_tie.copy(), self.ok.copy()
        )

    def update(self, v: _Vectors, r: int, x: float, direction: float) -> None:
        """Recompute entry ``r`` after position r moved to ``x``."""
        min_qty = float(v.min_qty[r])
        if x == 0:
            q = direction * min_qty
        else:
            q = x + direction * v.step
            if q != 0 and abs(q) < min_qty - 1e-12 and (q > 0) == (x > 0):
                q = 0.0
            q = round(q, 9)
        self.q[r] = q
        self.dv[r] = (q - x) * v.unit[r]
        self.d_cost[r] = _cost_one(v, r, q) - _cost_one(v, r, x)
        self.d_tie[r] = float(v.tie[r]) * (abs(q) - abs(x))
        self.ok[r] = v.lo[r] - 1e-12 <= q <= v.hi[r] + 1e-12 and q != x


def _compound_moves(
    state: TradeState,
    v: _Vectors,
    eps: float,
    deadline: float,
    budget: list[int],
    depth: int = 12,
) -> bool:
    """Kick one position by a step, then let a greedy chain of single steps settle cash and
    deviations again (an ejection chain); keep the chain when it improves the exact objective.

    Single moves cannot find these when cash sits at its target or an account has none to
    spare: one dear share bought with three cheaper ones sold is worth it only as a whole.
    Chains are screened with numpy on linear approximations of cash and checked exactly."""
    movable = v.idx.tolist()
    n = len(movable)
    if n < 2:
        return False
    changed = False
    for _ in range(MAX_ROUNDS):
        if time.perf_counter() > deadline or budget[0] <= 0:
            break
        x0, dev0, slack0, moves = _snapshot(state, v)
        kicks: list[tuple[float, int, int]] = []
        for d, m in enumerate(moves):
            local = (
                np.abs(dev0[v.tick] + m.dv)
                - np.abs(dev0[v.tick])
                + COST_WEIGHT * m.d_cost
                + m.d_tie
            )
            kicks.extend((float(local[r]), r, d) for r in np.flatnonzero(m.ok).tolist())
        kicks.sort()
        improved = False
        touched: set[int] = set()
        for _, r, d in kicks[: max(KICKS_PER_ROUND, n // 4)]:
            if time.perf_counter() > deadline:
                break
            if int(v.tick[r]) in touched or budget[0] <= 0:
                continue
            for patient in (False, True):
                budget[0] -= 1
                chain = _simulate_chain(
                    state, v, x0, dev0, slack0, moves, r, d, depth, eps, patient=patient
                )
                if chain is None or not _keep_if_better(state, movable, chain, eps):
                    continue
                improved = changed = True
                touched.update(int(v.tick[c]) for c, _ in chain)
                x0, dev0, slack0, moves = _snapshot(state, v)
                break
        if not improved:
            break
    return changed


def _snapshot(
    state: TradeState, v: _Vectors
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[_StepMoves, _StepMoves]]:
    """Trades, ticker deviations, pocket cash and next steps that chains start from."""
    x = np.array([state.x[i] for i in v.idx.tolist()])
    dev = state.deviations()
    moves = (_StepMoves.of(v, x, 1.0), _StepMoves.of(v, x, -1.0))
    return x, dev, _pocket_slack(state), moves


def _keep_if_better(
    state: TradeState, movable: list[int], chain: list[tuple[int, float]], eps: float
) -> bool:
    """Apply ``chain`` exactly; keep it if the plan stays feasible and improves, else undo."""
    if not all(state.allowed(movable[c], q) for c, q in chain):
        return False
    before, orders = state.objective, state.orders
    old = {movable[c]: state.x[movable[c]] for c, _ in chain}
    for c, q in chain:
        state.apply(movable[c], q)
    if state.is_feasible() and (
        state.objective < before - eps
        # The second tie-break, fewest orders: an exchange that leaves the objective where
        # it was (to float noise; never higher, so no cycle) and drops an order is kept.
        or (state.objective <= before + TIE_NOISE * state.problem.total and state.orders < orders)
    ):
        return True
    for i, q in reversed(list(old.items())):
        state.apply(i, q)
    return False


def _simulate_chain(
    state: TradeState,
    v: _Vectors,
    x0: np.ndarray,
    dev0: np.ndarray,
    slack0: np.ndarray,
    moves0: tuple[_StepMoves, _StepMoves],
    kick: int,
    kick_direction: int,
    depth: int,
    eps: float,
    patient: bool = False,
) -> list[tuple[int, float]] | None:
    """The kick followed by greedy single steps; None when the chain does not pay.

    Greedy takes the step that improves the objective most. ``patient`` takes, among the
    improving steps that shrink the cash imbalance the kick made, the one that costs its own
    ticker least per unit of imbalance removed: a dear share sold is then spread over several
    small buys that each move toward target, where greedy would grab one equally dear buy
    that overshoots."""
    x = x0.copy()
    dev = dev0.copy()
    slack = slack0.copy()
    moves = (moves0[0].copy(), moves0[1].copy())
    gap = state.cash_gap  # below target after costs
    c1 = state.cash_share
    slope = state.slope  # the other tickers' terms per unit of cost, to first order
    chain: dict[int, float] = {}
    total = 0.0

    def take(r: int, d: int) -> None:
        nonlocal gap, total
        m = moves[d]
        dv, d_cost = float(m.dv[r]), float(m.d_cost[r])
        t = v.tick[r]
        share = float(v.share[r])
        total += (
            abs(dev[t] + dv + share * d_cost)
            - abs(dev[t])
            + (slope - share) * d_cost
            + abs(gap - dv - c1 * d_cost)
            - abs(gap)
            + COST_WEIGHT * d_cost
            + float(m.d_tie[r])
        )
        slack[v.pocket[r]] -= dv * (1 + v.spread[r]) + d_cost
        dev[t] += dv + share * d_cost
        gap -= dv + c1 * d_cost
        x[r] = m.q[r]
        chain[r] = float(m.q[r])
        moves[0].update(v, r, float(x[r]), 1.0)
        moves[1].update(v, r, float(x[r]), -1.0)

    take(kick, kick_direction)
    for _ in range(depth):
        dev_p = dev[v.tick]
        abs_dev = np.abs(dev_p)
        pocket_slack = slack[v.pocket]
        best_score, best = np.inf, None
        for d, m in enumerate(moves):
            local = np.abs(dev_p + m.dv) - abs_dev + (COST_WEIGHT + slope) * m.d_cost + m.d_tie
            cash_term = np.abs(gap - m.dv - c1 * m.d_cost) - abs(gap)
            delta = local + cash_term
            need = m.dv * (1 + v.spread) + m.d_cost
            # Every step must improve; patient steps must also shrink the cash imbalance.
            bad = ~m.ok | (need > pocket_slack + 1e-9) | (delta >= -eps)
            bad[kick] = True
            if patient:
                bad |= cash_term >= 0
                # Cost to its own ticker per unit of imbalance removed.
                score = np.where(bad, np.inf, local / np.where(bad, 1.0, -cash_term))
            else:
                score = np.where(bad, np.inf, delta)
            r = int(np.argmin(score))
            if score[r] < best_score:
                best_score, best = float(score[r]), (r, d)
        if best is None:
            break
        take(*best)
        if total < -eps and bool((slack >= -1e-9).all()):
            break
    if total >= -eps:
        # Not an improvement; still worth an exact check when it may be a tie that closes
        # an order (the fewest-orders tie-break, see ``_keep_if_better``).
        closes = sum(1 for r, q in chain.items() if q == 0 and x0[r] != 0)
        opens = sum(1 for r, q in chain.items() if q != 0 and x0[r] == 0)
        if total > eps or closes <= opens:
            return None
    return list(chain.items())


def _cost_one(v: _Vectors, r: int, q: float) -> float:
    if q == 0:
        return float(v.tax[r] * max(-q, 0.0))
    fee = max(float(v.fee_rate[r]) * abs(q), float(v.fee_min[r]))
    return fee + float(v.tax[r]) * max(-q, 0.0)


def integer_bound(
    problem: Problem,
    multipliers: int = 41,
    upper: float | None = None,
    proven_within: float = 0.0,
) -> float:
    """A lower bound on the objective that knows shares are whole and that cash couples
    the tickers (a Lagrangian bound).

    With ``D_k = d_k + u_k q_k`` (value minus target before costs, ``q_k`` the ticker's net
    trade), ``c1 = 1 - t_cash``, ``S = sum t_k`` and ``K >= phi = sum_k phi_k`` (the cheapest
    fee rate and the ticker's sell tax; minimum fees and spread only add), for any ``lam`` in
    [-1, 1]: ``|cash gap| >= lam * (g0 - sum_k u_k q_k - c1 K)`` and
    ``|D_k + t_k K| >= |D_k + t_k phi_k| - t_k (K - phi_k)``, so, as ``W - lam c1 - S >= 0``,
    the objective is at least ``lam g0 + sum_k min_q (|D_k + t_k phi_k| - lam u_k q
    + (W - lam c1 - S + t_k) phi_k + rho u_k |q|)``: one small problem per ticker. Each is
    piecewise linear in ``q`` with kinks at 0 and at its roots, so its minimum over whole
    shares sits next to one of those or at a bound. ``lam = 0`` is the plain per-ticker bound;
    the best ``lam`` on a grid is kept.

    Each account's cash is priced in too: for ``mu_a >= 0``, a feasible plan keeps
    ``cash_a - sum_{rows in a} u q >= 0`` (costs and spread only lower it), so subtracting
    ``mu_a`` times that from the objective still bounds it from below, and the term is linear
    in each row's trade. With ``upper`` given (the plan's objective: the multipliers are worth
    searching), ``mu`` and ``lam`` are improved by a fixed amount of work: without them, an
    account short of cash for its own under-target tickers looks as if another account's
    cash could pay."""
    p = problem
    bound = _TickerBound(p)
    lams = np.linspace(-1.0, 1.0, multipliers)
    mu = np.zeros(len(p.accounts))
    best, lam = bound.best_on_grid(lams, mu)
    if upper is None or upper - best <= proven_within:
        return best  # nothing to search for, or the plan is already proven optimal
    # Block coordinate ascent: each account's price of cash on a grid with lam fixed (the
    # accounts separate then), then lam on its grid with the prices fixed.
    best_mu = mu
    for _ in range(ASCENT_ROUNDS):
        mu = bound.best_prices(lam, best_mu)
        value, at = bound.best_on_grid(lams, mu)
        if value <= best + 1e-12 * p.total:
            break
        best, lam, best_mu = value, at, mu
    # Coordinate ascent stalls where only a joint move of lam and mu helps: then Held and
    # Karp's subgradient scheme (Polyak steps towards ``upper``; after a few without
    # progress, half the step from the best multipliers so far).
    mu, step_scale, stalled = best_mu, 1.0, 0
    best_at = (lam, mu)
    lam_hi = min(1.0, (COST_WEIGHT - bound.s_total) / bound.c1) if bound.c1 > 0 else 1.0
    window_start = best
    for step_count in range(1, SUBGRADIENT_STEPS + 1):
        value, d_lam, d_mu = bound.evaluate(lam, mu)
        if value > best:
            best, best_at, stalled = value, (lam, mu), 0
        else:
            stalled += 1
            if stalled >= 4:
                step_scale, stalled = step_scale / 2, 0
                lam, mu = best_at
                value, d_lam, d_mu = bound.evaluate(lam, mu)
        norm = d_lam * d_lam + float(d_mu @ d_mu)
        if norm <= 0 or upper - value <= 0:
            break
        if step_count % PROGRESS_WINDOW == 0:
            # Steps that close almost none of the gap are not worth their time: on a
            # ten-position book 60 of them closed 0.3% of it and cost more than the plan.
            if best - window_start < PROGRESS_SHARE * (upper - window_start):
                break
            window_start = best
        step = step_scale * (upper - value) / norm
        lam = min(max(lam + step * d_lam, -1.0), lam_hi)
        mu = np.maximum(mu + step * d_mu, 0.0)
    return best


ASCENT_ROUNDS = 4
"""Rounds of the integer bound's coordinate ascent over its multipliers (work-bounded)."""
SUBGRADIENT_STEPS = 60
"""Subgradient steps after it (work-bounded, deterministic)."""
PROGRESS_WINDOW = 10
PROGRESS_SHARE = 0.02
"""The subgradient stops when a window of steps closed less than this share of the gap
left at the window's start (the bound is the best point met, so it stays a bound)."""


class _TickerBound:
    """The per-ticker problems of :func:`integer_bound`, vectorised over tickers."""

    def __init__(self, p: Problem) -> None:
        k = len(p.tickers)
        step = p.step
        self.p = p
        value = np.bincount(p.ticker, weights=p.unit * p.held, minlength=k)
        lo = np.bincount(p.ticker, weights=p.lo, minlength=k)
        hi = np.bincount(p.ticker, weights=p.hi, minlength=k)
        unit = np.zeros(k)
        unit[p.ticker] = p.unit  # one price per ticker (validated)
        fee = np.full(k, np.inf)
        np.minimum.at(fee, p.ticker, p.fee_rate)
        # Sales pay the ticker's sell tax too (one market and kind per ticker: one rate).
        tax = np.full(k, np.inf)
        np.minimum.at(tax, p.ticker, p.tax_rate)
        share = p.target_value / p.total
        self.c1 = 1.0 - p.cash_target_value / p.total
        self.s_total = float(share.sum())
        dev = value - p.target_value
        up = -dev / (unit * (1 + share * fee)) / step  # the root when buying
        down = -dev / (unit * (1 - share * (fee + tax))) / step  # the root when selling
        candidates = np.stack(
            [
                np.floor(up) * step,
                np.ceil(up) * step,
                np.floor(down) * step,
                np.ceil(down) * step,
                np.zeros(k),
                lo,
                hi,
            ],
            axis=1,
        )
        q = np.clip(candidates, lo[:, None], hi[:, None])
        self.move = unit[:, None] * q
        self.phi = fee[:, None] * np.abs(self.move) + tax[:, None] * np.maximum(-self.move, 0)
        inner = np.abs(dev[:, None] + self.move + share[:, None] * self.phi)
        self.base = inner + share[:, None] * self.phi + TURNOVER_WEIGHT * np.abs(self.move)
        self.gap0 = float(self.c1 * p.total - value.sum())
        # Accounts: a ticker held in one account trades there (its mu prices the whole
        # trade); one held in several could also move cash between them by selling in one
        # and buying in another, so it pays the cheapest mu on its net trade less the most
        # such a transfer could gain.
        self.n_acc = len(p.accounts)
        self.k = k
        rows = np.bincount(p.ticker, minlength=k)
        self.account = np.zeros(k, dtype=np.int64)
        self.account[p.ticker] = p.account
        self.single = rows == 1
        self.multi = np.flatnonzero(~self.single).tolist()
        self.members = [np.flatnonzero(p.ticker == t) for t in self.multi]
        self.cash = (p.cash_native * p.rate[None, :]).sum(axis=1)
        self.single_account = self.account[self.single]
        self.row_starts = np.arange(k) * self.move.shape[1]
        # The same per-ticker terms with the candidates first: batches over many multipliers
        # then take their minimum across a few contiguous rows, not along a short last axis.
        self.base_t = np.ascontiguousarray(self.base.T)
        self.phi_t = np.ascontiguousarray(self.phi.T)
        self.move_t = np.ascontiguousarray(self.move.T)

    def best_prices(self, lam: float, mu: FloatArray) -> FloatArray:
        """Each account's best price of cash with ``lam`` fixed, on a grid of [0, 2.5] and
        then a finer one around it; tickers in several accounts are left out of the choice
        (``evaluate`` counts them)."""
        weight = COST_WEIGHT - lam * self.c1 - self.s_total
        if weight < 0:
            return mu
        single = self.single
        f = (self.base_t + weight * self.phi_t - lam * self.move_t)[:, single]
        move, account = self.move_t[:, single], self.account[single]
        out = mu.copy()
        for coarse in (True, False):
            if coarse:
                grid = np.linspace(0.0, 2.5, 51)
                points = np.broadcast_to(grid, (self.n_acc, grid.shape[0]))
            else:
                offsets = np.linspace(-0.05, 0.05, 21)
                points = np.maximum(out[:, None] + offsets[None, :], 0.0)
            # Every grid point at once: (points, candidates, tickers), each ticker's best
            # candidate, then each account's sum per point (bincount adds in ticker order).
            price = points[account, :].T
            chosen = (f[None] + price[:, None, :] * move[None]).min(axis=1)
            width = points.shape[1]
            bins = (np.arange(width)[:, None] * self.n_acc + account[None, :]).ravel()
            sums = np.bincount(bins, chosen.ravel(), width * self.n_acc)
            totals = sums.reshape(width, self.n_acc).T - points * self.cash[:, None]
            out = points[np.arange(self.n_acc), np.argmax(totals, axis=1)].copy()
        return np.asarray(out, dtype=np.float64)

    def _prices(self, mu: FloatArray) -> tuple[FloatArray, float]:
        """Each ticker's price of cash under ``mu`` and what moving cash between accounts
        through tickers held in several could gain."""
        p = self.p
        if not self.multi:
            return mu[self.account], 0.0
        price = np.where(self.single, mu[self.account], 0.0)
        penalty = 0.0
        for t, members in zip(self.multi, self.members, strict=True):
            held_mu = mu[p.account[members]]
            price[t] = float(held_mu.min())
            sellable = float((-p.lo[members] * p.unit[members]).sum())
            penalty += float(held_mu.max() - held_mu.min()) * sellable
        return price, penalty

    def best_on_grid(self, lams: FloatArray, mu: FloatArray) -> tuple[float, float]:
        """The best bound over ``lams`` with ``mu`` fixed, and its ``lam`` (the largest of
        equals): :meth:`evaluate` for every multiplier at once."""
        weight = COST_WEIGHT - lams * self.c1 - self.s_total
        price, penalty = self._prices(mu)
        f = (
            self.base_t[None]
            + weight[:, None, None] * self.phi_t[None]
            + (price[None, None, :] - lams[:, None, None]) * self.move_t[None]
        )
        values = lams * self.gap0 + f.min(axis=1).sum(axis=1) - penalty - float(mu @ self.cash)
        values = np.where(weight >= 0, values, -np.inf)
        at = len(lams) - 1 - int(np.argmax(values[::-1]))
        return float(values[at]), float(lams[at])

    def evaluate(self, lam: float, mu: FloatArray) -> tuple[float, float, FloatArray]:
        """The bound at ``(lam, mu)`` and a subgradient in each."""
        weight = COST_WEIGHT - lam * self.c1 - self.s_total
        if weight < 0:
            return -np.inf, 0.0, np.zeros(self.n_acc)
        price, penalty = self._prices(mu)
        f = self.base + weight * self.phi
        f += (price[:, None] - lam) * self.move
        # Each ticker's best candidate, taken from the flattened arrays (one call each).
        at = self.row_starts + f.argmin(axis=1)
        moved = self.move.take(at)
        value = float(lam * self.gap0 + f.take(at).sum() - penalty - mu @ self.cash)
        d_lam = self.gap0 - float(moved.sum()) - self.c1 * float(self.phi.take(at).sum())
        spent = np.bincount(self.single_account, moved[self.single], self.n_acc)
        return value, d_lam, np.asarray(spent - self.cash, dtype=np.float64)


def ideal_start(problem: Problem) -> FloatArray:
    """A plan without the LP, for large books: every ticker straight to its target (whole
    steps, within its bounds), sales taken row by row and buys placed in the account with the
    most cash left (sales included); repair and the local search then settle cash and caps.
    The LP relaxation's simplex and interior point methods both need tens of seconds at
    10,000 positions; this needs milliseconds."""
    p = problem
    k = len(p.tickers)
    step = p.step
    value = np.bincount(p.ticker, weights=p.unit * p.held, minlength=k)
    unit = np.zeros(k)
    unit[p.ticker] = p.unit
    want = np.round(-(value - p.target_value) / unit / step) * step
    rows_of: list[list[int]] = [[] for _ in range(k)]
    for i, t in enumerate(p.ticker.tolist()):
        rows_of[t].append(i)
    out = np.zeros(p.size)
    budget = (p.cash_native * p.rate[None, :]).sum(axis=1)
    for t in np.flatnonzero(want < 0).tolist():
        left = -float(want[t])
        for i in rows_of[t]:
            take = min(left, -float(p.lo[i]))
            if take > 0:
                out[i] = -take
                budget[p.account[i]] += take * float(p.unit[i])
                left -= take
    # Buys, the furthest below target first, only as far as the account's cash goes (with
    # room for fees and spread): repair cutting thousands of unaffordable buys one at a time
    # would cost minutes.
    short = want * unit
    for t in sorted(np.flatnonzero(want > 0).tolist(), key=lambda t: (-short[t], t)):
        rows = [i for i in rows_of[t] if p.hi[i] > 0]
        if not rows:
            continue
        i = max(rows, key=lambda r: (budget[p.account[r]], -r))
        price = float(p.unit[i]) * (1 + float(p.fee_rate[i]) + p.fx_spread)
        fee_min = float(p.fee_min_native[i] * p.rate[p.currency[i]])
        affordable = math.floor(max(budget[p.account[i]] - fee_min, 0.0) / price / step) * step
        q = min(float(want[t]), float(p.hi[i]), affordable)
        if q <= 0:
            continue
        out[i] = q
        budget[p.account[i]] -= q * price + fee_min
    return np.round(out, 9)
