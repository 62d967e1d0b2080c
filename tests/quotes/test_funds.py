"""Fund holdings through yfinance's request layer against the local Yahoo, and their cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from quotes_fakes import FakeYahoo, load

from xlrebalance.document import portfolio_from_dict
from xlrebalance.exposure import look_through
from xlrebalance.quotes import QuoteCache
from xlrebalance.quotes.funds import fund_holdings, parse_profile
from xlrebalance.quotes.krx import KrxSource
from xlrebalance.quotes.yahoo import YahooSource

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def book() -> dict[str, Any]:
    rows = [
        ("QQQ", "US", "ETF", 10, 500.0),
        ("XLK", "US", "ETF", 10, 250.0),
        ("TQQQ", "US", "ETF", 25, 100.0),
        ("NVDA", "US", "STOCK", 5, 180.0),
        ("069500", "KR", "ETF", 10, 40000.0),  # Yahoo has no holdings for it
        ("ZZZZ", "US", "ETF", 1, 10.0),  # unknown to Yahoo altogether
    ]
    return {
        "base_currency": "USD",
        "fx": {"KRWUSD": 1 / 1400},
        "accounts": [{"id": "a", "cash": {"USD": 100.0}}],
        "holdings": [
            {"account": "a", "ticker": t, "market": m, "kind": k, "quantity": q, "price": p}
            for t, m, k, q, p in rows
        ],
        "targets": {"QQQ": 0.5, "XLK": 0.2, "TQQQ": 0.1, "NVDA": 0.1, "069500": 0.1},
    }


def test_parse_recorded_shapes() -> None:
    recorded = load("yahoo_v10_quotesummary.json")
    qqq = parse_profile("QQQ", recorded["QQQ"], "yahoo", NOW)
    assert [c.symbol for c in qqq.constituents][:3] == ["NVDA", "AAPL", "MSFT"]
    assert qqq.constituents[0].weight == pytest.approx(0.0915)
    assert sum(qqq.sectors.values()) == pytest.approx(0.9996)
    assert "realestate" in qqq.sectors
    nvda = parse_profile("NVDA", recorded["NVDA"], "yahoo", NOW)
    assert (nvda.sector, nvda.has_holdings) == ("Technology", False)
    # {"raw": ...} values and percentages (8.12 for 8.12%) read the same.
    formatted = {
        "topHoldings": {
            "holdings": [{"symbol": "AAA", "holdingName": "A", "holdingPercent": {"raw": 8.12}}],
            "sectorWeightings": [{"technology": {"raw": 60.0}}, {"energy": {"raw": 40.0}}],
        }
    }
    parsed = parse_profile("X", formatted, "yahoo", NOW)
    assert parsed.constituents[0].weight == pytest.approx(0.0812)
    assert parsed.sectors == {"technology": pytest.approx(0.6), "energy": pytest.approx(0.4)}


def test_fetch_cache_and_offline(
    tmp_path: Path, yahoo_server: FakeYahoo, cache: QuoteCache, yahoo: YahooSource
) -> None:
    portfolio = portfolio_from_dict(book())
    server = yahoo_server
    first = fund_holdings(portfolio, cache, yahoo, now=NOW)
    asked = server.paths("/v10/finance/quoteSummary/")
    # One request per ticker (no batch form); the KRX code asked under its .KS symbol.
    # (yfinance asks a second time, with its other cookie strategy, after Yahoo's 404.)
    assert {p.rsplit("/", 1)[1] for p in asked} == {
        "QQQ", "XLK", "TQQQ", "NVDA", "069500.KS", "ZZZZ"
    }  # fmt: skip
    assert set(first.holdings) == {"QQQ", "XLK", "TQQQ", "NVDA"}
    assert first.failed == {}  # "not found" and "no holdings" are answers, not failures

    # Within the week nothing is asked again, not even for the empty answers.
    again = fund_holdings(portfolio, cache, yahoo, now=NOW + timedelta(days=6))
    assert server.paths("/v10/finance/quoteSummary/") == asked
    assert set(again.holdings) == set(first.holdings)

    # A week later they are fetched again; a server down keeps last week's data.
    server.fail("/v10/", "500", times=100)
    later = fund_holdings(portfolio, cache, yahoo, now=NOW + timedelta(days=8))
    assert set(later.holdings) == set(first.holdings)

    assert len(server.paths("/v10/finance/quoteSummary/")) > len(asked)
    assert later.failed == {}  # last week's answers stand in

    offline = fund_holdings(portfolio, cache, None, now=NOW + timedelta(days=30))
    assert set(offline.holdings) == set(first.holdings)
    assert offline.fetched == ()

    with QuoteCache(tmp_path / "empty") as empty:
        nothing = fund_holdings(portfolio, empty, None, now=NOW)
    assert nothing.holdings == {}
    assert "running offline" in (nothing.note() or "")

    exposure = look_through(portfolio, first.holdings)
    assert set(exposure.unknown) == {"069500", "ZZZZ"}
    by = {p.ticker: p for p in exposure.positions}
    assert by["TQQQ"].basis == "proxy QQQ"
    assert by["NVDA"].basis == "stock"
    assert exposure.sectors["Technology"] > 0.5


def test_exposure_command_json_from_another_folder(tmp_path: Path) -> None:
    doc = tmp_path / "book.json"
    data = book()
    data["holdings"][0]["average_cost"] = 400.0
    doc.write_text(json.dumps(data), encoding="utf-8")
    exe = Path(sys.executable).parent / "xlrebalance"
    work = tmp_path / "elsewhere"
    work.mkdir()
    with FakeYahoo() as server:
        env = {
            **os.environ,
            "XLREBALANCE_YAHOO_URL": server.url,
            "XLREBALANCE_CACHE_DIR": str(tmp_path / "cache"),
        }
        online = subprocess.run(
            [str(exe), "exposure", str(doc), "--json"],
            cwd=work, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert online.returncode == 0, online.stderr
        result = json.loads(online.stdout)
        asked = len(server.paths("/v10/finance/quoteSummary/"))
    # The second run is offline, from the cache.
    offline = subprocess.run(
        [str(exe), "exposure", str(doc), "--json", "--offline"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert offline.returncode == 0, offline.stderr
    # (Online, the fake Yahoo's prices replaced those in the file; offline they are the file's.)
    offline_result = json.loads(offline.stdout)
    again = offline_result["exposure"]
    assert {c["symbol"] for c in again["companies"]} == {
        c["symbol"] for c in result["exposure"]["companies"]
    }
    assert again["unknown"] == result["exposure"]["unknown"]
    assert asked >= 6
    exposure = result["exposure"]
    assert exposure["companies"][0]["symbol"] == "NVDA"
    assert set(exposure["unknown"]) == {"069500", "ZZZZ"}
    qqq = next(p for p in offline_result["pnl"]["positions"] if p["ticker"] == "QQQ")
    assert qqq["return"] == pytest.approx(500 / 400 - 1)
    text = subprocess.run(
        [str(exe), "exposure", str(doc), "--offline"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert text.returncode == 0, text.stderr
    assert "NVDA" in text.stdout and "Traceback" not in text.stderr


def test_krx_etfs_from_their_portfolio_deposit_files(
    yahoo_server: FakeYahoo, cache: QuoteCache, yahoo: YahooSource, krx: KrxSource
) -> None:
    doc = book()
    doc["holdings"].append(
        {"account": "a", "ticker": "360750", "market": "KR", "kind": "ETF", "quantity": 10,
         "price": 20000.0}
    )  # fmt: skip
    doc["holdings"].append(
        {"account": "a", "ticker": "005930", "market": "KR", "quantity": 1, "price": 60000.0}
    )
    portfolio = portfolio_from_dict(doc)
    report = fund_holdings(portfolio, cache, yahoo, krx=krx, now=NOW)
    asked_yahoo = {p.rsplit("/", 1)[1] for p in yahoo_server.paths("/v10/")}
    kodex = report.holdings["069500"]
    assert kodex.source == "krx"
    assert [c.symbol for c in kodex.constituents] == ["005930", "000660", "373220", "035420"]
    assert kodex.constituents[0].weight == pytest.approx(0.2984)  # KRX's ratio, in percent
    tiger = report.holdings["360750"]  # foreign shares: ratio 0, weights from the amounts
    assert [c.name for c in tiger.constituents] == ["NVIDIA CORP", "APPLE INC", "MICROSOFT CORP"]
    assert tiger.constituents[0].weight == pytest.approx(1_940_000 / 6_000_000)
    # KRX answered for its ETFs; the KRX stock's sector still comes from Yahoo.
    assert "069500.KS" not in asked_yahoo and "360750.KS" not in asked_yahoo
    assert "005930.KS" in asked_yahoo
    assert report.holdings["005930"].sector == "Technology"
    exposure = look_through(portfolio, report.holdings)
    samsung = {c.symbol: c for c in exposure.companies}["005930"]
    assert dict(samsung.via).keys() == {"069500", "005930"}
