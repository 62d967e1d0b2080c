""":class:`~xlrebalance.workbook.book.Book` over a live Excel workbook, through xlwings.

Every call to Excel is a round trip (COM on Windows, AppleScript on macOS, a JSON action with
xlwings' remote engine), so the adapter reads a sheet's used range in one call and writes each
block in one call; number formats follow in as few rectangles as the formats allow. It also
gives the macros a status bar and a message box, where the engine has them.

xlwings is imported by the caller (``macros._caller_book``), not here: this module only uses
the objects it is handed, so the core never depends on xlwings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from xlrebalance.workbook.book import Block, CellValue

log = logging.getLogger(__name__)

TITLE = "xlrebalance"


class XlwingsBook:
    """The :class:`Book` interface on an ``xlwings.Book`` (``xw.Book.caller()`` in a macro)."""

    def __init__(self, book: Any) -> None:
        self.book = book
        self._status_bar = True

    # -- Book ----------------------------------------------------------------------------

    def sheet_names(self) -> list[str]:
        return [str(sheet.name) for sheet in self.book.sheets]

    def read_block(self, sheet: str) -> Block:
        ws = self.book.sheets[sheet]
        used = ws.used_range
        rows, columns = used.shape
        last_row, last_column = used.row + rows - 1, used.column + columns - 1
        # From A1, as the Protocol promises, whatever corner Excel's used range starts at.
        values = ws.range((1, 1), (last_row, last_column)).options(ndim=2, err_to_str=True).value
        return [[_cell(v) for v in row] for row in values or []]

    def write_block(
        self,
        sheet: str,
        row: int,
        column: int,
        values: Sequence[Sequence[CellValue]],
        number_formats: Sequence[Sequence[str | None]] | None = None,
    ) -> None:
        if not values:
            return
        width = max(len(line) for line in values)
        block = [[as_text(v) for v in line] + [None] * (width - len(line)) for line in values]
        ws = self.book.sheets[sheet]
        ws.range((row, column), (row + len(block) - 1, column + width - 1)).value = block
        if number_formats is not None:
            for top, left, bottom, right, fmt in format_rectangles(number_formats):
                target = ws.range((row + top, column + left), (row + bottom, column + right))
                target.number_format = fmt

    def clear_block(self, sheet: str, row: int, column: int, rows: int, columns: int) -> None:
        ws = self.book.sheets[sheet]
        ws.range((row, column), (row + rows - 1, column + columns - 1)).clear_contents()

    def append_rows(
        self,
        sheet: str,
        values: Sequence[Sequence[CellValue]],
        number_formats: Sequence[Sequence[str | None]] | None = None,
    ) -> int:
        block = self.read_block(sheet)
        end = 0
        for number, line in enumerate(block, start=1):
            if line and line[0] is not None and line[0] != "":
                end = number
        first = end + 1
        self.write_block(sheet, first, 1, values, number_formats)
        self._grow_table(sheet, first, first + len(values) - 1)
        return first

    def _grow_table(self, sheet: str, first: int, last: int) -> None:
        """A table ending just above (or at) the new rows takes them in; COM writes below a
        table do not extend it the way typing does."""
        ws = self.book.sheets[sheet]
        try:
            tables = list(ws.tables)
        except (AttributeError, NotImplementedError):
            return
        for table in tables:
            area = table.range
            top, bottom = area.row, area.row + area.shape[0] - 1
            if top < first <= bottom + 1 and last > bottom:
                left, width = area.column, area.shape[1]
                table.resize(ws.range((top, left), (last, left + width - 1)))

    # -- layout (Excel's COM objects; the remote engine has none: nothing is reported) ------

    def merged_ranges(self, sheet: str) -> list[tuple[int, int, int, int]]:
        try:
            used = self.book.sheets[sheet].used_range
            if used.api.MergeCells is False:  # COM: False none, True all, None some
                return []
            found: set[tuple[int, int, int, int]] = set()
            for cell in used:
                if cell.api.MergeCells:
                    area = cell.merge_area
                    rows, columns = area.shape
                    found.add(
                        (area.row, area.column, area.row + rows - 1, area.column + columns - 1)
                    )
            return sorted(found)
        except (AttributeError, NotImplementedError):
            return []

    def hidden_rows(self, sheet: str) -> set[int]:
        try:
            used = self.book.sheets[sheet].used_range
            first, count = used.row, used.shape[0]
            column = used.api.Columns(1)
            visible: set[int] = set()
            for area in column.SpecialCells(12).Areas:  # 12: xlCellTypeVisible
                visible.update(range(area.Row, area.Row + area.Rows.Count))
            return {r for r in range(first, first + count) if r not in visible}
        except Exception:  # no COM (remote engine), or no visible cell at all
            return set()

    def add_sheet(self, name: str) -> None:
        self.book.sheets.add(name, after=self.book.sheets[len(self.book.sheets) - 1])

    # -- what only a live workbook has ----------------------------------------------------

    def status(self, text: str | None) -> None:
        """Show ``text`` in Excel's status bar; None gives the bar back to Excel."""
        if not self._status_bar:
            return
        try:
            self.book.app.status_bar = text if text else False
        except (NotImplementedError, AttributeError):
            self._status_bar = False  # xlwings' remote engine has no status bar

    def alert(self, message: str, title: str = TITLE) -> None:
        """A message box (Excel's MsgBox; an alert action on the remote engine)."""
        self.book.app.alert(message, title=title)

    def can_ask(self) -> bool:
        """Whether :meth:`confirm` gets the user's answer: desktop Excel's message box returns
        it; xlwings' remote engine only queues a box, answered later to a JavaScript callback."""
        try:
            return str(self.book.app.engine.name) != "remote"
        except AttributeError:
            return False

    def confirm(self, message: str, title: str = TITLE) -> bool:
        """A Yes/No message box (Excel's MsgBox through xlwings); True for Yes."""
        answer = self.book.app.alert(message, title=title, buttons="yes_no")
        return bool(answer == "yes")


FORMULA_STARTS = ("=", "+", "-", "@")


def as_text(value: CellValue) -> CellValue:
    """A string Excel would parse as a formula, kept as text: Excel's quote prefix (the
    apostrophe is not part of the cell's value). Values from users and quote sources such as
    ``=HYPERLINK(...)`` or ``=cmd|' /C calc'!A0`` must never run."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cell(value: Any) -> CellValue:
    # Values come as xlwings converted them: floats, text, bools, datetimes, None.
    return None if value == "" else value


def format_rectangles(
    formats: Sequence[Sequence[str | None]],
) -> list[tuple[int, int, int, int, str]]:
    """Cover the non-None formats with few rectangles (0-based, inclusive): runs of one
    format down each column, merged with the same run in the next columns."""
    runs: list[tuple[int, int, int, str]] = []  # column, top, bottom, format
    width = max((len(line) for line in formats), default=0)
    for c in range(width):
        top: int | None = None
        current: str | None = None
        for r in range(len(formats) + 1):
            fmt = formats[r][c] if r < len(formats) and c < len(formats[r]) else None
            if fmt != current:
                if current is not None and top is not None:
                    runs.append((c, top, r - 1, current))
                top, current = r, fmt
    rectangles: list[tuple[int, int, int, int, str]] = []
    open_: dict[tuple[int, int, str], int] = {}  # (top, bottom, fmt) -> index in rectangles
    for c, top, bottom, fmt in runs:
        key = (top, bottom, fmt)
        index = open_.get(key)
        if index is not None and rectangles[index][3] == c - 1:
            t, left, b, _, f = rectangles[index]
            rectangles[index] = (t, left, b, c, f)
        else:
            open_[key] = len(rectangles)
            rectangles.append((top, c, bottom, c, fmt))
    return rectangles


def recalculate_callers(callers: Sequence[Any]) -> None:
    """Make Excel recalculate the cells that waited for quotes.

    The same move xlwings' own async mode makes to deliver a result: read the calling cell's
    formula and write it back, on the xlwings COM server's event loop, through the thread-safe
    ``ComRange`` xlwings handed the function as ``caller`` (retrying while Excel is busy).
    Windows only; elsewhere the cells update on the next recalculation (F9).
    """
    try:
        from xlwings import com_server
    except ImportError:
        return
    loop = com_server.loop

    async def again(caller: Any) -> None:
        try:
            try:
                formula = await caller.get_formula2()
                await caller.set_formula2(formula)
            except AttributeError:  # Excel without dynamic arrays has no Formula2
                formula = await caller.get_formula()
                await caller.set_formula(formula)
        except Exception:
            log.exception("xlrebalance: could not recalculate a cell waiting for quotes")

    for caller in callers:
        if caller is not None:
            asyncio.run_coroutine_threadsafe(again(caller), loop)
