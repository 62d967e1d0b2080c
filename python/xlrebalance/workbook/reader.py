"""Workbook -> validated :class:`Portfolio`, with every problem named by sheet and cell.

Columns are found by their header text (English or Korean, case and units ignored), so users
may reorder columns and add their own. Rows that are blank in every input column are skipped.
Cross-field rules are checked by :func:`xlrebalance.model.validate`, whose paths
(``holdings[3].quantity``) this module maps back to cells (``Holdings!E7``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from openpyxl.utils import get_column_letter

from xlrebalance import cells
from xlrebalance.errors import PortfolioError
from xlrebalance.model import (
    CASH,
    DEFAULT_SELL_TAX,
    MARKET_CURRENCY,
    Account,
    Band,
    Fee,
    Group,
    Holding,
    Kind,
    Market,
    Mode,
    Portfolio,
    Settings,
    infer_market,
    normalize_ticker,
    validate,
)
from xlrebalance.workbook.book import Block, Book, CellValue
from xlrebalance.workbook.schema import (
    CASH_SHEET,
    DEFAULT_QUOTE_MAX_AGE_HOURS,
    GROUPS,
    HOLDINGS,
    SETTINGS,
    SETTINGS_COLUMNS,
    SETTINGS_SHEET,
    Column,
    Lang,
    TableSheet,
    normalize_header,
)

_HEADER_SCAN_ROWS = 20


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

    def where(self, row: int, key: str) -> str:
        column = self.columns.get(key)
        if column is None:
            return f"{self.sheet.name}!{row}:{row}"
        return cell_name(self.sheet.name, row, column)


def _find_header(
    name: str, block: Block, columns: Sequence[Column], required: Sequence[str]
) -> tuple[int, dict[str, int], Lang]:
    aliases = {c.key: c.aliases() for c in columns}
    korean = {c.key: normalize_header(c.ko) for c in columns}
    for r, line in enumerate(block[:_HEADER_SCAN_ROWS]):
        found: dict[str, int] = {}
        ko_hits = 0
        for c, value in enumerate(line):
            if not isinstance(value, str):
                continue
            text = normalize_header(value)
            for key, names in aliases.items():
                if key not in found and text in names:
                    found[key] = c + 1
                    ko_hits += text == korean[key]
        if all(k in found for k in required):
            return r + 1, found, "ko" if ko_hits * 2 > len(found) else "en"
    wanted = ", ".join(f'"{c.en}"' for c in columns if c.key in required)
    raise PortfolioError(name, f"no header row with the columns {wanted} in its first rows")


def _read_table(book: Book, sheet: TableSheet, required: Sequence[str]) -> _Table:
    if sheet.name not in book.sheet_names():
        raise PortfolioError(sheet.name, "the workbook has no such sheet")
    block = book.read_block(sheet.name)
    header_row, columns, lang = _find_header(sheet.name, block, sheet.columns, required)
    inputs = [c.key for c in sheet.columns if c.formula is None and c.key in columns]
    rows: list[tuple[int, dict[str, CellValue]]] = []
    for r in range(header_row, len(block)):
        line = block[r]
        values = {
            key: line[columns[key] - 1] if columns[key] - 1 < len(line) else None for key in columns
        }
        if all(cells.blank(values[k]) for k in inputs):
            continue
        rows.append((r + 1, values))
    return _Table(sheet, header_row, columns, rows, lang)


def _choice(value: CellValue, options: Sequence[str], label: str, where: str) -> str:
    text = cells.text(value)
    for option in options:
        if text.upper() == option.upper():
            return option
    raise PortfolioError(where, f"{label} {cells.show(value)} is not one of {', '.join(options)}")


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
    groups_table = _read_table(book, GROUPS, ("name", "max_weight", "tickers"))
    settings, settings_rows, value_column, extras = _read_settings(book, locations)

    # Accounts come from the Cash sheet, in order of first appearance.
    cash: dict[str, dict[str, float]] = {}
    for row, values in cash_table.rows:
        where = cash_table.where(row, "account")
        account = cells.text(values.get("account"))
        if not account:
            raise PortfolioError(where, "account is empty")
        currency = cells.text(values.get("currency")).upper()
        if not currency:
            raise PortfolioError(cash_table.where(row, "currency"), "currency is empty")
        amount_at = cash_table.where(row, "amount")
        amount = (
            0.0
            if cells.blank(values.get("amount"))
            else cells.number(values.get("amount"), "amount", amount_at)
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
        raw_ticker = cells.text(values.get("ticker"))
        if not raw_ticker:
            raise PortfolioError(at(row, "ticker"), "ticker is empty")
        ticker = normalize_ticker(raw_ticker)
        account = cells.text(values.get("account"))
        if not account:
            raise PortfolioError(at(row, "account"), f"{ticker}: account is empty")
        market = (
            infer_market(ticker)
            if cells.blank(values.get("market"))
            else Market(_choice(values.get("market"), ("US", "KR"), "market", at(row, "market")))
        )
        kind = (
            Kind.STOCK
            if cells.blank(values.get("kind"))
            else Kind(_choice(values.get("kind"), ("STOCK", "ETF"), "kind", at(row, "kind")))
        )
        currency = cells.text(values.get("currency")).upper() or MARKET_CURRENCY[market]
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
            else cells.number(price_value, "price", at(row, "price"))
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
        tickers = tuple(
            normalize_ticker(t)
            for t in cells.text(values.get("tickers"))
            .replace(";", ",")
            .replace(" ", ",")
            .split(",")
            if t.strip()
        )
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
    )


_SETTING_KINDS = {s.key: s for s in SETTINGS}


def _read_settings(
    book: Book, locations: dict[str, str]
) -> tuple[dict[str, object], dict[str, int], int, dict[str, float]]:
    if SETTINGS_SHEET not in book.sheet_names():
        raise PortfolioError(SETTINGS_SHEET, "the workbook has no such sheet")
    block = book.read_block(SETTINGS_SHEET)
    header_row, columns, _ = _find_header(SETTINGS_SHEET, block, SETTINGS_COLUMNS, ("key", "value"))
    key_col, value_col = columns["key"], columns["value"]
    values: dict[str, CellValue] = {}
    rows: dict[str, int] = {}
    for r in range(header_row, len(block)):
        line = block[r]
        key = cells.text(line[key_col - 1] if key_col - 1 < len(line) else None)
        if not key:
            continue
        where = cell_name(SETTINGS_SHEET, r + 1, value_col)
        if key in rows:
            raise PortfolioError(
                cell_name(SETTINGS_SHEET, r + 1, key_col),
                f"setting {key} appears twice (also row {rows[key]})",
            )
        rows[key] = r + 1
        locations[key] = where
        values[key] = line[value_col - 1] if value_col - 1 < len(line) else None

    def value(key: str) -> CellValue:
        return values.get(key)

    def label(key: str) -> str:
        setting = _SETTING_KINDS.get(key)
        return setting.en.lower() if setting else key

    def number(key: str, default: float, *, percent: bool = False) -> float:
        if cells.blank(value(key)):
            return default
        return cells.number(value(key), label(key), locations[key], percent=percent)

    def flag(key: str, default: bool) -> bool:
        if cells.blank(value(key)):
            return default
        return cells.flag(value(key), label(key), locations[key])

    fx: dict[str, float] = {}
    contribution: dict[str, float] = {}
    fees: dict[str, Fee] = {}
    sell_tax: dict[str, float] = {}
    extras: dict[str, float] = {}
    known_exact = {
        "base_currency", "settings.mode", "settings.contribution_account", "settings.fractional",
        "settings.band.absolute", "settings.band.relative", "settings.min_trade_value",
        "settings.fx_spread", "settings.auto_fx", "settings.time_limit", "targets.CASH",
        "workbook.quote_max_age_hours",
    }  # fmt: skip
    for key in values:
        if key.startswith("fx."):
            if not cells.blank(value(key)):
                fx[key[3:].upper()] = number(key, 0.0)
        elif key.startswith("settings.contribution."):
            amount = number(key, 0.0)
            if amount:
                contribution[key.rsplit(".", 1)[1].upper()] = amount
        elif key.startswith("settings.fees."):
            parts = key.split(".")
            if len(parts) != 4 or parts[3] not in ("rate", "min"):
                raise PortfolioError(locations[key], f"unknown setting key {key!r}")
        elif key.startswith("settings.sell_tax."):
            if not cells.blank(value(key)):
                sell_tax[key.split(".", 2)[2].upper()] = number(key, 0.0, percent=True)
        elif key not in known_exact:
            raise PortfolioError(
                cell_name(SETTINGS_SHEET, rows[key], key_col), f"unknown setting key {key!r}"
            )
    for market in dict.fromkeys(
        k.split(".")[2].upper() for k in values if k.startswith("settings.fees.")
    ):
        rate = (
            number(f"settings.fees.{market}.rate", 0.0, percent=True)
            if f"settings.fees.{market}.rate" in values
            else 0.0
        )
        minimum = (
            number(f"settings.fees.{market}.min", 0.0)
            if f"settings.fees.{market}.min" in values
            else 0.0
        )
        fees[market] = Fee(rate=rate, min=minimum)
    if not any(k.startswith("settings.sell_tax.") for k in values):
        sell_tax = dict(DEFAULT_SELL_TAX)
    base = cells.text(value("base_currency")).upper() or "KRW"
    mode_text = cells.text(value("settings.mode")) or Mode.REBALANCE.value
    mode = Mode(
        _choice(
            mode_text, [m.value for m in Mode], "mode", locations.get("settings.mode", "Settings")
        )
    )
    account = cells.text(value("settings.contribution_account")) or None
    defaults = Settings()
    settings = Settings(
        mode=mode,
        contribution=contribution,
        contribution_account=account,
        fractional=flag("settings.fractional", defaults.fractional),
        band=Band(
            absolute=number("settings.band.absolute", 0.0, percent=True),
            relative=number("settings.band.relative", 0.0, percent=True),
        ),
        min_trade_value=number("settings.min_trade_value", 0.0),
        fees=fees,
        sell_tax=sell_tax,
        fx_spread=number("settings.fx_spread", 0.0, percent=True),
        auto_fx=flag("settings.auto_fx", defaults.auto_fx),
        time_limit=number("settings.time_limit", defaults.time_limit),
    )
    if not cells.blank(value("targets.CASH")):
        extras[CASH] = number("targets.CASH", 0.0, percent=True)
    if not cells.blank(value("workbook.quote_max_age_hours")):
        extras["workbook.quote_max_age_hours"] = number("workbook.quote_max_age_hours", 0.0)
    parsed: dict[str, object] = {"base_currency": base, "fx": fx, "settings": settings}
    return parsed, rows, value_col, extras
