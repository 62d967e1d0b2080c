"""The Korean workbook is Korean throughout (what the tool writes, not only the input sheets),
and the Dashboard's weight chart has one bar per ticker, summed over accounts."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from xlrebalance.document import load_portfolio
from xlrebalance.macros import refresh, snapshot
from xlrebalance.planner import plan
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.schema import DASHBOARD_TICKER_COLUMN, HEADER_ROW

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "python" / "xlrebalance" / "templates" / "examples" / "seed.json"
NOW = dt.datetime(2026, 3, 2, 10, 30)
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def _refreshed(tmp_path: Path, lang: str) -> Path:
    path = build_workbook(tmp_path / f"{lang}.xlsm", lang=lang, example="seed")
    book = OpenpyxlBook.open(path)
    refresh(book, offline=True, now=NOW)
    snapshot(book, now=NOW)
    book.workbook.save(path)
    return path


def _english_words(text: str) -> list[str]:
    # Words the user might read as English; codes (USD, KRW), tickers and account names of the
    # seed example are data, not labels.
    data = {"USD", "KRW", "general", "isa", "Holdings", "xlrebalance", "refresh"}
    data |= {h.ticker for h in load_portfolio(SEED).holdings}
    return [w for w in re.findall(r"[A-Za-z]{3,}", text) if w not in data]


def test_korean_orders_and_history_have_no_english_labels(tmp_path: Path) -> None:
    wb = load_workbook(_refreshed(tmp_path, "ko"))
    orders, history = wb["Orders"], wb["History"]
    sides = [orders.cell(row=r, column=4).value for r in range(5, orders.max_row + 1)]
    sides = [s for s in sides if s]
    assert sides and set(sides) <= {"매수", "매도"}
    # The banner, the hint, the summary block (labels and words; numbers and codes aside).
    texts = [orders["A2"].value or "", orders["A3"].value or ""]
    texts += [str(c.value) for row in orders.iter_rows(min_col=14, max_col=16) for c in row]
    texts += [str(c.value) for row in history.iter_rows(min_row=3) for c in row]
    leftovers = [w for t in texts if t != "None" for w in _english_words(t)]
    assert leftovers == [], leftovers
    events = [history.cell(row=r, column=2).value for r in range(HEADER_ROW + 1, HEADER_ROW + 3)]
    assert events == ["새로 고침", "스냅샷"]
    assert history.cell(row=HEADER_ROW + 1, column=8).value in {"최적", "시간 한도", "근사해"}


def test_english_workbook_keeps_its_words(tmp_path: Path) -> None:
    wb = load_workbook(_refreshed(tmp_path, "en"))
    sides = {wb["Orders"].cell(row=r, column=4).value for r in range(5, 10)}
    assert sides <= {"BUY", "SELL"}
    assert wb["History"].cell(row=HEADER_ROW + 1, column=2).value == "refresh"


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_dashboard_chart_plots_the_per_ticker_table(tmp_path: Path, lang: str) -> None:
    path = build_workbook(tmp_path / "book.xlsm", lang=lang, example="seed")
    dashboard = load_workbook(path)["Dashboard"]
    tickers = dict.fromkeys(h.ticker for h in load_portfolio(SEED).holdings)
    assert len(tickers) < len(load_portfolio(SEED).holdings)  # some tickers in two accounts
    with zipfile.ZipFile(path) as archive:
        charts = [archive.read(n).decode() for n in archive.namelist() if "charts/chart" in n]
    weight_chart = next(c for c in charts if "비중" in c or "Current vs target" in c)
    last = HEADER_ROW + len(tickers)
    assert f"'Dashboard'!$T${HEADER_ROW + 1}:$T${last}" in weight_chart  # categories
    assert f"'Dashboard'!$U${HEADER_ROW + 1}:$U${last}" in weight_chart  # weight
    assert f"'Dashboard'!$V${HEADER_ROW + 1}:$V${last}" in weight_chart  # target
    assert "Holdings" not in weight_chart
    header = [
        dashboard.cell(row=HEADER_ROW, column=DASHBOARD_TICKER_COLUMN + i).value for i in range(3)
    ]
    expected = ["종목코드", "비중", "목표 비중"] if lang == "ko" else ["Ticker", "Weight", "Target"]
    assert header == expected


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_sums_each_ticker_over_accounts(tmp_path: Path) -> None:
    assert SOFFICE is not None
    book = build_workbook(tmp_path / "rebalance.xlsm", lang="ko", example="seed")
    csv_filter = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
         "--convert-to", csv_filter, "--outdir", str(tmp_path), str(book)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    with (tmp_path / "rebalance-Dashboard.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    c = DASHBOARD_TICKER_COLUMN - 1
    table = {
        r[c]: (float(r[c + 1].rstrip("%")) / 100, float(r[c + 2].rstrip("%")) / 100)
        for r in rows[HEADER_ROW:]
        if len(r) > c + 2 and r[c]
    }
    seed = load_portfolio(SEED)
    weights = plan(seed).summary.weights_before
    assert list(table) == list(dict.fromkeys(h.ticker for h in seed.holdings))
    for ticker, (weight, target) in table.items():
        assert weight == pytest.approx(weights[ticker], abs=1e-9), ticker
        assert target == pytest.approx(seed.targets[ticker], abs=1e-12), ticker
