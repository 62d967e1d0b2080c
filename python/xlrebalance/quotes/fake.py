"""An in-memory quote source for tests and offline demos of code that takes a ``Sources``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from xlrebalance.quotes.types import Progress, Quote, QuoteStatus, failure


@dataclass
class FakeSource:
    """Answers from ``prices`` (symbol -> price, or symbol -> Quote); unknown symbols are
    ``missing``; symbols in ``errors`` fail with that text. ``calls`` records each batch."""

    prices: Mapping[str, float | Quote] = field(default_factory=dict)
    currency: str = "USD"
    errors: Mapping[str, str] = field(default_factory=dict)
    name: str = "fake"
    calls: list[list[str]] = field(default_factory=list)

    def fetch(
        self, symbols: Sequence[str], *, progress: Progress | None = None
    ) -> Mapping[str, Quote]:
        self.calls.append(list(symbols))
        out: dict[str, Quote] = {}
        now = datetime.now(UTC)
        for symbol in symbols:
            if symbol in self.errors:
                out[symbol] = failure(symbol, self.name, QuoteStatus.ERROR, self.errors[symbol])
                continue
            value = self.prices.get(symbol)
            if value is None:
                out[symbol] = failure(symbol, self.name, QuoteStatus.MISSING, "unknown symbol")
            elif isinstance(value, Quote):
                out[symbol] = replace(value, ticker=symbol, symbol=symbol, source=self.name)
            else:
                out[symbol] = Quote(
                    ticker=symbol,
                    price=float(value),
                    currency=self.currency,
                    time=now,
                    source=self.name,
                    status=QuoteStatus.OK,
                    symbol=symbol,
                    fetched=now,
                )
        if progress:
            progress(len(symbols))
        return out
