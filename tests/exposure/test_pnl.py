"""Profit and loss and the overseas capital-gains tax estimate, against hand-computed values."""

from __future__ import annotations

from typing import Any

import pytest

from xlrebalance.document import portfolio_from_dict
from xlrebalance.model import Order, Plan, Side, SolverReport, SolverStatus, Summary
from xlrebalance.pnl import estimate_tax, overseas_gains_tax, pnl_report, realised_sales


def book(realised: float = 0.0) -> dict[str, Any]:
    return {
        "base_currency": "KRW",
        "fx": {"USDKRW": 1400.0},
        "accounts": [{"id": "gen", "cash": {"KRW": 1_000_000}}, {"id": "isa", "cash": {}}],
        "holdings": [
            # +50%: (150 - 100) x 40 = 2,000 USD = 2,800,000 KRW
            {
                "account": "gen",
                "ticker": "QQQ",
                "kind": "ETF",
                "quantity": 40,
                "price": 150.0,
                "average_cost": 100.0,
                "take_profit": 0.5,
            },
            # -20%: (80 - 100) x 10 = -200 USD = -280,000 KRW
            {
                "account": "gen",
                "ticker": "TQQQ",
                "kind": "ETF",
                "quantity": 10,
                "price": 80.0,
                "average_cost": 100.0,
                "take_profit": 0.3,
            },
            # KRX stock: (60,000 - 50,000) x 10 = 100,000 KRW
            {
                "account": "isa",
                "ticker": "005930",
                "quantity": 10,
                "price": 60000.0,
                "average_cost": 50000.0,
            },
            {"account": "isa", "ticker": "069500", "kind": "ETF", "quantity": 5, "price": 40000},
        ],
        "targets": {"QQQ": 0.4, "TQQQ": 0.1, "005930": 0.2, "069500": 0.2, "CASH": 0.1},
        "settings": {"realised_gains_this_year": realised},
    }


def test_unrealised_per_row_and_account() -> None:
    report = pnl_report(portfolio_from_dict(book()))
    rows = {p.ticker: p for p in report.positions}
    assert rows["QQQ"].gain == pytest.approx(2000.0)
    assert rows["QQQ"].gain_base == pytest.approx(2_800_000.0)
    assert rows["QQQ"].ret == pytest.approx(0.5)
    assert rows["QQQ"].take_profit_hit  # exactly at the target counts
    assert rows["TQQQ"].ret == pytest.approx(-0.2)
    assert not rows["TQQQ"].take_profit_hit
    assert rows["069500"].gain is None  # no average cost: unknown, not zero
    gen, isa = report.accounts
    assert gen.gain_base == pytest.approx(2_800_000 - 280_000)
    assert gen.ret == pytest.approx(2_520_000 / ((4000 + 1000) * 1400))
    assert isa.gain_base == pytest.approx(100_000)
    assert isa.rows_without_cost == 1
    assert report.total.gain_base == pytest.approx(2_620_000)
    assert [p.ticker for p in report.take_profit_rows] == ["QQQ"]


def _plan(*orders: Order) -> Plan:
    solver = SolverReport(SolverStatus.OPTIMAL, 0.0, 0.0)
    summary = Summary("KRW", 0, 0, 0, 0, {}, 0, 0, 0, solver)
    return Plan(orders=orders, summary=summary)


def test_realised_gains_of_a_plans_sales_at_average_cost() -> None:
    portfolio = portfolio_from_dict(book())
    sale = Order("gen", "QQQ", Side.SELL, 10, 150.0, "USD", 1500.0, fees=3.75, taxes=0.0)
    loss = Order("gen", "TQQQ", Side.SELL, 10, 80.0, "USD", 800.0, fees=2.0, taxes=0.0)
    domestic = Order("isa", "005930", Side.SELL, 5, 60000.0, "KRW", 300000.0, 45.0, 600.0)
    buy = Order("isa", "069500", Side.BUY, 1, 40000.0, "KRW", 40000.0, 6.0, 0.0)
    sales = realised_sales(portfolio, _plan(sale, loss, domestic, buy))
    by = {s.ticker: s for s in sales}
    assert set(by) == {"QQQ", "TQQQ", "005930"}
    assert by["QQQ"].gain == pytest.approx(1500 - 3.75 - 1000)  # 496.25 USD
    assert by["QQQ"].gain_base == pytest.approx(496.25 * 1400)
    assert by["TQQQ"].gain == pytest.approx(800 - 2 - 1000)  # -202 USD
    assert by["QQQ"].overseas and not by["005930"].overseas
    assert by["005930"].gain == pytest.approx(300000 - 45 - 600 - 250000)


def test_tax_estimate_with_deduction_and_losses_offsetting_gains() -> None:
    # 22% above 2,500,000 KRW a year.
    assert overseas_gains_tax(2_500_000) == 0.0
    assert overseas_gains_tax(4_000_000) == pytest.approx(330_000)
    # Earlier gains 1,000,000; the plan realises 3,000,000: 0.22 x 1,500,000 = 330,000 due.
    t = estimate_tax(1_000_000, 3_000_000)
    assert (t.tax_before, t.tax_after, t.due_to_plan) == pytest.approx((0, 330_000, 330_000))
    # Earlier gains 5,000,000; the plan's sales lose 2,000,000: the year's tax falls from
    # 550,000 to 110,000.
    t = estimate_tax(5_000_000, -2_000_000)
    assert t.tax_before == pytest.approx(550_000)
    assert t.tax_after == pytest.approx(110_000)
    assert t.due_to_plan == pytest.approx(-440_000)
    # A loss-making year owes nothing.
    assert estimate_tax(-1_000_000, 3_000_000).tax_after == 0.0


def test_report_estimates_tax_of_overseas_sales_only() -> None:
    portfolio = portfolio_from_dict(book(realised=2_000_000))
    sale = Order("gen", "QQQ", Side.SELL, 10, 150.0, "USD", 1500.0, fees=3.75, taxes=0.0)
    domestic = Order("isa", "005930", Side.SELL, 5, 60000.0, "KRW", 300000.0, 45.0, 600.0)
    report = pnl_report(portfolio, _plan(sale, domestic))
    assert report.tax is not None
    assert report.tax.plan_gains == pytest.approx(496.25 * 1400)  # the KRX sale is not in it
    expected = 0.22 * (2_000_000 + 496.25 * 1400 - 2_500_000)
    assert report.tax.tax_after == pytest.approx(expected)
    assert "estimate" in report.tax.note


def test_non_krw_books_get_no_korean_tax_estimate() -> None:
    doc = book()
    doc["base_currency"] = "USD"
    doc["fx"] = {"KRWUSD": 1 / 1400}
    assert pnl_report(portfolio_from_dict(doc)).tax is None
