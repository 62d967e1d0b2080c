"""The Backtest sheet: filled headless through the Book interface, and by the command."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from backtest_prices import seed_prices

from installed_cli import console_script
from xlrebalance.backtest.macro import backtest_sheet
from xlrebalance.backtest.sheet import BACKTEST_SHEET, METRICS_ROW, SERIES_ROW
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.reader import read_input


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workbook(tmp_path_factory.mktemp("book") / "rebalance.xlsm", example="seed")


def test_template_has_the_sheet_and_its_two_charts(built: Path) -> None:
    wb = openpyxl.load_workbook(built, keep_vba=True)
    assert BACKTEST_SHEET in wb.sheetnames
    assert len(wb[BACKTEST_SHEET]._charts) == 2


def test_headless_run_fills_metrics_and_series(built: Path, tmp_path: Path) -> None:
    prices = seed_prices(tmp_path / "p.csv")
    book = OpenpyxlBook.open(built)
    book.write_block(
        BACKTEST_SHEET, 3, 2, [[dt.datetime(2024, 1, 1), None, None, None, "none monthly",
                                None, str(prices)]]
    )  # fmt: skip
    portfolio = read_input(book, offline=False).portfolio
    run = backtest_sheet(book, portfolio, now=dt.datetime(2026, 12, 2, 12, 0))
    assert [r.policy.name for r in run.results] == ["none", "monthly"]
    block = book.read_block(BACKTEST_SHEET)
    assert block[METRICS_ROW - 1][1:3] == ["none", "monthly"]
    final = block[METRICS_ROW][1:3]
    assert final == pytest.approx([r.performance.final_value for r in run.results])
    assert block[SERIES_ROW - 1][1:3] == ["none", "monthly"]
    months = [row[0] for row in block[SERIES_ROW:] if row and row[0] is not None]
    assert len(months) == 4  # Jan .. Apr 2024 month ends (70 business days)
    assert "2026-12-02 12:00" in str(block[3][0])


def test_command_write_out_keeps_book_and_fills_the_copy(built: Path, tmp_path: Path) -> None:
    prices = seed_prices(tmp_path / "p.csv")
    book = tmp_path / "mine.xlsm"
    shutil.copy(built, book)
    before = book.read_bytes()
    out = tmp_path / "out.xlsm"
    done = subprocess.run(
        [console_script(), "backtest", str(book), "--prices", str(prices), "--start", "2024-01-01",
         "--policy", "quarterly", "--write", "--out", str(out), "--json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)
    assert book.read_bytes() == before
    ws = openpyxl.load_workbook(out, keep_vba=True)[BACKTEST_SHEET]
    assert ws.cell(METRICS_ROW, 2).value == "quarterly"
    assert isinstance(ws.cell(METRICS_ROW + 1, 2).value, float)


def test_write_needs_a_workbook(tmp_path: Path) -> None:
    from backtest_prices import SEED

    prices = seed_prices(tmp_path / "p.csv")
    done = subprocess.run(
        [console_script(), "backtest", str(SEED), "--prices", str(prices), "--write"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2
    assert "is not a workbook" in done.stderr
