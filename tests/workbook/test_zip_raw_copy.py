"""A user sheet with no relationships is copied into the refreshed file compressed, as it was.

The workbook is stored as Excel stores it (shared strings, ``x14ac`` rows, a style index on a
duplicate ``cellXfs`` entry, which openpyxl must keep at its index for the copy to be made).

The compressed bytes, CRC-32 and sizes of the user sheet and of the shared-strings table in
the file written are compared with the ones read (straight from the local file headers, not
through the code under test), every cell, style, conditional format and validation reads back
the same, and the sheets that must be rebuilt (a comment gives the sheet relationships;
styles openpyxl did not keep at their index) are rebuilt.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import struct
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from excel_shaped import sheet_parts, store_as_excel
from installed_cli import run_console
from xlrebalance.workbook import foreign, zipcopy
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.package import save_workbook
from xlrebalance.workbook.schema import HISTORY_SHEET

USER_SHEET = "Notes"
USER_ROWS = 400
STRINGS = "xl/sharedStrings.xml"


def _refresh(book: Path, cwd: Path) -> None:
    run = run_console("refresh", str(book), "--offline", cwd=cwd)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr


def _stored(path: Path, part: str) -> tuple[int, int, int, int, bytes]:
    """Method, CRC-32, sizes and compressed bytes of a member, read from its local header."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(part)
    with path.open("rb") as f:
        f.seek(info.header_offset)
        header = struct.unpack("<4s2B4HL2L2H", f.read(30))
        assert header[0] == b"PK\x03\x04"
        f.seek(info.header_offset + 30 + header[10] + header[11])
        data = f.read(info.compress_size)
    return info.compress_type, info.CRC, info.compress_size, info.file_size, data


def _make_book(path: Path, *, comment: bool) -> Path:
    build_workbook(path, example="seed")
    wb = load_workbook(path, keep_vba=True)
    ws = wb.create_sheet(USER_SHEET)
    for r in range(1, USER_ROWS + 1):
        ws.cell(r, 1, f"item {r} <&> 'ü'")
        ws.cell(r, 2, r * 1.5).font = Font(bold=True, color="FF0000" if r % 3 == 0 else None)
        ws.cell(r, 3, f"=B{r}*2")
        ws.cell(r, 4, "same text").fill = PatternFill("solid", fgColor="00FF00")
        ws.cell(r, 5, r).number_format = "0.000%"
        ws.cell(r, 6, dt.date(2024, 1, 1) + dt.timedelta(days=r)).number_format = "yyyy-mm-dd"
    ws.merge_cells("G1:H3")
    ws["G1"] = "merged"
    ws.column_dimensions["A"].width = 30
    ws.freeze_panes = "A2"
    # A differential style: the copied sheet's dxfId must still point at it.
    ws.conditional_formatting.add(
        f"B1:B{USER_ROWS}",
        CellIsRule(operator="greaterThan", formula=["300"], font=Font(italic=True)),
    )
    rule = DataValidation(type="whole", operator="between", formula1="0", formula2="1000")
    rule.add(f"E1:E{USER_ROWS}")
    ws.add_data_validation(rule)
    if comment:
        ws["H5"] = "noted"
        ws["H5"].comment = Comment("a note", "me")
    save_workbook(wb, path, backup=False)
    store_as_excel(path, USER_SHEET)
    return path


@pytest.fixture(scope="module")
def plain_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_book(tmp_path_factory.mktemp("rawcopy") / "book.xlsm", comment=False)


@pytest.fixture(scope="module")
def commented_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_book(tmp_path_factory.mktemp("rawcopy") / "noted.xlsm", comment=True)


def _cells(path: Path) -> dict[str, tuple[object, ...]]:
    """Everything a reader sees of the user sheet: each cell's value and style, merges,
    widths, panes, conditional formats with their differential style, validations."""
    wb = load_workbook(io.BytesIO(path.read_bytes()))
    ws = wb[USER_SHEET]
    found: dict[str, tuple[object, ...]] = {}
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
    found["width"] = (ws.column_dimensions["A"].width,)
    found["panes"] = (ws.freeze_panes,)
    found["conditional"] = tuple(
        (str(cf.sqref), rule.operator, tuple(rule.formula), rule.dxf.font.i if rule.dxf else None)
        for cf in ws.conditional_formatting
        for rule in cf.rules
    )
    found["validation"] = tuple(
        (str(v.sqref), v.type, v.formula1, v.formula2) for v in ws.data_validations.dataValidation
    )
    found["comment"] = (ws["H5"].comment.text if ws["H5"].comment else None,)
    return found


def _history_rows(path: Path) -> int:
    wb = load_workbook(io.BytesIO(path.read_bytes()))
    return sum(1 for row in wb[HISTORY_SHEET].iter_rows(values_only=True) if row[1] == "refresh")


def _sound(path: Path) -> None:
    """Every member's CRC checks out and every XML part parses."""
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        for name in z.namelist():
            if name.endswith((".xml", ".rels")):
                ET.fromstring(z.read(name))


def test_a_user_sheet_without_relationships_is_copied_compressed(
    plain_book: Path, tmp_path: Path
) -> None:
    book = tmp_path / "book.xlsm"
    shutil.copyfile(plain_book, book)
    sheet_before = _stored(book, sheet_parts(book)[USER_SHEET])
    strings_before = _stored(book, STRINGS)
    cells_before = _cells(book)
    assert cells_before["conditional"] == ((f"B1:B{USER_ROWS}", "greaterThan", ("300",), True),)
    assert cells_before["B2"][1] is True  # bold through the duplicate cellXfs entry
    assert b"x14ac:dyDescent" in zipfile.ZipFile(book).read(sheet_parts(book)[USER_SHEET])
    history = _history_rows(book)

    for refreshes in (1, 2):  # the copied file is a valid source for the next refresh
        _refresh(book, tmp_path)
        assert _stored(book, sheet_parts(book)[USER_SHEET]) == sheet_before
        assert _stored(book, STRINGS) == strings_before
        assert _cells(book) == cells_before
        assert _history_rows(book) == history + refreshes
        _sound(book)
    orders = load_workbook(io.BytesIO(book.read_bytes()))["Orders"]
    assert any(row[1] for row in orders.iter_rows(min_row=5, values_only=True) if row)


def test_a_user_sheet_with_a_comment_is_rebuilt(commented_book: Path, tmp_path: Path) -> None:
    """A comment gives the sheet a relationships part: its XML is rebuilt around openpyxl's
    (the cells still byte for byte), not copied whole; the strings are still copied."""
    book = tmp_path / "noted.xlsm"
    shutil.copyfile(commented_book, book)
    part = sheet_parts(book)[USER_SHEET]
    sheet_before = _stored(book, part)
    strings_before = _stored(book, STRINGS)
    data_before = re.search(rb"<sheetData>.*</sheetData>", zipfile.ZipFile(book).read(part), re.S)
    assert data_before
    cells_before = _cells(book)
    assert cells_before["comment"] == ("a note",)

    _refresh(book, tmp_path)

    part = sheet_parts(book)[USER_SHEET]
    after = _stored(book, part)
    assert after[4] != sheet_before[4]  # recompressed (zlib level 1): rebuilt, not copied
    assert data_before.group(0) in zipfile.ZipFile(book).read(part)
    assert _stored(book, STRINGS) == strings_before
    assert _cells(book) == cells_before
    _sound(book)


def test_the_copy_is_decided_per_sheet_and_recorded(
    plain_book: Path, commented_book: Path, tmp_path: Path
) -> None:
    for source, copyable in ((plain_book, True), (commented_book, False)):
        book = OpenpyxlBook.open(source, owned_only=True)
        assert book.foreign is not None
        assert book.foreign.sheets[USER_SHEET].copyable is copyable
        out = tmp_path / source.name
        save_workbook(book.workbook, out, foreign=book.foreign)
        copied = {sheet_parts(out)[USER_SHEET], STRINGS} if copyable else {STRINGS}
        assert set(book.foreign.copied) == copied
        _sound(out)


def test_styles_not_kept_at_their_index_mean_a_rebuild(
    plain_book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with zipfile.ZipFile(plain_book) as z:
        styles = z.read("xl/styles.xml")
    assert foreign._styles_kept(_zip({"xl/styles.xml": styles}), _zip({"xl/styles.xml": styles}))
    # The first bold font made italic: index for index, the formats no longer mean the same.
    fonts = re.search(rb"<fonts\b.*?</fonts>", styles, re.S)
    assert fonts and b'<b val="1"/>' in fonts.group(0)
    italic = fonts.group(0).replace(b'<b val="1"/>', b'<i val="1"/>', 1)
    changed = styles.replace(fonts.group(0), italic)
    assert not foreign._styles_kept(
        _zip({"xl/styles.xml": styles}), _zip({"xl/styles.xml": changed})
    )
    assert not foreign._styles_kept(_zip({"xl/styles.xml": styles}), _zip({}))
    # And the writer then rebuilds the sheet (the cells still as they were).
    monkeypatch.setattr(foreign, "_styles_kept", lambda source, made: False)
    book = OpenpyxlBook.open(plain_book, owned_only=True)
    assert book.foreign is not None
    out = tmp_path / "rebuilt.xlsm"
    save_workbook(book.workbook, out, foreign=book.foreign)
    assert book.foreign.copied == [STRINGS]
    assert (
        _stored(out, sheet_parts(out)[USER_SHEET])[4]
        != _stored(plain_book, sheet_parts(plain_book)[USER_SHEET])[4]
    )
    assert _cells(out) == _cells(plain_book)


def test_a_custom_view_means_a_rebuild() -> None:
    names = {"xl/worksheets/sheet9.xml"}
    head = b"<worksheet><sheetViews><sheetView workbookViewId='0'/></sheetViews>"
    assert foreign._copyable_sheet(names, "xl/worksheets/sheet9.xml", head, b"</worksheet>")
    views = b"<customSheetViews><customSheetView guid='{0}'/></customSheetViews></worksheet>"
    assert not foreign._copyable_sheet(names, "xl/worksheets/sheet9.xml", head, views)
    names.add("xl/worksheets/_rels/sheet9.xml.rels")
    assert not foreign._copyable_sheet(names, "xl/worksheets/sheet9.xml", head, b"</worksheet>")


def _zip(parts: dict[str, bytes]) -> zipfile.ZipFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return zipfile.ZipFile(buffer)


class _OneWay(io.RawIOBase):
    """A stream that cannot seek: zipfile then follows each member with a data descriptor."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self.buffer.write(bytes(data))


def _sources() -> list[io.BytesIO]:
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("big.xml", "w", force_zip64=True) as entry:  # ZIP64 sizes, local header
            entry.write(b"<row/>" * 50_000)
        z.writestr("small.xml", b"hello " * 100)
        z.writestr("stored.bin", b"as is", compress_type=zipfile.ZIP_STORED)
        z.writestr("name-\u00fc.xml", b"utf-8 name " * 10)
        z.writestr("empty.xml", b"")
    one_way = _OneWay()
    with zipfile.ZipFile(one_way, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("described.xml", b"after the data " * 300)
    return [plain, io.BytesIO(one_way.buffer.getvalue())]


@pytest.mark.parametrize("source", _sources(), ids=["seekable", "data-descriptor"])
def test_raw_entries_round_trip(source: io.BytesIO) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as t:
        t.writestr("before.xml", b"written by zipfile")
        for info in z.infolist():
            member = zipcopy.locate(source, info)
            assert member is not None, info.filename
            written = zipcopy.write_raw(t, "copy/" + info.filename, source, member, info)
            assert (written.CRC, written.compress_size) == (info.CRC, info.compress_size)
        t.writestr("after.xml", b"written by zipfile too")
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(out) as result:
        assert result.testzip() is None
        assert result.read("before.xml") == b"written by zipfile"
        assert result.read("after.xml") == b"written by zipfile too"
        for info in z.infolist():
            copy = result.getinfo("copy/" + info.filename)
            assert (copy.CRC, copy.compress_size, copy.file_size, copy.compress_type) == (
                info.CRC,
                info.compress_size,
                info.file_size,
                info.compress_type,
            )
            assert result.read(copy) == z.read(info)


def test_members_that_cannot_be_copied_exactly_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = io.BytesIO()
    with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.xml", b"a" * 1000)
        z.writestr("b.xml", b"b" * 1000, compress_type=zipfile.ZIP_BZIP2)
    with zipfile.ZipFile(source) as z:
        a, b = z.getinfo("a.xml"), z.getinfo("b.xml")
        assert zipcopy.locate(source, a) is not None
        assert zipcopy.locate(source, b) is None  # a method Excel does not read
        encrypted = zipfile.ZipInfo("a.xml", a.date_time)
        for attribute in ("compress_type", "CRC", "compress_size", "file_size", "header_offset"):
            setattr(encrypted, attribute, getattr(a, attribute))
        encrypted.flag_bits = a.flag_bits | 0x1
        assert zipcopy.locate(source, encrypted) is None
        with monkeypatch.context() as m:
            m.setattr(zipcopy, "SIZE_LIMIT", 100)  # as if over 2 GiB
            assert zipcopy.locate(source, a) is None
        # A local header that disagrees with the central directory (its CRC damaged).
        raw = bytearray(source.getvalue())
        raw[a.header_offset + 14] ^= 0xFF
        assert zipcopy.locate(io.BytesIO(bytes(raw)), a) is None
        # A local header for another name.
        raw = bytearray(source.getvalue())
        raw[a.header_offset + 30] = ord("z")
        assert zipcopy.locate(io.BytesIO(bytes(raw)), a) is None
    with zipfile.ZipFile(io.BytesIO(), "w") as target:
        assert zipcopy.can_write_raw(target)
        with target.open("open.xml", "w"):
            assert not zipcopy.can_write_raw(target)  # another entry is being written
    with zipfile.ZipFile(source) as reading:
        assert not zipcopy.can_write_raw(reading)
