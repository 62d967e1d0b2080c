"""Daily history against chart answers shaped the way Yahoo really shapes them, through
yfinance's own history code on a local server: null bars, repeated and unordered days, splits
(adjusted, and not yet adjusted), no adjclose block, errors per symbol, KRX symbols and time
stamps, and the cache across runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from history_shapes_fakes import Bar, Series, ShapedYahoo, business_days
from quotes_fakes import FAST_RETRY

from xlrebalance.backtest.prices import yahoo_history
from xlrebalance.model import Account, Holding, Kind, Market, Portfolio
from xlrebalance.quotes import QuoteCache
from xlrebalance.quotes.history import daily_history
from xlrebalance.quotes.yahoo import YahooSource

JAN = (date(2024, 1, 1), date(2024, 1, 31))


def source(server: ShapedYahoo, cache: QuoteCache) -> YahooSource:
    return YahooSource(
        base_url=server.url, timeout=2.0, retry=FAST_RETRY,
        yfinance_cache=cache.directory / "yfinance",
    )  # fmt: skip


@pytest.fixture
def server() -> Iterator[ShapedYahoo]:
    with ShapedYahoo({}) as s:
        yield s


def fetch(server: ShapedYahoo, cache: QuoteCache, *symbols: str, span: tuple[date, date] = JAN):
    return daily_history(list(symbols), *span, cache=cache, source=source(server, cache))


def test_null_bars_repeated_and_unordered_days(server: ShapedYahoo, cache: QuoteCache) -> None:
    bars = [
        Bar("2024-01-02", 10.0),
        Bar("2024-01-03", None),  # halted: Yahoo sends null for every field
        Bar("2024-01-04", 12.0),
        Bar("2024-01-05", 13.0, adjusted=False),  # a close without an adjusted close
        Bar("2024-01-08", 14.0),
    ]
    server.series["HALT"] = Series(bars=bars, order=[4, 2, 0, 1, 3], repeat=[2])
    got = fetch(server, cache, "HALT")["HALT"]
    assert got.problem is None
    assert [r[0] for r in got.rows] == ["2024-01-02", "2024-01-04", "2024-01-08"]
    assert [r[1] for r in got.rows] == [10.0, 12.0, 14.0]


def test_a_dividend_on_a_halted_day_is_paid_on_the_next_close(
    server: ShapedYahoo, cache: QuoteCache
) -> None:
    bars = [Bar("2024-01-02", 10.0, 9.5), Bar("2024-01-03", None), Bar("2024-01-04", 11.0)]
    server.series["HDIV"] = Series(bars=bars, dividends={"2024-01-03": 0.5})
    rows = fetch(server, cache, "HDIV")["HDIV"].rows
    assert rows == (("2024-01-02", 10.0, 9.5, 0.0), ("2024-01-04", 11.0, 11.0, 0.5))


def test_an_adjusted_split_is_invisible(server: ShapedYahoo, cache: QuoteCache) -> None:
    # Yahoo's closes are split-adjusted: 4:1 on 01-04, traded at 400 before, sent as 100.
    bars = [Bar("2024-01-02", 100.0, 99.0), Bar("2024-01-03", 101.0, 100.0),
            Bar("2024-01-04", 102.0, 102.0), Bar("2024-01-05", 103.0, 103.0)]  # fmt: skip
    server.series["SPLT"] = Series(
        bars=bars, splits={"2024-01-04": (4, 1)}, dividends={"2024-01-04": 0.25}
    )
    rows = fetch(server, cache, "SPLT")["SPLT"].rows
    assert [r[1] for r in rows] == [100.0, 101.0, 102.0, 103.0]
    assert [r[2] for r in rows] == [99.0, 100.0, 102.0, 103.0]
    assert [r[3] for r in rows] == [0.0, 0.0, 0.25, 0.0]


def test_a_split_yahoo_has_not_adjusted_yet_is_not_a_crash(
    server: ShapedYahoo, cache: QuoteCache
) -> None:
    # Days after a new split, Yahoo still sends the old prices before it (and old dividends).
    bars = [Bar("2024-01-02", 400.0, 396.0), Bar("2024-01-03", 404.0, 400.0),
            Bar("2024-01-04", 102.0, 102.0), Bar("2024-01-05", 103.0, 103.0)]  # fmt: skip
    server.series["SPLU"] = Series(
        bars=bars, splits={"2024-01-04": (4, 1)}, dividends={"2024-01-03": 1.0}
    )
    rows = fetch(server, cache, "SPLU")["SPLU"].rows
    assert [r[1] for r in rows] == [100.0, 101.0, 102.0, 103.0]
    assert [r[2] for r in rows] == [99.0, 100.0, 102.0, 103.0]
    assert [r[3] for r in rows] == [0.0, 0.25, 0.0, 0.0]


def test_a_real_fall_on_a_split_day_stays(server: ShapedYahoo, cache: QuoteCache) -> None:
    # Adjusted closes that fall 10% on the split day: a fall, not a missing adjustment.
    bars = [Bar("2024-01-02", 100.0), Bar("2024-01-03", 90.0)]
    server.series["FALL"] = Series(bars=bars, splits={"2024-01-03": (2, 1)})
    assert [r[1] for r in fetch(server, cache, "FALL")["FALL"].rows] == [100.0, 90.0]


def test_without_an_adjclose_block_dividends_are_still_reinvested(
    server: ShapedYahoo, cache: QuoteCache
) -> None:
    bars = [Bar("2024-01-02", 10.0), Bar("2024-01-03", 10.0), Bar("2024-01-04", 9.5)]
    server.series["NOADJ"] = Series(bars=bars, adjclose_block=False, dividends={"2024-01-04": 0.5})
    rows = fetch(server, cache, "NOADJ")["NOADJ"].rows
    assert [r[1] for r in rows] == [10.0, 10.0, 9.5]  # traded closes as sent
    # Adjusted the way Yahoo adjusts: days before the ex-date times (1 - 0.5 / 10).
    assert [r[2] for r in rows] == pytest.approx([9.5, 9.5, 9.5])
    assert [r[3] for r in rows] == [0.0, 0.0, 0.5]


def test_each_failing_symbol_is_named_and_the_others_arrive(
    server: ShapedYahoo, cache: QuoteCache
) -> None:
    server.series["GOOD"] = Series(bars=[Bar("2024-01-02", 10.0)])
    server.series["DOWN"] = Series(status=500)
    server.series["BUSY"] = Series(status=429)
    server.series["GONE404"] = Series(status=404)
    got = fetch(server, cache, "GOOD", "DOWN", "BUSY", "GONE404", "NOPE")
    assert got["GOOD"].rows == (("2024-01-02", 10.0, 10.0, 0.0),)
    assert got["DOWN"].problem is not None and "HTTP 500" in got["DOWN"].problem
    assert got["BUSY"].problem == "BUSY: rate limited by Yahoo (HTTP 429)"
    assert got["GONE404"].problem is not None and "HTTP 404" in got["GONE404"].problem
    # "result": null with error {code: "Not Found"}: said as Yahoo says it.
    assert got["NOPE"].problem == ("NOPE: unknown to Yahoo (No data found, symbol may be delisted)")
    assert not any(g.rows for s, g in got.items() if s != "GOOD")


def test_a_passing_server_error_is_retried(server: ShapedYahoo, cache: QuoteCache) -> None:
    server.series["FLAKY"] = Series(bars=[Bar("2024-01-02", 10.0), Bar("2024-01-03", 11.0)])
    fetch(server, cache, "FLAKY", span=(date(2024, 1, 2), date(2024, 1, 2)))  # learns its zone
    before = len(server.history_calls("FLAKY"))
    # The next history request answers 500 (both of yfinance's tries), then Yahoo is back.
    server.fail("/v8/finance/chart/FLAKY", "500", times=2)
    got = fetch(server, cache, "FLAKY")["FLAKY"]
    assert got.problem is None
    assert [r[1] for r in got.rows] == [10.0, 11.0]
    assert len(server.history_calls("FLAKY")) - before == 1  # the faults were not logged as such


def test_krx_bars_get_the_seoul_date(server: ShapedYahoo, cache: QuoteCache) -> None:
    # Stamped at midnight in Seoul: 15:00 UTC the day before.
    server.series["005930.KS"] = Series(
        zone="Asia/Seoul", currency="KRW", at=time(0, 0),
        bars=[Bar("2024-01-02", 70000.0), Bar("2024-01-03", 71000.0)],
    )  # fmt: skip
    # London midnight in summer is 23:00 UTC the day before.
    server.series["KRW=X"] = Series(
        zone="Europe/London", currency="KRW", at=time(0, 0),
        bars=[Bar("2024-07-01", 1380.0), Bar("2024-07-02", 1385.0)],
    )  # fmt: skip
    got = fetch(server, cache, "005930.KS", "KRW=X", span=(date(2024, 1, 1), date(2024, 7, 31)))
    assert [r[0] for r in got["005930.KS"].rows] == ["2024-01-02", "2024-01-03"]
    assert [r[0] for r in got["KRW=X"].rows] == ["2024-07-01", "2024-07-02"]


def kr_book(*codes: str) -> Portfolio:
    return Portfolio(
        base_currency="KRW",
        accounts=(Account("a", {"KRW": 1_000_000.0}),),
        holdings=tuple(Holding("a", c, Market.KR, 0.0, "KRW", Kind.STOCK) for c in codes),
        targets={c: 1.0 / len(codes) for c in codes},
    )


def test_a_kosdaq_code_falls_back_from_ks_to_kq(server: ShapedYahoo, cache: QuoteCache) -> None:
    days = business_days("2024-01-02", "2024-01-10")
    server.series["005930.KS"] = Series(
        zone="Asia/Seoul", currency="KRW", bars=[Bar(d, 70000.0) for d in days]
    )
    server.series["247540.KQ"] = Series(
        zone="Asia/Seoul", currency="KRW", bars=[Bar(d, 300000.0) for d in days]
    )
    got = yahoo_history(kr_book("005930", "247540"), *JAN, offline=False, cache=cache,
                        source=source(server, cache))  # fmt: skip
    assert got.tickers == ("005930", "247540")
    assert got.closes[0].tolist() == [70000.0, 300000.0]
    assert cache.symbols(["247540"]) == {"247540": "247540.KQ"}
    # Offline the remembered .KQ symbol is read from the cache; no request.
    asked = len(server.chart_calls)
    again = yahoo_history(kr_book("005930", "247540"), *JAN, offline=True, cache=cache)
    assert again.closes.tolist() == got.closes.tolist()
    assert len(server.chart_calls) == asked


def test_a_wider_range_refetches_the_whole_series_on_one_basis(
    server: ShapedYahoo, cache: QuoteCache
) -> None:
    days = business_days("2024-01-02", "2024-02-29")
    server.series["DIVY"] = Series(bars=[Bar(d, 100.0) for d in days])
    first = fetch(server, cache, "DIVY", span=(date(2024, 1, 1), date(2024, 1, 31)))["DIVY"]
    assert {r[2] for r in first.rows} == {100.0}
    # A dividend went ex on 02-15: Yahoo now sends every earlier adjusted close 1% lower.
    server.series["DIVY"] = Series(
        bars=[Bar(d, 100.0, 99.0 if d < "2024-02-15" else 100.0) for d in days],
        dividends={"2024-02-15": 1.0},
    )
    wide = fetch(server, cache, "DIVY", span=(date(2024, 1, 1), date(2024, 2, 29)))["DIVY"]
    adjusted = [r[2] for r in wide.rows]
    assert adjusted == [99.0 if r[0] < "2024-02-15" else 100.0 for r in wide.rows]
    # The cache holds the new basis only: January re-read from it matches the new fetch.
    stored = cache.history("DIVY", "2024-01-01", "2024-02-29")
    assert [r[2] for r in stored] == adjusted
    assert cache.history_span("DIVY") == ("2024-01-01", "2024-02-29")


def test_a_failed_refetch_falls_back_on_the_cache(server: ShapedYahoo, cache: QuoteCache) -> None:
    days = business_days("2024-01-02", "2024-01-31")
    server.series["KEEP"] = Series(bars=[Bar(d, 50.0) for d in days])
    fetch(server, cache, "KEEP")
    server.series["KEEP"] = Series(status=500)
    got = fetch(server, cache, "KEEP", span=(date(2024, 1, 1), date(2024, 2, 29)))["KEEP"]
    assert len(got.rows) == len(days)
    assert got.problem is not None
    assert "HTTP 500" in got.problem and "the cache's 2024-01-01 .. 2024-01-31 used" in got.problem


def test_todays_bar_is_kept_but_not_counted_as_fetched(
    server: ShapedYahoo, cache: QuoteCache
) -> None:
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in (3, 2, 1, 0)]
    server.series["LIVE"] = Series(
        zone="Europe/London", at=time(12, 0), bars=[Bar(d.isoformat(), 10.0) for d in days]
    )
    span = (today - timedelta(days=5), today)
    got = fetch(server, cache, "LIVE", span=span)["LIVE"]
    assert got.rows[-1][0] == today.isoformat()
    assert cache.history_span("LIVE") == (
        span[0].isoformat(), (today - timedelta(days=1)).isoformat()
    )  # fmt: skip
    # The next run asks again, and the live price it had is replaced by the close.
    server.series["LIVE"].bars[-1] = Bar(today.isoformat(), 11.0)
    again = fetch(server, cache, "LIVE", span=span)["LIVE"]
    assert again.rows[-1][1] == 11.0
    assert cache.history("LIVE", today.isoformat(), today.isoformat())[0][1] == 11.0
