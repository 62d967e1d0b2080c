"""One refresh: cache first, then one batched fetch per source, then the cache again.

For each wanted ticker (or FX pair):

1. a cached price within the freshness window is used as is -- no network at all;
2. otherwise (unless offline) it is fetched: US tickers and FX from Yahoo; KRX codes from Yahoo
   (``.KS``/``.KQ``) and, with a KRX login, from KRX's official closes at the same time;
3. a failed fetch falls back to the last good cached price, marked ``stale`` with its time and
   the reason; with no cached price the ticker is ``missing`` or ``error`` -- never zero.

A KRX code's Yahoo suffix is unknown the first time: both ``.KS`` and ``.KQ`` go into the same
batch and the one with a (newest) price wins. The answer is remembered in the cache (and
overridden by KRX's own market id when KRX is available); a remembered symbol that stops
answering is forgotten so the next refresh guesses again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from xlrebalance.errors import NetworkUnreachable
from xlrebalance.quotes.cache import QuoteCache
from xlrebalance.quotes.calendar import SEOUL, FreshnessPolicy
from xlrebalance.quotes.krx import NO_CREDENTIALS, KrxSource, find_credentials, notice_once
from xlrebalance.quotes.sanity import SanityPolicy, implausible, jump, wrong_currency
from xlrebalance.quotes.types import Quote, QuoteSource, QuoteStatus, failure
from xlrebalance.quotes.yahoo import YahooSource, fx_symbol, yahoo_symbol

KR_SUFFIXES = (".KS", ".KQ")

ProgressCallback = Callable[[int, int], None]
"""``progress(done, total)`` in symbols, called from worker threads."""


@dataclass(frozen=True)
class Want:
    """A ticker of a market (``US``, ``KR``) or an FX pair (market ``FX``, e.g. ``USDKRW``)."""

    ticker: str
    market: str


@dataclass
class Sources:
    """The sources a refresh may use. ``krx`` is None without a KRX login; ``krx_notice``
    then says so (printed once per process when KRX prices would have been used)."""

    yahoo: QuoteSource | None
    krx: QuoteSource | None = None
    krx_notice: str | None = None

    @classmethod
    def default(cls, cache: QuoteCache | None = None) -> Sources:
        credentials = find_credentials()
        return cls(
            yahoo=YahooSource(yfinance_cache=cache.directory / "yfinance" if cache else None),
            krx=KrxSource(credentials) if credentials else None,
            krx_notice=None if credentials else NO_CREDENTIALS,
        )


@dataclass(frozen=True)
class QuoteReport:
    """One quote per ticker and per FX pair, and what the refresh did."""

    quotes: tuple[Quote, ...]
    fetched: int = 0
    """Symbols asked of the network (0 when everything was fresh in the cache)."""
    notices: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    """One line per fetched price refused by :mod:`.sanity` (``TICKER: why``)."""
    held: tuple[str, ...] = ()
    """Tickers whose fetched price was refused as an implausible jump (``--accept-jumps``)."""
    unreachable: str | None = None
    """Why the network could not be reached (the first failure stopped the fetch), when no
    price at all came from it; None otherwise."""
    _index: dict[tuple[str, str], Quote] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index.update({(q.market, q.ticker): q for q in self.quotes})

    def get(self, ticker: str, market: str | None = None) -> Quote | None:
        if market is not None:
            return self._index.get((market, ticker))
        return next((q for q in self.quotes if q.ticker == ticker), None)

    @property
    def stale(self) -> tuple[str, ...]:
        """Tickers (and FX pairs) priced from an older price: a failed fetch, or offline."""
        return tuple(q.ticker for q in self.quotes if q.status is QuoteStatus.STALE)

    @property
    def missing(self) -> tuple[str, ...]:
        """Tickers (and FX pairs) without any price."""
        return tuple(q.ticker for q in self.quotes if q.price is None)

    @property
    def fx(self) -> tuple[Quote, ...]:
        return tuple(q for q in self.quotes if q.market == "FX")

    def note(self) -> str | None:
        """One line naming stale and missing tickers, or None when all is fresh."""
        parts = []
        if self.stale:
            parts.append(f"{len(self.stale)} stale ({', '.join(self.stale)})")
        if self.missing:
            parts.append(f"{len(self.missing)} without a price ({', '.join(self.missing)})")
        return "quotes: " + "; ".join(parts) if parts else None


def refresh(
    wants: Sequence[Want],
    *,
    cache: QuoteCache,
    sources: Sources | Callable[[], Sources],
    offline: bool = False,
    now: datetime | None = None,
    policy: FreshnessPolicy | None = None,
    progress: ProgressCallback | None = None,
    currencies: Mapping[Want, str] | None = None,
    reference: Mapping[Want, float] | None = None,
    sanity: SanityPolicy | None = None,
) -> QuoteReport:
    """Quotes for ``wants`` (in order, each once) from the cache and, when needed, the network.

    Every price is checked (:mod:`.sanity`) before it is cached or returned: an absurd price,
    one in another currency than ``currencies`` names for its ticker (FX pairs and KRX codes
    are checked without being named), or an implausible jump from the last good price (the
    cache's, else ``reference``) is refused like a failed fetch -- never cached, and the last
    good price is used instead, marked stale with the reason.

    ``sources`` may be a factory, called only when something must be fetched: building the
    default sources asks the OS keyring for a KRX login, which a cached answer need not pay."""
    now = now or datetime.now(UTC)
    policy = policy or FreshnessPolicy()
    sanity = sanity or SanityPolicy()
    wants = list(dict.fromkeys(wants))
    stored = cache.get_many((w.market, w.ticker) for w in wants)
    cached: dict[tuple[str, str], Quote] = {}
    for want in wants:  # a cache written before these checks may hold what they refuse
        hit = stored.get((want.market, want.ticker))
        expected = expected_currency(want, (currencies or {}).get(want))
        if (
            hit is not None
            and hit.price is not None
            and not (implausible(hit.price, want.market) or wrong_currency(hit.currency, expected))
        ):
            cached[(want.market, want.ticker)] = hit
    results: dict[Want, Quote] = {}
    todo: list[Want] = []
    for want in wants:
        hit = cached.get((want.market, want.ticker))
        if hit is not None and policy.is_fresh(want.market, hit.fetched or _EPOCH, now):
            results[want] = hit
        elif offline:
            results[want] = (
                _stale(hit, "cached price older than the freshness window; running offline")
                if hit is not None
                else _missing(want, QuoteStatus.MISSING, "not in the quote cache; running offline")
            )
        else:
            todo.append(want)
    notices: list[str] = []
    held: list[str] = []
    refused: list[str] = []
    fetched_symbols = 0
    unreachable: str | None = None
    if todo:
        if not isinstance(sources, Sources):
            sources = sources()
        fetched, fetched_symbols, notices, unreachable = _fetch(todo, cache, sources, now, progress)
        good: list[Quote] = []
        for want in todo:
            got = fetched[want]
            hit = cached.get((want.market, want.ticker))
            if got.price is not None:
                expected = expected_currency(want, (currencies or {}).get(want))
                why = implausible(got.price, want.market) or wrong_currency(
                    got.currency, expected, want.market
                )
                if why is None:
                    last = hit.price if hit is not None else (reference or {}).get(want)
                    when = hit.time if hit is not None else None
                    why = jump(got.price, last, when, sanity, want.ticker)
                    if why is not None:
                        held.append(want.ticker)
                if why is None:
                    results[want] = got
                    good.append(got)
                    continue
                refused.append(f"{want.ticker}: {got.source} quote refused: {why}")
                got = replace(got, price=None, status=QuoteStatus.ERROR, detail=why)
            results[want] = _stale(hit, got.detail) if hit is not None else got
        cache.put(good)
    return QuoteReport(
        quotes=tuple(results[w] for w in wants),
        fetched=fetched_symbols,
        notices=tuple(notices),
        refused=tuple(refused),
        held=tuple(held),
        unreachable=unreachable,
    )


def expected_currency(want: Want, given: str | None) -> str | None:
    """The currency a price of ``want`` must be in: an FX pair's quote currency (``USDKRW``
    is KRW per dollar), KRW for KRX codes, else what the caller knows (the holding's)."""
    if want.market == "FX":
        return want.ticker[3:]
    if want.market == "KR":
        return "KRW"
    return given


_EPOCH = datetime.fromtimestamp(0, UTC)


def _stale(quote: Quote, why: str) -> Quote:
    age = ""
    if quote.fetched is not None:
        age = f" (price from {quote.fetched.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
    return quote.with_status(QuoteStatus.STALE, f"{why}{age}" if why else age.strip())


def _missing(want: Want, status: QuoteStatus, detail: str, source: str = "cache") -> Quote:
    return replace(failure(want.ticker, source, status, detail), market=want.market, symbol=None)


def _fetch(
    todo: Sequence[Want],
    cache: QuoteCache,
    sources: Sources,
    now: datetime,
    progress: ProgressCallback | None,
) -> tuple[dict[Want, Quote], int, list[str], str | None]:
    notices: list[str] = []
    kr_codes = [w.ticker for w in todo if w.market == "KR"]
    known = cache.symbols(kr_codes) if kr_codes else {}
    symbols_of: dict[Want, list[str]] = {}
    for want in todo:
        if want.market == "FX":
            symbols_of[want] = [fx_symbol(want.ticker)]
        elif want.market == "KR":
            hit = known.get(want.ticker)
            symbols_of[want] = [hit] if hit else [want.ticker + s for s in KR_SUFFIXES]
        else:
            symbols_of[want] = [yahoo_symbol(want.ticker, want.market)]
    yahoo_symbols = list(dict.fromkeys(s for ss in symbols_of.values() for s in ss))
    krx_codes = kr_codes if sources.krx is not None else []

    total = (len(yahoo_symbols) if sources.yahoo else 0) + len(krx_codes)
    done = [0]
    lock = threading.Lock()

    def advance(n: int) -> None:
        with lock:
            done[0] += n
            count = done[0]
        if progress:
            progress(min(count, total), total)

    unreachable: list[str] = []

    def run(source: QuoteSource | None, symbols: list[str]) -> Mapping[str, Quote]:
        if source is None or not symbols:
            return {}
        try:
            return source.fetch(symbols, progress=advance)
        except NetworkUnreachable as exc:
            unreachable.append(str(exc))
            detail = f"no network ({exc})"
            return {s: failure(s, source.name, QuoteStatus.ERROR, detail) for s in symbols}
        except Exception as exc:  # a source that breaks as a whole fails its symbols only
            detail = f"{source.name} failed: {exc}"
            return {s: failure(s, source.name, QuoteStatus.ERROR, detail) for s in symbols}

    with ThreadPoolExecutor(max_workers=2) as pool:
        yahoo_job = pool.submit(run, sources.yahoo, yahoo_symbols)
        krx_job = pool.submit(run, sources.krx, krx_codes)
        from_yahoo, from_krx = yahoo_job.result(), krx_job.result()
    got_any = any(q.price is not None for q in (*from_yahoo.values(), *from_krx.values()))
    offline_now = unreachable[0] if unreachable and not got_any else None
    if kr_codes and sources.krx is None and sources.krx_notice and offline_now is None:
        # Said after the fetch: without a network, the one "no network" line is enough.
        notice_once(sources.krx_notice)
        notices.append(sources.krx_notice)

    out: dict[Want, Quote] = {}
    learned: dict[str, str] = {}
    forget: list[str] = []
    for want in todo:
        candidates = [
            from_yahoo.get(s)
            or failure(s, "yahoo", QuoteStatus.ERROR, "no Yahoo source configured")
            for s in symbols_of[want]
        ]
        best = _newest(candidates)
        if want.market != "KR":
            out[want] = _label(best, want, fetched=now)
            continue
        official = from_krx.get(want.ticker)
        if official is not None and official.price is not None and official.symbol:
            learned[want.ticker] = official.symbol
        elif best.price is not None and want.ticker not in known and best.symbol:
            learned[want.ticker] = best.symbol
        elif want.ticker in known and best.status is QuoteStatus.MISSING:
            forget.append(want.ticker)
        out[want] = _label(_merge_kr(best, official), want, fetched=now)
    if forget:
        cache.forget_symbols(forget)
    cache.remember_symbols(
        {t: s for t, s in learned.items() if known.get(t) != s and t not in forget}, now
    )
    return out, total, notices, offline_now


def _newest(candidates: list[Quote]) -> Quote:
    """The priced candidate with the latest market time (first wins ties); else the most
    telling failure (an error beats "missing": it may exist and just have failed)."""
    priced = [q for q in candidates if q.price is not None]
    if priced:
        return max(priced, key=lambda q: (q.time or _EPOCH, -priced.index(q)))
    errors = [q for q in candidates if q.status is QuoteStatus.ERROR]
    return errors[0] if errors else candidates[0]


def _merge_kr(yahoo: Quote, official: Quote | None) -> Quote:
    """KRX's official close when it is for the day of Yahoo's latest price (or Yahoo has
    none); Yahoo's delayed intraday price when it is newer. Korean names from KRX always."""
    if official is None or official.price is None:
        return yahoo
    if yahoo.price is None:
        return replace(official, name=yahoo.name)
    if yahoo.time is None or official.time is None:
        return replace(yahoo, name_ko=official.name_ko)
    if official.time.astimezone(SEOUL).date() >= yahoo.time.astimezone(SEOUL).date():
        return replace(official, name=yahoo.name)
    return replace(yahoo, name_ko=official.name_ko)


def _label(quote: Quote, want: Want, *, fetched: datetime) -> Quote:
    """A source's per-symbol result as the project's quote of ``want``."""
    detail = quote.detail
    if quote.status is QuoteStatus.MISSING and want.market == "KR" and not quote.symbol:
        detail = detail or "not listed"
    return replace(
        quote,
        ticker=want.ticker,
        market=want.market,
        fetched=fetched if quote.price is not None else quote.fetched,
        detail=detail,
    )
