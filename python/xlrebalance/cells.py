"""One cell's value as Excel or openpyxl hands it over -> a typed value, or an error that
names the cell.

Both readers of user input use these: the workbook reader (``Holdings!E7``) and the worksheet
functions' range reader (``Holdings row 3``). Excel gives floats for numbers, ``None`` for
blanks, datetimes for dates and text for the rest; on Windows an error cell reaches a UDF as a
COM error code. Users also type numbers as text (``"1,234"``, ``"₩41,250"``, ``"25%"``).
"""

from __future__ import annotations

import datetime as dt
import math
import re

from xlrebalance.errors import PortfolioError
from xlrebalance.model import normalize_ticker

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


def cell(value: object) -> object:
    """One cell normalised: COM error codes as their text, blank text as None."""
    if isinstance(value, int) and not isinstance(value, bool) and value in COM_ERRORS:
        return COM_ERRORS[value]
    if isinstance(value, str):
        text = value.replace("\u00a0", " ").strip()
        return text or None
    return value


def is_error(value: object) -> bool:
    return isinstance(value, str) and bool(_ERROR_TEXT.match(value))


def blank(value: object) -> bool:
    return cell(value) is None


def show(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_NUMBER_NOISE = re.compile(r"[,_\s₩$€¥£]|원$|주$|KRW$|USD$", re.IGNORECASE)


def number(value: object, label: str, where: str, *, percent: bool = False) -> float:
    """A cell as a number: floats as they are, numbers stored as text, ``"25%"`` where a
    weight or rate is expected. Anything else is an error naming ``where``."""
    value = cell(value)
    if value is None:
        raise PortfolioError(where, f"{label} is empty (expected a number)")
    if is_error(value):
        raise PortfolioError(where, f"{label} is an Excel error ({value})")
    if isinstance(value, bool):
        raise PortfolioError(where, f"{label} {str(value).upper()} is not a number")
    if isinstance(value, dt.date | dt.time):
        raise PortfolioError(where, f"{label} is a date ({value}), not a number")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        if value.startswith("="):
            raise PortfolioError(
                where,
                f"{label} is a formula Excel has not calculated yet ({value}): open and save "
                "the workbook in Excel, or type the value",
            )
        text = value
        negative = text.startswith("(") and text.endswith(")")
        text = text.strip("()") if negative else text
        scale = 1.0
        if text.endswith("%"):
            if not percent:
                raise PortfolioError(where, f"{label} {show(value)} is a percentage here")
            text, scale = text[:-1], 0.01
        try:
            result = float(_NUMBER_NOISE.sub("", text)) * scale * (-1 if negative else 1)
        except ValueError:
            raise PortfolioError(where, f"{label} {show(value)} is not a number") from None
    else:
        raise PortfolioError(where, f"{label} {show(value)} is not a number")
    if not math.isfinite(result):
        raise PortfolioError(where, f"{label} {show(value)} is not a finite number")
    return result


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
    """``69500.0`` -> ``069500``; ``A005930`` and ``005930.KS`` -> ``005930``; ``aapl`` ->
    ``AAPL``."""
    raw = text(value).upper()
    for pattern in (_PREFIXED_KR, _YAHOO_KR):
        match = pattern.match(raw)
        if match:
            raw = match.group(1)
    return normalize_ticker(raw) if raw else ""


_TRUE = {"true", "yes", "y", "1", "x", "o", "예", "참", "네", "고정"}
_FALSE = {"false", "no", "n", "0", "아니오", "거짓", "아니요", ""}


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
