from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from xlrebalance.quotes.calendar import FOREX, KRX, NEW_YORK, NYSE, SEOUL, FreshnessPolicy


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)  # type: ignore[misc]


def seoul(*args: int) -> datetime:
    return datetime(*args, tzinfo=SEOUL)  # type: ignore[misc]


def test_nyse_regular_session_weekend_and_holiday() -> None:
    assert NYSE.is_open(ny(2026, 3, 6, 10, 0))
    assert not NYSE.is_open(ny(2026, 3, 6, 9, 29))
    assert not NYSE.is_open(ny(2026, 3, 6, 16, 0))
    assert not NYSE.is_open(ny(2026, 3, 7, 12, 0))  # Saturday
    assert not NYSE.is_open(ny(2026, 4, 3, 12, 0))  # Good Friday
    assert NYSE.is_open(ny(2026, 4, 2, 12, 0))


def test_nyse_early_close_and_last_close_across_a_holiday() -> None:
    assert not NYSE.is_open(ny(2026, 11, 27, 13, 30))  # day after Thanksgiving closes at 13:00
    assert NYSE.last_close(ny(2026, 11, 27, 14, 0)) == ny(2026, 11, 27, 13, 0)
    # Monday after Good Friday, before the open: the last close is Thursday's.
    assert NYSE.last_close(ny(2026, 4, 6, 8, 0)) == ny(2026, 4, 2, 16, 0)


def test_krx_session_and_seollal() -> None:
    assert KRX.is_open(seoul(2026, 3, 6, 9, 0))
    assert not KRX.is_open(seoul(2026, 3, 6, 15, 30))
    assert not KRX.is_open(seoul(2026, 2, 17, 11, 0))  # Seollal
    # After Seollal (16-18 Feb 2026, Mon-Wed) the last close before Thursday's open is Friday 13th.
    assert KRX.last_close(seoul(2026, 2, 19, 8, 0)) == seoul(2026, 2, 13, 15, 30)
    assert KRX.last_session_day(seoul(2026, 12, 31, 18, 0)) == date(2026, 12, 30)


def test_forex_week() -> None:
    assert FOREX.is_open(ny(2026, 3, 6, 16, 59))
    assert not FOREX.is_open(ny(2026, 3, 6, 17, 0))
    assert not FOREX.is_open(ny(2026, 3, 7, 12, 0))
    assert not FOREX.is_open(ny(2026, 3, 8, 16, 0))
    assert FOREX.is_open(ny(2026, 3, 8, 17, 0))
    assert FOREX.last_close(ny(2026, 3, 8, 10, 0)) == ny(2026, 3, 6, 17, 0)
    assert FOREX.last_close(ny(2026, 3, 11, 10, 0)) == ny(2026, 3, 6, 17, 0)


POLICY = FreshnessPolicy(intraday=timedelta(minutes=5))


def test_intraday_prices_age_out_after_the_ttl() -> None:
    now = ny(2026, 3, 6, 11, 0)
    assert POLICY.is_fresh("US", now - timedelta(minutes=4), now)
    assert not POLICY.is_fresh("US", now - timedelta(minutes=6), now)


def test_after_the_close_the_closing_price_stays_fresh_until_the_next_open() -> None:
    fetched = ny(2026, 3, 6, 16, 30)  # Friday after close + settle
    assert POLICY.is_fresh("US", fetched, ny(2026, 3, 7, 12, 0))
    assert POLICY.is_fresh("US", fetched, ny(2026, 3, 9, 9, 29))
    assert not POLICY.is_fresh("US", fetched, ny(2026, 3, 9, 9, 36))


def test_a_price_fetched_during_the_session_is_not_the_close() -> None:
    fetched = ny(2026, 3, 6, 15, 58)
    assert not POLICY.is_fresh("US", fetched, ny(2026, 3, 7, 12, 0))


def test_krx_settle_window_waits_for_the_delayed_close() -> None:
    # Yahoo's KRX feed lags ~20 minutes: a 15:40 fetch is not the closing price.
    assert not POLICY.is_fresh("KR", seoul(2026, 3, 6, 15, 40), seoul(2026, 3, 6, 20, 0))
    assert POLICY.is_fresh("KR", seoul(2026, 3, 6, 16, 0), seoul(2026, 3, 6, 20, 0))
    # Inside the settle window the intraday TTL still applies.
    assert POLICY.is_fresh("KR", seoul(2026, 3, 6, 15, 40), seoul(2026, 3, 6, 15, 43))


def test_a_fetch_time_in_the_future_is_not_trusted() -> None:
    now = datetime(2026, 3, 7, tzinfo=UTC)
    assert not POLICY.is_fresh("US", now + timedelta(hours=1), now)


@pytest.mark.parametrize("day", sorted(NYSE.holidays))
def test_us_holidays_are_weekdays(day: date) -> None:
    assert day.weekday() < 5


@pytest.mark.parametrize("day", sorted(KRX.holidays))
def test_kr_holidays_are_weekdays(day: date) -> None:
    assert day.weekday() < 5
