"""The ribbon's Backtest button on xlwings' remote engine, stopped after its first policy: the
sheet gets the policy that finished, a note naming the others, and a message box."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest
from excel_data import ROOT
from remote import apply, book_json

from xlrebalance.backtest import macro
from xlrebalance.backtest.sheet import BACKTEST_SHEET, METRICS_ROW, NOTES_ROW
from xlrebalance.backtest.stop import StopSignal
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.package import save_workbook

sys.path.insert(0, str(ROOT / "tests" / "backtest"))
from backtest_prices import seed_prices


def test_esc_mid_run_keeps_what_finished_and_tells_the_user(xw: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "rebalance.xlsm"
    shutil.copy(ROOT / "rebalance.xlsm", path)
    prices = seed_prices(tmp_path / "p.csv")
    book = OpenpyxlBook.open(path)
    book.write_block(BACKTEST_SHEET, 3, 2, [["2024-01-01", None, None, None, "none monthly",
                                             None, str(prices)]])  # fmt: skip
    save_workbook(book.workbook, path, source=path, backup=False)
    payload = book_json(path, xw.__version__)
    remote = xw.Book(json=payload)
    stop = StopSignal([])
    real = macro.backtest_sheet

    def stopped_after_the_first(*args: object, **kwargs: object) -> macro.BacktestRun:
        progress = kwargs["progress"]

        def and_stop(name: str, done: int, total: int) -> None:
            progress(name, done, total)  # type: ignore[operator]
            if done >= total:
                stop.request()  # what the Esc watcher does

        return real(*args, **{**kwargs, "progress": and_stop})  # type: ignore[arg-type]

    patch = pytest.MonkeyPatch()
    patch.setattr(macro, "backtest_sheet", stopped_after_the_first)
    try:
        assert macro.run_in_excel(remote, stop=stop)
    finally:
        patch.undo()
    actions = remote.json()["actions"]
    sheet = apply(payload, actions)[BACKTEST_SHEET]
    assert sheet[METRICS_ROW - 1][1] == "none"
    assert sheet[METRICS_ROW - 1][2] in ("", None)
    assert sheet[NOTES_ROW][0] == "stopped by the user; not run: monthly"
    alerts = [a for a in actions if a["func"] == "alert"]
    assert alerts and "not run: monthly" in str(alerts[0]["args"])
