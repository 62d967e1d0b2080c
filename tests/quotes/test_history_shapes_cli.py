"""The installed ``xlrebalance backtest`` against a local Yahoo whose chart answers carry the
shapes Yahoo really sends (``XLREBALANCE_YAHOO_URL`` points the command at it, and the quote
cache is the test's own through ``XLREBALANCE_CACHE_DIR``, set by this folder's conftest)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from history_shapes_fakes import Bar, Series, ShapedYahoo, business_days

from installed_cli import run_console
from xlrebalance.document import portfolio_to_dict
from xlrebalance.model import Account, Holding, Kind, Market, Portfolio

DAYS = business_days("2024-01-02", "2024-03-29")
US = ("HALT", "SPLU", "LATE", "GONE", "DOWN", "BUSY", "DLST")  # DLST: unknown to Yahoo
KR = ("005930", "247540")


def drift(day: str, base: float) -> float:
    """A close rising 0.1% a business day: any fall in the results is ours."""
    return round(base * 1.001 ** DAYS.index(day), 4)


def shaped() -> dict[str, Series]:
    halt = [Bar(d, None if d == "2024-01-17" else drift(d, 50.0)) for d in DAYS]
    split_day = "2024-02-12"  # 4:1, Yahoo still sending the old prices before it
    splu = [Bar(d, drift(d, 100.0) * (4 if d < split_day else 1)) for d in DAYS]
    seoul = {"zone": "Asia/Seoul", "currency": "KRW", "at": time(0, 0)}
    return {
        # A halted day (null bar), a day sent twice and bars out of order.
        "HALT": Series(bars=halt, order=list(reversed(range(len(DAYS)))), repeat=[3]),
        "SPLU": Series(bars=splu, splits={split_day: (4, 1)}, dividends={"2024-01-16": 2.0}),
        "LATE": Series(bars=[Bar(d, drift(d, 20.0)) for d in DAYS if d >= "2024-02-01"]),
        "GONE": Series(bars=[Bar(d, drift(d, 30.0)) for d in DAYS if d <= "2024-01-19"]),
        "DOWN": Series(status=500),
        "BUSY": Series(status=429),
        "005930.KS": Series(bars=[Bar(d, drift(d, 70000.0)) for d in DAYS], **seoul),
        "247540.KQ": Series(bars=[Bar(d, drift(d, 300000.0)) for d in DAYS], **seoul),
        "KRW=X": Series(zone="Europe/London", bars=[Bar(d, 1300.0) for d in DAYS]),
    }


def book() -> Portfolio:
    holdings = [Holding("a", t, Market.US, 0.0, "USD", Kind.STOCK) for t in US]
    holdings += [Holding("a", t, Market.KR, 0.0, "KRW", Kind.STOCK) for t in KR]
    return Portfolio(
        base_currency="KRW",
        accounts=(Account("a", {"KRW": 100_000_000.0}),),
        holdings=tuple(holdings),
        targets={h.ticker: 1.0 / len(holdings) for h in holdings},
    )


@pytest.fixture
def yahoo(monkeypatch: pytest.MonkeyPatch) -> Iterator[ShapedYahoo]:
    with ShapedYahoo(shaped()) as server:
        monkeypatch.setenv("XLREBALANCE_YAHOO_URL", server.url)
        yield server


def backtest(folder: Path, *extra: str) -> dict[str, Any]:
    done = run_console(
        "backtest", "book.json", "--start", "2024-01-01", "--end", "2024-03-29",
        "--policy", "monthly", "--json", *extra, cwd=folder,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def test_backtest_over_yahoo_shapes_online_then_offline(yahoo: ShapedYahoo, tmp_path: Path) -> None:
    doc = portfolio_to_dict(book())
    doc["fx"] = {"USDKRW": 1300.0}
    (tmp_path / "book.json").write_text(json.dumps(doc), encoding="utf-8")

    online = backtest(tmp_path)
    notes = online["notes"]
    assert any(n.startswith("DOWN: no history from Yahoo (DOWN: HTTP 500") for n in notes), notes
    assert "BUSY: no history from Yahoo (BUSY: rate limited by Yahoo (HTTP 429))" in notes
    unknown = "DLST: unknown to Yahoo (No data found, symbol may be delisted)"
    assert f"DLST: no history from Yahoo ({unknown})" in notes
    for failed in ("DOWN", "BUSY", "DLST"):
        assert any(n.startswith(f"{failed}: no price history; left out") for n in notes), notes
    assert any(n.startswith("LATE: enters on 2024-02-01 when its history starts") for n in notes)
    assert any(n.startswith("GONE: history ends on 2024-01-19") for n in notes), notes
    # The Seoul-dated bars (stamped 15:00 UTC the day before) land on the business days only.
    assert online["series"]["dates"] == DAYS
    # Every close rises (the split is not a crash, the halted day is not a hole in value).
    policy = online["policies"][0]
    assert policy["max_drawdown"]["depth"] > -0.005, policy["max_drawdown"]
    assert online["series"]["values"]["monthly"][-1] > online["capital"]
    assert yahoo.history_calls("247540.KQ"), "247540 is KOSDAQ: asked as .KQ after .KS"

    offline = backtest(tmp_path, "--offline")
    assert offline["series"] == online["series"]
    assert offline["policies"][0]["final_value"] == policy["final_value"]

    cash = backtest(tmp_path, "--dividends", "cash")
    assert cash["policies"][0]["max_drawdown"]["depth"] > -0.005, cash["policies"][0]
    # The dividend went to cash, not into a made-up price: both runs end close to each other.
    assert cash["policies"][0]["final_value"] == pytest.approx(policy["final_value"], rel=0.01)
