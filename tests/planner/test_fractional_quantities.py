"""Fractional orders state quantities on the 10**-6 grid, not their floating-point neighbours."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from plancheck import check_plan
from test_planner_properties import portfolios

from xlrebalance.document import plan_to_dict, portfolio_from_dict
from xlrebalance.errors import InfeasibleError, PortfolioError
from xlrebalance.planner import plan


def _orders(doc: dict[str, Any]) -> list[dict[str, Any]] | None:
    try:
        planned = plan(portfolio_from_dict(doc))
    except (InfeasibleError, PortfolioError):
        return None
    out = plan_to_dict(planned)
    check_plan(doc, out)
    orders: list[dict[str, Any]] = out["orders"]
    return orders


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios(fractional=True))
def test_every_fractional_quantity_is_a_whole_number_of_millionths(doc: dict[str, Any]) -> None:
    # Before, about one plan in 300 printed e.g. 2495.0915769999997 for 2495.091577.
    for order in _orders(doc) or []:
        assert order["quantity"] == round(order["quantity"], 6), order
        assert repr(order["quantity"]) == repr(round(order["quantity"], 6))
