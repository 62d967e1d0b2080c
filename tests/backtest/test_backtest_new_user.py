"""A new user's ``xlrebalance backtest``: the installed console script, run from a folder outside
the checkout, offline, on price files shaped as people make them (Excel exports, other locales)
and on options typed the way people type them. Each run either gives a result whose notes say
what was left out, or one line on stderr naming the option, file row or column, exit code 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from backtest_prices import SEED

from installed_cli import run_console

US = ("VOO", "SPY", "QQQ", "XLK", "TQQQ", "SOXX")
KR = ("069500", "360750", "005930")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One quote cache for the module: the trading calendars are built once, not per test."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def folder(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XLREBALANCE_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("XLREBALANCE_YAHOO_URL", "http://127.0.0.1:9")  # closed: no network
    return tmp_path


def closes(days: int = 60, start: str = "2024-01-02") -> tuple[list[str], np.ndarray]:
    """Weekday dates and synthetic closes for the seed book's tickers, then USDKRW."""
    rng = np.random.default_rng(11)
    dates = np.busday_offset(start, np.arange(days), roll="forward")
    values = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal((days, len(US) + len(KR))), 0))
    rate = 1300 * np.exp(np.cumsum(0.003 * rng.standard_normal(days)))
    return [str(d) for d in dates], np.column_stack([values, rate])


def write_csv(path: Path, header: list[str], rows: list[list[str]], **how: Any) -> Path:
    sep = how.get("sep", ",")
    text = "\r\n".join(sep.join(r) for r in [header, *rows]) + "\r\n"
    path.write_bytes(text.encode(how.get("encoding", "utf-8")))
    return path


def plain_rows(dates: list[str], values: np.ndarray) -> list[list[str]]:
    return [[d, *(f"{v:.2f}" for v in row)] for d, row in zip(dates, values, strict=True)]


HEADER = ["date", *US, *KR, "USDKRW"]


def backtest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The seed book, offline; with --json unless the test asks for the text."""
    text = "--text" in args
    rest = [a for a in args if a != "--text"]
    return run_console(
        "backtest", str(SEED), "--offline", *rest, *([] if text else ["--json"]), cwd=folder
    )


def result(out: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    doc: dict[str, Any] = json.loads(out.stdout)  # the whole stdout, strictly
    return doc


def refused(out: subprocess.CompletedProcess[str], *words: str) -> str:
    """The one-line error (exit code 2, no traceback) and that it names ``words``."""
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xlrebalance: error: "), out.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_a_prices_file_before_2010_is_used_whole_without_start(folder: Path) -> None:
    # --start used to default to 2010-01-01 even with --prices: an older file was refused and a
    # longer one cut at 2010 without a word.
    dates, values = closes(days=40, start="2005-03-01")
    prices = write_csv(folder / "old.csv", HEADER, plain_rows(dates, values))
    doc = result(backtest(folder, "--prices", str(prices), "--policy", "none"))
    assert (doc["start"], doc["end"]) == (dates[0], dates[-1])
    later = backtest(folder, "--prices", str(prices), "--start", dates[10], "--policy", "none")
    assert result(later)["start"] == dates[10]


def test_one_day_of_prices_names_the_file_not_an_unset_start(folder: Path) -> None:
    dates, values = closes(days=1)
    prices = write_csv(folder / "one.csv", HEADER, plain_rows(dates, values))
    line = refused(backtest(folder, "--prices", str(prices), "--policy", "none"), "--prices")
    assert "None" not in line and dates[0] in line
    late = refused(
        backtest(folder, "--prices", str(prices), "--start", "2030-01-01", "--policy", "none"),
        "--start",
        "2030-01-01",
    )
    assert "None" not in late


def test_a_delisting_that_cannot_pay_its_minimum_fee_never_leaves_negative_cash(
    folder: Path,
) -> None:
    # AAA falls 15% a day, then its history ends: 100 shares bring a dollar or two, less than
    # the USD 5 minimum fee. Selling anyway took the account's cash below zero (final value
    # -3,519 KRW under monthly); now the shares are written off and the warning says so.
    book = {
        "version": 1,
        "base_currency": "KRW",
        "fx": {"USDKRW": 1300.0},
        "accounts": [{"id": "a", "cash": {"USD": 1005.0}}],
        "holdings": [
            {
                "account": "a",
                "ticker": t,
                "market": "US",
                "kind": "STOCK",
                "quantity": 0,
                "price": 10,
                "currency": "USD",
            }
            for t in ("AAA", "BBB")
        ],
        "targets": {"AAA": 1.0},
        "settings": {"fees": {"US": {"rate": 0.001, "min": 5}}, "fx_spread": 0.0},
    }
    (folder / "book.json").write_text(json.dumps(book), encoding="utf-8")
    dates = [str(d) for d in np.busday_offset("2024-01-02", np.arange(60), roll="forward")]
    rows = [
        [d, f"{10 * 0.85**i:.4f}" if i < 40 else "", f"{100 + i / 10:.2f}", "1300"]
        for i, d in enumerate(dates)
    ]
    prices = write_csv(folder / "p.csv", ["date", "AAA", "BBB", "USDKRW"], rows)
    out = run_console(
        "backtest", "book.json", "--prices", str(prices), "--offline", "--json",
        "--policy", "none", "--policy", "monthly", cwd=folder,
    )  # fmt: skip
    doc = result(out)
    assert any("AAA: history ends on" in n for n in doc["notes"])
    for policy in doc["policies"]:
        assert min(doc["series"]["values"][policy["policy"]]) >= 0, policy["policy"]
        assert policy["fees"] >= 0 and policy["taxes"] >= 0 and policy["fx_spread"] >= 0
        assert any("written off at zero" in w for w in policy["warnings"]), policy["warnings"]
