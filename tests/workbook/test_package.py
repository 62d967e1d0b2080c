"""Saving never destroys what the tool does not own: preservation check, file modes, paths."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from xlrebalance.errors import XlRebalanceError
from xlrebalance.macros import refresh
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.package import read_parts, save_workbook
from xlrebalance.workbook.preserve import PackageLossError, inventory, losses
from xlrebalance.workbook.schema import value_label

A = "http://schemas.openxmlformats.org/drawingml/2006/main"
TEXT_BOX = (
    "<twoCellAnchor><from><col>1</col><colOff>0</colOff><row>10</row><rowOff>0</rowOff></from>"
    "<to><col>3</col><colOff>0</colOff><row>14</row><rowOff>0</rowOff></to>"
    '<sp macro="" textlink=""><nvSpPr><cNvPr id="9" name="TextBox 9"/><cNvSpPr txBox="1"/>'
    f'</nvSpPr><spPr><a:prstGeom xmlns:a="{A}" prst="rect"><a:avLst/></a:prstGeom></spPr>'
    f'<txBody><a:bodyPr xmlns:a="{A}"/><a:p xmlns:a="{A}"><a:r><a:t>my note</a:t></a:r></a:p>'
    "</txBody></sp><clientData/></twoCellAnchor>"
)
SPARKLINES = (
    '<extLst><ext uri="{05C60535-1F16-4fd2-B633-F4F36F0B64E0}" '
    'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
    "<x14:sparklineGroups/></ext></extLst></worksheet>"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workbook(tmp_path_factory.mktemp("build") / "rebalance.xlsm")


def _edited(source: Path, target: Path, part: str, old: bytes, new: bytes) -> Path:
    """A copy of ``source`` with ``old`` replaced by ``new`` in one part (what Excel would
    have written for an object openpyxl does not model)."""
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in z.infolist():
            data = z.read(info)
            if info.filename == part:
                assert old in data
                data = data.replace(old, new)
            out.writestr(info, data)
    return target


@pytest.fixture()
def shape_book(built: Path, tmp_path: Path) -> Path:
    return _edited(
        built,
        tmp_path / "shape.xlsm",
        "xl/drawings/drawing1.xml",
        b"</wsDr>",
        TEXT_BOX.encode() + b"</wsDr>",
    )


def _refresh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xlrebalance", "refresh", *args, "--offline"],
        capture_output=True,
        text=True,
    )


def test_a_built_workbook_round_trips_without_loss(built: Path, tmp_path: Path) -> None:
    # The check must not cry wolf on what the tool itself writes.
    book = OpenpyxlBook.open(built)
    refresh(book, offline=True)
    out = tmp_path / "out.xlsm"
    assert save_workbook(book.workbook, out, source=built) == ()
    counts = inventory(read_parts(out))
    assert counts[("Dashboard", "graphic frames (charts, slicers, SmartArt, ...)")] == 3
    assert counts[("Settings", "comments")] > 0


def test_in_place_refresh_refuses_to_drop_a_text_box(shape_book: Path) -> None:
    before = shape_book.read_bytes()
    result = _refresh(str(shape_book))
    assert result.returncode == 2
    assert "not overwriting shape.xlsm" in result.stderr
    assert "Dashboard: 1 of 1 shapes (text boxes" in result.stderr
    assert "--out" in result.stderr
    assert shape_book.read_bytes() == before
    assert sorted(p.name for p in shape_book.parent.iterdir()) == ["shape.xlsm"]


def test_refresh_to_a_copy_warns_what_the_copy_lacks(shape_book: Path, tmp_path: Path) -> None:
    before = shape_book.read_bytes()
    out = tmp_path / "copy.xlsm"
    result = _refresh(str(shape_book), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "warning: copy.xlsm lacks objects of shape.xlsm" in result.stderr
    assert "Dashboard: 1 of 1 shapes (text boxes" in result.stderr
    assert shape_book.read_bytes() == before
    assert load_workbook(out)["Orders"]["A5"].value is not None
    # --out naming the same file by another path is still in place.
    again = _refresh(str(shape_book), "--out", str(tmp_path / "." / "shape.xlsm"))
    assert again.returncode == 2 and shape_book.read_bytes() == before


def test_lost_sheet_extension_names_sheet_and_kind(built: Path, tmp_path: Path) -> None:
    # Holdings is sheet2 (the Dashboard comes first).
    book = _edited(
        built, tmp_path / "spark.xlsm", "xl/worksheets/sheet2.xml", b"</worksheet>",
        SPARKLINES.encode(),
    )  # fmt: skip
    with pytest.warns(UserWarning, match="Sparkline"):  # openpyxl's own, at load
        wb = load_workbook(book, keep_vba=True)
    with pytest.raises(PackageLossError, match=r"Holdings: 1 of 1 sparklines extension"):
        save_workbook(wb, book)


def test_losses_counts_vml_shapes_comments_parts_and_drawing_objects(built: Path) -> None:
    parts = read_parts(built)
    assert losses(parts, parts) == ()
    fewer = dict(parts)
    vml = next(n for n in parts if n.endswith("commentsDrawing1.vml"))
    fewer.pop(vml)
    drawing = parts["xl/drawings/drawing1.xml"]
    start = drawing.index(b"<oneCellAnchor>")
    end = drawing.index(b"</oneCellAnchor>") + len(b"</oneCellAnchor>")
    fewer["xl/drawings/drawing1.xml"] = drawing[:start] + drawing[end:]
    found = {(loss.where, loss.kind) for loss in losses(parts, fewer)}
    assert ("Dashboard", "anchored drawing objects") in found
    assert ("Dashboard", "graphic frames (charts, slicers, SmartArt, ...)") in found
    assert any(kind.startswith("legacy drawing shapes") for _, kind in found)
    # Removing a sheet loses the sheet and everything on it.
    wb_rels = parts["xl/_rels/workbook.xml.rels"]
    gone = dict(parts)
    gone["xl/_rels/workbook.xml.rels"] = wb_rels.replace(b"worksheets/sheet7.xml", b"nowhere")
    found = {(loss.where, loss.kind) for loss in losses(parts, gone)}
    assert ("workbook", "sheets") in found


@pytest.fixture()
def umask_022() -> object:
    old = os.umask(0o022)
    yield None
    os.umask(old)


def test_in_place_save_keeps_the_file_mode(built: Path, tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "book.xlsm"
    shutil.copyfile(built, path)
    path.chmod(0o664)
    book = OpenpyxlBook.open(path)
    refresh(book, offline=True)
    save_workbook(book.workbook, path)
    assert path.stat().st_mode & 0o7777 == 0o664
    assert path.with_name("book.xlsm.bak").stat().st_mode & 0o7777 == 0o664


def test_new_workbook_gets_the_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        path = build_workbook(tmp_path / "new.xlsm", example="empty")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o7777 == 0o640
    old = os.umask(0o002)  # the command inherits it
    try:
        result = subprocess.run(
            [sys.executable, "-m", "xlrebalance", "workbook", "new", str(tmp_path / "cli.xlsm")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    finally:
        os.umask(old)
    assert "created" in result.stdout
    assert (tmp_path / "cli.xlsm").stat().st_mode & 0o7777 == 0o664


def test_new_refuses_a_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nosuchdir" / "x.xlsm"
    result = subprocess.run(
        [sys.executable, "-m", "xlrebalance", "workbook", "new", str(missing)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert not missing.parent.exists()
    with pytest.raises(XlRebalanceError, match="does not exist"):
        build_workbook(missing)


def test_refresh_out_refuses_a_missing_folder(built: Path, tmp_path: Path) -> None:
    result = _refresh(str(built), "--out", str(tmp_path / "nosuchdir" / "o.xlsm"))
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert not (tmp_path / "nosuchdir").exists()


@pytest.mark.parametrize(
    ("lang", "says"),
    [
        ("en", ("Computed ", "prices stale", "Compute orders")),
        ("ko", ("계산", "오래됨", "주문 계산")),
    ],
)
def test_orders_hint_says_when_and_how_orders_were_computed(
    tmp_path: Path, lang: str, says: tuple[str, ...]
) -> None:
    path = tmp_path / f"{lang}.xlsm"
    subprocess.run(
        [sys.executable, "-m", "xlrebalance", "workbook", "new", str(path), "--lang", lang,
         "--example", "seed"],
        check=True, capture_output=True,
    )  # fmt: skip
    # Before any compute, the hint names this very workbook.
    assert f"xlrebalance refresh {lang}.xlsm" in str(load_workbook(path)["Orders"]["A3"].value)
    result = _refresh(str(path))
    assert result.returncode == 0, result.stderr
    hint = str(load_workbook(path)["Orders"]["A3"].value)
    assert "rebalance.xlsm" not in hint
    for text in says:
        assert text in hint
    # The solver's status in the workbook's language (최적 on a Korean one).
    assert any(value_label(s, lang) in hint for s in ("optimal", "time_limit", "heuristic"))


def test_plan_help_and_a_csv_mention_workbooks(tmp_path: Path) -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "xlrebalance", "plan", "--help"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert ".xlsx" in help_text and ".xlsm" in help_text
    csv = tmp_path / "p.csv"
    csv.write_text("ticker,quantity\nSPY,3\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "xlrebalance", "plan", str(csv), "--offline"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "not valid JSON" not in result.stderr
    assert ".xlsx" in result.stderr and ".xlsm" in result.stderr and ".csv" in result.stderr
