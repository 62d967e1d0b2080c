"""Where the tool used to stop with a traceback, lose data or relabel old prices, as a user
meets it: the installed ``xlrebalance`` in a subprocess, from a folder outside the checkout.

Each case ends with one clear line on stderr; errors exit 2 and change nothing on disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from test_console_script import ROOT, run

sys.path.insert(0, str(Path(__file__).parent / "quotes"))
from quotes_fakes import FakeYahoo, blackhole

DEAD_END = "http://127.0.0.1:9"  # where tests/conftest.py points every quote source

NO_TRACEBACK = "Traceback"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _new_book(folder: Path, name: str = "mine.xlsm") -> Path:
    book = folder / name
    made = run(["workbook", "new", str(book), "--example", "seed"], folder)
    assert made.returncode == 0, made.stderr
    return book


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _with_env(**env: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


env = contextlib.contextmanager(_with_env)


# -- plan BOOK.xlsm online -------------------------------------------------------------------


def test_plan_of_a_workbook_online_fills_a_blank_price(tmp_path: Path) -> None:
    book = _new_book(tmp_path)
    wb = load_workbook(book, keep_vba=True)
    ws = wb["Holdings"]
    row = next(r for r in range(4, ws.max_row + 1) if ws.cell(r, 2).value == "QQQ")
    ws.cell(row, 8).value = None  # Price: blank, for the quotes to fill
    wb.save(book)
    with FakeYahoo() as yahoo, env(XLREBALANCE_YAHOO_URL=yahoo.url):
        out = run(["plan", str(book), "--json"], tmp_path)
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    # 12 QQQ valued at the fake Yahoo's 512.30: the blank price came from the quotes.
    assert plan["summary"]["weights_before"]["QQQ"] > 0
    assert NO_TRACEBACK not in out.stderr


def test_plan_of_a_workbook_offline_still_refuses_a_blank_price(tmp_path: Path) -> None:
    book = _new_book(tmp_path)
    wb = load_workbook(book, keep_vba=True)
    ws = wb["Holdings"]
    ws.cell(4, 8).value = None
    wb.save(book)
    out = run(["plan", str(book), "--offline"], tmp_path)
    assert out.returncode == 2
    assert _lines(out.stderr) == [_lines(out.stderr)[0]]
    assert "Holdings!H4" in out.stderr


# -- workbook build ----------------------------------------------------------------------------


def test_build_without_out_never_replaces_the_checkouts_workbook(tmp_path: Path) -> None:
    committed = ROOT / "rebalance.xlsm"
    before = (_digest(committed), committed.stat().st_mtime_ns)
    out = run(["workbook", "build"], tmp_path)
    assert out.returncode == 2
    assert _lines(out.stderr) == [
        f"xlrebalance: error: {committed} exists: to build over it, name it: "
        f"xlrebalance workbook build --out {committed}"
    ]
    assert (_digest(committed), committed.stat().st_mtime_ns) == before
    assert list(tmp_path.iterdir()) == []


def test_build_over_a_workbook_with_user_data_refuses_then_force_keeps_a_backup(
    tmp_path: Path,
) -> None:
    book = _new_book(tmp_path, "rebalance.xlsm")
    refreshed = run(["refresh", str(book), "--offline"], tmp_path)
    assert refreshed.returncode == 0, refreshed.stderr
    (tmp_path / "rebalance.xlsm.bak").unlink()
    mine = _digest(book)
    listing = sorted(p.name for p in tmp_path.iterdir())
    out = run(["workbook", "build", "--out", str(book)], tmp_path)
    assert out.returncode == 2
    assert len(_lines(out.stderr)) == 1
    assert "holds data of yours (Orders has computed orders; History has rows)" in out.stderr
    assert _digest(book) == mine
    assert sorted(p.name for p in tmp_path.iterdir()) == listing

    forced = run(["workbook", "build", "--out", str(book), "--force"], tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert _digest(tmp_path / "rebalance.xlsm.bak") == mine
    assert _digest(book) != mine


def test_build_over_an_untouched_build_needs_no_force(tmp_path: Path) -> None:
    book = tmp_path / "rebalance.xlsm"
    first = run(["workbook", "build", "--out", str(book)], tmp_path)
    assert first.returncode == 0, first.stderr
    again = run(["workbook", "build", "--out", str(book)], tmp_path)
    assert again.returncode == 0, again.stderr
    assert not (tmp_path / "rebalance.xlsm.bak").exists()


# -- sheets we own, folders we cannot write ------------------------------------------------------


def test_refresh_recreates_deleted_orders_and_history_sheets(tmp_path: Path) -> None:
    book = _new_book(tmp_path)
    wb = load_workbook(book, keep_vba=True)
    del wb["Orders"]
    del wb["History"]
    wb.save(book)
    out = run(["refresh", str(book), "--offline"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert _lines(out.stderr) == [
        "xlrebalance: the Orders sheet was missing: recreated it",
        "xlrebalance: the History sheet was missing: recreated it",
    ]
    again = load_workbook(book)
    assert {"Orders", "History"} <= set(again.sheetnames)
    history = [r for r in again["History"].iter_rows(min_row=4, values_only=True) if r[0]]
    assert len(history) == 1 and history[0][1] == "refresh"
    assert again["Orders"]["A4"].value == "Account"


@contextlib.contextmanager
def _unwritable(folder: Path) -> Iterator[None]:
    """chmod is no bar to root: there, the immutable attribute makes the folder unwritable."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot make a folder read-only here: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_refresh_in_a_read_only_folder_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    book = _new_book(folder)
    before = _digest(book)
    files = sorted(p.name for p in folder.iterdir())
    with _unwritable(folder):
        out = run(["refresh", str(book), "--offline"], tmp_path)
        listing = sorted(p.name for p in folder.iterdir())
    assert out.returncode == 2
    assert NO_TRACEBACK not in out.stderr
    assert _lines(out.stderr) == [
        f"xlrebalance: error: {folder}: cannot write in this folder (Operation not permitted)"
        ": write elsewhere with --out, or make the folder writable"
    ] or _lines(out.stderr) == [
        f"xlrebalance: error: {folder}: cannot write in this folder (Permission denied)"
        ": write elsewhere with --out, or make the folder writable"
    ]
    assert out.stdout == ""
    assert _digest(book) == before
    assert listing == files


# -- no network ----------------------------------------------------------------------------------


def _dated_book(folder: Path) -> tuple[Path, dt.datetime]:
    """The seed workbook with a price time on every row (one older than the rest)."""
    book = _new_book(folder)
    wb = load_workbook(book, keep_vba=True)
    ws = wb["Holdings"]
    when = dt.datetime(2026, 11, 27, 16, 0)
    for r in range(4, ws.max_row + 1):
        if ws.cell(r, 2).value:
            ws.cell(r, 9).value = when
            ws.cell(r, 10).value = "yahoo"
    ws.cell(4, 9).value = when - dt.timedelta(days=1)
    wb.save(book)
    return book, when


def _holdings(book: Path) -> list[tuple[object, ...]]:
    ws = load_workbook(book)["Holdings"]
    return [r[7:10] for r in ws.iter_rows(min_row=4, values_only=True) if r[1]]


@pytest.mark.parametrize("where", ["closed port", "blackhole"])
def test_refresh_without_a_network_says_so_in_one_line(tmp_path: Path, where: str) -> None:
    book, when = _dated_book(tmp_path)
    prices_before = _holdings(book)
    with contextlib.ExitStack() as stack:
        url = DEAD_END if where == "closed port" else stack.enter_context(blackhole())
        stack.enter_context(env(XLREBALANCE_YAHOO_URL=url))
        out = run(["refresh", str(book)], tmp_path)
    assert out.returncode == 0, out.stderr
    lines = _lines(out.stderr)
    assert len(lines) == 1, out.stderr  # not the KRX notice, not a warning per ticker
    oldest = when - dt.timedelta(days=1)
    assert lines[0].startswith(
        f"xlrebalance: no network: using the prices on the sheet from "
        f"{oldest:%Y-%m-%d %H:%M} to {when:%Y-%m-%d %H:%M} ("
    )
    # Nothing relabelled: price, time and source of every row are as they were.
    assert _holdings(book) == prices_before
    history = load_workbook(book)["History"]
    stale = [r[8] for r in history.iter_rows(min_row=4, values_only=True) if r[0]]
    assert stale == [9]  # every price older than 24 h, as before the refresh


def test_plan_without_a_network_says_so_in_one_line(tmp_path: Path) -> None:
    seed = ROOT / "python" / "xlrebalance" / "templates" / "examples" / "seed.json"
    out = run(["plan", str(seed), "--json"], tmp_path)
    assert out.returncode == 0, out.stderr
    json.loads(out.stdout)
    assert _lines(out.stderr) == [
        f"xlrebalance: no network: using the prices in {seed} "
        "(cannot connect to 127.0.0.1:9 (Connection refused))"
    ]
