"""Trading days of NYSE and KRX from exchange-calendars, with our corrections on top.

exchange-calendars (XNYS, XKRX) is maintained upstream; where it is known to be wrong we keep a
small overlay here, each entry with its reason, and report it upstream. Asking about days
before a calendar's own first session raises in the library, so the range is clipped to it.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import numpy as np
import numpy.typing as npt

CALENDAR_OF_MARKET = {"US": "XNYS", "KR": "XKRX"}

# Full-day closures exchange-calendars 4.13 does not have (checked 2025-2027).
CLOSURES: dict[str, dict[date, str]] = {
    "XKRX": {date(2026, 6, 3): "nationwide local elections (KRX closed)"},
}
# Sessions the library has that the exchange did not hold... none known; kept for symmetry.
OPENINGS: dict[str, dict[date, str]] = {}


@lru_cache(maxsize=16)
def sessions(market: str, start: date, end: date) -> npt.NDArray[np.datetime64]:
    """Trading days of ``market`` (US or KR) from ``start`` to ``end`` inclusive."""
    import exchange_calendars as xcals

    code = CALENDAR_OF_MARKET[market]
    # Built for the range asked (the library's default is 20 years back, 1 year ahead).
    calendar = xcals.get_calendar(code, start=_bound(start, -1), end=_bound(end, 1))
    first = max(start, calendar.first_session.date())
    last = min(end, calendar.last_session.date())
    if first > last:
        return np.array([], dtype="datetime64[D]")
    days = calendar.sessions_in_range(first.isoformat(), last.isoformat())
    found = set(np.array(days.values, dtype="datetime64[D]").tolist())
    found -= set(CLOSURES.get(code, {}))
    found |= {d for d in OPENINGS.get(code, {}) if first <= d <= last}
    return np.array(sorted(found), dtype="datetime64[D]")


def _bound(day: date, years: int) -> str:
    # Whole years around the range keep the lru_cache of calendars small.
    return f"{max(day.year + years, 1980)}-{'01-01' if years < 0 else '12-31'}"


def is_session(market: str, day: date) -> bool:
    return bool(sessions(market, day, day).size)
