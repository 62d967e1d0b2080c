"""Workbook -> validated :class:`Portfolio`, with every problem named by sheet and cell.

Columns are found by their header text (English or Korean, case and units ignored), so users
may reorder columns and add their own. Rows that are blank in every input column are skipped.
Cross-field rules are checked by :func:`xlrebalance.model.validate`, whose paths
(``holdings[3].quantity``) this module maps back to cells (``Holdings!E7``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from openpyxl.utils import get_column_letter

from xlrebalance import cells
from xlrebalance.errors import PortfolioError
from xlrebalance.model import (
    CASH,
    MARKET_CURRENCY,
    Account,
    Group,
    Holding,
    Portfolio,
    validate,
)
from xlrebalance.workbook.book import Block, Book, CellValue
from xlrebalance.workbook.schema import (
    CASH_SHEET,
    CASH_TARGET_KEY,
    DEFAULT_MAX_PRICE_JUMP,
    DEFAULT_QUOTE_MAX_AGE_HOURS,
    EXTRA_HEADERS,
    GROUPS,
    HOLDINGS,
    SETTINGS,
    SETTINGS_COLUMNS,
    SETTINGS_SHEET,
    Lang,
    TableSheet,
    normalize_header,
)


@dataclass(frozen=True)
class WorkbookInput:
    """A validated portfolio and where each part of it lives in the workbook."""

    portfolio: Portfolio
    lang: Lang
    holdings_rows: tuple[int, ...]
    """Sheet row of each holding, in ``portfolio.holdings`` order."""
    holdings_columns: dict[str, int]
    """1-based column of each Holdings field found (by key, e.g. ``price``)."""
    price_times: tuple[dt.datetime | None, ...]
    sources: tuple[str | None, ...]
    settings_rows: dict[str, int]
    settings_value_column: int
    quote_max_age_hours: float
    locate: Callable[[str], str] = field(repr=False)
    max_price_jump: float = DEFAULT_MAX_PRICE_JUMP
    """Settings' ``workbook.max_price_jump``: see :mod:`xlrebalance.quotes.sanity`."""


def cell_name(sheet: str, row: int, column: int) -> str:
    return f"{sheet}!{get_column_letter(column)}{row}"


@dataclass
class _Table:
    """A table sheet's rows with the header found; rows and columns are 1-based."""

    sheet: TableSheet
    header_row: int
    columns: dict[str, int]
    rows: list[tuple[int, dict[str, CellValue]]]
    lang: Lang
    last_row: int = 0
    """Last sheet row with an input value, total rows included (rows are added below it)."""

    def where(self, row: int, key: str) -> str:
        column = self.columns.get(key)
        if column is None:
            return f"{self.sheet.name}!{row}:{row}"
        return cell_name(self.sheet.name, row, column)


def _find_header(
    name: str,
    block: Block,
    aliases: dict[str, frozenset[str]],
    required: Sequence[str],
    english: dict[str, str],
    read: Collection[str] | None = None,
) -> tuple[int, dict[str, int], Lang]:
    """The header row (1-based), each column's 1-based index and the header's language.
    ``read``: the columns whose values are read (default: all), which may not be named
    twice."""
    header = cells.find_header(block, aliases, required)
    if header is None:
        wanted = ", ".join(f'"{english[k]}"' for k in required)
        raise PortfolioError(
            name,
            f"no header row with the columns {wanted} in its first {cells.HEADER_SCAN_ROWS} "
            "rows (English or Korean header names, in any order)",
        )
    checked = {k: v for k, v in aliases.items() if read is None or k in read}
    _refuse_duplicate_headers(name, block[header.row], header.row + 1, header.columns, checked)
    columns = {key: c + 1 for key, c in header.columns.items()}
    return header.row + 1, columns, "ko" if header.korean else "en"


def _refuse_duplicate_headers(
    name: str,
    line: Sequence[CellValue],
    row: int,
    found: dict[str, int],
    aliases: dict[str, frozenset[str]],
) -> None:
    """Two header cells naming one column (two "Quantity"s) would have one of them ignored
    without a word: which one the user means is theirs to say."""
    for c, value in enumerate(line):
        if c in found.values() or not isinstance(cells.cell(value), str):
            continue
        key = normalize_header(str(cells.cell(value)))
        for field_key, names in aliases.items():
            if field_key in found and key in names:
                first = cell_name(name, row, found[field_key] + 1)
                raise PortfolioError(
                    cell_name(name, row, c + 1),
                    f"{cells.show(value)} names the same column as {first} "
                    f"({cells.show(line[found[field_key]])}): rename or delete one of them",
                )


def _read_table(book: Book, sheet: TableSheet, required: Sequence[str]) -> _Table:
    if sheet.name not in book.sheet_names():
        raise PortfolioError(sheet.name, _missing_sheet(book, sheet.name))
    block = book.read_block(sheet.name)
    english = {c.key: c.en for c in sheet.columns}
    read = [c.key for c in sheet.columns if c.formula is None]
    header_row, columns, lang = _find_header(
        sheet.name, block, sheet.header_aliases(), required, english, read
    )
    _refuse_merged(book, sheet.name, header_row, columns)
    inputs = [c.key for c in sheet.columns if c.formula is None and c.key in columns]
    rows: list[tuple[int, dict[str, CellValue]]] = []
    last_row = header_row
    for r in range(header_row, len(block)):
        line = block[r]
        if not line:  # a blank row of a sparse read (a stray cell far below)
            continue
        values = {
            key: line[columns[key] - 1] if columns[key] - 1 < len(line) else None for key in columns
        }
        if all(cells.blank(values[k]) for k in inputs):
            continue
        last_row = r + 1
        if _total_row(values):
            continue
        rows.append((r + 1, values))
    return _Table(sheet, header_row, columns, rows, lang, last_row)


def _total_row(values: dict[str, CellValue]) -> bool:
    """A "Total"/"합계" row under Holdings or Cash (docs/workbook.md, "Total rows"): the
    Account cell holds a total label and the Ticker cell (if any) is blank or the same label,
    or the Account cell is blank and the Ticker cell holds one (``SUM`` is a ticker there)."""
    if "account" not in values:
        return False
    account, ticker = values.get("account"), values.get("ticker")
    if cells.is_total_label(account):
        same = normalize_header(cells.text(ticker)) == normalize_header(cells.text(account))
        return "ticker" not in values or cells.blank(ticker) or same
    return (
        "ticker" in values
        and cells.blank(account)
        and cells.is_total_label(ticker, ticker_column=True)
    )


def _missing_sheet(book: Book, name: str) -> str:
    """Sheet names are the tool's (formulas, macros and the reader use them), English in a
    Korean workbook too: a renamed one is told so, with what the workbook has instead."""
    others = ", ".join(book.sheet_names()[:12])
    return (
        f"the workbook has no sheet named {name} (it has {others}); sheet names stay as "
        "built, in English in a Korean workbook too: if you renamed it, rename it back"
    )


def _refuse_merged(book: Book, name: str, header_row: int, columns: dict[str, int]) -> None:
    """A merged area below a table's header would be read as one value and blanks (a merged
    Quantity of 2 rows reads as the first row's number and an empty second): refuse it."""
    merged = getattr(book, "merged_ranges", None)
    if merged is None:
        return
    used = set(columns.values())
    for top, left, bottom, right in merged(name):
        if bottom > header_row and any(left <= c <= right for c in used):
            area = f"{get_column_letter(left)}{top}:{get_column_letter(right)}{bottom}"
            raise PortfolioError(
                f"{name}!{area}",
                "merged cells inside the table: unmerge them (each row needs its own value "
                "in every column)",
            )


def _time(value: CellValue) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str) and value.strip():
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def read_input(book: Book, *, offline: bool = True) -> WorkbookInput:
    """Read and validate the workbook's portfolio. ``offline`` makes a missing price an error."""
    locations: dict[str, str] = {}
    holdings_table = _read_table(book, HOLDINGS, ("account", "ticker", "quantity"))
    cash_table = _read_table(book, CASH_SHEET, ("account", "currency", "amount"))
    groups_table = _read_groups(book)
    settings, settings_rows, value_column, extras = _read_settings(book, locations)

    # Accounts come from the Cash sheet, in order of first appearance.
    cash: dict[str, dict[str, float]] = {}
    for row, values in cash_table.rows:
        where = cash_table.where(row, "account")
        account = cells.text(values.get("account"))
        if not account:
            raise PortfolioError(where, "account is empty" + _row_holds(cash_table, row, values))
        currency = cells.currency(
            values.get("currency"), "", "currency", cash_table.where(row, "currency")
        )
        if not currency:
            raise PortfolioError(
                cash_table.where(row, "currency"),
                "currency is empty" + _row_holds(cash_table, row, values),
            )
        amount_at = cash_table.where(row, "amount")
        amount = (
            0.0
            if cells.blank(values.get("amount"))
            else cells.number(values.get("amount"), "amount", amount_at, currency=currency)
        )
        balances = cash.setdefault(account, {})
        index = list(cash).index(account)
        locations.setdefault(f"accounts[{index}].id", where)
        locations.setdefault(f"accounts[{index}]", where)
        if currency in balances:
            raise PortfolioError(
                cash_table.where(row, "currency"),
                f"a second {currency} row for account {account!r} "
                f"(first at {locations[f'accounts[{index}].cash.{currency}']})",
            )
        balances[currency] = amount
        locations[f"accounts[{index}].cash.{currency}"] = amount_at
    accounts = tuple(Account(id=a, cash=c) for a, c in cash.items())
    locations["accounts"] = "Cash"

    holdings: list[Holding] = []
    rows: list[int] = []
    times: list[dt.datetime | None] = []
    sources: list[str | None] = []
    targets: dict[str, float] = {}
    target_rows: list[int] = []
    for row, values in holdings_table.rows:
        i = len(holdings)
        at = holdings_table.where
        for key in HOLDINGS.columns:
            locations[f"holdings[{i}].{key.key}"] = at(row, key.key)
        locations[f"holdings[{i}]"] = at(row, "ticker")
        ticker = cells.ticker(values.get("ticker"))
        if not ticker:
            raise PortfolioError(
                at(row, "ticker"), "ticker is empty" + _row_holds(holdings_table, row, values)
            )
        if cells.is_cash_name(ticker) or ticker == CASH:
            raise PortfolioError(
                at(row, "ticker"),
                f"{cells.show(values.get('ticker'))} is cash, not a ticker: put cash on the "
                f"{CASH_SHEET.name} sheet (a row per account and currency) and its target in "
                f"Settings ({CASH_TARGET_KEY})",
            )
        account = cells.text(values.get("account"))
        if not account:
            raise PortfolioError(at(row, "account"), f"{ticker}: account is empty")
        if account not in cash:  # accounts live on the Cash sheet: say so where it is typed
            known = ", ".join(repr(a) for a in cash) or "none yet"
            raise PortfolioError(
                at(row, "account"),
                f"{ticker}: account {account!r} has no row on the {CASH_SHEET.name} sheet "
                f"(accounts there: {known}); add one (amount 0 is fine), or fix the name",
            )
        market = cells.market(values.get("market"), ticker, at(row, "market"))
        kind = cells.kind(values.get("kind"), values.get("name"), market, at(row, "kind"))
        currency = cells.currency(
            values.get("currency"), MARKET_CURRENCY[market], "currency", at(row, "currency")
        )
        quantity_value = values.get("quantity")
        quantity = (
            0.0
            if cells.blank(quantity_value)
            else cells.number(quantity_value, "quantity", at(row, "quantity"))
        )
        price_value = values.get("price")
        price = (
            None
            if cells.blank(price_value)
            else cells.number(price_value, "price", at(row, "price"), currency=currency)
        )
        optional = {
            key: None
            if cells.blank(values.get(key))
            else cells.number(values.get(key), label, at(row, key), percent=percent)
            for key, label, percent in (
                ("average_cost", "average cost", False),
                ("leverage", "leverage", False),
                ("take_profit", "take profit", True),
            )
        }
        locked_value = values.get("locked")
        locked = cells.flag(locked_value, "locked", at(row, "locked"))
        name = cells.text(values.get("name")) or None
        target_value = values.get("target")
        if not cells.blank(target_value):
            weight = cells.number(target_value, "target", at(row, "target"), percent=True)
            if ticker not in targets:
                locations[f"targets.{ticker}"] = at(row, "target")
            targets[ticker] = targets.get(ticker, 0.0) + weight
            target_rows.append(row)
        holdings.append(
            Holding(
                account=account,
                ticker=ticker,
                market=market,
                quantity=quantity,
                currency=currency,
                kind=kind,
                price=price,
                locked=locked,
                name=name,
                average_cost=optional["average_cost"],
                leverage=optional["leverage"],
                take_profit=optional["take_profit"],
            )
        )
        rows.append(row)
        times.append(_time(values.get("price_time")))
        source = values.get("source")
        sources.append(None if cells.blank(source) else cells.text(source))
    if CASH in extras:
        targets[CASH] = extras[CASH]
    target_column = holdings_table.columns.get("target")
    if target_column is not None and rows:
        letter = get_column_letter(target_column)
        locations["targets"] = f"Holdings!{letter}{rows[0]}:{letter}{rows[-1]} (Target)"
    else:
        locations["targets"] = "Holdings (Target column)"

    groups: list[Group] = []
    for row, values in groups_table.rows:
        i = len(groups)
        for field_key in ("name", "max_weight", "tickers"):
            locations[f"groups[{i}].{field_key}"] = groups_table.where(row, field_key)
        name = cells.text(values.get("name"))
        if not name:
            raise PortfolioError(groups_table.where(row, "name"), "group name is empty")
        cap = cells.number(
            values.get("max_weight"),
            "max weight",
            groups_table.where(row, "max_weight"),
            percent=True,
        )
        tickers = cells.ticker_list(values.get("tickers"))
        if not tickers:
            raise PortfolioError(
                groups_table.where(row, "tickers"), f"group {name!r} has no tickers"
            )
        groups.append(Group(name=name, tickers=tickers, max_weight=cap))

    portfolio = Portfolio(
        base_currency=settings.pop("base_currency"),  # type: ignore[arg-type]
        accounts=accounts,
        holdings=tuple(holdings),
        targets=targets,
        fx=settings.pop("fx"),  # type: ignore[arg-type]
        groups=tuple(groups),
        settings=settings.pop("settings"),  # type: ignore[arg-type]
    )

    def locate(path: str) -> str:
        if path in locations:
            return locations[path]
        if path.startswith(("settings.", "fx.", "base_currency")):
            return f"Settings (add a row with key {path})"
        return path

    validate(portfolio, offline=offline, locate=locate)
    return WorkbookInput(
        portfolio=portfolio,
        lang=holdings_table.lang,
        holdings_rows=tuple(rows),
        holdings_columns=dict(holdings_table.columns),
        price_times=tuple(times),
        sources=tuple(sources),
        settings_rows=settings_rows,
        settings_value_column=value_column,
        quote_max_age_hours=extras.get("workbook.quote_max_age_hours", DEFAULT_QUOTE_MAX_AGE_HOURS),
        locate=locate,
        max_price_jump=extras.get("workbook.max_price_jump", DEFAULT_MAX_PRICE_JUMP),
    )


def _row_holds(table: _Table, row: int, values: dict[str, CellValue]) -> str:
    """What a row with a required cell empty does hold, as the end of its error: a note typed
    under the table (``※ 2026-01 기준`` in the Account column) is read as a row."""
    typed = [
        f"{table.where(row, c.key)} {cells.show(values[c.key])}"
        for c in table.sheet.columns
        if c.formula is None and not cells.blank(values.get(c.key))
    ]
    if len(typed) != 1:
        return ""
    return (
        f" (the row holds only {typed[0]}: a note? keep notes in a column of your own, or "
        "delete the row)"
    )


def _read_groups(book: Book) -> _Table:
    """The Groups table; no rows when the workbook has no Groups sheet (an older layout, or
    the user deleted it): no group caps."""
    if GROUPS.name not in book.sheet_names():
        return _Table(GROUPS, 0, {}, [], "en")
    return _read_table(book, GROUPS, ("name", "max_weight", "tickers"))


# Settings' labels (English and Korean, as built) -> keys, for a sheet whose Key column is gone.
# Compared without case and spaces only: "(KRW)" and "(absolute)" tell rows apart here.
def _label(text: str) -> str:
    return "".join(text.lower().split())


_SETTING_LABELS = {_label(label): s.key for s in SETTINGS for label in (s.en, s.ko)}


def _read_settings(
    book: Book, locations: dict[str, str]
) -> tuple[dict[str, object], dict[str, int], int, dict[str, float]]:
    if SETTINGS_SHEET not in book.sheet_names():
        raise PortfolioError(SETTINGS_SHEET, _missing_sheet(book, SETTINGS_SHEET))
    block = book.read_block(SETTINGS_SHEET)
    aliases = {
        c.key: c.aliases() | {normalize_header(n) for n in EXTRA_HEADERS["Settings"].get(c.key, ())}
        for c in SETTINGS_COLUMNS
    }
    english = {c.key: c.en for c in SETTINGS_COLUMNS}
    by_label = cells.find_header(block, aliases, ("key", "value")) is None and (
        cells.find_header(block, aliases, ("label", "value")) is not None
    )
    name_key = "label" if by_label else "key"  # a Key column deleted: the labels name rows
    header_row, columns, _ = _find_header(
        SETTINGS_SHEET, block, aliases, (name_key, "value"), english, (name_key, "value")
    )
    key_col, value_col = columns[name_key], columns["value"]
    rows: dict[str, int] = {}
    found: list[cells.SettingRow] = []
    for r in range(header_row, len(block)):
        line = block[r]
        name = cells.text(line[key_col - 1] if key_col - 1 < len(line) else None)
        if by_label:
            name = _SETTING_LABELS.get(_label(name), name)
        if not name:
            continue
        where = cell_name(SETTINGS_SHEET, r + 1, value_col)
        value = line[value_col - 1] if value_col - 1 < len(line) else None
        found.append(
            cells.SettingRow(name, value, where, cell_name(SETTINGS_SHEET, r + 1, key_col))
        )
        key = cells.setting_key(name) or name
        rows.setdefault(key, r + 1)
        locations.setdefault(key, where)
    read = cells.settings_from_rows(found)
    locations.update(read.locations)
    extras = dict(read.extras)
    if read.cash_target is not None:
        extras[CASH] = read.cash_target
    jump = extras.get("workbook.max_price_jump")
    if jump is not None and not jump > 1:
        raise PortfolioError(locations["workbook.max_price_jump"], "expected a number above 1")
    parsed: dict[str, object] = {
        "base_currency": read.base_currency,
        "fx": read.fx,
        "settings": read.settings,
    }
    return parsed, rows, value_col, extras
