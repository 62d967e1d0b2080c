"""What a new user does to a workbook, through the installed command run from another folder:
a sheet of their own called Orders or History."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.schema import HOLDINGS

COLUMN = {c.key: i for i, c in enumerate(HOLDINGS.columns, start=1)}
NEXT = 15  # the first Holdings row below the seed example's eleven
THEMES = ("XLK", "SOXX", "TQQQ")


def _script() -> str:
    here = Path(sys.executable).parent / ("xlrebalance.exe" if os.name == "nt" else "xlrebalance")
    found = str(here) if here.exists() else shutil.which("xlrebalance")
    if found is None:
        pytest.fail("the xlrebalance console script is not installed beside the interpreter")
    return found


def xlrebalance(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_script(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workbook(tmp_path_factory.mktemp("build") / "rebalance.xlsm", example="seed")


@pytest.fixture()
def book(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "book.xlsm"
    shutil.copyfile(built, target)
    return target


def edit(path: Path, change: Callable[[Any], None]) -> None:
    """Change the workbook as a user's script does: openpyxl, then a plain save."""
    wb = load_workbook(path, keep_vba=True)
    change(wb)
    wb.save(path)


def plan_json(book: Path, cwd: Path) -> dict[str, Any]:
    out = xlrebalance("plan", str(book), "--offline", "--json", cwd=cwd)
    assert out.returncode == 0, out.stderr
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def refused(book: Path, cwd: Path, *args: str) -> str:
    """The command fails with one line (exit 2, no traceback) and the file is as it was."""
    before = book.read_bytes()
    out = xlrebalance(*args, str(book), "--offline", cwd=cwd)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("xlrebalance: error: "), out.stderr
    assert book.read_bytes() == before
    return out.stderr


# -- 2. a sheet of the user's own called Orders or History ----------------------------------


@pytest.mark.parametrize("sheet", ["Orders", "History"])
def test_a_users_own_orders_or_history_sheet_is_never_overwritten(
    book: Path, tmp_path: Path, sheet: str
) -> None:
    def replace_sheet(wb: Any) -> None:
        del wb[sheet]
        mine = wb.create_sheet(sheet)
        mine.append(["Date", "What I bought", "Shares"])
        for n in range(1, 8):
            mine.append([f"2026-0{n}-01", "QQQ", n])

    edit(book, replace_sheet)
    err = refused(book, tmp_path, "refresh")
    assert f"error: {sheet}: this sheet is not the one xlrebalance writes" in err
    assert "rename your sheet" in err
    assert plan_json(book, tmp_path)["orders"]  # planning alone writes nothing: still fine


def test_the_tools_own_sheets_recreated_or_korean_are_written(book: Path, tmp_path: Path) -> None:
    """Not a false alarm: a deleted Orders sheet is recreated, and a refresh after that (an
    Orders sheet holding what the tool wrote) goes through as before."""
    edit(book, lambda wb: wb.remove(wb["Orders"]))
    for _ in range(2):
        out = xlrebalance("refresh", str(book), "--offline", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
    ko = tmp_path / "ko.xlsm"
    build_workbook(ko, lang="ko", example="seed")
    out = xlrebalance("refresh", str(ko), "--offline", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
