"""``xlrebalance quote`` and ``xlrebalance plan`` (without --offline) through main()."""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path

import pytest
from quotes_fakes import FAST_RETRY, FakeYahoo

from xlrebalance.cli import main
from xlrebalance.quotes.command import ProgressBar
from xlrebalance.quotes.yahoo import YahooSource


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch, yahoo_server: FakeYahoo) -> FakeYahoo:
    monkeypatch.setenv("XLREBALANCE_YAHOO_URL", yahoo_server.url)
    monkeypatch.setattr("xlrebalance.quotes.krx._noticed", True)  # tested in test_krx
    # Sources.default() as the CLI builds it, with test-sized retry waits.
    fast = functools.partial(YahooSource, retry=FAST_RETRY, timeout=1.0)
    monkeypatch.setattr("xlrebalance.quotes.engine.YahooSource", fast)
    return yahoo_server


def test_quote_json_then_offline_from_the_cache(
    online: FakeYahoo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["quote", "AAPL", "5930", "USDKRW", "--json"]) == 0
    out = capsys.readouterr().out
    rows = json.loads(out)
    assert [(r["ticker"], r["price"], r["currency"], r["status"]) for r in rows] == [
        ("AAPL", 239.69, "USD", "ok"),
        ("005930", 71200.0, "KRW", "ok"),
        ("USDKRW", 1452.37, "KRW", "ok"),
    ]
    assert rows[1]["delayed"] is True and rows[1]["time"] == "2026-03-06T06:30:00+00:00"
    requests = len(online.log)
    assert main(["quote", "AAPL", "--offline"]) == 0
    assert len(online.log) == requests
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "ticker",
        "price",
        "ccy",
        "time",
        "(UTC)",
        "source",
        "status",
        "name",
    ]
    assert table[1].split()[:3] == ["AAPL", "239.69", "USD"]


def test_quote_reports_a_missing_ticker_and_fails(
    online: FakeYahoo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["quote", "QQQ", "NOSUCH"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "missing" in lines[2] and "unknown to Yahoo" in lines[2]


def _doc(tmp_path: Path) -> Path:
    doc = {
        "base_currency": "KRW",
        "accounts": [{"id": "a", "cash": {"KRW": 1000000, "USD": 100}}],
        "holdings": [
            {"account": "a", "ticker": "QQQ", "quantity": 3},
            {"account": "a", "ticker": "005930", "quantity": 10, "price": 70000},
        ],
        "targets": {"QQQ": 0.5, "005930": 0.5},
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    return path


def test_plan_fetches_missing_prices_unless_offline(
    online: FakeYahoo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _doc(tmp_path)
    assert main(["plan", str(path), "--offline"]) == 2  # QQQ has no price in the file
    assert "QQQ" in capsys.readouterr().err
    assert main(["plan", str(path), "--json"]) == 0
    out = capsys.readouterr()
    plan = json.loads(out.out)
    assert {o["ticker"]: o["price"] for o in plan["orders"]}.get("QQQ", 512.3) == 512.3
    assert out.err == ""  # everything fresh: no note


def test_plan_notes_stale_prices_on_stderr(
    online: FakeYahoo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _doc(tmp_path)
    doc = json.loads(path.read_text())
    doc["holdings"][0]["price"] = 500.0
    doc["fx"] = {"USDKRW": 1400.0}
    path.write_text(json.dumps(doc))
    online.fail("/v7", "429", times=100)
    assert main(["plan", str(path), "--json"]) == 0
    out = capsys.readouterr()
    assert out.err.strip().splitlines() == ["xlrebalance: quotes: 3 stale (QQQ, 005930, USDKRW)"]
    # The plan document says it too, for programs that read only the JSON.
    assert "quotes: 3 stale (QQQ, 005930, USDKRW)" in json.loads(out.out)["warnings"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_in_place_on_a_terminal() -> None:
    stream = Terminal()
    bar = ProgressBar(stream, width=10)
    bar(5, 10)
    bar(10, 10)
    bar.finish()
    drawn = stream.getvalue()
    assert "quotes" in drawn and "10/10" in drawn
    assert "\x1b[" in drawn  # rich moves the cursor to redraw in place
    assert "\n" in drawn.split("10/10", 1)[1]  # the finished bar stays on its own line
    assert drawn.endswith("\x1b[?25h")  # and the cursor is shown again


def test_progress_bar_draws_nothing_before_the_first_report() -> None:
    stream = Terminal()
    ProgressBar(stream).finish()
    assert stream.getvalue() == ""


def test_unreachable_yahoo_is_one_status_per_ticker_and_no_log_noise(tmp_path: Path) -> None:
    # A machine without network: every fetch fails. yfinance logs each failed cookie fetch as
    # a warning, which Python prints on stderr when nothing configures logging; the user
    # should see one short status per ticker and the KRX notice, nothing else.
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "XLREBALANCE_YAHOO_URL": "http://127.0.0.1:9",
        "XLREBALANCE_CACHE_DIR": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-m", "xlrebalance", "quote", "AAPL", "QQQ"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert out.returncode == 1
    assert "crumb" not in out.stderr.lower()
    assert len(out.stderr.strip().splitlines()) <= 1  # the KRX notice at most
    rows = [line for line in out.stdout.splitlines() if line.startswith(("AAPL", "QQQ"))]
    assert len(rows) == 2 and all("error" in row for row in rows)
    assert all("See https://curl.se" not in row for row in rows)
