"""Look-through exposure and leverage, checked against numbers worked out by hand."""

from __future__ import annotations

from typing import Any

import pytest

from xlrebalance.document import portfolio_from_dict
from xlrebalance.exposure import (
    UNKNOWN_SECTOR,
    Constituent,
    FundHoldings,
    company_key,
    leverage_of,
    limit_breaches,
    look_through,
    sector_label,
)
from xlrebalance.exposure.checks import plan_warnings, quantities_after
from xlrebalance.model import ExposureLimits, Holding, Kind, Market
from xlrebalance.planner import plan


def three_funds(**settings: Any) -> dict[str, Any]:
    """QQQ 5,000 + XLK 2,500 + TQQQ 2,500 USD, no cash: weights 0.5, 0.25, 0.25."""
    rows = [("QQQ", 10, 500.0), ("XLK", 10, 250.0), ("TQQQ", 25, 100.0)]
    return {
        "base_currency": "USD",
        "accounts": [{"id": "a", "cash": {"USD": 0}}],
        "holdings": [
            {"account": "a", "ticker": t, "kind": "ETF", "quantity": q, "price": p}
            for t, q, p in rows
        ],
        "targets": {"QQQ": 0.5, "XLK": 0.3, "TQQQ": 0.2},
        "settings": settings,
    }


FUNDS = {
    "QQQ": FundHoldings(
        "QQQ",
        "test",
        (
            Constituent("NVDA", "NVIDIA", 0.10),
            Constituent("MSFT", "Microsoft", 0.08),
            Constituent("AAPL", "Apple", 0.07),
        ),
        {"technology": 0.6, "communication_services": 0.15, "consumer_cyclical": 0.25},
    ),
    "XLK": FundHoldings(
        "XLK",
        "test",
        (
            Constituent("NVDA", "NVIDIA", 0.14),
            Constituent("AAPL", "Apple", 0.13),
            Constituent("MSFT", "Microsoft", 0.12),
        ),
        {"technology": 1.0},
    ),
}


def test_three_fund_book_by_hand() -> None:
    portfolio = portfolio_from_dict(three_funds())
    e = look_through(portfolio, FUNDS)
    # TQQQ is 3x QQQ (table): exposure 0.75 spread over QQQ's holdings.
    by_ticker = {p.ticker: p for p in e.positions}
    assert by_ticker["TQQQ"].leverage.factor == 3.0
    assert by_ticker["TQQQ"].basis == "proxy QQQ"
    assert by_ticker["TQQQ"].exposure == pytest.approx(0.75)
    assert e.net == pytest.approx(1.5)
    assert e.gross == pytest.approx(1.5)
    companies = {c.symbol: c for c in e.companies}
    # NVDA: 0.5 x 0.10 + 0.25 x 0.14 + 0.75 x 0.10 = 0.16
    assert companies["NVDA"].weight == pytest.approx(0.16)
    assert companies["MSFT"].weight == pytest.approx(0.13)  # .04 + .03 + .06
    assert companies["AAPL"].weight == pytest.approx(0.12)  # .035 + .0325 + .0525
    assert [c.symbol for c in e.companies] == ["NVDA", "MSFT", "AAPL"]
    assert companies["NVDA"].via == (
        ("TQQQ", pytest.approx(0.075)),
        ("QQQ", pytest.approx(0.05)),
        ("XLK", pytest.approx(0.035)),
    )
    # Sectors: technology 0.5 x 0.6 + 0.25 x 1 + 0.75 x 0.6 = 1.0
    assert e.sectors["Technology"] == pytest.approx(1.0)
    assert e.sectors["Communication Services"] == pytest.approx(0.1875)
    assert e.sectors["Consumer Cyclical"] == pytest.approx(0.3125)
    assert UNKNOWN_SECTOR not in e.sectors
    # Named companies cover (0.5 x 0.25 + 0.25 x 0.39 + 0.75 x 0.25) / 1.5 of gross.
    assert e.coverage == pytest.approx(0.41 / 1.5)
    assert e.unknown == ()


def test_a_fund_without_data_is_unknown_not_zero() -> None:
    portfolio = portfolio_from_dict(three_funds())
    e = look_through(portfolio, {"QQQ": FUNDS["QQQ"]})
    assert e.unknown == ("XLK",)
    assert e.sectors[UNKNOWN_SECTOR] == pytest.approx(0.25)
    assert list(e.sectors)[-1] == UNKNOWN_SECTOR  # listed last whatever its size
    # NVDA still counts through QQQ and TQQQ: 0.05 + 0.075
    assert {c.symbol: c.weight for c in e.companies}["NVDA"] == pytest.approx(0.125)


def test_user_leverage_wins_and_inverse_funds_subtract() -> None:
    doc = three_funds()
    doc["holdings"][2]["leverage"] = -1.0  # as if the user held an inverse fund there
    e = look_through(portfolio_from_dict(doc), FUNDS)
    tqqq = {p.ticker: p for p in e.positions}["TQQQ"]
    assert tqqq.leverage.source == "user"
    assert e.net == pytest.approx(0.5 + 0.25 - 0.25)
    assert e.gross == pytest.approx(1.0)
    nvda = {c.symbol: c.weight for c in e.companies}["NVDA"]
    assert nvda == pytest.approx(0.05 + 0.035 - 0.025)


def test_stocks_held_directly_merge_with_fund_constituents() -> None:
    doc = three_funds()
    doc["holdings"].append(
        {"account": "a", "ticker": "NVDA", "kind": "STOCK", "quantity": 10, "price": 100.0}
    )
    doc["targets"] = {"QQQ": 0.5, "XLK": 0.2, "TQQQ": 0.2, "NVDA": 0.1}
    portfolio = portfolio_from_dict(doc)
    funds = {**FUNDS, "NVDA": FundHoldings("NVDA", "test", sector="Technology")}
    e = look_through(portfolio, funds)
    total = 11000.0
    nvda = {c.symbol: c for c in e.companies}["NVDA"]
    expected = (5000 * 0.10 + 2500 * 0.14 + 3 * 2500 * 0.10 + 1000) / total
    assert nvda.weight == pytest.approx(expected)
    assert dict(nvda.via)["NVDA"] == pytest.approx(1000 / total)


def test_limits_warn_before_and_after_the_orders() -> None:
    doc = three_funds(exposure_limits={"company": 0.15, "gross_leverage": 1.2})
    portfolio = portfolio_from_dict(doc)
    result = plan(portfolio)
    warnings = plan_warnings(portfolio, result, FUNDS)
    assert any(w.startswith("NVDA is 16.00% of the portfolio before the orders") for w in warnings)
    assert any("gross exposure is 1.50x the portfolio before the orders" in w for w in warnings)
    # The plan sells TQQQ toward its 20% target: gross after = 0.5 + 0.3 + 3 x 0.2 = 1.4.
    after = quantities_after(portfolio, result)
    assert after[2] < 25
    assert any("gross exposure is 1.40x the portfolio after the orders" in w for w in warnings)


def test_no_limits_no_warnings() -> None:
    portfolio = portfolio_from_dict(three_funds())
    e = look_through(portfolio, FUNDS)
    assert limit_breaches(e, ExposureLimits(), "now") == []
    assert limit_breaches(e, ExposureLimits(company=0.5, sector=1.0), "now") == []


@pytest.mark.parametrize(
    ("ticker", "name", "factor", "source"),
    [
        ("TQQQ", None, 3.0, "table"),
        ("SQQQ", None, -3.0, "table"),
        ("122630", None, 2.0, "table"),
        ("ABCD", "Direxion Daily Semiconductor Bull 3X Shares", 3.0, "name"),
        ("ABCD", "ProShares UltraPro Short QQQ", -3.0, "name"),
        ("ABCD", "ProShares Ultra S&P500", 2.0, "name"),
        ("123456", "TIGER 미국나스닥100레버리지(합성)", 2.0, "name"),
        ("123456", "KODEX 200선물인버스2X", -2.0, "name"),
        ("123456", "KODEX 인버스", -1.0, "name"),
        ("VOO", "Vanguard S&P 500 ETF", 1.0, "default"),
    ],
)
def test_leverage_recognised(ticker: str, name: str | None, factor: float, source: str) -> None:
    market = Market.KR if ticker[0].isdigit() else Market.US
    h = Holding("a", ticker, market, 1, "USD", Kind.ETF, name=name)
    lev = leverage_of(h)
    assert (lev.factor, lev.source) == (factor, source)


def test_names_fold_onto_one_key() -> None:
    assert company_key("005930.KS") == "005930"
    assert company_key("BRK-B") == "BRK.B"
    assert sector_label("consumer_cyclical") == sector_label("Consumer Cyclical")
    assert sector_label("Widgets") == "Widgets"
