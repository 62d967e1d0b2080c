"""What Excel runs, run the way the xlwings add-in runs it, from a folder that is neither the
checkout nor the workbook's: ``python -c "import xlwings.utils;
xlwings.utils.prepare_sys_path(...); <code>"`` with the arguments the add-in passes when the
``xlwings.conf`` sheet sets no PYTHONPATH. Imports must come from the installed package.

The calling workbook is xlwings' remote engine (``xw.Book(json=...)``) built from a copy of
``rebalance.xlsm``, bound as ``Book.caller()``; quote sources are in-memory fakes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from excel_data import ROOT
from openpyxl import load_workbook
from remote import apply, book_json

from xlrebalance.workbook.build import run_main_path

TEMPLATES = ROOT / "python" / "xlrebalance" / "templates"

# Binds the remote-engine book as the caller and puts fake sources behind every quote fetch.
PRELUDE = """\
import datetime as dt, json, sys
import xlwings.utils
xlwings.utils.prepare_sys_path({args!r})
import xlwings as xw
from xlrebalance.quotes import Quote, QuoteStatus, Sources
from xlrebalance.quotes.fake import FakeSource
payload = json.load(open({payload!r}, encoding="utf-8"))
book = xw.Book(json=payload)
xw.Book.caller = staticmethod(lambda: book)
now = dt.datetime.now(dt.UTC)
def quote(price, currency):
    return Quote("", price, currency, now, "fake", QuoteStatus.OK, fetched=now)
answers = {{"KRW=X": quote(1450.0, "KRW")}}
holdings = next(s for s in payload["sheets"] if s["name"] == "Holdings")["values"]
for row in holdings[3:]:
    ticker = str(row[1])
    if ticker[:1].isdigit():
        answers[ticker + ".KS"] = quote(10000.0, "KRW")
    elif ticker:
        answers[ticker] = quote(100.0, "USD")
yahoo = FakeSource(answers, name="yahoo")
Sources.default = classmethod(lambda cls, cache=None: Sources(yahoo))
"""

EPILOGUE = """
import xlrebalance
modules = {{name: getattr(sys.modules[name], "__file__", None) for name in sys.modules
           if name.split(".")[0] in ("xlrebalance", "xlrebalance_udfs", {extra!r})}}
json.dump({{"actions": book.json()["actions"], "modules": modules, "path": sys.path}},
          open({out!r}, "w", encoding="utf-8"))
"""


def _conf(book: Path) -> dict[str, str]:
    """The hidden xlwings.conf sheet, as the add-in's GetConfig reads it."""
    sheet = load_workbook(book, read_only=True)["xlwings.conf"]
    return {str(k): str(v) for k, v in sheet.iter_rows(values_only=True) if k}


def _runpython_strings() -> list[str]:
    code = (TEMPLATES / "vba" / "RebalanceRibbon.bas").read_text(encoding="ascii")
    return re.findall(r'RunPythonCode\s+"([^"]+)"', code)


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    """The workbook in its own folder with its Run main file, and an unrelated folder to
    start Python in."""
    folder, elsewhere = tmp_path / "My Documents", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    book = folder / "rebalance.xlsm"
    shutil.copy(ROOT / "rebalance.xlsm", book)
    shutil.copy(ROOT / "rebalance.py", run_main_path(book))
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(book_json(book, "0.37.8")), encoding="utf-8")
    return {"book": book, "elsewhere": elsewhere, "payload": payload, "tmp": tmp_path}


def excel_run(places: dict[str, Path], code: str, extra: str = "") -> dict[str, Any]:
    """Run ``code`` as the add-in's RunPython does (Windows: ``python -B -c``)."""
    book = places["book"]
    # AddExcelDir; ActiveWorkbook; ThisWorkbook; three OneDrive/SharePoint settings; then
    # the workbook's PYTHONPATH setting (rebalance.xlsm leaves it unset: empty).
    args = f"true;{book};{book};;;;{_conf(book).get('PYTHONPATH', '')}"
    out = places["tmp"] / "result.json"
    script = (
        PRELUDE.format(args=args, payload=str(places["payload"]))
        + code
        + EPILOGUE.format(out=str(out), extra=extra)
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["XLWINGS_LICENSE_KEY"] = "noncommercial"  # the remote engine needs one
    env["XLREBALANCE_CACHE_DIR"] = str(places["tmp"] / "cache")
    done = subprocess.run(
        [sys.executable, "-B", "-c", script],
        cwd=places["elsewhere"], env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def _not_from_the_checkout_path(result: dict[str, Any]) -> None:
    # Imports resolve through the installed distribution, not through sys.path entries
    # pointing into the checkout (an editable install maps names, it adds no path).
    checkout = {ROOT, ROOT / "python", ROOT / "udfs"}
    for entry in result["path"]:
        assert not entry or Path(entry).resolve() not in checkout, entry


def test_there_are_four_runpython_strings_and_no_relative_pythonpath() -> None:
    assert len(_runpython_strings()) == 4  # Refresh prices, Compute orders, Snapshot, Sync
    conf = _conf(ROOT / "rebalance.xlsm")
    assert conf["UDF Modules"] == "xlrebalance_udfs"
    assert "PYTHONPATH" not in conf


@pytest.mark.parametrize("code", _runpython_strings())
def test_each_ribbon_runpython_string_runs_from_another_folder(
    places: dict[str, Path], code: str
) -> None:
    result = excel_run(places, code)
    assert "xlrebalance.macros" in result["modules"]
    _not_from_the_checkout_path(result)
    actions = result["actions"]
    assert not [a for a in actions if a["func"] == "alert" and "ERROR" in str(a["args"])]
    assert any(a["func"] == "setValues" for a in actions)


def test_udf_module_imports_from_another_folder(places: dict[str, Path]) -> None:
    # What xlwings' UDF server does with "UDF Modules: xlrebalance_udfs".
    code = "import xlrebalance_udfs\nassert callable(xlrebalance_udfs.QUOTE)\n"
    result = excel_run(places, code)
    udfs = result["modules"]["xlrebalance_udfs"]
    assert Path(udfs).name == "xlrebalance_udfs.py"
    _not_from_the_checkout_path(result)


def test_run_main_refreshes_prices_orders_and_history(places: dict[str, Path]) -> None:
    # The add-in's Run main: the module named after the active workbook, from its folder.
    code = "import rebalance;rebalance.main()\n"
    result = excel_run(places, code, extra="rebalance")
    assert Path(result["modules"]["rebalance"]).parent == places["book"].parent
    payload = json.loads(places["payload"].read_text(encoding="utf-8"))
    actions = result["actions"]
    assert not [a for a in actions if a["func"] == "alert"], actions[-1]
    after = apply(payload, actions)
    holdings = after["Holdings"]
    header = holdings[2]
    price, source = header.index("Price"), header.index("Source")
    rows = [r for r in holdings[3:] if r and r[1]]
    assert rows and all(r[source] == "yahoo" for r in rows)
    assert {r[price] for r in rows} <= {100.0, 10000.0}
    orders = after["Orders"]
    sides = {r[3] for r in orders[4:] if len(r) > 3 and r[3]}
    assert sides and sides <= {"BUY", "SELL"}
    history = [r for r in after["History"][3:] if r and r[0]]
    assert len(history) == 1 and history[0][1] == "refresh"
