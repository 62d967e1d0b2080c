"""The real pykrx login and table code against a local KRX stand-in."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from quotes_fakes import FAST_RETRY, WEEKEND, FakeKrx

from xlrebalance.quotes import QuoteCache, QuoteStatus, Sources, quote
from xlrebalance.quotes.krx import (
    NO_CREDENTIALS,
    Credentials,
    KrxSource,
    find_credentials,
)


def test_official_closes_korean_names_and_market_ids(
    krx: KrxSource, krx_server: FakeKrx, capsys: pytest.CaptureFixture[str]
) -> None:
    got = krx.fetch(["005930", "247540", "069500", "999999"])
    samsung = got["005930"]
    assert samsung.price == 71200 and samsung.currency == "KRW"
    assert samsung.name_ko == "삼성전자" and samsung.symbol == "005930.KS"
    assert samsung.change == -500
    assert samsung.time == datetime(2026, 3, 6, 6, 30, tzinfo=UTC)  # Friday 15:30 KST
    assert got["247540"].symbol == "247540.KQ"  # KOSDAQ
    assert got["069500"].name_ko == "KODEX 200" and got["069500"].price == 41250
    assert got["999999"].status is QuoteStatus.MISSING
    assert krx_server.dates == ["20260306", "20260306"]  # stocks table, then ETFs table
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""  # pykrx prints; none of it reaches the user


def test_no_etf_table_request_when_every_code_is_a_stock(
    krx: KrxSource, krx_server: FakeKrx
) -> None:
    krx.fetch(["005930", "000660"])
    assert len(krx_server.paths("/comm/")) == 1


def test_login_is_reused_across_fetches(krx: KrxSource, krx_server: FakeKrx) -> None:
    krx.fetch(["005930"])
    krx.fetch(["000660"])
    assert len(krx_server.paths("/contents/MDC/COMS/client/MDCCOMS001D1.cmd")) == 1


def test_an_unlisted_holiday_steps_back_one_session(krx: KrxSource, krx_server: FakeKrx) -> None:
    krx_server.empty_dates.add("20260306")
    got = krx.fetch(["005930"])
    assert got["005930"].price == 71200
    assert got["005930"].time == datetime(2026, 3, 5, 6, 30, tzinfo=UTC)
    assert krx_server.dates == ["20260306", "20260305"]


def test_wrong_password_fails_the_tickers_not_the_program(
    krx_server: FakeKrx, capsys: pytest.CaptureFixture[str]
) -> None:
    source = KrxSource(
        Credentials(krx_server.user, "wrong"),
        base_url=krx_server.url,
        timeout=1.0,
        retry=FAST_RETRY,
        clock=lambda: WEEKEND,
    )
    got = source.fetch(["005930"])
    assert got["005930"].status is QuoteStatus.ERROR
    assert "login" in got["005930"].detail
    out = capsys.readouterr()
    assert "wrong" not in out.out + out.err and out.out == ""


def test_garbage_and_5xx_become_per_ticker_errors(krx: KrxSource, krx_server: FakeKrx) -> None:
    krx.fetch(["005930"])
    krx_server.fail("/comm/", "garbage")
    before = len(krx_server.paths("/comm/"))
    assert krx.fetch(["005930"])["005930"].status is QuoteStatus.ERROR
    assert len(krx_server.paths("/comm/")) == before + 1  # malformed answers are not retried
    krx_server.fail("/comm/", "500", times=1)
    assert krx.fetch(["005930"])["005930"].price == 71200  # retried


def test_credentials_from_env_or_keyring_never_shown() -> None:
    creds = find_credentials({"KRX_ID": "me", "KRX_PW": "pw123"}, keyring_get=lambda s, k: None)
    assert creds == Credentials("me", "pw123")
    assert "pw123" not in repr(creds)
    store = {("xlrebalance", "KRX_ID"): "me2", ("xlrebalance", "KRX_PW"): "pw456"}
    assert find_credentials({}, keyring_get=lambda s, k: store.get((s, k))) == Credentials(
        "me2", "pw456"
    )
    assert find_credentials({}, keyring_get=lambda s, k: None) is None

    def broken(service: str, key: str) -> str | None:
        raise RuntimeError("no keyring backend")

    assert find_credentials({}, keyring_get=broken) is None


def test_without_credentials_krx_is_skipped_with_one_notice(
    monkeypatch: pytest.MonkeyPatch,
    cache: QuoteCache,
    yahoo_server: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("xlrebalance.quotes.krx._noticed", False)
    sources = Sources.default(cache)
    assert sources.krx is None and sources.krx_notice == NO_CREDENTIALS
    sources.yahoo = None  # no network at all: the notice must not depend on it
    quote(["005930"], cache=cache, sources=sources, now=WEEKEND)
    quote(["000660"], cache=cache, sources=sources, now=WEEKEND)
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.count("KRX official closes skipped") == 1


def test_importing_pykrx_is_quiet_and_offline() -> None:
    # pykrx logs in and prints at import time when KRX_ID/KRX_PW are set: our import hides
    # them. A bogus proxy makes any network attempt fail loudly instead of going out.
    code = (
        "from xlrebalance.quotes.krx import _pykrx; _pykrx();"
        "import os; assert os.environ['KRX_ID'] == 'someone'"
    )
    env = {
        "KRX_ID": "someone",
        "KRX_PW": "pw",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "someone" not in done.stderr
