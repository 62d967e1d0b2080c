"""The worksheet functions called as Excel calls them: 2-D lists, None for blanks, floats for
numbers, datetimes for dates, error cells as COM codes; answers are cell values, never raises."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from types import ModuleType

import pytest
from excel_data import PRICES

from xlrebalance import worksheet
from xlrebalance.document import portfolio_from_dict
from xlrebalance.planner import plan
from xlrebalance.planner.drift import drift, weights
from xlrebalance.quotes import Quote, QuoteStatus
from xlrebalance.quotes.fake import FakeSource

WAITING = worksheet.WAITING

HOLDINGS = [
    ["My portfolio", None, None, None, None, None, None],
    ["Account", "종목코드", "Name", "수량", "Price", "Note", "Bought"],
    ["isa", 69500.0, "KODEX 200", "40", None, "core", dt.datetime(2024, 3, 2)],
    ["isa", "005930", "삼성전자", 15.0, "71,200", None, None],
    [None, None, None, None, None, None, None],
    ["general", "QQQ", None, 12.0, None, None, None],
    ["general", "TQQQ", None, 10.0, 88.1, None, None],
]
TARGETS = [["Ticker", "Target weight"], ["QQQ", 0.4], ["TQQQ", "5%"], ["069500", 0.35],
           ["005930", "20%"]]  # fmt: skip
CASH = [["Account", "Currency", "Amount"], ["general", "USD", 350.0], ["isa", "KRW", 1200000.0]]


def test_quote_waits_then_answers_from_the_cache(
    udfs: ModuleType, live: worksheet.LiveQuotes, yahoo: FakeSource
) -> None:
    assert udfs.QUOTE("AAPL") == WAITING
    assert udfs.QUOTE("AAPL", "status") == "waiting"
    assert yahoo.calls == []  # the recalculation itself never fetched
    live.pending.run_pending()
    assert udfs.QUOTE("AAPL") == 239.69
    assert udfs.QUOTE("aapl", "Currency") == "USD"
    assert udfs.QUOTE("AAPL", "name") == "Apple Inc."
    assert udfs.QUOTE("AAPL", "status") == "ok"
    assert udfs.QUOTE("AAPL", "source") == "yahoo"
    when = udfs.QUOTE("AAPL", "time")
    assert isinstance(when, dt.datetime) and when.tzinfo is None
    assert len(yahoo.calls) == 1


def test_korean_code_excel_turned_into_a_number(
    udfs: ModuleType, live: worksheet.LiveQuotes
) -> None:
    assert udfs.QUOTE(69500.0) == WAITING
    live.pending.run_pending()
    assert udfs.QUOTE(69500.0) == 41250.0
    assert udfs.QUOTE("069500", "가격") == 41250.0
    assert udfs.QUOTE("069500", "통화") == "KRW"


def test_many_cells_cost_one_batched_fetch(
    udfs: ModuleType, live: worksheet.LiveQuotes, yahoo: FakeSource
) -> None:
    cells = ["AAPL", "QQQ", "TQQQ", 5930.0, "069500", "247540"] * 50
    assert all(udfs.QUOTE(t) == WAITING for t in cells)
    live.pending.run_pending()
    assert len(yahoo.calls) == 1
    assert [udfs.QUOTE(t) for t in cells[:6]] == [239.69, 512.3, 88.1, 71200.0, 41250.0, 112300.0]
    assert len(yahoo.calls) == 1


def test_quote_of_a_range_spills_one_value_per_cell(
    udfs: ModuleType, live: worksheet.LiveQuotes
) -> None:
    udfs.QUOTE([["AAPL"], ["QQQ"]])
    live.pending.run_pending()
    assert udfs.QUOTE([["AAPL", None], ["QQQ", "TQQQ"]]) == [[239.69, None], [512.3, WAITING]]


def test_unknown_ticker_and_field_are_readable_errors(
    udfs: ModuleType, live: worksheet.LiveQuotes
) -> None:
    assert udfs.QUOTE("NOPE") == WAITING
    live.pending.run_pending()
    assert udfs.QUOTE("NOPE") == "#XLREBALANCE: NOPE: no quote (unknown symbol)"
    assert udfs.QUOTE("NOPE", "status") == "missing"
    assert udfs.QUOTE("AAPL", "colour").startswith("#XLREBALANCE: QUOTE: unknown field 'colour'")
    assert udfs.QUOTE(None) == "#XLREBALANCE: QUOTE: ticker is empty"


def test_stale_cached_price_is_shown_and_refreshed_in_the_background(
    udfs: ModuleType, live: worksheet.LiveQuotes, yahoo: FakeSource
) -> None:
    old = dt.datetime(2020, 1, 2, tzinfo=dt.UTC)
    live.cache.put(
        [replace(PRICES["QQQ"], ticker="QQQ", market="US", price=400.0, time=old, fetched=old)]
    )
    assert udfs.QUOTE("QQQ") == 400.0
    assert udfs.QUOTE("QQQ", "status") == "stale"
    live.pending.run_pending()
    assert udfs.QUOTE("QQQ") == 512.3 and yahoo.calls == [["QQQ"]]


def test_fx(udfs: ModuleType, live: worksheet.LiveQuotes) -> None:
    assert udfs.FX("USD", "KRW") == WAITING
    live.pending.run_pending()
    assert udfs.FX("usd") == 1450.0
    assert udfs.FX("KRW", "KRW") == 1.0
    assert (
        udfs.FX("USD", "XYZ") == "#XLREBALANCE: FX: unknown currency 'XYZ' (expected e.g. USD, KRW)"
    )


def _expected_portfolio() -> dict[str, object]:
    """The same portfolio written as a JSON document, prices as the fake sources give them."""
    return {
        "base_currency": "KRW",
        "fx": {"USDKRW": 1450.0},
        "accounts": [
            {"id": "general", "cash": {"USD": 350.0}},
            {"id": "isa", "cash": {"KRW": 1200000}},
        ],
        "holdings": [
            {"account": "isa", "ticker": "069500", "kind": "ETF", "quantity": 40, "price": 41250.0},
            {"account": "isa", "ticker": "005930", "quantity": 15, "price": 71200.0},
            {"account": "general", "ticker": "QQQ", "quantity": 12, "price": 512.3},
            {"account": "general", "ticker": "TQQQ", "quantity": 10, "price": 88.1},
        ],
        "targets": {"QQQ": 0.4, "TQQQ": 0.05, "069500": 0.35, "005930": 0.2},
    }


def test_rebal_trades_on_a_messy_sheet(
    udfs: ModuleType, live: worksheet.LiveQuotes, yahoo: FakeSource
) -> None:
    first = udfs.REBAL_TRADES(HOLDINGS, TARGETS, CASH, None)
    assert first == f"{WAITING} (069500, QQQ, USDKRW)"
    live.pending.run_pending()
    assert len(yahoo.calls) == 1
    table = udfs.REBAL_TRADES(HOLDINGS, TARGETS, CASH, None)
    assert table[0] == [
        "account", "ticker", "side", "quantity", "price", "currency", "amount", "fees", "taxes",
    ]  # fmt: skip
    expected = plan(portfolio_from_dict(_expected_portfolio()))
    assert expected.orders, "the example must trade"
    assert table[1:] == [
        [o.account, o.ticker, o.side.value, int(o.quantity), o.price, o.currency, o.amount,
         o.fees, o.taxes]
        for o in expected.orders
    ]  # fmt: skip
    s = expected.summary
    assert udfs.REBAL_SUMMARY(HOLDINGS, TARGETS, CASH, None) == [
        ["Solver status", s.solver.status.value],
        ["Solver gap", s.solver.gap],
        ["Drift before", s.drift_before],
        ["Drift after", s.drift_after],
        ["Value before", s.value_before],
        ["Value after", s.value_after],
        ["Fees", s.fees_total],
        ["Taxes", s.taxes_total],
        ["FX cost", s.fx_cost_total],
        *(["Warning", w] for w in expected.warnings),
    ]


def test_rebal_trades_names_each_orders_currency(
    udfs: ModuleType, live: worksheet.LiveQuotes
) -> None:
    holdings = [
        ["ticker", "quantity", "price", "currency"],
        ["QQQ", 0.0, 500.0, "USD"],
        ["069500", 0.0, 40000.0, None],
    ]
    table = udfs.REBAL_TRADES(
        holdings, [["QQQ", 0.5], ["069500", 0.5]], 2000000.0, [["fx.USDKRW", 1450.0]]
    )
    currency = table[0].index("currency")
    assert {row[1]: row[currency] for row in table[1:]} == {"QQQ": "USD", "069500": "KRW"}
    qqq = next(row for row in table[1:] if row[1] == "QQQ")
    assert qqq[table[0].index("amount")] == pytest.approx(qqq[3] * 500.0)  # in USD


def test_rebal_summary_carries_the_plans_warnings(
    udfs: ModuleType, live: worksheet.LiveQuotes
) -> None:
    # The planner's own warnings, whatever they are, end the summary one row each.
    made = plan(portfolio_from_dict(_expected_portfolio()))
    warned = replace(made, warnings=("group Leveraged stays above its cap", "second"))
    for header, labels in (
        (["ticker", "quantity", "price"], ("Solver status", "Warning")),
        (["종목코드", "수량", "현재가"], ("계산 상태", "경고")),
    ):
        answer = worksheet.summary_table(
            [header, ["AAPL", 1.0, 1.0]],
            [["AAPL", 1.0]],
            10.0,
            [["fx.USDKRW", 1450.0]],
            planner=lambda _: warned,
        )
        assert answer[0] == [labels[0], made.summary.solver.status.value]
        assert answer[-2:] == [[labels[1], w] for w in warned.warnings]


def test_rebal_trades_headers_follow_korean_input(
    udfs: ModuleType, live: worksheet.LiveQuotes
) -> None:
    holdings = [["계좌", "종목코드", "수량", "현재가"], ["isa", "069500", 10.0, 41250.0]]
    table = udfs.REBAL_TRADES(holdings, [["069500", 1.0]], 1000000.0, [["mode", "buy_only"]])
    assert table[0][:3] == ["계좌", "종목코드", "구분"]
    assert table[1][1:4] == ["069500", "BUY", 24]  # 1,000,000 // 41,250


def test_rebal_drift(udfs: ModuleType, live: worksheet.LiveQuotes) -> None:
    holdings = [
        ["ticker", "qty", "price", "currency"],
        ["QQQ", 2.0, 500.0, "USD"],
        ["069500", 10.0, 40000.0, None],
    ]
    settings_free = udfs.REBAL_DRIFT(holdings, [["QQQ", 0.5], ["069500", 0.5]], 100000.0)
    assert settings_free == f"{WAITING} (USDKRW)"  # the rate is needed and not cached
    live.pending.run_pending()
    value = udfs.REBAL_DRIFT(holdings, [["QQQ", 0.5], ["069500", 0.5]], 100000.0)
    qqq, kodex, cash = 2 * 500 * 1450.0, 10 * 40000.0, 100000.0
    assert value == pytest.approx(
        drift(weights({"QQQ": qqq, "069500": kodex}, cash), {"QQQ": 0.5, "069500": 0.5})
    )
    total = qqq + kodex + cash
    assert value == pytest.approx(abs(qqq / total - 0.5) + abs(kodex / total - 0.5) + cash / total)


@pytest.mark.parametrize(
    ("holdings", "targets", "message"),
    [
        ([["ticker", "quantity", "price"], ["AAPL", 1.0, 1.0], ["QQQ", "ten", 1.0]],
         [["AAPL", 1.0]], '#XLREBALANCE: Holdings row 3: quantity "ten" is not a number'),
        ([["ticker", "quantity", "price"], ["AAPL", 1.0, 1.0]], [["AAPL", 0.7]],
         "#XLREBALANCE: Targets: target weights sum to 0.7, expected 1"),
        ([["ticker", "quantity", "price"], ["AAPL", 1.5, 1.0]], [["AAPL", 1.0]],
         "#XLREBALANCE: Holdings row 2 (AAPL): AAPL: 1.5 is not a whole number of shares"),
        ([["ticker", "quantity", "price"], ["AAPL", 1.0, -3.0]], [["AAPL", 1.0]],
         "#XLREBALANCE: Holdings row 2 (AAPL): AAPL: expected a positive price"),
        ("AAPL", [["AAPL", 1.0]], "#XLREBALANCE: Holdings: no header row"),
    ],
)  # fmt: skip
def test_rebal_trades_errors_are_short_cell_texts(
    udfs: ModuleType, live: worksheet.LiveQuotes, holdings: object, targets: object, message: str
) -> None:
    answer = udfs.REBAL_TRADES(holdings, targets, 1000.0, None)
    assert isinstance(answer, str) and answer.startswith(message), answer
    assert len(answer) <= len(worksheet.ERROR_PREFIX) + worksheet.MAX_MESSAGE
    assert "Traceback" not in answer


def test_no_quote_for_a_held_ticker_names_its_row(
    udfs: ModuleType, live: worksheet.LiveQuotes
) -> None:
    holdings = [["ticker", "quantity"], ["AAPL", 1.0], ["NOPE", 2.0]]
    assert udfs.REBAL_TRADES(holdings, [["AAPL", 1.0]]).startswith(WAITING)
    live.pending.run_pending()
    assert udfs.REBAL_TRADES(holdings, [["AAPL", 1.0]]) == (
        "#XLREBALANCE: Holdings row 3: NOPE: no quote (unknown symbol); "
        "type its price in the price column"
    )


def test_an_unexpected_failure_is_a_cell_text_not_a_traceback(
    udfs: ModuleType, live: worksheet.LiveQuotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("xlrebalance.planner.plan", broken)
    holdings = [["ticker", "quantity", "price"], ["AAPL", 1.0, 1.0]]
    answer = udfs.REBAL_TRADES(holdings, [["AAPL", 1.0]], 10.0, [["fx.USDKRW", 1450.0]])
    assert answer == "#XLREBALANCE: unexpected ZeroDivisionError: division by zero"


def test_quote_currency_must_match_the_row(
    udfs: ModuleType, live: worksheet.LiveQuotes, yahoo: FakeSource
) -> None:
    yahoo.prices = {**PRICES, "AAPL": Quote("", 1.0, "EUR", None, "fake", QuoteStatus.OK)}
    holdings = [["ticker", "quantity"], ["AAPL", 1.0]]
    udfs.REBAL_TRADES(holdings, [["AAPL", 1.0]])
    live.pending.run_pending()
    assert "AAPL is quoted in EUR but the row says USD" in udfs.REBAL_TRADES(
        holdings, [["AAPL", 1.0]]
    )
