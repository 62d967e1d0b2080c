"""The entry points the CLI, the workbook and the worksheet functions call."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime

from xlrebalance.errors import PortfolioError
from xlrebalance.model import KNOWN_CURRENCIES, Holding, Portfolio, infer_market, normalize_ticker
from xlrebalance.quotes.cache import QuoteCache
from xlrebalance.quotes.calendar import FreshnessPolicy
from xlrebalance.quotes.engine import ProgressCallback, QuoteReport, Sources, Want, refresh
from xlrebalance.quotes.sanity import SanityPolicy
from xlrebalance.quotes.types import Quote, QuoteStatus

_PAIR = re.compile(r"^[A-Z]{6}$")

TYPED_SOURCE = "file"
"""Source of a quote that is the price typed in the portfolio (kept when no fresh one came):
it has no time of its own, and a workbook leaves such a row as it is."""


def fx_pair(ticker: str) -> bool:
    """``USDKRW`` names an FX pair: six letters, two known currency codes."""
    return bool(_PAIR.match(ticker)) and {ticker[:3], ticker[3:]} <= KNOWN_CURRENCIES


def want_of(ticker: str) -> Want:
    raw = ticker.strip().upper()
    if fx_pair(raw):
        return Want(raw, "FX")
    normalized = normalize_ticker(raw)
    return Want(normalized, infer_market(normalized).value)


def fill_prices(
    portfolio: Portfolio,
    *,
    offline: bool = False,
    cache: QuoteCache | None = None,
    sources: Sources | None = None,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
    strict: bool = True,
    policy: FreshnessPolicy | None = None,
    sanity: SanityPolicy | None = None,
) -> tuple[Portfolio, QuoteReport]:
    """Prices for every holding and every FX rate the portfolio needs.

    Which price a ticker gets, in order:

    - online: a fresh price (fetched now, or cached within the freshness window), else the
      price typed in the portfolio (kept, reported ``stale``: the fetch failed), else the last
      cached price (``stale``);
    - offline: the price typed in the portfolio (``ok``: the user chose it), else the cached
      price (``ok`` if still fresh, else ``stale``).

    FX rates (``USDKRW`` = KRW per 1 USD) follow the same rules, from ``fx`` in the portfolio.
    Holdings without a name get the quote's (Korean name for KRX codes when KRX gave one).

    The report has one quote per ticker and per FX pair. A ticker with no price at all is in
    ``report.missing``. With ``strict`` (the default) ``fill_prices`` then raises
    :class:`PortfolioError` naming the ticker (or FX pair), because the planner values every
    holding and converts every currency; ``strict=False`` returns the partly filled portfolio
    instead, for callers (the workbook's Refresh) that show what they got.

    Fetched prices pass :mod:`.sanity` first (``sanity``: the jump threshold and whether jumps
    are accepted); the price in the file is the last good price when the cache has none. A
    refused price is never used: the file's (or cached) price stays, reported ``stale``.
    """
    own_cache = cache is None
    cache = cache if cache is not None else QuoteCache()
    try:
        now = now or datetime.now(UTC)
        base = portfolio.base_currency
        first: dict[str, Holding] = {}
        for h in portfolio.holdings:
            first.setdefault(h.ticker, h)
        typed = {t: h.price for t, h in first.items() if h.price is not None}
        pairs = [c + base for c in portfolio.currencies() if c != base]
        wants = [Want(t, h.market.value) for t, h in first.items()]
        wants += [Want(p, "FX") for p in pairs]
        typed_of = {Want(t, first[t].market.value): p for t, p in typed.items()}
        typed_of.update({Want(p, "FX"): portfolio.fx[p] for p in pairs if p in portfolio.fx})
        ask = [w for w in wants if not (offline and w in typed_of)]
        currencies = {Want(t, h.market.value): h.currency for t, h in first.items()}
        fetched = refresh(
            ask,
            cache=cache,
            sources=sources if sources is not None else _default_sources(cache),
            offline=offline,
            now=now,
            policy=policy,
            progress=progress,
            currencies=currencies,
            reference=typed_of,
            sanity=sanity,
        )
        chosen: list[Quote] = []
        for want in wants:
            got = fetched.get(want.ticker, want.market)
            typed_price = typed_of.get(want)
            if got is not None and got.status is QuoteStatus.OK and not offline:
                chosen.append(_checked(got, want, first))
            elif typed_price is not None:
                status = QuoteStatus.OK if offline else QuoteStatus.STALE
                why = "" if offline else f"kept the price in the file: {got.detail if got else ''}"
                chosen.append(_typed(want, typed_price, first, status, why.rstrip(": ")))
            elif got is not None:
                chosen.append(_checked(got, want, first))
        report = QuoteReport(
            quotes=tuple(chosen),
            fetched=fetched.fetched,
            notices=fetched.notices,
            refused=fetched.refused,
            held=fetched.held,
            unreachable=fetched.unreachable,
        )
    finally:
        if own_cache:
            cache.close()

    by_key = {(q.market, q.ticker): q for q in report.quotes}
    holdings = []
    for h in portfolio.holdings:
        q = by_key.get((h.market.value, h.ticker))
        price = q.price if q is not None and q.price is not None else h.price
        name = h.name or (q.display_name if q is not None else None)
        holdings.append(replace(h, price=price, name=name))
    fx = dict(portfolio.fx)
    for q in report.fx:
        if q.price is not None:
            fx[q.ticker] = q.price
    filled = replace(portfolio, holdings=tuple(holdings), fx=fx)
    if strict:
        _require_prices(filled, report)
    return filled, report


def _checked(quote: Quote, want: Want, first: dict[str, Holding]) -> Quote:
    """A price in another currency than the holding's is refused, not silently used."""
    holding = first.get(want.ticker)
    expected = getattr(holding, "currency", None)
    if expected and quote.price is not None and quote.currency and quote.currency != expected:
        return replace(
            quote,
            price=None,
            status=QuoteStatus.ERROR,
            detail=f"quoted in {quote.currency} but the holding is in {expected}",
        )
    return quote


def _typed(
    want: Want, price: float, first: dict[str, Holding], status: QuoteStatus, why: str
) -> Quote:
    holding = first.get(want.ticker)
    currency = getattr(holding, "currency", None) if want.market != "FX" else want.ticker[3:]
    return Quote(
        ticker=want.ticker,
        price=price,
        currency=currency,
        time=None,
        source=TYPED_SOURCE,
        status=status,
        market=want.market,
        name=getattr(holding, "name", None),
        detail=why,
    )


def _require_prices(portfolio: Portfolio, report: QuoteReport) -> None:
    for i, h in enumerate(portfolio.holdings):
        if h.price is None:
            q = report.get(h.ticker, h.market.value)
            why = q.detail if q is not None and q.detail else "no price"
            raise PortfolioError(
                f"holdings[{i}].price",
                f"{h.ticker}: no price in the file, the quote cache or from the sources ({why})",
            )
    base = portfolio.base_currency
    for currency in portfolio.currencies():
        pair = currency + base
        if currency != base and pair not in portfolio.fx:
            q = report.get(pair, "FX")
            why = q.detail if q is not None and q.detail else "no rate"
            raise PortfolioError(f"fx.{pair}", f"no FX rate for {currency} in {base} ({why})")


def _default_sources(cache: QuoteCache) -> Callable[[], Sources]:
    """Yahoo and (with a login) KRX, built only if the cache cannot answer (see refresh)."""
    return lambda: Sources.default(cache)


def quote(
    tickers: Iterable[str],
    *,
    offline: bool = False,
    cache: QuoteCache | None = None,
    sources: Sources | None = None,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
    policy: FreshnessPolicy | None = None,
    sanity: SanityPolicy | None = None,
) -> list[Quote]:
    """Quotes for tickers as typed (``AAPL``, ``5930``, ``069500``, ``USDKRW``), in order."""
    wants = [want_of(t) for t in tickers]
    own_cache = cache is None
    cache = cache if cache is not None else QuoteCache()
    try:
        report = refresh(
            wants,
            cache=cache,
            sources=sources if sources is not None else _default_sources(cache),
            offline=offline,
            now=now,
            policy=policy,
            progress=progress,
            sanity=sanity,
        )
    finally:
        if own_cache:
            cache.close()
    out = []
    for want in wants:
        got = report.get(want.ticker, want.market)
        assert got is not None, "refresh answers every ticker it is asked"
        out.append(got)
    return out


# -- the worksheet path: cache only, no network, fast ------------------------------------

_default_cache: QuoteCache | None = None
_default_lock = threading.Lock()
_default_policy = FreshnessPolicy()


def cached_quote(
    ticker: str,
    *,
    cache: QuoteCache | None = None,
    now: datetime | None = None,
    policy: FreshnessPolicy | None = None,
) -> Quote | None:
    """The cached quote of ``ticker`` (``ok`` while fresh, else ``stale``), or None.

    Never touches the network, so a worksheet recalculation never blocks on it: ``=QUOTE()``
    reads here and the ribbon's Refresh fetches the tickers the sheet needs in one batch.
    """
    global _default_cache
    if cache is None:
        with _default_lock:
            if _default_cache is None:
                _default_cache = QuoteCache()
            cache = _default_cache
    want = want_of(ticker)
    hit = cache.get(want.market, want.ticker)
    if hit is None:
        return None
    fresh = (policy or _default_policy).is_fresh(
        want.market, hit.fetched or datetime.fromtimestamp(0, UTC), now or datetime.now(UTC)
    )
    return hit if fresh else hit.with_status(QuoteStatus.STALE, "older than the freshness window")
