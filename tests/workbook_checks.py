"""Checks on workbook files shared by the workbook tests and the bad-input corpus (a uniquely
named module at the top of tests/, which pytest puts on the path with tests/conftest.py)."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from openpyxl import load_workbook

from xlrebalance.workbook.package import save_workbook

Edits = Mapping[tuple[str, str], object]
"""(sheet, cell) -> value to type there."""


def edit_workbook(book: Path, edits: Edits) -> None:
    wb = load_workbook(book, keep_vba=True)
    for (sheet, cell), value in edits.items():
        wb[sheet][cell] = value
    save_workbook(wb, book, backup=False)


def refresh_fails_leaving_file_alone(book: Path, edits: Edits, *, in_process: bool = False) -> str:
    """Type ``edits`` into the workbook, run a headless offline refresh: it must fail (exit
    status 2, no traceback) and leave the file byte for byte. Returns what it printed on
    stderr.

    By default the refresh runs as ``python -m xlrebalance`` in a subprocess; with
    ``in_process`` the same command line goes through :func:`xlrebalance.cli.main` in this
    process (no interpreter start: for tables of many cases)."""
    edit_workbook(book, edits)
    before = book.read_bytes()
    argv = ["refresh", str(book), "--offline"]
    if in_process:
        from xlrebalance.cli import main

        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(argv)
        stderr = err.getvalue()
    else:
        result = subprocess.run(
            [sys.executable, "-m", "xlrebalance", *argv], capture_output=True, text=True
        )
        code, stderr = result.returncode, result.stderr
    assert code == 2, stderr
    assert "Traceback" not in stderr
    assert book.read_bytes() == before
    assert not book.with_name(book.name + ".bak").exists()
    return stderr
