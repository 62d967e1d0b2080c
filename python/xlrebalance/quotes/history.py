"""Daily history from Yahoo through yfinance's own history code, kept in the quote cache.

One chart request per symbol (``Ticker.history``: yfinance's time-zone lookup, its request
layer and its parsing of bars, dividends and splits), sent through the same redirecting session
as the quote source. Each symbol's rows go into the cache with the range that was asked, so a
second backtest over the same or a shorter range makes no request at all, and ``offline`` reads
only the cache.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from xlrebalance.errors import QuoteError
from xlrebalance.quotes.cache import QuoteCache
from xlrebalance.quotes.yahoo import (
    _YF_LOCK,
    Malformed,
    RateLimited,
    ServerError,
    UnknownSymbol,
    YahooSource,
    _describe,
    is_transient,
)

Row = tuple[str, float, float, float]  # day, close, adjusted close, dividend per share


@dataclass(frozen=True)
class DailyHistory:
    symbol: str
    rows: tuple[Row, ...]
    source: str  # "cache" or "yahoo"
    problem: str | None = None  # why there are no rows


def daily_history(
    symbols: Sequence[str],
    start: date,
    end: date,
    *,
    cache: QuoteCache,
    source: YahooSource | None,
    offline: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, DailyHistory]:
    """History of each symbol from ``start`` to ``end`` (inclusive), from the cache when it
    covers the range, else from Yahoo (never when ``offline``)."""
    first, last = start.isoformat(), end.isoformat()
    out: dict[str, DailyHistory] = {}
    for n, symbol in enumerate(dict.fromkeys(symbols)):
        span = cache.history_span(symbol)
        covered = span is not None and span[0] <= first and span[1] >= last
        if covered or offline:
            rows = tuple(cache.history(symbol, first, last))
            problem = None
            if not rows:
                problem = "not in the cache" if span is None else "no rows in the cached range"
            elif not covered:
                problem = f"the cache covers only {span[0]} .. {span[1]}" if span else None
            out[symbol] = DailyHistory(symbol, rows, "cache", problem)
        else:
            assert source is not None
            lo = min(first, span[0]) if span else first
            hi = max(last, span[1]) if span else last
            try:
                fetched = _fetch(source, symbol, date.fromisoformat(lo), date.fromisoformat(hi))
            except QuoteError as exc:
                # What the cache holds of the range beats nothing; the note says why.
                rows, problem = (), str(exc)
                if span is not None:
                    rows = tuple(cache.history(symbol, first, last))
                    problem += f"; the cache's {span[0]} .. {span[1]} used" if rows else ""
                out[symbol] = DailyHistory(symbol, rows, "cache" if rows else "yahoo", problem)
            else:
                if fetched:
                    now = datetime.now(UTC)
                    cache.put_history(symbol, lo, min(hi, _settled(now)), fetched, now)
                rows = tuple(r for r in fetched if first <= r[0] <= last)
                out[symbol] = DailyHistory(
                    symbol, rows, "yahoo", None if rows else "Yahoo has no history in the range"
                )
        if progress is not None:
            progress(n + 1, len(symbols))
    return out


def _settled(now: datetime) -> str:
    """The last day whose closes are final on every exchange: yesterday in UTC. Today's bar
    can be a live price; it is kept with the rest but the cache does not count it as fetched,
    so a later run asks again and replaces it with the close."""
    return (now.date() - timedelta(days=1)).isoformat()


def _fetch(source: YahooSource, symbol: str, start: date, end: date) -> list[Row]:
    with _YF_LOCK:
        data = source._yfdata()  # yfinance's shared request layer on our session
        deadline = source.retry.deadline()
        source._deadline = deadline
        try:
            _know_zone(source, data, symbol, deadline)
            frame = source.retry.run(
                lambda left: _history_frame(source, symbol, start, end, left),
                deadline=deadline,
                is_transient=is_transient,
            )
        except QuoteError:
            raise
        except Exception as exc:
            raise QuoteError(f"{symbol}: {_describe(exc)}") from exc
        finally:
            source._deadline = None
    return rows_from_frame(frame)


def _know_zone(source: YahooSource, data: Any, symbol: str, deadline: float) -> None:
    """Put the symbol's exchange time zone in yfinance's time-zone cache, asked the way
    yfinance asks it (a one-day chart) but through our retries, so that an unknown symbol is
    said to be unknown and a 5xx or 429 is retried, instead of yfinance's fallback to half a
    dozen other endpoints whose failure ends in an unrelated message."""
    from yfinance.cache import get_tz_cache

    zones = get_tz_cache()
    if zones.lookup(symbol):
        return
    try:
        first = source.one_day_chart(data, symbol, deadline)
    except UnknownSymbol as exc:
        raise QuoteError(f"{symbol}: unknown to Yahoo ({str(exc)[:120]})") from None
    zone = first["meta"].get("exchangeTimezoneName")
    if not isinstance(zone, str) or not zone:
        raise Malformed("no exchangeTimezoneName in Yahoo's chart answer")
    zones.store(symbol, zone)


def _history_frame(source: YahooSource, symbol: str, start: date, end: date, left: float) -> Any:
    import yfinance
    from yfinance.data import YfData

    # yfinance memoizes answers for past ranges in-process, failed ones too: a retry must ask.
    YfData.cache_get.cache_clear()
    source.last_status = None
    ticker = yfinance.Ticker(symbol, session=source._session)
    frame: Any = ticker.history(
        start=start.isoformat(),
        end=(end + timedelta(days=1)).isoformat(),  # yfinance's end is exclusive
        interval="1d",
        auto_adjust=False,
        actions=True,
        timeout=min(source.timeout, left),
    )
    if frame is None or len(frame) == 0:
        # yfinance answers a 5xx or a rate limit with an empty frame: retried, not "no bars".
        status = source.last_status
        if status == 429:
            raise RateLimited("rate limited by Yahoo (HTTP 429)", source._retry_after)
        if status is not None and status >= 500:
            raise ServerError(status, "")
        return None
    return frame


def rows_from_frame(frame: Any) -> list[Row]:
    """Rows of yfinance's daily frame: one per day (in order, a repeated day once), only days
    with a real close; a dividend whose day has no close is paid on the next day that has one
    (Yahoo sends null bars for halted days, and yfinance puts an event on such a row)."""
    if frame is None or len(frame) == 0:
        return []
    closes = frame["Close"]
    adjusted = frame.get("Adj Close", closes)
    dividends = frame.get("Dividends", None)
    splits = frame.get("Stock Splits", None)
    by_day: dict[str, Row] = {}
    split_on: dict[str, float] = {}  # day of the first close at or after a split -> ratio
    owed, ratio = 0.0, 1.0
    for i, stamp in sorted(enumerate(frame.index), key=lambda item: item[1]):
        day = stamp.date().isoformat()  # the exchange's own date: yfinance's index is local
        owed += _event(dividends, i)
        ratio *= _event(splits, i) or 1.0
        close, adj = float(closes.iloc[i]), float(adjusted.iloc[i])
        if not (math.isfinite(close) and close > 0 and math.isfinite(adj) and adj > 0):
            continue  # a bar without a trade: no price that day, never a made-up one
        if day in by_day:
            continue  # the same day sent twice: the first, as yfinance keeps
        by_day[day] = (day, close, adj, owed)
        if ratio != 1.0:
            split_on[day] = ratio
        owed, ratio = 0.0, 1.0
    rows = [by_day[d] for d in sorted(by_day)]
    return _with_adjusted(_split_adjusted(rows, split_on))


def _event(column: Any, i: int) -> float:
    value = float(column.iloc[i]) if column is not None else 0.0
    return value if math.isfinite(value) and value > 0 else 0.0


def _split_adjusted(rows: list[Row], split_on: dict[str, float]) -> list[Row]:
    """Yahoo's closes are split-adjusted, except for a while after a new split, when the
    days before it still carry the old price: a 4:1 split then looks like a 75% crash. Where
    the close falls across a split by about its ratio (nearer the ratio than no change),
    the days before it are scaled by the ratio here, closes, adjusted closes and dividends
    each on its own evidence."""
    out = list(rows)
    for k, (day, _, _, _) in enumerate(rows):
        ratio = split_on.get(day)
        if ratio is None or k == 0:
            continue
        _, close, adj, _ = out[k]
        _, before_close, before_adj, _ = out[k - 1]
        fix_close = _looks_unadjusted(before_close / close, ratio)
        fix_adj = _looks_unadjusted(before_adj / adj, ratio)
        if not (fix_close or fix_adj):
            continue
        for j in range(k):
            d, c, a, paid = out[j]
            out[j] = (
                d,
                c / ratio if fix_close else c,
                a / ratio if fix_adj else a,
                paid / ratio if fix_close else paid,
            )
    return out


def _looks_unadjusted(jump: float, ratio: float) -> bool:
    return abs(math.log(jump) - math.log(ratio)) < abs(math.log(jump))


def _with_adjusted(rows: list[Row]) -> list[Row]:
    """When Yahoo sent no adjusted closes (yfinance then copies the closes) although dividends
    went ex inside the range, adjust the closes here the way Yahoo does: each day before an
    ex-date scaled by (1 - dividend / close of the day before it). Without this, reinvesting
    would silently drop every dividend."""
    if any(adj != close for _, close, adj, _ in rows):
        return rows
    if not any(paid > 0 for _, _, _, paid in rows[1:]):
        return rows
    factor = 1.0
    out: list[Row] = []
    for i in range(len(rows) - 1, -1, -1):
        day, close, _, paid = rows[i]
        out.append((day, close, close * factor, paid))
        if paid > 0 and i > 0:
            previous = rows[i - 1][1]
            if paid < previous:
                factor *= 1.0 - paid / previous
    out.reverse()
    return out
