"""Daily price history as the simulation sees it: one matrix of closes, FX per currency.

Closes are in each ticker's own currency, NaN where the ticker has no close that day (its market
was closed, its history has not started, it was delisted, or the data has a hole). Nothing here
invents a price: valuation carries a ticker's last real close forward, and trading in it waits
for the next real one.
"""

from __future__ import annotations

import csv
import math
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


def read_prices_csv(path: str | Path) -> PriceHistory:
    """A CSV of daily closes: a ``date`` column (YYYY-MM-DD) and one column per ticker.

    FX columns are named like the portfolio's ``fx`` keys (``USDKRW``: base units per dollar).
    Empty cells mean no close that day. Every problem names the row and column."""
    where = str(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise PortfolioError(where, f"cannot read the prices file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise PortfolioError(where, f"not UTF-8 text ({exc.reason})") from exc
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if len(rows) < 2:
        raise PortfolioError(where, "expected a header row and at least one row of closes")
    header = [h.strip() for h in rows[0]]
    lowered = [h.lower() for h in header]
    if "date" not in lowered:
        raise PortfolioError(f"{where} row 1", "expected a 'date' column")
    date_col = lowered.index("date")
    names = [h.upper() for i, h in enumerate(header) if i != date_col]
    if not names or any(not n for n in names):
        raise PortfolioError(f"{where} row 1", "every column after date needs a ticker name")
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise PortfolioError(f"{where} row 1", f"duplicate column {sorted(duplicates)[0]}")
    days: list[np.datetime64] = []
    values = np.full((len(rows) - 1, len(names)), np.nan)
    for r, row in enumerate(rows[1:]):
        line = r + 2
        if len(row) != len(header):
            raise PortfolioError(
                f"{where} row {line}", f"expected {len(header)} cells, found {len(row)}"
            )
        text = row[date_col].strip()
        try:
            days.append(np.datetime64(date.fromisoformat(text), "D"))
        except ValueError:
            raise PortfolioError(
                f"{where} row {line}", f"date {text!r} is not YYYY-MM-DD"
            ) from None
        cells = [c for i, c in enumerate(row) if i != date_col]
        for c, cell in enumerate(cells):
            cell = cell.strip().replace(",", "")
            if not cell:
                continue
            try:
                value = float(cell)
            except ValueError:
                raise PortfolioError(
                    f"{where} row {line} column {names[c]}", f"{cell!r} is not a number"
                ) from None
            if not math.isfinite(value) or value <= 0:
                raise PortfolioError(
                    f"{where} row {line} column {names[c]}",
                    f"expected a positive price, got {cell}",
                )
            values[r, c] = value
    order = np.argsort(np.array(days, dtype="datetime64[D]"), kind="stable")
    dates = np.array(days, dtype="datetime64[D]")[order]
    if np.any(dates[1:] == dates[:-1]):
        dup = dates[1:][dates[1:] == dates[:-1]][0]
        raise PortfolioError(where, f"date {day_text(dup)} appears twice")
    return PriceHistory(dates=dates, tickers=tuple(names), closes=values[order])


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
