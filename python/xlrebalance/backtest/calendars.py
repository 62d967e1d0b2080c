"""Trading days of NYSE and KRX for backtests, as arrays of days.

The days come from :mod:`xlrebalance.quotes.sessions`: exchange-calendars (XNYS, XKRX) with our
corrections on top, the same source the quote layer's freshness rules use, kept per year on
disk because building XKRX takes seconds. Days outside the library's range are not sessions.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from xlrebalance.quotes.sessions import CLOSURES, MARKET_CALENDARS, OPENINGS, trading_days

CALENDAR_OF_MARKET = MARKET_CALENDARS


@lru_cache(maxsize=16)
def sessions(market: str, start: date, end: date) -> npt.NDArray[np.datetime64]:
    """Trading days of ``market`` (US or KR) from ``start`` to ``end`` inclusive."""
    return np.array(trading_days(market, start, end), dtype="datetime64[D]")


def is_session(market: str, day: date) -> bool:
    return bool(sessions(market, day, day).size)


__all__ = ["CALENDAR_OF_MARKET", "CLOSURES", "OPENINGS", "is_session", "sessions"]
