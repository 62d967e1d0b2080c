"""=EXPOSURE() and =PNL() called as Excel calls them, on the user's own ranges."""

from __future__ import annotations

from datetime import UTC, datetime
from types import ModuleType

import pytest

from xlrebalance import worksheet
from xlrebalance.exposure import Constituent, FundHoldings
from xlrebalance.quotes.funds import to_json

HOLDINGS = [
    ["Ticker", "Quantity", "Price", "Average cost", "Take profit", "레버리지"],
    ["QQQ", 10.0, 500.0, 400.0, "20%", None],
    ["XLK", 10.0, 250.0, None, None, None],
    ["TQQQ", 25.0, 100.0, 90.0, None, None],
]
SETTINGS = [["Key", "Value"], ["base_currency", "USD"]]


def cache_funds(live: worksheet.LiveQuotes) -> None:
    now = datetime.now(UTC).timestamp()
    qqq = FundHoldings("QQQ", "test", (Constituent("NVDA", "NVIDIA", 0.10),), {"technology": 1.0})
    xlk = FundHoldings("XLK", "test", (Constituent("NVDA", "NVIDIA", 0.14),), {"technology": 1.0})
    live.cache.put_profiles(
        [("US", "QQQ", to_json(qqq), now, "test"), ("US", "XLK", to_json(xlk), now, "test")]
    )


def test_exposure_by_company_sector_ticker_and_summary(
    udfs: ModuleType, live: worksheet.LiveQuotes
) -> None:
    cache_funds(live)
    companies = udfs.EXPOSURE(HOLDINGS, None, None, SETTINGS)
    assert companies[0] == ["Company", "Weight", "Via"]
    # 0.5 x 0.10 + 0.25 x 0.14 + 3 x 0.25 x 0.10 (TQQQ through QQQ's holdings)
    assert companies[1][0] == "NVDA"
    assert companies[1][1] == pytest.approx(0.16)
    assert companies[1][2] == "TQQQ, QQQ, XLK"
    sectors = udfs.EXPOSURE(HOLDINGS, "sector", None, SETTINGS)
    assert sectors[1] == ["Technology", pytest.approx(1.5)]
    tickers = udfs.EXPOSURE(HOLDINGS, "ticker", None, SETTINGS)
    assert tickers[3] == ["TQQQ", 0.25, 3.0, 0.75, "proxy QQQ"]
    summary = dict(udfs.EXPOSURE(HOLDINGS, "summary", None, SETTINGS)[1:])
    assert summary["gross"] == pytest.approx(1.5)
    assert summary["unknown"] == "-"
    assert udfs.EXPOSURE(HOLDINGS, "country", None, SETTINGS).startswith("#XLREBALANCE")


def test_a_user_leverage_column_overrides_the_table(
    udfs: ModuleType, live: worksheet.LiveQuotes
) -> None:
    cache_funds(live)
    rows = [list(r) for r in HOLDINGS]
    rows[3][5] = 2.0
    tickers = udfs.EXPOSURE(rows, "ticker", None, SETTINGS)
    assert tickers[3][2:4] == [2.0, 0.5]


def test_pnl_per_row_and_total(udfs: ModuleType, live: worksheet.LiveQuotes) -> None:
    table = udfs.PNL(HOLDINGS, None, SETTINGS)
    assert table[0][:3] == ["Account", "Ticker", "Quantity"]
    qqq, xlk, tqqq, total = table[1:]
    assert qqq[6] == pytest.approx(1000.0) and qqq[8] == pytest.approx(0.25)
    assert qqq[9] is True  # +25% is past the 20% take-profit target
    assert xlk[6] == "" and xlk[8] == ""  # no average cost: blank, never 0
    assert tqqq[6] == pytest.approx(250.0) and tqqq[9] == ""
    assert total[0] == "Total" and total[7] == pytest.approx(1250.0)
