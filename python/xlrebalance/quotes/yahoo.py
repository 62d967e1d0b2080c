"""Yahoo Finance through yfinance: US stocks and ETFs, KRX (.KS/.KQ, ~20 min delayed), FX.

yfinance's public API has no batched quote: ``download``/``history`` cost one chart request per
symbol (plus a time-zone lookup on first use) and return DataFrames without names or quote
times. Yahoo's ``/v7/finance/quote`` endpoint answers a hundred symbols per request, so this
source sends those through yfinance's own request layer (``yfinance.data.YfData``: its
curl_cffi session, cookie and crumb handling, consent page and rate-limit detection), chunked
and concurrent within a bounded pool. When a v7 batch fails for a reason other than a rate
limit (Yahoo answers "Invalid Crumb" now and then), its symbols fall back to
``/v8/finance/chart/{symbol}``, one request each, in the same bounded pool. Behind a rate limit
the source backs off instead of multiplying requests.

``XLREBALANCE_YAHOO_URL`` (or ``base_url``) sends every Yahoo host this uses -- query1/query2,
fc.yahoo.com for the cookie, guce/consent for the consent flow -- to one base URL, keeping each
request's path and query.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from xlrebalance.errors import NetworkUnreachable, QuoteError
from xlrebalance.quotes.net import (
    Counter,
    DeadlineExceeded,
    RetryPolicy,
    Transient,
    bounded_map,
    probe,
    rewrite_url,
)
from xlrebalance.quotes.types import Progress, Quote, QuoteStatus, failure

YAHOO_ENV = "XLREBALANCE_YAHOO_URL"
QUOTE_URL = "https://query1.finance.yahoo.com/v7/finance/quote"
CHART_URL = "https://query2.finance.yahoo.com/v8/finance/chart/"
PROFILE_URL = "https://query2.finance.yahoo.com/v10/finance/quoteSummary/"
PROFILE_MODULES = "quoteType,topHoldings,assetProfile"

# Exchanges whose Yahoo feed is delayed when the payload does not say (chart meta never does).
_DELAYED_EXCHANGES = {"KSC": 20, "KOE": 20}

# yfinance keeps one process-wide YfData (session, cookie, crumb): one fetch at a time.
_YF_LOCK = threading.Lock()
_active_session: object | None = None
_yfinance_cache_set = False


class RateLimited(Transient):
    """Yahoo answered 429 (yfinance raises YFRateLimitError after its own second try).
    ``retry_after``: the seconds Yahoo asked us to wait (its ``Retry-After``), if it said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Malformed(ValueError):
    """The response was not the JSON shape Yahoo sends."""


class UnknownSymbol(Exception):
    """Yahoo's chart answered that it does not know the symbol (its description)."""


class HttpStatus(Exception):
    def __init__(self, status: int, body: str) -> None:
        self.status = status
        super().__init__(f"HTTP {status}" + (f": {body[:120]}" if body else ""))


class ServerError(Transient, HttpStatus):
    pass


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, Transient):
        return True
    if type(exc).__name__ == "YFRateLimitError":
        return True
    try:
        from curl_cffi.requests import exceptions as curl_exc
    except ImportError:  # pragma: no cover - curl_cffi ships with yfinance
        return isinstance(exc, TimeoutError | ConnectionError)
    if isinstance(exc, curl_exc.JSONDecodeError | curl_exc.InvalidURL | curl_exc.MissingSchema):
        return False
    return isinstance(exc, curl_exc.RequestException | TimeoutError | ConnectionError)


def is_unreachable(exc: BaseException) -> bool:
    """A failure that means no network rather than a bad or slow answer: the host name did
    not resolve, or the connection was refused or timed out. A server that accepted the
    connection and then answered too slowly is a network that works: retried, not this."""
    try:
        from curl_cffi.requests import exceptions as curl_exc
    except ImportError:  # pragma: no cover - curl_cffi ships with yfinance
        return isinstance(exc, ConnectionRefusedError)
    if isinstance(exc, curl_exc.SSLError | curl_exc.ProxyError):
        return False  # a network is there; something on it refused us
    if isinstance(exc, curl_exc.Timeout):
        text = str(exc)  # curl says which phase timed out: "(28) Connection timed out ..."
        return isinstance(exc, curl_exc.ConnectTimeout) or any(
            phase in text for phase in ("Connection timed out", "Resolving timed out")
        )
    return isinstance(exc, curl_exc.ConnectionError | ConnectionRefusedError)


_CURL_ERROR = re.compile(r"curl: \(\d+\) (.*?)(?:\. See |$)")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        return f"rate limited by Yahoo (HTTP 429; Retry-After {exc.retry_after:g} s)"
    if type(exc).__name__ == "YFRateLimitError" or isinstance(exc, RateLimited):
        return "rate limited by Yahoo (HTTP 429)"
    if isinstance(exc, DeadlineExceeded):
        return f"no answer from Yahoo within this fetch's time budget ({exc})"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # curl_cffi's messages wrap the useful part ("Could not resolve host: ...") in boilerplate.
    match = _CURL_ERROR.search(text)
    return (match.group(1) if match else text)[:160]


def _quiet_yfinance_logger() -> None:
    """yfinance logs each failed cookie fetch as a warning; with no logging configured Python
    prints those on stderr, a dozen lines for one offline refresh. Each quote's status already
    says what failed, so its records go to a null handler unless the application configures
    logging itself (then they propagate to its handlers as usual)."""
    logger = logging.getLogger("yfinance")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


@dataclass
class YahooSource:
    """The Yahoo source. Thread pool, chunk size, timeouts and retries are bounded here."""

    base_url: str | None = None
    timeout: float = 8.0
    connect_timeout: float = 1.5
    """Seconds to reach Yahoo (name lookup and TCP handshake): any working network does it in
    well under a second, and a dropped connection must not cost the whole ``timeout``."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    chunk_size: int = 100
    workers: int = 8
    yfinance_cache: Path | None = None
    name: str = "yahoo"
    requests: Counter = field(default_factory=Counter)
    _session: Any = field(default=None, repr=False)
    _deadline: float | None = field(default=None, repr=False)
    """monotonic() time the current fetch must end by; every request (cookie, crumb and
    consent set-up included) is cut to it."""
    _retry_after: float | None = field(default=None, repr=False)
    """The last ``Retry-After`` of a 429, for the 429s yfinance turns into exceptions."""
    last_status: int | None = field(default=None, repr=False)
    """The HTTP status of the last answer this source's session received: yfinance's history
    turns a 5xx into an empty frame, and this tells that apart from a range without bars."""
    unreachable: str | None = field(default=None, repr=False)
    """Set by the first request that found no network; later requests of this source then
    fail at once instead of waiting for their own timeouts."""

    def __post_init__(self) -> None:
        if self.base_url is None:
            self.base_url = os.environ.get(YAHOO_ENV) or None

    # -- the QuoteSource interface --------------------------------------------------------

    def fetch(
        self, symbols: Sequence[str], *, progress: Progress | None = None
    ) -> Mapping[str, Quote]:
        asked = list(dict.fromkeys(symbols))
        if not asked:
            return {}
        # The budget covers the whole fetch: waiting for another fetch, yfinance's cookie,
        # crumb and consent set-up, every retry and every wait.
        deadline = self.retry.deadline()
        if not _YF_LOCK.acquire(timeout=self.retry.budget):
            why = "another Yahoo fetch in this process used up this fetch's time budget"
            return {s: failure(s, self.name, QuoteStatus.ERROR, why) for s in asked}
        try:
            self._deadline, self._retry_after = deadline, None
            # Each fetch finds out afresh (a source can live long, e.g. under =QUOTE()).
            self.unreachable = probe(rewrite_url(QUOTE_URL, self.base_url), self.connect_timeout)
            if self.unreachable is not None:
                raise NetworkUnreachable(self.unreachable)
            data = self._yfdata()
            chunks = [asked[i : i + self.chunk_size] for i in range(0, len(asked), self.chunk_size)]
            results: dict[str, Quote] = {}
            fallback: list[str] = []

            def batch(chunk: list[str]) -> tuple[list[str], dict[str, Quote] | BaseException]:
                try:
                    return chunk, self._quote_batch(data, chunk, deadline)
                except Exception as exc:
                    return chunk, exc

            for chunk, outcome in bounded_map(batch, chunks, self.workers):
                if isinstance(outcome, NetworkUnreachable):
                    raise outcome  # nothing else can get through either
                if isinstance(outcome, dict):
                    results.update(outcome)
                    if progress:
                        progress(len(chunk))
                elif isinstance(outcome, RateLimited | DeadlineExceeded) or (
                    type(outcome).__name__ == "YFRateLimitError"
                ):
                    for s in chunk:
                        results[s] = failure(s, self.name, QuoteStatus.ERROR, _describe(outcome))
                    if progress:
                        progress(len(chunk))
                else:
                    fallback.extend(chunk)

            def one(symbol: str) -> Quote:
                try:
                    return self._chart(data, symbol, deadline)
                except Exception as exc:
                    return failure(symbol, self.name, QuoteStatus.ERROR, _describe(exc))

            for quote in bounded_map(one, fallback, self.workers):
                results[quote.symbol or quote.ticker] = quote
                if progress:
                    progress(1)
        finally:
            self._deadline = None
            _YF_LOCK.release()
        if self.unreachable is not None and not any(q.price is not None for q in results.values()):
            raise NetworkUnreachable(self.unreachable)
        return {s: results[s] for s in asked}

    def fetch_profiles(
        self, symbols: Sequence[str], *, progress: Progress | None = None
    ) -> dict[str, Mapping[str, Any] | str]:
        """What each symbol holds or is (``quoteSummary``: a fund's ``topHoldings``, a
        company's ``assetProfile``), one request per symbol (Yahoo has no batch form) in the
        bounded pool; an error is its one-line description instead of the result."""
        asked = list(dict.fromkeys(symbols))
        if not asked:
            return {}
        with _YF_LOCK:
            data = self._yfdata()
            deadline = self.retry.deadline()

            def one(symbol: str) -> tuple[str, Mapping[str, Any] | str]:
                try:
                    return symbol, self._profile(data, symbol, deadline)
                except Exception as exc:
                    return symbol, _describe(exc)

            out: dict[str, Mapping[str, Any] | str] = {}
            for symbol, result in bounded_map(one, asked, self.workers):
                out[symbol] = result
                if progress:
                    progress(1)
        return out

    def _answer(
        self, data: Any, url: str, params: dict[str, str], deadline: float, key: str
    ) -> tuple[int, dict[str, Any]]:
        """GET ``url``: the HTTP status and the object under ``key`` of Yahoo's JSON answer
        (Yahoo answers errors in that object too, so a non-200 status with JSON is read)."""
        response = self._get(data, url, params, deadline)
        status = int(response.status_code)
        try:
            payload = _json(response)
        except Malformed:
            if status != 200:
                raise HttpStatus(status, _text(response)) from None
            raise
        body = payload.get(key) if isinstance(payload, dict) else None
        if not isinstance(body, dict):
            raise Malformed(f"no '{key}' object in Yahoo's answer")
        return status, body

    def _profile(self, data: Any, symbol: str, deadline: float) -> Mapping[str, Any] | str:
        params = {"modules": PROFILE_MODULES, "formatted": "false", "symbol": symbol}
        status, body = self._answer(data, PROFILE_URL + symbol, params, deadline, "quoteSummary")
        error = body.get("error")
        if error:
            code = error.get("code", "") if isinstance(error, dict) else ""
            if status == 404 or code == "Not Found":
                return {}  # a definite answer: Yahoo knows nothing about it
            description = error.get("description", "") if isinstance(error, dict) else str(error)
            return str(description)[:160] or "Yahoo answered with an error"
        result = body.get("result")
        if not isinstance(result, list) or not result or not isinstance(result[0], dict):
            if status != 200:
                raise HttpStatus(status, json.dumps(body)[:200])
            return "no data in Yahoo's answer"
        return dict(result[0])

    # -- yfinance plumbing ----------------------------------------------------------------

    def _yfdata(self) -> Any:
        global _active_session
        try:
            import yfinance
            from yfinance.data import YfData
        except ImportError as exc:
            raise QuoteError(
                "the yahoo source needs yfinance: pip install 'xlrebalance[quotes]'"
            ) from exc
        _quiet_yfinance_logger()
        global _yfinance_cache_set
        if self.yfinance_cache is not None and not _yfinance_cache_set:
            # yfinance keeps its cookie in its own SQLite file; keep it beside ours. Its cookie
            # store binds to the first location it opens, so this is set once per process.
            yfinance.set_tz_cache_location(str(self.yfinance_cache))
            _yfinance_cache_set = True
        if self._session is None:
            self._session = _redirecting_session(self)
        data = YfData(session=self._session)
        if _active_session is not self._session:
            # A crumb belongs to the cookie of the session that fetched it.
            for attr, value in (("_crumb", None), ("_cookie", None), ("_cookie_strategy", "basic")):
                if hasattr(data, attr):
                    setattr(data, attr, value)
            _active_session = self._session
        return data

    def _get(self, data: Any, url: str, params: dict[str, str], deadline: float) -> Any:
        def attempt(left: float) -> Any:
            try:
                response = data.get(url, params=params, timeout=min(self.timeout, left))
            except Exception as exc:
                if type(exc).__name__ == "YFRateLimitError":
                    raise RateLimited(
                        "rate limited by Yahoo (HTTP 429)", self._retry_after
                    ) from exc
                raise
            status = int(response.status_code)
            if status == 429:
                raise RateLimited(
                    "rate limited by Yahoo (HTTP 429)", retry_after(response) or self._retry_after
                )
            if status >= 500:
                raise ServerError(status, _text(response))
            return response

        return self.retry.run(attempt, deadline=deadline, is_transient=is_transient)

    def _quote_batch(self, data: Any, chunk: list[str], deadline: float) -> dict[str, Quote]:
        params = {
            "symbols": ",".join(chunk),
            "formatted": "false",
            "lang": "en-US",
            "region": "US",
        }
        response = self._get(data, QUOTE_URL, params, deadline)
        if int(response.status_code) != 200:
            raise HttpStatus(int(response.status_code), _text(response))
        items = _v7_items(_json(response))
        fetched = datetime.now(UTC)
        by_symbol = {str(item.get("symbol", "")).upper(): item for item in items}
        out: dict[str, Quote] = {}
        for symbol in chunk:
            item = by_symbol.get(symbol.upper())
            if item is None:
                # v7 leaves out what it does not know rather than erroring.
                out[symbol] = failure(
                    symbol, self.name, QuoteStatus.MISSING, "unknown to Yahoo (not in its answer)"
                )
                continue
            out[symbol] = self._from_fields(symbol, item, fetched, v7=True)
        return out

    def _chart(self, data: Any, symbol: str, deadline: float) -> Quote:
        try:
            first = self.one_day_chart(data, symbol, deadline)
        except UnknownSymbol as exc:
            return failure(symbol, self.name, QuoteStatus.MISSING, str(exc)[:160])
        return self._from_fields(
            symbol, _with_last_close(first["meta"], first), datetime.now(UTC), v7=False
        )

    def one_day_chart(self, data: Any, symbol: str, deadline: float) -> dict[str, Any]:
        """The first result of Yahoo's one-day chart of ``symbol`` (its ``meta`` a dict);
        :class:`UnknownSymbol` with Yahoo's description when Yahoo does not know it."""
        params = {"range": "1d", "interval": "1d"}
        status, chart = self._answer(data, CHART_URL + symbol, params, deadline, "chart")
        error = chart.get("error")
        if error:
            description = error.get("description", "") if isinstance(error, dict) else str(error)
            code = error.get("code", "") if isinstance(error, dict) else ""
            if status == 404 or code == "Not Found":
                raise UnknownSymbol(str(description))
            raise HttpStatus(status, str(description))
        if status != 200:
            raise HttpStatus(status, json.dumps(chart)[:200])
        result = chart.get("result")
        if not isinstance(result, list) or not result or not isinstance(result[0], dict):
            raise Malformed("empty 'chart.result' in Yahoo's chart answer")
        if not isinstance(result[0].get("meta"), dict):
            raise Malformed("no 'meta' in Yahoo's chart answer")
        first: dict[str, Any] = result[0]
        return first

    def _from_fields(
        self, symbol: str, item: Mapping[str, Any], fetched: datetime, *, v7: bool
    ) -> Quote:
        price = item.get("regularMarketPrice")
        if isinstance(price, dict):  # formatted=true style {"raw": 1.0, "fmt": "1.00"}
            price = price.get("raw")
        if (
            isinstance(price, bool)
            or not isinstance(price, int | float)
            or not math.isfinite(price)
            or price <= 0
        ):
            return failure(symbol, self.name, QuoteStatus.ERROR, f"no usable price ({price!r})")
        exchange = str(item.get("exchange") or item.get("exchangeName") or "")
        delay = item.get("exchangeDataDelayedBy")
        if not isinstance(delay, int | float):
            delay = _DELAYED_EXCHANGES.get(exchange, 0)
        change: Any = item.get("regularMarketChange") if v7 else None
        if not v7:
            previous = item.get("chartPreviousClose") or item.get("previousClose")
            if isinstance(previous, int | float) and previous > 0:
                change = float(price) - float(previous)
        currency = item.get("currency")
        return Quote(
            ticker=symbol,
            price=float(price),
            currency=str(currency).upper() if isinstance(currency, str) else None,
            time=_market_time(item.get("regularMarketTime")),
            source=self.name,
            status=QuoteStatus.OK,
            delayed=delay > 0,
            name=_name(item),
            change=float(change) if isinstance(change, int | float) else None,
            symbol=symbol,
            fetched=fetched,
        )


def _with_last_close(meta: Mapping[str, Any], result: Mapping[str, Any]) -> Mapping[str, Any]:
    """Chart answers without ``meta.regularMarketPrice`` (older shapes, some indices and
    funds) still carry the bars: use the last bar with a close, at that bar's time."""
    price = meta.get("regularMarketPrice")
    if isinstance(price, int | float) and not isinstance(price, bool) and price > 0:
        return meta
    try:
        closes = result["indicators"]["quote"][0]["close"]
        stamps = result["timestamp"]
    except (KeyError, IndexError, TypeError):
        return meta
    if not isinstance(closes, list) or not isinstance(stamps, list):
        return meta
    for close, stamp in zip(reversed(closes), reversed(stamps), strict=False):
        if isinstance(close, int | float) and not isinstance(close, bool) and close > 0:
            return {**meta, "regularMarketPrice": close, "regularMarketTime": stamp}
    return meta


def _text(response: Any) -> str:
    try:
        return str(response.text)[:200]
    except Exception:  # undecodable bodies say nothing useful
        return ""


def _json(response: Any) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, TypeError) as exc:
        raise Malformed(f"Yahoo sent something that is not JSON ({exc})") from exc


def _v7_items(payload: Any) -> list[Mapping[str, Any]]:
    body = payload.get("quoteResponse") if isinstance(payload, dict) else None
    if not isinstance(body, dict):
        # 401 "Invalid Crumb" comes as {"finance": {"error": ...}}
        finance = payload.get("finance") if isinstance(payload, dict) else None
        if isinstance(finance, dict) and finance.get("error"):
            raise Malformed(f"Yahoo refused the batch quote: {finance['error']}")
        raise Malformed("no 'quoteResponse' in Yahoo's quote answer")
    result = body.get("result")
    if result is None and body.get("error"):
        raise Malformed(f"Yahoo's quote answer is an error: {body['error']}")
    if not isinstance(result, list):
        raise Malformed("'quoteResponse.result' is not a list")
    return [item for item in result if isinstance(item, dict)]


def _name(item: Mapping[str, Any]) -> str | None:
    for key in ("longName", "shortName", "displayName"):
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _market_time(value: Any) -> datetime | None:
    if isinstance(value, dict):
        value = value.get("raw")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _redirecting_session(owner: YahooSource) -> Any:
    """A curl_cffi session (what yfinance expects) that sends every request to the owner's
    base URL, caps every timeout (yfinance asks 30 s for its cookie) and counts requests."""
    from curl_cffi import requests as curl_requests

    class RedirectingSession(curl_requests.Session):  # type: ignore[type-arg]
        def request(self, method: Any, url: str, *args: Any, **kwargs: Any) -> Any:
            if owner.unreachable is not None:
                # Not isinstance of what yfinance swallows: its cookie and crumb steps pass
                # this up instead of trying their other strategies one timeout each.
                raise NetworkUnreachable(owner.unreachable)
            given = kwargs.get("timeout")
            cap = owner.timeout
            if owner._deadline is not None:
                left = owner._deadline - time.monotonic()
                if left <= 0.05:
                    raise DeadlineExceeded(f"{owner.retry.budget:g} s used up")
                cap = min(cap, left)
            total = min(given, cap) if isinstance(given, int | float) else cap
            connect = min(owner.connect_timeout, total)
            kwargs["timeout"] = (connect, max(total - connect, 0.05))
            owner.requests.add()
            try:
                response = super().request(
                    method, rewrite_url(url, owner.base_url), *args, **kwargs
                )
            except Exception as exc:
                if is_unreachable(exc):
                    owner.unreachable = f"{_describe(exc)} ({urlsplit_host(url, owner)})"
                    raise NetworkUnreachable(owner.unreachable) from exc
                raise
            owner.last_status = int(response.status_code)
            if int(response.status_code) == 429:
                owner._retry_after = retry_after(response)
            return response

    return RedirectingSession(impersonate="chrome")


def retry_after(response: Any) -> float | None:
    """Seconds from a response's ``Retry-After`` (a number of seconds or an HTTP date)."""
    try:
        value = response.headers.get("Retry-After")
    except Exception:  # a response without headers says nothing
        return None
    if not value:
        return None
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def urlsplit_host(url: str, owner: YahooSource) -> str:
    """The host a request went to (after the base-URL rewrite), for the one-line message."""
    from urllib.parse import urlsplit

    return urlsplit(rewrite_url(url, owner.base_url)).netloc or url


def yahoo_symbol(ticker: str, market: str) -> str:
    """Yahoo writes share classes with a dash (BRK.B -> BRK-B)."""
    return ticker.replace(".", "-") if market == "US" else ticker


def fx_symbol(pair: str) -> str:
    """``USDKRW`` -> ``KRW=X`` (Yahoo's name for dollar pairs), ``EURKRW`` -> ``EURKRW=X``."""
    quote_ccy, base_ccy = pair[:3], pair[3:]
    return f"{base_ccy}=X" if quote_ccy == "USD" else f"{pair}=X"
