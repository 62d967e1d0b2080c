"""Whether a quote is plausible enough to cache and plan with.

A source that misbehaves (a unit slip, a placeholder, a broken feed) can answer 1e-300 or
1e300 for a price; planned on, that buys 5e302 shares or values the portfolio at infinity. So
every price, stock or FX, passes here before it is cached or used:

- finite and positive;
- within what the source can quote: not below the market's tick (a cent's hundredth for US
  prices, one won for KRX prices, which are whole won) and not above a ceiling no listed
  share or exchange rate comes near;
- in the currency the holding (or the FX pair) is in;
- not an implausible jump from the last good price of the same ticker: more than
  ``max_jump`` times it, or less than 1/``max_jump`` of it. A jump is held back, never used
  silently; the user accepts it (``--accept-jumps``) when it is real, e.g. after a split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

DEFAULT_MAX_JUMP = 5.0

# The smallest price each market's sources quote (their precision) and the largest plausible.
MIN_PRICE = {"US": 1e-4, "KR": 1.0, "FX": 1e-6}
MAX_PRICE = {"US": 1e7, "KR": 1e9, "FX": 1e6}
_WHOLE_WON_SLACK = 1e-6  # KRX prices are whole won; allow float noise only

ACCEPT_HINT = "rerun with --accept-jumps if it is real (a split or a reverse split?)"


@dataclass(frozen=True)
class SanityPolicy:
    """``max_jump``: the largest factor between a new price and the last good one that is
    used without asking. ``accept_jumps``: use larger jumps too (the user confirmed them).
    ``accepted``: tickers whose jump the user confirmed (Excel's Yes to the list of jumps),
    used while the other tickers' jumps are still held back."""

    max_jump: float = DEFAULT_MAX_JUMP
    accept_jumps: bool = False
    accepted: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_jump) and self.max_jump > 1.0):
            raise ValueError(f"max_jump must be a number above 1, not {self.max_jump!r}")


def implausible(price: float, market: str) -> str | None:
    """Why ``price`` cannot be a real price of ``market`` (``US``, ``KR``, ``FX``), or None."""
    if isinstance(price, bool) or not isinstance(price, int | float):
        return f"price {price!r} is not a number"
    if not math.isfinite(price):
        return f"price {price!r} is not a finite number"
    if price <= 0:
        return f"price {price:g} is not positive"
    low = MIN_PRICE.get(market, MIN_PRICE["US"])
    high = MAX_PRICE.get(market, MAX_PRICE["US"])
    if price < low:
        return f"price {price:g} is below the smallest price the source quotes ({low:g})"
    if price > high:
        return f"price {price:g} is above any plausible {market or 'market'} price ({high:g})"
    if market == "KR" and abs(price - round(price)) > _WHOLE_WON_SLACK * max(1.0, price):
        return f"price {price!r} is not whole won (KRX prices are)"
    return None


def wrong_currency(quoted: str | None, expected: str | None, market: str = "") -> str | None:
    """Why a price quoted in ``quoted`` cannot be used for ``expected``, or None."""
    if expected and quoted and quoted.upper() != expected.upper():
        what = "the pair's rate is in" if market == "FX" else "the holding is in"
        return f"quoted in {quoted.upper()} but {what} {expected.upper()}"
    return None


def jump(
    price: float,
    last: float | None,
    last_time: datetime | None,
    policy: SanityPolicy,
    ticker: str | None = None,
) -> str | None:
    """Why ``price`` (of ``ticker``) is held back as an implausible jump from ``last``, or
    None."""
    if (
        policy.accept_jumps
        or ticker in policy.accepted
        or last is None
        or implausible(last, "FX") is not None
    ):
        return None
    factor = max(price / last, last / price)
    if factor <= policy.max_jump:
        return None
    when = f" of {last_time.astimezone(UTC):%Y-%m-%d}" if last_time is not None else ""
    return (
        f"price {price:g} is {factor:.3g}x the last good price {last:g}{when} (more than the "
        f"{policy.max_jump:g}x allowed): not used; {ACCEPT_HINT}"
    )
