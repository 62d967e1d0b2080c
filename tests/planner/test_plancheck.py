"""The independent checker must reject broken plans, or the property tests prove nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from plancheck import check_plan, document, run

Out = dict[str, Any]


def _base() -> dict[str, Any]:
    # Sell 5 A (locked in some cases below), buy 5 B; fees 1% with a 3 KRW minimum.
    return document(
        [
            {"ticker": "A", "quantity": 10, "price": 1000},
            {"ticker": "B", "quantity": 0, "price": 1000},
            {"ticker": "C", "quantity": 3, "price": 1000, "locked": True},
        ],
        {"A": 0.4, "B": 0.4, "C": 0.2},
        cash={"KRW": 2000},
        fees={"KR": {"rate": 0.01, "min": 3}},
        groups=[{"name": "G", "tickers": ["B"], "max_weight": 0.5}],
    )


def _order(out: Out, ticker: str) -> dict[str, Any]:
    return next(o for o in out["orders"] if o["ticker"] == ticker)


def _more_b(out: Out) -> None:
    # Buys 3 more B than the cash allows, with the summary left as it was.
    o = _order(out, "B")
    o["quantity"] += 3
    o["amount"] += 3000
    o["fees"] = o["amount"] * 0.01


def _oversell(out: Out) -> None:
    o = _order(out, "A")
    o["quantity"] = 11
    o["amount"] = 11000.0
    o["fees"] = 110.0


def _trade_locked(out: Out) -> None:
    out["orders"].append(
        {
            "account": "a",
            "ticker": "C",
            "side": "SELL",
            "quantity": 1,
            "price": 1000,
            "currency": "KRW",
            "amount": 1000.0,
            "fees": 10.0,
            "taxes": 0.0,
        }
    )


def _skip_fee_minimum(out: Out) -> None:
    _order(out, "A")["fees"] = 0.0


def _misreport_drift(out: Out) -> None:
    out["summary"]["drift_after"] += 0.001


def _half_share(out: Out) -> None:
    o = _order(out, "B")
    o["quantity"] -= 0.5
    o["amount"] -= 500.0
    o["fees"] = o["amount"] * 0.01


def _invent_conversion(out: Out) -> None:
    out["conversions"].append(
        {
            "account": "a",
            "sell_currency": "KRW",
            "buy_currency": "USD",
            "sell_amount": 1000.0,
            "buy_amount": 2.0,
        }
    )


TAMPER: dict[str, Callable[[Out], None]] = {
    "overspend": _more_b,
    "oversell": _oversell,
    "locked row traded": _trade_locked,
    "fee minimum ignored": _skip_fee_minimum,
    "drift misreported": _misreport_drift,
    "half share": _half_share,
    "conversion at a made-up rate": _invent_conversion,
}


def test_checker_accepts_the_untouched_plan() -> None:
    doc = _base()
    out = run(doc)
    assert {o["ticker"] for o in out["orders"]} == {"A", "B"}
    check_plan(doc, out)


@pytest.mark.parametrize("case", sorted(TAMPER))
def test_checker_rejects_a_tampered_plan(case: str) -> None:
    doc = _base()
    out = copy.deepcopy(run(doc))
    TAMPER[case](out)
    with pytest.raises(AssertionError):
        check_plan(doc, out)


@pytest.mark.parametrize(("mode", "ticker"), [("buy_only", "A"), ("sell_only", "B")])
def test_checker_rejects_the_wrong_side_for_the_mode(mode: str, ticker: str) -> None:
    doc = _base()
    out = run(doc)
    doc["settings"]["mode"] = mode
    assert _order(out, ticker)
    with pytest.raises(AssertionError, match=mode):
        check_plan(doc, out)
