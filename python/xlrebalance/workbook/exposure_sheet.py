"""The Exposure sheet: look-through companies and sectors, gross vs net exposure, and profit
and loss per account. Its layout is declared here once: the builder lays out the headers and
the native charts over fixed ranges, and a refresh writes the numbers into those ranges.

The whole sheet is the tool's (like Orders): a refresh rewrites its tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xlrebalance.exposure.lookthrough import SECTOR_LABELS_KO, UNKNOWN_SECTOR, Exposure
from xlrebalance.pnl import PnlReport
from xlrebalance.workbook.book import Book, CellValue
from xlrebalance.workbook.schema import EXPOSURE_SHEET, WEIGHT_FORMAT, Lang

HEADER = 3  # header row of the three tables
TOP = 20  # companies listed
SECTORS = 13  # sector rows (the eleven, unknown, one spare)
ACCOUNTS = 12  # P&L rows (accounts and the total)
COMPANY_COL, SECTOR_COL, SUMMARY_COL, PNL_COL = 1, 5, 8, 8
PNL_HEADER = HEADER + 8  # P&L table below the summary

_LABELS = {
    "title": ("Exposure: what the portfolio really owns", "노출: 실제로 보유한 것"),
    "hint": (
        "Funds replaced by their top holdings, leveraged funds at their factor. Written by "
        "Refresh; weights are shares of the whole portfolio.",
        "펀드는 상위 구성 종목으로, 레버리지 펀드는 배수로 환산. 새로 고침이 채우며, 비중은 "
        "전체 자산 대비.",
    ),
    "company": ("Company", "기업"),
    "weight": ("Look-through weight", "실질 비중"),
    "via": ("Via", "경로"),
    "sector": ("Sector", "섹터"),
    "sector_weight": ("Weight", "비중"),
    "measure": ("Measure", "항목"),
    "value": ("Value", "값"),
    "net": ("Net exposure", "순노출"),
    "gross": ("Gross exposure", "총노출"),
    "coverage": ("Coverage", "구성 종목 확인 비율"),
    "unknown": ("Holdings unknown", "구성 미확인"),
    "account": ("Account", "계좌"),
    "cost": ("Cost", "매입 금액"),
    "market_value": ("Value", "평가 금액"),
    "gain": ("Gain", "평가 손익"),
    "return": ("Return", "수익률"),
    "total": ("Total", "합계"),
    "not_attributed": ("(not attributed)", "(미확인)"),
    "top_chart": ("Top companies, look-through", "상위 기업 (실질 비중)"),
    "sector_chart": ("Sectors, look-through", "섹터 (실질 비중)"),
    "gross_chart": ("Gross vs net exposure", "총노출 vs 순노출"),
}


def label(key: str, lang: Lang) -> str:
    en, ko = _LABELS[key]
    return en if lang == "en" else ko


def header_rows(lang: Lang) -> list[tuple[int, int, list[CellValue]]]:
    """``(row, column, values)`` of the fixed labels the builder writes."""
    return [
        (HEADER, COMPANY_COL, [label("company", lang), label("weight", lang), label("via", lang)]),
        (HEADER, SECTOR_COL, [label("sector", lang), label("sector_weight", lang)]),
        (HEADER, SUMMARY_COL, [label("measure", lang), label("value", lang)]),
        (
            PNL_HEADER,
            PNL_COL,
            [label(k, lang) for k in ("account", "cost", "market_value", "gain", "return")],
        ),
    ]


def build(ws: Any, lang: Lang) -> None:
    """Lay out the sheet on an openpyxl worksheet: title, headers, widths and three charts."""
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font

    ws["A1"] = label("title", lang)
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = label("hint", lang)
    ws["A2"].font = Font(italic=True, color="666666")
    for row, col, values in header_rows(lang):
        for c, value in enumerate(values, start=col):
            ws.cell(row=row, column=c, value=value).font = Font(bold=True)
    widths = (14, 12, 34, 3, 24, 10, 3, 18, 14, 14, 14, 10)
    for letter, width in zip("ABCDEFGHIJKL", widths, strict=True):
        ws.column_dimensions[letter].width = width

    def bar(title: str, data: Any, categories: Any, anchor: str, horizontal: bool) -> None:
        chart = BarChart()
        chart.type = "bar" if horizontal else "col"
        chart.title = title
        chart.legend = None
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(categories)
        (chart.x_axis if horizontal else chart.y_axis).number_format = "0%"
        chart.width, chart.height = 14, 8
        ws.add_chart(chart, anchor)

    first = HEADER + 1
    bar(
        label("top_chart", lang),
        Reference(ws, min_col=COMPANY_COL + 1, min_row=HEADER, max_row=HEADER + TOP),
        Reference(ws, min_col=COMPANY_COL, min_row=first, max_row=HEADER + TOP),
        "N3",
        True,
    )
    bar(
        label("sector_chart", lang),
        Reference(ws, min_col=SECTOR_COL + 1, min_row=HEADER, max_row=HEADER + SECTORS),
        Reference(ws, min_col=SECTOR_COL, min_row=first, max_row=HEADER + SECTORS),
        "N20",
        True,
    )
    bar(
        label("gross_chart", lang),
        Reference(ws, min_col=SUMMARY_COL + 1, min_row=HEADER + 2, max_row=HEADER + 3),
        Reference(ws, min_col=SUMMARY_COL, min_row=HEADER + 2, max_row=HEADER + 3),
        "N37",
        False,
    )


def write(book: Book, exposure: Exposure, pnl: PnlReport, lang: Lang) -> None:
    """Rewrite the sheet's tables (the charts read them)."""
    companies: list[list[CellValue]] = []
    for c in exposure.companies[:TOP]:
        via = ", ".join(f"{t} {w:.1%}" for t, w in c.via)
        companies.append([c.symbol, c.weight, via])
    _table(book, COMPANY_COL, 3, TOP, companies, [None, WEIGHT_FORMAT, None])

    sectors: list[list[CellValue]] = []
    for sector, weight in list(exposure.sectors.items())[:SECTORS]:
        if sector == UNKNOWN_SECTOR:
            name = label("not_attributed", lang)
        else:
            name = SECTOR_LABELS_KO.get(sector, sector) if lang == "ko" else sector
        sectors.append([name, weight])
    _table(book, SECTOR_COL, 2, SECTORS, sectors, [None, WEIGHT_FORMAT])

    summary: list[list[CellValue]] = [
        [label("value", lang) + f" ({exposure.base_currency})", exposure.value],
        [label("net", lang), exposure.net],
        [label("gross", lang), exposure.gross],
        [label("coverage", lang), exposure.coverage],
        [label("unknown", lang), ", ".join(exposure.unknown) or "-"],
    ]
    book.write_block(
        EXPOSURE_SHEET,
        HEADER + 1,
        SUMMARY_COL,
        summary,
        [[None, "#,##0"], [None, WEIGHT_FORMAT], [None, WEIGHT_FORMAT], [None, WEIGHT_FORMAT],
         [None, None]],
    )  # fmt: skip

    rows: list[list[CellValue]] = []
    for a in (*pnl.accounts, pnl.total):
        rows.append(
            [a.account or label("total", lang), a.cost_base, a.value_base, a.gain_base, a.ret]
        )
    money = "#,##0"
    _table(
        book, PNL_COL, 5, ACCOUNTS, rows[:ACCOUNTS], [None, money, money, money, WEIGHT_FORMAT],
        first_row=PNL_HEADER + 1,
    )  # fmt: skip


def _table(
    book: Book,
    column: int,
    width: int,
    height: int,
    rows: Sequence[Sequence[CellValue]],
    formats: Sequence[str | None],
    *,
    first_row: int = HEADER + 1,
) -> None:
    book.clear_block(EXPOSURE_SHEET, first_row, column, height, width)
    if rows:
        book.write_block(EXPOSURE_SHEET, first_row, column, rows, [list(formats) for _ in rows])
