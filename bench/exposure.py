"""Look-through exposure of a 700-row book holding 50 funds, against a local Yahoo stand-in
with 100 ms latency per request (the real yfinance request layer, as the tests use it).

Prints, for a first run (empty cache: one quoteSummary request per fund and company) and a
second one inside the week: requests that reached the server and wall time; then the time of
the look-through and P&L computation alone on the cached data.

    .venv/bin/python bench/exposure.py [--latency 0.1] [--funds 50] [--rows 700]
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
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost,yahoo.localhost")  # local servers only

from quotes_fakes import FakeYahoo, load

from xlrebalance.document import portfolio_from_dict
from xlrebalance.exposure import look_through
from xlrebalance.pnl import pnl_report
from xlrebalance.quotes import QuoteCache
from xlrebalance.quotes.funds import fund_holdings
from xlrebalance.quotes.yahoo import YahooSource


def book(funds: int, rows: int) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``funds`` ETFs (recorded QQQ/XLK/VOO shapes) and ``rows - funds`` stocks, two accounts."""
    recorded = load("yahoo_v10_quotesummary.json")
    shapes = [recorded["QQQ"], recorded["XLK"], recorded["VOO"], recorded["SOXX"]]
    profiles: dict[str, dict[str, Any]] = {}
    holdings = []
    for n in range(rows):
        fund = n < funds
        ticker = f"F{n:03d}" if fund else f"S{n:03d}"
        profiles[ticker] = shapes[n % len(shapes)] if fund else recorded["NVDA"]
        holdings.append(
            {
                "account": "a" if n % 2 else "b",
                "ticker": ticker,
                "kind": "ETF" if fund else "STOCK",
                "quantity": 10 + n % 7,
                "price": 50.0 + n,
                "average_cost": 45.0 + n,
            }
        )
    targets = {h["ticker"]: 1.0 / rows for h in holdings}
    doc = {
        "base_currency": "USD",
        "accounts": [{"id": "a", "cash": {"USD": 1000}}, {"id": "b", "cash": {"USD": 1000}}],
        "holdings": holdings,
        "targets": targets,
    }
    return doc, profiles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1, help="seconds added per request")
    parser.add_argument("--funds", type=int, default=50)
    parser.add_argument("--rows", type=int, default=700)
    args = parser.parse_args()
    doc, profiles = book(args.funds, args.rows)
    portfolio = portfolio_from_dict(doc)
    print(f"{args.rows} rows ({args.funds} funds), {args.latency * 1000:.0f} ms per request")
    print(f"{'run':<34}{'requests':>10}{'seconds':>10}")
    with tempfile.TemporaryDirectory() as tmp, FakeYahoo(latency=args.latency) as server:
        server.profiles = profiles
        with QuoteCache(Path(tmp) / "cache") as cache:
            source = YahooSource(base_url=server.url, yfinance_cache=cache.directory / "yfinance")
            # yfinance's cookie and crumb set-up is paid once per process by the first quote
            # fetch of a refresh; it is not the holdings' cost.
            source.fetch(["AAPL"])
            for label in ("first (empty cache)", "second (inside the week)"):
                before = len(server.log)
                started = time.perf_counter()
                report = fund_holdings(portfolio, cache, source)
                seconds = time.perf_counter() - started
                print(f"{label:<34}{len(server.log) - before:>10}{seconds:>10.3f}")
            started = time.perf_counter()
            exposure = look_through(portfolio, report.holdings)
            pnl_report(portfolio)
            seconds = time.perf_counter() - started
            print(f"{'look-through + P&L (computation)':<34}{0:>10}{seconds:>10.3f}")
    top = exposure.companies[0]
    print(f"top company {top.symbol} {top.weight:.2%}, coverage {exposure.coverage:.1%}")
    workbook_refresh()
    return 0


def workbook_refresh() -> None:
    """bench/workbook.py's 700-row workbook refreshed offline with every ticker's holdings or
    sector cached, beside the same refresh of a copy without the Exposure sheet."""
    import datetime as dt

    from openpyxl import load_workbook

    from workbook import make_book
    from xlrebalance.macros import refresh
    from xlrebalance.quotes.funds import parse_profile, to_json
    from xlrebalance.workbook.book import OpenpyxlBook
    from xlrebalance.workbook.package import save_workbook
    from xlrebalance.workbook.schema import EXPOSURE_SHEET

    recorded = load("yahoo_v10_quotesummary.json")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XLREBALANCE_CACHE_DIR"] = str(Path(tmp) / "cache")
        with_sheet = Path(tmp) / "with.xlsm"
        make_book(with_sheet)
        without = Path(tmp) / "without.xlsm"
        wb = load_workbook(with_sheet, keep_vba=True)
        del wb[EXPOSURE_SHEET]
        wb.save(without)  # deliberately drops the sheet: not save_workbook, which refuses
        portfolio = OpenpyxlBook.open(with_sheet)
        from xlrebalance.workbook.reader import read_input

        inp = read_input(portfolio, offline=True)
        now = dt.datetime.now(dt.UTC)
        rows = []
        for h in inp.portfolio.holdings:
            shape = recorded["QQQ"] if h.kind.value == "ETF" else recorded["NVDA"]
            body = to_json(parse_profile(h.ticker, shape, "yahoo", now))
            rows.append((h.market.value, h.ticker, body, now.timestamp(), "yahoo"))
        with QuoteCache() as cache:
            cache.put_profiles(rows)
        print(f"\n{'700-row workbook, offline refresh':<34}{'':>10}{'seconds':>10}")
        for label, path in (("without the Exposure sheet", without), ("with it", with_sheet)):
            started = time.perf_counter()
            book = OpenpyxlBook.open(path)
            refresh(book, offline=True)
            save_workbook(book.workbook, Path(tmp) / "out.xlsm", backup=False)
            seconds = time.perf_counter() - started
            print(f"{label:<34}{'':>10}{seconds:>10.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
