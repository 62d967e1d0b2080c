"""``xlrebalance backtest BOOK --write`` on a new workbook, read back with openpyxl as Excel
would read it: the policies table and its number formats, the two native charts and the cells
their series point at, a second run replacing the first, and everything else kept."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from backtest_prices import seed_prices
from openpyxl.utils.cell import range_boundaries

from installed_cli import run_console
from xlrebalance.backtest.sheet import BACKTEST_SHEET, METRICS_ROW, SERIES_ROW

DRAWDOWN_DATES = 12  # column L


def cells_of(ws: Any) -> dict[str, Any]:
    return {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value is not None}


def refs(chart: Any) -> list[tuple[str, str, str]]:
    return [(s.tx.strRef.f, s.val.numRef.f, s.cat.numRef.f) for s in chart.ser]


def column_values(ws: Any, ref: str) -> list[Any]:
    sheet, _, cells = ref.rpartition("!")
    assert sheet.strip("'") == BACKTEST_SHEET
    left, top, right, bottom = range_boundaries(cells.replace("$", ""))
    assert left == right  # one column
    return [ws.cell(r, left).value for r in range(top, bottom + 1)]


def write(book: Path, prices: Path, *policies: str) -> dict[str, Any]:
    args = [a for p in policies for a in ("--policy", p)]
    done = run_console(
        "backtest", str(book), "--prices", str(prices), "--offline", "--start", "2024-01-01",
        *args, "--write", "--json", cwd=book.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def month_end_rows(dates: list[str]) -> list[int]:
    return [i for i in range(len(dates)) if i == len(dates) - 1 or dates[i][:7] != dates[i + 1][:7]]


@pytest.fixture
def book(tmp_path: Path) -> Path:
    done = run_console("workbook", "new", "--example", "seed", "mine.xlsm", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    path = tmp_path / "mine.xlsm"
    wb = openpyxl.load_workbook(path, keep_vba=True)
    wb[BACKTEST_SHEET]["P3"] = "my own note"
    wb[BACKTEST_SHEET]["A470"] = "below the series"
    wb.create_sheet("Mine")["B2"] = 123
    wb.save(path)
    return path


def test_backtest_sheet_charts_formats_and_a_second_run(book: Path, tmp_path: Path) -> None:
    prices = seed_prices(tmp_path / "p.csv")
    before = openpyxl.load_workbook(book, keep_vba=True)
    others = {n: cells_of(before[n]) for n in before.sheetnames if n != BACKTEST_SHEET}
    doc = write(book, prices, "none", "monthly")
    wb = openpyxl.load_workbook(book, keep_vba=True)
    ws = wb[BACKTEST_SHEET]

    # The policies table: one column per policy, the JSON's figures, sensible formats.
    names = ["none", "monthly"]
    assert [ws.cell(METRICS_ROW, 2 + c).value for c in range(3)] == [*names, None]
    labels = {ws.cell(r, 1).value: r for r in range(METRICS_ROW + 1, METRICS_ROW + 17)}
    for c, p in enumerate(doc["policies"], start=2):
        assert ws.cell(labels["Final value"], c).value == pytest.approx(p["final_value"], abs=0.01)
        assert ws.cell(labels["CAGR"], c).value == pytest.approx(p["cagr"], abs=1e-6)
        assert ws.cell(labels["Rebalances"], c).value == p["rebalances"]
        assert ws.cell(labels["  peak"], c).value == dt.datetime.fromisoformat(
            p["max_drawdown"]["peak"]
        )
    formats = {label: ws.cell(row, 2).number_format for label, row in labels.items()}
    assert formats["CAGR"] == "0.00%"
    assert formats["Volatility (annual)"] == formats["Max drawdown"] == "0.0%"
    for money in ("Final value", "Fees", "Taxes", "FX spread", "Contributed"):
        assert formats[money] == '#,##0 "KRW"', money
    assert formats["  peak"] == "yyyy-mm-dd"

    # The charts: native line charts, one series per policy, named by the header cell, over
    # exactly the month ends written; the cells hold the growth of 1 and the drawdown.
    charts = ws._charts
    assert [type(c).__name__ for c in charts] == ["LineChart", "LineChart"]
    dates = doc["series"]["dates"]
    ends = month_end_rows(dates)
    capital = doc["capital"]
    growth, drawdown = charts
    for chart, dates_column in ((growth, 1), (drawdown, DRAWDOWN_DATES)):
        assert len(chart.ser) == len(names)
        for n, (title, values, categories) in enumerate(refs(chart)):
            assert column_values(ws, title) == [names[n]]
            days = column_values(ws, categories)
            assert days == [dt.datetime.fromisoformat(dates[i]) for i in ends]
            assert ws.cell(SERIES_ROW + 1, dates_column).number_format == "yyyy-mm-dd"
            daily = doc["series"]["values"][names[n]]
            got = column_values(ws, values)
            assert len(got) == len(ends)
            if chart is growth:  # no contributions: the growth of 1 is value / capital
                expected = [daily[i] / capital for i in ends]
            else:  # the fall from the running daily peak, read at each month end
                expected = [daily[i] / max([capital, *daily[: i + 1]]) - 1 for i in ends]
                expected = [min(0.0, e) for e in expected]
            assert got == pytest.approx(expected, abs=1e-6)
    assert ws.cell(SERIES_ROW + 1, 2).number_format == "0.000"
    assert ws.cell(SERIES_ROW + 1, DRAWDOWN_DATES + 1).number_format == "0.0%"

    # A second run with another policy replaces the first: no third chart, no stale column.
    write(book, prices, "quarterly")
    wb = openpyxl.load_workbook(book, keep_vba=True)
    ws = wb[BACKTEST_SHEET]
    assert wb.sheetnames == [*before.sheetnames]
    assert [ws.cell(METRICS_ROW, c).value for c in (2, 3)] == ["quarterly", None]
    assert ws.cell(METRICS_ROW + 1, 3).value is None
    assert ws.cell(SERIES_ROW, 3).value is None and ws.cell(SERIES_ROW + 1, 3).value is None
    assert len(ws._charts) == 2
    for chart in ws._charts:
        assert len(chart.ser) == 1
        assert column_values(ws, refs(chart)[0][0]) == ["quarterly"]
    # The user's cells and every other sheet are as they were.
    assert (ws["P3"].value, ws["A470"].value) == ("my own note", "below the series")
    for name, cells in others.items():
        assert cells_of(wb[name]) == cells, name
    assert wb.vba_archive is not None
