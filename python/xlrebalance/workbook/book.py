"""The small workbook interface the macros and the headless refresh work through.

Two adapters implement it: :class:`OpenpyxlBook` here (a file, no Excel) and, later, one over
xlwings (the live workbook). It is block-oriented -- read a sheet's used range, write a whole
rectangle -- because every call to a live Excel is a round trip.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from xlrebalance.workbook.foreign import ForeignCells

CellValue = str | float | int | bool | dt.datetime | dt.date | None
Block = list[list[CellValue]]


class Book(Protocol):
    """What the macros need from a workbook. Rows and columns are 1-based, as in Excel."""

    def sheet_names(self) -> list[str]:
        """Every sheet, in tab order."""
        ...

    def read_block(self, sheet: str) -> Block:
        """Values of the used range from A1, as the user sees them (a formula gives its
        result; one never calculated gives its text, starting with ``=``)."""
        ...

    def write_block(
        self,
        sheet: str,
        row: int,
        column: int,
        values: Sequence[Sequence[CellValue]],
        number_formats: Sequence[Sequence[str | None]] | None = None,
    ) -> None:
        """Write a rectangle of values (and, where given, number formats) at ``row, column``.
        Strings are written as text, whatever they start with (``=``, ``+``, ``-``, ``@``):
        never as formulas."""
        ...

    def clear_block(self, sheet: str, row: int, column: int, rows: int, columns: int) -> None:
        """Empty the values of a rectangle (formats stay)."""
        ...

    def append_rows(
        self,
        sheet: str,
        values: Sequence[Sequence[CellValue]],
        number_formats: Sequence[Sequence[str | None]] | None = None,
    ) -> int:
        """Write rows below the last used row of column A; a table ending there grows with
        them. Returns the first row written."""
        ...

    def add_sheet(self, name: str) -> None:
        """Add an empty sheet after the last one (a sheet the tool owns, gone missing)."""
        ...


class Layout(Protocol):
    """What a :class:`Book` may also say about a sheet's layout (both adapters do; a book
    that does not is read as if nothing were merged or hidden)."""

    def merged_ranges(self, sheet: str) -> list[tuple[int, int, int, int]]:
        """Merged areas as ``(first_row, first_column, last_row, last_column)``."""
        ...

    def hidden_rows(self, sheet: str) -> set[int]:
        """Rows hidden by hand or by a filter."""
        ...


class OpenpyxlBook:
    """:class:`Book` over an openpyxl workbook loaded with its formulas and VBA kept."""

    def __init__(
        self, workbook: Any, path: Path | None = None, foreign: ForeignCells | None = None
    ) -> None:
        self.workbook = workbook
        self.path = path
        self.foreign = foreign
        """The user's own sheets, loaded without their cells (see :mod:`.foreign`): save
        with ``save_workbook(..., foreign=book.foreign)`` to put them back."""
        self._values: dict[tuple[str, int], Block] | None = None

    @classmethod
    def open(cls, path: str | Path, *, owned_only: bool = False) -> OpenpyxlBook:
        """Load ``path``; with ``owned_only``, sheets the tool does not own are loaded without
        their cells, so their size costs (almost) nothing; reading them gives nothing."""
        from openpyxl import load_workbook

        from xlrebalance.errors import PortfolioError
        from xlrebalance.workbook.foreign import strip
        from xlrebalance.workbook.schema import OWNED_SHEETS

        path = Path(path)
        foreign: ForeignCells | None = None
        try:
            if owned_only and zipfile.is_zipfile(path):
                try:
                    foreign = strip(path, OWNED_SHEETS)
                except Exception:  # a shortcut only: an odd package is loaded whole,
                    foreign = None  # and openpyxl's own errors describe what is wrong
            loaded: Any = io.BytesIO(foreign.stripped) if foreign is not None else path
            workbook = load_workbook(
                loaded, keep_vba=path.suffix.lower() == ".xlsm", rich_text=False
            )
        except FileNotFoundError as exc:
            raise PortfolioError(str(path), "no such file") from exc
        except Exception as exc:  # openpyxl raises many types for a file that is not a workbook
            raise PortfolioError(str(path), f"cannot open the workbook: {exc}") from exc
        return cls(workbook, path, foreign)

    def sheet_names(self) -> list[str]:
        return list(self.workbook.sheetnames)

    def _owned(self, sheet: str) -> None:
        """Refuse to read or write a sheet loaded without its cells: what was read would be
        empty and what was written would be replaced by its original cells on save."""
        if self.foreign is not None and sheet in self.foreign.sheets:
            raise LookupError(
                f"{sheet} was loaded without its cells (not in schema.OWNED_SHEETS): a sheet "
                "the tool reads or writes must be listed there"
            )

    def read_block(self, sheet: str) -> Block:
        self._owned(sheet)
        ws = self.workbook[sheet]
        block = _sparse_block(ws)
        if block is None:
            block = [list(row) for row in ws.iter_rows(values_only=True)]
        last = max(
            (r for r, row in enumerate(block, 1) if any(_formula(v) for v in row)), default=0
        )
        if last:
            cached = self._cached(sheet, last)
            for r, row in enumerate(block):
                for c, value in enumerate(row):
                    if isinstance(value, str) and value.startswith("="):
                        saved = _at(cached, r, c)
                        if saved is not None:
                            row[c] = saved
        return block

    def merged_ranges(self, sheet: str) -> list[tuple[int, int, int, int]]:
        ranges = self.workbook[sheet].merged_cells.ranges
        return [(r.min_row, r.min_col, r.max_row, r.max_col) for r in ranges]

    def hidden_rows(self, sheet: str) -> set[int]:
        dims = self.workbook[sheet].row_dimensions
        return {int(n) for n, dim in dims.items() if getattr(dim, "hidden", False)}

    def _cached(self, sheet: str, last_row: int) -> Block:
        """Formula results Excel saved in the file (none after an openpyxl save)."""
        if self._values is None:
            self._values = {}
        key = (sheet, last_row)
        if key not in self._values:
            self._values[key] = []
            if self.path is not None and self.path.exists():
                from openpyxl import load_workbook

                # This sheet only (streamed): other sheets may be huge and are not ours.
                source: Any = self.path
                if self.foreign is not None:
                    source = io.BytesIO(self.foreign.stripped)
                values = load_workbook(source, read_only=True, data_only=True)
                try:
                    if sheet in values.sheetnames:
                        self._values[key] = [
                            list(row)
                            for row in values[sheet].iter_rows(max_row=last_row, values_only=True)
                        ]
                finally:
                    values.close()
        return self._values[key]

    def write_block(
        self,
        sheet: str,
        row: int,
        column: int,
        values: Sequence[Sequence[CellValue]],
        number_formats: Sequence[Sequence[str | None]] | None = None,
    ) -> None:
        self._owned(sheet)
        ws = self.workbook[sheet]
        for r, line in enumerate(values):
            for c, value in enumerate(line):
                cell = ws.cell(row=row + r, column=column + c)
                cell.value = value
                if isinstance(value, str) and cell.data_type != "s":
                    # openpyxl stores any string starting with "=" as a formula; what we
                    # write is text from users and quote sources, never a formula to run.
                    cell.data_type = "s"
                fmt = _at(number_formats, r, c) if number_formats is not None else None
                if isinstance(fmt, str):
                    cell.number_format = fmt

    def clear_block(self, sheet: str, row: int, column: int, rows: int, columns: int) -> None:
        self._owned(sheet)
        ws = self.workbook[sheet]
        last_row = min(row + rows - 1, ws.max_row)
        last_column = min(column + columns - 1, ws.max_column)
        for line in ws.iter_rows(
            min_row=row, max_row=last_row, min_col=column, max_col=last_column
        ):
            for cell in line:
                if cell.value is not None:
                    cell.value = None

    def append_rows(
        self,
        sheet: str,
        values: Sequence[Sequence[CellValue]],
        number_formats: Sequence[Sequence[str | None]] | None = None,
    ) -> int:
        from openpyxl.utils.cell import range_boundaries

        ws = self.workbook[sheet]
        cells = getattr(ws, "_cells", {})  # sparse: a stray far-down cell costs nothing
        end = max(
            (r for (r, c), cell in cells.items() if c == 1 and cell.value is not None), default=0
        )
        first = end + 1
        self.write_block(sheet, first, 1, values, number_formats)
        last = first + len(values) - 1
        for table in ws.tables.values():
            min_col, min_row, max_col, max_row = range_boundaries(table.ref)
            if min_row < first <= max_row + 1 and last > max_row:
                table.ref = f"{_letter(min_col)}{min_row}:{_letter(max_col)}{last}"
        return first

    def add_sheet(self, name: str) -> None:
        self.workbook.create_sheet(name)


SPARSE_CELLS = 200_000
"""A used range with more cells than this is read from the cells that exist, not cell by
cell: one stray value in row 1,048,576 must not cost 16 million empty cells."""

_BLANK_ROW: list[CellValue] = []


def _formula(value: object) -> bool:
    return isinstance(value, str) and value.startswith("=")


def _sparse_block(ws: Any) -> Block | None:
    """The used range from A1 built from the sheet's stored cells, when it is large; rows
    without a value are one shared empty list (readers treat a short row as blanks). None
    for an ordinary sheet, which is read the usual way."""
    cells = getattr(ws, "_cells", None)
    if not isinstance(cells, dict) or ws.max_row * ws.max_column <= SPARSE_CELLS:
        return None
    width = ws.max_column
    block: Block = [_BLANK_ROW] * ws.max_row
    for (r, c), cell in cells.items():
        value = cell.value
        if value is None:
            continue
        if block[r - 1] is _BLANK_ROW:
            block[r - 1] = [None] * width
        block[r - 1][c - 1] = value
    return block


def _letter(column: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(column))


def _at(block: Sequence[Sequence[Any]] | None, r: int, c: int) -> Any:
    if block is None or r >= len(block) or c >= len(block[r]):
        return None
    return block[r][c]
