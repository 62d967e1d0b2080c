"""Headless refresh of a 700-row Holdings workbook, offline: time to read, plan and write.

Then the installed command on odd workbooks, each beside the plain one: time and peak memory
(the child's maximum resident set) of ``xlrebalance refresh --offline``:

- plain: the 700-row workbook;
- stray cell: the same with one value at Holdings!A1048576 (refused, naming the cell);
- big user sheet: the same with a user sheet of ``--user-rows`` rows (default 1,000,000) x 6
  columns, which the tool does not own (its text in a shared-strings table, as Excel saves);
- both: the big user sheet and the stray value.

.venv/bin/python bench/workbook.py [--user-rows N] [--skip-big] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from xlrebalance.macros import _plan, staleness
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.package import save_workbook
from xlrebalance.workbook.reader import read_input
from xlrebalance.workbook.schema import HEADER_ROW, HOLDINGS
from xlrebalance.workbook.writer import append_history, history_row, valuation, write_orders

ROWS = 700


def make_book(path: Path) -> None:
    build_workbook(path, example="empty")
    wb = load_workbook(path, keep_vba=True)
    ws = wb["Holdings"]
    rng = random.Random(7)
    keys = [c.key for c in HOLDINGS.columns]
    for n in range(ROWS):
        r = HEADER_ROW + 1 + n
        kr = n % 2 == 0
        values = {
            "account": "isa" if kr else "general",
            "ticker": f"{100000 + n:06d}" if kr else f"T{n:04d}",
            "market": "KR" if kr else "US",
            "quantity": rng.randint(0, 200),
            "currency": "KRW" if kr else "USD",
            "price": rng.randint(5_000, 200_000) if kr else round(rng.uniform(10, 600), 2),
            "target": 1.0 / ROWS,
            "locked": False,
            "kind": "ETF" if n % 3 == 0 else "STOCK",
        }
        for c, key in enumerate(keys, start=1):
            column = HOLDINGS.columns[c - 1]
            if column.formula:
                ws.cell(row=r, column=c, value=column.formula.format(r=r))
            elif key in values:
                ws.cell(row=r, column=c, value=values[key])
    last = get_column_letter(len(HOLDINGS.columns))
    ws.tables["HoldingsTable"].ref = f"A{HEADER_ROW}:{last}{HEADER_ROW + ROWS}"
    cash = wb["Cash"]
    cash.append(["isa", "KRW", 50_000_000])
    cash.delete_rows(HEADER_ROW + 1)
    cash.append(["general", "USD", 40_000])
    cash.tables["CashTable"].ref = f"A{HEADER_ROW}:D{HEADER_ROW + 2}"
    save_workbook(wb, path, backup=False)


def add_user_sheet(path: Path, rows: int) -> None:
    """A user sheet of ``rows`` x 6 (dates, text, numbers, a formula), stored as Excel stores it
    (text in a shared-strings table, one string per row plus 13 repeated ones), written straight
    as XML in place of a small sheet openpyxl added (openpyxl would need gigabytes to build it)."""
    wb = load_workbook(path, keep_vba=True)
    ws = wb.create_sheet("MyData")
    ws["A1"] = "placeholder"
    save_workbook(wb, path, backup=False)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        workbook = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
        types = z.read("[Content_Types].xml").decode()
    import re

    rid = re.search(r'<sheet [^>]*name="MyData"[^>]*r:id="(rId\d+)"', workbook)
    assert rid is not None
    target = re.search(rf'Id="{rid.group(1)}"[^>]*Target="/?(?:xl/)?([^"]+)"', rels) or re.search(
        rf'Target="/?(?:xl/)?([^"]+)"[^>]*Id="{rid.group(1)}"', rels
    )
    assert target is not None
    part = "xl/" + target.group(1)
    assert "xl/sharedStrings.xml" not in names  # openpyxl 3.1.5 writes strings inline
    rels = rels.replace(
        "</Relationships>",
        '<Relationship Id="rIdBenchStrings" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>",
    )
    types = types.replace(
        "</Types>",
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    replaced = {part, "xl/_rels/workbook.xml.rels", "[Content_Types].xml"}
    out = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in names:
            if name not in replaced:
                dst.writestr(src.getinfo(name), src.read(name))
        dst.writestr("xl/_rels/workbook.xml.rels", rels)
        dst.writestr("[Content_Types].xml", types)
        with dst.open(part, "w", force_zip64=True) as sheet:
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                b"<sheetData>"
            )
            chunk: list[str] = []
            for r in range(1, rows + 1):
                chunk.append(
                    f'<row r="{r}"><c r="A{r}" s="1"><v>{45000 + r % 900}</v></c>'
                    f'<c r="B{r}" t="s"><v>{13 + r - 1}</v></c>'
                    f'<c r="C{r}"><v>{r * 1.5}</v></c><c r="D{r}"><v>{r % 97}</v></c>'
                    f'<c r="E{r}" t="s"><v>{r % 13}</v></c>'
                    f'<c r="F{r}"><f>C{r}*2</f><v>{r * 3.0}</v></c></row>'
                )
                if len(chunk) == 10_000:
                    sheet.write("".join(chunk).encode())
                    chunk = []
            sheet.write("".join(chunk).encode() + b"</sheetData></worksheet>")
        with dst.open("xl/sharedStrings.xml", "w", force_zip64=True) as strings:
            strings.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                b'count="%d" uniqueCount="%d">' % (2 * rows, rows + 13)
            )
            strings.write("".join(f"<si><t>note {n}</t></si>" for n in range(13)).encode())
            for first in range(1, rows + 1, 10_000):
                last = min(first + 10_000, rows + 1)
                strings.write(
                    "".join(f"<si><t>item {r}</t></si>" for r in range(first, last)).encode()
                )
            strings.write(b"</sst>")
    os.replace(out, path)


def add_stray_cell(path: Path) -> None:
    wb = load_workbook(path, keep_vba=True)
    wb["Holdings"].cell(row=1_048_576, column=1, value="stray")
    save_workbook(wb, path, backup=False)


def run_refresh(path: Path) -> tuple[float, float, int]:
    """Seconds, peak MB and exit code of ``xlrebalance refresh --offline`` on ``path``."""
    script = Path(sys.executable).parent / "xlrebalance"
    command = [str(script) if script.exists() else "xlrebalance", "refresh", str(path)]
    start = time.perf_counter()
    child = subprocess.Popen(
        [*command, "--offline"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    if child.stderr is not None:
        child.stderr.close()
    child.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024, child.returncode


def odd_workbooks(tmp: Path, user_rows: int, skip_big: bool, repeat: int) -> None:
    plain = tmp / "plain.xlsm"
    make_book(plain)
    cases = [("plain (700 holdings)", plain)]
    stray = tmp / "stray.xlsm"
    shutil.copyfile(plain, stray)
    add_stray_cell(stray)
    cases.append(("stray value at Holdings!A1048576", stray))
    if not skip_big:
        big = tmp / "big.xlsm"
        shutil.copyfile(plain, big)
        add_user_sheet(big, user_rows)
        size = big.stat().st_size / 1e6
        cases.append((f"plus a user sheet of {user_rows:,} rows ({size:.0f} MB)", big))
        both = tmp / "both.xlsm"
        shutil.copyfile(stray, both)
        add_user_sheet(both, user_rows)
        cases.append(("plus that sheet and the stray value", both))
    print()
    print(f"{'xlrebalance refresh --offline':44} {'median':>8} {'min':>7} {'peak RSS':>10}  exit")
    # Interleaved rounds: on a shared machine, load changes between cases; medians of
    # rounds run side by side compare them fairly.
    seconds: dict[str, list[float]] = {label: [] for label, _ in cases}
    peaks: dict[str, float] = dict.fromkeys(seconds, 0.0)
    codes: dict[str, int] = {}
    for _ in range(repeat):
        for label, path in cases:
            took, peak, code = run_refresh(path)
            seconds[label].append(took)
            peaks[label] = max(peaks[label], peak)
            codes[label] = code
    for label, _ in cases:
        times = sorted(seconds[label])
        median = times[len(times) // 2]
        print(f"{label:44} {median:7.1f}s {times[0]:6.1f}s {peaks[label]:8.0f}MB  {codes[label]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--user-rows", type=int, default=1_000_000)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="interleaved rounds of the cases")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        odd_workbooks(Path(tmp), args.user_rows, args.skip_big, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.xlsm"
        make_book(path)
        t0 = time.perf_counter()
        book = OpenpyxlBook.open(path)
        inp = read_input(book, offline=True)
        t1 = time.perf_counter()
        now = __import__("datetime").datetime.now()
        result = _plan(inp, now, frozenset())
        t2 = time.perf_counter()
        write_orders(book, result.plan, inp.portfolio, inp.lang, staleness(inp, now), now)
        v = valuation(inp.portfolio)
        append_history(book, *history_row("refresh", now, v.value, v.cash, v.drift, result.plan, 0))
        save_workbook(book.workbook, Path(tmp) / "out.xlsm")
        t3 = time.perf_counter()
        print(f"holdings rows     {len(inp.portfolio.holdings)}")
        print(f"orders            {len(result.plan.orders)} ({result.plan.summary.solver.status})")
        print(f"read + validate   {t1 - t0:6.3f} s")
        print(f"plan              {t2 - t1:6.3f} s")
        print(f"write + save      {t3 - t2:6.3f} s")
        print(f"total             {t3 - t0:6.3f} s   (target < 2 s)")


if __name__ == "__main__":
    main()
