"""Fees and taxes billed as brokers round them, and cash reserves: no plan leaves an account
below zero (below its reserve) once each fee and tax is rounded -- in every mode, with and
without automatic FX. Checked by plancheck, which bills fees in decimal arithmetic of its own.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import given, note, reject
from hypothesis import strategies as st
from plancheck import check_plan, document, run
from test_planner_properties import PROPERTY_SETTINGS, _plan_or_prove_infeasible, portfolios

from xlrebalance.document import portfolio_from_dict
from xlrebalance.errors import PortfolioError
from xlrebalance.model import FeeRounding, RoundingMode
from xlrebalance.planner.problem import build_problem

ROUNDINGS = [
    {},  # the defaults: KRW fractions dropped, cents rounded up
    {"US": {"unit": 0.01, "mode": "up"}, "KR": {"unit": 1, "mode": "up"}},
    {"US": {"unit": 1, "mode": "nearest"}, "KR": {"unit": 10, "mode": "up"}},
    {"US": {"unit": 0.05, "mode": "down"}, "KR": {"unit": 5, "mode": "nearest"}},
]


@st.composite
def rounded_portfolios(draw: st.DrawFn) -> dict[str, Any]:
    doc = draw(portfolios())
    s = doc["settings"]
    s["fee_rounding"] = draw(st.sampled_from(ROUNDINGS))
    reserve: dict[str, dict[str, float]] = {}
    for account in doc["accounts"]:
        if draw(st.booleans()):
            amounts = {"KRW": float(draw(st.integers(0, 5_000)) * 1000)}
            if draw(st.booleans()):
                amounts["USD"] = draw(st.integers(0, 200_000)) / 100
            reserve[account["id"]] = amounts
    s["cash_reserve"] = reserve
    # Fees with fractions of a unit are where rounding bites: make them likely.
    if draw(st.booleans()):
        s["fees"] = {"US": {"rate": 0.0025, "min": 0}, "KR": {"rate": 0.00015, "min": 0}}
    return doc


@PROPERTY_SETTINGS
@given(rounded_portfolios())
def test_no_plan_goes_below_zero_or_the_reserve_after_rounding(doc: dict[str, Any]) -> None:
    out = _plan_or_prove_infeasible(doc)
    if out is None:
        return
    try:
        facts = check_plan(doc, out)
    except AssertionError as exc:
        # Known: an account holding less cash than its rounding margin (one unit per fee and
        # tax it may pay) may not find the sale of a few cents that brings a group under its
        # cap; cash is still never short. Only that message, only on such accounts.
        portfolio = portfolio_from_dict(copy.deepcopy(doc))
        if "could be sold under it" in str(exc) and build_problem(portfolio).margin_short:
            reject()
        # Known: caps are kept on the exact costs, so rounding may lift a capped group's
        # weight by up to cap x (rounding margin / value after) -- a few millionths on real
        # portfolios; more only on one worth a few hundred rounding units.
        strict = build_problem(portfolio, full_margin=True)
        margin = float(((strict.withheld_native - strict.reserve_native) @ strict.rate).sum())
        text = str(exc)
        over = re.search(r"([0-9.]+) after, cap ([0-9.]+)", text)
        above = re.search(r"above its cap ([0-9.]+) .*ends at ([0-9.]+)", text)
        if (over or above) and margin > 0:
            if over:
                after, cap = float(over.group(1)), float(over.group(2))
            else:
                assert above is not None
                cap, after = float(above.group(1)), float(above.group(2))
            if after <= cap * (1 + 2 * margin / strict.total) + 1e-6:
                reject()
        if "cap" in str(exc) and strict.total < 100 * margin:
            reject()
        raise
    note(str(facts.cash_after))


def test_spending_the_last_cent_leaves_room_for_the_rounded_fee() -> None:
    # One share at 99.99 with a 0.25 % fee costs 99.99 + 0.249975 = 100.239975: it fits in
    # 100.2399999 USD, but the broker bills the fee as 0.25 and the account would end at
    # -0.0000001. Before fees were rounded, the plan bought it.
    doc = document(
        [{"ticker": "X", "market": "US", "quantity": 0, "price": 99.99}],
        {"X": 1.0},
        cash={"USD": 100.2399999},
        fees={"US": {"rate": 0.0025, "min": 0}, "KR": {"rate": 0, "min": 0}},
        auto_fx=False,
    )
    assert run(doc)["orders"] == []
    doc["accounts"][0]["cash"]["USD"] = 100.25  # a cent more: the billed amount fits
    out = run(doc)
    (order,) = out["orders"]
    assert (order["quantity"], order["fees"]) == (1, 0.25)
    assert out["summary"]["cash_after"]["a"]["USD"] == pytest.approx(0.01)
    check_plan(doc, out)


def test_korean_fees_and_taxes_drop_fractions_of_a_won_by_default() -> None:
    doc = document(
        [{"ticker": "005930", "quantity": 10, "price": 71_230}],
        {"005930": 0.0, "CASH": 1.0},
        fees={"US": {"rate": 0, "min": 0}, "KR": {"rate": 0.00015, "min": 0}},
        sell_tax={"KR:STOCK": 0.002, "KR:ETF": 0.0},
    )
    out = run(doc)
    (order,) = out["orders"]
    assert (order["fees"], order["taxes"]) == (106.0, 1424.0)  # 106.845 and 1424.6 billed
    assert out["summary"]["cash_after"]["a"]["KRW"] == 712_300 - 106 - 1424
    check_plan(doc, out)


def test_a_reserve_is_never_spent() -> None:
    doc = document(
        [{"ticker": "069500", "kind": "ETF", "quantity": 0, "price": 40_000}],
        {"069500": 1.0},
        cash={"KRW": 1_000_000},
        cash_reserve={"a": {"KRW": 300_000}},
    )
    out = run(doc)
    assert out["orders"][0]["quantity"] == 17  # 680,000; an 18th would dip into the reserve
    assert out["summary"]["cash_after"]["a"]["KRW"] == 320_000
    check_plan(doc, out)


def test_a_reserve_above_the_cash_forces_no_sale() -> None:
    doc = document(
        [{"ticker": "069500", "kind": "ETF", "quantity": 10, "price": 40_000}],
        {"069500": 1.0},
        cash={"KRW": 5_000},
        cash_reserve={"a": {"KRW": 100_000}},
    )
    out = run(doc)
    assert out["orders"] == []
    check_plan(doc, out)


@pytest.mark.parametrize(
    ("unit", "mode", "amount", "billed_amount"),
    [
        (0.01, RoundingMode.UP, 2.249325, 2.25),
        (0.01, RoundingMode.UP, 0.3, 0.3),  # 0.30000000000000004 cents is 30, not 31
        (1.0, RoundingMode.DOWN, 1424.6, 1424.0),
        (5.0, RoundingMode.NEAREST, 12.5, 15.0),
        (0.0, RoundingMode.UP, 1.23456, 1.23456),
    ],
)
def test_rounding_rule(
    unit: float, mode: RoundingMode, amount: float, billed_amount: float
) -> None:
    assert FeeRounding(unit, mode).apply(amount) == billed_amount


@pytest.mark.parametrize(
    ("settings", "field", "message"),
    [
        ({"fee_rounding": {"JP": {"unit": 1}}}, "settings.fee_rounding.JP", "unknown market"),
        ({"fee_rounding": {"US": {"unit": 0.01, "mode": "ceil"}}}, "settings.fee_rounding.US.mode",
         "expected one of up, nearest, down"),
        ({"cash_reserve": {"b": {"KRW": 1}}}, "settings.cash_reserve.b", "not one of the accounts"),
        ({"cash_reserve": {"a": {"KRW": -1}}}, "settings.cash_reserve.a.KRW",
         "expected a number >= 0"),
    ],
)  # fmt: skip
def test_bad_rounding_and_reserve_settings_name_their_field(
    settings: dict[str, Any], field: str, message: str
) -> None:
    doc = document([{"ticker": "069500", "quantity": 1, "price": 100}], {"069500": 1.0}, **settings)
    with pytest.raises(PortfolioError) as raised:
        run(doc)
    assert raised.value.location == field
    assert message in raised.value.message
