"""Portfolios that once made repair give up although a valid plan existed."""

from __future__ import annotations

import json
from pathlib import Path

from xlrebalance.document import portfolio_from_dict
from xlrebalance.planner import plan
from xlrebalance.planner.session import PlanSession

DATA = Path(__file__).resolve().parents[1] / "data" / "planner"


def test_cap_needs_a_sliver_more_sold_to_pay_its_minimum_fee() -> None:
    # The relaxation sells U2 exactly down to its 5% cap without the 1 USD minimum fee; the fee
    # then breaks the cap by cap x fee (69 KRW). Repair used to pick a one-step (1e-6 share)
    # relief over the covering one at the same rate, and ran out of rounds.
    doc = json.loads((DATA / "cap-needs-fractional-sale-with-min-fee.json").read_text())
    result = plan(portfolio_from_dict(doc))
    (order,) = result.orders
    assert order.ticker == "U2" and order.side.value == "SELL"
    held_after = 11.344 - order.quantity
    value_after = result.summary.value_after
    # Within the cap on the value after costs.
    assert held_after * 47.86 * 1385.5 <= 0.05 * value_after + 1e-6


def test_cap_no_sale_can_pay_for_stays_broken_with_a_warning() -> None:
    # 0.001 share of U0 ($0.001) in a group capped at 0%; selling it costs a $1 minimum fee
    # that the account (no USD, no automatic FX) cannot pay. Nothing may trade, and the plan
    # says the cap is still broken instead of failing.
    doc = {
        "version": 1,
        "base_currency": "KRW",
        "fx": {"USDKRW": 1385.5},
        "accounts": [{"id": "acc0", "cash": {"KRW": 0}}],
        "holdings": [
            {"account": "acc0", "ticker": "U0", "market": "US", "price": 1.0, "quantity": 0.001}
        ],
        "targets": {"U0": 1.0},
        "groups": [{"name": "G0", "tickers": ["U0"], "max_weight": 0.0}],
        "settings": {"fractional": True, "auto_fx": False, "fees": {"US": {"rate": 0, "min": 1}}},
    }
    result = plan(portfolio_from_dict(doc))
    assert result.orders == ()
    assert any("G0 stays above its cap" in w for w in result.warnings)


def test_book_worth_less_than_its_rounding_margin_keeps_an_empty_group_under_its_cap() -> None:
    # Cash 0.01 USD (13.86 KRW), nothing held, a group capped at 5% holding nothing. A trade
    # here would pay a 1 USD minimum fee, so the rounding margin is larger than the whole
    # book and "cap x (total - margin)" was negative: doing nothing, the group (0) broke its
    # own cap and repair raised "cannot be met". Found by the fee-rounding property test.
    doc = {
        "version": 1,
        "base_currency": "KRW",
        "fx": {"USDKRW": 1385.5},
        "accounts": [{"id": "acc0", "cash": {"KRW": 0, "USD": 0.01}}],
        "holdings": [
            {"account": "acc0", "ticker": t, "market": "US", "price": 1.0, "quantity": 0.0}
            for t in ("U0", "U1")
        ],
        "targets": {"U0": 1.0},
        "groups": [{"name": "G0", "tickers": ["U0"], "max_weight": 0.05}],
        "settings": {"fractional": True, "fees": {"US": {"rate": 0, "min": 1}}, "auto_fx": False},
    }
    result = plan(portfolio_from_dict(doc))
    assert result.orders == ()


def test_cap_whose_only_sale_cannot_pay_its_minimum_fee_is_unreachable() -> None:
    # 0.346 share at 725 KRW (251 KRW) in a group capped at 0%, no cash, a 500 KRW minimum
    # fee: selling leaves the account 249.65 KRW short and nothing else can be sold. Repair
    # used to take that sale (it removes more cap excess than it adds shortfall) and then
    # raise; doing nothing, with the cap named in a warning, is the valid plan. Found by the
    # fee-rounding property test.
    doc = {
        "version": 1,
        "base_currency": "KRW",
        "accounts": [{"id": "acc0", "cash": {"KRW": 0}}, {"id": "acc1", "cash": {"KRW": 0}}],
        "holdings": [
            {"account": "acc0", "ticker": "000002", "market": "KR", "price": 725,
             "quantity": 0.346}
        ],
        "targets": {"000002": 1.0},
        "groups": [{"name": "G0", "tickers": ["000002"], "max_weight": 0.0}],
        "settings": {"fractional": True, "fees": {"KR": {"rate": 0, "min": 500}}},
    }  # fmt: skip
    result = plan(portfolio_from_dict(doc))
    assert result.orders == ()
    assert any("G0 stays above its cap" in w for w in result.warnings)


def test_a_backtest_session_also_leaves_a_cap_its_only_sale_cannot_pay_for() -> None:
    # The same book in whole shares, planned by the backtests' PlanSession: its start used to
    # repair from no trades without keeping cash, and raised where plan() warns.
    doc = {
        "version": 1,
        "base_currency": "KRW",
        "accounts": [{"id": "acc0", "cash": {"KRW": 0}}],
        "holdings": [
            {"account": "acc0", "ticker": "000002", "market": "KR", "price": 251, "quantity": 1}
        ],
        "targets": {"000002": 1.0},
        "groups": [{"name": "G0", "tickers": ["000002"], "max_weight": 0.0}],
        "settings": {"fees": {"KR": {"rate": 0, "min": 500}}},
    }
    for planned in (plan(portfolio_from_dict(doc)), PlanSession().plan(portfolio_from_dict(doc))):
        assert planned.orders == ()
        assert any("G0 stays above its cap" in w for w in planned.warnings)


def test_withdrawal_paid_by_a_sale_whose_tax_is_above_the_sizing_slack() -> None:
    # 0.214 share at 32,105 KRW, no cash, 4,809 KRW withdrawn, a 500 KRW minimum fee and the
    # 0.2% sale tax: selling 0.165696 share pays it. Repair sized its covering sale with 0.1%
    # slack for the sale's own costs; short of the tax, it fell to 1e-6 share steps, ran out of
    # rounds 501.50 KRW short and raised InfeasibleError. Found by a fresh Hypothesis run
    # against the reference MILP.
    doc = {
        "version": 1,
        "base_currency": "KRW",
        "accounts": [{"id": "acc0", "cash": {"KRW": 0}}],
        "holdings": [
            {"account": "acc0", "ticker": "000001", "market": "KR", "kind": "STOCK",
             "price": 32105, "quantity": 0.214}
        ],
        "targets": {"000001": 1.0},
        "settings": {
            "contribution": {"KRW": -4809},
            "fractional": True,
            "fees": {"KR": {"rate": 0, "min": 500}},
            "sell_tax": {"KR:STOCK": 0.002},
            "auto_fx": False,
        },
    }  # fmt: skip
    for planned in (plan(portfolio_from_dict(doc)), PlanSession().plan(portfolio_from_dict(doc))):
        (order,) = planned.orders
        assert order.side.value == "SELL" and order.quantity <= 0.214
        # The withdrawal, the fee and the tax are paid from the sale, and no more is sold than
        # a few steps beyond what pays them.
        assert order.amount - order.fees - order.taxes >= 4809
        assert order.quantity < 0.1658
        assert planned.summary.cash_after["acc0"]["KRW"] >= 0


def test_withdrawal_needs_one_more_sale_that_pays_its_own_minimum_fee() -> None:
    # 40,720 KRW short after cash; each KR sale pays a 500 KRW minimum fee. Repair sold the
    # small rows whole, was 141.99 KRW short, and sized the next sale for 141.99 KRW alone:
    # the 500 KRW fee of a new trade made every such sale a loss, so it raised
    # InfeasibleError although a sliver of 000004 pays both. Found by a fresh Hypothesis run
    # against the reference MILP.
    def kr(ticker: str, kind: str, price: float, quantity: float) -> dict[str, object]:
        return {"account": "acc0", "ticker": ticker, "market": "KR", "kind": kind,
                "price": price, "quantity": quantity}  # fmt: skip

    doc = {
        "version": 1,
        "base_currency": "KRW",
        "fx": {"USDKRW": 1385.5},
        "accounts": [{"id": "acc0", "cash": {"KRW": 6934000}}],
        "holdings": [
            kr("000002", "STOCK", 3545, 0.192),
            kr("000003", "ETF", 1455, 2.08),
            kr("000000", "STOCK", 181980, 0.048),
            kr("000001", "STOCK", 1620, 0.669),
            {"account": "acc0", "ticker": "U6", "market": "US", "price": 2.51, "quantity": 27.903},
            kr("000004", "STOCK", 104415, 0.252),
            kr("000007", "ETF", 26840, 1.408),
            {"account": "acc0", "ticker": "U5", "market": "US", "price": 42.55, "quantity": 1.387},
        ],
        "targets": {"000000": 10 / 19, "000004": 6 / 19, "000007": 3 / 19},
        "settings": {
            "contribution": {"KRW": -6974720},
            "fractional": True,
            "fees": {"US": {"rate": 0, "min": 0}, "KR": {"rate": 0, "min": 500}},
            "sell_tax": {"KR:STOCK": 0.002, "KR:ETF": 0.0},
            "auto_fx": False,
        },
    }
    for planned in (plan(portfolio_from_dict(doc)), PlanSession().plan(portfolio_from_dict(doc))):
        assert planned.orders and all(o.side.value == "SELL" for o in planned.orders)
        assert planned.summary.cash_after["acc0"]["KRW"] >= 0
