"""Properties of the one text-number rule (cells.number) that a table of cases cannot cover."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xlrebalance import cells
from xlrebalance.errors import PortfolioError


@given(st.text(alphabet="0123456789.,% -()$₩원주eE+\u00a0\u2212abc", max_size=14))
def test_any_text_is_a_number_or_one_portfolio_error(raw: str) -> None:
    for percent, money in ((False, False), (True, False), (False, True)):
        try:
            value = cells.number(raw, "price", "Holdings!H4", percent=percent, money=money)
        except PortfolioError as exc:
            assert exc.location == "Holdings!H4"
            assert exc.message.startswith("price")
        else:
            assert isinstance(value, float)


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=99))
def test_grouped_thousands_read_as_typed(whole: int, cents: int) -> None:
    grouped = f"{whole:,}.{cents:02d}"
    expected = float(f"{whole}.{cents:02d}")
    assert cells.number(grouped, "amount", "A1", money=True) == expected
    assert cells.number("₩" + grouped, "amount", "A1", money=True) == expected
    assert cells.number(grouped + "원", "amount", "A1", money=True) == expected
    assert cells.number(f"({grouped})", "amount", "A1", money=True) == -expected


@given(st.integers(min_value=1, max_value=999), st.integers(min_value=1, max_value=99))
def test_a_comma_before_one_or_two_digits_is_never_read_silently(whole: int, part: int) -> None:
    with pytest.raises(PortfolioError, match="is ambiguous"):
        cells.number(f"{whole},{part}", "price", "A1", money=True)


@pytest.mark.parametrize("raw", [True, False, [1], {"a": 1}])
def test_non_numbers_are_errors(raw: object) -> None:
    with pytest.raises(PortfolioError):
        cells.number(raw, "quantity", "A1")
