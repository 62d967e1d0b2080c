"""Rebalancing policies: when to look at the portfolio and when a look becomes trades.

A policy is written on the command line as a short spec (``monthly``, ``quarterly:last``,
``monthly+band:10%``, ``5/25``, ``contribute:1000000KRW``, ``user``); :func:`parse_policy`
turns it into a :class:`Policy` and says what was expected when it cannot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from xlrebalance.errors import PortfolioError
from xlrebalance.model import KNOWN_CURRENCIES, Band


class Frequency(StrEnum):
    DAILY = "daily"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    ANNUAL = "annual"


class Day(StrEnum):
    FIRST = "first"
    LAST = "last"


_MONTHS_PER_PERIOD = {
    Frequency.MONTHLY: 1,
    Frequency.QUARTERLY: 3,
    Frequency.SEMIANNUAL: 6,
    Frequency.ANNUAL: 12,
}


@dataclass(frozen=True)
class Policy:
    """``check`` None: buy the targets on the first day, then never trade again.

    ``band``: a check trades only when some position is outside it, and then brings every
    position back to target (the band is a trigger, as in most backtesting tools; a band in the
    portfolio's own settings is instead the planner's per-position no-trade zone, see ``own``).
    ``contribution``: cash (amount, currency) added on every check day; with ``buy_only`` the
    planner only buys. ``own``: plan with the portfolio's settings exactly as they are.
    ``per_position``: the band is the planner's no-trade zone instead of a trigger: every check
    asks the planner, which trades only the positions outside the band (``monthly+outside:10%``).
    """

    name: str
    check: Frequency | None = None
    day: Day = Day.FIRST
    band: Band | None = None
    contribution: tuple[float, str] | None = None
    buy_only: bool = False
    own: bool = False
    per_position: bool = False


_EXPECTED = (
    "expected none, monthly, quarterly, semiannual, annual (optionally :first or :last), "
    "daily, band:10% / band:abs=5%,rel=25% / 5/25 (checked daily unless prefixed by a "
    "calendar such as monthly+band:10%), monthly+outside:10% (trade only the positions "
    "outside), contribute:1000000KRW[@monthly], or user[@monthly]"
)


def _percent(text: str, spec: str) -> float:
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(%?)\s*", text)
    if match is None:
        raise PortfolioError(f"--policy {spec}", f"{text!r} is not a number or percentage")
    value = float(match.group(1))
    return value / 100 if match.group(2) or value >= 1 else value


def _band(text: str, spec: str) -> Band:
    text = text.strip().lower()
    if m := re.fullmatch(r"(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)", text):
        return Band(float(m.group(1)) / 100, float(m.group(2)) / 100)
    if not text.startswith("band:"):
        raise PortfolioError(f"--policy {spec}", _EXPECTED)
    absolute = relative = 0.0
    for part in text[5:].split(","):
        key, _, value = part.partition("=")
        if not value:  # band:10% is relative, the articles' "±10%"
            relative = _percent(key, spec)
        elif key.strip() == "abs":
            absolute = _percent(value, spec)
        elif key.strip() == "rel":
            relative = _percent(value, spec)
        else:
            raise PortfolioError(f"--policy {spec}", f"unknown band part {key!r} (abs= or rel=)")
    if absolute <= 0 and relative <= 0:
        raise PortfolioError(f"--policy {spec}", "a band needs a width above zero")
    return Band(absolute, relative)


def _calendar(text: str, spec: str) -> tuple[Frequency, Day]:
    name, _, day = text.strip().lower().partition(":")
    aliases = {"semi-annual": "semiannual", "semiannually": "semiannual", "yearly": "annual"}
    name = aliases.get(name, name)
    try:
        frequency = Frequency(name)
    except ValueError:
        raise PortfolioError(f"--policy {spec}", _EXPECTED) from None
    try:
        return frequency, Day(day or "first")
    except ValueError:
        raise PortfolioError(
            f"--policy {spec}", f"{day!r}: expected first or last (trading day of the period)"
        ) from None


def _when(lower: str, spec: str) -> str:
    """The calendar after ``@`` (monthly when there is no ``@``)."""
    head, at, when = lower.partition("@")
    if at and not when.strip():
        raise PortfolioError(f"--policy {spec}", f"expected a calendar after @ ({head}@quarterly)")
    return when or "monthly"


def parse_policy(spec: str) -> Policy:
    text = spec.strip()
    lower = text.lower()
    if lower in ("none", "hold", "buy-and-hold"):
        return Policy(name="none")
    if lower == "user" or lower.startswith("user@"):
        frequency, day = _calendar(_when(lower, spec), spec)
        return Policy(name=lower, check=frequency, day=day, own=True)
    if lower.startswith("contribute:"):
        body, _, _ = lower[len("contribute:") :].partition("@")
        when = _when(lower, spec)
        match = re.fullmatch(r"\s*([0-9][0-9_,]*\.?[0-9]*)\s*([a-z]{3})\s*", body)
        if match is None:
            raise PortfolioError(
                f"--policy {spec}", "expected an amount and a currency, e.g. contribute:1000000KRW"
            )
        currency = match.group(2).upper()
        if currency not in KNOWN_CURRENCIES:
            raise PortfolioError(f"--policy {spec}", f"unknown currency {currency!r}")
        amount = float(match.group(1).replace(",", "").replace("_", ""))
        if amount <= 0:
            raise PortfolioError(f"--policy {spec}", "expected an amount above zero")
        frequency, day = _calendar(when, spec)
        return Policy(
            name=lower,
            check=frequency,
            day=day,
            contribution=(amount, currency),
            buy_only=True,
        )
    calendar, plus, band = lower.partition("+")
    if plus and band.startswith("outside:"):
        frequency, day = _calendar(calendar, spec)
        width = _band("band:" + band[len("outside:") :], spec)
        return Policy(name=lower, check=frequency, day=day, band=width, per_position=True)
    if plus:
        frequency, day = _calendar(calendar, spec)
        return Policy(name=lower, check=frequency, day=day, band=_band(band, spec))
    if lower.startswith("band:") or "/" in lower:
        return Policy(name=lower, check=Frequency.DAILY, band=_band(lower, spec))
    frequency, day = _calendar(lower, spec)
    return Policy(name=lower, check=frequency, day=day)


def check_days(
    dates: npt.NDArray[np.datetime64], frequency: Frequency | None, day: Day
) -> npt.NDArray[np.bool_]:
    """Which rows of ``dates`` (sorted trading days) are check days of the policy.

    Row 0 is never a check day: every policy buys its targets there. ``last`` marks the final
    row only when its period is over (the next weekday falls in another period)."""
    n = len(dates)
    marks = np.zeros(n, dtype=bool)
    if frequency is None or n == 0:
        return marks
    if frequency is Frequency.DAILY:
        marks[1:] = True
        return marks
    months = dates.astype("datetime64[M]").astype(np.int64)
    period = months // _MONTHS_PER_PERIOD[frequency]
    if day is Day.FIRST:
        marks[1:] = period[1:] != period[:-1]
    else:
        marks[:-1] = period[:-1] != period[1:]
        after = np.busday_offset(dates[-1].astype("datetime64[D]"), 1, roll="forward")
        next_period = (
            after.astype("datetime64[M]").astype(np.int64) // _MONTHS_PER_PERIOD[frequency]
        )
        marks[-1] = bool(next_period != period[-1])
        marks[0] = False
    return marks
