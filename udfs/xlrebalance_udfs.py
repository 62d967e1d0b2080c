"""xlrebalance worksheet functions for Excel (xlwings UDFs).

The workbook's ``xlwings.conf`` sheet names this module (UDF Modules: ``xlrebalance_udfs``);
xlwings' *Import Functions* turns each ``@xw.func`` below into an Excel function with the
help text shown in Excel's Function Wizard. This file only declares arguments; the work is
in :mod:`xlrebalance.worksheet`. ``caller`` is filled in by xlwings (the calling cell) and is
hidden from Excel: a cell waiting for quotes is recalculated through it.
"""

from __future__ import annotations

from typing import Any

import xlwings as xw

from xlrebalance import worksheet

CATEGORY = "xlrebalance"
RANGE = {"ndim": 2, "err_to_str": True}


@xw.func(category=CATEGORY)
@xw.arg(
    "ticker",
    doc='US symbol ("QQQ"), KRX code ("005930"; 5930 also works), FX pair ("USDKRW"), '
    "or a range of them.",
)
@xw.arg(
    "field",
    doc="Optional: price (default), currency, time, name, change, source, status, market.",
)
def QUOTE(ticker: Any, field: Any = None, caller: Any = None) -> Any:
    """Latest cached price of a US or KRX ticker; tickers not cached yet are fetched
    together in the background (the cell shows #N/A waiting until then)."""
    return worksheet.quote_cell(ticker, field, waiter=caller)


@xw.func(category=CATEGORY)
@xw.arg("source", doc='Currency to convert from, e.g. "USD".')
@xw.arg("target", doc='Currency to convert to (default "KRW").')
def FX(source: Any, target: Any = "KRW", caller: Any = None) -> Any:
    """Exchange rate: units of the second currency per one unit of the first."""
    return worksheet.fx_cell(source, target, waiter=caller)


@xw.func(category=CATEGORY)
@xw.arg(
    "holdings",
    doc="Range with a header row: ticker/종목코드 and quantity/수량 columns; optional "
    "account, price, currency, market, kind, name, locked.",
    **RANGE,
)
@xw.arg(
    "targets",
    doc="Range of ticker and target weight (목표비중): 0.25, 25% or percentages summing "
    'to 100; a "CASH" row sets the cash target.',
    **RANGE,
)
@xw.arg(
    "cash",
    doc="Optional: cash in the base currency (a number), or a range with account, "
    "currency and amount columns.",
    **RANGE,
)
@xw.arg(
    "settings",
    doc="Optional: key/value range (mode, base_currency, fractional, band, fees.US.rate, "
    "fx.USDKRW, ...). Default: KRW, rebalance, whole shares.",
    **RANGE,
)
def REBAL_TRADES(
    holdings: Any, targets: Any, cash: Any = None, settings: Any = None, caller: Any = None
) -> Any:
    """Buy and sell orders that bring the portfolio closest to its targets; spills a table
    with a header row (account, ticker, side, quantity, price, currency, amount, fees, taxes;
    money in each order's currency). Solver status and warnings: REBAL_SUMMARY."""
    return worksheet.trades_table(holdings, targets, cash, settings, waiter=caller)


@xw.func(category=CATEGORY)
@xw.arg("holdings", doc="The holdings range given to REBAL_TRADES.", **RANGE)
@xw.arg("targets", doc="The targets range given to REBAL_TRADES.", **RANGE)
@xw.arg("cash", doc="Optional: the cash given to REBAL_TRADES.", **RANGE)
@xw.arg("settings", doc="Optional: the settings range given to REBAL_TRADES.", **RANGE)
def REBAL_SUMMARY(
    holdings: Any, targets: Any, cash: Any = None, settings: Any = None, caller: Any = None
) -> Any:
    """The plan behind REBAL_TRADES with the same arguments: solver status and gap, drift
    before and after, value, fees, taxes and FX cost in the base currency, then one row per
    warning (spills two columns: label, value)."""
    return worksheet.summary_table(holdings, targets, cash, settings, waiter=caller)


@xw.func(category=CATEGORY)
@xw.arg("holdings", doc="Range with ticker and quantity columns (see REBAL_TRADES).", **RANGE)
@xw.arg("targets", doc="Range of ticker and target weight.", **RANGE)
@xw.arg(
    "cash", doc="Optional: cash in KRW (a number) or an account/currency/amount range.", **RANGE
)
def REBAL_DRIFT(holdings: Any, targets: Any, cash: Any = None, caller: Any = None) -> Any:
    """Drift of the portfolio from its targets: sum of |weight - target|, cash included
    (0 = on target; 0.1 = 10 percentage points misplaced, counted on both sides)."""
    return worksheet.drift_value(holdings, targets, cash, waiter=caller)


@xw.func(category=CATEGORY)
@xw.arg(
    "holdings",
    doc="Range with ticker and quantity columns (see REBAL_TRADES); optional leverage.",
    **RANGE,
)
@xw.arg("by", doc="Optional: company (default), sector, ticker or summary.")
@xw.arg("cash", doc="Optional: cash in the base currency, or an account/currency/amount range.",
        **RANGE)  # fmt: skip
@xw.arg("settings", doc="Optional: key/value range (base_currency, fx.USDKRW, ...).", **RANGE)
def EXPOSURE(
    holdings: Any, by: Any = None, cash: Any = None, settings: Any = None, caller: Any = None
) -> Any:
    """What the holdings really own: funds replaced by their top holdings, leveraged funds at
    their factor (spills). Fund holdings come from the quote cache (Refresh fills it)."""
    return worksheet.exposure_table(holdings, by, cash, settings, waiter=caller)


@xw.func(category=CATEGORY)
@xw.arg(
    "holdings",
    doc="Range with ticker, quantity and average cost columns; optional take profit.",
    **RANGE,
)
@xw.arg("cash", doc="Optional: cash (for the currency and accounts), as in REBAL_TRADES.",
        **RANGE)  # fmt: skip
@xw.arg("settings", doc="Optional: key/value range (base_currency, fx.USDKRW, ...).", **RANGE)
def PNL(holdings: Any, cash: Any = None, settings: Any = None, caller: Any = None) -> Any:
    """Unrealised gain and return per row at the average cost, then the total in the base
    currency (spills); rows past their take-profit return say TRUE."""
    return worksheet.pnl_table(holdings, cash, settings, waiter=caller)
