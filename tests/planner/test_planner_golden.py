"""Golden tests: small portfolios whose optimal plan is worked out by hand in the comments.

Drift is L1, so many small cases have ties (moving surplus value from one over-target place to
another changes nothing). Every case below is built so that the optimum is unique: either each
term of the drift can reach its kink at one point only, or costs break the tie. Unless a test
says otherwise, prices are in KRW and costs are zero (see ``plancheck.document``).
"""

from __future__ import annotations

import math

import pytest
from plancheck import check_plan, document, drift_of, orders_by_key, run


def stock(ticker: str, quantity: float, price: float, **extra: object) -> dict[str, object]:
    return {"ticker": ticker, "quantity": quantity, "price": price, **extra}


# ---------------------------------------------------------------------------- modes


def test_rebalance_sells_the_overweight_and_buys_the_new_position() -> None:
    # A 10 x 1000 = 10000, B held at 0 but targeted; total 10000, targets 5000 each.
    # Drift 0 only at A 5 shares, B 5 shares, cash 0: sell 5 A, buy 5 B (a new position).
    doc = document([stock("A", 10, 1000), stock("B", 0, 1000)], {"A": 0.5, "B": 0.5})
    out = run(doc)
    assert orders_by_key(out) == {("a", "A"): ("SELL", 5), ("a", "B"): ("BUY", 5)}
    assert out["summary"]["drift_before"] == pytest.approx(1.0)
    assert out["summary"]["drift_after"] == pytest.approx(0.0, abs=1e-12)
    check_plan(doc, out)


def test_buy_only_never_sells_and_spends_the_cash() -> None:
    # A 10 x 1000, B 0, cash 4000: total 14000, targets 7000 each. A is 3000 over but may not
    # be sold; buying b of B gives drift (3000 + (7000 - 1000b) + (4000 - 1000b)) / 14000,
    # decreasing in b up to the cash limit b = 4: BUY B 4, drift 6000/14000.
    doc = document(
        [stock("A", 10, 1000), stock("B", 0, 1000)],
        {"A": 0.5, "B": 0.5},
        cash={"KRW": 4000},
        mode="buy_only",
    )
    out = run(doc)
    assert orders_by_key(out) == {("a", "B"): ("BUY", 4)}
    assert out["summary"]["drift_after"] == pytest.approx(6000 / 14000)
    check_plan(doc, out)


def test_sell_only_withdrawal_sells_just_enough_of_the_overweight() -> None:
    # A 14, B 6 (x 1000), withdrawal 3500: V0 = 16500, targets 8250 each. B may not be bought.
    # Selling k A needs 1000k - fee >= 3500, so k >= 4. For k in 4..5 the drift in value units
    # is |5750 - 1000k| + 2250 + (1000k - 3500 - fee), flat at 4500 + ..., so the fee
    # (0.1% = 1 KRW a share) decides: k = 4. Cash after 4000 - 4 - 3500 = 496.
    doc = document(
        [stock("A", 14, 1000), stock("B", 6, 1000)],
        {"A": 0.5, "B": 0.5},
        mode="sell_only",
        contribution={"KRW": -3500},
        fees={"KR": {"rate": 0.001, "min": 0}},
    )
    out = run(doc)
    assert orders_by_key(out) == {("a", "A"): ("SELL", 4)}
    assert out["orders"][0]["fees"] == pytest.approx(4.0)
    assert out["summary"]["cash_after"]["a"]["KRW"] == pytest.approx(496.0)
    # After: A 10000, B 6000, cash 496 -> drift (1752 + 2248 + 496) / 16496.
    assert out["summary"]["drift_after"] == pytest.approx(4496 / 16496)
    check_plan(doc, out)


def test_cash_target_sells_into_cash() -> None:
    # A 10 x 1000, targets A 0.7 and CASH 0.3: sell 3 A, drift 0.
    doc = document([stock("A", 10, 1000)], {"A": 0.7, "CASH": 0.3})
    out = run(doc)
    assert orders_by_key(out) == {("a", "A"): ("SELL", 3)}
    assert out["summary"]["drift_after"] == pytest.approx(0.0, abs=1e-12)
    check_plan(doc, out)


# ---------------------------------------------------------------------------- group caps


def test_capped_group_above_its_cap_is_sold_down_to_the_cap_after_costs() -> None:
    # A 80, L 20 (x 1000), targets A 0.9, L 0.1, but L is capped at 5%; fee 0.1% (1 KRW/share).
    # V0 = 100000. The cap holds on value after costs: L <= 0.05 (100000 - costs). Selling 15 L
    # leaves 5000 > 0.05 x (100000 - 15 - ...), so 16 L must go (L = 4000). Then buying b A
    # costs 1001b from 15984: objective |1000b - 10000| + 6000 + |16000 - 1000b| + 16 + b is
    # smallest at b = 10 (b = 11 costs one more KRW). Cash after: 16000 - 16 - 10010 = 5974.
    doc = document(
        [stock("A", 80, 1000), stock("L", 20, 1000)],
        {"A": 0.9, "L": 0.1},
        groups=[{"name": "Leveraged", "tickers": ["L"], "max_weight": 0.05}],
        fees={"KR": {"rate": 0.001, "min": 0}},
    )
    out = run(doc)
    assert orders_by_key(out) == {("a", "L"): ("SELL", 16), ("a", "A"): ("BUY", 10)}
    assert out["summary"]["cash_after"]["a"]["KRW"] == pytest.approx(5974.0)
    facts = check_plan(doc, out)
    assert facts.values_after["L"] / facts.total_after <= 0.05


def test_buy_only_does_not_buy_past_a_cap() -> None:
    # A 90 x 1000 (target 0.85), L 0 (target 0.15, capped at 5%), cash 10000; V0 = 100000.
    # A may not be sold; L is bought up to the cap: 5 shares (L = 5000 = 5%), cash 5000 left.
    # Drift (5000 + 10000 + 5000) / 100000 = 0.2. Six shares would break the cap.
    doc = document(
        [stock("A", 90, 1000), stock("L", 0, 1000)],
        {"A": 0.85, "L": 0.15},
        cash={"KRW": 10000},
        groups=[{"name": "Leveraged", "tickers": ["L"], "max_weight": 0.05}],
        mode="buy_only",
    )
    out = run(doc)
    assert orders_by_key(out) == {("a", "L"): ("BUY", 5)}
    assert out["summary"]["drift_after"] == pytest.approx(0.2)
    check_plan(doc, out)


def test_buy_only_never_buys_into_a_group_above_its_cap() -> None:
    # L is 20% of V0 = 100000 with a 5% cap and a 30% target; A is under target. In buy_only
    # the group cannot be sold down, so it must not be bought: all 10000 cash goes to A
    # (A 60 -> 70, target 70). Without the cap the planner would split it between A and L.
    doc = document(
        [stock("A", 60, 1000), stock("L", 20, 1000), stock("B", 10, 1000)],
        {"A": 0.7, "L": 0.3, "B": 0.0},
        cash={"KRW": 10000},
        groups=[{"name": "Leveraged", "tickers": ["L"], "max_weight": 0.05}],
        mode="buy_only",
    )
    out = run(doc)
    assert orders_by_key(out) == {("a", "A"): ("BUY", 10)}
    check_plan(doc, out)


# ---------------------------------------------------------------------------- locks


def test_locked_row_is_not_traded() -> None:
    # A 10 x 1000 locked (target 0.25), B 0 (target 0.75), cash 10000: V0 = 20000.
    # Unlocked: sell 5 A, buy 15 B (drift 0). Locked: only the cash buys B: 10 shares,
    # drift (5000 + 5000) / 20000 = 0.5; fewer shares leave more of both gaps.
    holdings = [stock("A", 10, 1000), stock("B", 0, 1000)]
    targets = {"A": 0.25, "B": 0.75}
    free = run(document(holdings, targets, cash={"KRW": 10000}))
    assert orders_by_key(free) == {("a", "A"): ("SELL", 5), ("a", "B"): ("BUY", 15)}

    holdings[0]["locked"] = True
    doc = document(holdings, targets, cash={"KRW": 10000})
    out = run(doc)
    assert orders_by_key(out) == {("a", "B"): ("BUY", 10)}
    assert out["summary"]["drift_after"] == pytest.approx(0.5)
    check_plan(doc, out)


# ---------------------------------------------------------------------------- bands

# Targets A .4, B .3, C .1, D .1, E .1; V0 = 100 x 1000, cash 0. Weights before:
# A .42 (+.02), B .28 (-.02), C .14 (+.04), D .06 (-.04), E .10.
# 5/25 band: width min(.05, .25 t) = .05 for A and B, .025 for C, D, E. So A and B sit inside
# their band, C and D are outside (by the relative part only). C + D = 20000 = their targets,
# so the unique best is: sell 4 C, buy 4 D, drift .04 (A and B left off by .02 each).
BAND_HOLDINGS = [
    stock("A", 42, 1000),
    stock("B", 28, 1000),
    stock("C", 14, 1000),
    stock("D", 6, 1000),
    stock("E", 10, 1000),
]
BAND_TARGETS = {"A": 0.4, "B": 0.3, "C": 0.1, "D": 0.1, "E": 0.1}


@pytest.mark.parametrize(
    ("band", "expected", "drift_after"),
    [
        # No band: everything to target, drift 0.
        (
            {"absolute": 0.0, "relative": 0.0},
            {
                ("a", "A"): ("SELL", 2),
                ("a", "B"): ("BUY", 2),
                ("a", "C"): ("SELL", 4),
                ("a", "D"): ("BUY", 4),
            },
            0.0,
        ),
        # 5/25: only C and D are outside their bands.
        (
            {"absolute": 0.05, "relative": 0.25},
            {("a", "C"): ("SELL", 4), ("a", "D"): ("BUY", 4)},
            0.04,
        ),
        # Absolute 5% only: every position is inside; nothing trades, drift stays .12.
        ({"absolute": 0.05, "relative": 0.0}, {}, 0.12),
    ],
)
def test_bands(
    band: dict[str, float], expected: dict[tuple[str, str], tuple[str, float]], drift_after: float
) -> None:
    doc = document(BAND_HOLDINGS, BAND_TARGETS, band=band)
    out = run(doc)
    assert orders_by_key(out) == expected
    assert out["summary"]["drift_after"] == pytest.approx(drift_after, abs=1e-12)
    check_plan(doc, out)


# ---------------------------------------------------------------------------- fees and taxes


@pytest.mark.parametrize(
    ("fee_min", "expected"),
    [
        # Buying 1 B (fee F) leaves V - F; on it the targets are A 50000 - .5F, B 45000 - .45F,
        # cash 5000 - .05F against A 50000, B 45000, cash 5000 - F: drift terms .5F + .45F +
        # .95F = 1.9F instead of 2000, and costs weigh 2.001: the change 3.901F - 2000 is
        # negative for F < 512.7. A 500 minimum is worth paying...
        (500, {("a", "B"): ("BUY", 1)}),
        # ...a 1500 minimum is not: drift after would be 2.9% against 2% now (cash 6000 would
        # cover it, so only the cost decides).
        (1500, {}),
    ],
)
def test_minimum_fee_skips_a_trade_not_worth_it(
    fee_min: float, expected: dict[tuple[str, str], tuple[str, float]]
) -> None:
    # A 50, B 44 (x 1000), cash 6000; targets A .5, B .45, CASH .05; V0 = 100000.
    doc = document(
        [stock("A", 50, 1000), stock("B", 44, 1000)],
        {"A": 0.5, "B": 0.45, "CASH": 0.05},
        cash={"KRW": 6000},
        fees={"KR": {"rate": 0.0, "min": fee_min}},
    )
    out = run(doc)
    assert orders_by_key(out) == expected
    if expected:
        assert out["orders"][0]["fees"] == fee_min
        # After: A 50000, B 45000, cash 6000 - 1000 - 500 = 4500.
        assert out["summary"]["drift_after"] == pytest.approx(
            drift_of({"A": 50000, "B": 45000}, 4500, {"A": 0.5, "B": 0.45, "CASH": 0.05})
        )
    check_plan(doc, out)


def test_kr_sell_tax_on_stocks_not_on_etfs() -> None:
    # S (KR stock) and E (KR ETF), 10 x 10000 each; targets .4 / .4 / CASH .2; V0 = 200000.
    # Sell 2 of each (drift 0 before costs). Tax: 0.2% of 20000 = 40 on S, 0 on E.
    doc = document(
        [stock("S", 10, 10000, kind="STOCK"), stock("E", 10, 10000, kind="ETF")],
        {"S": 0.4, "E": 0.4, "CASH": 0.2},
        sell_tax={"KR:STOCK": 0.002, "KR:ETF": 0.0},
    )
    out = run(doc)
    assert orders_by_key(out) == {("a", "S"): ("SELL", 2), ("a", "E"): ("SELL", 2)}
    taxes = {o["ticker"]: o["taxes"] for o in out["orders"]}
    assert taxes == {"S": pytest.approx(40.0), "E": 0.0}
    assert out["summary"]["taxes_total"] == pytest.approx(40.0)
    assert out["summary"]["cash_after"]["a"]["KRW"] == pytest.approx(39960.0)
    check_plan(doc, out)


@pytest.mark.parametrize(
    ("sell_tax", "sold"),
    [({"KR:STOCK": 0.002, "KR:ETF": 0.0}, "E"), ({"KR:STOCK": 0.0, "KR:ETF": 0.002}, "S")],
)
def test_withdrawal_is_funded_from_the_untaxed_sale(sell_tax: dict[str, float], sold: str) -> None:
    # S and E, 10 x 10000 each, targets .5 / .5, withdrawal 10000: one share must go. Drift is
    # the same whichever is sold (|90000 - 95000| + |100000 - 95000|); only the tax differs.
    doc = document(
        [stock("S", 10, 10000, kind="STOCK"), stock("E", 10, 10000, kind="ETF")],
        {"S": 0.5, "E": 0.5},
        contribution={"KRW": -10000},
        sell_tax=sell_tax,
    )
    out = run(doc)
    assert orders_by_key(out) == {("a", sold): ("SELL", 1)}
    assert out["orders"][0]["taxes"] == 0.0
    check_plan(doc, out)


# ---------------------------------------------------------------------------- FX


def test_usd_buy_from_krw_with_spread_never_overdraws() -> None:
    # VTI 100 USD, USDKRW 1000, spread 1%: a share costs 101000 KRW. Cash 1,000,000 KRW and a
    # 100% VTI target: 10 shares would need 1,010,000, so 9 (909,000 KRW), 91,000 KRW left.
    doc = document(
        [stock("VTI", 0, 100.0, market="US", kind="ETF")],
        {"VTI": 1.0},
        cash={"KRW": 1_000_000},
        fx_spread=0.01,
    )
    out = run(doc)
    assert orders_by_key(out) == {("a", "VTI"): ("BUY", 9)}
    assert out["conversions"] == [
        {
            "account": "a",
            "sell_currency": "KRW",
            "buy_currency": "USD",
            "sell_amount": pytest.approx(909_000.0),
            "buy_amount": pytest.approx(900.0),
        }
    ]
    assert out["summary"]["cash_after"]["a"]["KRW"] == pytest.approx(91_000.0)
    assert out["summary"]["cash_after"]["a"]["USD"] == pytest.approx(0.0, abs=1e-6)
    check_plan(doc, out)


@pytest.mark.parametrize(
    ("auto_fx", "shares"),
    [
        # 300 USD + 1,000,000 KRW = 1300 USD at 1000 and no spread: 13 shares of 100 USD.
        (True, 13),
        # Currencies kept apart: only the 300 USD buys, 3 shares; the KRW stays.
        (False, 3),
    ],
)
def test_auto_fx_switch(auto_fx: bool, shares: int) -> None:
    doc = document(
        [stock("VTI", 0, 100.0, market="US", kind="ETF")],
        {"VTI": 1.0},
        cash={"KRW": 1_000_000, "USD": 300.0},
        auto_fx=auto_fx,
    )
    out = run(doc)
    assert orders_by_key(out) == {("a", "VTI"): ("BUY", shares)}
    krw_left = 0.0 if auto_fx else 1_000_000.0
    assert out["summary"]["cash_after"]["a"]["KRW"] == pytest.approx(krw_left, abs=1e-6)
    if not auto_fx:
        assert out["conversions"] == []
    check_plan(doc, out)


def test_us_sale_pays_for_a_kr_buy_through_fx() -> None:
    # VTI 10 x 100 USD (1,000,000 KRW at 1000), K 0 x 10000 KRW; targets .5 / .5 and no cash.
    # Sell 5 VTI (500 USD -> 500,000 KRW) and buy 50 K: drift 0.
    doc = document(
        [stock("VTI", 10, 100.0, market="US", kind="ETF"), stock("K", 0, 10000, kind="ETF")],
        {"VTI": 0.5, "K": 0.5},
    )
    out = run(doc)
    assert orders_by_key(out) == {("a", "VTI"): ("SELL", 5), ("a", "K"): ("BUY", 50)}
    assert out["summary"]["drift_after"] == pytest.approx(0.0, abs=1e-12)
    check_plan(doc, out)


# ---------------------------------------------------------------------------- accounts


def test_each_account_pays_from_its_own_cash() -> None:
    # X may be held in both accounts; only account b has cash (10000). V0 = 20000, X target
    # 10000: it is bought in b (10 shares). Account a has nothing to pay with, and Y (10000,
    # on target) stays. Were cash shared, buying in either account would do.
    doc = document(
        [
            stock("X", 0, 1000, account="a"),
            stock("Y", 10, 1000, account="a"),
            stock("X", 0, 1000, account="b"),
        ],
        {"X": 0.5, "Y": 0.5},
        accounts=[{"id": "a", "cash": {"KRW": 0}}, {"id": "b", "cash": {"KRW": 10000}}],
    )
    out = run(doc)
    assert orders_by_key(out) == {("b", "X"): ("BUY", 10)}
    assert out["summary"]["cash_after"] == {"a": {"KRW": 0.0}, "b": {"KRW": 0.0}}
    check_plan(doc, out)


def test_cash_does_not_move_between_accounts() -> None:
    # Account a holds Y 10 x 1000 and an empty X row; account b holds only 10000 KRW.
    # Targets X .5, Y .5, V0 = 20000. With shared cash, buying 10 X with b's money would reach
    # drift 0. It is not shared: X can only be paid by selling Y in a, and selling k Y to buy
    # k X leaves drift (k + (10000 - k) + 10000) / 20000 = 1 for every k, so the 0.1% fee
    # makes "no trade" the unique best. b's cash stays where it is.
    doc = document(
        [stock("X", 0, 1000, account="a"), stock("Y", 10, 1000, account="a")],
        {"X": 0.5, "Y": 0.5},
        accounts=[{"id": "a", "cash": {}}, {"id": "b", "cash": {"KRW": 10000}}],
        fees={"KR": {"rate": 0.001, "min": 0}},
    )
    out = run(doc)
    assert orders_by_key(out) == {}
    assert out["summary"]["cash_after"]["b"]["KRW"] == 10000
    assert out["summary"]["drift_after"] == pytest.approx(1.0)
    check_plan(doc, out)


# ---------------------------------------------------------------------------- lots and sizes


@pytest.mark.parametrize(("fractional", "quantity"), [(True, 3.333333), (False, 3)])
def test_fractional_shares(fractional: bool, quantity: float) -> None:
    # 10000 KRW into A at 3000: 3.333333 shares (multiples of 1e-6, never overspending) or 3.
    doc = document([stock("A", 0, 3000)], {"A": 1.0}, cash={"KRW": 10000}, fractional=fractional)
    out = run(doc)
    assert orders_by_key(out) == {("a", "A"): ("BUY", quantity)}
    assert out["summary"]["cash_after"]["a"]["KRW"] == pytest.approx(10000 - 3000 * quantity)
    check_plan(doc, out)


@pytest.mark.parametrize(("minimum", "expected"), [(1000, {("a", "B"): ("BUY", 1)}), (1001, {})])
def test_minimum_trade_value(
    minimum: float, expected: dict[tuple[str, str], tuple[str, float]]
) -> None:
    # A 50, B 49 (x 1000), cash 1000, targets .5/.5: the one useful trade is buying 1 B for
    # 1000. With a minimum trade of 1001 it is too small, and a bigger B buy needs selling A
    # (selling 5 A to buy 5 B lands at drift .18 > .02), so nothing trades.
    doc = document(
        [stock("A", 50, 1000), stock("B", 49, 1000)],
        {"A": 0.5, "B": 0.5},
        cash={"KRW": 1000},
        min_trade_value=minimum,
    )
    out = run(doc)
    assert orders_by_key(out) == expected
    check_plan(doc, out)


# ---------------------------------------------------------------------------- output contract

ORDER_KEYS = {
    "account",
    "ticker",
    "side",
    "quantity",
    "price",
    "currency",
    "amount",
    "fees",
    "taxes",
}
SUMMARY_KEYS = {
    "base_currency",
    "value_before",
    "value_after",
    "drift_before",
    "drift_after",
    "cash_after",
    "fees_total",
    "taxes_total",
    "solver",
}


def test_plan_json_has_the_documented_keys() -> None:
    doc = document(
        [stock("A", 1000, 1000), stock("VTI", 0, 100.0, market="US")],
        {"A": 0.5, "VTI": 0.5},
        fees={"US": {"rate": 0.0025, "min": 0}, "KR": {"rate": 0.00015, "min": 0}},
    )
    out = run(doc)
    assert out["orders"]
    for order in out["orders"]:
        # Orders carry exactly the documented fields.
        assert set(order) == ORDER_KEYS
    # The format is a minimum contract: the summary may add fields but not lose any.
    assert {"orders", "summary"} <= set(out)
    assert set(out["summary"]) >= SUMMARY_KEYS
    assert set(out["summary"]["solver"]) == {"status", "gap", "seconds"}
    assert out["summary"]["solver"]["status"] in {"optimal", "time_limit", "heuristic"}
    assert out["summary"]["base_currency"] == "KRW"
    assert set(out["summary"]["cash_after"]) == {"a"}
    # Whole shares are written as JSON integers.
    assert all(isinstance(o["quantity"], int) for o in out["orders"])
    assert math.isclose(out["summary"]["value_before"], 1_000_000.0)


# ---------------------------------------------------------------------------- cap rotation


def test_rebalance_rotates_inside_a_group_above_its_cap() -> None:
    # The seed's tech book in small: QQQ 50, XLK 10, TQQQ 40 (x 1000), Tech = {XLK, TQQQ}
    # capped at 30% but at 50%, targets QQQ .6, XLK .3, TQQQ .1 (Tech's add up to 40%: the cap
    # wins). With Tech at x + y <= 30000, |x - 30000| + |y - 10000| >= 10000, reached with
    # y <= 10000 and x <= 30000; QQQ q and cash c with q + c = 70000 add |q - 60000| + c >=
    # 10000. Drift 0.2 at best. Least turnover among those: keep TQQQ at 10 (sell 30), XLK to
    # 20 (buy 10), QQQ to 60 (buy 10), 10000 cash left. Forbidding buys into the group (the
    # old rule) leaves XLK at 10: drift 0.4.
    doc = document(
        [stock("QQQ", 50, 1000), stock("XLK", 10, 1000), stock("TQQQ", 40, 1000)],
        {"QQQ": 0.6, "XLK": 0.3, "TQQQ": 0.1},
        groups=[{"name": "Tech", "tickers": ["XLK", "TQQQ"], "max_weight": 0.3}],
    )
    out = run(doc)
    assert orders_by_key(out) == {
        ("a", "QQQ"): ("BUY", 10),
        ("a", "XLK"): ("BUY", 10),
        ("a", "TQQQ"): ("SELL", 30),
    }
    assert out["summary"]["drift_after"] == pytest.approx(0.2)
    assert out["summary"]["solver"]["status"] == "optimal"
    check_plan(doc, out)


def test_unreachable_cap_allows_rotation_that_does_not_raise_the_group() -> None:
    # L 40 locked (target .35), A 10 (target 0), B 0 (target .15), C 50 (target .5), x 1000;
    # group {L, A, B} capped at 30% is at 50% and cannot get under it (L alone is 40%). It may
    # not rise: selling A pays for B. Sell 10 A, buy 10 B: drift (5000 + 5000) / 100000 = 0.1
    # (without the rotation, 10000 idle cash and B 15000 short: 0.3).
    doc = document(
        [
            stock("L", 40, 1000, locked=True),
            stock("A", 10, 1000),
            stock("B", 0, 1000),
            stock("C", 50, 1000),
        ],
        {"L": 0.35, "A": 0.0, "B": 0.15, "C": 0.5},
        groups=[{"name": "G", "tickers": ["L", "A", "B"], "max_weight": 0.3}],
    )
    out = run(doc)
    assert orders_by_key(out) == {("a", "A"): ("SELL", 10), ("a", "B"): ("BUY", 10)}
    assert out["summary"]["drift_after"] == pytest.approx(0.1)
    assert any("G is at 50.00%" in w and "may not rise" in w for w in out["warnings"])
    check_plan(doc, out)


# ---------------------------------------------------------------------------- tie-breaks


def test_equal_drift_and_turnover_then_fewest_orders() -> None:
    # Z 100 x 1000, cash 3000 (V = 103000); A short of its target by 1.5 shares, B by 10.3,
    # both at 1000. All 3000 goes to A and B (buy-only, no cash target). With a + b = 3 and
    # a in {0, 1}, A's term |1500 - 1000a| falls by 1000 exactly as B's rises: 1 A + 2 B
    # (what the LP's rounding gives) and 3 B have the same drift and turnover (3000).
    # Fewest orders: 3 B, one order.
    total = 103_000
    doc = document(
        [stock("A", 0, 1000), stock("B", 0, 1000), stock("Z", 100, 1000)],
        {"A": 1500 / total, "B": 0.1, "Z": 1 - 0.1 - 1500 / total},
        cash={"KRW": 3000},
        mode="buy_only",
    )
    out = run(doc)
    assert orders_by_key(out) == {("a", "B"): ("BUY", 3)}
    assert out["summary"]["solver"]["status"] == "optimal"
    check_plan(doc, out)


def test_equal_weight_shortfall_is_spread_not_piled_on_one_name() -> None:
    # Ten names at 10,000 each, equal weights, 100M cash, 0.25% fees: 1,000 shares each
    # would cost 100.25M, so 25 shares are missing wherever they fall (the same drift and
    # turnover). They fall one or none per name (998 / 997), not 25 on one name: the plan
    # starts from the LP relaxation's even split, and the tie-breaks never pile them up.
    doc = document(
        [stock(f"A{k:02d}", 0, 10_000) for k in range(10)],
        {f"A{k:02d}": 0.1 for k in range(10)},
        cash={"KRW": 100_000_000},
        fees={"US": {"rate": 0.0, "min": 0}, "KR": {"rate": 0.0025, "min": 0}},
    )
    out = run(doc)
    quantities = [o["quantity"] for o in out["orders"]]
    assert len(quantities) == 10
    assert max(quantities) - min(quantities) <= 1, quantities
    check_plan(doc, out)
