"""Hostile workbooks through the installed command: injected formulas, merged and hidden rows,
a stray far-down cell, and several refreshes of one workbook at once."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from installed_cli import console_script
from installed_cli import run_console as xlrebalance
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.package import (
    Fingerprint,
    WorkbookChangedError,
    leftover_temp_files,
    save_workbook,
)
from xlrebalance.workbook.schema import HEADER_ROW, HISTORY_SHEET, HOLDINGS

COLUMN = {c.key: i for i, c in enumerate(HOLDINGS.columns, start=1)}
FIRST = HEADER_ROW + 1  # first Holdings data row

INJECTED = {
    "account": "=cmd|' /C calc'!A0",
    "ticker": '=HYPERLINK("http://evil.example/x","click")',
    "name": "+SUM(1,2)",
}
MORE_NAMES = ["-2+3", "@SUM(A1:A2)", "=1+1"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workbook(tmp_path_factory.mktemp("build") / "rebalance.xlsm", example="seed")


@pytest.fixture()
def book(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "book.xlsm"
    shutil.copyfile(built, target)
    return target


def _edit(path: Path, edit: object) -> None:
    wb = load_workbook(path, keep_vba=True)
    edit(wb)  # type: ignore[operator]
    save_workbook(wb, path, backup=False)


def _sheet_xml(path: Path, title: str) -> str:
    """The XML of the sheet called ``title``."""
    with zipfile.ZipFile(path) as z:
        workbook = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
        rid = re.search(rf'<sheet [^>]*name="{title}"[^>]*r:id="(rId\d+)"', workbook)
        assert rid is not None
        target = re.search(rf'Id="{rid.group(1)}"[^>]*Target="/?(?:xl/)?([^"]+)"', rels)
        if target is None:
            target = re.search(rf'Target="/?(?:xl/)?([^"]+)"[^>]*Id="{rid.group(1)}"', rels)
        assert target is not None
        return z.read("xl/" + target.group(1)).decode()


def test_injected_formulas_are_written_to_orders_as_text(book: Path, tmp_path: Path) -> None:
    def inject(wb: object) -> None:
        ws = wb["Holdings"]  # type: ignore[index]
        row = FIRST
        old_account = ws.cell(row, COLUMN["account"]).value
        for key, text in INJECTED.items():
            ws.cell(row, COLUMN[key], text)
        ws.cell(row, COLUMN["market"], "US")
        ws.cell(row, COLUMN["quantity"], 0)  # a buy is planned for it: the row reaches Orders
        for n, text in enumerate(MORE_NAMES, start=1):
            ws.cell(row + n, COLUMN["name"], text)
        # Every Holdings row of that account moves to the injected account, and its cash too.
        for r in range(FIRST, ws.max_row + 1):
            if ws.cell(r, COLUMN["account"]).value == old_account:
                ws.cell(r, COLUMN["account"], INJECTED["account"])
        cash = wb["Cash"]  # type: ignore[index]
        for r in range(HEADER_ROW + 1, cash.max_row + 1):
            if cash.cell(r, 1).value == old_account:
                cash.cell(r, 1, INJECTED["account"])

    _edit(book, inject)
    out = xlrebalance("refresh", str(book), "--offline", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    orders = _sheet_xml(book, "Orders")
    formulas = re.findall(r"<f>(.*?)</f>", orders)
    assert formulas == []  # nothing on Orders is a formula, let alone an injected one
    wb = load_workbook(book)
    texts = {
        cell.value
        for row in wb["Orders"].iter_rows()
        for cell in row
        if isinstance(cell.value, str)
    }
    ticker = INJECTED["ticker"].upper()  # tickers are normalised to upper case
    for text in [ticker, INJECTED["account"], INJECTED["name"], *MORE_NAMES]:
        written = [c for row in wb["Orders"].iter_rows() for c in row if c.value == text]
        assert all(c.data_type == "s" for c in written), text
    assert {ticker, INJECTED["account"], INJECTED["name"]} <= texts, texts


def test_merged_cells_in_holdings_are_refused_with_their_range(book: Path, tmp_path: Path) -> None:
    before = book.read_bytes()
    _edit(book, lambda wb: wb["Holdings"].merge_cells(f"E{FIRST}:E{FIRST + 1}"))
    edited = book.read_bytes()
    out = xlrebalance("refresh", str(book), "--offline", cwd=tmp_path)
    assert out.returncode == 2
    assert f"Holdings!E{FIRST}:E{FIRST + 1}: merged cells inside the table" in out.stderr
    assert "Traceback" not in out.stderr
    assert book.read_bytes() == edited != before


def test_hidden_and_filtered_rows_are_planned_and_named_on_orders(
    book: Path, tmp_path: Path
) -> None:
    _edit(book, lambda wb: setattr(wb["Holdings"].row_dimensions[FIRST + 2], "hidden", True))
    out = xlrebalance("refresh", str(book), "--offline", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    summary = [
        str(c.value) for row in load_workbook(book)["Orders"].iter_rows() for c in row if c.value
    ]
    assert any(
        f"1 hidden or filtered-out Holdings row(s) were planned too (rows {FIRST + 2})" in s
        for s in summary
    )


def test_a_stray_value_at_the_last_row_is_named_quickly(book: Path, tmp_path: Path) -> None:
    _edit(book, lambda wb: wb["Holdings"].cell(1048576, 1, "stray"))
    start = time.monotonic()
    out = xlrebalance("refresh", str(book), "--offline", cwd=tmp_path)
    elapsed = time.monotonic() - start
    print(f"refresh with a stray value at Holdings!A1048576: {elapsed:.1f} s")
    assert out.returncode == 2, out.stdout
    assert "Holdings!B1048576" in out.stderr or "Holdings!A1048576" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_save_over_a_file_changed_since_it_was_read_is_refused(book: Path) -> None:
    read = Fingerprint.of(book)
    wb = load_workbook(book, keep_vba=True)
    time.sleep(0.01)
    other = load_workbook(book, keep_vba=True)
    other["History"].cell(10, 2, "someone else")
    save_workbook(other, book)  # another writer got there first
    changed = book.read_bytes()
    with pytest.raises(WorkbookChangedError, match="run the command again"):
        save_workbook(wb, book, expect=read)
    assert book.read_bytes() == changed
    assert leftover_temp_files(book) == []


def test_temp_files_of_a_killed_run_are_cleaned_up(book: Path, tmp_path: Path) -> None:
    left = [book.with_name(f".{book.name}.abc123.tmp"), book.with_name(f".{book.name}.bak.tmp")]
    for path in left:
        path.write_bytes(b"half a workbook")
    out = xlrebalance("refresh", str(book), "--offline", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert not any(p.exists() for p in left)
    assert "removed 2 temp file(s)" in out.stderr
    names = sorted(p.name for p in book.parent.iterdir())
    assert names == ["book.xlsm", "book.xlsm.bak"]


def _history_events(path: Path) -> int:
    wb = load_workbook(path, read_only=True)
    try:
        rows = wb[HISTORY_SHEET].iter_rows(min_row=HEADER_ROW + 1, values_only=True)
        return sum(1 for row in rows if row[0])
    finally:
        wb.close()


@pytest.mark.parametrize("writers", [2, 4])
def test_concurrent_refreshes_lose_no_history_row(writers: int, book: Path, tmp_path: Path) -> None:
    rounds = 10
    expected = _history_events(book)
    told_to_retry = 0
    started = time.monotonic()
    for _ in range(rounds):
        runs = [
            subprocess.Popen(
                [console_script(), "refresh", str(book), "--offline"],
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
            for _ in range(writers)
        ]
        for run in runs:
            _, stderr = run.communicate(timeout=900)
            assert "Traceback" not in stderr
            if run.returncode == 0:
                expected += 1
            else:  # a loser must be told, never silently dropped
                assert run.returncode == 2, stderr
                assert "try again" in stderr or "run the command again" in stderr, stderr
                told_to_retry += 1
        assert _history_events(book) == expected
        assert leftover_temp_files(book) == []
    print(
        f"{rounds} rounds x {writers} concurrent refreshes: {rounds * writers - told_to_retry} "
        f"written, {told_to_retry} told to retry, {time.monotonic() - started:.0f} s"
    )
    assert sorted(p.name for p in book.parent.iterdir()) == ["book.xlsm", "book.xlsm.bak"]
