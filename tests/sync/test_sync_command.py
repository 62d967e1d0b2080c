"""``xlrebalance sync`` as users run it: the installed console script in a subprocess, from a
folder outside the checkout, a workbook and a JSON file syncing through each back end."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sync_backends import ROOT, Backend

from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.reader import read_input

PASSPHRASE = "a long passphrase nobody guesses 42"


def script() -> str:
    here = Path(sys.executable).parent / ("xlrebalance.exe" if os.name == "nt" else "xlrebalance")
    found = str(here) if here.exists() else shutil.which("xlrebalance")
    assert found, "the xlrebalance console script is not installed beside the interpreter"
    return found


def sync(args: list[str], cwd: Path, env: dict[str, str]) -> list[str]:
    out = subprocess.run(
        [script(), "sync", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **env, "PYTHONWARNINGS": "ignore"},
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    # Strict: a first line "<action>: revision N", then known line kinds only.
    assert re.fullmatch(r"[a-z ]+: revision \d+", lines[0]), out.stdout
    for line in lines[1:]:
        assert line.startswith(("this copy ", "conflict: ", "note: ")) or line, out.stdout
    assert re.fullmatch(r"transfer: \d+ round trips, \d+ bytes sent, \d+ bytes received",
                        out.stderr.strip().splitlines()[-1])  # fmt: skip
    return lines


def holdings(book: Path) -> dict[tuple[str, str], tuple[float, float | None]]:
    portfolio = read_input(OpenpyxlBook.open(book), offline=False).portfolio
    return {(h.account, h.ticker): (h.quantity, h.price) for h in portfolio.holdings}


def every_part(path: Path) -> bytes:
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


def test_workbook_and_json_round_trip_through_the_console_script(
    backend: Backend, tmp_path: Path
) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    book = work / "book.xlsm"
    shutil.copy(ROOT / "rebalance.xlsm", book)
    env = {**backend.env, "XLREBALANCE_SYNC_PASSPHRASE": PASSPHRASE}
    remote = ["--remote", backend.url]
    before = holdings(book)

    assert sync(["status", "book.xlsm", *remote], work, env)[0] == "empty: revision 0"
    assert sync(["push", "book.xlsm", *remote], work, env)[0] == "pushed: revision 1"
    stored = b"".join(backend.files().values())
    assert b"VOO" not in stored and b"general" not in stored  # encrypted at rest

    doc = work / "portfolio.json"
    doc.write_text(json.dumps({"version": 1, "accounts": [{"id": "tmp"}], "holdings": [],
                               "targets": {"CASH": 1}}))  # fmt: skip
    assert sync(["pull", "portfolio.json", *remote], work, env)[:2] == [
        "pulled: revision 1",
        "this copy changed",
    ]
    data = json.loads(doc.read_text())
    assert {(h["account"], h["ticker"]) for h in data["holdings"]} == set(before)
    assert all("price" not in h for h in data["holdings"])  # prices do not travel
    # Edit on the JSON side: a quantity, a new row, a snapshot; push (the remote is
    # remembered beside the file).
    first = data["holdings"][0]
    first["quantity"] = first["quantity"] + 5
    data["holdings"].append({"account": first["account"], "ticker": "SCHD", "quantity": 7})
    data["history"] = [{"time": "2026-03-01T09:00:00", "event": "snapshot", "value": 1e8}]
    doc.write_text(json.dumps(data))
    assert sync(["status", "portfolio.json"], work, env)[0] == "ahead: revision 1"
    assert sync(["push", "portfolio.json"], work, env)[0] == "pushed: revision 2"

    assert sync(["status", "book.xlsm", *remote], work, env)[0] == "behind: revision 2"
    assert sync(["pull", "book.xlsm", *remote], work, env)[:2] == [
        "pulled: revision 2",
        "this copy changed",
    ]
    after = holdings(book)
    key = (first["account"], first["ticker"])
    assert after[key] == (before[key][0] + 5, before[key][1])  # quantity synced, price kept
    assert after[(first["account"], "SCHD")] == (7.0, None)
    opened = OpenpyxlBook.open(book)
    sheet = opened.workbook["Holdings"]
    schd = next(r[0].row for r in sheet.iter_rows(min_col=2, max_col=2) if r[0].value == "SCHD")
    table_end = int(
        sheet.tables["HoldingsTable"].ref.split(":")[1].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    )
    assert table_end >= schd  # the new row joined the table
    history = opened.read_block("History")
    assert any(row[1] == "snapshot" and row[2] == 1e8 for row in history)
    assert sync(["status", "book.xlsm", *remote], work, env)[0] == "up to date: revision 2"

    # The saved workbook holds no secret: not the passphrase, not the storage credentials.
    parts = every_part(book)
    for value in env.values():
        if "://" not in value:  # endpoints are addresses, not secrets
            assert value.encode() not in parts, value


def test_a_url_with_a_password_is_refused(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsm"
    shutil.copy(ROOT / "rebalance.xlsm", book)
    saved = book.read_bytes()
    out = subprocess.run(
        [script(), "sync", "push", str(book), "--remote", "webdav://bob:hunter2@nas.local/x"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 2
    assert "no user name or password" in out.stderr and "hunter2" not in out.stderr
    assert book.read_bytes() == saved


@pytest.mark.parametrize("kind", ["workbook", "json"])
def test_no_remote_is_a_clear_error(tmp_path: Path, kind: str) -> None:
    if kind == "workbook":
        path = tmp_path / "book.xlsm"
        shutil.copy(ROOT / "rebalance.xlsm", path)
    else:
        path = tmp_path / "p.json"
        shutil.copy(ROOT / "python" / "xlrebalance" / "templates" / "examples" / "seed.json", path)
    out = subprocess.run([script(), "sync", "push", str(path)], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 2 and "no remote" in out.stderr


def test_a_currency_typed_as_a_name_is_the_same_cash_row(tmp_path: Path) -> None:
    """A Cash row whose currency reads '원' is the KRW row: a pulled amount lands on it, and no
    second KRW row appears beside it."""
    from sync_backends import folder_backend

    work = tmp_path / "elsewhere"
    work.mkdir()
    book = work / "book.xlsm"
    shutil.copy(ROOT / "rebalance.xlsm", book)
    opened = OpenpyxlBook.open(book)
    opened.workbook["Cash"]["B4"].value = "원"  # general / KRW, as a Korean user may type it
    opened.workbook.save(book)
    backend = folder_backend(tmp_path / "remote")
    env = {**backend.env, "XLREBALANCE_SYNC_PASSPHRASE": PASSPHRASE}
    remote = ["--remote", backend.url]
    assert sync(["push", "book.xlsm", *remote], work, env)[0] == "pushed: revision 1"
    doc = work / "portfolio.json"
    doc.write_text(json.dumps({"version": 1, "accounts": [{"id": "tmp"}], "holdings": [],
                               "targets": {"CASH": 1}}))  # fmt: skip
    sync(["pull", "portfolio.json", *remote], work, env)
    data = json.loads(doc.read_text())
    general = next(a for a in data["accounts"] if a["id"] == "general")
    assert general["cash"]["KRW"] == 1200000
    general["cash"]["KRW"] = 1500000
    doc.write_text(json.dumps(data))
    assert sync(["push", "portfolio.json"], work, env)[0] == "pushed: revision 2"
    assert sync(["pull", "book.xlsm", *remote], work, env)[0] == "pulled: revision 2"
    cash = OpenpyxlBook.open(book).read_block("Cash")
    # Updated where the user keeps it, as the user typed it; not cleared and re-added below.
    assert cash[3][:3] == ["general", "원", 1500000], cash
    assert [r[:2] for r in cash[4:] if r[0] == "general"] == [["general", "USD"]], cash
