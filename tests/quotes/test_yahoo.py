"""The real yfinance request layer against a local Yahoo stand-in, with injected faults."""

from __future__ import annotations

import time
from typing import Any

import pytest
from quotes_fakes import FakeYahoo

from xlrebalance.quotes import QuoteStatus
from xlrebalance.quotes.net import RetryPolicy, rewrite_url
from xlrebalance.quotes.yahoo import YahooSource, fx_symbol, yahoo_symbol


def test_one_batch_request_answers_many_symbols(
    yahoo: YahooSource, yahoo_server: FakeYahoo
) -> None:
    got = yahoo.fetch(["AAPL", "QQQ", "005930.KS", "KRW=X"])
    assert got["AAPL"].price == 239.69 and got["AAPL"].currency == "USD"
    assert got["AAPL"].name == "Apple Inc."
    assert got["AAPL"].change == pytest.approx(4.57)
    assert (
        got["AAPL"].time is not None and got["AAPL"].time.isoformat() == "2026-03-06T21:00:00+00:00"
    )
    assert got["005930.KS"].currency == "KRW" and got["005930.KS"].delayed
    assert not got["AAPL"].delayed
    assert got["KRW=X"].price == 1452.37
    # cookie (fc.yahoo.com -> /, unless yfinance kept it from an earlier session), crumb, then
    # one quote request for all four symbols
    paths = yahoo_server.paths()
    assert paths[-2:] == ["/v1/test/getcrumb", "/v7/finance/quote"]
    assert paths[:-2] in ([], ["/"])
    assert yahoo_server.crumbs_seen == [yahoo_server.crumb]


def test_cookie_and_crumb_are_reused(yahoo: YahooSource, yahoo_server: FakeYahoo) -> None:
    yahoo.fetch(["AAPL"])
    yahoo.fetch(["QQQ"])
    assert yahoo_server.paths("/v1/test/getcrumb") == ["/v1/test/getcrumb"]
    assert yahoo_server.paths("/v7") == ["/v7/finance/quote"] * 2


def test_large_lists_are_chunked(yahoo_server: FakeYahoo, yahoo: YahooSource) -> None:
    yahoo.chunk_size = 2
    got = yahoo.fetch(["AAPL", "QQQ", "TQQQ", "BRK-B", "KRW=X"])
    assert all(q.status is QuoteStatus.OK for q in got.values())
    assert len(yahoo_server.paths("/v7")) == 3


def test_unknown_ticker_is_missing_not_an_error(yahoo: YahooSource) -> None:
    got = yahoo.fetch(["AAPL", "NOSUCH"])
    assert got["NOSUCH"].status is QuoteStatus.MISSING
    assert got["NOSUCH"].price is None
    assert got["AAPL"].status is QuoteStatus.OK


def test_rate_limit_is_retried_with_backoff(yahoo: YahooSource, yahoo_server: FakeYahoo) -> None:
    # yfinance tries twice itself before raising its rate-limit error; we retry that.
    yahoo_server.fail("/v7", "429", times=2)
    got = yahoo.fetch(["AAPL"])
    assert got["AAPL"].price == 239.69
    assert len(yahoo_server.paths("/v7")) == 3
    assert not yahoo_server.paths("/v8")  # no per-symbol fallback behind a rate limit


def test_persistent_rate_limit_is_bounded_and_reported(yahoo_server: FakeYahoo) -> None:
    source = YahooSource(
        base_url=yahoo_server.url,
        timeout=1.0,
        retry=RetryPolicy(attempts=3, backoff=0.01, max_delay=0.02, budget=5.0),
    )
    yahoo_server.fail("/v7", "429", times=100)
    got = source.fetch(["AAPL", "QQQ"])
    assert got["AAPL"].status is QuoteStatus.ERROR
    assert "429" in got["AAPL"].detail
    assert len(yahoo_server.paths("/v7")) == 6  # 3 attempts x yfinance's own 2 tries
    assert not yahoo_server.paths("/v8")


def test_garbage_json_falls_back_to_the_chart_endpoint(
    yahoo: YahooSource, yahoo_server: FakeYahoo
) -> None:
    yahoo_server.fail("/v7", "garbage")
    got = yahoo.fetch(["AAPL", "NOSUCH"])
    assert got["AAPL"].price == 239.69
    assert got["AAPL"].change == pytest.approx(239.69 - 235.12)
    assert got["NOSUCH"].status is QuoteStatus.MISSING
    assert sorted(set(yahoo_server.paths("/v8"))) == [
        "/v8/finance/chart/AAPL",
        "/v8/finance/chart/NOSUCH",
    ]


def test_invalid_crumb_falls_back_to_the_chart_endpoint(
    yahoo: YahooSource, yahoo_server: FakeYahoo
) -> None:
    yahoo_server.fail("/v7", "401", times=2)  # yfinance retries once with a new crumb
    got = yahoo.fetch(["QQQ"])
    assert got["QQQ"].price == 512.3
    assert yahoo_server.paths("/v8") == ["/v8/finance/chart/QQQ"]


def test_dropped_connection_is_retried(yahoo: YahooSource, yahoo_server: FakeYahoo) -> None:
    yahoo.fetch(["AAPL"])  # cookie and crumb first, so the drop hits the quote request
    yahoo_server.fail("/v7", "drop")
    got = yahoo.fetch(["QQQ"])
    assert got["QQQ"].price == 512.3
    assert len(yahoo_server.paths("/v7")) == 3


def test_slow_answers_time_out_and_retries_stay_within_the_budget(
    yahoo_server: FakeYahoo,
) -> None:
    source = YahooSource(
        base_url=yahoo_server.url,
        timeout=0.2,
        retry=RetryPolicy(attempts=5, backoff=0.05, max_delay=0.1, budget=0.6),
    )
    source.fetch(["AAPL"])
    yahoo_server.fail("/v7", "slow", times=50, seconds=1.0)
    yahoo_server.fail("/v8", "slow", times=50, seconds=1.0)
    started = time.monotonic()
    got = source.fetch(["QQQ", "TQQQ"])
    elapsed = time.monotonic() - started
    assert {q.status for q in got.values()} == {QuoteStatus.ERROR}
    assert elapsed < 2.0  # budget 0.6 s plus at most one request timeout in flight


def test_server_error_then_success(yahoo: YahooSource, yahoo_server: FakeYahoo) -> None:
    yahoo.fetch(["AAPL"])
    yahoo_server.fail("/v7", "500", times=2)  # yfinance's own second try also sees a 500
    got = yahoo.fetch(["TQQQ"])
    assert got["TQQQ"].price == 88.1


def test_every_yahoo_host_maps_onto_the_base_url() -> None:
    base = "http://127.0.0.1:9/mirror"
    for url, path in [
        ("https://fc.yahoo.com", "/mirror/"),
        ("https://query1.finance.yahoo.com/v1/test/getcrumb", "/mirror/v1/test/getcrumb"),
        (
            "https://query2.finance.yahoo.com/v8/finance/chart/AAPL?range=1d",
            "/mirror/v8/finance/chart/AAPL?range=1d",
        ),
        ("https://guce.yahoo.com/consent", "/mirror/consent"),
    ]:
        assert rewrite_url(url, base) == "http://127.0.0.1:9" + path
    assert (
        rewrite_url("https://query1.finance.yahoo.com/x", None)
        == "https://query1.finance.yahoo.com/x"
    )


def test_env_var_redirects_the_source(
    monkeypatch: pytest.MonkeyPatch, yahoo_server: FakeYahoo
) -> None:
    monkeypatch.setenv("XLREBALANCE_YAHOO_URL", yahoo_server.url)
    source = YahooSource(timeout=1.0)
    assert source.fetch(["AAPL"])["AAPL"].price == 239.69
    assert yahoo_server.paths("/v7")


def test_symbol_spelling() -> None:
    assert yahoo_symbol("BRK.B", "US") == "BRK-B"
    assert yahoo_symbol("005930.KS", "KR") == "005930.KS"
    assert fx_symbol("USDKRW") == "KRW=X"
    assert fx_symbol("EURKRW") == "EURKRW=X"


def test_chart_without_a_market_price_uses_the_last_bar_with_a_close(
    yahoo: YahooSource, yahoo_server: FakeYahoo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Some chart answers carry bars but no meta.regularMarketPrice, and the newest bar's close
    # is often null while the session is forming: the last real close is the price.
    render = yahoo_server._chart

    def bars_only(item: dict[str, Any]) -> dict[str, Any]:
        chart = render(item)
        result = chart["chart"]["result"][0]
        del result["meta"]["regularMarketPrice"]
        result["timestamp"] = [1772721000, 1772807400]
        result["indicators"]["quote"][0]["close"] = [236.5, None]
        return chart

    monkeypatch.setattr(yahoo_server, "_chart", bars_only)
    yahoo_server.fail("/v7", "garbage")
    got = yahoo.fetch(["AAPL"])
    assert got["AAPL"].price == 236.5
    assert got["AAPL"].time is not None and got["AAPL"].time.timestamp() == 1772721000
