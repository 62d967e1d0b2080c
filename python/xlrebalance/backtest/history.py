"""Daily price history as the simulation sees it: one matrix of closes, FX per currency.

Closes are in each ticker's own currency, NaN where the ticker has no close that day (its market
was closed, its history has not started, it was delisted, or the data has a hole). Nothing here
invents a price: valuation carries a ticker's last real close forward, and trading in it waits
for the next real one.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt

from xlrebalance.errors import PortfolioError

FloatArray = npt.NDArray[np.float64]
DateArray = npt.NDArray[np.datetime64]

GAP_ROWS = 5
"""A hole longer than this many rows (where the other tickers of the same currency trade) is
reported as a history gap."""


@dataclass(frozen=True)
class PriceHistory:
    dates: DateArray  # datetime64[D], strictly increasing
    tickers: tuple[str, ...]
    closes: FloatArray  # (days, tickers), native currency, NaN = no close that day
    fx: Mapping[str, FloatArray] = field(default_factory=dict)  # currency -> base per unit
    dividends: FloatArray | None = None  # (days, tickers) cash per share paid that day
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.closes.shape != (len(self.dates), len(self.tickers)):
            raise ValueError("closes must be (days, tickers)")

    def column(self, ticker: str) -> int:
        return self.tickers.index(ticker)

    def between(self, start: date | None, end: date | None) -> PriceHistory:
        """Rows from ``start`` to ``end`` inclusive."""
        keep = np.ones(len(self.dates), dtype=bool)
        if start is not None:
            keep &= self.dates >= np.datetime64(start, "D")
        if end is not None:
            keep &= self.dates <= np.datetime64(end, "D")
        return PriceHistory(
            dates=self.dates[keep],
            tickers=self.tickers,
            closes=self.closes[keep],
            fx={c: v[keep] for c, v in self.fx.items()},
            dividends=None if self.dividends is None else self.dividends[keep],
            notes=self.notes,
        )


def day_text(day: np.datetime64) -> str:
    return str(day.astype("datetime64[D]"))


DATE_HEADERS = ("date", "날짜", "일자")
"""Names of the date column (any case); a nameless first column is taken as dates too (pandas
writes an unnamed index so)."""

MISSING = frozenset({"n/a", "#n/a", "na", "-", "--", "\u2013", "\u2014", "null", "none", "nan"})
"""Cells that mean "no close that day", as spreadsheets and data tools write it."""

_DAY = re.compile(
    r"(\d{4})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{1,2})\.?"  # 2024-01-02, 2024/1/2, 2024. 1. 2.
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"  # a time of day, as Excel may add one
)
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")  # 1,234.5
_GROUPED_DECIMAL_COMMA = re.compile(r"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?")  # 1.234,5


def read_prices_csv(path: str | Path) -> PriceHistory:
    """A CSV of daily closes: a ``date`` column and one column per ticker.

    FX columns are named like the portfolio's ``fx`` keys (``USDKRW``: base units per dollar).
    Empty cells (or ``N/A``, ``#N/A``, ``-``) mean no close that day. What spreadsheets write is
    read as meant: UTF-8 with or without BOM, UTF-16 (Excel's Unicode text), Korean cp949;
    ``,``, ``;`` or tab separators (with ``;`` or tab and commas in the numbers, the comma is
    the decimal mark); dates as 2024-01-02, 2024/01/02 or 2024.01.02, with or without a time;
    thousands separators; empty trailing columns. Rows on Saturdays and Sundays are left out
    (no market of the portfolio trades then) and the notes say so. Every problem names the
    row and column."""
    where = str(path)
    rows, separator = _csv_rows(path, where)
    if len(rows) < 2:
        raise PortfolioError(where, "expected a header row and at least one row of closes")
    header = [h.strip() for h in rows[0]]
    used = _used_columns(header, rows)
    date_col = _date_column(header, where)
    names = [header[i].upper() for i in used if i != date_col]
    if not names or any(not n for n in names):
        raise PortfolioError(f"{where} row 1", "every column after date needs a ticker name")
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise PortfolioError(f"{where} row 1", f"duplicate column {sorted(duplicates)[0]}")
    cells_of = [i for i in used if i != date_col]
    decimal_comma = separator != "," and _decimal_comma(rows, cells_of)
    width = max(used) + 1
    days: list[np.datetime64] = []
    values = np.full((len(rows) - 1, len(names)), np.nan)
    for r, row in enumerate(rows[1:]):
        line = r + 2
        if len(row) < width or any(c.strip() for c in row[width:]):
            raise PortfolioError(f"{where} row {line}", f"expected {width} cells, found {len(row)}")
        days.append(_row_day(row[date_col], f"{where} row {line}"))
        for c, i in enumerate(cells_of):
            value = _close(row[i], decimal_comma, f"{where} row {line} column {names[c]}")
            if value is not None:
                values[r, c] = value
    return _sorted_weekdays(where, days, tuple(names), values)


def _csv_rows(path: str | Path, where: str) -> tuple[list[list[str]], str]:
    """The file's non-blank rows, decoded and split as the file was written, and the
    separator (the most frequent of comma, semicolon and tab in the header)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PortfolioError(where, f"cannot read the prices file: {exc.strerror}") from exc
    text = _decode(data, where)
    first = text.split("\n", 1)[0]
    separator = max((",", ";", "\t"), key=first.count)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))
    return [r for r in rows if any(cell.strip() for cell in r)], separator


def _decode(data: bytes, where: str) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        reason = exc.reason
    try:  # Korean Excel saves "CSV (comma delimited)" in cp949
        return data.decode("cp949")
    except UnicodeDecodeError:
        raise PortfolioError(
            where, f"not UTF-8 text ({reason}), nor Korean cp949: save it as CSV UTF-8"
        ) from None


def _used_columns(header: list[str], rows: list[list[str]]) -> list[int]:
    """Columns with a name or any value (Excel exports empty trailing columns)."""
    return [
        i
        for i, name in enumerate(header)
        if name or any(i < len(r) and r[i].strip() for r in rows[1:])
    ]


def _date_column(header: list[str], where: str) -> int:
    lowered = [h.lower() for h in header]
    for name in DATE_HEADERS:
        if name in lowered:
            return lowered.index(name)
    if header and not header[0]:
        return 0
    raise PortfolioError(
        f"{where} row 1",
        f"expected a 'date' column (the header is {', '.join(repr(h) for h in header[:4])}"
        + (", ..." if len(header) > 4 else "")
        + ")",
    )


def _decimal_comma(rows: list[list[str]], columns: list[int]) -> bool:
    """True when some number has a comma that is not a thousands separator (1,5 or 1234,56).
    Asked only of files not separated by commas: there a quoted comma is a thousands
    separator, and 1,5 is refused as not a number."""
    for row in rows[1:]:
        for i in columns:
            cell = row[i].strip() if i < len(row) else ""
            if "," in cell and not _GROUPED.fullmatch(cell):
                return True
    return False


def _row_day(text: str, where: str) -> np.datetime64:
    text = text.strip()
    match = _DAY.fullmatch(text)
    if match is not None:
        try:
            day = date(int(match.group(1)), int(match.group(3)), int(match.group(4)))
            return np.datetime64(day, "D")
        except ValueError:
            pass
    raise PortfolioError(
        where, f"date {text!r} is not YYYY-MM-DD (2024/01/02 and 2024.01.02 are read too)"
    )


def _close(cell: str, decimal_comma: bool, where: str) -> float | None:
    """A positive close, or None for an empty cell; thousands separators allowed."""
    text = cell.strip().replace("\u00a0", "").replace(" ", "")
    if not text or text.lower() in MISSING:
        return None
    if decimal_comma:
        number = text.replace(".", "").replace(",", ".")
        grouped = "." not in text or bool(_GROUPED_DECIMAL_COMMA.fullmatch(text))
    else:
        number = text.replace(",", "")
        grouped = "," not in text or bool(_GROUPED.fullmatch(text))
    try:
        if not grouped:
            raise ValueError
        value = float(number)
    except ValueError:
        raise PortfolioError(where, f"{cell.strip()!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise PortfolioError(where, f"expected a positive price, got {cell.strip()}")
    return value


def _sorted_weekdays(
    where: str, days: list[np.datetime64], names: tuple[str, ...], values: FloatArray
) -> PriceHistory:
    """Rows by date, each date once; Saturdays and Sundays left out with a note."""
    dates = np.array(days, dtype="datetime64[D]")
    order = np.argsort(dates, kind="stable")
    dates, values, lines = dates[order], values[order], order + 2
    same = np.flatnonzero(dates[1:] == dates[:-1])
    if same.size:
        k = int(same[0])
        raise PortfolioError(
            where,
            f"date {day_text(dates[k])} appears twice (rows {min(lines[k], lines[k + 1])} and "
            f"{max(lines[k], lines[k + 1])})",
        )
    weekend = np.is_busday(dates, weekmask="0000011")
    notes: tuple[str, ...] = ()
    if weekend.any():
        notes = (
            f"{Path(where).name}: {int(weekend.sum())} rows on a Saturday or Sunday left out "
            "(no market of the portfolio trades then)",
        )
    keep = ~weekend
    return PriceHistory(dates=dates[keep], tickers=names, closes=values[keep], notes=notes)


def split_fx(history: PriceHistory, base: str, currencies: Sequence[str]) -> PriceHistory:
    """Move FX columns (``USDKRW``) of a CSV out of the closes into ``fx``."""
    fx = dict(history.fx)
    keep: list[int] = []
    for c, name in enumerate(history.tickers):
        if len(name) == 6 and name[3:] == base and name[:3] in currencies and name[:3] != base:
            fx[name[:3]] = history.closes[:, c]
        else:
            keep.append(c)
    return PriceHistory(
        dates=history.dates,
        tickers=tuple(history.tickers[c] for c in keep),
        closes=history.closes[:, keep],
        fx=fx,
        dividends=None if history.dividends is None else history.dividends[:, keep],
        notes=history.notes,
    )


def merge(parts: Sequence[PriceHistory]) -> PriceHistory:
    """One history on the union of the parts' dates (each part's tickers and FX distinct)."""
    if not parts:
        raise ValueError("nothing to merge")
    dates = np.unique(np.concatenate([p.dates for p in parts]))
    tickers: list[str] = []
    columns: list[FloatArray] = []
    dividends: list[FloatArray] = []
    fx: dict[str, FloatArray] = {}
    notes: list[str] = []
    any_dividends = any(p.dividends is not None for p in parts)
    for p in parts:
        rows = np.searchsorted(dates, p.dates)
        block = np.full((len(dates), len(p.tickers)), np.nan)
        block[rows] = p.closes
        columns.append(block)
        if any_dividends:
            paid = np.zeros((len(dates), len(p.tickers)))
            if p.dividends is not None:
                paid[rows] = p.dividends
            dividends.append(paid)
        tickers.extend(p.tickers)
        for currency, series in p.fx.items():
            full = np.full(len(dates), np.nan)
            full[rows] = series
            fx[currency] = full
        notes.extend(p.notes)
    return PriceHistory(
        dates=dates,
        tickers=tuple(tickers),
        closes=np.hstack(columns) if columns else np.empty((len(dates), 0)),
        fx=fx,
        dividends=np.hstack(dividends) if any_dividends else None,
        notes=tuple(dict.fromkeys(notes)),
    )


def forward_fill(values: FloatArray) -> FloatArray:
    """Carry each column's last real value forward over NaN (leading NaN stay NaN)."""
    out = np.array(values, dtype=np.float64, copy=True)
    if out.ndim == 1:
        return forward_fill(out[:, None])[:, 0]
    valid = ~np.isnan(out)
    index = np.where(valid, np.arange(len(out))[:, None], 0)
    np.maximum.accumulate(index, axis=0, out=index)
    filled = out[index, np.arange(out.shape[1])[None, :]]
    filled[~np.maximum.accumulate(valid, axis=0)] = np.nan
    return filled


@dataclass(frozen=True)
class Coverage:
    """Where a ticker's history starts and ends inside the backtest, and its holes."""

    first: int | None  # row of its first close, None if it has none
    last: int | None
    gaps: tuple[tuple[int, int], ...]  # (first missing row, last missing row)


def coverage(
    closes: FloatArray, peers: Sequence[int], open_rows: npt.NDArray[np.bool_] | None = None
) -> list[Coverage]:
    """Per column: first/last close and holes longer than :data:`GAP_ROWS` rows on days when
    ``peers`` (columns of the same market) traded or the exchange calendar says it was open
    (``open_rows``)."""
    has: npt.NDArray[np.bool_] = ~np.isnan(closes)
    peer_rows = np.ones(len(closes), dtype=bool)
    if peers:
        peer_rows = np.asarray(has[:, list(peers)].any(axis=1), dtype=bool)
    if open_rows is not None:
        peer_rows = peer_rows | open_rows
    result = []
    for c in range(closes.shape[1]):
        rows = np.flatnonzero(has[:, c])
        if rows.size == 0:
            result.append(Coverage(None, None, ()))
            continue
        first, last = int(rows[0]), int(rows[-1])
        gaps: list[tuple[int, int]] = []
        missing = np.flatnonzero(~has[first : last + 1, c] & peer_rows[first : last + 1])
        if missing.size:
            breaks = np.flatnonzero(np.diff(missing) > 1)
            starts = np.concatenate(([0], breaks + 1))
            ends = np.concatenate((breaks, [missing.size - 1]))
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
                if e - s + 1 > GAP_ROWS:
                    gaps.append((first + int(missing[s]), first + int(missing[e])))
        result.append(Coverage(first, last, tuple(gaps)))
    return result
