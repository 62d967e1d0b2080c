"""The Excel path (xlwings' remote engine) with hostile cells and refused quotes."""

from __future__ import annotations

from typing import Any

import pytest
import test_macros_remote as remote_tests
from excel_data import PRICES, quote
from remote import apply
from test_macros_remote import run, sheet_index

from xlrebalance.quotes import Sources
from xlrebalance.quotes.fake import FakeSource
from xlrebalance.workbook.xlwings_book import as_text

# The remote-engine fixtures of the macro tests, shared.
xw = remote_tests.xw
workbook = remote_tests.workbook
payload = remote_tests.payload

HYPERLINK = '=HYPERLINK("http://evil.example/x","click")'


def test_text_that_looks_like_a_formula_gets_excels_quote_prefix() -> None:
    for text in (HYPERLINK, "=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)"):
        assert as_text(text) == "'" + text
    assert as_text("Apple Inc.") == "Apple Inc." and as_text(12.5) == 12.5 and as_text(None) is None


def test_an_injected_name_reaches_orders_as_text(xw: Any, payload: dict[str, Any]) -> None:
    holdings = payload["sheets"][sheet_index(payload, "Holdings")]["values"]
    name = holdings[2].index("Name")
    for row in holdings[3:]:
        if row[1]:
            row[name] = HYPERLINK
    ok, actions = run(xw, payload, "compute_orders")
    assert ok
    orders = sheet_index(payload, "Orders")
    written = [
        value
        for a in actions
        if a["func"] == "setValues" and a["sheet_position"] == orders
        for line in a["values"]
        for value in line
        if isinstance(value, str)
    ]
    assert "'" + HYPERLINK in written
    assert not any(v.startswith(("=", "+", "@")) for v in written)


def test_a_refused_quote_leaves_price_time_and_source_alone(
    xw: Any, payload: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    holdings = payload["sheets"][sheet_index(payload, "Holdings")]["values"]
    header = holdings[2]
    price, time, source = header.index("Price"), header.index("Price time"), header.index("Source")
    before = {row[1]: (row[price], row[time], row[source]) for row in holdings[3:] if row[1]}
    tickers = list(before)
    # Every ticker answers close to its sheet price, except the two hostile answers.
    answers: dict[str, object] = {t: float(before[t][0]) * 1.01 for t in tickers if t.isalpha()}
    answers.update(
        {f"{t}.KS": quote(float(before[t][0]), "KRW") for t in tickers if t[0].isdigit()}
    )
    answers["KRW=X"] = PRICES["KRW=X"]
    answers["QQQ"] = quote(512.3, "EUR")  # wrong currency
    answers["SPY"] = quote(float(before["SPY"][0]) * 50, "USD")  # a 50x jump
    yahoo = FakeSource(answers, name="yahoo")  # type: ignore[arg-type]
    monkeypatch.setattr(Sources, "default", classmethod(lambda cls, cache=None: Sources(yahoo)))
    ok, actions = run(xw, payload, "refresh_prices")
    assert ok
    after = apply(payload, actions)["Holdings"]
    rows = {row[1]: (row[price], row[time], row[source]) for row in after[3:] if row[1]}
    assert rows["QQQ"] == before["QQQ"] and rows["SPY"] == before["SPY"]
    assert rows["VOO"][2] == "yahoo"  # the others were refreshed
    alert = actions[-1]["args"][0]
    assert "2 refused" in alert and "QQQ" in alert and "--accept-jumps" in alert
