"""xlrebalance: exact, cost-aware portfolio rebalancing for Excel, the command line and Python."""

from xlrebalance.errors import InfeasibleError, PortfolioError, QuoteError, XlRebalanceError

__version__ = "0.1.0"

__all__ = ["InfeasibleError", "PortfolioError", "QuoteError", "XlRebalanceError", "__version__"]
