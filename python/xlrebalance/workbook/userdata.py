"""What in a workbook is the user's: the test a build must pass before it replaces a file.

A workbook holds the user's data when it differs from a fresh build of the same templates in
what users type or what the tool wrote for them: rows of Holdings, Cash and Groups (input
columns), Settings values, computed Orders, History rows, or a sheet of their own. Labels,
notes, formats and formulas are the template's and do not count, so rebuilding after a
template change is not mistaken for losing data. A file that cannot be read as a workbook
counts as user data: nothing can prove it is not.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from xlrebalance import cells
from xlrebalance.errors import XlRebalanceError
from xlrebalance.workbook.book import Block, Book, CellValue, OpenpyxlBook
from xlrebalance.workbook.reader import _find_header, _read_table, _Table
from xlrebalance.workbook.schema import (
    CASH_SHEET,
    GROUPS,
    HEADER_ROW,
    HISTORY_SHEET,
    HOLDINGS,
    ORDERS_HEADER_ROW,
    ORDERS_SHEET,
    SETTINGS_COLUMNS,
    SETTINGS_SHEET,
    TableSheet,
)

_TABLES: tuple[tuple[TableSheet, tuple[str, ...]], ...] = (
    (HOLDINGS, ("account", "ticker", "quantity")),
    (CASH_SHEET, ("account", "currency", "amount")),
    (GROUPS, ("name", "max_weight", "tickers")),
)


def user_data(existing: Path, pristine: Path) -> list[str]:
    """What ``existing`` holds that a fresh build (``pristine``) does not; empty if nothing."""
    try:
        book = OpenpyxlBook.open(existing)
    except XlRebalanceError as exc:
        return [f"it cannot be read as a workbook ({exc})"]
    fresh = OpenpyxlBook.open(pristine)
    found: list[str] = []
    names = set(fresh.sheet_names())
    found += [f"sheet {n} is not part of a build" for n in book.sheet_names() if n not in names]
    for sheet, required in _TABLES:
        found += _table_rows(book, fresh, sheet, required)
    found += _settings(book, fresh)
    found += _rows_below(book, ORDERS_SHEET, ORDERS_HEADER_ROW, "computed orders")
    found += _rows_below(book, HISTORY_SHEET, HEADER_ROW, "rows")
    return found


def _table_rows(book: Book, fresh: Book, sheet: TableSheet, required: Iterable[str]) -> list[str]:
    if sheet.name not in book.sheet_names():
        return []  # a deleted sheet holds nothing to lose
    try:
        mine = _read_table(book, sheet, tuple(required))
    except XlRebalanceError:
        return [f"{sheet.name} is laid out differently from a build (no header found)"]
    built = _read_table(fresh, sheet, tuple(required))
    inputs = [c.key for c in sheet.columns if c.formula is None]

    def rows(table: _Table) -> list[tuple[CellValue, ...]]:
        return [tuple(values.get(k) for k in inputs) for _, values in table.rows]

    if rows(mine) != rows(built):
        return [f"{sheet.name} rows differ from the example"]
    return []


def _settings(book: Book, fresh: Book) -> list[str]:
    if SETTINGS_SHEET not in book.sheet_names():
        return []
    try:
        mine = _pairs(book.read_block(SETTINGS_SHEET))
    except XlRebalanceError:
        return [f"{SETTINGS_SHEET} is laid out differently from a build (no header found)"]
    built = _pairs(fresh.read_block(SETTINGS_SHEET))
    changed = [k for k, v in mine.items() if k not in built or built[k] != v]
    if changed:
        shown = ", ".join(changed[:4]) + (" ..." if len(changed) > 4 else "")
        return [f"Settings values differ from a build ({shown})"]
    return []


def _pairs(block: Block) -> dict[str, CellValue]:
    """Settings keys and their values, found by the header as the reader finds them."""
    aliases = {c.key: c.aliases() for c in SETTINGS_COLUMNS}
    english = {c.key: c.en for c in SETTINGS_COLUMNS}
    row, columns, _ = _find_header(SETTINGS_SHEET, block, aliases, ("key", "value"), english)
    key, value = columns["key"] - 1, columns["value"] - 1
    out: dict[str, CellValue] = {}
    for line in block[row:]:
        name = cells.text(line[key]) if key < len(line) else ""
        if name:
            out[name] = line[value] if value < len(line) else None
    return out


def _rows_below(book: Book, sheet: str, header_row: int, what: str) -> list[str]:
    if sheet not in book.sheet_names():
        return []
    block = book.read_block(sheet)
    if any(not cells.blank(v) for line in block[header_row:] for v in line):
        return [f"{sheet} has {what}"]
    return []
