from __future__ import annotations

from datetime import date

from xlrebalance.backtest.calendars import CLOSURES, is_session, sessions


def test_krx_local_elections_overlay() -> None:
    # exchange-calendars 4.13 has 2026-06-03 as a session; KRX is closed that day.
    assert date(2026, 6, 3) in CLOSURES["XKRX"]
    assert not is_session("KR", date(2026, 6, 3))
    assert is_session("KR", date(2026, 6, 4))
    assert is_session("US", date(2026, 6, 3))


def test_sessions_from_the_library_before_its_default_window() -> None:
    days = sessions("US", date(2005, 1, 3), date(2005, 1, 21))
    assert str(days[0]) == "2005-01-03"
    assert "2005-01-17" not in {str(d) for d in days}  # Martin Luther King Jr. Day
    kr = sessions("KR", date(2024, 2, 8), date(2024, 2, 14))
    assert [str(d) for d in kr] == ["2024-02-08", "2024-02-13", "2024-02-14"]  # Seollal
