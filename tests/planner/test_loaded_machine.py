"""A loaded machine gets the same plan as an idle one.

Every phase of the planner is bounded by work (rounds, chains, HiGHS nodes); wall-clock limits
are far-away safety nets. A stress run once got 11 orders ("optimal") idle and 10 orders
("time_limit") with the CPU busy, because the exact phase was cut by the clock. Here every
core spins in a busy loop in its own process while the examples are planned again.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from xlrebalance.document import plan_to_dict, portfolio_from_dict
from xlrebalance.planner import plan

EXAMPLES = Path(__file__).resolve().parents[2] / "python" / "xlrebalance" / "templates" / "examples"


def _plan_without_seconds(doc: dict[str, Any]) -> dict[str, Any]:
    out = plan_to_dict(plan(portfolio_from_dict(copy.deepcopy(doc), offline=True)))
    out["summary"]["solver"].pop("seconds")
    return out


@contextmanager
def _busy_cores() -> Iterator[None]:
    count = max(2, os.cpu_count() or 2)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def test_examples_plan_the_same_under_load() -> None:
    docs = {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(EXAMPLES.glob("*.json"))
    }
    assert docs, "no examples found"
    idle = {name: _plan_without_seconds(doc) for name, doc in docs.items()}
    with _busy_cores():
        loaded = {name: _plan_without_seconds(doc) for name, doc in docs.items()}
    for name in docs:
        assert loaded[name] == idle[name], name
        assert idle[name]["orders"], f"{name}: an empty plan proves little"
