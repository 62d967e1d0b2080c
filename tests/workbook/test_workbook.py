"""The built workbook: package structure, VBA and ribbon, headless refresh, round trip."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName

from workbook_checks import refresh_fails_leaving_file_alone
from xlrebalance.errors import PortfolioError
from xlrebalance.macros import refresh
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.package import (
    CUSTOMUI_PART,
    RIBBON_REL_TYPE,
    VBA_PART,
    WorkbookLockedError,
    save_workbook,
)
from xlrebalance.workbook.reader import read_input
from xlrebalance.workbook.schema import HOLDINGS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "python" / "xlrebalance" / "templates"
CUSTOMUI_NS = "{http://schemas.microsoft.com/office/2009/07/customui}"


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workbook(tmp_path_factory.mktemp("build") / "rebalance.xlsm")


@pytest.fixture()
def book_copy(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "book.xlsm"
    shutil.copyfile(built, target)
    return target


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _assert_ribbon_wired(path: Path) -> None:
    parts = _parts(path)
    assert CUSTOMUI_PART in parts and VBA_PART in parts
    rels = ET.fromstring(parts["_rels/.rels"])
    targets = {r.get("Type"): r.get("Target") for r in rels}
    assert targets.get(RIBBON_REL_TYPE) == CUSTOMUI_PART
    types = parts["[Content_Types].xml"].decode()
    assert (
        'PartName="/xl/vbaProject.bin" ContentType="application/vnd.ms-office.vbaProject"' in types
    )
    assert "application/vnd.ms-excel.sheet.macroEnabled.main+xml" in types
    assert 'Extension="xml"' in types
    wb_rels = parts["xl/_rels/workbook.xml.rels"].decode()
    assert "vbaProject.bin" in wb_rels


def _vba_modules(path: Path) -> dict[str, str]:
    # oletools 0.60 calls pyparsing's deprecated camelCase API at import.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from oletools.olevba import VBA_Parser

        parser = VBA_Parser(str(path))
        try:
            return {name: code for _, _, name, code in parser.extract_macros()}
        finally:
            parser.close()


def _bas_code(path: Path) -> str:
    lines = path.read_text(encoding="ascii").splitlines()
    return "\n".join(line for line in lines if not line.startswith("Attribute ")).strip()


def test_build_is_reproducible_and_committed_workbook_is_a_fresh_build(
    built: Path, tmp_path: Path
) -> None:
    # The file's own name is an input (the Orders hint names it); same name, same bytes.
    again = build_workbook(tmp_path / built.name)
    assert built.read_bytes() == again.read_bytes()
    committed = ROOT / "rebalance.xlsm"
    assert _parts(committed) == _parts(built), (
        "rebuild: xlrebalance workbook build --out rebalance.xlsm"
    )


def test_vba_reads_back_as_the_bas_sources(built: Path) -> None:
    modules = _vba_modules(built)
    sources = sorted((TEMPLATES / "vba").glob("*.bas"))
    assert sources
    for source in sources:
        code = modules[f"{source.stem}.bas"].replace("\r\n", "\n")
        assert "\n".join(
            line for line in code.splitlines() if not line.startswith("Attribute ")
        ).strip() == _bas_code(source)


@pytest.mark.parametrize("ribbon", ["customUI14.xml", "customUI14.ko.xml"])
def test_every_ribbon_action_is_a_vba_callback(ribbon: str) -> None:
    root = ET.parse(TEMPLATES / "ribbon" / ribbon).getroot()
    actions = [b.get("onAction") for b in root.iter(f"{CUSTOMUI_NS}button")]
    assert len(actions) >= 3
    code = "\n".join(_bas_code(p) for p in (TEMPLATES / "vba").glob("*.bas"))
    for action in actions:
        pattern = rf"^(Public )?Sub {action}\(control As Office\.IRibbonControl\)$"
        assert re.search(pattern, code, re.MULTILINE), action
    for button in root.iter(f"{CUSTOMUI_NS}button"):
        assert button.get("imageMso")


def test_every_runpython_string_imports_a_real_function() -> None:
    code = "\n".join(_bas_code(p) for p in (TEMPLATES / "vba").glob("*.bas"))
    calls = re.findall(r'RunPython\w*\s+"([^"]+)"', code)
    assert len(calls) == 5  # Refresh prices, Compute orders, Snapshot, Sync, Backtest
    for call in calls:
        match = re.fullmatch(r"import ([\w.]+) as (\w+); \2\.(\w+)\(\)", call)
        assert match, call
        module = importlib.import_module(match.group(1))
        assert callable(getattr(module, match.group(3)))


def test_ribbon_relationship_present_after_build_and_refresh(
    book_copy: Path, tmp_path: Path
) -> None:
    _assert_ribbon_wired(book_copy)
    out = tmp_path / "out.xlsm"
    book = OpenpyxlBook.open(book_copy)
    refresh(book, offline=True)
    save_workbook(book.workbook, out)
    _assert_ribbon_wired(out)
    assert _vba_modules(out).keys() == _vba_modules(book_copy).keys()
    assert _parts(out)[CUSTOMUI_PART] == _parts(book_copy)[CUSTOMUI_PART]
    assert _parts(out)[VBA_PART] == _parts(book_copy)[VBA_PART]


def test_workbook_plan_matches_the_json_plan(built: Path) -> None:
    from xlrebalance.document import load_portfolio, plan_to_dict
    from xlrebalance.planner import plan

    sheet = read_input(OpenpyxlBook.open(built)).portfolio
    seed = load_portfolio(TEMPLATES / "examples" / "seed.json")
    assert sheet.targets == pytest.approx(dict(seed.targets))
    assert sheet.holdings == seed.holdings
    assert plan_to_dict(plan(sheet))["orders"] == plan_to_dict(plan(seed))["orders"]


def test_refresh_round_trip_keeps_user_content(book_copy: Path, tmp_path: Path) -> None:
    wb = load_workbook(book_copy, keep_vba=True)
    mine = wb.create_sheet("My notes")
    mine["A1"] = "keep me"
    mine["B2"] = "=Holdings!E4*2"
    mine["A1"].font = Font(bold=True, color="FF0000")
    mine["A1"].comment = Comment("my comment", "me")
    beside = get_column_letter(len(HOLDINGS.columns) + 2)  # a user column beside the table
    wb["Holdings"][f"{beside}4"] = "=E4+1"
    wb.defined_names["MyName"] = DefinedName("MyName", attr_text="'My notes'!$A$1")
    save_workbook(wb, book_copy, backup=False)

    out = tmp_path / "out.xlsm"
    result = subprocess.run(
        [sys.executable, "-m", "xlrebalance", "refresh", str(book_copy), "--offline",
         "--out", str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "Drift" in result.stdout and "STALE PRICES" in result.stdout
    after = load_workbook(out, keep_vba=True)
    notes = after["My notes"]
    assert notes["A1"].value == "keep me" and notes["A1"].font.bold
    assert notes["A1"].comment is not None and notes["A1"].comment.text == "my comment"
    assert notes["B2"].value == "=Holdings!E4*2"
    assert after["Holdings"][f"{beside}4"].value == "=E4+1"
    assert after["Holdings"]["K4"].value.startswith("=IF(")
    assert "MyName" in after.defined_names
    assert "HoldingsTable" in after["Holdings"].tables
    orders = after["Orders"]
    assert orders["A2"].value.startswith("STALE PRICES")
    assert orders["A5"].value in {"general", "isa"} and orders["D5"].value in {"BUY", "SELL"}
    summary = {
        orders.cell(row=r, column=14).value: orders.cell(row=r, column=15).value
        for r in range(4, 40)
    }
    assert summary["Solver status"] in {"optimal", "time_limit", "heuristic"}
    assert summary["Drift after"] < summary["Drift before"]
    history = after["History"]
    assert history["B4"].value == "refresh" and history["C4"].value > 0
    assert after["History"].tables["HistoryTable"].ref == "A3:I4"
    assert book_copy.read_bytes() != out.read_bytes()


def test_second_refresh_in_place_keeps_one_backup_and_appends_history(book_copy: Path) -> None:
    for _ in range(2):
        book = OpenpyxlBook.open(book_copy)
        refresh(book, offline=True)
        save_workbook(book.workbook, book_copy)
    backup = book_copy.with_name(book_copy.name + ".bak")
    assert backup.exists()
    assert sorted(p.name for p in book_copy.parent.iterdir()) == ["book.xlsm", "book.xlsm.bak"]
    history = load_workbook(book_copy)["History"]
    assert [history.cell(row=r, column=2).value for r in (4, 5)] == ["refresh", "refresh"]
    assert history.tables["HistoryTable"].ref == "A3:I5"


@pytest.mark.parametrize(
    ("cell", "value", "message"),
    [
        ("E7", "ten", 'Holdings!E7: quantity "ten" is not a number'),
        ("H5", -3, "Holdings!H5: SPY: expected a positive price, got -3"),
        ("C6", "JP", 'Holdings!C6: market "JP" is not US or KR'),
        ("A8", "pension", "Holdings!A8: TQQQ: account 'pension' has no row on the Cash sheet"),
        ("M4", 0.5, "Holdings!M4:M14 (Target): target weights sum to 1.3"),
        ("O9", "maybe", 'Holdings!O9: locked "maybe" is not TRUE or FALSE'),
    ],
)
def test_bad_input_names_sheet_and_cell_and_leaves_file_unchanged(
    book_copy: Path, cell: str, value: object, message: str, tmp_path: Path
) -> None:
    stderr = _refresh_fails_leaving_file_alone(book_copy, "Holdings", cell, value)
    assert message in stderr
    assert not book_copy.with_name(book_copy.name + ".bak").exists()


def _refresh_fails_leaving_file_alone(book: Path, sheet: str, cell: str, value: object) -> str:
    """Put ``value`` in ``sheet!cell``, run a headless refresh; it must fail (exit 2) and
    leave the file byte for byte. Returns what it printed on stderr."""
    return refresh_fails_leaving_file_alone(book, {(sheet, cell): value})


def test_bad_setting_names_its_cell(book_copy: Path) -> None:
    wb = load_workbook(book_copy, keep_vba=True)
    ws = wb["Settings"]
    row = next(r for r in range(4, 40) if ws.cell(row=r, column=1).value == "settings.fx_spread")
    ws.cell(row=row, column=3).value = "lots"
    save_workbook(wb, book_copy, backup=False)
    with pytest.raises(
        PortfolioError, match=rf'^Settings!C{row}: fx spread "lots" is not a number'
    ):
        read_input(OpenpyxlBook.open(book_copy))


def test_columns_are_found_by_header_not_position(book_copy: Path) -> None:
    wb = load_workbook(book_copy, keep_vba=True)
    ws = wb["Holdings"]
    ws.insert_cols(1)
    ws["A3"] = "My column"
    save_workbook(wb, book_copy, backup=False)
    with pytest.raises(PortfolioError, match=r'^Holdings!F7: quantity "ten"'):
        wb2 = load_workbook(book_copy, keep_vba=True)
        wb2["Holdings"]["F7"] = "ten"
        read_input(OpenpyxlBook(wb2, book_copy))
    assert read_input(OpenpyxlBook.open(book_copy)).holdings_columns["quantity"] == 6


def test_refusal_while_open_in_excel(book_copy: Path) -> None:
    lock = book_copy.with_name("~$" + book_copy.name)
    lock.write_bytes(b"owner")
    before = book_copy.read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "xlrebalance", "refresh", str(book_copy), "--offline"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2 and "is open in Excel" in result.stderr
    assert book_copy.read_bytes() == before
    with pytest.raises(WorkbookLockedError):
        save_workbook(load_workbook(book_copy, keep_vba=True), book_copy)


def test_korean_workbook_and_examples(tmp_path: Path) -> None:
    path = tmp_path / "ko.xlsm"
    subprocess.run(
        [sys.executable, "-m", "xlrebalance", "workbook", "new", str(path), "--lang", "ko",
         "--example", "seed"],
        check=True, capture_output=True,
    )  # fmt: skip
    wb = load_workbook(path)
    assert wb["Holdings"]["E3"].value == "수량"
    inp = read_input(OpenpyxlBook.open(path))
    assert inp.lang == "ko" and len(inp.portfolio.holdings) == 11
    assert "리밸런싱" in _parts(path)[CUSTOMUI_PART].decode()
    book = OpenpyxlBook.open(path)
    refresh(book, offline=True)
    assert book.workbook["Orders"]["A4"].value == "계좌"
    empty = build_workbook(tmp_path / "empty.xlsm", example="empty")
    last = get_column_letter(len(HOLDINGS.columns))
    assert load_workbook(empty)["Holdings"].tables["HoldingsTable"].ref == f"A3:{last}4"
    again = subprocess.run(
        [sys.executable, "-m", "xlrebalance", "workbook", "new", str(path)], capture_output=True
    )
    assert again.returncode == 2  # never overwrites


def test_plan_command_accepts_a_workbook(built: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "xlrebalance", "plan", str(built), "--offline", "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert '"orders"' in out.stdout


def test_caller_entry_points_need_excel() -> None:
    from xlrebalance import macros

    for name in ("refresh_prices_caller", "compute_orders_caller", "snapshot_caller"):
        assert callable(getattr(macros, name))


def test_planner_errors_are_named_by_cell_too(book_copy: Path) -> None:
    # Withdrawing more than the whole book is found by the planner, which names the field
    # (settings.contribution.KRW); the refresh reports the Settings cell instead.
    stderr = _refresh_fails_leaving_file_alone(book_copy, "Settings", "C7", -(10**12))
    assert "Settings!C7: a withdrawal of" in stderr, stderr


def test_committed_run_main_file_is_the_template() -> None:
    assert (ROOT / "rebalance.py").read_bytes() == (TEMPLATES / "run_main.py").read_bytes()


def test_workbook_new_writes_the_run_main_file_but_keeps_a_users(tmp_path: Path) -> None:
    from xlrebalance.cli import main

    assert main(["workbook", "new", str(tmp_path / "mine.xlsm")]) == 0
    assert (tmp_path / "mine.py").read_bytes() == (TEMPLATES / "run_main.py").read_bytes()
    (tmp_path / "other.py").write_text("def main(): pass\n", encoding="utf-8")
    assert main(["workbook", "new", str(tmp_path / "other.xlsm")]) == 0
    assert (tmp_path / "other.py").read_text(encoding="utf-8") == "def main(): pass\n"
    # xlwings imports the workbook's name as a module: not possible for "my book".
    assert main(["workbook", "new", str(tmp_path / "my book.xlsm")]) == 0
    assert not (tmp_path / "my book.py").exists()


def test_backtest_button_keeps_esc_for_python(built: Path) -> None:
    # Read back from the built file: Esc must stop the backtest (Python watches the key), not
    # interrupt the VBA macro that waits for it.
    code = _vba_modules(built)["RebalanceRibbon.bas"].replace("\r\n", "\n")
    body = code.split("Sub OnBacktest(", 1)[1].split("End Sub", 1)[0]
    assert body.index("Excel.Application.EnableCancelKey = 0") < body.index("RunPythonCode")
