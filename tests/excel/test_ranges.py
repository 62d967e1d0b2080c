"""User ranges, shaped as Excel passes them, into a portfolio: messy real-world sheets."""

from __future__ import annotations

import datetime as dt

import pytest

from xlrebalance.cells import ticker
from xlrebalance.errors import PortfolioError
from xlrebalance.model import CASH, Kind, Market, Mode
from xlrebalance.ranges import read_ranges

# A Korean broker's export: title row, Korean headers, extra columns, a blank row, numbers
# stored as text, a code Excel turned into a number, an "A"-prefixed code, a date column.
KOREAN = [
    ["보유 현황", None, None, None, None, None, None],
    ["계좌", "종목코드", "종목명", "보유수량", "평균 단가", "현재가", "매수일"],
    ["ISA", 69500.0, "KODEX 200", "40", "39,800", "₩41,250", dt.datetime(2024, 3, 2)],
    [None, None, None, None, None, None, None],
    ["ISA", "A005930", "삼성전자", 15.0, 65000.0, None, dt.datetime(2023, 1, 5)],
    ["일반", "qqq", "Invesco QQQ", 12.0, None, "#N/A", None],
    [None, None, "합계", None, None, None, None],
]
TARGETS = [
    ["종목코드", "목표비중"],
    ["069500", "35%"],
    [5930.0, 0.2],
    ["QQQ", "40%"],
    ["현금", "5%"],
]


def test_korean_export_is_read() -> None:
    p = read_ranges(KOREAN, TARGETS).portfolio
    assert [h.ticker for h in p.holdings] == ["069500", "005930", "QQQ"]
    kodex, samsung, qqq = p.holdings
    assert (kodex.quantity, kodex.price, kodex.kind, kodex.market) == (
        40,
        41250,
        Kind.ETF,
        Market.KR,
    )
    assert samsung.price is None and samsung.kind is Kind.STOCK  # no price: to be quoted
    assert qqq.price is None and qqq.currency == "USD"  # #N/A price: quoted too
    assert [a.id for a in p.accounts] == ["ISA", "일반"]
    assert p.targets == pytest.approx({"069500": 0.35, "005930": 0.2, "QQQ": 0.4, CASH: 0.05})
    assert p.base_currency == "KRW" and p.settings.mode is Mode.REBALANCE
    assert not p.settings.fractional


def test_percentages_summing_to_100_and_headerless_targets() -> None:
    holdings = [["Ticker", "Qty"], ["AAPL", 1.0], ["QQQ", 2.0]]
    p = read_ranges(holdings, [["AAPL", 60.0], ["QQQ", 40.0]]).portfolio
    assert p.targets == pytest.approx({"AAPL": 0.6, "QQQ": 0.4})
    assert [a.id for a in p.accounts] == ["default"]


def test_target_for_a_ticker_not_held_gets_a_zero_row_in_the_named_account() -> None:
    holdings = [["account", "ticker", "quantity"], ["a", "AAPL", 3.0], ["b", "QQQ", 1.0]]
    targets = [["Ticker", "Target", "Account"], ["AAPL", 0.5], ["TQQQ", 0.2, "b"], ["QQQ", 0.3]]
    p = read_ranges(holdings, targets).portfolio
    added = p.holdings[-1]
    assert (added.ticker, added.account, added.quantity, added.market) == (
        "TQQQ",
        "b",
        0,
        Market.US,
    )


def test_cash_as_number_goes_to_the_first_account_and_as_range_per_account() -> None:
    holdings = [["계좌", "종목코드", "수량"], ["isa", "069500", 1.0], ["gen", "QQQ", 1.0]]
    one = read_ranges(holdings, [["069500", 1.0]], 500000.0).portfolio
    assert dict(one.accounts[0].cash) == {"KRW": 500000.0} and one.accounts[0].id == "isa"
    many = read_ranges(
        holdings,
        [["069500", 1.0]],
        [["Account", "Currency", "Amount"], ["gen", "USD", "350.5"], ["isa", None, 1000.0]],
    ).portfolio
    cash = {a.id: dict(a.cash) for a in many.accounts}
    assert cash == {"gen": {"USD": 350.5}, "isa": {"KRW": 1000.0}}


def test_settings_keys_and_korean_names() -> None:
    holdings = [["ticker", "quantity"], ["AAPL", 1.0]]
    settings = [
        ["Key", "Setting", "Value", "Note"],
        ["settings.mode", "Mode", "buy_only", None],
        ["base_currency", None, "usd", None],
        ["settings.fees.US.rate", None, "0.25%", None],
        ["fx.USDKRW", None, 1450.0, None],
        ["band", None, "5/25", None],
    ]
    p = read_ranges(holdings, [["AAPL", 1.0]], None, settings).portfolio
    assert p.settings.mode is Mode.BUY_ONLY and p.base_currency == "USD"
    assert p.settings.fees["US"].rate == pytest.approx(0.0025)
    assert p.fx == {"USDKRW": 1450.0}
    assert (p.settings.band.absolute, p.settings.band.relative) == pytest.approx((0.05, 0.25))
    korean = read_ranges(holdings, [["AAPL", 1.0]], None, [["모드", "매수만"], ["소수점", "예"]])
    assert korean.portfolio.settings.mode is Mode.BUY_ONLY
    assert korean.portfolio.settings.fractional


@pytest.mark.parametrize(
    ("holdings", "message"),
    [
        (
            [["ticker", "quantity"], ["AAPL", "ten"]],
            'Holdings row 2: quantity "ten" is not a number',
        ),
        (
            [["ticker", "quantity"], ["AAPL", dt.datetime(2024, 1, 1)]],
            "Holdings row 2: quantity is a date",
        ),
        (
            [["ticker", "quantity"], ["AAPL", -2146826246]],
            "Holdings row 2: quantity is an Excel error (#N/A)",
        ),
        ([["ticker", "quantity"], [None, 3.0]], "Holdings row 2: ticker is empty"),
        ([["name", "qty"], ["x", 1.0]], "Holdings: no header row with a ticker column"),
        (
            [["ticker", "quantity", "market"], ["AAPL", 1.0, "Mars"]],
            'market "Mars" is not US or KR',
        ),
    ],
)
def test_bad_holdings_name_the_row(holdings: list[list[object]], message: str) -> None:
    with pytest.raises(PortfolioError) as caught:
        read_ranges(holdings, [["AAPL", 1.0]])
    assert message in str(caught.value)


def test_bad_targets_and_settings_name_the_row() -> None:
    holdings = [["ticker", "quantity"], ["AAPL", 1.0]]
    with pytest.raises(PortfolioError, match="Targets row 3: a second target for AAPL"):
        read_ranges(holdings, [["ticker", "target"], ["AAPL", 0.5], ["aapl", 0.5]])
    with pytest.raises(PortfolioError, match=r"Settings row 1: unknown setting 'colour'"):
        read_ranges(holdings, [["AAPL", 1.0]], None, [["colour", "red"]])
    with pytest.raises(PortfolioError, match="Settings row 1: mode"):
        read_ranges(holdings, [["AAPL", 1.0]], None, [["mode", "yolo"]])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(69500.0, "069500"), ("5930", "005930"), ("A005930", "005930"), ("005930.KS", "005930"),
     ("247540.KQ", "247540"), (" brk-b ", "BRK-B"), ("0080G0", "0080G0"), (None, "")],
)  # fmt: skip
def test_tickers(raw: object, expected: str) -> None:
    assert ticker(raw) == expected
