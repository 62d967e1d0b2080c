"""A local Yahoo whose daily chart answers are shaped per symbol the way Yahoo shapes them in
the wild: null bars on halted days, a day sent twice, bars out of order, split and dividend
events, no ``adjclose`` block, ``result: null`` with an error, or an HTTP status instead."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from quotes_fakes import FakeYahoo, as_json, load

OPEN_AT = {"America/New_York": time(9, 30), "Asia/Seoul": time(9, 0), "Europe/London": time(0, 0)}


@dataclass
class Bar:
    day: str
    close: float | None
    adjclose: float | None = None  # None: same as close (no dividend after it)
    adjusted: bool = True  # False: send null as the adjusted close


@dataclass
class Series:
    zone: str = "America/New_York"
    currency: str = "USD"
    bars: list[Bar] = field(default_factory=list)
    dividends: dict[str, float] = field(default_factory=dict)  # day -> cash per share
    splits: dict[str, tuple[int, int]] = field(default_factory=dict)  # day -> (num, den)
    adjclose_block: bool = True
    order: list[int] | None = None  # send bars in this order (indices into bars)
    repeat: list[int] = field(default_factory=list)  # indices of bars sent a second time
    status: int | None = None  # answer this HTTP status (no JSON) instead of a chart
    instrument: str = "EQUITY"
    at: time | None = None  # the bars' local time stamp (default: the exchange's open)


class ShapedYahoo(FakeYahoo):
    def __init__(self, series: dict[str, Series]) -> None:
        super().__init__()
        self.series = series
        self.chart_calls: list[tuple[str, dict[str, list[str]]]] = []
        self._calls_lock = threading.Lock()

    def app(self, method, path, query, form, cookies):  # type: ignore[no-untyped-def]
        if path.startswith("/v8/finance/chart/"):
            symbol = path.rsplit("/", 1)[1]
            with self._calls_lock:
                self.chart_calls.append((symbol, query))
            spec = self.series.get(symbol)
            if spec is None:
                return as_json(404, load("yahoo_v8_chart_not_found.json"))
            if spec.status is not None:
                body = b"<html>" + str(spec.status).encode() + b"</html>"
                return spec.status, {"Content-Type": "text/html"}, body
            return as_json(200, chart(symbol, spec, query))
        return super().app(method, path, query, form, cookies)

    def history_calls(self, symbol: str) -> list[dict[str, list[str]]]:
        """The chart requests for ``symbol`` that asked a date range (not the tz lookup)."""
        with self._calls_lock:
            return [q for s, q in self.chart_calls if s == symbol and "period1" in q]


def business_days(first: str, last: str) -> list[str]:
    day, end, out = date.fromisoformat(first), date.fromisoformat(last), []
    while day <= end:
        if day.weekday() < 5:
            out.append(day.isoformat())
        day += timedelta(days=1)
    return out


def stamp_of(day: str, zone: str, at: time | None = None) -> int:
    at = at or OPEN_AT.get(zone, time(9, 0))
    moment = datetime.combine(date.fromisoformat(day), at, ZoneInfo(zone))
    return int(moment.timestamp())


def chart(symbol: str, spec: Series, query: dict[str, list[str]]) -> dict[str, Any]:
    payload = copy.deepcopy(load("yahoo_v8_chart_AAPL.json"))
    result = payload["chart"]["result"][0]
    result["meta"].update(
        symbol=symbol,
        exchangeTimezoneName=spec.zone,
        timezone="X",
        currency=spec.currency,
        instrumentType=spec.instrument,
    )
    lo = int(query.get("period1", ["0"])[0])
    hi = int(query.get("period2", [str(2**40)])[0])
    if "range" in query:  # yfinance's time-zone lookup asks for one day
        lo = 0
    order = spec.order if spec.order is not None else list(range(len(spec.bars)))
    order = order + spec.repeat
    stamps: list[int] = []
    closes: list[float | None] = []
    adjusted: list[float | None] = []
    for i in order:
        bar = spec.bars[i]
        stamp = stamp_of(bar.day, spec.zone, spec.at)
        if not lo <= stamp < hi:
            continue
        stamps.append(stamp)
        closes.append(bar.close)
        adj = bar.adjclose if bar.adjclose is not None else bar.close
        adjusted.append(adj if bar.adjusted else None)
    if not stamps:
        # Yahoo answers a range without bars with the meta and no timestamp at all.
        result.pop("timestamp", None)
        result["indicators"] = {"quote": [{}], "adjclose": [{}]}
        return payload
    result["timestamp"] = stamps
    result["indicators"] = {
        "quote": [
            {"open": closes, "high": closes, "low": closes, "close": closes,
             "volume": [None if c is None else 1000 for c in closes]}
        ],
    }  # fmt: skip
    if spec.adjclose_block:
        result["indicators"]["adjclose"] = [{"adjclose": adjusted}]
    events: dict[str, Any] = {}
    for day, amount in spec.dividends.items():
        s = stamp_of(day, spec.zone, spec.at)
        if lo <= s < hi:
            events.setdefault("dividends", {})[str(s)] = {"amount": amount, "date": s}
    for day, (num, den) in spec.splits.items():
        s = stamp_of(day, spec.zone, spec.at)
        if lo <= s < hi:
            events.setdefault("splits", {})[str(s)] = {
                "date": s, "numerator": num, "denominator": den, "splitRatio": f"{num}:{den}"
            }  # fmt: skip
    if events:
        result["events"] = events
    return payload
