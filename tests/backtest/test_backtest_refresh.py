"""``xlrebalance refresh BOOK --backtest`` in a subprocess, and stopping a running backtest."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest
from backtest_prices import seed_prices

from xlrebalance.backtest.macro import backtest_sheet, run_policies
from xlrebalance.backtest.sheet import BACKTEST_SHEET, METRICS_ROW, NOTES_ROW, STATUS_ROW
from xlrebalance.backtest.stop import StopSignal
from xlrebalance.errors import PortfolioError
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.package import save_workbook
from xlrebalance.workbook.reader import read_input


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workbook(tmp_path_factory.mktemp("book") / "rebalance.xlsm", example="seed")


def book_asking(built: Path, folder: Path, policies: str, prices: str = "p.csv") -> Path:
    """A copy of the built book whose Backtest row 3 asks for ``policies`` on a CSV beside it."""
    seed_prices(folder / "p.csv")
    path = folder / "mine.xlsm"
    shutil.copy(built, path)
    book = OpenpyxlBook.open(path)
    book.write_block(
        BACKTEST_SHEET, 3, 2, [[dt.datetime(2024, 1, 1), None, None, None, policies, None, prices]]
    )
    save_workbook(book.workbook, path, source=path, backup=False)
    return path


def refresh(book: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    here = Path(sys.executable).parent / "xlrebalance"
    script = str(here) if here.exists() else shutil.which("xlrebalance")
    assert script is not None
    elsewhere = book.parent / "elsewhere"  # a relative CSV path is the workbook's, not the cwd's
    elsewhere.mkdir(exist_ok=True)
    return subprocess.run(
        [script, "refresh", str(book), *extra],
        cwd=elsewhere, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip


def test_refresh_fills_the_backtest_sheet_in_the_same_save(built: Path, tmp_path: Path) -> None:
    book = book_asking(built, tmp_path, "none quarterly")
    done = refresh(book, "--offline", "--backtest")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    wb = openpyxl.load_workbook(book, keep_vba=True)
    ws = wb[BACKTEST_SHEET]
    assert [ws.cell(METRICS_ROW, c).value for c in (2, 3)] == ["none", "quarterly"]
    assert isinstance(ws.cell(METRICS_ROW + 1, 3).value, float)
    assert "p.csv" in str(ws.cell(STATUS_ROW, 1).value)
    assert wb["Orders"].max_row > 5  # the refresh itself
    assert (tmp_path / "mine.xlsm.bak").exists()  # one save, previous version kept


def test_a_backtest_problem_keeps_the_refresh_and_says_so(built: Path, tmp_path: Path) -> None:
    book = book_asking(built, tmp_path, "none weekly")
    done = refresh(book, "--offline", "--backtest")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "backtest not filled: --policy weekly" in done.stderr
    wb = openpyxl.load_workbook(book, keep_vba=True)
    status = str(wb[BACKTEST_SHEET].cell(STATUS_ROW, 1).value)
    assert status.startswith("ERROR (Backtest): --policy weekly")
    assert wb["Orders"].max_row > 5


def test_no_backtest_sheet_fails_before_anything_is_written(built: Path, tmp_path: Path) -> None:
    path = tmp_path / "old.xlsm"
    shutil.copy(built, path)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    del wb[BACKTEST_SHEET]
    wb.save(path)
    before = path.read_bytes()
    done = refresh(path, "--offline", "--backtest")
    assert done.returncode == 2
    assert "no Backtest sheet" in done.stderr and "Traceback" not in done.stderr
    assert path.read_bytes() == before


def test_a_stop_keeps_the_policies_that_finished(built: Path, tmp_path: Path) -> None:
    book = OpenpyxlBook.open(book_asking(built, tmp_path, "none monthly quarterly"))
    portfolio = read_input(book, offline=False).portfolio
    stop = StopSignal([])
    finished: list[str] = []

    def progress(name: str, done: int, total: int) -> None:
        if done >= total:
            finished.append(name)
            stop.request()  # as if Esc were pressed as the first policy ends

    run = backtest_sheet(book, portfolio, progress=progress, stop=stop, folder=tmp_path)
    assert [r.policy.name for r in run.results] == ["none"]
    assert run.not_run == ("monthly", "quarterly")
    block = book.read_block(BACKTEST_SHEET)
    assert block[METRICS_ROW - 1][1:3] == ["none", None]
    assert block[NOTES_ROW][0] == "stopped by the user; not run: monthly, quarterly"


def test_a_stop_before_any_policy_finished_writes_nothing(built: Path, tmp_path: Path) -> None:
    book = OpenpyxlBook.open(book_asking(built, tmp_path, "none"))
    portfolio = read_input(book, offline=False).portfolio
    stop = StopSignal([])
    stop.request()
    with pytest.raises(
        PortfolioError, match="stopped before the first policy finished: no results"
    ):
        run_policies(
            portfolio, start=None, end=None, specs=["none"], prices=str(tmp_path / "p.csv"),
            offline=True, stop=stop,
        )  # fmt: skip


def test_the_watcher_sees_a_stop_source_between_progress_calls(tmp_path: Path) -> None:
    flag = tmp_path / "stop"
    with StopSignal([flag.exists], interval=0.01) as stop:
        assert stop.watching and not stop.requested
        flag.touch()
        deadline = time.monotonic() + 10
        while not stop.requested and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stop.requested


def test_a_failing_source_is_dropped_not_fatal() -> None:
    def broken() -> bool:
        raise OSError("no keyboard")

    with StopSignal([broken], interval=0.01) as stop:
        time.sleep(0.1)
        assert not stop.requested
        stop.raise_if_requested()  # nothing to raise
