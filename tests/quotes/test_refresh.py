"""fill_prices and quote: cache, freshness, fallbacks and KRX/Yahoo merging end to end."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from quotes_fakes import WEEKEND, FakeKrx, FakeYahoo

from xlrebalance.document import portfolio_from_dict
from xlrebalance.errors import PortfolioError
from xlrebalance.model import Portfolio, validate
from xlrebalance.quotes import (
    QuoteCache,
    QuoteStatus,
    Sources,
    cached_quote,
    fill_prices,
    quote,
)
from xlrebalance.quotes.fake import FakeSource
from xlrebalance.quotes.krx import KrxSource
from xlrebalance.quotes.yahoo import YahooSource

MONDAY_US_OPEN = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # 11:00 New York, 00:00 Seoul (Tue)
MONDAY_KR_OPEN = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)  # 11:00 Seoul, Sunday night New York


def portfolio(**prices: float) -> Portfolio:
    rows = [
        ("general", "AAPL", "US", "USD", "STOCK"),
        ("general", "QQQ", "US", "USD", "ETF"),
        ("isa", "005930", "KR", "KRW", "STOCK"),
        ("isa", "069500", "KR", "KRW", "ETF"),
        ("isa", "247540", "KR", "KRW", "STOCK"),
    ]
    holdings: list[dict[str, Any]] = []
    for account, ticker, market, currency, kind in rows:
        row: dict[str, Any] = {
            "account": account,
            "ticker": ticker,
            "market": market,
            "currency": currency,
            "kind": kind,
            "quantity": 10,
        }
        if ticker in prices or f"_{ticker}" in prices:
            row["price"] = prices.get(ticker, prices.get(f"_{ticker}"))
        holdings.append(row)
    doc = {
        "base_currency": "KRW",
        "accounts": [{"id": "general", "cash": {"USD": 100.0}}, {"id": "isa", "cash": {"KRW": 1}}],
        "holdings": holdings,
        "targets": {"AAPL": 0.2, "QQQ": 0.2, "005930": 0.2, "069500": 0.2, "247540": 0.2},
    }
    return portfolio_from_dict(doc, offline=False)


def test_fill_prices_fetches_prices_fx_and_names(
    cache: QuoteCache, sources: Sources, yahoo_server: FakeYahoo
) -> None:
    filled, report = fill_prices(portfolio(), cache=cache, sources=sources, now=WEEKEND)
    validate(filled, offline=True)  # the planner has everything it needs
    prices = {h.ticker: h.price for h in filled.holdings}
    assert prices == {
        "AAPL": 239.69,
        "QQQ": 512.3,
        "005930": 71200.0,
        "069500": 41250.0,
        "247540": 112300.0,
    }
    assert filled.fx == {"USDKRW": 1452.37}
    names = {h.ticker: h.name for h in filled.holdings}
    assert names["AAPL"] == "Apple Inc." and names["247540"] == "EcoPro BM. Co., Ltd."
    assert [q.ticker for q in report.quotes] == [
        "AAPL",
        "QQQ",
        "005930",
        "069500",
        "247540",
        "USDKRW",
    ]
    assert all(q.status is QuoteStatus.OK for q in report.quotes)
    assert report.stale == () and report.missing == () and report.note() is None
    # One batch for every symbol; unknown KRX suffixes are both asked in it.
    assert len(yahoo_server.batches) == 1
    assert set(yahoo_server.batches[0]) == {
        "AAPL",
        "QQQ",
        "KRW=X",
        "005930.KS",
        "005930.KQ",
        "069500.KS",
        "069500.KQ",
        "247540.KS",
        "247540.KQ",
    }


def test_no_request_inside_the_freshness_window(
    cache: QuoteCache, sources: Sources, yahoo_server: FakeYahoo
) -> None:
    fill_prices(portfolio(), cache=cache, sources=sources, now=WEEKEND)
    before = len(yahoo_server.log)
    # Still the weekend a day later: Friday's closes stay fresh.
    _, report = fill_prices(
        portfolio(), cache=cache, sources=sources, now=WEEKEND + timedelta(days=1)
    )
    assert len(yahoo_server.log) == before
    assert report.fetched == 0
    assert all(q.status is QuoteStatus.OK for q in report.quotes)


def test_open_markets_refetch_only_their_tickers(
    cache: QuoteCache, sources: Sources, yahoo_server: FakeYahoo
) -> None:
    saturday = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    fill_prices(portfolio(), cache=cache, sources=sources, now=saturday)
    # Monday 2 March 2026: New York is open, KRX is closed (substitute holiday).
    fill_prices(portfolio(), cache=cache, sources=sources, now=datetime(2026, 3, 2, 15, tzinfo=UTC))
    assert sorted(yahoo_server.batches[-1]) == ["AAPL", "KRW=X", "QQQ"]
    # Tuesday 11:00 Seoul: KRX is open; the US prices were intraday, so they go too.
    # The suffixes were remembered from the first refresh.
    fill_prices(portfolio(), cache=cache, sources=sources, now=datetime(2026, 3, 3, 2, tzinfo=UTC))
    assert sorted(yahoo_server.batches[-1]) == [
        "005930.KS",
        "069500.KS",
        "247540.KQ",
        "AAPL",
        "KRW=X",
        "QQQ",
    ]
    assert cache.symbols(["005930", "247540"]) == {"005930": "005930.KS", "247540": "247540.KQ"}


def test_a_remembered_suffix_that_disappears_is_guessed_again(
    cache: QuoteCache, sources: Sources, yahoo_server: FakeYahoo
) -> None:
    cache.remember_symbols({"247540": "247540.KS"}, WEEKEND)  # say it moved markets
    first = quote(["247540"], cache=cache, sources=sources, now=WEEKEND)[0]
    assert first.status is QuoteStatus.MISSING
    assert cache.symbols(["247540"]) == {}
    again = quote(["247540"], cache=cache, sources=sources, now=WEEKEND)[0]
    assert again.price == 112300.0 and again.symbol == "247540.KQ"


def test_failed_fetch_keeps_the_typed_prices_marked_stale(
    cache: QuoteCache, sources: Sources, yahoo_server: FakeYahoo
) -> None:
    yahoo_server.fail("/v7", "429", times=100)
    typed = portfolio(AAPL=230.0, QQQ=500.0, _005930=70000, _069500=40000, _247540=110000)
    typed = dataclasses.replace(typed, fx={"USDKRW": 1400.0})
    filled, report = fill_prices(typed, cache=cache, sources=sources, now=WEEKEND)
    assert {h.ticker: h.price for h in filled.holdings}["AAPL"] == 230.0
    assert filled.fx["USDKRW"] == 1400.0
    assert set(report.stale) == {"AAPL", "QQQ", "005930", "069500", "247540", "USDKRW"}
    aapl = report.get("AAPL")
    assert aapl is not None and aapl.source == "file" and "429" in aapl.detail
    note = report.note()
    assert note is not None and "6 stale" in note and "AAPL" in note


def test_failed_fetch_falls_back_to_the_last_good_price(
    cache: QuoteCache, sources: Sources, yahoo_server: FakeYahoo
) -> None:
    quote(["AAPL"], cache=cache, sources=sources, now=WEEKEND)
    yahoo_server.fail("/v7", "429", times=100)
    got = quote(["AAPL"], cache=cache, sources=sources, now=MONDAY_US_OPEN)[0]
    assert got.status is QuoteStatus.STALE
    assert got.price == 239.69 and got.source == "yahoo"
    assert got.fetched == WEEKEND  # the stale price keeps its time
    assert "429" in got.detail


def test_a_ticker_with_no_price_anywhere_is_named(
    cache: QuoteCache, sources: Sources, yahoo_server: FakeYahoo
) -> None:
    doc = portfolio()
    bogus = dataclasses.replace(doc.holdings[0], ticker="NOSUCH")
    broken = dataclasses.replace(
        doc,
        holdings=(bogus, *doc.holdings[1:]),
        targets={"NOSUCH": 0.2, **{k: v for k, v in doc.targets.items() if k != "AAPL"}},
    )
    with pytest.raises(PortfolioError) as caught:
        fill_prices(broken, cache=cache, sources=sources, now=WEEKEND)
    assert caught.value.location == "holdings[0].price"
    assert "NOSUCH" in str(caught.value) and "unknown to Yahoo" in str(caught.value)
    partial, report = fill_prices(broken, cache=cache, sources=sources, now=WEEKEND, strict=False)
    assert report.missing == ("NOSUCH",)
    assert partial.holdings[0].price is None and partial.holdings[1].price == 512.3
    assert report.note() == "quotes: 1 without a price (NOSUCH)"


class Unreachable:
    name = "unreachable"

    def fetch(self, symbols: Any, *, progress: Any = None) -> Any:
        raise AssertionError("offline runs never fetch")


def test_offline_uses_the_file_then_the_cache(cache: QuoteCache, sources: Sources) -> None:
    quote(["005930", "069500", "247540", "USDKRW"], cache=cache, sources=sources, now=WEEKEND)
    offline = Sources(yahoo=Unreachable())
    doc = portfolio(AAPL=230.0, QQQ=500.0)
    later = MONDAY_KR_OPEN + timedelta(hours=1)
    filled, report = fill_prices(doc, offline=True, cache=cache, sources=offline, now=later)
    assert {h.ticker: h.price for h in filled.holdings} == {
        "AAPL": 230.0,
        "QQQ": 500.0,
        "005930": 71200.0,
        "069500": 41250.0,
        "247540": 112300.0,
    }
    statuses = {q.ticker: q.status for q in report.quotes}
    assert statuses["AAPL"] is QuoteStatus.OK  # typed, and the user asked for offline
    assert statuses["005930"] is QuoteStatus.STALE  # KRX is open: Friday's close is old
    with pytest.raises(PortfolioError, match="AAPL"):
        fill_prices(portfolio(), offline=True, cache=cache, sources=offline, now=later)


def test_krx_official_close_with_korean_names(
    cache: QuoteCache, yahoo: YahooSource, krx: KrxSource, krx_server: FakeKrx
) -> None:
    both = Sources(yahoo=yahoo, krx=krx)
    filled, report = fill_prices(portfolio(), cache=cache, sources=both, now=WEEKEND)
    samsung = report.get("005930")
    assert samsung is not None and samsung.source == "krx" and not samsung.delayed
    assert samsung.name_ko == "삼성전자" and samsung.name == "Samsung Electronics Co., Ltd."
    assert {h.ticker: h.name for h in filled.holdings}["005930"] == "삼성전자"
    assert {h.ticker: h.name for h in filled.holdings}["AAPL"] == "Apple Inc."
    # KRX's market ids settle the suffixes even though Yahoo was asked both.
    assert cache.symbols(["247540"]) == {"247540": "247540.KQ"}


def test_newer_yahoo_intraday_beats_yesterdays_official_close(
    cache: QuoteCache, yahoo: YahooSource, krx: KrxSource, yahoo_server: FakeYahoo
) -> None:
    item = yahoo_server.items["005930.KS"]
    yahoo_server.items["005930.KS"] = {
        **item,
        "regularMarketPrice": 72000.0,
        "regularMarketTime": int(MONDAY_KR_OPEN.timestamp()),
    }
    got = quote(["005930"], cache=cache, sources=Sources(yahoo=yahoo, krx=krx), now=MONDAY_KR_OPEN)
    assert got[0].price == 72000.0 and got[0].source == "yahoo" and got[0].delayed
    assert got[0].name_ko == "삼성전자"
    # The Korean name survives later Yahoo-only refreshes in the cache.
    cached = cache.get("KR", "005930")
    assert cached is not None and cached.name_ko == "삼성전자"


def test_a_price_in_another_currency_is_refused(cache: QuoteCache) -> None:
    doc = portfolio(_005930=70000, _069500=40000, _247540=110000, QQQ=500.0)
    wrong = dataclasses.replace(doc.holdings[0], currency="EUR")
    doc = dataclasses.replace(doc, holdings=(wrong, *doc.holdings[1:]))
    fake = FakeSource(prices={"AAPL": 239.0, "KRW=X": 1450.0, "EURKRW=X": 1600.0})
    with pytest.raises(PortfolioError, match="quoted in USD but the holding is in EUR"):
        fill_prices(doc, cache=cache, sources=Sources(yahoo=fake), now=WEEKEND)


def test_a_source_that_breaks_fails_its_tickers_only(cache: QuoteCache) -> None:
    class Broken:
        name = "broken"

        def fetch(self, symbols: Any, *, progress: Any = None) -> Any:
            raise RuntimeError("socket exploded")

    got = quote(["AAPL", "USDKRW"], cache=cache, sources=Sources(yahoo=Broken()), now=WEEKEND)
    assert [q.status for q in got] == [QuoteStatus.ERROR, QuoteStatus.ERROR]
    assert "socket exploded" in got[0].detail


def test_progress_counts_up_to_the_total(cache: QuoteCache, sources: Sources) -> None:
    seen: list[tuple[int, int]] = []
    quote(
        ["AAPL", "QQQ", "005930"],
        cache=cache,
        sources=sources,
        now=WEEKEND,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (4, 4)  # AAPL, QQQ, 005930.KS, 005930.KQ


def test_cached_quote_reads_without_network(cache: QuoteCache, sources: Sources) -> None:
    assert cached_quote("AAPL", cache=cache, now=WEEKEND) is None
    quote(["AAPL", "USDKRW", "5930"], cache=cache, sources=sources, now=WEEKEND)
    hit = cached_quote("AAPL", cache=cache, now=WEEKEND + timedelta(hours=1))
    assert hit is not None and hit.price == 239.69 and hit.status is QuoteStatus.OK
    old = cached_quote("aapl ", cache=cache, now=MONDAY_US_OPEN)
    assert old is not None and old.status is QuoteStatus.STALE
    fx = cached_quote("USDKRW", cache=cache, now=WEEKEND)
    assert fx is not None and fx.market == "FX" and fx.price == 1452.37
    samsung = cached_quote("5930", cache=cache, now=WEEKEND)  # leading zeros restored
    assert samsung is not None and samsung.ticker == "005930"
