"""Backtests of rebalancing policies with the portfolio's real costs (docs/backtest.md).

Pure core: :func:`prepare` maps a portfolio onto a :class:`PriceHistory`, :func:`simulate`
runs one :class:`Policy` over it, planning every rebalance with :func:`xlrebalance.planner.plan`.
Prices come in from the edges (a CSV, or the quote layer's Yahoo history and its cache).
"""

from __future__ import annotations

import importlib
from typing import Any

# Names and the module each lives in, imported on first use: the CLI registers the backtest
# command through this package, and ``xlrebalance --help`` must not pay for numpy. The
# function ``simulate`` is imported from its module, ``xlrebalance.backtest.simulate``: a
# package attribute of that name is the submodule once it has been imported.
_LAZY = {
    "PriceHistory": "history",
    "read_prices_csv": "history",
    "Drawdown": "metrics",
    "Performance": "metrics",
    "performance": "metrics",
    "DEFAULT_SPECS": "command",
    "Day": "policy",
    "Frequency": "policy",
    "Policy": "policy",
    "parse_policy": "policy",
    "BacktestConfig": "simulate",
    "Market": "simulate",
    "PolicyResult": "simulate",
    "prepare": "simulate",
    # Not the function simulate: importing the submodule of that name binds the module on this
    # package, so the name would mean one or the other depending on import order. Use
    # ``from xlrebalance.backtest.simulate import simulate``.
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)


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
]
