"""Shared test data for the Excel-facing tests (a uniquely named module: "from conftest
import" would pick whichever conftest pytest imported first)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from xlrebalance.quotes import Quote, QuoteStatus

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
