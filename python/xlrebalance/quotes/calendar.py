"""Market sessions and the freshness policy built on them.

Three "markets" matter for freshness: ``US`` (NYSE/Nasdaq, regular session 09:30-16:00
America/New_York), ``KR`` (KRX, regular session 09:00-15:30 Asia/Seoul) and ``FX`` (the
interbank market, open from Sunday 17:00 to Friday 17:00 New York time).

Which days NYSE and KRX trade, and their hours that day (NYSE's 13:00 early closes, KRX's late
opening on the first day of the year and on the college entrance exam day), come from
exchange-calendars with our corrections (:mod:`xlrebalance.quotes.sessions`, shared with the
backtests). For a year the library cannot answer (not installed, or out of its range) only
weekends are known: a missed holiday then costs one unnecessary fetch, never a wrong price,
because the freshness rule below falls back to the intraday time-to-live.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from xlrebalance.quotes import sessions

NEW_YORK = ZoneInfo("America/New_York")
SEOUL = ZoneInfo("Asia/Seoul")


@dataclass(frozen=True)
class Exchange:
    """A daily session in a local time zone: the days and hours exchange-calendars gives for
    ``market`` (see :mod:`xlrebalance.quotes.sessions`); weekdays at the regular hours for a
    year it does not know."""

    name: str
    market: str
    zone: ZoneInfo
    open: time
    close: time

    def session(self, day: date) -> tuple[datetime, datetime] | None:
        """Open and close (aware) of the session on ``day``, or None if closed."""
        known = sessions.year_sessions(self.market, day.year)
        if known is None:
            if day.weekday() >= 5:
                return None
            return (
                datetime.combine(day, self.open, self.zone),
                datetime.combine(day, self.close, self.zone),
            )
        hours = known.get(day)
        if hours is None:
            return None
        return (
            datetime.fromtimestamp(hours[0], self.zone),
            datetime.fromtimestamp(hours[1], self.zone),
        )

    def is_open(self, now: datetime) -> bool:
        session = self.session(now.astimezone(self.zone).date())
        return session is not None and session[0] <= now < session[1]

    def last_close(self, now: datetime) -> datetime:
        """The close of the most recent session that has ended at ``now``."""
        day = now.astimezone(self.zone).date()
        for _ in range(30):  # the longest closure (Chuseok + weekends) is far shorter
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


NYSE = Exchange("NYSE", "US", NEW_YORK, time(9, 30), time(16))
KRX = Exchange("KRX", "KR", SEOUL, time(9), time(15, 30))
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
