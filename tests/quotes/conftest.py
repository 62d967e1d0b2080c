from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from quotes_fakes import FAST_RETRY, WEEKEND, FakeKrx, FakeYahoo

from xlrebalance.quotes import QuoteCache, Sources
from xlrebalance.quotes.krx import Credentials, KrxSource
from xlrebalance.quotes.yahoo import YahooSource

# Shared constants live in quotes_fakes (a uniquely named module): "from conftest import"
# would pick whichever conftest pytest imported first when several folders are collected.


@pytest.fixture(scope="session", autouse=True)
def _yfinance_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """yfinance binds its cookie store to the first directory it opens: one for the session."""
    import yfinance

    import xlrebalance.quotes.yahoo as yahoo_module

    yfinance.set_tz_cache_location(str(tmp_path_factory.mktemp("yfinance")))
    yahoo_module._yfinance_cache_set = True


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reaches the internet, a real keyring or the user's cache."""
    for name in ("KRX_ID", "KRX_PW", "XLREBALANCE_YAHOO_URL", "XLREBALANCE_KRX_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XLREBALANCE_CACHE_DIR", str(tmp_path / "env-cache"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost,yahoo.localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost,yahoo.localhost")
    monkeypatch.setattr("xlrebalance.quotes.krx._keyring_getter", lambda: None)


@pytest.fixture
def yahoo_server() -> Iterator[FakeYahoo]:
    with FakeYahoo() as server:
        yield server


@pytest.fixture
def krx_server() -> Iterator[FakeKrx]:
    with FakeKrx() as server:
        yield server


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[QuoteCache]:
    with QuoteCache(tmp_path / "cache") as c:
        yield c


@pytest.fixture
def yahoo(yahoo_server: FakeYahoo, cache: QuoteCache) -> YahooSource:
    return YahooSource(
        base_url=yahoo_server.url,
        timeout=1.0,
        retry=FAST_RETRY,
        yfinance_cache=cache.directory / "yfinance",
    )


@pytest.fixture
def krx(krx_server: FakeKrx) -> KrxSource:
    return KrxSource(
        Credentials(krx_server.user, krx_server.password),
        base_url=krx_server.url,
        timeout=1.0,
        retry=FAST_RETRY,
        clock=lambda: WEEKEND,
    )


@pytest.fixture
def sources(yahoo: YahooSource) -> Sources:
    return Sources(yahoo=yahoo, krx=None, krx_notice=None)
