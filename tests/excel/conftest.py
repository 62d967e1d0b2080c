"""Fixtures for the Excel-facing code: fake quote sources, a live-quotes service on a
temporary cache, the UDF module imported the way xlwings imports it (``udfs/`` on the path)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from xlrebalance import worksheet
from xlrebalance.quotes import Quote, QuoteCache, QuoteStatus, Sources
from xlrebalance.quotes.fake import FakeSource

ROOT = Path(__file__).resolve().parents[2]


def quote(price: float, currency: str, name: str | None = None) -> Quote:
    now = datetime.now(UTC)
    return Quote("", price, currency, now, "fake", QuoteStatus.OK, name=name, fetched=now)


PRICES = {
    "AAPL": quote(239.69, "USD", "Apple Inc."),
    "QQQ": quote(512.3, "USD", "Invesco QQQ Trust"),
    "TQQQ": quote(88.1, "USD", "ProShares UltraPro QQQ"),
    "005930.KS": quote(71200.0, "KRW", "Samsung Electronics"),
    "069500.KS": quote(41250.0, "KRW", "KODEX 200"),
    "247540.KQ": quote(112300.0, "KRW", "EcoPro BM"),
    "KRW=X": quote(1450.0, "KRW", "USD/KRW"),
}


@pytest.fixture
def yahoo() -> FakeSource:
    return FakeSource(dict(PRICES), name="yahoo")


@pytest.fixture
def live(tmp_path: Path, yahoo: FakeSource) -> Iterator[worksheet.LiveQuotes]:
    """The worksheet functions' service on a fresh cache; fetches run when the test says."""
    with QuoteCache(tmp_path / "live-cache") as cache:
        service = worksheet.LiveQuotes(cache=cache, sources=Sources(yahoo=yahoo), background=False)
        previous = worksheet.use_live(service)
        try:
            yield service
        finally:
            worksheet.use_live(previous)


@pytest.fixture
def udfs() -> ModuleType:
    sys.path.insert(0, str(ROOT / "udfs"))
    try:
        import xlrebalance_udfs

        return xlrebalance_udfs
    finally:
        sys.path.remove(str(ROOT / "udfs"))
