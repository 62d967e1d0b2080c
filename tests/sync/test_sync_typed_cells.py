"""Sync keeps cells as the user typed them when they mean what the remote says: a group's
tickers one per line (or split by Korean commas), an amount typed as text ("300,000")."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sync_backends import ROOT, folder_backend

from xlrebalance.workbook.book import OpenpyxlBook

PASSPHRASE = "another long passphrase nobody guesses 7"


def sync(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    here = Path(sys.executable).parent / ("xlrebalance.exe" if os.name == "nt" else "xlrebalance")
    out = subprocess.run(
        [str(here), "sync", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **env, "PYTHONWARNINGS": "ignore"},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()[0]


def test_cells_that_mean_the_remotes_values_are_not_rewritten(tmp_path: Path) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    book = work / "book.xlsm"
    shutil.copy(ROOT / "rebalance.xlsm", book)
    opened = OpenpyxlBook.open(book)
    typed = {
        ("Groups", "C5"): "XLK\nSOXX\nTQQQ",  # Alt+Enter between the tickers
        ("Groups", "C4"): "TQQQ、",
        ("Cash", "C6"): "300,000",  # isa KRW, typed as text
        ("Cash", "C5"): "$350",  # general USD
    }
    for (sheet, cell), value in typed.items():
        opened.workbook[sheet][cell].value = value
    opened.workbook.save(book)
    backend = folder_backend(tmp_path / "remote")
    env = {**backend.env, "XLREBALANCE_SYNC_PASSPHRASE": PASSPHRASE}
    remote = ["--remote", backend.url]
    assert sync(["push", "book.xlsm", *remote], work, env) == "pushed: revision 1"
    # Another machine changes something else; pulling it rewrites what differs, nothing more.
    doc = work / "portfolio.json"
    doc.write_text(json.dumps({"version": 1, "accounts": [{"id": "tmp"}], "holdings": [],
                               "targets": {"CASH": 1}}))  # fmt: skip
    sync(["pull", "portfolio.json", *remote], work, env)
    data = json.loads(doc.read_text())
    general = next(a for a in data["accounts"] if a["id"] == "general")
    general["cash"]["KRW"] = 1500000
    doc.write_text(json.dumps(data))
    assert sync(["push", "portfolio.json"], work, env) == "pushed: revision 2"
    assert sync(["pull", "book.xlsm", *remote], work, env) == "pulled: revision 2"
    after = OpenpyxlBook.open(book).workbook
    assert after["Cash"]["C4"].value == 1500000  # the change did land
    for (sheet, cell), value in typed.items():
        assert after[sheet][cell].value == value, (sheet, cell)


def test_total_rows_stay_and_pulled_rows_go_below_them(tmp_path: Path) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    book = work / "book.xlsm"
    shutil.copy(ROOT / "rebalance.xlsm", book)
    opened = OpenpyxlBook.open(book)
    holdings, cash = opened.workbook["Holdings"], opened.workbook["Cash"]
    last = holdings.max_row
    holdings.cell(last + 1, 1, "합계")
    holdings.cell(last + 1, 11, f"=SUM(K4:K{last})")
    cash["A7"], cash["C7"] = "Total", "=SUM(C4:C6)"
    opened.workbook.save(book)
    backend = folder_backend(tmp_path / "remote")
    env = {**backend.env, "XLREBALANCE_SYNC_PASSPHRASE": PASSPHRASE}
    remote = ["--remote", backend.url]
    assert sync(["push", "book.xlsm", *remote], work, env) == "pushed: revision 1"
    doc = work / "portfolio.json"
    doc.write_text(json.dumps({"version": 1, "accounts": [{"id": "tmp"}], "holdings": [],
                               "targets": {"CASH": 1}}))  # fmt: skip
    sync(["pull", "portfolio.json", *remote], work, env)
    data = json.loads(doc.read_text())
    data["accounts"].append({"id": "new", "cash": {"KRW": 5}})
    data["holdings"].append({"account": "general", "ticker": "NVDA", "market": "US",
                             "quantity": 0, "currency": "USD"})  # fmt: skip
    doc.write_text(json.dumps(data))
    assert sync(["push", "portfolio.json", *remote], work, env) == "pushed: revision 2"
    assert sync(["pull", "book.xlsm", *remote], work, env) == "pulled: revision 2"
    after = OpenpyxlBook.open(book).workbook
    h, c = after["Holdings"], after["Cash"]
    assert (h.cell(last + 1, 1).value, h.cell(last + 1, 11).value) == ("합계", f"=SUM(K4:K{last})")
    assert (h.cell(last + 2, 1).value, h.cell(last + 2, 2).value) == ("general", "NVDA")
    assert (c["A7"].value, c["C7"].value) == ("Total", "=SUM(C4:C6)")
    assert (c["A8"].value, c["B8"].value, c["C8"].value) == ("new", "KRW", 5)
