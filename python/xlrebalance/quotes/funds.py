"""What funds hold and which sector companies are in: fetched, cached for a week, offline after.

Yahoo's ``quoteSummary`` answers a fund's top holdings (usually ten) and sector weights, and a
company's sector; it takes one symbol per request, so a first fetch sends one request per
ticker through the Yahoo source's bounded pool, and later runs read the cache. A fund Yahoo
knows nothing about (most KRX ETFs) is stored as "no holdings" for the same week, so that it
is not asked again on every refresh; the exposure view says it is unknown.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from xlrebalance.exposure.leverage import leverage_of
from xlrebalance.exposure.lookthrough import Constituent, FundHoldings
from xlrebalance.model import Kind, Market, Portfolio
from xlrebalance.quotes.cache import QuoteCache
from xlrebalance.quotes.types import Progress

HOLDINGS_MAX_AGE = timedelta(days=7)
"""Funds publish holdings monthly or quarterly; a week is fresh enough for a weekly review."""


class ProfileSource(Protocol):
    name: str

    def fetch_profiles(
        self, symbols: Sequence[str], *, progress: Progress | None = None
    ) -> Mapping[str, Mapping[str, Any] | str]: ...


@dataclass(frozen=True)
class HoldingsReport:
    holdings: Mapping[str, FundHoldings]  # by ticker; unknown tickers are absent
    fetched: tuple[str, ...] = ()  # tickers asked from the source this time
    failed: Mapping[str, str] = field(default_factory=dict)  # ticker -> why
    cached: int = 0

    def note(self) -> str | None:
        if not self.failed:
            return None
        names = ", ".join(sorted(self.failed)[:5]) + ("…" if len(self.failed) > 5 else "")
        return f"holdings unknown for {len(self.failed)} ticker(s) ({names}): {_why(self.failed)}"


def wanted(portfolio: Portfolio) -> list[tuple[str, str]]:
    """``(market, ticker)`` of every held ticker and of each leveraged fund's proxy."""
    out: dict[tuple[str, str], None] = {}
    for h in portfolio.holdings:
        out[(h.market.value, h.ticker)] = None
        proxy = leverage_of(h).proxy
        if proxy is not None:
            market = Market.KR.value if proxy[:1].isdigit() else Market.US.value
            out[(market, proxy)] = None
    return list(out)


def fund_holdings(
    portfolio: Portfolio,
    cache: QuoteCache,
    source: ProfileSource | None,
    *,
    krx: ProfileSource | None = None,
    now: datetime | None = None,
    max_age: timedelta = HOLDINGS_MAX_AGE,
    progress: Progress | None = None,
) -> HoldingsReport:
    """Holdings for every ticker ``portfolio`` needs: cached ones younger than ``max_age``,
    the rest from the sources (``source`` None: offline, cache only, however old). KRX ETFs
    are asked of ``krx`` (their portfolio deposit files, with a KRX login) first and of
    ``source`` (Yahoo) when KRX has nothing."""
    moment = now or datetime.now(UTC)
    keys = wanted(portfolio)
    stored = cache.profiles(keys)
    holdings: dict[str, FundHoldings] = {}
    stale: list[tuple[str, str]] = []
    for key in keys:
        found = stored.get(key)
        if found is not None:
            body, fetched = found
            holdings[key[1]] = from_json(key[1], body, fetched)
            if source is not None and moment.timestamp() - fetched > max_age.total_seconds():
                stale.append(key)
        elif source is not None:
            stale.append(key)
    failed: dict[str, str] = {}
    if source is None or not stale:
        cached = len(holdings)
        for key in keys:
            if key[1] not in holdings:
                failed[key[1]] = "not in the cache and running offline"
        return HoldingsReport(_known(holdings), (), failed, cached)
    answers: dict[tuple[str, str], tuple[Mapping[str, Any] | str, str]] = {}
    stocks = {h.ticker for h in portfolio.holdings if h.kind is Kind.STOCK}
    krx_keys = [k for k in stale if k[0] == Market.KR.value and k[1] not in stocks]
    if krx is not None and krx_keys:
        got = krx.fetch_profiles([t for _, t in krx_keys], progress=progress)
        for key in krx_keys:
            answer = got.get(key[1], "no answer")
            if not isinstance(answer, str) and answer:
                answers[key] = (answer, krx.name)
    rest = [k for k in stale if k not in answers]
    symbols = {yahoo_symbol(cache, market, ticker): (market, ticker) for market, ticker in rest}
    got = source.fetch_profiles(list(symbols), progress=progress) if symbols else {}
    for symbol, key in symbols.items():
        answers[key] = (got.get(symbol, "no answer"), source.name)
    rows = []
    for (market, ticker), (answer, name) in answers.items():
        if isinstance(answer, str):
            if ticker not in holdings:  # a failed refresh keeps last week's data
                failed[ticker] = answer
            continue
        parsed = parse_profile(ticker, answer, name, moment)
        holdings[ticker] = parsed
        rows.append((market, ticker, to_json(parsed), moment.timestamp(), name))
    cache.put_profiles(rows)
    cached = len(keys) - len(stale)
    return HoldingsReport(_known(holdings), tuple(t for _, t in stale), failed, cached)


def yahoo_symbol(cache: QuoteCache, market: str, ticker: str) -> str:
    if market != Market.KR.value:
        return ticker.replace(".", "-")
    return cache.symbols([ticker]).get(ticker, f"{ticker}.KS")


def parse_profile(
    ticker: str, result: Mapping[str, Any], source: str, fetched: datetime
) -> FundHoldings:
    """A ``quoteSummary`` result (modules topHoldings, assetProfile) as :class:`FundHoldings`.
    Values come plain (``formatted=false``) or as ``{"raw": ...}``; weights above 1 are
    percentages (some answers give 8.12 for 8.12%)."""
    top = result.get("topHoldings")
    constituents: list[Constituent] = []
    sectors: dict[str, float] = {}
    if isinstance(top, Mapping):
        raw_rows = top.get("holdings")
        rows = [r for r in raw_rows if isinstance(r, Mapping)] if isinstance(raw_rows, list) else []
        weights = [_fraction(r.get("holdingPercent")) for r in rows]
        percent = any(w is not None and w > 1 for w in weights)
        for row, weight in zip(rows, weights, strict=True):
            symbol = row.get("symbol")
            if not isinstance(symbol, str) or not symbol.strip() or weight is None:
                continue
            name = row.get("holdingName")
            constituents.append(
                Constituent(
                    symbol.strip(),
                    name.strip() if isinstance(name, str) else None,
                    weight / 100 if percent else weight,
                )
            )
        raw_sectors = top.get("sectorWeightings")
        entries: list[tuple[str, float]] = []
        for item in raw_sectors if isinstance(raw_sectors, list) else []:
            if isinstance(item, Mapping):
                for key, value in item.items():
                    fraction = _fraction(value)
                    if isinstance(key, str) and fraction is not None and fraction > 0:
                        entries.append((key, fraction))
        percent = sum(f for _, f in entries) > 1.5
        for key, fraction in entries:
            sectors[key] = sectors.get(key, 0.0) + (fraction / 100 if percent else fraction)
    profile = result.get("assetProfile")
    sector = profile.get("sector") if isinstance(profile, Mapping) else None
    return FundHoldings(
        ticker=ticker,
        source=source,
        constituents=tuple(constituents),
        sectors=sectors,
        sector=sector.strip() if isinstance(sector, str) and sector.strip() else None,
        as_of=fetched,
    )


def to_json(fund: FundHoldings) -> str:
    return json.dumps(
        {
            "source": fund.source,
            "constituents": [[c.symbol, c.name, c.weight] for c in fund.constituents],
            "sectors": dict(fund.sectors),
            "sector": fund.sector,
        },
        ensure_ascii=False,
    )


def from_json(ticker: str, body: str, fetched: float) -> FundHoldings:
    data = json.loads(body)
    return FundHoldings(
        ticker=ticker,
        source=str(data.get("source", "cache")),
        constituents=tuple(
            Constituent(str(s), n if isinstance(n, str) else None, float(w))
            for s, n, w in data.get("constituents", [])
        ),
        sectors={str(k): float(v) for k, v in data.get("sectors", {}).items()},
        sector=data.get("sector") if isinstance(data.get("sector"), str) else None,
        as_of=datetime.fromtimestamp(fetched, UTC),
    )


def _known(holdings: Mapping[str, FundHoldings]) -> dict[str, FundHoldings]:
    """Only what says something: an empty answer means unknown, as no answer does."""
    return {t: f for t, f in holdings.items() if f.has_holdings or f.sector}


def _fraction(value: Any) -> float | None:
    if isinstance(value, Mapping):
        value = value.get("raw")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def _why(failed: Mapping[str, str]) -> str:
    reasons = sorted(set(failed.values()))
    return reasons[0] if len(reasons) == 1 else "; ".join(reasons[:3])


__all__ = [
    "HOLDINGS_MAX_AGE",
    "HoldingsReport",
    "ProfileSource",
    "fund_holdings",
    "holdings_for",
    "online_sources",
    "parse_profile",
    "wanted",
]


def holdings_for(portfolio: Portfolio, *, offline: bool) -> Mapping[str, FundHoldings]:
    """What ``portfolio``'s funds hold, from the default quote cache and, unless ``offline``,
    from the sources when older than a week. Offline without a cache file: nothing, and no
    cache file is created."""
    from xlrebalance.quotes.cache import FILENAME, default_directory

    if offline and not (default_directory() / FILENAME).exists():
        return {}
    with QuoteCache() as cache:
        source, krx = online_sources(cache) if not offline else (None, None)
        return fund_holdings(portfolio, cache, source, krx=krx).holdings


def online_sources(cache: QuoteCache) -> tuple[ProfileSource, ProfileSource | None]:
    """Yahoo, and KRX when a KRX login is configured (as for quotes)."""
    from xlrebalance.quotes.krx import KrxSource, find_credentials
    from xlrebalance.quotes.yahoo import YahooSource

    credentials = find_credentials()
    yahoo = YahooSource(yfinance_cache=cache.directory / "yfinance")
    return yahoo, KrxSource(credentials) if credentials else None
