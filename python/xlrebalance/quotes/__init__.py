"""Live quotes for US and Korean markets, with FX, a persistent cache and offline fallbacks.

Entry points:

- :func:`fill_prices` -- a portfolio with every price and FX rate it needs, plus a report;
- :func:`quote` -- quotes for a list of tickers (the ``xlrebalance quote`` command);
- :func:`cached_quote` -- the cache only, no network (worksheet functions such as ``=QUOTE()``).

Sources are passed in (:class:`Sources`); :meth:`Sources.default` builds Yahoo (yfinance) and,
with a KRX login, KRX (pykrx). See docs/quotes.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xlrebalance.quotes.cache import QuoteCache
    from xlrebalance.quotes.calendar import FreshnessPolicy
    from xlrebalance.quotes.engine import QuoteReport, Sources, Want, refresh
    from xlrebalance.quotes.prices import cached_quote, fill_prices, fx_pair, quote
    from xlrebalance.quotes.types import Quote, QuoteSource, QuoteStatus

# Imported on first use, so the CLI can register ``quote`` (quotes/command.py) without loading
# the engine, SQLite and the sources.
_LAZY = {
    "QuoteCache": "xlrebalance.quotes.cache",
    "FreshnessPolicy": "xlrebalance.quotes.calendar",
    "QuoteReport": "xlrebalance.quotes.engine",
    "Sources": "xlrebalance.quotes.engine",
    "Want": "xlrebalance.quotes.engine",
    "refresh": "xlrebalance.quotes.engine",
    "cached_quote": "xlrebalance.quotes.prices",
    "fill_prices": "xlrebalance.quotes.prices",
    "fx_pair": "xlrebalance.quotes.prices",
    "quote": "xlrebalance.quotes.prices",
    "Quote": "xlrebalance.quotes.types",
    "QuoteSource": "xlrebalance.quotes.types",
    "QuoteStatus": "xlrebalance.quotes.types",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'xlrebalance.quotes' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
