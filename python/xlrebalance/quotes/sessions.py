"""Trading sessions of NYSE and KRX: exchange-calendars (XNYS, XKRX) with our corrections.

The one source of trading days for the quote layer's freshness rules (``quotes/calendar.py``:
is the market open now, when did it last close) and for backtests (``backtest/calendars.py``:
the trading days of a range). exchange-calendars is maintained upstream; where it is known to
be wrong we keep a small overlay here, each entry with its reason, and report it upstream.

Building a calendar is slow: importing the library (and pandas) takes about a second, and XKRX
works out its lunar holidays for its whole range each time (3-8 s here). A quote answered from
the cache takes 0.2 s, so the sessions are kept per market and year in small JSON files under
the quote cache's folder (``calendars/``), stamped with the installed library and the overlay:
a quote reads one file, and the library is imported only for a year no file has yet (about
once a year on a computer, and again after exchange-calendars is upgraded). Without the library
(an install without the ``quotes`` or ``backtest`` extra) nothing is known: callers fall back
to weekdays, see :func:`year_sessions`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import zlib
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MARKET_CALENDARS = {"US": "XNYS", "KR": "XKRX"}
"""exchange-calendars' code for each market of ours (FX trades around the clock)."""

# Full-day closures exchange-calendars 4.13 does not have (checked 2025-2027).
CLOSURES: dict[str, dict[date, str]] = {
    "XKRX": {date(2026, 6, 3): "nationwide local elections (KRX closed)"},
}
# Sessions the library lacks that the exchange did hold (open and close, aware): none known.
OPENINGS: dict[str, dict[date, tuple[datetime, datetime]]] = {}

CALENDAR_DIR_ENV = "XLREBALANCE_CALENDAR_DIR"
"""Where the per-year session files go; default: ``calendars/`` in the quote cache's folder."""

_FORMAT = 1
_WIDEN = 1  # on a miss, build the neighbouring years too: one slow build serves three years

Hours = tuple[int, int]
"""Open and close of a session, in seconds since the epoch (UTC)."""

_lock = threading.Lock()
_known: dict[tuple[str, int], dict[date, Hours] | None] = {}


def _overlay_digest() -> str:
    text = repr(sorted((k, sorted(v.items())) for k, v in CLOSURES.items()))
    text += repr(sorted((k, sorted(v.items())) for k, v in OPENINGS.items()))
    return f"{zlib.crc32(text.encode()):08x}"


def _library_stamp() -> str | None:
    """Which exchange-calendars is installed, without importing it (a quote must not pay for
    pandas): its file and modification time change with every install or upgrade."""
    from importlib.util import find_spec

    try:
        spec = find_spec("exchange_calendars")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    try:
        return f"{spec.origin}:{os.stat(spec.origin).st_mtime_ns}"
    except OSError:
        return None


def calendar_directory() -> Path:
    override = os.environ.get(CALENDAR_DIR_ENV)
    if override:
        return Path(override)
    from xlrebalance.quotes.cache import default_directory

    return default_directory() / "calendars"


def year_sessions(market: str, year: int) -> Mapping[date, Hours] | None:
    """The sessions of ``market`` (US or KR) in ``year``, or None when nothing is known about
    that year (exchange-calendars missing, or the year outside its range)."""
    key = (market, year)
    if key not in _known:
        _load([year], market, widen=_WIDEN)
    return _known.get(key)


def trading_days(market: str, start: date, end: date) -> list[date]:
    """Trading days of ``market`` from ``start`` to ``end`` inclusive; years the library does
    not cover contribute none."""
    years = range(start.year, end.year + 1)
    missing = [y for y in years if (market, y) not in _known]
    if missing:
        _load(missing, market, widen=0)
    days: list[date] = []
    for year in years:
        table = _known.get((market, year)) or {}
        days.extend(d for d in table if start <= d <= end)
    return sorted(days)


def _load(years: Iterable[int], market: str, *, widen: int) -> None:
    code = MARKET_CALENDARS[market]
    with _lock:
        wanted = [y for y in years if (market, y) not in _known]
        if not wanted:
            return
        stamp = _library_stamp()
        if stamp is None:  # nothing to build from: say so once per year asked
            for year in wanted:
                _known[(market, year)] = None
            return
        folder = calendar_directory()
        build = []
        for year in wanted:
            stored = _read(folder / f"{code}-{year}.json", stamp)
            if stored is None:
                build.append(year)
            else:
                _known[(market, year)] = stored
        if not build:
            return
        first, last = min(build) - widen, max(build) + widen
        try:
            built = _build(code, first, last)
        except Exception as exc:  # a broken install must not stop quotes: weekdays then
            log.warning("xlrebalance: exchange-calendars %s failed (%s); weekdays only", code, exc)
            built = {}
        for year in range(first, last + 1):
            table = built.get(year)
            if (market, year) not in _known or table is not None:
                _known[(market, year)] = table
            if table is not None:
                _write(folder / f"{code}-{year}.json", stamp, table)


def _read(path: Path, stamp: str) -> dict[date, Hours] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != _FORMAT or doc.get("library") != stamp:
            return None
        if doc.get("overlay") != _overlay_digest():
            return None
        return {date.fromordinal(d): (o, c) for d, o, c in doc["sessions"]}
    except (OSError, ValueError, TypeError, KeyError):
        return None  # absent, from another install, or damaged: built again


def _write(path: Path, stamp: str, table: Mapping[date, Hours]) -> None:
    doc: dict[str, Any] = {
        "format": _FORMAT,
        "library": stamp,
        "overlay": _overlay_digest(),
        "sessions": [[d.toordinal(), o, c] for d, (o, c) in sorted(table.items())],
    }
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
        os.replace(temporary, path)  # readers see the old file or the new one, never half
    except OSError as exc:  # a read-only cache folder costs a rebuild next time, nothing else
        log.info("xlrebalance: could not keep the sessions in %s: %s", path, exc)
        temporary.unlink(missing_ok=True)


def _build(code: str, first: int, last: int) -> dict[int, dict[date, Hours]]:
    """Sessions per year from exchange-calendars, clipped to the library's range, with the
    overlay applied. Years outside the range are absent."""
    import exchange_calendars as xcals
    import numpy as np
    from exchange_calendars.exchange_calendar_xkrx import XKRXExchangeCalendar
    from exchange_calendars.exchange_calendar_xnys import XNYSExchangeCalendar

    factory = {"XNYS": XNYSExchangeCalendar, "XKRX": XKRXExchangeCalendar}[code]
    low, high = factory.bound_min(), factory.bound_max()
    start, end = date(first, 1, 1), date(last, 12, 31)
    if low is not None:
        start = max(start, low.date())
    if high is not None:
        end = min(end, high.date())
    if start > end:
        return {}
    calendar = xcals.get_calendar(code, start=start.isoformat(), end=end.isoformat())
    days = np.asarray(calendar.sessions.values, dtype="datetime64[D]").tolist()
    opens = calendar.opens.values.astype("datetime64[s]").astype("int64").tolist()
    closes = calendar.closes.values.astype("datetime64[s]").astype("int64").tolist()
    out: dict[int, dict[date, Hours]] = {y: {} for y in range(start.year, end.year + 1)}
    for day, opened, closed in zip(days, opens, closes, strict=True):
        if day not in CLOSURES.get(code, {}):
            out[day.year][day] = (int(opened), int(closed))
    for day, (opened_at, closed_at) in OPENINGS.get(code, {}).items():
        if day.year in out:
            out[day.year][day] = (int(opened_at.timestamp()), int(closed_at.timestamp()))
    # A year the range only partly covers (the library's first or last) is kept as it is:
    # its missing part is outside the library's range, so nothing more could be known.
    return out


def forget() -> None:
    """Drop what this process knows (tests that change the folder or the library)."""
    with _lock:
        _known.clear()
