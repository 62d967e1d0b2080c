"""The user's own sheets survive a refresh byte for byte, without openpyxl loading their cells.

The workbook is made to look like one Excel saved: every string in a shared-strings table,
``x14ac`` row attributes, and a style index that points at a duplicate ``cellXfs`` entry (which
openpyxl must not fold into the first one).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.table import Table

from excel_shaped import sheet_parts, store_as_excel
from installed_cli import run_console as xlrebalance
from xlrebalance.workbook import foreign
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.package import WorkbookChangedError, save_workbook
from xlrebalance.workbook.schema import HISTORY_SHEET, OWNED_SHEETS

USER_SHEET = "MyData"
USER_ROWS = 300
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.fixture(scope="module")
def user_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = build_workbook(tmp_path_factory.mktemp("foreign") / "book.xlsm", example="seed")
    wb = load_workbook(path, keep_vba=True)
    ws = wb.create_sheet(USER_SHEET)
    for r in range(1, USER_ROWS + 1):
        ws.cell(r, 1, f"item {r} <&> 'ü'")
        ws.cell(r, 2, r * 1.5).font = Font(bold=True, color="FF0000" if r % 3 == 0 else None)
        ws.cell(r, 3, f"=B{r}*2")
        ws.cell(r, 4, "same text").fill = PatternFill("solid", fgColor="00FF00")
        ws.cell(r, 5, r).number_format = "0.000%"
    ws.merge_cells("F1:G3")
    ws["F1"] = "merged"
    ws["H1"] = "link"
    ws["H1"].hyperlink = "http://example.invalid/page"
    ws["H2"] = "noted"
    ws["H2"].comment = Comment("a note", "me")
    ws.column_dimensions["A"].width = 30
    for c, title in enumerate(("Code", "Amount", "Note"), start=10):
        ws.cell(1, c, title)
    for r in range(2, 6):
        for c, value in enumerate((f"C{r}", r * 10, "x"), start=10):
            ws.cell(r, c, value)
    ws.add_table(Table(displayName="MyTable", ref="J1:L5"))
    save_workbook(wb, path, backup=False)
    store_as_excel(path, USER_SHEET)
    return path


def _cells(path: Path) -> dict[str, tuple[object, ...]]:
    """Every cell of the user sheet as openpyxl reads it: value, font, fill, format."""
    wb = load_workbook(io.BytesIO(path.read_bytes()))
    ws = wb[USER_SHEET]
    found = {}
    for row in ws.iter_rows():
        for c in row:
            if c.value is None and not c.has_style:
                continue
            found[c.coordinate] = (
                c.value,
                c.font.b,
                c.font.color.rgb if c.font.color is not None else None,
                c.fill.fgColor.rgb,
                c.number_format,
            )
    found["merged"] = tuple(str(r) for r in ws.merged_cells.ranges)
    found["link"] = (ws["H1"].hyperlink.target if ws["H1"].hyperlink else None,)
    found["comment"] = (ws["H2"].comment.text if ws["H2"].comment else None,)
    found["width"] = (ws.column_dimensions["A"].width,)
    found["tables"] = tuple(
        (t.displayName, t.ref, tuple(col.name for col in t.tableColumns))
        for t in ws.tables.values()
    )
    return found


def _part(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read(name)


def _sheet_data(path: Path) -> bytes:
    data = _part(path, sheet_parts(path)[USER_SHEET])
    found = re.search(rb"<sheetData>.*</sheetData>", data, re.S)
    assert found
    return found.group(0)


def _history_rows(path: Path) -> int:
    wb = load_workbook(io.BytesIO(path.read_bytes()))
    return sum(1 for row in wb[HISTORY_SHEET].iter_rows(values_only=True) if row[1] == "refresh")


def test_a_user_sheet_survives_a_refresh_byte_for_byte(user_book: Path, tmp_path: Path) -> None:
    book = tmp_path / "book.xlsm"
    shutil.copyfile(user_book, book)
    before = _cells(book)
    data_before = _sheet_data(book)
    strings_before = _part(book, "xl/sharedStrings.xml")
    assert b"x14ac:dyDescent" in data_before and b' t="s"' in data_before

    run = xlrebalance("refresh", str(book), "--offline", cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert _sheet_data(book) == data_before
    # The user's strings are the table's first items, in their order: their indices hold.
    items = re.findall(rb"<si>.*?</si>", _part(book, "xl/sharedStrings.xml"), re.S)
    assert items[: len(re.findall(rb"<si>", strings_before))] == re.findall(
        rb"<si>.*?</si>", strings_before, re.S
    )
    assert _cells(book) == before
    assert before["tables"] == (("MyTable", "J1:L5", ("Code", "Amount", "Note")),)
    bold_twin = _cells(book)["B2"]
    assert bold_twin[1] is True  # styled through the duplicate cellXfs entry
    # Our sheets were read (strings inline for openpyxl) and written.
    assert _history_rows(book) == _history_rows(user_book) + 1
    orders = load_workbook(io.BytesIO(book.read_bytes()))["Orders"]
    assert any(row[1] for row in orders.iter_rows(min_row=5, values_only=True) if row)
    holdings = load_workbook(io.BytesIO(book.read_bytes()))["Holdings"]
    assert holdings["B4"].value == load_workbook(user_book)["Holdings"]["B4"].value
    # Every part is well-formed XML (the x14ac prefix is declared where the rows use it).
    with zipfile.ZipFile(book) as z:
        for name in z.namelist():
            if name.endswith((".xml", ".rels")):
                ET.fromstring(z.read(name))
    # A second refresh keeps it all again (the restored file is a valid source too).
    run = xlrebalance("refresh", str(book), "--offline", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert _sheet_data(book) == data_before
    assert _cells(book) == before
    assert _history_rows(book) == _history_rows(user_book) + 2


def test_plan_reads_a_workbook_with_a_user_sheet(user_book: Path, tmp_path: Path) -> None:
    run = xlrebalance("plan", str(user_book), "--offline", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr


def test_a_stray_value_at_the_last_row_is_named_beside_a_user_sheet(
    user_book: Path, tmp_path: Path
) -> None:
    book = tmp_path / "book.xlsm"
    shutil.copyfile(user_book, book)
    wb = load_workbook(book, keep_vba=True)
    wb["Holdings"].cell(row=1_048_576, column=1, value="stray")
    save_workbook(wb, book, backup=False)
    before = book.read_bytes()
    run = xlrebalance("refresh", str(book), "--offline", cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert re.search(r"Holdings!\w1048576", run.stderr), run.stderr
    assert "Traceback" not in run.stderr
    assert book.read_bytes() == before


def test_the_stripped_package_has_no_foreign_cells_and_no_shared_strings(
    user_book: Path,
) -> None:
    found = foreign.strip(user_book, OWNED_SHEETS)
    assert found is not None
    assert set(found.sheets) == {USER_SHEET}
    assert found.strings_part == "xl/sharedStrings.xml"
    with zipfile.ZipFile(io.BytesIO(found.stripped)) as z:
        user = z.read(sheet_parts(user_book)[USER_SHEET])
        holdings = z.read(sheet_parts(user_book)["Holdings"])
        strings = z.read("xl/sharedStrings.xml")
    assert b"<sheetData/>" in user and b"<mergeCell " in user and b"<hyperlink " in user
    assert b' t="s"' not in holdings and b't="inlineStr"' in holdings
    assert b"<si" not in strings


def test_no_user_sheet_means_nothing_stripped(tmp_path: Path) -> None:
    book = build_workbook(tmp_path / "plain.xlsm", example="seed")
    assert foreign.strip(book, OWNED_SHEETS) is None


@pytest.mark.parametrize("chunk", [1, 7, 13, 64, 1 << 20])
def test_sheet_sections_split_anywhere_rebuild_the_sheet(
    user_book: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunk boundaries inside tags or inside ``</sheetData>`` lose or move no byte."""
    monkeypatch.setattr(foreign, "CHUNK", chunk)
    data = _part(user_book, sheet_parts(user_book)[USER_SHEET])
    sections = list(foreign._sections(io.BytesIO(data)))
    assert b"".join(part for _, part in sections) == data
    body = b"".join(part for kind, part in sections if kind == "data")
    assert body == _sheet_data(user_book)
    empty = b'<worksheet><cols/><sheetData/><pageMargins left="1"/></worksheet>'
    parts = list(foreign._sections(io.BytesIO(empty)))
    assert b"".join(p for k, p in parts if k == "data") == b"<sheetData/>"
    assert b"".join(p for _, p in parts) == empty


@pytest.mark.skipif(
    SOFFICE is None and not os.environ.get("CI"),
    reason="LibreOffice (soffice) not installed: .ci/run installs it",
)
def test_libreoffice_reads_the_user_sheet_as_before(user_book: Path, tmp_path: Path) -> None:
    assert SOFFICE is not None, "LibreOffice (soffice) is required in CI"
    book = tmp_path / "after.xlsm"
    shutil.copyfile(user_book, book)
    assert xlrebalance("refresh", str(book), "--offline", cwd=tmp_path).returncode == 0
    shutil.copyfile(user_book, tmp_path / "before.xlsm")
    csv_filter = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    for name in ("before", "after"):
        subprocess.run(
            [SOFFICE, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
             "--convert-to", csv_filter, "--outdir", str(tmp_path / name),
             str(tmp_path / f"{name}.xlsm")],
            check=True, capture_output=True, timeout=180,
        )  # fmt: skip
    before = (tmp_path / "before" / f"before-{USER_SHEET}.csv").read_text(encoding="utf-8")
    after = (tmp_path / "after" / f"after-{USER_SHEET}.csv").read_text(encoding="utf-8")
    assert after == before
    assert "item 300" in after


def test_a_shared_string_cell_in_an_odd_form_loads_the_whole_workbook(
    user_book: Path, tmp_path: Path
) -> None:
    """A cell of ours that the inline rewrite does not recognise (spaces around the index,
    which Excel never writes but a reader accepts) is not left pointing into the emptied
    table: the workbook is loaded whole instead, as before."""
    book = tmp_path / "odd.xlsm"
    holdings = sheet_parts(user_book)["Holdings"]
    with zipfile.ZipFile(user_book) as z, zipfile.ZipFile(book, "w") as out:
        for info in z.infolist():
            data = z.read(info)
            if info.filename == holdings:
                data = re.sub(rb'(t="s"><v>)(\d+)(</v>)', rb"\1 \2 \3", data, count=1)
            out.writestr(info, data)
    assert foreign.strip(book, OWNED_SHEETS) is None
    run = xlrebalance("refresh", str(book), "--offline", cwd=tmp_path)
    assert run.returncode == 0, run.stderr


class _Endless:
    def read(self, size: int = -1, /) -> bytes:
        return b"x" * 1024


class _Broken:
    def __init__(self) -> None:
        self.calls = 0

    def read(self, size: int = -1, /) -> bytes:
        self.calls += 1
        if self.calls > 2:
            raise OSError("disk gone")
        return b"<row/>"


def test_reading_ahead_hands_over_errors_and_stops_with_its_reader() -> None:
    """The thread that decompresses ahead: a read error reaches the reader (never a silently
    short sheet), and a reader that stops early does not leave the thread blocked."""
    with foreign._ReadAhead(_Broken()) as ahead:
        assert ahead.read(10) == b"<row/>" and ahead.read(10) == b"<row/>"
        with pytest.raises(OSError, match="disk gone"):
            ahead.read(10)
    reader = foreign._ReadAhead(_Endless())
    with reader:
        assert reader.read(10) == b"x" * 1024
    assert not reader._thread.is_alive()
    with foreign._ReadAhead(io.BytesIO(b"abc")) as ahead:
        assert ahead.read(10) == b"abc" and ahead.read(10) == b"" and ahead.read(10) == b""


def test_a_package_the_shortcut_cannot_read_is_loaded_whole(
    user_book: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(source: Path, owned: object) -> None:
        raise zipfile.BadZipFile("odd entry")

    monkeypatch.setattr(foreign, "strip", broken)
    book = OpenpyxlBook.open(user_book, owned_only=True)
    assert book.foreign is None
    assert book.read_block(USER_SHEET)[0][0] == "item 1 <&> 'ü'"


def test_cells_are_never_put_back_from_another_version_of_the_file(
    user_book: Path, tmp_path: Path
) -> None:
    """``--out`` does not re-check the source on its own; the foreign cells do: a source
    replaced between loading and saving stops the save with nothing written."""
    book = tmp_path / "book.xlsm"
    shutil.copyfile(user_book, book)
    loaded = OpenpyxlBook.open(book, owned_only=True)
    assert loaded.foreign is not None
    replacement = tmp_path / "other.xlsm"
    shutil.copyfile(user_book, replacement)
    os.replace(replacement, book)  # a sync client or Excel saving a new version
    out = tmp_path / "copy.xlsm"
    with pytest.raises(WorkbookChangedError, match="run the command again"):
        save_workbook(loaded.workbook, out, source=book, foreign=loaded.foreign)
    assert not out.exists()
    assert not list(tmp_path.glob(".copy.xlsm.*.tmp"))


def test_a_sheet_loaded_without_its_cells_cannot_be_read_or_written(user_book: Path) -> None:
    """A sheet the tool starts to use but that is missing from OWNED_SHEETS fails loudly,
    instead of reading as empty and having its writes replaced by the original cells."""
    book = OpenpyxlBook.open(user_book, owned_only=True)
    for use in (
        lambda: book.read_block(USER_SHEET),
        lambda: book.write_block(USER_SHEET, 1, 1, [["x"]]),
        lambda: book.clear_block(USER_SHEET, 1, 1, 2, 2),
        lambda: book.append_rows(USER_SHEET, [["x"]]),
    ):
        with pytest.raises(LookupError, match="OWNED_SHEETS"):
            use()
    assert book.read_block("Holdings")  # ours: read as usual
