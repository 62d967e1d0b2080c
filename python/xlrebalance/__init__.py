"""xlrebalance: exact, cost-aware portfolio rebalancing for Excel, the command line and Python.

The public API (docs/api.md)::

    from xlrebalance import load_portfolio, plan, format_plan

    portfolio = load_portfolio("python/xlrebalance/templates/examples/seed.json")
    print(format_plan(plan(portfolio), portfolio))

``import xlrebalance`` stays light: the planner (numpy, scipy, highspy) and the quote sources
are imported on first use of the names that need them (module ``__getattr__``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xlrebalance.errors import InfeasibleError, PortfolioError, QuoteError, XlRebalanceError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from xlrebalance.document import load_portfolio, plan_to_dict, portfolio_from_dict
    from xlrebalance.model import (
        Account,
        Band,
        Fee,
        Group,
        Holding,
        Mode,
        Order,
        Plan,
        Portfolio,
        Settings,
        Side,
    )
    from xlrebalance.planner import plan
    from xlrebalance.quotes import fill_prices
    from xlrebalance.report import format_plan

# name -> module that defines it; imported on first access.
_LAZY = {
    "load_portfolio": "xlrebalance.document",
    "portfolio_from_dict": "xlrebalance.document",
    "plan_to_dict": "xlrebalance.document",
    "Account": "xlrebalance.model",
    "Band": "xlrebalance.model",
    "Fee": "xlrebalance.model",
    "Group": "xlrebalance.model",
    "Holding": "xlrebalance.model",
    "Mode": "xlrebalance.model",
    "Side": "xlrebalance.model",
    "Order": "xlrebalance.model",
    "Plan": "xlrebalance.model",
    "Portfolio": "xlrebalance.model",
    "Settings": "xlrebalance.model",
    "plan": "xlrebalance.planner",
    "fill_prices": "xlrebalance.quotes",
    "format_plan": "xlrebalance.report",
}

__all__ = [
    "Account",
    "Band",
    "Fee",
    "Group",
    "Holding",
    "InfeasibleError",
    "Mode",
    "Order",
    "Plan",
    "Portfolio",
    "PortfolioError",
    "QuoteError",
    "Settings",
    "Side",
    "XlRebalanceError",
    "__version__",
    "fill_prices",
    "format_plan",
    "load_portfolio",
    "plan",
    "plan_to_dict",
    "portfolio_from_dict",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'xlrebalance' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
