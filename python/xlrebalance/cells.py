"""One reading of the user's data: a value typed in a cell (or a JSON field) -> a typed value,
or an error that names where it was.

All three readers of user input use this module, so the same text means the same thing
everywhere: the workbook reader (``Holdings!E7``), the worksheet functions' range reader
(``Holdings row 3``) and the JSON document reader (``holdings[2].quantity``). It decides

- numbers typed as text: accepted only when they cannot mean two things (:func:`number`);
- tickers (``A005930`` and ``005930.KS`` are ``005930``), markets (``KOSPI`` is KR), kinds,
  currencies (``원`` is KRW), true/false, the planning mode;
- header rows (:func:`find_header`: the same names, the same number of rows scanned);
- Settings rows (:func:`settings_from_rows`: the same keys and values in a workbook and in a
  user's key/value range).

Excel gives floats for numbers, ``None`` for blanks, datetimes for dates and text for the
rest; on Windows an error cell reaches a UDF as a COM error code.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from xlrebalance.errors import PortfolioError
from xlrebalance.model import (
    CASH,
    DEFAULT_FEE_ROUNDING,
    KNOWN_CURRENCIES,
    MARKET_CURRENCY,
    Band,
    Fee,
    FeeRounding,
    Kind,
    Market,
    Mode,
    RoundingMode,
    Settings,
    infer_market,
    merge_sell_tax,
    normalize_ticker,
)
from xlrebalance.workbook.schema import SETTINGS, TICKER_LIST_SEPARATORS, normalize_header

# Excel error values as COM hands them to Python when a UDF argument holds an error cell.
COM_ERRORS = {
    -2146826281: "#DIV/0!",
    -2146826246: "#N/A",
    -2146826259: "#NAME?",
    -2146826288: "#NULL!",
    -2146826252: "#NUM!",
    -2146826265: "#REF!",
    -2146826273: "#VALUE!",
}
_ERROR_TEXT = re.compile(r"^#(N/A|DIV/0!|NAME\?|NULL!|NUM!|REF!|VALUE!|SPILL!|CALC!|GETTING_DATA)")
# Spaces Excel and web pages put in numbers (no-break, narrow no-break, thin).
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u3000": " "})


def cell(value: object) -> object:
    """One cell normalised: COM error codes as their text, blank text as None."""
    if isinstance(value, int) and not isinstance(value, bool) and value in COM_ERRORS:
        return COM_ERRORS[value]
    if isinstance(value, str):
        text = value.translate(_SPACES).strip()
        return text or None
    return value


def is_error(value: object) -> bool:
    return isinstance(value, str) and bool(_ERROR_TEXT.match(value))


def blank(value: object) -> bool:
    return cell(value) is None


def show(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- numbers -------------------------------------------------------------------------------

_CURRENCY_SIGN = re.compile(r"^(US\$|KRW|USD|[₩$€¥£￦])\s*", re.IGNORECASE)
_CURRENCY_UNIT = re.compile(r"\s*(원|KRW|USD|달러)$", re.IGNORECASE)
_SHARES_UNIT = re.compile(r"\s*주$")
_PLAIN = re.compile(r"^(\d+(\.\d+)?|\.\d+)([eE][+-]?\d+)?$")
_COMMA_GROUPS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")
_SPACE_GROUPS = re.compile(r"^\d{1,3}( \d{3})+(\.\d+)?$")
# "1.450" or "1.234.567": "." may be separating thousands (as in Korea's neighbours' and most
# of Europe's way of writing) as well as be the decimal point.
_DOT_GROUPS = re.compile(r"^[1-9]\d{0,2}(\.\d{3})+$")
_EUROPEAN = re.compile(r"^(\d{1,3}((\.|\s)\d{3})*|\d+),\d+$")


# What a currency sign or unit says the amount is in ("$" is any dollar).
_DOLLARS = frozenset(("USD", "CAD", "AUD", "NZD", "HKD", "SGD", "TWD", "MXN"))
_WRITTEN_IN: Mapping[str, tuple[str, frozenset[str]]] = {
    "₩": ("KRW", frozenset({"KRW"})), "￦": ("KRW", frozenset({"KRW"})),
    "원": ("KRW", frozenset({"KRW"})), "KRW": ("KRW", frozenset({"KRW"})),
    "US$": ("USD", frozenset({"USD"})), "USD": ("USD", frozenset({"USD"})),
    "달러": ("USD", frozenset({"USD"})), "$": ("dollars", _DOLLARS),
    "€": ("EUR", frozenset({"EUR"})), "¥": ("yen or yuan", frozenset({"JPY", "CNY"})),
    "£": ("GBP", frozenset({"GBP"})),
}  # fmt: skip


def _fmt(value: float) -> str:
    return f"{value:.15g}"


def _readings(body: str, unit: str) -> list[str]:
    """How an ambiguous number could be read, each with the convention that reads it so."""
    out: list[str] = []
    separator = "," if "," in body else "."
    us = body.replace(",", "").replace(" ", "")
    if _PLAIN.match(us):
        role = "separating thousands" if separator == "," else "as the decimal point"
        out.append(f'{_fmt(float(us))}{unit} with "{separator}" {role}')
    european = body.replace(".", "").replace(" ", "").replace(",", ".")
    if _PLAIN.match(european) and (_EUROPEAN.match(body) or _DOT_GROUPS.match(body)):
        role = "as the decimal point" if separator == "," else "separating thousands"
        out.append(f'{_fmt(float(european))}{unit} with "{separator}" {role}')
    return out


def number(
    value: object,
    label: str,
    where: str,
    *,
    percent: bool = False,
    money: bool = False,
    currency: str | None = None,
) -> float:
    """A cell as a number. Numbers are taken as they are; text only when it can mean one
    number: digits with an optional ``.`` decimal part, thousands separated by ``,`` (or a
    space) in groups of three, a leading ``-`` or accounting brackets; with ``money`` a
    currency sign or unit (``₩1,200,000``, ``$512.30``, ``1,200원``); with ``percent`` a
    trailing ``%`` (``20%`` is 0.2). With ``currency`` (money in that currency), a sign or
    unit of another currency is an error (``₩41,250`` in a USD row). A ``,`` that may be a
    decimal point (``512,30``,
    ``4,5``, ``1.450,50``) or a ``.`` that may separate thousands (``1.450``) is an error
    that shows the readings. Anything else is an error naming ``where``."""
    value = cell(value)
    if value is None:
        raise PortfolioError(where, f"{label} is empty (expected a number)")
    if is_error(value):
        raise PortfolioError(where, f"{label} is an Excel error ({value})")
    if isinstance(value, bool):
        raise PortfolioError(where, f"{label} {show(value)} is not a number")
    if isinstance(value, dt.date | dt.time):
        raise PortfolioError(where, f"{label} is a date ({value}), not a number")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        result = _number_text(
            value, label, where, percent=percent, money=money or currency is not None,
            currency=currency,
        )  # fmt: skip
    else:
        raise PortfolioError(where, f"{label} {show(value)} is not a number")
    if not math.isfinite(result):
        raise PortfolioError(where, f"{label} {show(value)} is not a finite number")
    return result


def _number_text(
    raw: str, label: str, where: str, *, percent: bool, money: bool, currency: str | None
) -> float:
    if raw.startswith("="):
        raise PortfolioError(
            where,
            f"{label} is a formula Excel has not calculated yet ({raw}): open and save "
            "the workbook in Excel, or type the value",
        )
    shown = show(raw)
    # The minus sign of typeset text; the full-width percent sign of a Korean or Japanese IME.
    text = raw.replace("\u2212", "-").replace("\uff05", "%")
    sign = 1.0
    if text.startswith("(") and text.endswith(")"):
        text, sign = text[1:-1].strip(), -1.0
    if text and text[0] in "+-":
        sign, text = (-sign if text[0] == "-" else sign), text[1:].strip()
    unit = _CURRENCY_SIGN.match(text)
    written = unit.group(1).upper() if unit else None
    if unit:
        text = text[unit.end() :]
        if text.startswith("-"):
            sign, text = -sign, text[1:].strip()
    scale = 1.0
    if text.endswith("%"):
        if not percent:
            raise PortfolioError(where, f"{label} {shown} is a percentage; expected a number")
        text, scale = text[:-1].strip(), 0.01
    else:
        tail = _CURRENCY_UNIT.search(text)
        if tail:
            written, text = tail.group(1).upper(), text[: tail.start()]
        elif shares := _SHARES_UNIT.search(text):
            text = text[: shares.start()]
    if written and not money:
        raise PortfolioError(
            where, f"{label} {shown} has a currency; expected a number without one"
        )
    if written and scale != 1.0:
        raise PortfolioError(where, f"{label} {shown} is not a number")
    if written and currency:
        name, codes = _WRITTEN_IN[written]
        if currency not in codes:
            raise PortfolioError(
                where, f"{label} {shown} is written in {name} but is in {currency} here"
            )
    if _PLAIN.match(text) and not _DOT_GROUPS.match(text):
        body = text
    elif _COMMA_GROUPS.match(text):
        body = text.replace(",", "")
    elif _SPACE_GROUPS.match(text):
        body = text.replace(" ", "")
    else:
        separators = "," in text or _DOT_GROUPS.match(text)
        unit_shown = "%" if scale != 1.0 else ""
        readings = (
            _readings(text, unit_shown) if separators and re.fullmatch(r"[\d.,\s]+", text) else []
        )
        if readings:
            raise PortfolioError(
                where,
                f"{label} {shown} is ambiguous: {' or '.join(readings)}; type it with "
                '"." for decimals and no other separator',
            )
        raise PortfolioError(where, f"{label} {shown} is not a number")
    return sign * float(body) * scale


# -- text, tickers, markets, kinds, currencies, true/false, mode -----------------------------


def text(value: object) -> str:
    value = cell(value)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


_PREFIXED_KR = re.compile(r"^A(\d{6})$")
_YAHOO_KR = re.compile(r"^(\d[0-9A-Z]{5})\.(KS|KQ)$")


def ticker(value: object) -> str:
    """``69500.0`` -> ``069500``; ``A005930`` (brokers' exports) and ``005930.KS`` (Yahoo)
    -> ``005930``; ``aapl`` -> ``AAPL``; blank -> ``""``."""
    raw = text(value).upper()
    for pattern in (_PREFIXED_KR, _YAHOO_KR):
        match = pattern.match(raw)
        if match:
            raw = match.group(1)
    return normalize_ticker(raw) if raw else ""


# Separators of a ticker list cell (Groups' Tickers): the schema's list (commas, semicolons,
# the full-width and ideographic ones a Korean IME types), line breaks (Alt+Enter), tabs and
# spaces (tickers have none).
_TICKER_SEPARATORS = re.compile("[" + re.escape("".join(TICKER_LIST_SEPARATORS)) + r"\s]+")


def ticker_list(value: object) -> tuple[str, ...]:
    """A cell listing tickers (``"XLK, SOXX"``, ``"XLK;SOXX"``, ``"XLK\\nSOXX"``,
    ``"069500、360750"``) as normalised tickers, blanks dropped: the one reading of a ticker
    list, for the workbook reader and for sync's comparison of a group's cell."""
    return tuple(code for part in _TICKER_SEPARATORS.split(text(value)) if (code := ticker(part)))


# Names users give cash in a ticker column: the model keeps ``CASH`` for the cash target, so
# such a row is cash typed in the wrong place, never a stock to plan.
CASH_NAMES = frozenset(
    normalize_header(n) for n in ("cash", "현금", "예수금", "원화", "달러", "krw cash", "usd cash")
)


def is_cash_name(value: object) -> bool:
    return normalize_header(text(value)) in CASH_NAMES if text(value) else False


# Labels of a total row under a table (see docs/workbook.md, "Total rows"). ``sum`` is also a
# listed US ticker, so it counts as a label only in an account or group-name column.
TOTAL_LABELS = frozenset(
    normalize_header(n)
    for n in ("total", "totals", "grand total", "subtotal", "sub-total", "sum", "합계", "총계",
              "소계", "총합계", "총합", "계")
)  # fmt: skip
_TICKER_LIKE_LABELS = frozenset(("sum",))


def is_total_label(value: object, *, ticker_column: bool = False) -> bool:
    """Whether a cell reads as the label of a total row (``Total``, ``합계:``, ``소계``)."""
    label = normalize_header(text(value))
    if ticker_column and label in _TICKER_LIKE_LABELS:
        return False
    return label in TOTAL_LABELS


MARKET_NAMES: Mapping[Market, frozenset[str]] = {
    Market.KR: frozenset(
        ("KR", "KRX", "KOSPI", "KOSDAQ", "KONEX", "KOREA", "KS", "KQ", "국내", "한국", "코스피",
         "코스닥", "코넥스")
    ),
    Market.US: frozenset(
        ("US", "USA", "NYSE", "NASDAQ", "AMEX", "ARCA", "NYSEARCA", "BATS", "미국", "해외",
         "나스닥", "뉴욕", "아멕스")
    ),
}  # fmt: skip


def market(value: object, code: str, where: str) -> Market:
    """The market a row names (``KOSPI``, ``코스닥``, ``NASDAQ``...); blank: from the ticker."""
    name = text(value).upper()
    if not name:
        return infer_market(code)
    for member, names in MARKET_NAMES.items():
        if name in names:
            return member
    raise PortfolioError(where, f"market {show(value)} is not US or KR")


_ETF_KINDS = frozenset(("ETF", "ETN", "FUND", "펀드"))
_STOCK_KINDS = frozenset(("STOCK", "주식", "EQUITY", "SHARE", "보통주"))
# Korean ETF brands: a KRX row named "KODEX 200" is an ETF (no sell tax) even when no kind is
# given. The brand must be a word of its own ("HK이노엔" is a stock).
_KR_ETF_BRAND = re.compile(
    r"^(KODEX|TIGER|KBSTAR|RISE|ACE|SOL|HANARO|KOSEF|ARIRANG|PLUS|KIWOOM|TIMEFOLIO|WOORI|BNK|"
    r"FOCUS|TREX|MASTER|VITA|1Q|UNICORN|마이다스|파워)(\s|$)",
    re.IGNORECASE,
)


def kind(value: object, name: object, market_: Market, where: str) -> Kind:
    """STOCK or ETF (also ETN, FUND, 주식...); blank: ETF for a KRX row named after an ETF
    brand (``KODEX 200``), else STOCK."""
    raw = text(value).upper()
    if raw in _ETF_KINDS:
        return Kind.ETF
    if raw in _STOCK_KINDS:
        return Kind.STOCK
    if raw:
        raise PortfolioError(where, f"kind {show(value)} is not STOCK or ETF")
    if market_ is Market.KR and _KR_ETF_BRAND.match(text(name)):
        return Kind.ETF
    return Kind.STOCK


_CURRENCY_NAMES = {"원": "KRW", "₩": "KRW", "￦": "KRW", "WON": "KRW", "$": "USD",
                   "US$": "USD", "달러": "USD", "DOLLAR": "USD"}  # fmt: skip


def currency(value: object, default: str, label: str, where: str) -> str:
    """An ISO code (``usd`` -> ``USD``; ``원``/``₩`` -> KRW, ``$``/``달러`` -> USD); blank:
    ``default``. An unknown code is an error (a typo would otherwise plan with no FX)."""
    code = currency_key(value)
    if not code:
        return default
    if code not in KNOWN_CURRENCIES:
        raise PortfolioError(
            where, f"{label} {show(value)} is not a currency code such as KRW or USD"
        )
    return code


def currency_key(value: object) -> str:
    """The code a currency cell stands for (``원`` -> ``KRW``), or its text upper-cased when
    unknown: for matching rows by key, where an unknown code is reported elsewhere."""
    raw = text(value).upper()
    return _CURRENCY_NAMES.get(raw, raw)


_TRUE = {"true", "yes", "y", "1", "x", "o", "on", "예", "참", "네", "고정"}
_FALSE = {"false", "no", "n", "0", "off", "아니오", "거짓", "아니요", ""}


def flag(value: object, label: str, where: str) -> bool:
    value = cell(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    lowered = text(value).lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise PortfolioError(where, f"{label} {show(value)} is not TRUE or FALSE")


_MODES = {
    "rebalance": Mode.REBALANCE, "리밸런싱": Mode.REBALANCE, "매수매도": Mode.REBALANCE,
    "buyonly": Mode.BUY_ONLY, "buy": Mode.BUY_ONLY, "매수만": Mode.BUY_ONLY, "매수": Mode.BUY_ONLY,
    "sellonly": Mode.SELL_ONLY, "sell": Mode.SELL_ONLY, "매도만": Mode.SELL_ONLY,
    "매도": Mode.SELL_ONLY,
}  # fmt: skip


def mode(value: object, where: str) -> Mode:
    """``rebalance``, ``buy_only``, ``sell_only`` (any case, ``buy-only``, ``매수만``...)."""
    chosen = _MODES.get(normalize_header(text(value)))
    if chosen is None:
        raise PortfolioError(where, f"mode {show(value)} is not rebalance, buy_only or sell_only")
    return chosen


# -- header rows ---------------------------------------------------------------------------

HEADER_SCAN_ROWS = 20
"""Rows searched for the header row, in a workbook sheet and in a user's range alike."""

_HANGUL = re.compile("[가-힣]")


@dataclass(frozen=True)
class Header:
    row: int
    """0-based row of the header in the block."""
    columns: dict[str, int]
    """0-based column of each key found."""
    korean: bool


def find_header(
    block: Sequence[Sequence[object]],
    aliases: Mapping[str, frozenset[str]],
    required: Sequence[str],
) -> Header | None:
    """The first row (of :data:`HEADER_SCAN_ROWS`) naming every ``required`` column.

    Each cell names at most one column (the first key, in ``aliases`` order, that knows it
    and is not found yet); the header is Korean when most names found are Korean."""
    for r, line in enumerate(block[:HEADER_SCAN_ROWS]):
        found: dict[str, int] = {}
        korean = 0
        for c, value in enumerate(line):
            value = cell(value)
            if not isinstance(value, str):
                continue
            key = normalize_header(value)
            for name, names in aliases.items():
                if name not in found and key in names:
                    found[name] = c
                    korean += bool(_HANGUL.search(key))
                    break
        if all(k in found for k in required):
            return Header(r, found, korean * 2 > len(found))
    return None


# -- settings rows -------------------------------------------------------------------------

SETTING_LABELS: Mapping[str, str] = {s.key: s.en.lower() for s in SETTINGS}

_SETTING_ALIASES = {
    normalize_header(k): v
    for k, v in {
        "base": "base_currency", "base currency": "base_currency", "기준통화": "base_currency",
        "mode": "settings.mode", "모드": "settings.mode", "방식": "settings.mode",
        "fractional": "settings.fractional", "소수점": "settings.fractional",
        "소수점 거래": "settings.fractional", "contribution": "settings.contribution",
        "추가 투자금": "settings.contribution", "입금": "settings.contribution",
        "min trade value": "settings.min_trade_value",
        "최소 거래금액": "settings.min_trade_value", "band": "settings.band",
        "밴드": "settings.band", "fx spread": "settings.fx_spread",
        "환전 스프레드": "settings.fx_spread", "auto fx": "settings.auto_fx",
        "자동환전": "settings.auto_fx", "cash target": "targets.CASH",
        "cash_target": "targets.CASH", "현금 목표": "targets.CASH",
        "time limit": "settings.time_limit",
    }.items()
}  # fmt: skip
_KNOWN_SETTINGS = {s.key.lower(): s.key for s in SETTINGS} | {
    "settings.contribution_account": "settings.contribution_account",
    "settings.contribution": "settings.contribution",
    "settings.band": "settings.band",
}
_SETTINGS_PARTS = (
    "mode", "contribution_account", "fractional", "band.absolute", "band.relative",
    "min_trade_value", "fx_spread", "auto_fx", "time_limit",
)  # fmt: skip


def setting_key(name: str) -> str | None:
    """A Settings row's key as the portfolio document names it (``settings.mode``,
    ``fx.USDKRW``, ``settings.fees.US.rate``, ``targets.CASH``), from that key itself, the
    same without ``settings.``, or a plain name (``mode``, ``기준통화``). None: unknown."""
    raw = name.strip()
    alias = _SETTING_ALIASES.get(normalize_header(raw))
    if alias:
        return alias
    lowered = raw.lower()
    if lowered in _KNOWN_SETTINGS:
        return _KNOWN_SETTINGS[lowered]
    if lowered.startswith("fx.") and len(raw) > 3:
        return f"fx.{raw[3:].upper()}"
    if lowered in ("targets.cash",):
        return "targets.CASH"
    if lowered == "base_currency":
        return "base_currency"
    path = raw[len("settings.") :] if lowered.startswith("settings.") else raw
    parts = path.split(".")
    head = parts[0].lower()
    if path.lower() in _SETTINGS_PARTS:
        return "settings." + path.lower()
    if head == "contribution" and len(parts) == 2:
        return f"settings.contribution.{parts[1].upper()}"
    if head == "fees" and len(parts) == 3 and parts[2].lower() in ("rate", "min"):
        return f"settings.fees.{parts[1].upper()}.{parts[2].lower()}"
    if head == "sell_tax" and len(parts) == 2:
        return f"settings.sell_tax.{parts[1].upper()}"
    if head == "fee_rounding" and len(parts) == 3 and parts[2].lower() in ("unit", "mode"):
        return f"settings.fee_rounding.{parts[1].upper()}.{parts[2].lower()}"
    if head == "cash_reserve" and len(parts) >= 3:  # an account id may contain dots
        return f"settings.cash_reserve.{'.'.join(parts[1:-1])}.{parts[-1].upper()}"
    return None


def market_currency(market_: str) -> str | None:
    """The currency of a market's fees (``US`` -> USD); None for a market we do not know."""
    known = {m.value: c for m, c in MARKET_CURRENCY.items()}
    return known.get(market_.upper())


def setting_label(key: str) -> str:
    """How an error names a setting: the Settings sheet's label (``fx spread``) or its key."""
    return SETTING_LABELS.get(key, key.removeprefix("settings."))


@dataclass(frozen=True)
class SettingRow:
    """One key/value row: the key as typed, the value, where each is (for errors)."""

    name: str
    value: object
    where: str
    key_where: str


@dataclass
class ReadSettings:
    base_currency: str
    fx: dict[str, float]
    settings: Settings
    cash_target: float | None
    extras: dict[str, float] = field(default_factory=dict)
    """``workbook.*`` numbers (quote freshness), for the workbook's own use."""
    locations: dict[str, str] = field(default_factory=dict)
    """Document path (``settings.fx_spread``) -> where its value is."""


DEFAULT_BASE = "KRW"


def settings_from_rows(rows: Sequence[SettingRow]) -> ReadSettings:
    """The Settings sheet, or a user's key/value range, as the document's settings: the same
    keys and values mean the same in both. A blank value keeps the default."""
    seen: dict[str, SettingRow] = {}
    values: dict[str, SettingRow] = {}
    for row in rows:
        key = setting_key(row.name)
        if key is None:
            raise PortfolioError(
                row.key_where,
                f"unknown setting {row.name!r} (expected keys such as settings.mode, "
                "base_currency, settings.fees.US.rate, fx.USDKRW)",
            )
        if key in seen:
            raise PortfolioError(
                row.key_where, f"setting {key} appears twice (also at {seen[key].key_where})"
            )
        seen[key] = row
        if not blank(row.value):
            values[key] = row
    locations = {key: row.where for key, row in values.items()}

    def num(
        key: str, default: float, *, percent: bool = False, currency: str | None = None
    ) -> float:
        row = values.get(key)
        if row is None:
            return default
        return number(row.value, setting_label(key), row.where, percent=percent, currency=currency)

    def yes(key: str, default: bool) -> bool:
        row = values.get(key)
        return default if row is None else flag(row.value, setting_label(key), row.where)

    base_row = values.get("base_currency")
    base = (
        DEFAULT_BASE
        if base_row is None
        else currency(base_row.value, DEFAULT_BASE, "base currency", base_row.where)
    )
    fx: dict[str, float] = {}
    contribution: dict[str, float] = {}
    fee_parts: dict[str, dict[str, float]] = {}
    sell_tax: dict[str, float] = {}
    extras: dict[str, float] = {}
    rounding_parts: dict[str, dict[str, Any]] = {}
    reserve: dict[str, dict[str, float]] = {}
    for key, row in values.items():
        if key.startswith("fx."):
            fx[key[3:]] = num(key, 0.0, currency=key[-3:])  # base units per 1 unit
        elif key == "settings.contribution":
            contribution[base] = num(key, 0.0, currency=base)
            locations[f"settings.contribution.{base}"] = row.where
        elif key.startswith("settings.contribution."):
            amount = num(key, 0.0, currency=key.rsplit(".", 1)[1])
            if amount:
                contribution[key.rsplit(".", 1)[1]] = amount
        elif key.startswith("settings.fees."):
            _, _, market_, part = key.split(".")
            fee_currency = market_currency(market_)
            fee_parts.setdefault(market_, {})[part] = num(
                key, 0.0, percent=part == "rate", currency=fee_currency if part == "min" else None
            )
            locations.setdefault(f"settings.fees.{market_}", row.where)
        elif key.startswith("settings.sell_tax."):
            sell_tax[key.split(".", 2)[2]] = num(key, 0.0, percent=True)
        elif key.startswith("workbook."):
            extras[key] = num(key, 0.0)
        elif key.startswith("settings.fee_rounding."):
            _, _, market_, part = key.split(".")
            if part == "unit":
                rounding_parts.setdefault(market_, {})["unit"] = num(key, 0.0)
            else:
                rounding_parts.setdefault(market_, {})["mode"] = _rounding_mode(row)
            locations.setdefault(f"settings.fee_rounding.{market_}", row.where)
        elif key.startswith("settings.cash_reserve."):
            holder, _, currency_ = key[len("settings.cash_reserve.") :].rpartition(".")
            reserve.setdefault(holder, {})[currency_] = num(key, 0.0, currency=currency_.upper())
            locations.setdefault(f"settings.cash_reserve.{holder}", row.where)
    mode_row = values.get("settings.mode")
    band_row = values.get("settings.band")
    band = (
        _band(band_row.value, band_row.where)
        if band_row is not None
        else Band(
            absolute=num("settings.band.absolute", 0.0, percent=True),
            relative=num("settings.band.relative", 0.0, percent=True),
        )
    )
    account_row = values.get("settings.contribution_account")
    defaults = Settings()
    settings = Settings(
        mode=defaults.mode if mode_row is None else mode(mode_row.value, mode_row.where),
        contribution=contribution,
        contribution_account=None if account_row is None else text(account_row.value),
        fractional=yes("settings.fractional", defaults.fractional),
        band=band,
        min_trade_value=num("settings.min_trade_value", 0.0, currency=base),
        fees={m: Fee(rate=p.get("rate", 0.0), min=p.get("min", 0.0)) for m, p in fee_parts.items()},
        sell_tax=merge_sell_tax(sell_tax),
        fx_spread=num("settings.fx_spread", 0.0, percent=True),
        auto_fx=yes("settings.auto_fx", defaults.auto_fx),
        time_limit=num("settings.time_limit", defaults.time_limit),
        fee_rounding={
            m: FeeRounding(
                p.get("unit", DEFAULT_FEE_ROUNDING.get(m, FeeRounding()).unit),
                p.get("mode", DEFAULT_FEE_ROUNDING.get(m, FeeRounding()).mode),
            )
            for m, p in rounding_parts.items()
        },
        cash_reserve=reserve,
    )
    cash_target = None if "targets.CASH" not in values else num("targets.CASH", 0.0, percent=True)
    if band_row is not None:
        locations["settings.band.absolute"] = locations["settings.band.relative"] = band_row.where
    return ReadSettings(base, fx, settings, cash_target, extras, locations)


def _rounding_mode(row: SettingRow) -> RoundingMode:
    raw = text(row.value).lower()
    for mode_ in RoundingMode:
        if raw == mode_.value:
            return mode_
    options = ", ".join(m.value for m in RoundingMode)
    raise PortfolioError(row.where, f"rounding {show(row.value)} is not one of {options}")


def _band(value: object, where: str) -> Band:
    """``5/25`` (absolute % / relative %, the "5/25 rule"), or one number: an absolute band."""
    raw = text(value)
    if "/" in raw:
        a, _, r = raw.partition("/")
        absolute = number(a.strip().rstrip("%"), "band", where) / 100.0
        relative = number(r.strip().rstrip("%"), "band", where) / 100.0
        return Band(absolute, relative)
    return Band(number(value, "band", where, percent=True), 0.0)


__all__ = [
    "CASH",
    "COM_ERRORS",
    "HEADER_SCAN_ROWS",
    "MARKET_CURRENCY",
    "Header",
    "ReadSettings",
    "SettingRow",
    "blank",
    "cell",
    "currency",
    "find_header",
    "flag",
    "is_cash_name",
    "is_error",
    "is_total_label",
    "kind",
    "market",
    "mode",
    "number",
    "setting_key",
    "setting_label",
    "settings_from_rows",
    "show",
    "text",
    "ticker",
    "ticker_list",
]
