"""A rate that reads like a percentage typed as a fraction is planned as written, and said."""

from __future__ import annotations

import json
from pathlib import Path

from xlrebalance.document import portfolio_from_dict
from xlrebalance.planner import plan

SEED = Path(__file__).resolve().parents[2] / "python/xlrebalance/templates/examples/seed.json"


def _seed_with(**settings: object) -> dict[str, object]:
    doc = json.loads(SEED.read_text())
    doc["settings"] = {**doc.get("settings", {}), **settings}
    return doc


def test_a_fee_of_25_percent_is_planned_and_named_with_what_was_probably_meant() -> None:
    fees = {"US": {"rate": 0.25, "min": 0}, "KR": {"rate": 0.00015, "min": 0}}
    result = plan(portfolio_from_dict(_seed_with(fees=fees)))
    assert (
        "settings.fees.US.rate is 25.00% of every trade; if you meant 0.25%, write 0.0025 or 0.25%"
        in result.warnings
    )
    assert not any("settings.fees.KR" in w for w in result.warnings)


def test_ordinary_rates_say_nothing() -> None:
    doc = _seed_with(
        fees={"US": {"rate": 0.0025, "min": 1}}, sell_tax={"KR:STOCK": 0.0018}, fx_spread=0.01
    )
    assert not any("of every trade" in w for w in plan(portfolio_from_dict(doc)).warnings)


def test_a_large_fx_spread_and_sell_tax_are_named_too() -> None:
    doc = _seed_with(sell_tax={"KR:STOCK": 0.2}, fx_spread=0.1)
    warnings = plan(portfolio_from_dict(doc)).warnings
    assert any(w.startswith("settings.sell_tax.KR:STOCK is 20.00%") for w in warnings)
    assert any(w.startswith("settings.fx_spread is 10.00%") for w in warnings)
