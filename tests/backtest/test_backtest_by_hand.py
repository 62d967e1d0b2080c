"""Every number ``xlrebalance backtest --json`` reports, against a hand computation.

Small made-up closes (a ``--prices`` CSV) and a portfolio JSON, run through the installed
console script outside the checkout; the expected figures are worked out here from the
definitions in docs/backtest.md (*Metrics*), not with the metric functions of the package.
Prices are chosen so that every plan has one best answer in whole shares (it lands exactly on
the targets), so the trades themselves are known by hand too.
"""

from __future__ import annotations

import json
import math
import statistics
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from installed_cli import run_console

TRADING_DAYS = 252


def write_inputs(folder: Path, closes: str, portfolio: dict[str, Any]) -> tuple[Path, Path]:
    prices = folder / "closes.csv"
    prices.write_text(closes.strip() + "\n", encoding="utf-8")
    book = folder / "book.json"
    book.write_text(json.dumps({"version": 1, **portfolio}), encoding="utf-8")
    return book, prices


def backtest(folder: Path, *args: str) -> dict[str, Any]:
    done = run_console("backtest", *args, "--offline", "--json", cwd=folder)
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)  # strict: nothing before or after
    return doc


def policy(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found = [p for p in doc["policies"] if p["policy"] == name]
    assert len(found) == 1
    return found[0]


def years_between(first: str, last: str) -> float:
    return (date.fromisoformat(last) - date.fromisoformat(first)).days / 365.25


def hand_metrics(
    values: list[float], flows: list[float], capital: float, years: float, risk_free: float
) -> dict[str, float]:
    """docs/backtest.md's definitions, written out: time-weighted daily returns with day 0
    against the capital, CAGR over calendar years, sample volatility x sqrt(252), Sharpe with
    the daily compounded risk-free rate."""
    returns = []
    before = capital
    for value, flow in zip(values, flows, strict=True):
        returns.append((value - flow) / before - 1)
        before = value
    growth = math.prod(1 + r for r in returns)
    volatility = statistics.stdev(returns) * math.sqrt(TRADING_DAYS)
    daily_rf = (1 + risk_free) ** (1 / TRADING_DAYS) - 1
    return {
        "total_return": growth - 1,
        "cagr": growth ** (1 / years) - 1,
        "volatility": volatility,
        "sharpe": (statistics.mean(returns) - daily_rf) * TRADING_DAYS / volatility,
    }


SIX = 1e-6  # the JSON rounds ratios to 6 decimals


# --- 1. One currency, two tickers, a monthly rebalance ---------------------------------------

CLOSES_ONE = """
date,X,Y
2024-01-02,10,10
2024-01-03,12,10
2024-01-04,9,10
2024-01-05,11,10
2024-01-08,10,10
2024-02-01,25,5
2024-02-02,20,4
2024-02-05,22,5
2024-03-01,25,5
2024-03-04,30,6
2024-03-05,33,6
"""

BOOK_ONE: dict[str, Any] = {
    "base_currency": "USD",
    "accounts": [{"id": "a", "cash": {"USD": 1000}}],
    "holdings": [
        {"account": "a", "ticker": t, "market": "US", "quantity": 0, "price": 10}
        for t in ("X", "Y")
    ],
    "targets": {"X": 0.5, "Y": 0.5},
    "settings": {"sell_tax": {"US": 0}},
}


def test_monthly_and_buy_and_hold_metrics_by_hand(tmp_path: Path) -> None:
    book, prices = write_inputs(tmp_path, CLOSES_ONE, BOOK_ONE)
    doc = backtest(
        tmp_path, str(book), "--prices", str(prices), "--risk-free", "0.03",
        "--policy", "monthly", "--policy", "none",
    )  # fmt: skip
    rows = [line.split(",") for line in CLOSES_ONE.split()[1:]]
    dates = [r[0] for r in rows]
    x = [float(r[1]) for r in rows]
    y = [float(r[2]) for r in rows]
    years = years_between(dates[0], dates[-1])
    assert doc["years"] == pytest.approx(years, abs=1e-4)
    assert doc["capital"] == 1000.0

    # Monthly: 50 X + 50 Y on Jan 2. Feb 1 (X 25, Y 5): 1250 + 250 = 1500, to 750 each:
    # 30 X and 150 Y (sell 20 X for 500, buy 100 Y for 500). Mar 1 (25, 5): 750 + 750, on
    # target, the check trades nothing.
    shares = [(50, 50)] * 5 + [(30, 150)] * 6
    values = [qx * px + qy * py for (qx, qy), px, py in zip(shares, x, y, strict=True)]
    assert doc["series"]["values"]["monthly"] == pytest.approx(values)
    monthly = policy(doc, "monthly")
    hand = hand_metrics(values, [0.0] * len(values), 1000.0, years, 0.03)
    assert monthly["final_value"] == 30 * 33 + 150 * 6
    for key in ("total_return", "cagr", "volatility", "sharpe"):
        assert monthly[key] == pytest.approx(hand[key], rel=1e-5, abs=SIX), key
    # Running peaks 1000, 1100 (Jan 3), 1500 (Feb 1): Jan 4 is 950/1100 - 1 = -13.6%,
    # Feb 2 is 1200/1500 - 1 = -20%, back to 1500 on Mar 1.
    assert monthly["max_drawdown"] == {
        "depth": pytest.approx(-0.2, abs=SIX),
        "peak": "2024-02-01",
        "trough": "2024-02-02",
        "recovered": "2024-03-01",
    }
    assert monthly["checks"] == 2  # Feb 1, Mar 1
    assert monthly["rebalances"] == 1  # Mar 1 traded nothing; Jan 2 is the purchase
    assert monthly["traded"] == 1000 + 1000
    assert monthly["turnover"] == pytest.approx(500 / 1500, abs=SIX)
    assert monthly["turnover_per_year"] == pytest.approx(500 / 1500 / years, abs=SIX)
    assert (monthly["fees"], monthly["taxes"], monthly["fx_spread"]) == (0, 0, 0)
    drift = [
        abs(qx * px / v - 0.5) + abs(qy * py / v - 0.5)
        for (qx, qy), px, py, v in zip(shares, x, y, values, strict=True)
    ]
    assert monthly["drift_average"] == pytest.approx(statistics.mean(drift), abs=SIX)
    assert monthly["drift_max"] == pytest.approx(max(drift), abs=SIX)
    assert max(drift) == pytest.approx(2 * (600 / 1100 - 0.5))  # Jan 3

    held = [50 * px + 50 * py for px, py in zip(x, y, strict=True)]
    hold = policy(doc, "none")
    assert doc["series"]["values"]["none"] == pytest.approx(held)
    hand = hand_metrics(held, [0.0] * len(held), 1000.0, years, 0.03)
    for key in ("total_return", "cagr", "volatility", "sharpe"):
        assert hold[key] == pytest.approx(hand[key], rel=1e-5, abs=SIX), key
    assert (hold["rebalances"], hold["checks"], hold["turnover"]) == (0, 0, 0)
    assert hold["max_drawdown"]["depth"] == pytest.approx(1200 / 1500 - 1, abs=SIX)


# --- 2. KRW base, US tickers: fees, sell tax and FX spread in won at the day's rate ---------

CLOSES_TWO = """
date,SPY,QQQ,005930,069500,USDKRW
2024-01-02,100,100,10000,10000,1000
2024-01-03,110,105,11000,10000,1100
2024-01-04,100,110,11000,10500,1150
2024-01-05,105,120,12000,10500,1200
2024-01-08,100,,12500,11000,1250
2024-01-09,110,,,11000,1300
2024-01-10,120,,,11500,1300
2024-01-11,110,,,12000,1250
2024-01-12,120,,,11000,1200
2024-01-15,130,,,11000,1200
2024-01-16,130,,,12000,1150
2024-01-17,140,,,12000,1200
2024-02-01,150,,,12000,1300
2024-02-02,140,,,12500,1250
"""

# Day 0 at 1,000 KRW/USD: 5 SPY and 5 QQQ at 100 USD cost 1,000 USD + 0.5% fee = 1,005 USD,
# bought with won at 1,000 x 1.01 = 1,015,050 KRW; 50 + 50 KR shares at 10,000 KRW cost
# 1,000,000 + 0.015% = 1,000,150 KRW. So 2,015,200 KRW buys the targets exactly, with nothing
# left. (The file's own USDKRW 1450 must not be used for the past.)
BOOK_TWO: dict[str, Any] = {
    "base_currency": "KRW",
    "fx": {"USDKRW": 1450},
    "accounts": [{"id": "g", "cash": {"KRW": 2_015_200}}],
    "holdings": [
        {"account": "g", "ticker": "SPY", "market": "US", "quantity": 0, "price": 100},
        {"account": "g", "ticker": "QQQ", "market": "US", "quantity": 0, "price": 100},
        {"account": "g", "ticker": "005930", "market": "KR", "kind": "STOCK", "price": 10000},
        {"account": "g", "ticker": "069500", "market": "KR", "kind": "ETF", "price": 10000},
    ],
    "targets": {"SPY": 0.25, "QQQ": 0.25, "005930": 0.25, "069500": 0.25},
    "settings": {
        "fees": {"US": {"rate": 0.005, "min": 0}, "KR": {"rate": 0.00015, "min": 0}},
        "sell_tax": {"US": 0, "KR:STOCK": 0.002, "KR:ETF": 0},
        "fx_spread": 0.01,
        "auto_fx": True,
        "fee_rounding": {"US": {"unit": 0, "mode": "up"}, "KR": {"unit": 0, "mode": "down"}},
    },
}


def test_costs_are_paid_in_the_base_currency_at_the_days_rate(tmp_path: Path) -> None:
    book, prices = write_inputs(tmp_path, CLOSES_TWO, BOOK_TWO)
    doc = backtest(
        tmp_path, str(book), "--prices", str(prices), "--policy", "none", "--policy", "monthly"
    )
    assert doc["capital"] == 2_015_200
    rows = [line.split(",") for line in CLOSES_TWO.split()[1:]]
    spy = [float(r[1]) for r in rows]
    kodex = [float(r[4]) for r in rows]
    rate = [float(r[5]) for r in rows]
    # QQQ's history ends on Jan 5 (120 USD at 1,200): sold that day, 600 USD less a 3 USD fee
    # stays in USD. 005930's ends on Jan 8 (12,500): 625,000 less 93.75 fee and 0.2% tax.
    usd_after, krw_after = 600 - 3, 625_000 - 93.75 - 1_250
    values = []
    for d, row in enumerate(rows):
        value = 5 * spy[d] * rate[d] + 50 * kodex[d]
        value += 5 * float(row[2]) * rate[d] if d < 3 else usd_after * rate[d]
        value += 50 * float(row[3]) if d < 4 else krw_after
        values.append(value)
    assert values[0] == 2_000_000
    hold = policy(doc, "none")
    assert doc["series"]["values"]["none"] == pytest.approx(values, abs=0.005)
    assert hold["fees"] == pytest.approx(2 * 2.5 * 1000 + 2 * 75 + 3 * 1200 + 93.75)
    assert hold["taxes"] == pytest.approx(1_250)
    assert hold["fx_spread"] == pytest.approx(1005 * 1000 * 0.01)
    assert hold["traded"] == pytest.approx(2_000_000 + 600 * 1200 + 625_000)
    assert hold["rebalances"] == 0  # the sales at the end of a history are not rebalances
    assert any("QQQ: history ends on 2024-01-05" in n for n in doc["notes"])
    years = years_between("2024-01-02", "2024-02-02")
    hand = hand_metrics(values, [0.0] * len(values), 2_015_200, years, 0.0)
    assert hold["total_return"] == pytest.approx(hand["total_return"], abs=SIX)
    assert hold["cagr"] == pytest.approx(hand["cagr"], rel=1e-5)
    assert hold["volatility"] == pytest.approx(hand["volatility"], rel=1e-5)

    # Monthly trades once, on Feb 1 at 1,300 (nothing else changed since Jan 2): the value
    # that day is the untraded value less exactly the fees and spread it reports in won.
    monthly = policy(doc, "monthly")
    series = doc["series"]["values"]["monthly"]
    feb = len(rows) - 2
    assert series[:feb] == doc["series"]["values"]["none"][:feb]
    assert monthly["rebalances"] == 1
    costs = sum(monthly[k] - hold[k] for k in ("fees", "taxes", "fx_spread"))
    assert costs > 0
    assert series[feb] == pytest.approx(values[feb] - costs, abs=0.02)
    traded = monthly["traded"] - hold["traded"]
    assert monthly["turnover"] == pytest.approx(traded / 2 / values[feb], abs=SIX)


# --- 3. Contributions: time-weighted, the added cash is not a return -------------------------

CLOSES_THREE = """
date,X
2024-01-02,10
2024-01-03,11
2024-01-31,12
2024-02-01,20
2024-02-02,16
2024-03-01,25
2024-03-04,20
"""

BOOK_THREE: dict[str, Any] = {
    "base_currency": "USD",
    "accounts": [{"id": "a", "cash": {"USD": 1000}}],
    "holdings": [{"account": "a", "ticker": "X", "market": "US", "quantity": 0, "price": 10}],
    "targets": {"X": 1.0},
    "settings": {"sell_tax": {"US": 0}},
}


def test_contributions_are_time_weighted(tmp_path: Path) -> None:
    book, prices = write_inputs(tmp_path, CLOSES_THREE, BOOK_THREE)
    doc = backtest(
        tmp_path, str(book), "--prices", str(prices),
        "--policy", "contribute:500USD", "--policy", "none",
    )  # fmt: skip
    # 100 X on Jan 2; 500 USD on the first trading day of Feb (25 X at 20) and of Mar (20 X
    # at 25); the contribution is added before the check day's close is counted.
    shares = [100, 100, 100, 125, 125, 145, 145]
    closes = [10, 11, 12, 20, 16, 25, 20]
    flows = [0, 0, 0, 500, 0, 500, 0]
    values = [q * p for q, p in zip(shares, closes, strict=True)]
    added = policy(doc, "contribute:500usd")
    assert doc["series"]["values"]["contribute:500usd"] == pytest.approx(values)
    assert (added["final_value"], added["contributed"]) == (2900, 1000)
    hand = hand_metrics(values, flows, 1000, years_between("2024-01-02", "2024-03-04"), 0.0)
    assert added["total_return"] == pytest.approx(hand["total_return"], abs=SIX)
    assert added["cagr"] == pytest.approx(hand["cagr"], rel=1e-5)
    # Fully invested all along: the same growth as holding X, 10 -> 20, not 2900 / 1000.
    assert added["total_return"] == pytest.approx(1.0, abs=SIX)
    assert policy(doc, "none")["cagr"] == pytest.approx(added["cagr"], abs=SIX)
    assert added["rebalances"] == 2  # the two purchases of the contributions
    # Turnover counts (bought + sold) / 2 against the value after the contribution.
    assert added["turnover"] == pytest.approx(250 / 2500 + 250 / 3625, abs=SIX)


# --- 4. Regressions: a market closed on the first day; a first day that buys nothing --------

CLOSES_HOLIDAY = """
date,SPY,069500,USDKRW
2024-01-15,,10000,1000
2024-01-16,100,10000,1000
2024-01-17,100,10000,1000
2024-01-18,120,10000,1000
"""


def test_a_market_closed_on_the_first_day_still_buys_its_tickers(tmp_path: Path) -> None:
    # Jan 15 2024: Martin Luther King Jr. Day, NYSE closed, KRX open. Before, SPY counted as
    # "entering" on Jan 16 and buy and hold never bought it (all in 069500, value flat).
    portfolio: dict[str, Any] = {
        "base_currency": "KRW",
        "accounts": [{"id": "g", "cash": {"KRW": 2_000_000}}],
        "holdings": [
            {"account": "g", "ticker": "SPY", "market": "US", "price": 100},
            {"account": "g", "ticker": "069500", "market": "KR", "kind": "ETF", "price": 10000},
        ],
        "targets": {"SPY": 0.5, "069500": 0.5},
        "fx": {"USDKRW": 1000},
        "settings": {"sell_tax": {"US": 0}},
    }
    book, prices = write_inputs(tmp_path, CLOSES_HOLIDAY, portfolio)
    doc = backtest(tmp_path, str(book), "--prices", str(prices), "--policy", "none")
    assert doc["start"] == "2024-01-16"
    assert any("the backtest starts on 2024-01-16" in n for n in doc["notes"])
    assert not any("enters" in n for n in doc["notes"])
    # 10 SPY (1,000,000 KRW) and 100 069500: SPY +20% on Jan 18 is +10% for the book.
    assert doc["series"]["values"]["none"] == pytest.approx([2e6, 2e6, 2.2e6])
    assert policy(doc, "none")["total_return"] == pytest.approx(0.1, abs=SIX)


def test_rebalances_count_trades_after_the_first_day_even_when_it_bought_nothing(
    tmp_path: Path,
) -> None:
    # 5 USD buys no share at 10 on Jan 2; the contributions on Feb 1 and Mar 1 do: two
    # rebalances (before, the count took one off for a first-day purchase that never was).
    poor = {**BOOK_THREE, "accounts": [{"id": "a", "cash": {"USD": 5}}]}
    book, prices = write_inputs(tmp_path, CLOSES_THREE, poor)
    doc = backtest(tmp_path, str(book), "--prices", str(prices), "--policy", "contribute:500USD")
    added = policy(doc, "contribute:500usd")
    assert added["rebalance_days"] == ["2024-02-01", "2024-03-01"]
    assert added["rebalances"] == 2
    assert added["final_value"] == 5 + (25 + 20) * 20


CLOSES_ALONE = """
date,SPY,005930,USDKRW
2024-01-02,100,10000,1000
2024-01-03,100,11000,1000
2024-01-04,100,12000,1000
2024-01-05,100,,1000
2024-01-08,100,,1000
2024-01-09,100,,1000
2024-01-10,100,,1000
2024-01-11,100,,1000
2024-01-12,100,,1000
2024-01-16,100,,1000
2024-01-17,100,,1000
"""


def test_the_history_of_a_markets_only_ticker_ends(tmp_path: Path) -> None:
    # 005930 is the book's only KR ticker: no peer goes on trading, but KRX was open from
    # Jan 5 on. Before, it was valued at its last close to the end, never sold nor reported.
    portfolio: dict[str, Any] = {
        "base_currency": "KRW",
        "fx": {"USDKRW": 1000},
        "accounts": [{"id": "g", "cash": {"KRW": 2_000_000}}],
        "holdings": [
            {"account": "g", "ticker": "SPY", "market": "US", "price": 100},
            {"account": "g", "ticker": "005930", "market": "KR", "kind": "STOCK", "price": 10000},
        ],
        "targets": {"SPY": 0.5, "005930": 0.5},
        "settings": {"sell_tax": {"US": 0, "KR:STOCK": 0.002}, "fx_spread": 0},
    }
    book, prices = write_inputs(tmp_path, CLOSES_ALONE, portfolio)
    doc = backtest(tmp_path, str(book), "--prices", str(prices), "--policy", "none")
    assert any("005930: history ends on 2024-01-04" in n for n in doc["notes"])
    hold = policy(doc, "none")
    # 10 SPY and 100 005930; sold on Jan 4 at 12,000 less 0.2% tax: 1,197,600 KRW in cash.
    assert hold["taxes"] == pytest.approx(0.002 * 1_200_000)
    assert doc["series"]["values"]["none"][2:] == pytest.approx([1_000_000 + 1_197_600] * 9)
