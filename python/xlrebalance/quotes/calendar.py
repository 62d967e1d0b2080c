"""Market sessions and the freshness policy built on them.

Three "markets" matter for freshness: ``US`` (NYSE/Nasdaq regular session 09:30-16:00
America/New_York), ``KR`` (KRX regular session 09:00-15:30 Asia/Seoul) and ``FX`` (the
interbank market, open from Sunday 17:00 to Friday 17:00 New York time).

The holiday tables cover 2025-2027 (exchange-announced full closures, plus NYSE's 13:00 early
closes). Outside those years only weekends are known; a missed holiday merely costs one
unnecessary fetch, never a wrong price, because the freshness rule below then falls back to the
intraday time-to-live. Extend the tables when the exchanges publish the next year.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
SEOUL = ZoneInfo("Asia/Seoul")


def _days(text: str) -> frozenset[date]:
    return frozenset(date.fromisoformat(d) for d in text.split())


# NYSE full-day closures (nyse.com "Holidays & Trading Hours"), including the 2025-01-09
# national day of mourning.
US_HOLIDAYS = _days(
    """
    2025-01-01 2025-01-09 2025-01-20 2025-02-17 2025-04-18 2025-05-26 2025-06-19 2025-07-04
    2025-09-01 2025-11-27 2025-12-25
    2026-01-01 2026-01-19 2026-02-16 2026-04-03 2026-05-25 2026-06-19 2026-07-03 2026-09-07
    2026-11-26 2026-12-25
    2027-01-01 2027-01-18 2027-02-15 2027-03-26 2027-05-31 2027-06-18 2027-07-05 2027-09-06
    2027-11-25 2027-12-24
    """
)
# NYSE early closes at 13:00 New York time.
US_EARLY_CLOSES = _days("2025-07-03 2025-11-28 2025-12-24 2026-11-27 2026-12-24 2027-11-26")

# KRX closures: public holidays that fall on weekdays (with substitute days), election days,
# Labour Day (1 May) and the year-end closing day (31 Dec).
KR_HOLIDAYS = _days(
    """
    2025-01-01 2025-01-27 2025-01-28 2025-01-29 2025-01-30 2025-03-03 2025-05-01 2025-05-05
    2025-05-06 2025-06-03 2025-06-06 2025-08-15 2025-10-03 2025-10-06 2025-10-07 2025-10-08
    2025-10-09 2025-12-25 2025-12-31
    2026-01-01 2026-02-16 2026-02-17 2026-02-18 2026-03-02 2026-05-01 2026-05-05 2026-05-25
    2026-06-03 2026-08-17 2026-09-24 2026-09-25 2026-10-05 2026-10-09 2026-12-25 2026-12-31
    2027-01-01 2027-02-08 2027-02-09 2027-03-01 2027-05-05 2027-05-13 2027-08-16 2027-09-14
    2027-09-15 2027-09-16 2027-10-04 2027-10-11 2027-12-27 2027-12-31
    """
)


@dataclass(frozen=True)
class Exchange:
    """A daily regular session in a local time zone, closed on weekends and listed holidays."""

    name: str
    zone: ZoneInfo
    open: time
    close: time
    holidays: frozenset[date] = frozenset()
    early_closes: frozenset[date] = frozenset()
    early_close: time | None = None

    def session(self, day: date) -> tuple[datetime, datetime] | None:
        """Open and close (aware) of the regular session on ``day``, or None if closed."""
        if day.weekday() >= 5 or day in self.holidays:
            return None
        close = self.close
        if day in self.early_closes and self.early_close is not None:
            close = self.early_close
        return (
            datetime.combine(day, self.open, self.zone),
            datetime.combine(day, close, self.zone),
        )

    def is_open(self, now: datetime) -> bool:
        session = self.session(now.astimezone(self.zone).date())
        return session is not None and session[0] <= now < session[1]

    def last_close(self, now: datetime) -> datetime:
        """The close of the most recent session that has ended at ``now``."""
        day = now.astimezone(self.zone).date()
        for _ in range(30):  # the longest closure (Seollal + weekend) is far shorter
            session = self.session(day)
            if session is not None and session[1] <= now:
                return session[1]
            day -= timedelta(days=1)
        raise ValueError(f"{self.name}: no session in the 30 days before {now.isoformat()}")

    def last_session_day(self, now: datetime) -> date:
        return self.last_close(now).astimezone(self.zone).date()


class ForexWeek:
    """FX trades around the clock from Sunday 17:00 to Friday 17:00 New York time."""

    name = "FX"
    zone = NEW_YORK

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(NEW_YORK)
        weekday, at = local.weekday(), local.time()
        if weekday == 5:
            return False
        if weekday == 4:
            return at < time(17)
        if weekday == 6:
            return at >= time(17)
        return True

    def last_close(self, now: datetime) -> datetime:
        local = now.astimezone(NEW_YORK)
        friday = local.date() - timedelta(days=(local.weekday() - 4) % 7)
        close = datetime.combine(friday, time(17), NEW_YORK)
        if close > now:
            close = datetime.combine(friday - timedelta(days=7), time(17), NEW_YORK)
        return close


NYSE = Exchange(
    "NYSE",
    NEW_YORK,
    time(9, 30),
    time(16),
    US_HOLIDAYS,
    US_EARLY_CLOSES,
    time(13),
)
KRX = Exchange("KRX", SEOUL, time(9), time(15, 30), KR_HOLIDAYS)
FOREX = ForexWeek()

CALENDARS: Mapping[str, Exchange | ForexWeek] = {"US": NYSE, "KR": KRX, "FX": FOREX}


@dataclass(frozen=True)
class FreshnessPolicy:
    """When a cached price is still good enough to skip the network.

    - While a market is open (or within ``settle`` after its close, while the closing price is
      still arriving -- Yahoo's KRX feed lags about 20 minutes), a price is fresh for
      ``intraday`` after it was fetched.
    - When the market is closed, a price fetched after the last close (plus ``settle``) is the
      closing price and stays fresh until the next session opens.
    """

    intraday: timedelta = timedelta(minutes=5)
    settle: Mapping[str, timedelta] | None = None

    def settle_for(self, market: str) -> timedelta:
        defaults = {"US": timedelta(minutes=10), "KR": timedelta(minutes=25), "FX": timedelta()}
        table = self.settle if self.settle is not None else defaults
        return table.get(market, defaults.get(market, timedelta()))

    def is_fresh(self, market: str, fetched: datetime, now: datetime) -> bool:
        if fetched > now:  # a clock moved backwards: do not trust the entry
            return False
        calendar = CALENDARS.get(market)
        if calendar is None:
            return now - fetched < self.intraday
        if calendar.is_open(now):
            return now - fetched < self.intraday
        settled = calendar.last_close(now) + self.settle_for(market)
        if now < settled:
            return now - fetched < self.intraday
        return fetched >= settled
