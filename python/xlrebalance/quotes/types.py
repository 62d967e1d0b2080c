"""What a quote is, and the one interface every quote source implements."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class QuoteStatus(StrEnum):
    OK = "ok"
    """A price fetched now, or cached and still within the freshness window."""
    STALE = "stale"
    """A price older than the freshness window (the fetch failed, or the run is offline)."""
    MISSING = "missing"
    """No price: the source does not know the ticker (unknown or delisted)."""
    ERROR = "error"
    """No price: the fetch failed and there is no earlier price to fall back on."""


@dataclass(frozen=True)
class Quote:
    """One price with everything needed to judge it.

    ``ticker`` is the project's ticker (``AAPL``, ``005930``, or an FX pair such as ``USDKRW``);
    ``symbol`` is what the source calls it (``005930.KS``, ``KRW=X``). ``time`` is the market
    time of the price, ``fetched`` when this program received it. ``detail`` says why a quote
    is not OK.
    """

    ticker: str
    price: float | None
    currency: str | None
    time: datetime | None
    source: str
    status: QuoteStatus
    market: str = ""
    delayed: bool = False
    name: str | None = None
    name_ko: str | None = None
    change: float | None = None
    symbol: str | None = None
    fetched: datetime | None = None
    detail: str = ""

    @property
    def has_price(self) -> bool:
        return self.price is not None

    def with_status(self, status: QuoteStatus, detail: str = "") -> Quote:
        return replace(self, status=status, detail=detail)

    @property
    def display_name(self) -> str | None:
        return self.name_ko if self.market == "KR" and self.name_ko else self.name


def failure(symbol: str, source: str, status: QuoteStatus, detail: str) -> Quote:
    """A per-symbol result without a price."""
    return Quote(
        ticker=symbol,
        price=None,
        currency=None,
        time=None,
        source=source,
        status=status,
        symbol=symbol,
        detail=detail,
    )


Progress = Callable[[int], None]
"""Called with how many more symbols a source has finished."""


class QuoteSource(Protocol):
    """A batch of source symbols in, one result per symbol out.

    Every symbol asked for gets a :class:`Quote` keyed by that symbol: ``OK`` with a price,
    ``MISSING`` when the source says it does not exist, ``ERROR`` (with ``detail``) when it could
    not be fetched. ``fetch`` does not raise for per-symbol problems; it raises
    :class:`~xlrebalance.errors.QuoteError` only when the source cannot work at all.
    """

    name: str

    def fetch(
        self, symbols: Sequence[str], *, progress: Progress | None = None
    ) -> Mapping[str, Quote]: ...
