from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta

import pytest

from xlrebalance.quotes import sessions
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


def test_nyse_thanksgiving_and_its_early_close_come_from_the_library() -> None:
    # Thanksgiving 2026 (Thursday 26 Nov): a close fetched Wednesday evening stays fresh through
    # the holiday and Friday's pre-open; Friday's session ends at 13:00.
    fetched = ny(2026, 11, 25, 16, 30)
    assert not NYSE.is_open(ny(2026, 11, 26, 12, 0))
    assert POLICY.is_fresh("US", fetched, ny(2026, 11, 26, 12, 0))
    assert not POLICY.is_fresh("US", fetched, ny(2026, 11, 27, 9, 40))
    assert POLICY.is_fresh("US", ny(2026, 11, 27, 13, 15), ny(2026, 11, 27, 18, 0))


def test_krx_chuseok_seollal_and_the_election_day_correction() -> None:
    # Chuseok 2026: Thu 24 and Fri 25 Sep closed; Wednesday's close is fresh until Monday 09:00.
    fetched = seoul(2026, 9, 23, 16, 0)
    assert POLICY.is_fresh("KR", fetched, seoul(2026, 9, 25, 11, 0))
    assert POLICY.is_fresh("KR", fetched, seoul(2026, 9, 28, 8, 59))
    assert not POLICY.is_fresh("KR", fetched, seoul(2026, 9, 28, 9, 6))
    # Seollal 2026 (16-18 Feb).
    assert POLICY.is_fresh("KR", seoul(2026, 2, 13, 16, 0), seoul(2026, 2, 18, 12, 0))
    # 3 June 2026, local elections: a session in exchange-calendars 4.13, closed in fact (our
    # overlay, quotes/sessions.py): Tuesday's close is still the latest price at Wednesday noon.
    assert KRX.session(date(2026, 6, 3)) is None
    assert POLICY.is_fresh("KR", seoul(2026, 6, 2, 16, 0), seoul(2026, 6, 3, 12, 0))


def test_krx_opens_late_on_the_first_trading_day_of_the_year() -> None:
    # 10:00 on 2 Jan 2026 (the old hand-written tables had 09:00).
    assert not KRX.is_open(seoul(2026, 1, 2, 9, 30))
    assert KRX.is_open(seoul(2026, 1, 2, 10, 0))
    assert POLICY.is_fresh("KR", seoul(2025, 12, 30, 16, 0), seoul(2026, 1, 2, 9, 30))


def test_years_after_the_old_tables_know_their_holidays() -> None:
    # 2028 was past the old 2025-2027 tables (weekdays only there).
    assert NYSE.session(date(2028, 11, 23)) is None  # Thanksgiving
    assert NYSE.session(date(2028, 11, 24)) == (ny(2028, 11, 24, 9, 30), ny(2028, 11, 24, 13, 0))
    assert NYSE.session(date(2028, 4, 14)) is None  # Good Friday
    assert POLICY.is_fresh("US", ny(2028, 11, 22, 16, 30), ny(2028, 11, 23, 12, 0))
    for day in (26, 27, 28):  # Seollal 2028
        assert KRX.session(date(2028, 1, day)) is None
    # Chuseok 2028 (2-4 Oct) with National Foundation Day on the 3rd: substitute holiday the 5th.
    assert [KRX.session(date(2028, 10, d)) is None for d in range(2, 7)] == [True] * 4 + [False]
    assert KRX.last_session_day(seoul(2028, 10, 6, 8, 0)) == date(2028, 9, 29)


def test_without_the_library_only_weekends_are_known(monkeypatch: pytest.MonkeyPatch) -> None:
    # As on an install without exchange-calendars: a holiday then looks like a session, which
    # costs one unnecessary fetch (the intraday TTL), never a wrong price.
    monkeypatch.setitem(sys.modules, "exchange_calendars", None)
    sessions.forget()
    try:
        assert NYSE.session(date(2026, 11, 26)) == (ny(2026, 11, 26, 9, 30), ny(2026, 11, 26, 16))
        assert NYSE.session(date(2026, 11, 28)) is None
        assert not POLICY.is_fresh("US", ny(2026, 11, 25, 16, 30), ny(2026, 11, 26, 12, 0))
    finally:
        sessions.forget()
