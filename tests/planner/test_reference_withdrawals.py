"""Withdrawals that take most of an account, planned by ``plan`` and by ``PlanSession``, against
the reference MILP (bench/reference.py): never InfeasibleError where the reference plans, every
rule kept (plancheck), and a plan labelled ``optimal`` never beaten by the reference by more
than 1e-6 of the portfolio. Tight withdrawals are where repair must pick the sales that pay
them and their minimum fees; generated books rarely come near them on their own. The two
repair bugs pinned in test_repair_regressions.py took about 2,000 fresh examples each to show
(``HYPOTHESIS_PROFILE=explore`` and new seeds); the 100 here guard the common cases."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from plancheck import check_plan, run, total_start
from test_planner_properties import portfolios

from xlrebalance.document import plan_to_dict, portfolio_from_dict
from xlrebalance.errors import InfeasibleError
from xlrebalance.planner.session import PlanSession

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from reference import Reference, solve_reference

USDKRW = 1385.5


def _base(value: float, currency: str) -> float:
    return value * (USDKRW if currency == "USD" else 1.0)


@st.composite
def tight_withdrawals(draw: st.DrawFn) -> dict[str, Any]:
    """A generated book whose withdrawal is 30%..99.9% of what its account is worth."""
    doc = draw(portfolios())
    s = doc["settings"]
    # The reference bills fees as they accrue: compare with broker rounding off.
    s["fee_rounding"] = {"US": {"unit": 0}, "KR": {"unit": 0}}
    account = s.get("contribution_account") or doc["accounts"][0]["id"]
    cash = next(a["cash"] for a in doc["accounts"] if a["id"] == account)
    wealth = sum(_base(v, c) for c, v in cash.items()) + sum(
        _base(h["quantity"] * h["price"], h["currency"])
        for h in doc["holdings"]
        if h["account"] == account
    )
    amount = round(wealth * draw(st.sampled_from([0.3, 0.7, 0.9, 0.97, 0.99, 0.999])))
    assume(amount > 0)
    s["contribution"] = {"KRW": -amount}
    return doc


def _check_against(doc: dict[str, Any], ref: Reference, who: str) -> None:
    try:
        if who == "plan":
            out = run(doc)
        else:
            planned = PlanSession().plan(portfolio_from_dict(copy.deepcopy(doc), offline=True))
            out = plan_to_dict(planned)
    except InfeasibleError as exc:
        assert ref.status != "optimal", f"{who}: InfeasibleError ({exc}) but the reference plans"
        return
    facts = check_plan(doc, out, unreachable=set(ref.unreachable))
    solver = out["summary"]["solver"]
    note(f"{who}: {solver}")
    if ref.status != "optimal" or solver["status"] != "optimal":
        return
    turnover = sum(_base(o["amount"], o["currency"]) for o in out["orders"])
    j = facts.drift_after * facts.total_after + 2.001 * facts.costs_base + 1e-6 * turnover
    slack = 0.0
    if doc["settings"]["fractional"]:
        # The reference's quantities are continuous where plans use 1e-6 steps.
        slack = 2e-6 * sum(_base(h["price"], h["currency"]) for h in doc["holdings"])
    assert j / facts.total_start <= ref.objective + 1e-6 + slack / facts.total_start


@settings(
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(tight_withdrawals())
def test_tight_withdrawals_against_the_reference(doc: dict[str, Any]) -> None:
    assume(total_start(doc) > 0)
    note(json.dumps(doc))
    ref = solve_reference(portfolio_from_dict(copy.deepcopy(doc), offline=True), time_limit=20)
    note(f"reference: {ref}")
    for who in ("plan", "session"):
        _check_against(doc, ref, who)
