"""The workbook's Backtest sheet: policies side by side, growth and drawdown charts.

The template lays the sheet out once (:func:`layout_sheet`, openpyxl, at build time) with two
native line charts over fixed ranges; :func:`write_results` fills those ranges through the
:class:`~xlrebalance.workbook.book.Book` interface, so the command line (openpyxl) and the
ribbon button (xlwings, inside Excel) write the same cells and the charts follow.

Inputs sit on the sheet itself (row 3): start, end, policies (specs separated by spaces) and an
optional CSV of closes; blanks mean the defaults of ``xlrebalance backtest``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from xlrebalance.backtest.history import day_text
from xlrebalance.backtest.metrics import growth_index
from xlrebalance.backtest.simulate import Market, PolicyResult
from xlrebalance.workbook.book import Book, CellValue, OpenpyxlBook

log = logging.getLogger(__name__)

BACKTEST_SHEET = "Backtest"
TITLES = ("Backtest", "백테스트")
INPUT_ROW = 3
STATUS_ROW = 4
METRICS_ROW = 6  # header; metrics below
MAX_POLICIES = 8
NOTES_ROW = 24
MAX_NOTES = 8
SERIES_ROW = 34  # header; one row per month end below
MAX_MONTHS = 420  # 35 years
DRAWDOWN_COLUMN = 12  # L: the drawdown block beside the growth block (A..I)

MONEY = "money"  # a number format placeholder: whole units of the base currency, with its code
DAY_FORMAT = "yyyy-mm-dd"
GROWTH_FORMAT = "0.000"
DRAWDOWN_FORMAT = "0.0%"

METRICS: tuple[tuple[str, str, str, str | None], ...] = (
    # key, English, Korean, number format
    ("final_value", "Final value", "최종 평가액", MONEY),
    ("cagr", "CAGR", "연평균 수익률", "0.00%"),
    ("volatility", "Volatility (annual)", "변동성 (연)", "0.0%"),
    ("max_drawdown", "Max drawdown", "최대 낙폭", "0.0%"),
    ("drawdown_peak", "  peak", "  고점", DAY_FORMAT),
    ("drawdown_trough", "  trough", "  저점", DAY_FORMAT),
    ("drawdown_recovered", "  recovered", "  회복", DAY_FORMAT),
    ("sharpe", "Sharpe", "샤프 지수", "0.00"),
    ("rebalances", "Rebalances", "리밸런싱 횟수", "0"),
    ("turnover_per_year", "Turnover a year", "연 회전율", "0.00"),
    ("fees", "Fees", "수수료", MONEY),
    ("taxes", "Taxes", "세금", MONEY),
    ("fx_spread", "FX spread", "환전 스프레드", MONEY),
    ("drift_average", "Drift, average", "평균 괴리", "0.000"),
    ("drift_max", "Drift, max", "최대 괴리", "0.000"),
    ("contributed", "Contributed", "추가 납입", MONEY),
)


def layout_sheet(ws: Any, lang: str) -> None:
    """Labels, input cells and the two charts (openpyxl worksheet, at build time)."""
    from openpyxl.chart import LineChart, Reference
    from openpyxl.styles import Font

    ko = lang == "ko"
    ws["A1"] = TITLES[1] if ko else TITLES[0]
    ws["A1"].font = Font(bold=True, size=14)
    labels = (
        ("시작", "끝", "정책", "가격 CSV") if ko else ("Start", "End", "Policies", "Prices CSV")
    )
    for n, label in enumerate(labels):
        ws.cell(row=INPUT_ROW, column=1 + 2 * n, value=label).font = Font(bold=True)
    ws.cell(row=INPUT_ROW, column=2, value=dt.datetime(2010, 1, 1)).number_format = "yyyy-mm-dd"
    ws.cell(row=INPUT_ROW, column=6, value="none monthly quarterly monthly+band:10% user")
    ws.cell(row=METRICS_ROW, column=1, value="정책" if ko else "Policy").font = Font(bold=True)
    for n, (_, en, kr, _fmt) in enumerate(METRICS, start=1):
        ws.cell(row=METRICS_ROW + n, column=1, value=kr if ko else en)
    ws.cell(row=NOTES_ROW, column=1, value="메모" if ko else "Notes").font = Font(bold=True)
    ws.cell(row=SERIES_ROW, column=1, value="월말" if ko else "Month end").font = Font(bold=True)
    ws.cell(row=SERIES_ROW, column=DRAWDOWN_COLUMN, value="월말" if ko else "Month end")
    ws.column_dimensions["A"].width = 20
    last = SERIES_ROW + MAX_MONTHS
    for title, first_col, fmt, anchor in (
        ("성장 (시작 = 1)" if ko else "Growth of 1", 2, "0.00", "K3"),
        ("낙폭" if ko else "Drawdown", DRAWDOWN_COLUMN + 1, "0%", "K18"),
    ):
        chart = LineChart()
        chart.title = title
        chart.y_axis.number_format = fmt
        chart.x_axis.number_format = "yyyy"
        chart.display_blanks = "gap"
        chart.add_data(
            Reference(ws, min_col=first_col, max_col=first_col + MAX_POLICIES - 1,
                      min_row=SERIES_ROW, max_row=last),
            titles_from_data=True,
        )  # fmt: skip
        chart.set_categories(
            Reference(ws, min_col=first_col - 1, min_row=SERIES_ROW + 1, max_row=last)
        )
        chart.width, chart.height = 20, 7.5  # two charts between rows 3 and 33
        ws.add_chart(chart, anchor)


def read_inputs(book: Book) -> dict[str, Any]:
    """Start, end, policies and prices CSV as typed on the sheet (None where blank)."""
    block = book.read_block(BACKTEST_SHEET)
    row = block[INPUT_ROW - 1] if len(block) >= INPUT_ROW else []

    def cell(column: int) -> Any:
        value = row[column - 1] if len(row) >= column else None
        return None if value in ("", None) else value

    def day(value: Any) -> str | None:
        if isinstance(value, dt.datetime):
            return value.date().isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        return None if value is None else str(value).strip()

    policies = cell(6)
    return {
        "start": day(cell(2)),
        "end": day(cell(4)),
        "policies": str(policies).split() if policies else None,
        "prices": None if cell(8) is None else str(cell(8)),
    }


def month_ends(dates: np.ndarray) -> np.ndarray:
    """Row index of the last day of each month (and the last row)."""
    months = dates.astype("datetime64[M]")
    ends = np.flatnonzero(months[1:] != months[:-1])
    return np.concatenate((ends, [len(dates) - 1]))


def write_results(
    book: Book,
    market: Market,
    results: Sequence[PolicyResult],
    source: str,
    notes: Sequence[str],
    now: dt.datetime,
) -> None:
    """Fill the sheet's output ranges (values only; labels and charts come with the sheet)."""
    shown = list(results)[:MAX_POLICIES]
    dates = market.dates
    base = market.portfolio.base_currency
    status = (
        f"{day_text(dates[0])} .. {day_text(dates[-1])}, start {market.capital:,.0f} {base}; "
        f"{source}; written {now:%Y-%m-%d %H:%M}"
    )
    book.write_block(BACKTEST_SHEET, STATUS_ROW, 1, [[status]])
    book.clear_block(BACKTEST_SHEET, METRICS_ROW, 2, len(METRICS) + 1, MAX_POLICIES)
    columns: list[list[CellValue]] = []
    formats: list[list[str | None]] = []
    for r in shown:
        perf = r.performance
        dd = perf.max_drawdown
        years = r.years
        values: dict[str, CellValue] = {
            "final_value": perf.final_value,
            "cagr": perf.cagr,
            "volatility": perf.volatility,
            "max_drawdown": dd.depth,
            "drawdown_peak": _day(dd.peak),
            "drawdown_trough": _day(dd.trough),
            "drawdown_recovered": _day(dd.recovered) or ("-" if dd.peak else ""),
            "sharpe": perf.sharpe if perf.sharpe is not None else "",
            "rebalances": r.rebalances,
            "turnover_per_year": r.turnover / years if years > 0 else 0.0,
            "fees": r.fees,
            "taxes": r.taxes,
            "fx_spread": r.fx_cost,
            "drift_average": float(r.drift.mean()),
            "drift_max": float(r.drift.max()),
            "contributed": perf.contributed,
        }
        column: list[CellValue] = [r.policy.name]
        column.extend(values[key] for key, *_ in METRICS)
        columns.append(column)
        money = f'#,##0 "{base}"'
        fmt_column: list[str | None] = [None]
        fmt_column.extend(money if fmt == MONEY else fmt for *_, fmt in METRICS)
        formats.append(fmt_column)
    if columns:
        rows = [list(row) for row in zip(*columns, strict=True)]
        fmts = [list(row) for row in zip(*formats, strict=True)]
        book.write_block(BACKTEST_SHEET, METRICS_ROW, 2, rows, fmts)

    lines = list(notes)
    for r in shown:
        lines.extend(f"{r.policy.name}: {w}" for w in r.warnings)
    if len(results) > MAX_POLICIES:
        lines.append(
            f"{len(results) - MAX_POLICIES} more policies: see xlrebalance backtest --json"
        )
    if len(lines) > MAX_NOTES:
        lines = [*lines[: MAX_NOTES - 1], f"... {len(lines) - MAX_NOTES + 1} more (--json)"]
    book.clear_block(BACKTEST_SHEET, NOTES_ROW + 1, 1, MAX_NOTES, 1)
    if lines:
        book.write_block(BACKTEST_SHEET, NOTES_ROW + 1, 1, [[line] for line in lines])

    ends = month_ends(dates)[-MAX_MONTHS:]
    width = 1 + MAX_POLICIES
    book.clear_block(BACKTEST_SHEET, SERIES_ROW, 2, MAX_MONTHS + 1, MAX_POLICIES)
    book.clear_block(BACKTEST_SHEET, SERIES_ROW + 1, 1, MAX_MONTHS, 1)
    book.clear_block(BACKTEST_SHEET, SERIES_ROW, DRAWDOWN_COLUMN + 1, MAX_MONTHS + 1, MAX_POLICIES)
    book.clear_block(BACKTEST_SHEET, SERIES_ROW + 1, DRAWDOWN_COLUMN, MAX_MONTHS, 1)
    growth: list[list[CellValue]] = [[None] * width for _ in ends]
    falls: list[list[CellValue]] = [[None] * width for _ in ends]
    names: list[CellValue] = [r.policy.name for r in shown]
    for i, row in enumerate(ends.tolist()):
        day = dt.datetime.fromisoformat(day_text(dates[row]))
        growth[i][0] = falls[i][0] = day
    for c, r in enumerate(shown, start=1):
        index = growth_index(r.values, r.flows, market.capital)
        peak = np.maximum.accumulate(index)
        for i, row in enumerate(ends.tolist()):
            growth[i][c] = _finite(index[row])
            falls[i][c] = _finite(index[row] / peak[row] - 1)
    if names:
        book.write_block(BACKTEST_SHEET, SERIES_ROW, 2, [names])
        book.write_block(BACKTEST_SHEET, SERIES_ROW, DRAWDOWN_COLUMN + 1, [names])
    for block, first, fmt in (
        (growth, 1, GROWTH_FORMAT),
        (falls, DRAWDOWN_COLUMN, DRAWDOWN_FORMAT),
    ):
        row_formats: list[str | None] = [DAY_FORMAT, *[fmt] * len(shown)]
        row_formats.extend([None] * (MAX_POLICIES - len(shown)))
        book.write_block(BACKTEST_SHEET, SERIES_ROW + 1, first, block, [row_formats] * len(ends))
    if names and isinstance(book, OpenpyxlBook):
        fit_charts(book.workbook[BACKTEST_SHEET], len(ends), len(shown))


def fit_charts(ws: Any, months: int, policies: int) -> None:
    """Point the growth and drawdown charts at the rows and columns just written: one series
    per policy, its name from the header row, the month ends as categories. Over the template's
    fixed ranges Excel would draw a legend entry for each of the 8 policy columns and spread
    the months over 420 category slots, most of them blank (openpyxl books only: inside Excel
    the charts keep the template's ranges)."""
    from openpyxl.chart import Reference

    last = SERIES_ROW + months
    for chart in ws._charts:
        dates_column = _categories_column(chart)
        if dates_column not in (1, DRAWDOWN_COLUMN):
            continue  # not one of the sheet's two charts
        chart.ser = []
        chart.add_data(
            Reference(ws, min_col=dates_column + 1, max_col=dates_column + policies,
                      min_row=SERIES_ROW, max_row=last),
            titles_from_data=True,
        )  # fmt: skip
        chart.set_categories(
            Reference(ws, min_col=dates_column, min_row=SERIES_ROW + 1, max_row=last)
        )


def _categories_column(chart: Any) -> int | None:
    """The column of the first series' categories (``'Backtest'!$A$35:$A$454`` is 1)."""
    from openpyxl.utils.cell import range_boundaries

    for series in getattr(chart, "ser", []):
        ref = series.cat.numRef if series.cat is not None else None
        formula = None if ref is None else ref.f
        if formula:
            sheet, _, cells = formula.rpartition("!")
            if sheet.strip("'") == BACKTEST_SHEET:
                return int(range_boundaries(cells.replace("$", ""))[0] or 0)
        return None
    return None


def _day(text: str | None) -> CellValue:
    return dt.datetime.fromisoformat(text) if text else ""


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
