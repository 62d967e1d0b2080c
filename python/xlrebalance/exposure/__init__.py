"""What the portfolio really owns: look-through exposure through funds, leverage, limits.

Pure: the holdings data of each fund is passed in (``xlrebalance.quotes.funds`` fetches and
caches it). Profit and loss per position lives in :mod:`xlrebalance.pnl`.
"""

from xlrebalance.exposure.leverage import KNOWN, Leverage, leverage_of
from xlrebalance.exposure.lookthrough import (
    UNKNOWN_SECTOR,
    CompanyExposure,
    Constituent,
    Exposure,
    FundHoldings,
    PositionExposure,
    company_key,
    limit_breaches,
    look_through,
    sector_label,
    ticker_values,
)

__all__ = [
    "KNOWN",
    "UNKNOWN_SECTOR",
    "CompanyExposure",
    "Constituent",
    "Exposure",
    "FundHoldings",
    "Leverage",
    "PositionExposure",
    "company_key",
    "leverage_of",
    "limit_breaches",
    "look_through",
    "sector_label",
    "ticker_values",
]
