"""The benchmark's books (bench/planner.py) where the planner once fell short.

*20 positions, rebalance* (issue 8 item 5): the local search ends on a flat region of the
objective (every ticker the general account buys is under its target, so moving the buys
between them changes only costs and where the cash settles), and the exact phase's node
budget alone did not find the better rearrangement. The plan below is one HiGHS found with
10,000 nodes; it is checked here (feasible, its objective computed by the planner's exact
evaluator) rather than trusted. The planner must come within 5e-5 of the portfolio of it
(it was 1.2e-4 above before the exact phase ran HiGHS's primal heuristics).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from xlrebalance.model import Mode
from xlrebalance.planner import plan
from xlrebalance.planner.problem import build_problem
from xlrebalance.planner.state import TradeState

BENCH = Path(__file__).resolve().parents[2] / "bench" / "planner.py"

BETTER_PLAN = {
    ("general", "100001"): 36, ("general", "US002"): 25, ("isa", "100003"): -37,
    ("general", "US004"): -6, ("general", "100005"): -2, ("general", "US006"): 38,
    ("isa", "100007"): -16, ("general", "100009"): 8, ("general", "US010"): -4,
    ("isa", "100011"): 15, ("general", "US012"): 4, ("general", "100013"): -24,
    ("isa", "100015"): -1, ("general", "US016"): 1, ("isa", "100017"): -2,
    ("general", "US018"): -5, ("isa", "100019"): 27,
}  # fmt: skip


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_planner", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def test_twenty_position_rebalance_book_reaches_the_better_plan() -> None:
    portfolio = _bench().generate(20, Mode.REBALANCE, 27)  # the benchmark's seed for 20
    problem = build_problem(portfolio)
    trades = np.array(
        [float(BETTER_PLAN.get((h.account, h.ticker), 0)) for h in portfolio.holdings]
    )
    better = TradeState(problem, trades)
    assert better.is_feasible()
    result = plan(portfolio)
    solver = result.summary.solver
    assert solver.objective <= better.objective / problem.total + 5e-5, (
        solver.objective,
        better.objective / problem.total,
    )
    # The measure: the drift of an exact MILP's plan within 1e-4.
    reference_drift = 0.1189828  # bench/reference.py's proven optimum on this book (drift)
    assert result.summary.drift_after <= reference_drift + 1e-4
