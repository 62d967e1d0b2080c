"""HiGHS, through highspy: the LP relaxation and the warm-started, budgeted exact solve.

Budgets are counted in branch-and-bound nodes so that a plan is the same on every run and
machine; a wall-clock limit stays as a safety net only.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import highspy
import numpy as np

from xlrebalance.planner.formulation import Formulation
from xlrebalance.planner.problem import FloatArray


@dataclass(frozen=True)
class HighsResult:
    solution: FloatArray | None
    objective: float
    bound: float
    proven: bool


def _model(form: Formulation, *, relax: bool) -> highspy.HighsLp:
    lp = highspy.HighsLp()
    lp.num_col_ = int(form.cost.shape[0])
    lp.num_row_ = int(form.row_lower.shape[0])
    lp.col_cost_ = form.cost
    lp.col_lower_ = form.col_lower
    lp.col_upper_ = np.where(np.isinf(form.col_upper), highspy.kHighsInf, form.col_upper)
    lp.row_lower_ = np.where(np.isinf(form.row_lower), -highspy.kHighsInf, form.row_lower)
    lp.row_upper_ = np.where(np.isinf(form.row_upper), highspy.kHighsInf, form.row_upper)
    matrix = form.matrix
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(np.float64)
    lp.a_matrix_.num_col_ = lp.num_col_
    lp.a_matrix_.num_row_ = lp.num_row_
    if not relax and form.integrality.any():
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous
            for v in form.integrality.tolist()
        ]
    return lp


_FD_LOCK = threading.Lock()


@contextmanager
def _stdout_silenced() -> Iterator[None]:
    """Point file descriptor 1 at the null device for the duration.

    highspy 1.16 prints a banner from C++ to fd 1 when the first ``Highs()`` is made, before
    ``output_flag`` can be set; ``sys.stdout`` redirection cannot see it. Our stdout is the
    documented output (``--json``), so the banner goes nowhere. Where fd 1 cannot be duplicated
    (no console, as under pythonw), there is nothing to protect.
    """
    with _FD_LOCK:
        saved = _dup_stdout()
        if saved is None:
            yield
            return
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 1)
            finally:
                os.close(devnull)
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def _dup_stdout() -> int | None:
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
        return os.dup(1)
    except (OSError, ValueError):
        return None


def _solver() -> highspy.Highs:
    with _stdout_silenced():
        h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    return h


def solve_relaxation(form: Formulation) -> HighsResult:
    """The LP relaxation: a fractional plan and a lower bound on every plan's objective."""
    h = _solver()
    h.passModel(_model(form, relax=True))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return HighsResult(None, np.inf, -np.inf, False)
    solution = np.array(h.getSolution().col_value)
    objective = float(h.getInfo().objective_function_value)
    return HighsResult(solution, objective, objective, True)


def solve_exact(
    form: Formulation,
    warm_start: FloatArray | None,
    *,
    node_limit: int,
    time_limit: float,
    abs_gap: float,
    heuristic_effort: float = 0.3,
) -> HighsResult:
    """Branch and bound from ``warm_start``; ``proven`` when optimality was proven."""
    h = _solver()
    h.passModel(_model(form, relax=False))
    h.setOptionValue("mip_max_nodes", int(node_limit))
    h.setOptionValue("time_limit", float(max(time_limit, 0.001)))
    # Proven within abs_gap (objective units) is proven; relative gaps mean little here.
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", float(abs_gap))
    # The primal heuristics (RINS among them, around the warm start) are bounded by work, as
    # a share of the simplex iterations: on flat regions of the objective, where many
    # rearrangements of cash between under-target tickers are nearly equal, they find the
    # plan the node budget alone does not (the benchmark's 20-position rebalance book).
    h.setOptionValue("mip_heuristic_effort", float(heuristic_effort))
    if warm_start is not None:
        start = highspy.HighsSolution()
        start.col_value = warm_start.tolist()
        h.setSolution(start)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    if info.primal_solution_status != 2:  # no feasible point
        return HighsResult(None, np.inf, -np.inf, False)
    solution = np.array(h.getSolution().col_value)
    return HighsResult(
        solution,
        float(info.objective_function_value),
        float(info.mip_dual_bound),
        status == highspy.HighsModelStatus.kOptimal,
    )
