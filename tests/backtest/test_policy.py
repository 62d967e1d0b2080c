from __future__ import annotations

import numpy as np
import pytest

from xlrebalance.backtest.policy import Day, Frequency, check_days, parse_policy
from xlrebalance.errors import PortfolioError
from xlrebalance.model import Band


def test_specs() -> None:
    assert parse_policy("none").check is None
    q = parse_policy("quarterly:last")
    assert (q.check, q.day) == (Frequency.QUARTERLY, Day.LAST)
    b = parse_policy("monthly+band:10%")
    assert (b.check, b.band) == (Frequency.MONTHLY, Band(0.0, 0.10))
    assert parse_policy("5/25").band == Band(0.05, 0.25)
    assert parse_policy("5/25").check is Frequency.DAILY
    assert parse_policy("band:abs=5%,rel=25%").band == Band(0.05, 0.25)
    c = parse_policy("contribute:1,000,000KRW@quarterly")
    assert (c.contribution, c.buy_only, c.check) == ((1e6, "KRW"), True, Frequency.QUARTERLY)
    assert parse_policy("user").own
    o = parse_policy("monthly+outside:10%")
    assert (o.check, o.band, o.per_position) == (Frequency.MONTHLY, Band(0.0, 0.10), True)


@pytest.mark.parametrize(
    "spec", ["weekly", "monthly:middle", "band:0", "contribute:ten", "contribute:5XYZ", "band:x=1"]
)
def test_bad_specs_say_what_was_expected(spec: str) -> None:
    with pytest.raises(PortfolioError) as err:
        parse_policy(spec)
    assert spec in str(err.value)


def test_check_days_first_and_last_of_period() -> None:
    dates = np.array(
        ["2024-01-30", "2024-01-31", "2024-02-01", "2024-03-28", "2024-04-01", "2024-04-02"],
        dtype="datetime64[D]",
    )
    first = check_days(dates, Frequency.MONTHLY, Day.FIRST)
    assert first.tolist() == [False, False, True, True, True, False]
    last = check_days(dates, Frequency.MONTHLY, Day.LAST)
    # The last row of each month in the data; 2024-04-02 does not end April: not a check day.
    assert last.tolist() == [False, True, True, True, False, False]
    quarter = check_days(dates, Frequency.QUARTERLY, Day.FIRST)
    assert quarter.tolist() == [False, False, False, False, True, False]
    assert not check_days(dates, None, Day.FIRST).any()
