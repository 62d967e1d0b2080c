"""The backtest's price history from the quote layer (Yahoo daily history and its cache)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime

import numpy as np

from xlrebalance.backtest.history import PriceHistory, merge
from xlrebalance.errors import PortfolioError
from xlrebalance.model import Market, Portfolio
from xlrebalance.quotes.cache import QuoteCache
from xlrebalance.quotes.history import DailyHistory, daily_history
from xlrebalance.quotes.yahoo import YahooSource, fx_symbol, yahoo_symbol

DEFAULT_START = date(2010, 1, 1)


def yahoo_history(
    portfolio: Portfolio,
    start: date | None,
    end: date | None,
    *,
    offline: bool,
    dividends: str = "reinvest",
    cache: QuoteCache | None = None,
    source: YahooSource | None = None,
) -> PriceHistory:
    """Closes of every ticker and FX rate the portfolio needs, ``start``..``end``.

    ``dividends``: ``reinvest`` uses Yahoo's adjusted closes (a dividend buys more of the same
    ticker, implicitly); ``cash`` uses the traded closes and pays each dividend into the
    account's cash on its ex-date."""
    start = start or DEFAULT_START
    end = end or datetime.now(UTC).date()
    own_cache = cache is None
    cache = cache or QuoteCache()
    try:
        if source is None and not offline:
            source = YahooSource(yfinance_cache=cache.directory / "yfinance")
        return _history(portfolio, start, end, offline, dividends, cache, source)
    finally:
        if own_cache:
            cache.close()


def _history(
    portfolio: Portfolio,
    start: date,
    end: date,
    offline: bool,
    dividends: str,
    cache: QuoteCache,
    source: YahooSource | None,
) -> PriceHistory:
    base = portfolio.base_currency
    markets = {h.ticker: h.market for h in portfolio.holdings}
    known = cache.symbols([t for t, m in markets.items() if m is Market.KR])
    symbol_of: dict[str, str] = {}
    for ticker, market in markets.items():
        if market is Market.US:
            symbol_of[ticker] = yahoo_symbol(ticker, "US")
        else:
            symbol_of[ticker] = known.get(ticker, f"{ticker}.KS")
    fx_of = {c: fx_symbol(c + base) for c in portfolio.currencies() if c != base}

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\rhistory {done}/{total}")
            sys.stderr.flush()

    wanted = list(symbol_of.values()) + list(fx_of.values())
    found = daily_history(
        wanted, start, end, cache=cache, source=source, offline=offline, progress=progress
    )
    # A KRX code that Yahoo does not know on KOSPI may be a KOSDAQ one.
    retry = {
        t: f"{t}.KQ"
        for t, s in symbol_of.items()
        if markets[t] is Market.KR and s.endswith(".KS") and not found[s].rows
    }
    if retry:
        again = daily_history(
            list(retry.values()), start, end, cache=cache, source=source, offline=offline
        )
        for ticker, symbol in retry.items():
            if again[symbol].rows:
                symbol_of[ticker] = symbol
                found[symbol] = again[symbol]
        if not offline:
            cache.remember_symbols(
                {t: s for t, s in symbol_of.items() if markets[t] is Market.KR and found[s].rows},
                datetime.now(UTC),
            )
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    if offline and not any(found[s].rows for s in symbol_of.values()):
        raise PortfolioError(
            "--offline",
            "the quote cache has no history for "
            + ", ".join(symbol_of.values())
            + f" from {start} to {end}: run once without --offline, or give --prices FILE",
        )
    notes: list[str] = []
    parts: list[PriceHistory] = []
    for ticker, symbol in symbol_of.items():
        got = found[symbol]
        if not got.rows:
            notes.append(f"{ticker}: no history from Yahoo ({got.problem or 'empty'})")
            continue
        if got.problem:
            notes.append(f"{ticker}: {got.problem}")
        parts.append(_part(ticker, got, dividends == "cash"))
    for currency, symbol in fx_of.items():
        got = found[symbol]
        if not got.rows:
            raise PortfolioError(
                f"fx.{currency}{base}",
                f"no {currency}{base} history ({symbol}): {got.problem or 'empty'}",
            )
        part = _part(symbol, got, False)
        parts.append(
            PriceHistory(
                dates=part.dates,
                tickers=(),
                closes=np.empty((len(part.dates), 0)),
                fx={currency: part.closes[:, 0]},
            )
        )
    if not parts:
        raise PortfolioError("prices", "no ticker of the portfolio has a history")
    merged = merge(parts)
    return PriceHistory(
        dates=merged.dates,
        tickers=merged.tickers,
        closes=merged.closes,
        fx=merged.fx,
        dividends=merged.dividends,
        notes=tuple(notes),
    )


def _part(ticker: str, got: DailyHistory, dividends_to_cash: bool) -> PriceHistory:
    dates = np.array([r[0] for r in got.rows], dtype="datetime64[D]")
    closes = np.array([[r[1] if dividends_to_cash else r[2]] for r in got.rows])
    paid = np.array([[r[3]] for r in got.rows]) if dividends_to_cash else None
    return PriceHistory(dates=dates, tickers=(ticker,), closes=closes, dividends=paid)
