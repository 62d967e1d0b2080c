"""The Excel path (xlwings' remote engine) with hostile cells and refused quotes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import test_macros_remote as remote_tests
from excel_data import PRICES, quote
from remote import apply
from test_macros_remote import NOW, run, sheet_index

from xlrebalance import macros
from xlrebalance.quotes import Sources
from xlrebalance.quotes.fake import FakeSource
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.reader import read_input
from xlrebalance.workbook.schema import HISTORY_SHEET
from xlrebalance.workbook.xlwings_book import XlwingsBook, as_text

# The remote-engine fixtures of the macro tests, shared.
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


def _hostile_answers(before: dict[str, tuple[Any, Any, Any]]) -> FakeSource:
    """Every ticker close to its sheet price, except SPY (a 50x jump) and QQQ (in EUR)."""
    tickers = list(before)
    answers: dict[str, object] = {t: float(before[t][0]) * 1.01 for t in tickers if t.isalpha()}
    answers.update(
        {f"{t}.KS": quote(float(before[t][0]), "KRW") for t in tickers if t[0].isdigit()}
    )
    answers["KRW=X"] = PRICES["KRW=X"]
    answers["QQQ"] = quote(512.3, "EUR")
    answers["SPY"] = quote(float(before["SPY"][0]) * 50, "USD")
    return FakeSource(answers, name="yahoo")  # type: ignore[arg-type]


@pytest.mark.parametrize("answer", ["yes", "no"])
def test_excel_asks_before_using_a_price_jump(
    xw: Any, payload: dict[str, Any], monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    """Desktop Excel's Yes/No box (xlwings' ``App.alert``, answered here as the user would):
    Yes uses exactly the jumps it listed, No keeps the last good price; the wrong-currency
    quote is refused either way."""
    holdings = payload["sheets"][sheet_index(payload, "Holdings")]["values"]
    header = holdings[2]
    price, source = header.index("Price"), header.index("Source")
    before = {row[1]: (row[price], None, row[source]) for row in holdings[3:] if row[1]}
    yahoo = _hostile_answers(before)
    monkeypatch.setattr(Sources, "default", classmethod(lambda cls, cache=None: Sources(yahoo)))
    asked: list[tuple[str, str]] = []
    queued_alert = xw.main.App.alert

    def alert(self: Any, prompt: str, title: str | None = None, buttons: str = "ok", **kw: Any):
        if buttons == "yes_no":
            asked.append((prompt, buttons))
            return answer
        return queued_alert(self, prompt, title=title, buttons=buttons, **kw)

    monkeypatch.setattr(xw.main.App, "alert", alert)
    monkeypatch.setattr(XlwingsBook, "can_ask", lambda self: True)  # as desktop Excel can

    ok, actions = run(xw, payload, "refresh_prices")

    assert ok
    assert len(asked) == 1
    prompt = asked[0][0]
    assert "SPY" in prompt and "50x" in prompt and "QQQ" not in prompt
    assert "--accept-jumps" not in prompt  # advice for the command line, not for Excel
    rows = {row[1]: (row[price], row[source]) for row in apply(payload, actions)["Holdings"][3:]}
    if answer == "yes":
        assert rows["SPY"] == (float(before["SPY"][0]) * 50, "yahoo")
    else:
        assert rows["SPY"] == (before["SPY"][0], before["SPY"][2])
    assert rows["QQQ"] == (before["QQQ"][0], before["QQQ"][2])
    message = actions[-1]["args"][0]
    assert "QQQ" in message and ("SPY" in message) == (answer == "no")


def test_the_remote_engine_is_not_asked_what_it_cannot_answer(
    xw: Any, payload: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """xlwings' remote engine answers a box later, to a JavaScript callback: no Yes/No box
    is queued, the jump stays held and is listed in the message."""
    holdings = payload["sheets"][sheet_index(payload, "Holdings")]["values"]
    header = holdings[2]
    price, source = header.index("Price"), header.index("Source")
    before = {row[1]: (row[price], None, row[source]) for row in holdings[3:] if row[1]}
    yahoo = _hostile_answers(before)
    monkeypatch.setattr(Sources, "default", classmethod(lambda cls, cache=None: Sources(yahoo)))
    ok, actions = run(xw, payload, "refresh_prices")
    assert ok
    alerts = [a for a in actions if a["func"] == "alert"]
    assert len(alerts) == 1 and alerts[0]["args"][2] == "ok"
    assert "SPY" in alerts[0]["args"][0]


def test_a_full_refresh_asks_once_and_writes_one_history_row(
    workbook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``macros.refresh`` with a confirmation (what the ribbon passes in desktop Excel), on the
    file through openpyxl: the jump is asked about between fetching and planning, the plan
    uses the confirmed price, and the History gets one row, not two."""
    book = OpenpyxlBook.open(workbook)
    inp = read_input(book, offline=True)
    before = {h.ticker: (h.price, None, None) for h in inp.portfolio.holdings}
    yahoo = _hostile_answers(before)
    monkeypatch.setattr(Sources, "default", classmethod(lambda cls, cache=None: Sources(yahoo)))
    history_before = _refresh_rows(book)
    asked: list[tuple[str, ...]] = []

    def confirm(lines: tuple[str, ...]) -> bool:
        asked.append(lines)
        return True

    result = macros.refresh(book, now=NOW, confirm=confirm)

    assert [line.split(":")[0] for line in asked[0]] == ["SPY"] and len(asked) == 1
    assert result.held == ()
    prices = {h.ticker: h.price for h in result.portfolio.holdings}
    assert prices["SPY"] == pytest.approx(float(before["SPY"][0]) * 50)  # type: ignore[arg-type]
    assert prices["QQQ"] == before["QQQ"][0]
    assert any("QQQ" in line for line in result.refused)
    assert _refresh_rows(book) == history_before + 1


def _refresh_rows(book: OpenpyxlBook) -> int:
    return sum(1 for row in book.read_block(HISTORY_SHEET) if "refresh" in row)
