"""Repeated plans of one book: the planner as a backtest calls it, once per rebalance.

A backtest asks for hundreds of plans of the same positions with new prices, quantities and
cash. :class:`PlanSession` plans each of them with the planner's own pipeline and objective
(:func:`~xlrebalance.planner.plan` with ``exact=False``) but spends its time differently:

- one HiGHS instance for the whole session (made once, the relaxation passed to it per plan;
  solved cold, so that a plan never depends on the plan before it);
- on small books (at most :data:`SMALL_BOOK` positions that may trade), no ejection-chain
  search: every floor/ceiling rounding of the relaxation is scored at once with numpy
  (:class:`Candidates`, the objective of :class:`~xlrebalance.planner.state.TradeState` on
  a whole batch), then the best is improved
  by the best of all moves of one, two or three positions by a step, until none improves.
  The result is checked with ``TradeState`` itself before it is used;
- on books of up to :data:`LARGE_BOOK` movable positions, no ejection chains either: the
  exchange search of :mod:`~xlrebalance.planner.exchange` (roundings chosen for all positions
  at once by pricing cash, then single moves and exchanges screened in numpy), every change
  applied on ``TradeState``.

Larger books, fractional shares and the exact phase take the planner's own path. Plans are
deterministic (no clock decides anything).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt

from xlrebalance.model import Plan, Portfolio, SolverReport, SolverStatus
from xlrebalance.planner import (
    OPTIMALITY_TOLERANCE,
    PlannerOptions,
    _settles,
    _unreachable,
    assemble_plan,
    plan,
    repaired_start,
    solver_report,
)
from xlrebalance.planner.candidates import Candidates
from xlrebalance.planner.exchange import exchange_search
from xlrebalance.planner.formulation import Formulation, formulate
from xlrebalance.planner.highs import _model, _solver
from xlrebalance.planner.problem import (
    FloatArray,
    Problem,
    build_problem,
)
from xlrebalance.planner.search import (
    IMPROVE_EPS,
    MAX_ROUNDS,
    ideal_start,
    improve,
    integer_bound,
    round_trades,
)
from xlrebalance.planner.state import TradeState

__all__ = ["LARGE_BOOK", "SMALL_BOOK", "Candidates", "PlanSession"]

BoolArray = npt.NDArray[np.bool_]

SMALL_BOOK = 12
"""Movable positions up to which every rounding of the relaxation is scored (2**12
candidates at most); above, the exchange search (:mod:`~xlrebalance.planner.exchange`)."""

LARGE_BOOK = 1000
"""Movable positions up to which the exchange search runs (its screens are matrices of
positions by positions); above, the planner's local search runs as in ``plan``."""


LONG_STEPS = (2.0, 4.0, 8.0, 16.0, 64.0, 256.0, 1024.0)


def _neighbourhood(m: int) -> FloatArray:
    """Moves of one, two or three positions by one step each, and of one position by
    :data:`LONG_STEPS` steps, as rows of step counts."""
    rows: list[FloatArray] = []
    for size in (1, 2, 3):
        for chosen in itertools.combinations(range(m), size):
            for signs in itertools.product((-1.0, 1.0), repeat=size):
                row = np.zeros(m)
                row[list(chosen)] = signs
                rows.append(row)
    for i in range(m):  # longer single steps: a position far from its best in few rounds
        for length in LONG_STEPS:
            for sign in (-1.0, 1.0):
                row = np.zeros(m)
                row[i] = sign * length
                rows.append(row)
    for i in range(m):  # a whole position back to zero is one move too (marked by nan)
        row = np.zeros(m)
        row[i] = np.nan
        rows.append(row)
    return np.array(rows) if rows else np.zeros((0, m))


_MOVES: dict[int, tuple[BoolArray, FloatArray]] = {}  # per size: (to zero, steps)
_ROUNDINGS: dict[int, FloatArray] = {}


def _roundings(count: int) -> FloatArray:
    """Every choice of floor (0) or ceiling (1) for ``count`` positions, one per row."""
    rows = _ROUNDINGS.get(count)
    if rows is None:
        bits = np.arange(2**count)[:, None] >> np.arange(count)[None, :]
        rows = _ROUNDINGS[count] = (bits & 1).astype(np.float64)
    return rows


def small_book_search(problem: Problem, relaxed: FloatArray, start: TradeState) -> TradeState:
    """The best plan found by scoring every rounding of ``relaxed`` (the LP's trades) and then
    descending through the moves of :func:`_neighbourhood` and jumps to each ticker's target;
    never worse than ``start``."""
    c = Candidates(problem)
    idx = c.idx
    m = idx.shape[0]
    if m == 0:
        return start
    x = relaxed[idx]
    low = np.clip(np.floor(x + 1e-9), c.lo, c.hi)
    high = np.clip(np.ceil(x - 1e-9), c.lo, c.hi)
    free = np.flatnonzero(high != low)
    combos = _roundings(len(free))
    batch = np.repeat(low[None, :], combos.shape[0], axis=0)
    batch[:, free] += combos * (high - low)[free]
    current = np.array([start.x[i] for i in idx.tolist()])
    batch = np.vstack([current[None, :], batch])
    scores, _ = c.score(batch)
    best = int(np.argmin(scores))
    incumbent, value = batch[best].copy(), float(scores[best])
    moves = _MOVES.get(m)
    if moves is None:
        table = _neighbourhood(m)
        moves = _MOVES[m] = (np.isnan(table), np.nan_to_num(table))
    to_zero, steps = moves
    eps = IMPROVE_EPS * problem.total
    for _ in range(MAX_ROUNDS):
        trial = np.where(to_zero, 0.0, incumbent + steps * problem.step)
        # Each position straight to where its ticker would sit on target (floor and ceiling).
        dv = incumbent * c.unit
        off = c.offset0 + dv @ c.to_ticker
        shift = -(off @ c.to_ticker.T) / c.unit / problem.step
        for jump in (np.floor(shift), np.ceil(shift)):
            rows = np.repeat(incumbent[None, :], m, axis=0)
            rows[np.arange(m), np.arange(m)] += jump * problem.step
            trial = np.vstack([trial, rows])
        # Minimum trade sizes: from zero straight to the minimum, and back to zero below it.
        small = (trial != 0) & (np.abs(trial) < c.min_qty - 1e-12)
        toward_zero = np.abs(incumbent) >= c.min_qty - 1e-12
        trial = np.where(small & toward_zero, 0.0, trial)
        trial = np.where(small & ~toward_zero, np.sign(trial) * c.min_qty, trial)
        scores, _ = c.score(trial)
        best = int(np.argmin(scores))
        if not float(scores[best]) < value - eps:
            break
        incumbent, value = trial[best].copy(), float(scores[best])
    # Checked exactly: the start's state takes the changes and gives them back if they do not
    # hold (a rebuilt TradeState would cost as much as the whole scoring).
    before = start.objective
    changed = [(int(i), float(q)) for i, q in zip(idx.tolist(), incumbent.tolist(), strict=True)]
    changed = [(i, q) for i, q in changed if q != start.x[i]]
    if not all(start.allowed(i, q) for i, q in changed):
        return start
    undo = [(i, start.x[i]) for i, _ in changed]
    for i, q in changed:
        start.apply(i, q)
    if start.is_feasible() and start.objective < before:
        return start
    for i, q in reversed(undo):
        start.apply(i, q)
    return start


@dataclass
class _Relaxation:
    trades: FloatArray | None  # per position
    bound: float


class PlanSession:
    """Plans of one book, one after another (see the module's docstring)."""

    def __init__(self, options: PlannerOptions | None = None) -> None:
        self.options = options or PlannerOptions(exact=False)
        self._highs: highspy.Highs | None = None
        self.delegated = 0  # plans handed whole to ``planner.plan``
        self.searched_small = 0  # plans that took the small-book search
        self.searched_exchanges = 0  # plans that took the exchange search

    def plan(self, portfolio: Portfolio) -> Plan:
        """A plan as ``planner.plan(portfolio, options)`` makes it: the same problem, objective
        and rules; on small books another search (see the module's docstring)."""
        options = self.options
        if options.exact:
            self.delegated += 1
            return plan(portfolio, options)
        problem = build_problem(portfolio)
        if problem.fractional:
            self.delegated += 1
            return plan(portfolio, options)
        result_problem, state, report = self._plan_trades(problem)
        if problem.margin_short and not _settles(portfolio, result_problem, state):
            # The rare retry with the whole rounding margin set aside: the planner's own path.
            self.delegated += 1
            return plan(portfolio, options)
        return assemble_plan(portfolio, result_problem, state, report)

    def _plan_trades(self, problem: Problem) -> tuple[Problem, TradeState, SolverReport]:
        started = time.perf_counter()
        state, relaxed = self._start(problem)
        while state.relaxed_caps:
            problem = _unreachable(problem, state.relaxed_caps)
            state, relaxed = self._start(problem)
        movable = int(np.count_nonzero((problem.lo < 0) | (problem.hi > 0)))
        if self.options.search_seconds <= 0:
            pass  # no search asked for (``--fast``): the repaired rounding, as in ``plan``
        elif relaxed.trades is not None and movable <= SMALL_BOOK:
            self.searched_small += 1
            state = small_book_search(problem, relaxed.trades, state)
        elif movable <= LARGE_BOOK:
            self.searched_exchanges += 1
            exchange_search(state)
            if not state.is_feasible():  # never expected: every change was checked
                state, _ = self._start(problem)
                improve(state, started + self.options.search_seconds)
        else:
            improve(state, started + self.options.search_seconds)
        bound = max(
            relaxed.bound,
            integer_bound(
                problem, upper=state.objective, proven_within=OPTIMALITY_TOLERANCE * problem.total
            ),
        )
        problem, report = solver_report(problem, state, bound, SolverStatus.HEURISTIC, started)
        return problem, state, report

    def _start(self, problem: Problem) -> tuple[TradeState, _Relaxation]:
        """The relaxation, its rounding repaired, as ``planner._start`` (above
        ``lp_max_positions`` movable positions: every ticker to its target, no LP)."""
        movable = int(np.count_nonzero((problem.lo < 0) | (problem.hi > 0)))
        trades: FloatArray | None = None
        bound = -np.inf
        if movable > self.options.lp_max_positions:
            start = ideal_start(problem)
        else:
            relaxed_form = formulate(problem, relax=True)
            solution, bound = self._relax(relaxed_form)
            if solution is not None:
                trades = relaxed_form.trades(solution)
                start = round_trades(problem, trades)
            else:
                start = np.zeros(problem.size)
        return repaired_start(problem, start), _Relaxation(trades, bound)

    def _relax(self, form: Formulation) -> tuple[FloatArray | None, float]:
        """The relaxation's column values and objective (None and -inf when not optimal)."""
        if self._highs is None:
            self._highs = _solver()
        h = self._highs
        # Solved cold: a basis kept from the previous plan made HiGHS end at another of
        # several optimal vertices now and then, and the plan then depended on the plan before
        # (on the tech book its roundings were worse in sum); the instance is what is kept.
        h.passModel(_model(form, relax=True))
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None, -np.inf
        solution = np.array(h.getSolution().col_value)
        return solution, float(h.getInfo().objective_function_value)
