"""A workbook as xlwings' remote engine receives it, and its answer applied back.

The remote engine (``xw.Book(json=...)``) is what xlwings Server runs: the client (Office.js)
sends every sheet's values, Python works on them, and the answer is a list of actions
(``setValues``, ``rangeClearContents``, ``setNumberFormat``, ``alert``...). Here the payload
is built from our own ``rebalance.xlsm``; formulas, which no Excel has calculated in a built
file, are sent as blanks (a real client sends their results)."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

from xlrebalance.workbook.book import OpenpyxlBook


def js_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith("="):
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return value


def book_json(path: Path, version: str) -> dict[str, Any]:
    book = OpenpyxlBook.open(path)
    sheets = []
    for name in book.sheet_names():
        values = [[js_value(v) for v in row] for row in book.read_block(name)] or [[]]
        tables = []
        for table in book.workbook[name].tables.values():
            first, last = table.ref.split(":")
            column_first, column_last = first.rstrip("0123456789"), last.rstrip("0123456789")
            row_first, row_last = int(first[len(column_first) :]), int(last[len(column_last) :])
            tables.append(
                {
                    "name": table.displayName,
                    "range_address": table.ref,
                    "header_row_range_address": f"{first}:{column_last}{row_first}",
                    "data_body_range_address": f"{column_first}{row_first + 1}:{last}",
                    "total_row_range_address": None,
                    "show_headers": True,
                    "show_totals": False,
                    "table_style": "TableStyleLight9",
                    "show_autofilter": True,
                    "row_count": row_last - row_first + 1,
                    "column_count": len(values[0]),
                }
            )
        sheets.append({"name": name, "values": values, "pictures": [], "tables": tables})
    archive = getattr(book.workbook, "vba_archive", None)
    if archive is not None:  # keep_vba holds the file open until saved; nothing is saved here
        archive.close()
    return {
        "client": "Microsoft Office Scripts",
        "version": version,
        "book": {"name": path.name, "active_sheet_index": 0, "selection": "A1"},
        "names": [],
        "sheets": sheets,
    }


def apply(payload: dict[str, Any], actions: list[dict[str, Any]]) -> dict[str, list[list[Any]]]:
    """Sheet values after the value actions, as a client would apply them."""
    sheets = {s["name"]: copy.deepcopy(s["values"]) for s in payload["sheets"]}
    names = [s["name"] for s in payload["sheets"]]
    for action in actions:
        if action["func"] not in ("setValues", "rangeClearContents"):
            continue
        grid = sheets[names[action["sheet_position"]]]
        top, left = action["start_row"], action["start_column"]
        rows = action["row_count"]
        columns = action["column_count"]
        values = action["values"] or [[""] * columns for _ in range(rows)]
        for r in range(rows):
            while len(grid) <= top + r:
                grid.append([])
            line = grid[top + r]
            while len(line) < left + columns:
                line.append("")
            for c in range(columns):
                line[left + c] = values[r][c]
    return sheets
