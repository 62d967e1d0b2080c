"""The JSON portfolio document: strict where a slip would change the numbers."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from xlrebalance.document import portfolio_from_dict, portfolio_to_dict
from xlrebalance.errors import PortfolioError

SEED = (
    Path(__file__).resolve().parents[1]
    / "python"
    / "xlrebalance"
    / "templates"
    / "examples"
    / "seed.json"
)


def seed() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(SEED.read_text(encoding="utf-8"))
    return doc


@pytest.mark.parametrize(
    ("edit", "where", "suggestion"),
    [
        (lambda d: d["holdings"][0].__setitem__("quantitiy", d["holdings"][0].pop("quantity")),
         "holdings[0].quantitiy", "quantity"),
        (lambda d: d["holdings"][2].__setitem__("Price", d["holdings"][2].pop("price")),
         "holdings[2].Price", "price"),
        (lambda d: d["settings"].__setitem__("fractinal", True), "settings.fractinal",
         "fractional"),
        (lambda d: d["settings"]["band"].__setitem__("absolut", 0.05), "settings.band.absolut",
         "absolute"),
        (lambda d: d.__setitem__("target", d.pop("targets")), "target", "targets"),
        (lambda d: d["accounts"][1].__setitem__("cahs", {}), "accounts[1].cahs", "cash"),
    ],
)  # fmt: skip
def test_a_misspelt_field_is_an_error_not_a_default(edit: Any, where: str, suggestion: str) -> None:
    # Read as a default, "quantitiy" would plan as if VOO were not held at all.
    doc = seed()
    edit(doc)
    with pytest.raises(PortfolioError) as caught:
        portfolio_from_dict(doc)
    assert caught.value.location == where
    assert f"did you mean {suggestion!r}" in str(caught.value)


def test_fields_other_tools_add_are_left_alone() -> None:
    doc = seed()
    doc["x-broker"] = "kiwoom"
    doc["holdings"][0]["note"] = "core position"
    doc["settings"]["comment"] = "quarterly"
    assert portfolio_from_dict(doc) == portfolio_from_dict(seed())


def test_document_round_trips() -> None:
    portfolio = portfolio_from_dict(seed())
    again = portfolio_from_dict(copy.deepcopy(portfolio_to_dict(portfolio)))
    assert again == portfolio


def test_percentages_as_targets_get_a_hint() -> None:
    doc = seed()
    doc["targets"] = {t: w * 100 for t, w in doc["targets"].items()}
    with pytest.raises(PortfolioError) as caught:
        portfolio_from_dict(doc)
    assert caught.value.location == "targets.VOO"
    assert "0.2 for 20%" in str(caught.value)
