"""Daily history through yfinance's real history code against a local Yahoo, and the cache.

The server answers /v8/finance/chart/{symbol} with bars between period1 and period2 built on
the recorded AAPL chart payload (its meta, a dividend event), the way Yahoo shapes them."""

from __future__ import annotations

import copy
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from quotes_fakes import FAST_RETRY, FakeYahoo, as_json, load

from xlrebalance.backtest.prices import yahoo_history
from xlrebalance.errors import PortfolioError
from xlrebalance.model import Account, Holding, Kind, Market, Portfolio
from xlrebalance.quotes import QuoteCache
from xlrebalance.quotes.yahoo import YahooSource

SERIES: dict[str, tuple[str, list[tuple[str, float, float, float]]]] = {
    # symbol: (time zone, [(day, close, adjusted close, dividend)])
    "AAPL": (
        "America/New_York",
        [
            ("2024-01-02", 100.0, 98.0, 0.0),
            ("2024-01-03", 102.0, 100.0, 0.0),
            ("2024-02-01", 104.0, 103.0, 0.5),
            ("2024-02-02", 110.0, 110.0, 0.0),
        ],
    ),
    "005930.KS": (
        "Asia/Seoul",
        [
            ("2024-01-02", 70000.0, 70000.0, 0.0),
            ("2024-01-03", 71000.0, 71000.0, 0.0),
            ("2024-02-01", 72000.0, 72000.0, 0.0),
            ("2024-02-02", 73000.0, 73000.0, 0.0),
        ],
    ),
    "KRW=X": (
        "Europe/London",
        [(d, r, r, 0.0) for d, r in (("2024-01-02", 1300.0), ("2024-01-03", 1310.0),
                                     ("2024-02-01", 1320.0), ("2024-02-02", 1330.0))],
    ),
}  # fmt: skip


class HistoryYahoo(FakeYahoo):
    def app(self, method, path, query, form, cookies):  # type: ignore[no-untyped-def]
        if path.startswith("/v8/finance/chart/"):
            with self._lock:
                self.log_chart = [*getattr(self, "log_chart", []), path]
            symbol = path.rsplit("/", 1)[1]
            if symbol not in SERIES:
                return as_json(404, load("yahoo_v8_chart_not_found.json"))
            return as_json(200, chart(symbol, query))
        return super().app(method, path, query, form, cookies)


def chart(symbol: str, query: dict[str, list[str]]) -> dict[str, Any]:
    zone_name, rows = SERIES[symbol]
    zone = ZoneInfo(zone_name)
    payload = copy.deepcopy(load("yahoo_v8_chart_AAPL.json"))
    result = payload["chart"]["result"][0]
    result["meta"].update(symbol=symbol, exchangeTimezoneName=zone_name, timezone="X")
    lo = int(query.get("period1", ["0"])[0])
    hi = int(query.get("period2", [str(2**40)])[0])
    if "range" in query:  # yfinance's time-zone lookup asks for one day
        lo = 0
    stamps, closes, adjusted, dividends = [], [], [], {}
    for day, close, adj, paid in rows:
        stamp = int(datetime.combine(date.fromisoformat(day), time(9, 30), zone).timestamp())
        if lo <= stamp < hi:
            stamps.append(stamp)
            closes.append(close)
            adjusted.append(adj)
            if paid:
                dividends[str(stamp)] = {"amount": paid, "date": stamp}
    result["timestamp"] = stamps
    result["indicators"] = {
        "quote": [{"open": closes, "high": closes, "low": closes, "close": closes,
                   "volume": [1000] * len(closes)}],
        "adjclose": [{"adjclose": adjusted}],
    }  # fmt: skip
    if dividends:
        result["events"] = {"dividends": dividends}
    return payload


def book() -> Portfolio:
    return Portfolio(
        base_currency="KRW",
        accounts=(Account("a", {"KRW": 1_000_000.0}),),
        holdings=(
            Holding("a", "AAPL", Market.US, 0.0, "USD", Kind.STOCK),
            Holding("a", "005930", Market.KR, 0.0, "KRW", Kind.STOCK),
            Holding("a", "NOPE", Market.US, 0.0, "USD", Kind.STOCK),
        ),
        targets={"AAPL": 0.4, "005930": 0.4, "NOPE": 0.2},
    )


@pytest.fixture
def server() -> Any:
    with HistoryYahoo() as s:
        yield s


def source(server: HistoryYahoo, cache: QuoteCache) -> YahooSource:
    return YahooSource(
        base_url=server.url, timeout=2.0, retry=FAST_RETRY,
        yfinance_cache=cache.directory / "yfinance",
    )  # fmt: skip


def test_history_then_offline_from_the_cache(server: HistoryYahoo, cache: QuoteCache) -> None:
    start, end = date(2024, 1, 1), date(2024, 2, 29)
    first = yahoo_history(
        book(), start, end, offline=False, cache=cache, source=source(server, cache)
    )
    assert first.tickers == ("AAPL", "005930")
    assert [str(d) for d in first.dates] == ["2024-01-02", "2024-01-03", "2024-02-01", "2024-02-02"]
    # Reinvested dividends by default: Yahoo's adjusted closes.
    assert first.closes[:, 0].tolist() == [98.0, 100.0, 103.0, 110.0]
    assert first.closes[:, 1].tolist() == [70000.0, 71000.0, 72000.0, 73000.0]
    assert first.fx["USD"].tolist() == [1300.0, 1310.0, 1320.0, 1330.0]
    assert any("NOPE: no history from Yahoo" in n for n in first.notes)
    asked = len(server.paths("/v8/finance/chart/"))
    assert asked >= 3

    again = yahoo_history(book(), start, end, offline=True, cache=cache)
    np.testing.assert_array_equal(again.closes, first.closes)
    # A shorter range online is answered by the cache: no new request.
    yahoo_history(book(), date(2024, 1, 3), end, offline=False, cache=cache,
                  source=source(server, cache))  # fmt: skip
    # Only NOPE is asked again (yfinance's request layer tries a 404 twice).
    assert set(server.paths("/v8/finance/chart/")[asked:]) <= {"/v8/finance/chart/NOPE"}


def test_dividends_to_cash_use_traded_closes(server: HistoryYahoo, cache: QuoteCache) -> None:
    got = yahoo_history(
        book(), date(2024, 1, 1), date(2024, 2, 29), offline=False, dividends="cash",
        cache=cache, source=source(server, cache),
    )  # fmt: skip
    assert got.closes[:, 0].tolist() == [100.0, 102.0, 104.0, 110.0]
    assert got.dividends is not None
    assert got.dividends[:, 0].tolist() == [0.0, 0.0, 0.5, 0.0]


def test_offline_with_an_empty_cache_says_what_to_do(cache: QuoteCache) -> None:
    with pytest.raises(PortfolioError, match="run once without --offline, or give --prices"):
        yahoo_history(book(), date(2024, 1, 1), date(2024, 2, 29), offline=True, cache=cache)


def test_history_rows_live_in_the_quote_cache_file(server: HistoryYahoo, cache: QuoteCache) -> None:
    yahoo_history(book(), date(2024, 1, 1), date(2024, 2, 29), offline=False, cache=cache,
                  source=source(server, cache))  # fmt: skip
    with QuoteCache(cache.directory) as reopened:
        assert reopened.history_span("AAPL") == ("2024-01-01", "2024-02-29")
        assert reopened.history("AAPL", "2024-02-01", "2024-02-01") == [
            ("2024-02-01", 104.0, 103.0, 0.5)
        ]


def test_the_command_names_an_unknown_ticker_and_runs_the_rest(
    server: HistoryYahoo, tmp_path: Path
) -> None:
    # The installed command in a subprocess, online against the local Yahoo: NOPE is unknown
    # there (404), the backtest runs on the others and says what it left out.
    import json
    import os
    import subprocess
    import sys

    from xlrebalance.document import portfolio_to_dict

    doc = portfolio_to_dict(book())
    doc["fx"] = {"USDKRW": 1300.0}
    (tmp_path / "book.json").write_text(json.dumps(doc), encoding="utf-8")
    script = Path(sys.executable).parent / "xlrebalance"
    env = {**os.environ, "XLREBALANCE_YAHOO_URL": server.url, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [str(script), "backtest", "book.json", "--start", "2024-01-01", "--end", "2024-02-29",
         "--policy", "monthly", "--json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    notes = json.loads(done.stdout)["notes"]
    assert any(n.startswith("NOPE: no history from Yahoo") for n in notes), notes
    assert any(n.startswith("NOPE: no price history; left out") for n in notes), notes
