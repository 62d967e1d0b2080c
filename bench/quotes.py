"""Refresh 500 US + 200 KRX tickers + FX against local Yahoo/KRX stand-ins with 100 ms latency.

Runs the real yfinance and pykrx code (as the tests do) and prints, for a first refresh (empty
cache) and a second one inside the freshness window: requests that reached the servers and
wall time, beside the targets. Also the cost of one cache-only lookup (``=QUOTE()``'s path).

    .venv/bin/python bench/quotes.py [--latency 0.1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "quotes"))
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost,yahoo.localhost")  # local servers only

from quotes_fakes import FakeKrx, FakeYahoo, load

from xlrebalance.quotes import QuoteCache, QuoteStatus, Sources, cached_quote, quote
from xlrebalance.quotes.krx import Credentials, KrxSource, _pykrx
from xlrebalance.quotes.yahoo import YahooSource

US_COUNT, KR_COUNT = 500, 200


def universe() -> tuple[list[str], list[str], dict[str, dict[str, Any]], dict[str, Any]]:
    """Synthetic tickers built from the recorded payloads: half the KRX codes on KOSDAQ."""
    recorded = {i["symbol"]: i for i in load("yahoo_v7_quote.json")["quoteResponse"]["result"]}
    krx_rows = load("krx_MDCSTAT01501.json")
    us = [f"U{n:03d}" for n in range(US_COUNT)]
    kr = [f"{900000 + n:06d}" for n in range(KR_COUNT)]
    items: dict[str, dict[str, Any]] = {"KRW=X": recorded["KRW=X"]}
    for n, ticker in enumerate(us):
        items[ticker] = {**recorded["AAPL"], "symbol": ticker, "regularMarketPrice": 10.0 + n}
    rows = []
    for n, code in enumerate(kr):
        kosdaq = n % 2 == 1
        symbol = code + (".KQ" if kosdaq else ".KS")
        template = recorded["247540.KQ" if kosdaq else "005930.KS"]
        items[symbol] = {**template, "symbol": symbol, "regularMarketPrice": 1000.0 + n}
        row = dict(krx_rows["OutBlock_1"][3 if kosdaq else 0])
        row.update(ISU_SRT_CD=code, TDD_CLSPRC=f"{1000 + n:,}", MKT_ID="KSQ" if kosdaq else "STK")
        rows.append(row)
    return us, kr, items, {"OutBlock_1": rows, "CURRENT_DATETIME": krx_rows["CURRENT_DATETIME"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1, help="seconds added per request")
    args = parser.parse_args()
    us, kr, items, krx_table = universe()
    tickers = us + kr + ["USDKRW"]

    # Imports are paid once per process, before any refresh; shown apart from the refreshes.
    started = time.perf_counter()
    import yfinance  # noqa: F401

    yf_import = time.perf_counter() - started
    started = time.perf_counter()
    _pykrx()
    krx_import = time.perf_counter() - started

    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeYahoo(items, latency=args.latency) as yahoo_server,
        FakeKrx(stocks=krx_table, latency=args.latency) as krx_server,
        QuoteCache(Path(tmp)) as cache,
    ):
        sources = Sources(
            yahoo=YahooSource(base_url=yahoo_server.url, yfinance_cache=Path(tmp) / "yfinance"),
            krx=KrxSource(
                Credentials(krx_server.user, krx_server.password), base_url=krx_server.url
            ),
        )
        runs = []
        for label in ("first refresh (empty cache)", "second refresh (within freshness)"):
            before = len(yahoo_server.log) + len(krx_server.log)
            started = time.perf_counter()
            quotes = quote(tickers, cache=cache, sources=sources)
            wall = time.perf_counter() - started
            requests = len(yahoo_server.log) + len(krx_server.log) - before
            ok = sum(q.status is QuoteStatus.OK for q in quotes)
            runs.append((label, requests, wall, ok))
        first_yahoo = sorted({p for _, p in yahoo_server.log})

        lookups = 20000
        started = time.perf_counter()
        for n in range(lookups):
            cached_quote(tickers[n % len(tickers)], cache=cache)
        per_lookup = (time.perf_counter() - started) / lookups

    targets = {runs[0][0]: "< 1.5 s", runs[1][0]: "0 requests, < 50 ms"}
    print(
        f"universe: {US_COUNT} US + {KR_COUNT} KRX tickers + USDKRW; "
        f"{args.latency * 1000:.0f} ms added latency per request"
    )
    print(
        f"one-time imports: yfinance {yf_import:.2f} s, pykrx {krx_import:.2f} s "
        "(per process, not part of a refresh)"
    )
    print(f"{'run':36} {'requests':>8} {'wall':>9} {'priced':>7}   target")
    for label, requests, wall, ok in runs:
        print(
            f"{label:36} {requests:>8} {wall * 1000:>7.0f}ms {ok:>4}/{len(tickers)}   "
            f"{targets[label]}"
        )
    print(
        f"cache-only lookup (cached_quote): {per_lookup * 1e6:.1f} us per call  (target < 100 us)"
    )
    print(f"Yahoo paths hit: {', '.join(first_yahoo)}")
    met = runs[0][2] < 1.5 and runs[1][1] == 0 and runs[1][2] < 0.05 and per_lookup < 1e-4
    print("targets met" if met else "TARGETS MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
