"""The Exposure sheet and the Holdings columns, through a headless refresh of a built workbook
run as the installed console script, with fund holdings already in the quote cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from xlrebalance.quotes import QuoteCache
from xlrebalance.quotes.funds import parse_profile, to_json
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.schema import EXPOSURE_SHEET, HEADER_ROW, HOLDINGS

RECORDED = Path(__file__).resolve().parents[1] / "data" / "quotes" / "yahoo_v10_quotesummary.json"


def fill_cache(directory: Path) -> None:
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    now = datetime.now(UTC)
    rows = []
    for symbol, result in recorded.items():
        ticker = symbol.removesuffix(".KS")
        market = "KR" if ticker[0].isdigit() else "US"
        rows.append((market, ticker, to_json(parse_profile(ticker, result, "yahoo", now)),
                     now.timestamp(), "yahoo"))  # fmt: skip
    with QuoteCache(directory) as cache:
        cache.put_profiles(rows)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_refresh_fills_the_exposure_sheet(tmp_path: Path, lang: str) -> None:
    book = tmp_path / "book.xlsm"
    build_workbook(book, lang=lang, example="seed")  # type: ignore[arg-type]
    # Average cost, leverage override and take-profit typed on Holdings, as a user would.
    wb = openpyxl.load_workbook(book, keep_vba=True)
    ws = wb[HOLDINGS.name]
    header = [c.value for c in ws[HEADER_ROW]]
    col = {c.key: header.index(c.header(lang)) + 1 for c in HOLDINGS.columns}  # type: ignore[arg-type]
    tickers = {ws.cell(r, col["ticker"]).value: r for r in range(HEADER_ROW + 1, ws.max_row + 1)}
    ws.cell(tickers["QQQ"], col["average_cost"], 400.0)
    ws.cell(tickers["TQQQ"], col["average_cost"], 60.0)
    ws.cell(tickers["TQQQ"], col["take_profit"], 0.3)
    ws.cell(tickers["SOXX"], col["leverage"], 2)
    wb.save(book)

    cache = tmp_path / "cache"
    fill_cache(cache)
    out = tmp_path / "out.xlsm"
    exe = Path(sys.executable).parent / "xlrebalance"
    env = {**os.environ, "XLREBALANCE_CACHE_DIR": str(cache)}
    run = subprocess.run(
        [str(exe), "refresh", str(book), "--offline", "--out", str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "TQQQ in general is up" in run.stdout  # the take-profit warning

    result = openpyxl.load_workbook(out)
    sheet = result[EXPOSURE_SHEET]
    assert sheet["A4"].value == "NVDA"  # held through VOO, QQQ, XLK, TQQQ and SOXX
    assert 0 < sheet["B4"].value < 0.2
    assert "TQQQ" in sheet["C4"].value
    labels = {sheet.cell(r, 8).value: sheet.cell(r, 9).value for r in range(4, 9)}
    gross = labels["Gross exposure" if lang == "en" else "총노출"]
    net = labels["Net exposure" if lang == "en" else "순노출"]
    assert gross == pytest.approx(net)  # no inverse funds in the seed
    unknown = labels["Holdings unknown" if lang == "en" else "구성 미확인"]
    assert "360750" in unknown  # not in the recorded answers
    accounts = [sheet.cell(r, 8).value for r in range(12, 15)]
    assert accounts == ["general", "isa", "Total" if lang == "en" else "합계"]
    general_gain = sheet.cell(12, 11).value
    assert general_gain == pytest.approx((512.3 - 400) * 12 * 1450 + (88.1 - 60) * 25 * 1450)
    with zipfile.ZipFile(out) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) >= 6  # the Dashboard's three and the Exposure sheet's three


def test_a_refresh_that_finds_no_network_reads_fund_holdings_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The conftest points every quote source at a closed port: the first failure says "no
    # network", and the exposure step must not then try Yahoo for fund holdings.
    from xlrebalance import macros
    from xlrebalance.workbook.book import OpenpyxlBook

    book = tmp_path / "book.xlsm"
    build_workbook(book, example="seed")
    asked: list[bool] = []

    def holdings(portfolio: object, *, offline: bool) -> dict[str, object]:
        asked.append(offline)
        return {}

    monkeypatch.setattr("xlrebalance.quotes.funds.holdings_for", holdings)
    result = macros.refresh(OpenpyxlBook.open(book))
    assert any(w.startswith("no network:") for w in result.plan.warnings)
    assert asked == [True]
