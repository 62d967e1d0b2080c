"""Ranges from a user's own sheet -> :class:`Portfolio`, for the worksheet functions.

``=REBAL_TRADES(holdings, targets, cash, settings)`` gets whatever rectangle the user selected,
as Excel hands it to Python: a 2-D list, ``None`` for blank cells, floats for numbers,
datetimes for dates, text for the rest (and, on Windows, error cells as COM error codes).
Nothing here knows the sheet: problems are named by range and row, counting the range's own
first row as 1 (``Holdings row 3: quantity "ten" is not a number``).

Columns are found by their header, case-insensitive, English or Korean (``Ticker``/``종목코드``,
``Quantity``/``수량``...), anywhere in the first rows; other columns are ignored. Korean codes
that Excel turned into numbers (69500) get their zeros back (069500); ``A005930`` (brokers'
exports) and ``005930.KS`` (Yahoo) mean 005930. Numbers stored as text (``"1,234"``,
``"₩41,250"``) are numbers; weights may be 0.25, ``"25%"``, or percentages summing to 100.
A Total/합계 line under the rows (see :func:`is_total_row`) is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xlrebalance import cells
from xlrebalance.cells import blank, cell, flag, is_error, number, text, ticker
from xlrebalance.errors import PortfolioError
from xlrebalance.model import (
    CASH,
    MARKET_CURRENCY,
    TARGET_SUM_TOLERANCE,
    Account,
    Holding,
    Portfolio,
    infer_market,
)
from xlrebalance.workbook.schema import (
    CASH_SHEET,
    EXTRA_HEADERS,
    HOLDINGS,
    SETTINGS_COLUMNS,
    normalize_header,
)

Grid = list[list[object]]
DEFAULT_ACCOUNT = "default"
DEFAULT_BASE = cells.DEFAULT_BASE

_HOLDINGS_ALIASES = HOLDINGS.header_aliases()
HOLDING_COLUMNS: dict[str, frozenset[str]] = {
    key: _HOLDINGS_ALIASES[key]
    for key in (
        "account", "ticker", "name", "quantity", "price", "currency", "market", "kind", "locked",
        "target", "average_cost", "leverage", "take_profit",
    )
}  # fmt: skip
TARGET_COLUMNS: dict[str, frozenset[str]] = {
    "ticker": HOLDING_COLUMNS["ticker"],
    "target": HOLDING_COLUMNS["target"]
    | {normalize_header(n) for n in ("weight", "비중", "allocation", "배분")},
    "account": HOLDING_COLUMNS["account"],
    "name": HOLDING_COLUMNS["name"],
}
CASH_COLUMNS: dict[str, frozenset[str]] = {
    key: aliases
    for key, aliases in CASH_SHEET.header_aliases().items()
    if key in ("account", "currency", "amount")
}
SETTING_COLUMNS: dict[str, frozenset[str]] = {
    c.key: c.aliases() | {normalize_header(n) for n in EXTRA_HEADERS["Settings"].get(c.key, ())}
    for c in SETTINGS_COLUMNS
    if c.key in ("key", "label", "value")
}


def is_total_row(line: Sequence[object], code: str) -> bool:
    """A Total/합계 line a user sums the rows in: its first cell is a total label
    (:func:`xlrebalance.cells.is_total_label`, the workbook reader's list) and it names no
    other ticker (its ticker cell is blank or that same label). Read as a holding it was a
    ticker to quote (``TOTAL``) or, with a quantity, a position to trade."""
    if not line or not cells.is_total_label(line[0]):
        return False
    return not code or normalize_header(code) == normalize_header(text(line[0]))


def as_grid(value: object) -> Grid:
    """A range argument as rows of cells, whatever shape Excel or a caller gave it."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        if not value:
            return []
        if all(isinstance(row, list | tuple) for row in value):
            return [list(row) for row in value]
        return [list(value)]  # one row
    return [[value]]


# -- tables ------------------------------------------------------------------------------


@dataclass
class Table:
    """A range with its header found. ``rows`` are (row number in the range, cells by key)."""

    label: str
    columns: dict[str, int]
    rows: list[tuple[int, dict[str, object]]]
    korean: bool = False

    def where(self, row: int) -> str:
        return f"{self.label} row {row}"


def find_table(
    label: str,
    grid: Grid,
    columns: dict[str, frozenset[str]],
    required: Sequence[str],
) -> Table | None:
    """The first row (of the first :data:`cells.HEADER_SCAN_ROWS`) naming every ``required``
    column is the header."""
    header = cells.find_header(grid, columns, required)
    if header is None:
        return None
    rows = []
    for number_, line in enumerate(grid[header.row + 1 :], start=header.row + 2):
        values = {k: cell(line[c]) if c < len(line) else None for k, c in header.columns.items()}
        if any(v is not None for v in values.values()):
            rows.append((number_, values))
    return Table(label, header.columns, rows, header.korean)


def _require_table(
    label: str, grid: Grid, columns: dict[str, frozenset[str]], required: Sequence[str]
) -> Table:
    table = find_table(label, grid, columns, required)
    if table is None:
        wanted = " and ".join(f"a {k} column" for k in required)
        examples = "; ".join(f"{k}: {', '.join(sorted(columns[k], key=len)[:3])}" for k in required)
        raise PortfolioError(
            label, f"no header row with {wanted} in its first rows (headers such as {examples})"
        )
    return table


# -- the portfolio -----------------------------------------------------------------------


@dataclass(frozen=True)
class RangeInput:
    """The portfolio read from the ranges (prices may be missing: they are quoted), where
    each part came from, and whether the holdings header was Korean."""

    portfolio: Portfolio
    locate: Callable[[str], str] = field(repr=False)
    korean: bool = False


def read_ranges(
    holdings: object,
    targets: object = None,
    cash: object = None,
    settings: object = None,
) -> RangeInput:
    """Parse the four arguments of ``=REBAL_TRADES()`` (see the module docstring).

    Not validated: the caller fills missing prices, then runs ``model.validate`` with
    :attr:`RangeInput.locate` so cross-field problems name a range row too."""
    locations: dict[str, str] = {}
    read = _settings(as_grid(settings))
    locations.update(read.locations)
    base, fx, options, cash_target = read.base_currency, read.fx, read.settings, read.cash_target
    grid = as_grid(holdings)
    table = _require_table("Holdings", grid, HOLDING_COLUMNS, ("ticker", "quantity"))
    cash_accounts = _cash(cash, base, locations)
    named = [a for a in cash_accounts if a]
    default_account = named[0] if len(named) == 1 else DEFAULT_ACCOUNT
    # Rows without an account belong to the one account the cash names; with several, a row
    # put in a made-up account would plan without any of their cash.
    ambiguous = ", ".join(named) if len(named) > 1 else ""
    if ambiguous and "account" not in table.columns:
        raise PortfolioError(
            "Holdings",
            f"no account column, but Cash names {len(named)} accounts ({ambiguous}): add an "
            "account column (Account, 계좌) saying which account holds each row",
        )

    rows: list[Holding] = []
    holding_targets: dict[str, float] = {}
    for row, values in table.rows:
        where = table.where(row)
        code = ticker(values.get("ticker"))
        if is_total_row(grid[row - 1], code):
            continue
        if not code:
            if blank(values.get("quantity")):
                continue  # a note or subtotal line without a ticker
            raise PortfolioError(where, "ticker is empty")
        if ambiguous and not text(values.get("account")):
            raise PortfolioError(
                where, f"account is empty, and Cash names several accounts ({ambiguous})"
            )
        i = len(rows)
        locations[f"holdings[{i}]"] = where
        for key in ("ticker", "account", "quantity", "price", "currency", "market", "kind"):
            locations[f"holdings[{i}].{key}"] = f"{where} ({code})"
        rows.append(_holding(values, code, where, default_account))
        if "target" in values and not blank(values["target"]):
            weight = number(values["target"], "target", where, percent=True)
            holding_targets[code] = holding_targets.get(code, 0.0) + weight
            locations.setdefault(f"targets.{code}", where)

    accounts: dict[str, dict[str, float]] = {}
    for a, balances in cash_accounts.items():
        # Cash given as one number belongs to the first holdings account.
        accounts.setdefault(a or (rows[0].account if rows else default_account), {}).update(
            balances
        )
    for h in rows:
        accounts.setdefault(h.account, {})
    if not accounts:
        accounts[default_account] = {}

    target_accounts: dict[str, str] = {}
    if targets is None or not as_grid(targets):
        weights = holding_targets
    else:
        weights, target_accounts = _targets(as_grid(targets), locations)
    if cash_target is not None:
        weights[CASH] = cash_target
    weights = _as_fractions(weights, locations)

    # A target for a ticker not held yet: a zero-quantity row, so it has an account.
    held = {h.ticker for h in rows}
    first_account = rows[0].account if rows else next(iter(accounts))
    for code in weights:
        if code != CASH and code not in held:
            account = target_accounts.get(code, first_account)
            accounts.setdefault(account, {})
            market = infer_market(code)
            rows.append(
                Holding(
                    account=account,
                    ticker=code,
                    market=market,
                    quantity=0.0,
                    currency=MARKET_CURRENCY[market],
                )
            )
            locations[f"holdings[{len(rows) - 1}]"] = locations.get(f"targets.{code}", "Targets")

    portfolio = Portfolio(
        base_currency=base,
        accounts=tuple(Account(id=a, cash=c) for a, c in accounts.items()),
        holdings=tuple(rows),
        targets=weights,
        fx=fx,
        settings=options,
    )
    locations.setdefault("targets", "Targets")
    locations.setdefault("accounts", "Cash")

    def locate(path: str) -> str:
        if path in locations:
            return locations[path]
        head = path.split(".")[0]
        if head in locations:
            return locations[head]
        if path.startswith(("settings.", "fx.", "base_currency")):
            return f"Settings ({path})"
        return path

    return RangeInput(portfolio, locate, table.korean)


def _holding(values: dict[str, object], code: str, where: str, default_account: str) -> Holding:
    market = cells.market(values.get("market"), code, where)
    kind = cells.kind(values.get("kind"), values.get("name"), market, where)
    currency = cells.currency(values.get("currency"), MARKET_CURRENCY[market], "currency", where)
    quantity_value = values.get("quantity")
    quantity = 0.0 if blank(quantity_value) else number(quantity_value, "quantity", where)
    price_value = values.get("price")
    # A blank or #N/A price (a user's own lookup that failed) is quoted instead.
    price = (
        None
        if blank(price_value) or is_error(price_value)
        else number(price_value, "price", where, currency=currency)
    )
    return Holding(
        account=text(values.get("account")) or default_account,
        ticker=code,
        market=market,
        quantity=quantity,
        currency=currency,
        kind=kind,
        price=price,
        locked=False if blank(values.get("locked")) else flag(values["locked"], "locked", where),
        name=text(values.get("name")) or None,
        average_cost=_optional(values, "average_cost", "average cost", where),
        leverage=_optional(values, "leverage", "leverage", where),
        take_profit=_optional(values, "take_profit", "take profit", where, percent=True),
    )


def _optional(
    values: dict[str, object], key: str, label: str, where: str, *, percent: bool = False
) -> float | None:
    value = values.get(key)
    return None if blank(value) else number(value, label, where, percent=percent)


def _targets(grid: Grid, locations: dict[str, str]) -> tuple[dict[str, float], dict[str, str]]:
    """Weights by ticker, and the account named for a ticker not held yet."""
    table = find_table("Targets", grid, TARGET_COLUMNS, ("ticker", "target"))
    if table is None:
        # No header: two columns of ticker and weight.
        if not grid or max(len(r) for r in grid) < 2:
            raise PortfolioError(
                "Targets",
                "expected a header row with ticker and target columns (종목코드, 목표비중), "
                "or two columns: ticker, weight",
            )
        table = Table(
            "Targets",
            {"ticker": 0, "target": 1},
            [
                (n, {"ticker": cell(r[0]), "target": cell(r[1]) if len(r) > 1 else None})
                for n, r in enumerate(grid, start=1)
                if not (blank(r[0]) and (len(r) < 2 or blank(r[1])))
            ],
        )
    out: dict[str, float] = {}
    accounts: dict[str, str] = {}
    seen: dict[str, int] = {}
    for row, values in table.rows:
        where = table.where(row)
        raw = values.get("ticker")
        code = CASH if cells.is_cash_name(raw) else ticker(raw)
        if is_total_row(grid[row - 1], code):
            continue
        if not code:
            if blank(values.get("target")):
                continue
            raise PortfolioError(where, "ticker is empty")
        if blank(values.get("target")):
            continue  # listed without a weight: no target
        if code in seen:
            raise PortfolioError(where, f"a second target for {code} (first in row {seen[code]})")
        seen[code] = row
        label = "cash target" if code == CASH else "target"
        out[code] = number(values.get("target"), label, where, percent=True)
        locations[f"targets.{code}"] = where
        if text(values.get("account")):
            accounts[code] = text(values.get("account"))
    return out, accounts


def _as_fractions(weights: dict[str, float], locations: dict[str, str]) -> dict[str, float]:
    """Weights typed as percentages (40, 35, 25) become fractions. A weight above 1 means
    percentages, which must then sum to 100: read as fractions, the model's check would only
    say "expected a fraction from 0 to 1" to a user whose 30 was right and whose sum was not."""
    total = sum(weights.values())
    if total > 1.5 and abs(total - 100.0) <= 100.0 * TARGET_SUM_TOLERANCE:
        return {k: v / 100.0 for k, v in weights.items()}
    over = [k for k, v in weights.items() if v > 1]
    if not over:
        return weights  # fractions; the model checks that they sum to 1
    code = over[0]
    label = "cash target" if code == CASH else "target"
    raise PortfolioError(
        locations.get(f"targets.{code}", "Targets"),
        f"{label} {weights[code]:g} reads as a percentage, but the weights sum to "
        f"{total:.6g}, not 100: type percentages summing to 100 in every row (30 for 30%) "
        "or fractions summing to 1 (0.3, or 30% with the % sign)",
    )


def _cash(value: object, base: str, locations: dict[str, str]) -> dict[str, dict[str, float]]:
    grid = as_grid(value)
    if not grid or all(blank(c) for row in grid for c in row):
        return {}
    if len(grid) == 1 and len(grid[0]) == 1:
        amount = number(grid[0][0], "amount", "Cash", currency=base)
        locations["accounts[0].cash." + base] = "Cash"
        return {"": {base: amount}}
    table = _require_table("Cash", grid, CASH_COLUMNS, ("amount",))
    out: dict[str, dict[str, float]] = {}
    for row, values in table.rows:
        where = table.where(row)
        if blank(values.get("amount")):
            continue
        account = text(values.get("account"))  # blank: the first holdings account
        currency = cells.currency(values.get("currency"), base, "currency", where)
        balances = out.setdefault(account, {})
        if currency in balances:
            raise PortfolioError(where, f"a second {currency} amount for account {account!r}")
        balances[currency] = number(values.get("amount"), "amount", where, currency=currency)
        index = list(out).index(account)
        locations[f"accounts[{index}].cash.{currency}"] = where
        locations.setdefault(f"accounts[{index}]", where)
        locations.setdefault(f"accounts[{index}].id", where)
    return out


# -- settings ------------------------------------------------------------------------------


def _settings(grid: Grid) -> cells.ReadSettings:
    """Key/value rows: the Settings sheet's keys (``settings.mode``, ``fx.USDKRW``...), the
    same without ``settings.``, or a few plain names (``mode``, ``기준통화``); read by
    :func:`cells.settings_from_rows`, as the workbook's Settings sheet is."""
    rows: list[cells.SettingRow] = []
    table = find_table("Settings", grid, SETTING_COLUMNS, ("value",))
    if table is not None and ("key" in table.columns or "label" in table.columns):
        for row, values in table.rows:
            name = text(values.get("key")) or text(values.get("label"))
            if name:
                where = f"Settings row {row}"
                rows.append(cells.SettingRow(name, values.get("value"), where, where))
    else:
        for row, line in enumerate(grid, start=1):
            name = text(line[0]) if line else ""
            if name:
                where = f"Settings row {row}"
                if len(line) < 2:
                    raise PortfolioError(where, "expected two columns: key, value")
                rows.append(cells.SettingRow(name, cell(line[1]), where, where))
    return cells.settings_from_rows(rows)
