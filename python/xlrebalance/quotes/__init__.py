"""Live quotes for US and Korean markets, with FX, a persistent cache and offline fallbacks.

Entry points:

- :func:`fill_prices` -- a portfolio with every price and FX rate it needs, plus a report;
- :func:`quote` -- quotes for a list of tickers (the ``xlrebalance quote`` command);
- :func:`cached_quote` -- the cache only, no network (worksheet functions such as ``=QUOTE()``).

Sources are passed in (:class:`Sources`); :meth:`Sources.default` builds Yahoo (yfinance) and,
with a KRX login, KRX (pykrx). See docs/quotes.md.
"""

from xlrebalance.quotes.cache import QuoteCache
from xlrebalance.quotes.calendar import FreshnessPolicy
from xlrebalance.quotes.engine import QuoteReport, Sources, Want, refresh
from xlrebalance.quotes.prices import cached_quote, fill_prices, fx_pair, quote
from xlrebalance.quotes.types import Quote, QuoteSource, QuoteStatus

__all__ = [
    "FreshnessPolicy",
    "Quote",
    "QuoteCache",
    "QuoteReport",
    "QuoteSource",
    "QuoteStatus",
    "Sources",
    "Want",
    "cached_quote",
    "fill_prices",
    "fx_pair",
    "quote",
    "refresh",
]
