"""Metrics against values computed by hand on tiny series."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from xlrebalance.backtest.metrics import drawdown, growth_index, performance


def days(*texts: str) -> np.ndarray:
    return np.array(texts, dtype="datetime64[D]")


def test_performance_without_flows() -> None:
    dates = days("2020-01-01", "2021-01-01", "2022-01-01", "2023-01-01")
    values = np.array([100.0, 110.0, 99.0, 121.0])
    perf = performance(dates, values, np.zeros(4), capital=100.0)
    returns = [0.0, 0.1, -0.1, 121 / 99 - 1]
    assert perf.final_value == 121.0
    assert perf.total_return == pytest.approx(0.21)
    years = 1096 / 365.25
    assert perf.cagr == pytest.approx(1.21 ** (1 / years) - 1)
    assert perf.volatility == pytest.approx(statistics.stdev(returns) * math.sqrt(252))
    assert perf.sharpe == pytest.approx(statistics.mean(returns) * 252 / perf.volatility)
    dd = perf.max_drawdown
    assert dd.depth == pytest.approx(99 / 110 - 1)
    assert (dd.peak, dd.trough, dd.recovered) == ("2021-01-01", "2022-01-01", "2023-01-01")


def test_the_first_day_counts_against_the_capital() -> None:
    # Buying on day 0 cost 1% in fees: the index starts at 0.99, not 1.
    index = growth_index(np.array([99.0, 99.0]), np.zeros(2), capital=100.0)
    assert index.tolist() == pytest.approx([0.99, 0.99])


def test_contributions_are_not_returns() -> None:
    dates = days("2020-01-01", "2020-01-02", "2020-01-03")
    values = np.array([100.0, 210.0, 220.0])
    flows = np.array([0.0, 100.0, 0.0])
    perf = performance(dates, values, flows, capital=100.0)
    assert perf.total_return == pytest.approx(1.1 * 220 / 210 - 1)
    assert perf.contributed == 100.0
    assert perf.final_value == 220.0


def test_risk_free_rate_lowers_sharpe_by_its_daily_rate() -> None:
    dates = days("2020-01-01", "2020-01-02", "2020-01-03", "2020-01-06")
    values = np.array([100.0, 102.0, 101.0, 104.0])
    zero = performance(dates, values, np.zeros(4), 100.0)
    three = performance(dates, values, np.zeros(4), 100.0, risk_free=0.03)
    daily = 1.03 ** (1 / 252) - 1
    assert zero.sharpe is not None and three.sharpe is not None
    assert zero.sharpe - three.sharpe == pytest.approx(daily * 252 / zero.volatility)


def test_drawdown_not_recovered_and_none() -> None:
    dates = days("2020-01-01", "2020-01-02", "2020-01-03")
    dd = drawdown(np.array([1.0, 1.2, 0.9]), dates)
    assert dd.depth == pytest.approx(-0.25)
    assert (dd.peak, dd.trough, dd.recovered) == ("2020-01-02", "2020-01-03", None)
    flat = drawdown(np.array([1.0, 1.1, 1.2]), dates)
    assert (flat.depth, flat.peak) == (0.0, None)
