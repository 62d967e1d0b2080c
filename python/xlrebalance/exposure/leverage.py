"""How much market exposure one unit of a holding's value carries.

A 3x fund (TQQQ) worth 5% of the portfolio moves like 15% of the index it tracks, and an
inverse fund counts against it. The factor comes from, in order: the user's own number on the
Holdings row, a small table of well-known leveraged and inverse ETFs (which also names the
unleveraged fund whose holdings stand in for the index), or the fund's name ("3X",
"UltraPro", "레버리지", "인버스"). Everything else is 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xlrebalance.model import Holding


@dataclass(frozen=True)
class Leverage:
    factor: float
    proxy: str | None  # an unleveraged fund holding what the index holds (TQQQ -> QQQ)
    source: str  # "user", "table", "name" or "default"


# ticker: (daily factor, unleveraged proxy of the tracked index). Facts from the issuers'
# fund pages; extend it here or override per row on Holdings.
KNOWN: dict[str, tuple[float, str | None]] = {
    # Nasdaq-100
    "TQQQ": (3.0, "QQQ"),
    "SQQQ": (-3.0, "QQQ"),
    "QLD": (2.0, "QQQ"),
    "PSQ": (-1.0, "QQQ"),
    "QID": (-2.0, "QQQ"),
    # S&P 500
    "UPRO": (3.0, "SPY"),
    "SPXL": (3.0, "SPY"),
    "SSO": (2.0, "SPY"),
    "SPXU": (-3.0, "SPY"),
    "SPXS": (-3.0, "SPY"),
    "SDS": (-2.0, "SPY"),
    "SH": (-1.0, "SPY"),
    # sectors and others
    "SOXL": (3.0, "SOXX"),
    "SOXS": (-3.0, "SOXX"),
    "TECL": (3.0, "XLK"),
    "TECS": (-3.0, "XLK"),
    "UDOW": (3.0, "DIA"),
    "SDOW": (-3.0, "DIA"),
    "DDM": (2.0, "DIA"),
    "TNA": (3.0, "IWM"),
    "TZA": (-3.0, "IWM"),
    "FAS": (3.0, None),
    "FAZ": (-3.0, None),
    # single stocks
    "NVDL": (2.0, "NVDA"),
    "TSLL": (2.0, "TSLA"),
    # KRX
    "122630": (2.0, "069500"),  # KODEX 레버리지 (KOSPI 200 x2)
    "123320": (2.0, "102110"),  # TIGER 레버리지
    "114800": (-1.0, "069500"),  # KODEX 인버스
    "252670": (-2.0, "069500"),  # KODEX 200선물인버스2X
    "233740": (2.0, "229200"),  # KODEX 코스닥150레버리지
    "251340": (-1.0, "229200"),  # KODEX 코스닥150선물인버스
}

_NAME_RULES: tuple[tuple[re.Pattern[str], float], ...] = (
    (re.compile(r"ultrapro\s+short|-3x|bear\s+3x|3x\s+(short|inverse|bear)", re.I), -3.0),
    (re.compile(r"ultrashort|-2x|bear\s+2x|2x\s+(short|inverse|bear)|인버스\s*2x", re.I), -2.0),
    (re.compile(r"ultrapro|\b3x\b|bull\s+3x", re.I), 3.0),
    (re.compile(r"\bultra\b|\b2x\b|bull\s+2x|레버리지", re.I), 2.0),
    (re.compile(r"\bshort\b|inverse|인버스", re.I), -1.0),
)


def leverage_of(holding: Holding) -> Leverage:
    """The factor (and proxy fund) for ``holding``; see the module's docstring for the order."""
    known = KNOWN.get(holding.ticker)
    if holding.leverage is not None:
        return Leverage(holding.leverage, known[1] if known else None, "user")
    if known is not None:
        return Leverage(known[0], known[1], "table")
    if holding.name:
        for pattern, factor in _NAME_RULES:
            if pattern.search(holding.name):
                return Leverage(factor, None, "name")
    return Leverage(1.0, None, "default")
