"""Small backtests whose trades and values can be worked out by hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from xlrebalance.backtest.history import PriceHistory
from xlrebalance.backtest.policy import parse_policy
from xlrebalance.backtest.simulate import prepare, simulate
from xlrebalance.errors import PortfolioError
from xlrebalance.model import Account, Fee, Holding, Kind, Market, Mode, Portfolio, Settings

NAN = float("nan")


def history(dates: list[str], **columns: list[float]) -> PriceHistory:
    return PriceHistory(
        dates=np.array(dates, dtype="datetime64[D]"),
        tickers=tuple(columns),
        closes=np.array(list(columns.values()), dtype=float).T,
    )


def book(*tickers: str, settings: Settings | None = None, cash: float = 1000.0) -> Portfolio:
    return Portfolio(
        base_currency="USD",
        accounts=(Account("a", {"USD": cash}),),
        holdings=tuple(Holding("a", t, Market.US, 0.0, "USD", price=10.0) for t in tickers),
        targets={t: 1 / len(tickers) for t in tickers},
        settings=settings or Settings(sell_tax={}),
    )


DATES = ["2024-01-02", "2024-01-03", "2024-02-01", "2024-02-02"]


def test_monthly_rebalance_by_hand() -> None:
    # Day 0: 1000 USD buys 50 X and 50 Y at 10. Feb 1: X 25, Y 5 -> 1500, 750 each:
    # sell 20 X, buy 100 Y. Feb 2: X 30, Y 6 -> 30*30 + 150*6 = 1800.
    h = history(DATES, X=[10, 20, 25, 30], Y=[10, 10, 5, 6])
    market = prepare(book("X", "Y"), h, None)
    monthly = simulate(market, parse_policy("monthly"))
    assert monthly.values.tolist() == pytest.approx([1000, 1500, 1500, 1800])
    assert monthly.rebalance_days == ("2024-01-02", "2024-02-01")
    assert monthly.traded == pytest.approx(1000 + 1000)
    assert monthly.turnover == pytest.approx(1000 / 2 / 1500)
    assert monthly.drift.tolist() == pytest.approx([0, 1 / 3, 0, 2 * abs(900 / 1800 - 0.5)])
    hold = simulate(market, parse_policy("none"))
    assert hold.values.tolist() == pytest.approx([1000, 1500, 1500, 1800])
    assert hold.rebalance_days == ("2024-01-02",)
    assert hold.performance.final_value == pytest.approx(50 * 30 + 50 * 6)


def test_fees_are_paid_and_cash_never_goes_negative() -> None:
    s = Settings(fees={"US": Fee(0.01, 1.0)}, sell_tax={})
    h = history(DATES, X=[10, 20, 25, 30], Y=[10, 10, 5, 6])
    result = simulate(prepare(book("X", "Y", settings=s), h, None), parse_policy("monthly"))
    # Day 0: 99 shares fit (990 + 9.9 fees <= 1000; 100 would need 1010): 49 X and 50 Y.
    assert result.values[0] == pytest.approx(1000 - 9.9)
    assert result.fees >= 9.9
    assert result.fees == pytest.approx(0.01 * result.traded, abs=2.0)  # minimums at most 1+1


def test_buy_and_hold_uses_the_portfolio_capital_and_whole_shares() -> None:
    h = history(DATES, X=[30, 30, 30, 30], Y=[10, 10, 10, 10])
    market = prepare(book("X", "Y"), h, None)
    assert market.capital == 1000.0
    result = simulate(market, parse_policy("none"))
    # 500 each: 16 X (480) and 50 Y, 20 left in cash; or 17 X (510) and 49 Y (490).
    assert result.values[-1] == pytest.approx(1000.0)
    assert result.drift[-1] <= 2 * 20 / 1000 + 1e-9


def test_a_ticker_enters_when_its_history_starts() -> None:
    # Y's history starts more than a week after X's (a start within the first week is a
    # market closed on the first day: the backtest then starts when both trade, below).
    dates = [f"2024-01-{d:02d}" for d in (2, 3, 4, 5, 8, 9, 10)] + ["2024-02-01", "2024-02-02"]
    h = history(dates, X=[10.0] * 9, Y=[NAN] * 7 + [10, 10])
    market = prepare(book("X", "Y"), h, None)
    assert any("Y: enters on 2024-02-01" in n for n in market.notes)
    result = simulate(market, parse_policy("monthly"))
    # All in X until Y exists; the Feb 1 rebalance splits 1000 into 500 + 500.
    assert result.drift[0] == pytest.approx(0.0)
    assert result.rebalance_days == ("2024-01-02", "2024-02-01")
    assert result.rebalances == 1
    assert result.drift[7] == pytest.approx(0.0)


def test_a_market_closed_on_the_first_days_moves_the_start() -> None:
    h = history(DATES, X=[10, 10, 10, 10], Y=[NAN, NAN, 10, 10])
    market = prepare(book("X", "Y"), h, None)
    assert str(market.dates[0]) == "2024-02-01"
    assert any("the backtest starts on 2024-02-01" in n for n in market.notes)
    result = simulate(market, parse_policy("none"))
    assert result.quantities.tolist() == [50, 50]
    with pytest.raises(PortfolioError, match="fewer than two days"):
        prepare(book("X", "Y"), history(DATES, X=[10] * 4, Y=[NAN, NAN, NAN, 10]), None)


def test_a_ticker_whose_history_ends_is_sold_at_its_last_close() -> None:
    dates = [f"2024-01-{d:02d}" for d in (2, 3, 4, 5, 8, 9, 10, 11, 12, 15, 16)]
    h = history(dates, X=[10.0] * 11, Y=[10, 12] + [NAN] * 9)
    market = prepare(book("X", "Y"), h, None)
    assert any("Y: history ends on 2024-01-03" in n for n in market.notes)
    result = simulate(market, parse_policy("none"))
    # 50 Y sold at 12 on Jan 3: 600 cash + 50 X at 10.
    assert result.values[1:].tolist() == pytest.approx([1100.0] * 10)
    assert result.traded == pytest.approx(1000 + 600)


def test_a_gap_in_the_history_is_reported_and_not_filled_with_made_up_prices() -> None:
    dates = [f"2024-01-{d:02d}" for d in (2, 3, 4, 5, 8, 9, 10, 11, 12, 15, 16, 17)]
    y = [10, 10] + [NAN] * 7 + [20, 20, 20]
    h = history(dates, X=[10.0] * 12, Y=y)
    market = prepare(book("X", "Y"), h, None)
    assert any(
        "Y: history gap from 2024-01-04 to 2024-01-12 (7 trading days)" in n for n in market.notes
    )
    result = simulate(market, parse_policy("none"))
    # Valued at its last real close (10) through the gap, then at 20.
    assert result.values.tolist() == pytest.approx([1000] * 9 + [1500] * 3)


def test_unknown_tickers_are_left_out_and_all_unknown_is_an_error() -> None:
    h = history(DATES, X=[10, 10, 10, 10])
    market = prepare(book("X", "NOPE"), h, None)
    assert any("NOPE: no price history; left out" in n for n in market.notes)
    with pytest.raises(PortfolioError, match="no price history for any ticker"):
        prepare(book("NOPE"), h, None)


def test_a_band_narrower_than_one_share_does_not_churn() -> None:
    # One share of X is 100 = 10% of the book; a 1% band can never hold with whole shares.
    rng = np.random.default_rng(3)
    n = 60
    dates = [str(d) for d in np.datetime64("2024-01-01") + np.arange(n)]
    x = np.round(100 * np.exp(np.cumsum(0.01 * rng.standard_normal(n))), 2)
    h = history(dates, X=x.tolist(), Y=[10.0] * n)
    result = simulate(prepare(book("X", "Y"), h, None), parse_policy("band:abs=1%"))
    assert any("narrower than one share of X" in w for w in result.warnings)
    assert len(result.rebalance_days) < n // 3


def test_kr_sell_tax_and_fx_spread_are_charged_in_base_currency() -> None:
    s = Settings(fx_spread=0.01, sell_tax={"KR:STOCK": 0.002}, auto_fx=True)
    portfolio = Portfolio(
        base_currency="KRW",
        accounts=(Account("a", {"KRW": 2_000_000.0}),),
        holdings=(
            Holding("a", "005930", Market.KR, 0.0, "KRW", Kind.STOCK, price=1000.0),
            Holding("a", "AAPL", Market.US, 0.0, "USD", price=1.0),
        ),
        targets={"005930": 0.5, "AAPL": 0.5},
        fx={"USDKRW": 1000.0},
        settings=s,
    )
    h = history(DATES, **{"005930": [1000, 1000, 2000, 2000], "AAPL": [1, 1, 1, 1]})
    h = replace(h, fx={"USD": np.array([1000.0, 1000, 1000, 1000])})
    result = simulate(prepare(portfolio, h, None), parse_policy("monthly"))
    assert result.taxes > 0  # Feb 1: 005930 doubled, some of it sold
    sold = result.traded - 2_000_000  # roughly: what Feb 1 traded
    assert result.taxes == pytest.approx(0.002 * sold / 2, rel=0.05)
    assert result.fx_cost > 0


def test_buy_only_contributions_never_sell_and_count_as_flows() -> None:
    h = history(DATES, X=[10, 20, 25, 30], Y=[10, 10, 5, 6])
    market = prepare(book("X", "Y"), h, None)
    result = simulate(market, parse_policy("contribute:300USD"))
    assert result.flows.tolist() == [0, 0, 300, 0]
    assert result.performance.contributed == 300
    # Feb 1: 1500 + 300 -> Y (250) is far below 900: all 300 go to Y (60 shares at 5).
    assert result.values[-1] == pytest.approx(50 * 30 + 110 * 6)
    assert result.policy.buy_only


def test_user_settings_row_uses_the_portfolio_band_per_position() -> None:
    s = Settings(sell_tax={}, band=Band_(0.3), mode=Mode.REBALANCE)
    h = history(DATES, X=[10, 20, 25, 30], Y=[10, 10, 5, 6])
    result = simulate(prepare(book("X", "Y", settings=s), h, None), parse_policy("user"))
    # Feb 1 weights 5/6 and 1/6: 0.33 off target, outside an absolute 30% band: trades.
    assert result.rebalance_days == ("2024-01-02", "2024-02-01")


def Band_(absolute: float):
    from xlrebalance.model import Band

    return Band(absolute)


def test_outside_band_trades_only_the_positions_outside() -> None:
    # 30 shares each. Feb 1: X 12, Y 8, Z 10.5 (total 915): X and Y are 0.066 off their third,
    # outside +-10% (0.033); Z is 0.011 off, inside. Selling X to buy Y helps both; selling one
    # Z would bring it closer, but only the whole-book rebalance may touch Z.
    h = history(DATES, X=[10, 10, 12, 12], Y=[10, 10, 8, 8], Z=[10, 10, 10.5, 10.5])
    market = prepare(book("X", "Y", "Z", cash=900.0), h, None)
    only = simulate(market, parse_policy("monthly+outside:10%"))
    whole = simulate(market, parse_policy("monthly+band:10%"))
    assert only.rebalance_days == whole.rebalance_days == ("2024-01-02", "2024-02-01")
    assert only.quantities[2] == 30  # Z untouched
    assert only.quantities[0] < 30 < only.quantities[1]
    assert whole.quantities[2] != 30


def test_dividends_to_cash_are_returns_and_the_next_rebalance_invests_them() -> None:
    # 100 X at 10; 0.50 a share goes ex on Jan 3 (held through Jan 2's close): 50 USD cash.
    h = replace(
        history(DATES, X=[10, 10, 10, 11]),
        dividends=np.array([[0.0], [0.5], [0.0], [0.0]]),
    )
    market = prepare(book("X"), h, None)
    hold = simulate(market, parse_policy("none"))
    assert hold.values.tolist() == pytest.approx([1000, 1050, 1050, 100 * 11 + 50])
    assert hold.flows.tolist() == [0, 0, 0, 0]  # a dividend is a return, not a contribution
    assert hold.performance.total_return == pytest.approx(0.15)
    monthly = simulate(market, parse_policy("monthly"))
    assert monthly.quantities.tolist() == [105]  # Feb 1: the 50 USD buy 5 more at 10
    assert monthly.values[-1] == pytest.approx(105 * 11)
