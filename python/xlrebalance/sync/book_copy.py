"""A workbook as a sync copy, through the :class:`Book` interface (a file or a live Excel).

The base (the last synced version) lives in the workbook, on a hidden sheet
``xlrebalance.sync`` (gzip + base64 text in column A). Inside the workbook rather than in a
sidecar because a live workbook is written by the Sync button but saved -- or not -- by the
user: a base kept outside would run ahead of a workbook closed without saving, and the next
sync would read the unsaved edits as local deletions. In the workbook, both are saved
together or not at all. The base holds no secret (only what the visible sheets hold).

Only input cells change: account, ticker, market, name, quantity, currency, locked, kind and
target on Holdings; Cash and Groups rows; Settings values; History rows. Prices, their times
and sources, formulas and any column of the user's own stay as they are.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gzip
import json
from collections.abc import Sequence
from typing import Any

from openpyxl.utils import get_column_letter

from xlrebalance import cells
from xlrebalance.errors import PortfolioError
from xlrebalance.model import CASH
from xlrebalance.sync.engine import Base, LocalCopy
from xlrebalance.sync.files import base_json, read_base
from xlrebalance.sync.rows import (
    Cell,
    LocalOnly,
    RowKey,
    Rows,
    SyncedState,
    history_rows,
    portfolio_rows,
)
from xlrebalance.workbook.book import Book, CellValue
from xlrebalance.workbook.reader import WorkbookInput, _read_table, _Table, read_input
from xlrebalance.workbook.schema import (
    CASH_SHEET,
    GROUPS,
    HEADER_ROW,
    HISTORY_COLUMNS,
    HISTORY_SHEET,
    HOLDINGS,
    SETTINGS,
    SETTINGS_SHEET,
    Lang,
    TableSheet,
)
from xlrebalance.workbook.writer import refuse_foreign_output

SYNC_SHEET = "xlrebalance.sync"
CHUNK = 30000  # Excel keeps at most 32,767 characters in a cell
REMOTE_KEY = "sync.remote"
ENDPOINT_KEY = "sync.endpoint"
HOLDING_FIELDS = ("market", "kind", "quantity", "currency", "locked", "name")


class WorkbookCopy:
    def __init__(self, book: Book, name: str = "workbook") -> None:
        self.book = book
        self.name = name
        self._inp: WorkbookInput | None = None
        self._local: SyncedState | None = None

    # -- reading -------------------------------------------------------------------------

    def setting(self, key: str) -> str | None:
        """A text setting (``sync.remote``) from the Settings sheet, or None."""
        block = self.book.read_block(SETTINGS_SHEET)
        for line in block:
            if line and cells.text(line[0]) == key:
                value = line[2] if len(line) > 2 else None
                return cells.text(value) or None
        return None

    def load(self) -> LocalCopy:
        refuse_foreign_output(self.book, (HISTORY_SHEET,))  # sync adds History rows
        inp = read_input(self.book, offline=False)
        state = SyncedState(portfolio_rows(inp.portfolio), _history_rows(self.book))
        self._inp, self._local = inp, state
        return LocalCopy(state, LocalOnly.of(inp.portfolio), self._base(), self._locate)

    def _base(self) -> Base | None:
        if SYNC_SHEET not in self.book.sheet_names():
            return None
        text = "".join(
            str(line[0]) for line in self.book.read_block(SYNC_SHEET) if line and line[0]
        )
        if not text:
            return None
        try:
            return read_base(json.loads(gzip.decompress(base64.b64decode(text))))
        except (ValueError, OSError, EOFError):
            return None

    def _locate(self, key: RowKey, cell: str | None) -> str:
        inp = self._inp
        assert inp is not None
        kind = key[0]
        if kind == "holding":
            for i, h in enumerate(inp.portfolio.holdings):
                if (h.account, h.ticker) == key[1:]:
                    return inp.locate(f"holdings[{i}].{cell or 'ticker'}")
            return f"Holdings (new row {key[1]}/{key[2]})"
        if kind == "cash":
            for i, a in enumerate(inp.portfolio.accounts):
                if a.id == key[1]:
                    return inp.locate(f"accounts[{i}].cash.{key[2]}")
            return f"Cash (new row {key[1]}/{key[2]})"
        if kind == "account":
            return f"Cash (account {key[1]})"
        if kind == "target":
            if key[1] == CASH:
                return self._setting_cell("targets.CASH")
            return inp.locate(f"targets.{key[1]}")
        if kind == "group":
            for i, g in enumerate(inp.portfolio.groups):
                if g.name == key[1]:
                    return inp.locate(f"groups[{i}].{cell or 'name'}")
            return f"Groups (new row {key[1]})"
        if kind == "setting":
            return self._setting_cell(key[1])
        return f"History ({key[1]})"

    def _setting_cell(self, key: str) -> str:
        inp = self._inp
        assert inp is not None
        row = inp.settings_rows.get(key)
        if row is None:
            return f"Settings (row {key})"
        return f"Settings!{get_column_letter(inp.settings_value_column)}{row}"

    # -- writing -------------------------------------------------------------------------

    def save(self, state: SyncedState | None, base: Base) -> None:
        if state is not None:
            assert self._inp is not None and self._local is not None
            _write_rows(self.book, self._inp, self._local.rows, state.rows)
            _write_history(self.book, self._local.history, state.history)
        self._write_base(base)

    def _write_base(self, base: Base) -> None:
        data = json.dumps(base_json(base), separators=(",", ":")).encode("utf-8")
        text = base64.b64encode(gzip.compress(data, mtime=0)).decode("ascii")
        chunks: list[list[CellValue]] = [
            [text[i : i + CHUNK]] for i in range(0, len(text), CHUNK)
        ] or [[""]]
        ensure_hidden_sheet(self.book, SYNC_SHEET)
        old = len(self.book.read_block(SYNC_SHEET))
        if old > len(chunks):
            self.book.clear_block(SYNC_SHEET, len(chunks) + 1, 1, old - len(chunks), 1)
        self.book.write_block(SYNC_SHEET, 1, 1, chunks)


def ensure_hidden_sheet(book: Book, name: str) -> None:
    if name in book.sheet_names():
        return
    workbook = getattr(book, "workbook", None)
    if workbook is not None:  # openpyxl
        sheet = workbook.create_sheet(name)
        sheet.sheet_state = "veryHidden"
        return
    xw_book: Any = getattr(book, "book", None)
    sheets = xw_book.sheets
    sheet = sheets.add(name=name, after=sheets[len(sheets) - 1])
    with contextlib.suppress(AttributeError, NotImplementedError):
        sheet.visible = False


def _history_rows(book: Book) -> Rows:
    if HISTORY_SHEET not in book.sheet_names():
        return {}
    table = _read_table(book, _history_sheet(), ("time", "event"))
    entries = []
    for _, values in table.rows:
        entry: dict[str, Cell] = {}
        for column in HISTORY_COLUMNS:
            value = values.get(column.key)
            if isinstance(value, dt.datetime):
                entry[column.key] = value.replace(microsecond=0).isoformat()
            elif isinstance(value, dt.date):
                entry[column.key] = dt.datetime(value.year, value.month, value.day).isoformat()
            elif cells.blank(value):
                entry[column.key] = None
            elif isinstance(value, bool | str):
                entry[column.key] = value
            elif isinstance(value, int | float):
                entry[column.key] = float(value)
            else:
                entry[column.key] = str(value)
        entries.append(entry)
    return history_rows(entries)


def _history_sheet() -> TableSheet:
    return TableSheet(HISTORY_SHEET, "HistoryTable", "", "", "", "", HISTORY_COLUMNS)


def _write_history(book: Book, old: Rows, new: Rows) -> None:
    added = [cells_ for key, cells_ in new.items() if key not in old]
    removed = [key for key in old if key not in new]
    if removed:
        table = _read_table(book, _history_sheet(), ("time", "event"))
        gone = set(removed)
        for row, found in table.rows:
            if _history_rows_of(found) in gone:
                book.clear_block(HISTORY_SHEET, row, 1, 1, len(HISTORY_COLUMNS))
    if added:
        block: list[list[CellValue]] = []
        for entry in added:
            line: list[CellValue] = []
            for column in HISTORY_COLUMNS:
                value = entry.get(column.key)
                if column.key == "time" and isinstance(value, str):
                    try:
                        line.append(dt.datetime.fromisoformat(value))
                        continue
                    except ValueError:
                        pass
                line.append(value)
            block.append(line)
        formats = [[c.number_format for c in HISTORY_COLUMNS] for _ in block]
        book.append_rows(HISTORY_SHEET, block, formats)


def _history_rows_of(values: dict[str, CellValue]) -> RowKey | None:
    entry: dict[str, Cell] = {}
    for column in HISTORY_COLUMNS:
        value = values.get(column.key)
        if isinstance(value, dt.datetime):
            entry[column.key] = value.replace(microsecond=0).isoformat()
        elif cells.blank(value):
            entry[column.key] = None
        elif isinstance(value, int | float) and not isinstance(value, bool):
            entry[column.key] = float(value)
        else:
            entry[column.key] = value if isinstance(value, str | bool) else str(value)
    keys = list(history_rows([entry]))
    return keys[0] if keys else None


def _template_layout(table: _Table) -> bool:
    """Whether the columns are where the template put them (so its formulas fit)."""
    return all(table.columns.get(c.key) == i for i, c in enumerate(table.sheet.columns, start=1))


def _section(rows: Rows, kind: str) -> dict[RowKey, dict[str, Cell]]:
    return {k: v for k, v in rows.items() if k[0] == kind}


def _write_rows(book: Book, inp: WorkbookInput, old: Rows, new: Rows) -> None:
    _write_holdings(book, inp, old, new)
    _write_table(
        book,
        CASH_SHEET,
        ("account", "currency", "amount"),
        lambda v: ("cash", cells.text(v.get("account")), cells.currency_key(v.get("currency"))),
        {
            k: {"account": k[1], "currency": k[2], "amount": c["amount"]}
            for k, c in _section(new, "cash").items()
        },
        _accounts_without_cash(new),
    )
    groups = {
        k: {"name": k[1], "max_weight": c["max_weight"], "tickers": c["tickers"]}
        for k, c in _section(new, "group").items()
    }
    if groups or GROUPS.name in book.sheet_names():  # no sheet and no group: nothing to do
        _ensure_table_sheet(book, GROUPS, inp.lang)
        _write_table(
            book,
            GROUPS,
            ("name", "max_weight", "tickers"),
            lambda v: ("group", cells.text(v.get("name"))),
            groups,
            {},
        )
    _write_settings(book, inp, old, new)


def _ensure_table_sheet(book: Book, sheet: TableSheet, lang: Lang) -> None:
    """A table sheet the workbook lacks (Groups, which reads as "no groups" when missing),
    made with its title and header row when another machine's rows need it."""
    if sheet.name in book.sheet_names():
        return
    book.add_sheet(sheet.name)
    book.write_block(sheet.name, 1, 1, [[sheet.title(lang)]])
    header: list[CellValue] = [c.header(lang) for c in sheet.columns]
    book.write_block(sheet.name, HEADER_ROW, 1, [header])


def _accounts_without_cash(rows: Rows) -> dict[RowKey, dict[str, Cell]]:
    """An account with no cash row gets one (the Cash sheet is where accounts live)."""
    with_cash = {k[1] for k in rows if k[0] == "cash"}
    base = next((c["value"] for k, c in rows.items() if k == ("setting", "base_currency")), "KRW")
    return {
        ("cash", k[1], str(base)): {"account": k[1], "currency": str(base), "amount": 0.0}
        for k in rows
        if k[0] == "account" and k[1] not in with_cash
    }


def _write_table(
    book: Book,
    sheet: TableSheet,
    required: Sequence[str],
    key_of: Any,
    wanted: dict[RowKey, dict[str, Cell]],
    extra: dict[RowKey, dict[str, Cell]],
) -> None:
    wanted = {**wanted, **extra}
    table = _read_table(book, sheet, required)
    seen: set[RowKey] = set()
    for row, values in table.rows:
        key = key_of(values)
        if key in seen or key not in wanted:
            if key not in wanted:
                for field in required:
                    book.write_block(sheet.name, row, table.columns[field], [[None]])
            continue
        seen.add(key)
        for field, value in wanted[key].items():
            column = table.columns.get(field)
            if column is not None and _differs(values.get(field), value, field):
                book.write_block(sheet.name, row, column, [[value]])
    _append(book, table, [cells_ for key, cells_ in wanted.items() if key not in seen])


def _differs(current: CellValue, value: Cell, field: str) -> bool:
    if field == "tickers" and isinstance(value, str):  # the user's separators are kept
        return cells.ticker_list(current) != cells.ticker_list(value)
    if field == "currency":  # '원' is KRW: keep what the user typed
        return cells.currency_key(current) != cells.currency_key(value)
    if isinstance(value, float) and isinstance(current, str):  # "1,000,000" typed as text
        try:
            typed = cells.number(current, field, field, percent=field == "max_weight", money=True)
        except PortfolioError:
            return True
        return typed != value
    if cells.blank(current) and value in (None, ""):
        return False
    if (
        isinstance(value, float)
        and isinstance(current, int | float)
        and not isinstance(current, bool)
    ):
        return float(current) != value
    return current != value


def _append(book: Book, table: _Table, rows: list[dict[str, Cell]]) -> None:
    if not rows:
        return
    width = max(table.columns.values())
    formulas = _template_layout(table)
    first = table.last_row + 1
    block: list[list[CellValue]] = []
    for n, values in enumerate(rows):
        line: list[CellValue] = [None] * width
        for column in table.sheet.columns:
            at = table.columns.get(column.key)
            if at is None:
                continue
            if column.formula is not None:
                line[at - 1] = column.formula.format(r=first + n) if formulas else None
            elif column.key in values:
                line[at - 1] = values[column.key]
        block.append(line)
    book.write_block(table.sheet.name, first, 1, block)
    _grow_table(book, table.sheet.name, first, first + len(block) - 1)


def _grow_table(book: Book, sheet: str, first: int, last: int) -> None:
    """The table ending just above the new rows takes them in (as typing below it would)."""
    workbook = getattr(book, "workbook", None)
    if workbook is not None:  # openpyxl
        from openpyxl.utils.cell import range_boundaries

        for t in workbook[sheet].tables.values():
            min_col, min_row, max_col, max_row = range_boundaries(t.ref)
            if min_row < first <= max_row + 1 and last > max_row:
                t.ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{last}"
        return
    grow = getattr(book, "_grow_table", None)  # XlwingsBook
    if callable(grow):
        grow(sheet, first, last)


def _write_holdings(book: Book, inp: WorkbookInput, old: Rows, new: Rows) -> None:
    table = _read_table(book, HOLDINGS, ("account", "ticker", "quantity"))
    wanted = _section(new, "holding")
    targets = {k[1]: c["weight"] for k, c in _section(new, "target").items() if k[1] != CASH}
    old_targets = {k[1]: c["weight"] for k, c in _section(old, "target").items() if k[1] != CASH}
    target_column = table.columns.get("target")
    first_row_of: dict[str, int] = {}
    seen: set[RowKey] = set()
    rows_of_ticker: dict[str, list[int]] = {}
    inputs = [c.key for c in HOLDINGS.columns if c.formula is None and c.key in table.columns]
    for (row, _), h in zip(table.rows, inp.portfolio.holdings, strict=True):
        key: RowKey = ("holding", h.account, h.ticker)
        if key not in wanted:
            for field in inputs:  # this row was deleted on another machine
                book.write_block(HOLDINGS.name, row, table.columns[field], [[None]])
            continue
        seen.add(key)
        first_row_of.setdefault(h.ticker, row)
        rows_of_ticker.setdefault(h.ticker, []).append(row)
        mine = old.get(key, {})
        for field in HOLDING_FIELDS:
            value = wanted[key].get(field)
            column = table.columns.get(field)
            if column is not None and mine.get(field) != value:
                book.write_block(HOLDINGS.name, row, column, [[value]])
    added = [{"account": k[1], "ticker": k[2], **c} for k, c in wanted.items() if k not in seen]
    if added:
        start = table.last_row + 1
        for n, new_row in enumerate(added):
            ticker = str(new_row["ticker"])
            first_row_of.setdefault(ticker, start + n)
            rows_of_ticker.setdefault(ticker, []).append(start + n)
            if ticker not in old_targets and ticker in targets:
                new_row["target"] = targets[ticker]
        _append(book, table, added)
    if target_column is None:
        return
    for ticker in set(targets) | set(old_targets):
        if targets.get(ticker) == old_targets.get(ticker) and ticker in old_targets:
            continue
        if (
            ticker not in old_targets
            and ticker in targets
            and any(a["ticker"] == ticker for a in added)
        ):
            continue  # written with its new row
        for row in rows_of_ticker.get(ticker, []):
            value = targets.get(ticker) if row == first_row_of.get(ticker) else None
            book.write_block(HOLDINGS.name, row, target_column, [[value]])


def _write_settings(book: Book, inp: WorkbookInput, old: Rows, new: Rows) -> None:
    wanted: dict[str, Cell] = {k[1]: c["value"] for k, c in _section(new, "setting").items()}
    before: dict[str, Cell] = {k[1]: c["value"] for k, c in _section(old, "setting").items()}
    cash_target = new.get(("target", CASH), {}).get("weight")
    old_cash = old.get(("target", CASH), {}).get("weight")
    if cash_target != old_cash:
        wanted["targets.CASH"], before["targets.CASH"] = cash_target, old_cash
    else:
        wanted.pop("targets.CASH", None)
    column = inp.settings_value_column
    labels = {s.key: s.en for s in SETTINGS}
    appended: list[list[CellValue]] = []
    for key in dict.fromkeys([*wanted, *before]):
        value = wanted.get(key)
        if value == before.get(key) and key in before:
            continue
        row = inp.settings_rows.get(key)
        if row is not None:
            book.write_block(SETTINGS_SHEET, row, column, [[value]])
        elif value is not None:
            line: list[CellValue] = [None] * max(column, 2)
            line[0], line[1], line[column - 1] = key, labels.get(key, key), value
            appended.append(line)
    if appended:
        book.append_rows(SETTINGS_SHEET, appended)
