"""Return and risk of a daily value series, with external cash flows taken out.

Definitions (docs/backtest.md has them with examples):

- daily return ``r_t = (V_t - F_t) / V_{t-1} - 1`` where ``F_t`` is the cash added on day t
  (a contribution is not a gain); day 0 is measured against the starting capital, so the costs
  of the first purchase count. The growth index is the product of ``1 + r_t`` (time-weighted).
- CAGR: ``index_T ** (1 / years) - 1`` with ``years = calendar days / 365.25``.
- annual volatility: sample standard deviation of the daily returns times ``sqrt(252)``.
- Sharpe: ``(mean daily return - daily risk-free) * 252 / annual volatility`` with the daily
  risk-free rate ``(1 + rf) ** (1/252) - 1``.
- max drawdown: the largest fall of the growth index from a running peak, with the peak's date,
  the trough's date and the date the index first regained the peak (None if it never did).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
DateArray = npt.NDArray[np.datetime64]

TRADING_DAYS = 252


@dataclass(frozen=True)
class Drawdown:
    depth: float  # a fraction, <= 0
    peak: str | None
    trough: str | None
    recovered: str | None


@dataclass(frozen=True)
class Performance:
    final_value: float
    contributed: float
    total_return: float
    cagr: float
    volatility: float
    sharpe: float | None
    max_drawdown: Drawdown


def growth_index(values: FloatArray, flows: FloatArray, capital: float) -> FloatArray:
    previous = np.concatenate(([capital], values[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(previous > 0, (values - flows) / previous, 1.0)
    index: FloatArray = np.cumprod(ratio, dtype=np.float64)
    return index


def drawdown(index: FloatArray, dates: DateArray) -> Drawdown:
    if index.size == 0:
        return Drawdown(0.0, None, None, None)
    peaks = np.maximum.accumulate(index)
    falls = index / peaks - 1.0
    trough = int(np.argmin(falls))
    depth = float(falls[trough])
    if depth >= 0:
        return Drawdown(0.0, None, None, None)
    peak = int(np.flatnonzero(index[: trough + 1] == peaks[trough])[0])
    back = np.flatnonzero(index[trough:] >= index[peak])
    recovered = None if back.size == 0 else str(dates[trough + int(back[0])])
    return Drawdown(depth, str(dates[peak]), str(dates[trough]), recovered)


def performance(
    dates: DateArray,
    values: FloatArray,
    flows: FloatArray,
    capital: float,
    risk_free: float = 0.0,
) -> Performance:
    index = growth_index(values, flows, capital)
    returns = np.diff(np.concatenate(([1.0], index))) / np.concatenate(([1.0], index[:-1]))
    days = int((dates[-1] - dates[0]).astype(np.int64)) if len(dates) > 1 else 0
    years = days / 365.25
    growth = float(index[-1]) if index.size else 1.0
    cagr = growth ** (1 / years) - 1 if years > 0 and growth > 0 else 0.0
    if returns.size > 1:
        volatility = float(np.std(returns, ddof=1)) * math.sqrt(TRADING_DAYS)
    else:
        volatility = 0.0
    daily_rf = (1 + risk_free) ** (1 / TRADING_DAYS) - 1
    sharpe = None
    if volatility > 0:
        sharpe = float(np.mean(returns) - daily_rf) * TRADING_DAYS / volatility
    return Performance(
        final_value=float(values[-1]) if values.size else capital,
        contributed=float(flows.sum()),
        total_return=growth - 1,
        cagr=cagr,
        volatility=volatility,
        sharpe=sharpe,
        max_drawdown=drawdown(index, dates),
    )
