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
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xlrebalance.cells import blank, cell, flag, is_error, number, show, text, ticker
from xlrebalance.errors import PortfolioError
from xlrebalance.model import (
    CASH,
    DEFAULT_SELL_TAX,
    KNOWN_CURRENCIES,
    MARKET_CURRENCY,
    Account,
    Band,
    Fee,
    Holding,
    Kind,
    Market,
    Mode,
    Portfolio,
    Settings,
    infer_market,
)

Grid = list[list[object]]
DEFAULT_ACCOUNT = "default"
DEFAULT_BASE = "KRW"
HEADER_SCAN_ROWS = 10


def _key(text: str) -> str:
    """Header text for matching: lower case, no "(units)", no spaces, dots or underscores."""
    text = re.sub(r"\(.*?\)|\[.*?\]", "", text)
    return re.sub(r"[\s._\-/:#]+", "", text.lower())


def _aliases(*names: str) -> frozenset[str]:
    return frozenset(_key(n) for n in names)


HOLDING_COLUMNS: dict[str, frozenset[str]] = {
    "account": _aliases("account", "acct", "account id", "계좌", "계좌명", "계좌번호", "계정"),
    "ticker": _aliases(
        "ticker", "symbol", "code", "ticker symbol", "종목코드", "종목 코드", "코드", "티커",
        "종목번호", "단축코드",
    ),
    "name": _aliases("name", "security", "종목명", "종목", "이름", "종목 이름"),
    "quantity": _aliases(
        "quantity", "qty", "shares", "units", "수량", "보유수량", "보유 수량", "주식수", "잔고수량",
    ),
    "price": _aliases("price", "last", "last price", "현재가", "가격", "주가", "종가", "시세"),
    "currency": _aliases("currency", "ccy", "통화", "거래통화"),
    "market": _aliases("market", "exchange", "시장", "거래소"),
    "kind": _aliases("kind", "type", "asset type", "유형", "종류", "자산유형"),
    "locked": _aliases("locked", "lock", "hold", "고정", "잠금"),
    "target": _aliases(
        "target", "target weight", "weight target", "target %", "목표", "목표비중", "목표 비중",
    ),
    "average_cost": _aliases(
        "average cost", "avg cost", "cost", "평균단가", "평균 단가", "매입가", "매입단가",
    ),
}  # fmt: skip
TARGET_COLUMNS: dict[str, frozenset[str]] = {
    "ticker": HOLDING_COLUMNS["ticker"],
    "target": HOLDING_COLUMNS["target"] | _aliases("weight", "비중", "allocation", "배분"),
    "account": HOLDING_COLUMNS["account"],
    "name": HOLDING_COLUMNS["name"],
}
CASH_COLUMNS: dict[str, frozenset[str]] = {
    "account": HOLDING_COLUMNS["account"],
    "currency": HOLDING_COLUMNS["currency"],
    "amount": _aliases("amount", "cash", "balance", "금액", "현금", "예수금", "잔액"),
}
SETTING_COLUMNS: dict[str, frozenset[str]] = {
    "key": _aliases("key", "키"),
    "label": _aliases("setting", "name", "설정", "항목"),
    "value": _aliases("value", "값", "설정값"),
}
_CASH_TICKERS = _aliases("cash", "현금", "예수금", "원화", "krw cash")
_KOREAN_HEADERS = frozenset(
    k for names in HOLDING_COLUMNS.values() for k in names if re.search("[가-힣]", k)
)
# Korean ETF brands: a KRX row named "KODEX 200" is an ETF (no sell tax) even when no kind
# column says so.
_KR_ETF_BRANDS = (
    "KODEX", "TIGER", "KBSTAR", "RISE", "ACE", "SOL", "HANARO", "KOSEF", "ARIRANG", "PLUS",
    "KIWOOM", "TIMEFOLIO", "WOORI", "BNK", "FOCUS", "TREX", "MASTER", "VITA", "HK", "1Q",
    "UNICORN", "마이다스", "파워",
)  # fmt: skip


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
    """The first row (of the first few) naming every ``required`` column is the header."""
    for r, line in enumerate(grid[:HEADER_SCAN_ROWS]):
        found: dict[str, int] = {}
        korean = 0
        for c, value in enumerate(line):
            value = cell(value)
            if not isinstance(value, str):
                continue
            key = _key(value)
            for name, aliases in columns.items():
                if name not in found and key in aliases:
                    found[name] = c
                    korean += key in _KOREAN_HEADERS
                    break
        if all(k in found for k in required):
            rows = []
            for number_, line2 in enumerate(grid[r + 1 :], start=r + 2):
                values = {k: cell(line2[c]) if c < len(line2) else None for k, c in found.items()}
                if any(v is not None for v in values.values()):
                    rows.append((number_, values))
            return Table(label, found, rows, korean * 2 > len(found))
    return None


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
    base, fx, options, cash_target = _settings(as_grid(settings), locations)
    table = _require_table("Holdings", as_grid(holdings), HOLDING_COLUMNS, ("ticker", "quantity"))
    cash_accounts = _cash(cash, base, locations)
    named = [a for a in cash_accounts if a]
    default_account = named[0] if len(named) == 1 else DEFAULT_ACCOUNT

    rows: list[Holding] = []
    holding_targets: dict[str, float] = {}
    for row, values in table.rows:
        where = table.where(row)
        code = ticker(values.get("ticker"))
        if not code:
            if blank(values.get("quantity")):
                continue  # a note or subtotal line without a ticker
            raise PortfolioError(where, "ticker is empty")
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
    weights = _as_fractions(weights)

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
    market = _market(values.get("market"), code, where)
    kind_text = text(values.get("kind")).upper()
    if kind_text in ("ETF", "ETN", "FUND", "펀드"):
        kind = Kind.ETF
    elif kind_text in ("", "STOCK", "주식", "EQUITY", "SHARE"):
        kind = Kind.STOCK
        name = text(values.get("name")).upper()
        if not kind_text and market is Market.KR and name.startswith(_KR_ETF_BRANDS):
            kind = Kind.ETF
    else:
        raise PortfolioError(where, f"kind {show(values.get('kind'))} is not STOCK or ETF")
    currency = text(values.get("currency")).upper() or MARKET_CURRENCY[market]
    if currency in ("원", "₩", "WON"):
        currency = "KRW"
    elif currency in ("$", "달러", "DOLLAR"):
        currency = "USD"
    if currency not in KNOWN_CURRENCIES:
        raise PortfolioError(where, f"{code}: currency {show(values.get('currency'))} is unknown")
    quantity_value = values.get("quantity")
    quantity = 0.0 if blank(quantity_value) else number(quantity_value, "quantity", where)
    price_value = values.get("price")
    # A blank or #N/A price (a user's own lookup that failed) is quoted instead.
    price = (
        None
        if blank(price_value) or is_error(price_value)
        else number(price_value, f"{code}: price", where)
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
    )


_KR_MARKETS = {"KR", "KRX", "KOSPI", "KOSDAQ", "KONEX", "국내", "한국", "코스피", "코스닥"}
_US_MARKETS = {"US", "USA", "NYSE", "NASDAQ", "AMEX", "ARCA", "미국", "해외"}


def _market(value: object, code: str, where: str) -> Market:
    name = text(value).upper()
    if not name:
        return infer_market(code)
    if name in _KR_MARKETS:
        return Market.KR
    if name in _US_MARKETS:
        return Market.US
    raise PortfolioError(where, f"{code}: market {show(value)} is not US or KR")


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
        code = CASH if _key(text(raw)) in _CASH_TICKERS else ticker(raw)
        if not code:
            if blank(values.get("target")):
                continue
            raise PortfolioError(where, "ticker is empty")
        if blank(values.get("target")):
            continue  # listed without a weight: no target
        if code in seen:
            raise PortfolioError(where, f"a second target for {code} (first in row {seen[code]})")
        seen[code] = row
        out[code] = number(values.get("target"), f"{code}: target", where, percent=True)
        locations[f"targets.{code}"] = where
        if text(values.get("account")):
            accounts[code] = text(values.get("account"))
    return out, accounts


def _as_fractions(weights: dict[str, float]) -> dict[str, float]:
    """Weights typed as percentages (40, 35, 25) become fractions."""
    total = sum(weights.values())
    if total > 1.5 and abs(total - 100.0) <= 0.5:
        return {k: v / 100.0 for k, v in weights.items()}
    return weights


def _cash(value: object, base: str, locations: dict[str, str]) -> dict[str, dict[str, float]]:
    grid = as_grid(value)
    if not grid or all(blank(c) for row in grid for c in row):
        return {}
    if len(grid) == 1 and len(grid[0]) == 1:
        amount = number(grid[0][0], "cash", "Cash")
        locations["accounts[0].cash." + base] = "Cash"
        return {"": {base: amount}}
    table = _require_table("Cash", grid, CASH_COLUMNS, ("amount",))
    out: dict[str, dict[str, float]] = {}
    for row, values in table.rows:
        where = table.where(row)
        if blank(values.get("amount")):
            continue
        account = text(values.get("account"))  # blank: the first holdings account
        currency = text(values.get("currency")).upper() or base
        balances = out.setdefault(account, {})
        if currency in balances:
            raise PortfolioError(where, f"a second {currency} amount for account {account!r}")
        balances[currency] = number(values.get("amount"), "amount", where)
        index = list(out).index(account)
        locations[f"accounts[{index}].cash.{currency}"] = where
        locations.setdefault(f"accounts[{index}]", where)
        locations.setdefault(f"accounts[{index}].id", where)
    return out


# -- settings ------------------------------------------------------------------------------

_SETTING_ALIASES = {
    _key(k): v
    for k, v in {
        "base": "base_currency", "base currency": "base_currency", "기준통화": "base_currency",
        "기준 통화": "base_currency", "mode": "mode", "모드": "mode", "방식": "mode",
        "fractional": "fractional", "소수점": "fractional", "소수점 거래": "fractional",
        "소수점거래": "fractional", "contribution": "contribution", "추가 투자금": "contribution",
        "추가투자금": "contribution", "입금": "contribution",
        "min trade value": "min_trade_value", "최소 거래금액": "min_trade_value",
        "최소거래금액": "min_trade_value", "band": "band", "밴드": "band",
        "fx spread": "fx_spread", "환전 스프레드": "fx_spread", "auto fx": "auto_fx",
        "자동환전": "auto_fx", "cash target": "targets.cash", "현금 목표": "targets.cash",
        "현금목표": "targets.cash", "time limit": "time_limit",
    }.items()
}  # fmt: skip
_MODES = {
    "rebalance": Mode.REBALANCE, "리밸런싱": Mode.REBALANCE, "매수매도": Mode.REBALANCE,
    "buyonly": Mode.BUY_ONLY, "buy": Mode.BUY_ONLY, "매수만": Mode.BUY_ONLY, "매수": Mode.BUY_ONLY,
    "sellonly": Mode.SELL_ONLY, "sell": Mode.SELL_ONLY, "매도만": Mode.SELL_ONLY,
    "매도": Mode.SELL_ONLY,
}  # fmt: skip


def _settings(
    grid: Grid, locations: dict[str, str]
) -> tuple[str, dict[str, float], Settings, float | None]:
    """Key/value rows: the Settings sheet's keys (``settings.mode``, ``fx.USDKRW``...), the
    same without ``settings.``, or a few plain names (``mode``, ``기준통화``)."""
    pairs: list[tuple[int, str, object]] = []
    table = find_table("Settings", grid, SETTING_COLUMNS, ("value",))
    if table is not None and ("key" in table.columns or "label" in table.columns):
        for row, values in table.rows:
            name = text(values.get("key")) or text(values.get("label"))
            if name:
                pairs.append((row, name, values.get("value")))
    else:
        for row, line in enumerate(grid, start=1):
            name = text(line[0]) if line else ""
            if name:
                if len(line) < 2:
                    raise PortfolioError(f"Settings row {row}", "expected two columns: key, value")
                pairs.append((row, name, cell(line[1])))

    base = DEFAULT_BASE
    fx: dict[str, float] = {}
    contribution: dict[str, float] = {}
    fees: dict[str, Fee] = {}
    sell_tax: dict[str, float] = dict(DEFAULT_SELL_TAX)
    defaults = Settings()
    mode = defaults.mode
    fractional = defaults.fractional
    band = Band()
    min_trade = 0.0
    fx_spread = 0.0
    auto_fx = defaults.auto_fx
    time_limit = defaults.time_limit
    account: str | None = None
    cash_target: float | None = None
    tax_set = False
    for row, name, value in pairs:
        where = f"Settings row {row}"
        raw = name.strip()
        key = raw[len("settings.") :] if raw.lower().startswith("settings.") else raw
        key = _SETTING_ALIASES.get(_key(key), key)
        lowered = key.lower()
        if blank(value):
            continue
        locations[f"settings.{key}"] = where
        if lowered == "base_currency":
            base = text(value).upper()
            if base not in KNOWN_CURRENCIES:
                raise PortfolioError(where, f"base currency {show(value)} is unknown")
        elif lowered == "mode":
            chosen = _MODES.get(_key(text(value)))
            if chosen is None:
                raise PortfolioError(
                    where, f"mode {show(value)} is not rebalance, buy_only or sell_only"
                )
            mode = chosen
        elif lowered == "fractional":
            fractional = flag(value, "fractional", where)
        elif lowered == "auto_fx":
            auto_fx = flag(value, "auto_fx", where)
        elif lowered == "contribution":
            contribution[base] = number(value, "contribution", where)
        elif lowered.startswith("contribution."):
            contribution[key.split(".", 1)[1].upper()] = number(value, "contribution", where)
        elif lowered == "contribution_account":
            account = text(value)
        elif lowered == "band":
            band = _band(value, where)
        elif lowered == "band.absolute":
            band = Band(number(value, "band", where, percent=True), band.relative)
        elif lowered == "band.relative":
            band = Band(band.absolute, number(value, "band", where, percent=True))
        elif lowered == "min_trade_value":
            min_trade = number(value, "minimum trade value", where)
        elif lowered == "fx_spread":
            fx_spread = number(value, "FX spread", where, percent=True)
        elif lowered == "time_limit":
            time_limit = number(value, "time limit", where)
        elif lowered in ("targets.cash", "cash_target"):
            cash_target = number(value, "cash target", where, percent=True)
        elif lowered.startswith("fx."):
            fx[key[3:].upper()] = number(value, key, where)
            locations[f"fx.{key[3:].upper()}"] = where
        elif lowered.startswith("fees.") and lowered.count(".") == 2:
            _, market, part = key.split(".")
            old = fees.get(market.upper(), Fee())
            amount = number(value, key, where, percent=part.lower() == "rate")
            if part.lower() == "rate":
                fees[market.upper()] = Fee(amount, old.min)
            elif part.lower() == "min":
                fees[market.upper()] = Fee(old.rate, amount)
            else:
                raise PortfolioError(where, f"unknown setting {name!r}")
        elif lowered.startswith("sell_tax."):
            if not tax_set:
                sell_tax, tax_set = {}, True
            sell_tax[key.split(".", 1)[1].upper()] = number(value, key, where, percent=True)
        elif lowered.startswith("workbook."):
            continue  # the workbook's own settings (quote freshness) mean nothing here
        else:
            raise PortfolioError(
                where,
                f"unknown setting {name!r} (expected keys such as mode, base_currency, "
                "fractional, band, fees.US.rate, fx.USDKRW)",
            )
    settings = Settings(
        mode=mode,
        contribution=contribution,
        contribution_account=account,
        fractional=fractional,
        band=band,
        min_trade_value=min_trade,
        fees=fees,
        sell_tax=sell_tax,
        fx_spread=fx_spread,
        auto_fx=auto_fx,
        time_limit=time_limit,
    )
    return base, fx, settings, cash_target


def _band(value: object, where: str) -> Band:
    """``5/25`` (absolute % / relative %), or one number for an absolute band."""
    raw = text(value)
    if "/" in raw:
        a, _, r = raw.partition("/")
        absolute = number(a.strip().rstrip("%"), "band", where) / 100.0
        relative = number(r.strip().rstrip("%"), "band", where) / 100.0
        return Band(absolute, relative)
    return Band(number(value, "band", where, percent=True), 0.0)
