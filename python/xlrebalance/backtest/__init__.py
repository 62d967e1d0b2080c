"""Backtests of rebalancing policies with the portfolio's real costs (docs/backtest.md).

Pure core: :func:`prepare` maps a portfolio onto a :class:`PriceHistory`, :func:`simulate`
runs one :class:`Policy` over it, planning every rebalance with :func:`xlrebalance.planner.plan`.
Prices come in from the edges (a CSV, or the quote layer's Yahoo history and its cache).
"""

from xlrebalance.backtest.history import PriceHistory, read_prices_csv
from xlrebalance.backtest.metrics import Drawdown, Performance, performance
from xlrebalance.backtest.policy import DEFAULT_SPECS, Day, Frequency, Policy, parse_policy
from xlrebalance.backtest.simulate import BacktestConfig, Market, PolicyResult, prepare, simulate

__all__ = [
    "DEFAULT_SPECS",
    "BacktestConfig",
    "Day",
    "Drawdown",
    "Frequency",
    "Market",
    "Performance",
    "Policy",
    "PolicyResult",
    "PriceHistory",
    "parse_policy",
    "performance",
    "prepare",
    "read_prices_csv",
    "simulate",
]
