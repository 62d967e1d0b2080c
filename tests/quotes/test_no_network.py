"""No network: the first connection that cannot be made stops the refresh, before yfinance
or pykrx is loaded, and the report says why in one line.

A closed port (refused at once) and a port that drops connection attempts (a full accept
queue: the kernel ignores further handshakes, as a firewall does) both stand for "no network".
A server that accepts and answers slowly is a network that works: see test_yahoo's timeouts.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from quotes_fakes import FAST_RETRY, WEEKEND
from quotes_fakes import blackhole as dropping_port

from xlrebalance.errors import NetworkUnreachable
from xlrebalance.model import Account, Holding, Market, Portfolio
from xlrebalance.quotes import QuoteCache, QuoteStatus, Sources, fill_prices
from xlrebalance.quotes.krx import NO_CREDENTIALS, Credentials, KrxSource
from xlrebalance.quotes.net import probe
from xlrebalance.quotes.yahoo import YahooSource

CLOSED = "http://127.0.0.1:9"


@pytest.fixture
def blackhole() -> Iterator[str]:
    with dropping_port() as url:
        yield url


def _portfolio() -> Portfolio:
    return Portfolio(
        base_currency="KRW",
        accounts=(Account("a", {"KRW": 1000.0}),),
        holdings=(
            Holding("a", "QQQ", Market.US, 1, "USD", price=500.0),
            Holding("a", "069500", Market.KR, 1, "KRW", price=40000.0),
        ),
        targets={"QQQ": 0.5, "069500": 0.5},
        fx={"USDKRW": 1400.0},
    )


@pytest.mark.parametrize("where", ["closed", "blackhole"])
def test_yahoo_without_a_network_raises_before_any_request(
    where: str, blackhole: str, cache: QuoteCache
) -> None:
    url = CLOSED if where == "closed" else blackhole
    source = YahooSource(base_url=url, timeout=1.0, connect_timeout=0.3, retry=FAST_RETRY)
    with pytest.raises(NetworkUnreachable) as raised:
        source.fetch(["AAPL", "QQQ", "KRW=X"])
    assert source.requests.value == 0  # the probe found out: no HTTP request was started
    assert "127.0.0.1" in str(raised.value)


def test_krx_without_a_network_raises_before_logging_in(blackhole: str) -> None:
    source = KrxSource(
        Credentials("investor", "pw"), base_url=blackhole, connect_timeout=0.3, retry=FAST_RETRY
    )
    with pytest.raises(NetworkUnreachable):
        source.fetch(["005930"])
    assert source.requests.value == 0


def test_probe_passes_a_listening_server_and_names_what_failed(blackhole: str) -> None:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(8)
    try:
        assert probe(f"http://127.0.0.1:{listening.getsockname()[1]}/x", 1.0) is None
    finally:
        listening.close()
    assert probe(CLOSED, 1.0) == "cannot connect to 127.0.0.1:9 (Connection refused)"
    assert probe(blackhole, 0.2) == f"no answer from {blackhole[7:]} within 0.2 s"
    assert probe("https://nowhere.invalid/", 1.0).startswith("cannot resolve nowhere.invalid")


def test_fill_prices_keeps_the_files_prices_and_says_no_network_once(
    cache: QuoteCache, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("xlrebalance.quotes.krx._noticed", False)  # as in a new process
    yahoo = YahooSource(base_url=CLOSED, timeout=1.0, retry=FAST_RETRY)
    sources = Sources(yahoo=yahoo, krx=None, krx_notice=NO_CREDENTIALS)
    filled, report = fill_prices(_portfolio(), cache=cache, sources=sources, now=WEEKEND)
    assert report.unreachable == "cannot connect to 127.0.0.1:9 (Connection refused)"
    assert [h.price for h in filled.holdings] == [500.0, 40000.0]
    assert {q.status for q in report.quotes} == {QuoteStatus.STALE}
    # The KRX notice would be a second line about something that did not matter.
    assert capsys.readouterr().err == ""
    assert yahoo.requests.value == 0


def test_a_working_network_is_not_reported_unreachable(cache: QuoteCache, sources: Sources) -> None:
    _, report = fill_prices(_portfolio(), cache=cache, sources=sources, now=WEEKEND)
    assert report.unreachable is None
    assert report.get("QQQ", "US") is not None
    assert report.get("QQQ", "US").status is QuoteStatus.OK  # type: ignore[union-attr]
