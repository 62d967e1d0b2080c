"""A price's time is the time of the quote it came from; a price the sources could not
refresh keeps its price, time and stale mark until a real quote replaces it.

Property: for any sheet state (prices with or without a time, fresh or marked stale) and any
mix of quote outcomes (a fresh quote, an error, an unknown symbol), after "Refresh prices"
a row whose fetch failed reads back exactly as before -- price, time, source -- and counts
stale or not as before; a row that got a quote carries that quote's price, time and source,
fresh. Quotes come from an in-memory source through the real fill_prices, cache and writer.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlrebalance.macros import STALE_MARK, refresh_prices, staleness
from xlrebalance.quotes import Quote, QuoteStatus, Sources
from xlrebalance.quotes.fake import FakeSource
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.reader import read_input

NOW = dt.datetime(2026, 3, 9, 10, 30)  # local, naive: what the sheet holds
LOCAL_NOW = NOW.astimezone()


@pytest.fixture(scope="module")
def seed_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workbook(tmp_path_factory.mktemp("stale") / "book.xlsm", example="seed")


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    """One quote cache per example: a quote cached by an earlier example must not answer."""
    saved = os.environ.get("XLREBALANCE_CACHE_DIR")
    yield
    if saved is not None:
        os.environ["XLREBALANCE_CACHE_DIR"] = saved


def _symbol(ticker: str) -> str:
    return f"{ticker}.KS" if ticker[0].isdigit() else ticker


ages = st.one_of(st.none(), st.integers(min_value=0, max_value=24 * 30))  # hours, or no time
marks = st.sampled_from(["yahoo", "yahoo" + STALE_MARK, "example", None])
outcomes = st.one_of(
    st.tuples(
        st.just("quote"),
        st.integers(min_value=80, max_value=125).map(lambda percent: percent / 100),
        st.integers(min_value=0, max_value=24 * 10),
    ),
    st.tuples(st.sampled_from(["error", "unknown"]), st.just(0.0), st.just(0)),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_failed_fetches_leave_rows_as_they_were(
    seed_book: Path, fresh_cache: None, data: st.DataObject
) -> None:
    book = OpenpyxlBook.open(seed_book)
    before = read_input(book, offline=True)
    rows = before.holdings_rows
    time_column = before.holdings_columns["price_time"]
    for row in rows:
        age = data.draw(ages, label=f"age row {row}")
        time = None if age is None else NOW - dt.timedelta(hours=age)
        book.write_block("Holdings", row, time_column, [[time, data.draw(marks)]])
    book = _reopen(book)
    before = read_input(book, offline=True)
    tickers = before.portfolio.tickers()
    plan = {t: data.draw(outcomes, label=t) for t in tickers}
    fx_ok = data.draw(st.booleans(), label="fx fetched")

    # A price within 0.8-1.25 x the sheet's: a wild jump is held back by the sanity check
    # (tests/quotes), which is another way of not refreshing.
    old_price = {h.ticker: h.price or 1.0 for h in before.portfolio.holdings}
    # KRX prices sit on the tick grid (a multiple of 500 won is on every tier's grid).
    plan = {
        t: (kind, _tick(t, old_price[t] * ratio), hours) for t, (kind, ratio, hours) in plan.items()
    }
    answers: dict[str, float | Quote] = {}
    errors: dict[str, str] = {}
    for ticker, (kind, price, hours) in plan.items():
        market_time = LOCAL_NOW - dt.timedelta(hours=hours)
        if kind == "quote":
            currency = "KRW" if ticker[0].isdigit() else "USD"
            answers[_symbol(ticker)] = Quote(
                ticker, price, currency, market_time, "", QuoteStatus.OK, fetched=LOCAL_NOW
            )
        elif kind == "error":
            errors[_symbol(ticker)] = "HTTP 500"
            errors[f"{ticker}.KQ"] = "HTTP 500"
    if fx_ok:
        answers["KRW=X"] = Quote("", 1450.0, "KRW", LOCAL_NOW, "", QuoteStatus.OK)
    source = FakeSource(answers, errors=errors, name="yahoo")

    with tempfile.TemporaryDirectory() as cache:
        os.environ["XLREBALANCE_CACHE_DIR"] = cache
        result = refresh_prices(book, now=NOW, sources=Sources(yahoo=source))
    after = read_input(_reopen(book), offline=True)
    stale_before = set(staleness(before, NOW).tickers)
    stale_now = set(result.staleness.tickers)
    stale_reread = set(staleness(after, NOW).tickers)

    for i, h in enumerate(after.portfolio.holdings):
        kind, price, hours = plan[h.ticker]
        old = before.portfolio.holdings[i]
        if kind == "quote":
            quote_time = (LOCAL_NOW - dt.timedelta(hours=hours)).replace(tzinfo=None)
            assert h.price == price
            assert after.price_times[i] == quote_time.replace(microsecond=0) or (
                after.price_times[i] == quote_time
            )
            assert after.sources[i] == "yahoo"
            assert h.ticker not in stale_now
        else:
            assert h.price == old.price
            assert after.price_times[i] == before.price_times[i]
            assert after.sources[i] == before.sources[i]
            assert (h.ticker in stale_now) == (h.ticker in stale_before)
            assert (h.ticker in stale_reread) == (h.ticker in stale_before)


def _tick(ticker: str, price: float) -> float:
    return float(max(1, round(price / 500)) * 500) if ticker[0].isdigit() else round(price, 2)


def _reopen(book: OpenpyxlBook) -> OpenpyxlBook:
    """The workbook as the next run reads it: saved and loaded again."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "book.xlsm"
        book.workbook.save(path)
        return OpenpyxlBook.open(path)
