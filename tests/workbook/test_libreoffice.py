"""An independent reader: LibreOffice opens the built workbook and recalculates its formulas."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from xlrebalance.document import load_portfolio
from xlrebalance.planner import plan
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.schema import Lang

ROOT = Path(__file__).resolve().parents[2]
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")

# Skipped on a machine without LibreOffice, but never in CI (.ci/run installs it and sets CI):
# there a missing soffice fails these tests.
pytestmark = pytest.mark.skipif(
    SOFFICE is None and not os.environ.get("CI"),
    reason="LibreOffice (soffice) not installed: .ci/run installs it",
)


@pytest.fixture(scope="module")
def sheets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[list[str]]]:
    work = tmp_path_factory.mktemp("lo")
    return _recalculated(build_workbook(work / "rebalance.xlsm"), work)


def _recalculated(book: Path, work: Path) -> dict[str, list[list[str]]]:
    """Every sheet of ``book`` as LibreOffice computes it, one CSV row list per sheet."""
    assert SOFFICE is not None, "LibreOffice (soffice) is required in CI"
    # Filter options: comma, quote, UTF-8, ..., sheet -1 = every sheet to its own file; the
    # formulas have no cached results in the file, so these values are LibreOffice's own.
    csv_filter = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{work}/profile", "--headless",
         "--convert-to", csv_filter,
         "--outdir", str(work), str(book)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    found = {}
    for path in work.glob(f"{book.stem}-*.csv"):
        with path.open(encoding="utf-8") as handle:
            found[path.stem.removeprefix(f"{book.stem}-")] = list(csv.reader(handle))
    return found


def _number(text: str) -> float:
    return float(text.rstrip("%")) / 100 if text.endswith("%") else float(text)


def test_libreoffice_recalculates_value_and_drift_like_the_planner(
    sheets: dict[str, list[list[str]]],
) -> None:
    seed = plan(
        load_portfolio(ROOT / "python" / "xlrebalance" / "templates" / "examples" / "seed.json")
    )
    kpi = {row[1]: row[2] for row in sheets["Dashboard"] if len(row) > 2 and row[1]}
    assert _number(kpi["Total value"]) == pytest.approx(seed.summary.value_before, rel=1e-9)
    assert _number(kpi["Drift (L1)"]) == pytest.approx(seed.summary.drift_before, abs=1e-9)
    holdings = sheets["Holdings"]
    header = holdings[2]
    rows = [dict(zip(header, r, strict=False)) for r in holdings[3:] if r and r[0]]
    voo = next(r for r in rows if r["Ticker"] == "VOO")
    assert _number(voo["Value (base)"]) == pytest.approx(20 * 561.2 * 1450.0)
    weights = sum(_number(r["Weight"]) for r in rows)
    assert weights == pytest.approx(1 - _number(kpi["Cash weight"]), abs=1e-9)
    groups = {r[0]: _number(r[3]) for r in sheets["Groups"][3:] if r and r[0]}
    tqqq = next(r for r in rows if r["Ticker"] == "TQQQ")
    assert groups["Leveraged"] == pytest.approx(_number(tqqq["Weight"]))


def test_group_weight_reads_every_list_separator_the_planner_reads(tmp_path: Path) -> None:
    # The reader splits a group's list on line breaks, semicolons and full-width separators
    # too (cells.ticker_list); Weight now must sum the same tickers the planner caps.
    import openpyxl

    book = build_workbook(tmp_path / "lists.xlsm")
    workbook = openpyxl.load_workbook(book, keep_vba=True)
    groups = workbook["Groups"]
    row = next(r for r in range(4, 20) if groups.cell(r, 1).value == "Themes")
    groups.cell(row, 3).value = "XLK\nsoxx\uff1b TQQQ"
    workbook.save(book)
    sheets = _recalculated(book, tmp_path)
    holdings = sheets["Holdings"]
    rows = [dict(zip(holdings[2], r, strict=False)) for r in holdings[3:] if r and r[0]]
    weight = {r["Ticker"]: _number(r["Weight"]) for r in rows}
    found = {r[0]: _number(r[3]) for r in sheets["Groups"][3:] if r and r[0]}
    assert found["Themes"] == pytest.approx(weight["XLK"] + weight["SOXX"] + weight["TQQQ"])
    assert found["Themes"] > weight["XLK"] + weight["SOXX"]


def test_libreoffice_sees_every_sheet(sheets: dict[str, list[list[str]]]) -> None:
    assert {"Dashboard", "Holdings", "Cash", "Groups", "Settings", "Orders", "History"} <= set(
        sheets
    )


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_libreoffice_reads_the_vba_modules_back(tmp_path: Path, lang: Lang) -> None:
    # LibreOffice loads an .xlsm's VBA project (decompressing every module) and keeps it as
    # Basic libraries when it saves ODF: an independent check of our vbaProject.bin.
    import html
    import re
    import zipfile

    assert SOFFICE is not None, "LibreOffice (soffice) is required in CI"
    book = build_workbook(tmp_path / "rebalance.xlsm", lang=lang)
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
         "--convert-to", "ods", "--outdir", str(tmp_path), str(book)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with zipfile.ZipFile(tmp_path / "rebalance.ods") as ods:
        modules = {
            Path(name).stem: ods.read(name).decode("utf-8")
            for name in ods.namelist()
            if name.startswith("Basic/VBAProject/") and not name.endswith("script-lb.xml")
        }
    # Every module of the project: the ribbon module, ThisWorkbook and one per sheet.
    from openpyxl import load_workbook

    opened = load_workbook(book, keep_vba=True)
    sheets = [ws.sheet_properties.codeName for ws in opened.worksheets]
    opened.close()
    sources = sorted((ROOT / "python" / "xlrebalance" / "templates" / "vba").glob("*.bas"))
    assert sources
    assert set(modules) == {"ThisWorkbook", *sheets, *(s.stem for s in sources)}
    for source in sources:
        body = re.search(r"<script:module[^>]*>(.*)</script:module>", modules[source.stem], re.S)
        assert body is not None
        loaded = html.unescape(body.group(1))
        # Every code line of the .bas (its Attribute header aside) is in what LibreOffice read.
        for line in source.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("Attribute "):
                assert line.rstrip() in loaded, (source.name, line)
