"""Build ``rebalance.xlsm`` from the package's ``templates/`` and the schema: sheets, tables,
validation, formats, conditional formatting, charts, the VBA project and the ribbon."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.comments import Comment
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName as XlDefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from xlrebalance.backtest.sheet import BACKTEST_SHEET
from xlrebalance.backtest.sheet import layout_sheet as layout_backtest_sheet
from xlrebalance.document import load_portfolio
from xlrebalance.errors import XlRebalanceError
from xlrebalance.model import CASH, Portfolio
from xlrebalance.workbook import exposure_sheet
from xlrebalance.workbook.package import (
    CUSTOMUI_PART,
    VBA_PART,
    check_target,
    save_workbook,
    vba_archive,
)
from xlrebalance.workbook.schema import (
    CASH_SHEET,
    CONF_ROWS,
    CONF_SHEET,
    DASHBOARD_INDEX_COLUMN,
    DASHBOARD_SHEET,
    DASHBOARD_TICKER_COLUMN,
    DASHBOARD_TICKER_SLOTS,
    DEFAULT_MAX_PRICE_JUMP,
    EXPOSURE_SHEET,
    GROUPS,
    HEADER_ROW,
    HISTORY_COLUMNS,
    HISTORY_SHEET,
    HOLDINGS,
    LAST_FORMULA_ROW,
    ORDER_COLUMNS,
    ORDERS_HEADER_ROW,
    ORDERS_SHEET,
    SETTINGS,
    SETTINGS_COLUMNS,
    SETTINGS_SHEET,
    SHEET_ORDER,
    WARNING_CELL,
    WEIGHT_FORMAT,
    Column,
    Lang,
    TableSheet,
    defined_names,
    money_format,
    sheet_title,
)
from xlrebalance.workbook.vba import compile_project

# The checkout's root when running from one (``workbook build`` writes rebalance.xlsm there).
ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ("seed", "equal-weight", "empty")
AUTHOR = "xlrebalance"

TITLE_FONT = Font(bold=True, size=14, color="1F3864")
HINT_FONT = Font(italic=True, color="595959")
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F3864")
COMPUTED_FILL = PatternFill("solid", fgColor="F2F2F2")
OWNED_FILL = PatternFill("solid", fgColor="DDEBF7")
KEY_FONT = Font(color="808080", size=9)
ALERT_FILL = PatternFill("solid", fgColor="C00000")
ALERT_FONT = Font(bold=True, color="FFFFFF")
BAND_FILL = PatternFill("solid", fgColor="FFC7CE")
BAND_FONT = Font(color="9C0006", bold=True)


@contextlib.contextmanager
def templates_dir() -> Iterator[Path]:
    """The templates shipped as package data, as a real folder for as long as needed (a
    zipped install unpacks them to a temporary one)."""
    with resources.as_file(resources.files("xlrebalance") / "templates") as folder:
        if not (folder / "vba").is_dir():
            raise XlRebalanceError(
                f"templates not found at {folder}: reinstall xlrebalance "
                "(pip install --force-reinstall xlrebalance)"
            )
        yield folder


def checkout_root() -> Path | None:
    """The source checkout this package runs from, if it does (an editable install)."""
    return ROOT if (ROOT / "pyproject.toml").is_file() and (ROOT / "udfs").is_dir() else None


def run_main_path(book: Path) -> Path:
    """Where xlwings' *Run main* looks for ``main()``: the workbook's name with ``.py``."""
    return book.with_suffix(".py")


def write_run_main(book: Path, *, overwrite: bool) -> Path | None:
    """Write the *Run main* file beside ``book``; None when xlwings could not import it
    (the workbook's name is not a Python identifier) or one exists and ``overwrite`` is off."""
    target = run_main_path(book)
    if not book.stem.isidentifier() or (target.exists() and not overwrite):
        return None
    with templates_dir() as templates:
        text = (templates / "run_main.py").read_bytes()
    temp = target.with_name(f".{target.name}.tmp")
    temp.write_bytes(text)
    temp.replace(target)
    return target


def example_portfolio(example: str) -> Portfolio | None:
    if example == "empty":
        return None
    if example not in EXAMPLES:
        raise XlRebalanceError(f"unknown example {example!r} (expected {', '.join(EXAMPLES)})")
    with templates_dir() as templates:
        return load_portfolio(templates / "examples" / f"{example}.json", offline=True)


def build_workbook(
    path: str | Path,
    *,
    lang: Lang = "en",
    example: str = "seed",
    overwrite: bool = True,
    backup: bool = False,
) -> Path:
    """Write a new workbook at ``path`` (reproducible: same inputs, same bytes); with
    ``backup`` a file replaced there is kept as ``<name>.bak``."""
    path = Path(path)
    check_target(path)
    if path.exists() and not overwrite:
        raise XlRebalanceError(f"{path} exists: choose another name or remove it first")
    portfolio = example_portfolio(example)
    workbook = Workbook()
    workbook.remove(workbook.active)
    workbook.code_name = "ThisWorkbook"
    sheets: dict[str, Worksheet] = {}
    for n, name in enumerate(SHEET_ORDER, start=1):
        ws = workbook.create_sheet(name)
        ws.sheet_properties.codeName = f"Sheet{n}"
        sheets[name] = ws
    _holdings(sheets[HOLDINGS.name], portfolio, lang)
    _cash(sheets[CASH_SHEET.name], portfolio, lang)
    _groups(sheets[GROUPS.name], portfolio, lang)
    settings_rows = _settings(sheets[SETTINGS_SHEET], portfolio, lang)
    for item in defined_names(settings_rows):
        workbook.defined_names[item.name] = XlDefinedName(item.name, attr_text=item.formula)
    _orders(sheets[ORDERS_SHEET], lang, path.name)
    _history(sheets[HISTORY_SHEET], lang)
    _dashboard(sheets[DASHBOARD_SHEET], sheets, portfolio, lang)
    exposure_sheet.build(sheets[EXPOSURE_SHEET], lang)
    conf = sheets[CONF_SHEET]
    for key, value in CONF_ROWS:
        conf.append([key, value])
    conf.sheet_state = "hidden"
    # The Backtest sheet comes after the hidden conf sheet, so older sheets keep their code names.
    backtest = workbook.create_sheet(BACKTEST_SHEET)
    backtest.sheet_properties.codeName = f"Sheet{len(SHEET_ORDER) + 1}"
    layout_backtest_sheet(backtest, lang)
    workbook.active = 0
    code_names = [f"Sheet{n}" for n in range(1, len(SHEET_ORDER) + 2)]
    with templates_dir() as templates:
        ribbon = templates / "ribbon" / ("customUI14.xml" if lang == "en" else "customUI14.ko.xml")
        bas = sorted((templates / "vba").glob("*.bas"))
        workbook.vba_archive = vba_archive(
            {VBA_PART: compile_project(bas, code_names), CUSTOMUI_PART: ribbon.read_bytes()}
        )
    workbook.properties.creator = AUTHOR
    workbook.properties.title = "xlrebalance"
    save_workbook(workbook, path, fresh=True, reproducible=True, backup=backup)
    return path


# --------------------------------------------------------------------------------------------


def _title(ws: Worksheet, title: str, hint: str | None) -> None:
    ws["A1"] = title
    ws["A1"].font = TITLE_FONT
    if hint:
        ws["A2"] = hint
        ws["A2"].font = HINT_FONT


def _header(ws: Worksheet, row: int, columns: Sequence[Column], lang: Lang, col: int = 1) -> None:
    for c, column in enumerate(columns, start=col):
        cell = ws.cell(row=row, column=c, value=column.header(lang))
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        note = column.note(lang)
        if note:
            other = column.note("ko" if lang == "en" else "en")
            cell.comment = Comment(f"{note}\n{other}", AUTHOR, width=260, height=90)
        ws.column_dimensions[get_column_letter(c)].width = column.width


def _table_sheet(ws: Worksheet, sheet: TableSheet, rows: list[dict[str, Any]], lang: Lang) -> None:
    _title(ws, sheet.title(lang), sheet.hint(lang))
    _header(ws, HEADER_ROW, sheet.columns, lang)
    count = max(len(rows), 1)
    for n in range(count):
        r = HEADER_ROW + 1 + n
        values = rows[n] if n < len(rows) else {}
        for c, column in enumerate(sheet.columns, start=1):
            cell = ws.cell(row=r, column=c)
            if column.formula is not None:
                cell.value = column.formula.format(r=r)
                cell.fill = COMPUTED_FILL
            else:
                cell.value = values.get(column.key)
                if column.owned:
                    cell.fill = OWNED_FILL
            fmt = values.get(f"{column.key}:format") or column.number_format
            if fmt:
                cell.number_format = fmt
    last = get_column_letter(len(sheet.columns))
    table = Table(displayName=sheet.table, ref=f"A{HEADER_ROW}:{last}{HEADER_ROW + count}")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
    ws.add_table(table)
    for c, column in enumerate(sheet.columns, start=1):
        if column.choices:
            letter = get_column_letter(c)
            dv = DataValidation(
                type="list",
                formula1='"' + ",".join(column.choices) + '"',
                allow_blank=True,
                showErrorMessage=True,
                errorTitle=column.header(lang),
                error=column.note(lang),
            )
            dv.add(f"{letter}{HEADER_ROW + 1}:{letter}{LAST_FORMULA_ROW}")
            ws.add_data_validation(dv)
    ws.freeze_panes = f"C{HEADER_ROW + 1}" if sheet is HOLDINGS else f"A{HEADER_ROW + 1}"


def _holdings(ws: Worksheet, portfolio: Portfolio | None, lang: Lang) -> None:
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for h in portfolio.holdings if portfolio else ():
        first = h.ticker not in seen
        seen.add(h.ticker)
        rows.append(
            {
                "account": h.account,
                "ticker": h.ticker,
                "market": h.market.value,
                "name": h.name,
                "quantity": h.quantity,
                "currency": h.currency,
                "price": h.price,
                "price:format": money_format(h.currency),
                "average_cost": h.average_cost,
                "average_cost:format": money_format(h.currency),
                "leverage": h.leverage,
                "take_profit": h.take_profit,
                "source": "example" if h.price is not None else None,
                "target": portfolio.targets.get(h.ticker) if portfolio and first else None,
                "locked": h.locked,
                "kind": h.kind.value,
            }
        )
    _table_sheet(ws, HOLDINGS, rows, lang)
    drift = HOLDINGS.letter("drift")
    target = HOLDINGS.letter("target")
    top, bottom = HEADER_ROW + 1, LAST_FORMULA_ROW
    # Band width as the planner defines it: the tighter of absolute and relative x target,
    # a zero part ignored; with no band every drift beyond rounding noise is outside.
    width = (
        f"IF(AND(BandAbs>0,BandRel>0),MIN(BandAbs,BandRel*N(${target}{top})),"
        f"IF(BandAbs>0,BandAbs,IF(BandRel>0,BandRel*N(${target}{top}),0)))"
    )
    ws.conditional_formatting.add(
        f"{drift}{top}:{drift}{bottom}",
        FormulaRule(
            formula=[f"AND(ISNUMBER(${drift}{top}),ABS(${drift}{top})>{width}+0.00005)"],
            fill=BAND_FILL,
            font=BAND_FONT,
        ),
    )


def _cash(ws: Worksheet, portfolio: Portfolio | None, lang: Lang) -> None:
    rows = [
        {"account": a.id, "currency": c, "amount": v, "amount:format": money_format(c)}
        for a in (portfolio.accounts if portfolio else ())
        for c, v in (a.cash.items() if a.cash else {"KRW": 0.0}.items())
    ]
    _table_sheet(ws, CASH_SHEET, rows, lang)


def _groups(ws: Worksheet, portfolio: Portfolio | None, lang: Lang) -> None:
    rows = [
        {"name": g.name, "max_weight": g.max_weight, "tickers": ", ".join(g.tickers)}
        for g in (portfolio.groups if portfolio else ())
    ]
    _table_sheet(ws, GROUPS, rows, lang)


def _setting_value(key: str, portfolio: Portfolio | None) -> Any:
    from xlrebalance.model import Market, Settings

    s = portfolio.settings if portfolio else Settings()
    if key == "base_currency":
        return portfolio.base_currency if portfolio else "KRW"
    if key.startswith("fx."):
        return (portfolio.fx if portfolio else {}).get(key[3:], 1450.0 if not portfolio else None)
    if key == "targets.CASH":
        return portfolio.targets.get(CASH, 0.0) if portfolio else 0.0
    if key == "workbook.quote_max_age_hours":
        return 24
    if key == "workbook.max_price_jump":
        return DEFAULT_MAX_PRICE_JUMP
    if key.startswith("sync."):
        return None  # the user's own storage (docs/sync.md)
    path = key.split(".")[1:]
    head = path[0]
    if head == "contribution":
        return s.contribution.get(path[1], 0)
    if head == "band":
        return getattr(s.band, path[1])
    if head == "fees":
        fee = s.fees.get(path[1])
        return getattr(fee, path[2]) if fee else 0
    if head == "sell_tax":
        return s.sell_tax.get(".".join(path[1:]), 0.0)
    if head == "fee_rounding":
        rule = s.rounding(Market(path[1]))
        return rule.unit if path[2] == "unit" else rule.mode.value
    value = getattr(s, head)
    return getattr(value, "value", value)


def _settings(ws: Worksheet, portfolio: Portfolio | None, lang: Lang) -> dict[str, int]:
    _title(
        ws,
        sheet_title(SETTINGS_SHEET, lang),
        "Every setting of the portfolio document. Change the Value column only."
        if lang == "en"
        else "포트폴리오 문서의 모든 설정. 값(Value) 열만 바꾸세요.",
    )
    _header(ws, HEADER_ROW, SETTINGS_COLUMNS, lang)
    rows: dict[str, int] = {}
    for n, setting in enumerate(SETTINGS):
        r = HEADER_ROW + 1 + n
        rows[setting.key] = r
        key = ws.cell(row=r, column=1, value=setting.key)
        key.font = KEY_FONT
        ws.cell(row=r, column=2, value=setting.label(lang)).font = Font(bold=True)
        value = _setting_value(setting.key, portfolio)
        cell = ws.cell(row=r, column=3, value=value)
        if setting.number_format:
            cell.number_format = setting.number_format
        cell.comment = Comment(
            f"{setting.note(lang)}\n{setting.note('ko' if lang == 'en' else 'en')}",
            AUTHOR,
            width=260,
            height=80,
        )
        note = ws.cell(row=r, column=4, value=setting.note(lang))
        note.alignment = Alignment(wrap_text=True, vertical="top")
        dv: DataValidation | None = None
        if setting.choices:
            dv = DataValidation(type="list", formula1='"' + ",".join(setting.choices) + '"')
        elif setting.kind in ("number", "percent") and setting.minimum is not None:
            if setting.maximum is not None:
                dv = DataValidation(
                    type="decimal",
                    operator="between",
                    formula1=str(setting.minimum),
                    formula2=str(setting.maximum),
                )
            else:
                dv = DataValidation(
                    type="decimal", operator="greaterThanOrEqual", formula1=str(setting.minimum)
                )
        if dv is not None:
            dv.showErrorMessage = True
            dv.errorTitle = setting.label(lang)
            dv.error = setting.note(lang)
            dv.promptTitle = setting.label(lang)
            dv.prompt = setting.note(lang)[:250]
            dv.showInputMessage = True
            dv.add(cell.coordinate)
            ws.add_data_validation(dv)
    ws.freeze_panes = f"A{HEADER_ROW + 1}"
    return rows


def _orders(ws: Worksheet, lang: Lang, file_name: str) -> None:
    _title(ws, sheet_title(ORDERS_SHEET, lang), None)
    row, column = WARNING_CELL
    banner = f"{get_column_letter(column)}{row}"
    ws.merge_cells(f"{banner}:{get_column_letter(len(ORDER_COLUMNS))}{row}")
    ws.conditional_formatting.add(
        banner,
        FormulaRule(formula=[f"LEN(${banner[0]}${row})>0"], fill=ALERT_FILL, font=ALERT_FONT),
    )
    ws.cell(
        row=ORDERS_HEADER_ROW - 1,
        column=1,
        value=f"Press Compute orders (Rebalance tab), or run: xlrebalance refresh {file_name}"
        if lang == "en"
        else f"리밸런싱 탭의 '주문 계산'을 누르거나: xlrebalance refresh {file_name}",
    ).font = HINT_FONT
    _header(ws, ORDERS_HEADER_ROW, ORDER_COLUMNS, lang)
    ws.column_dimensions["M"].width = 3
    for letter, width in (("N", 22), ("O", 18), ("P", 8)):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = f"A{ORDERS_HEADER_ROW + 1}"


def _history(ws: Worksheet, lang: Lang) -> None:
    _title(
        ws,
        sheet_title(HISTORY_SHEET, lang),
        "One row per refresh or snapshot." if lang == "en" else "새로 고침·스냅숏마다 한 행.",
    )
    _header(ws, HEADER_ROW, HISTORY_COLUMNS, lang)
    for c, column in enumerate(HISTORY_COLUMNS, start=1):
        if column.number_format:
            ws.cell(row=HEADER_ROW + 1, column=c).number_format = column.number_format
    last = get_column_letter(len(HISTORY_COLUMNS))
    table = Table(displayName="HistoryTable", ref=f"A{HEADER_ROW}:{last}{HEADER_ROW + 1}")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
    ws.add_table(table)
    ws.freeze_panes = f"A{HEADER_ROW + 1}"


def _dashboard(
    ws: Worksheet, sheets: dict[str, Worksheet], portfolio: Portfolio | None, lang: Lang
) -> None:
    ko = lang == "ko"
    _title(ws, sheet_title(DASHBOARD_SHEET, lang), None)
    kpis = (
        ("총 평가액" if ko else "Total value", "=TotalValue", "#,##0"),
        ("현금" if ko else "Cash", "=SUM(Cash!$D:$D)", "#,##0"),
        ("현금 비중" if ko else "Cash weight", "=IF(TotalValue=0,0,SUM(Cash!$D:$D)/TotalValue)",
         WEIGHT_FORMAT),
        ("현금 목표" if ko else "Cash target", "=CashTarget", WEIGHT_FORMAT),
        ("괴리 (L1)" if ko else "Drift (L1)",
         '=SUMIF(Holdings!$N:$N,">0")-SUMIF(Holdings!$N:$N,"<0")+ABS(C5-C6)', WEIGHT_FORMAT),
        ("기준 통화" if ko else "Base currency", "=BaseCurrency", None),
        ("총노출" if ko else "Gross exposure", f"={EXPOSURE_SHEET}!$I$6", WEIGHT_FORMAT),
    )  # fmt: skip
    for n, (label, formula, fmt) in enumerate(kpis):
        r = 3 + n
        ws.cell(row=r, column=2, value=label).font = Font(bold=True)
        cell = ws.cell(row=r, column=3, value=formula)
        if fmt:
            cell.number_format = fmt
    ws.column_dimensions["B"].width = 18
    ws.column_dimensions["C"].width = 18

    # One bar per ticker: a ticker held in several accounts is one bar (its rows summed).
    slots = _ticker_table(ws, portfolio, lang)
    first, last = HEADER_ROW + 1, HEADER_ROW + slots
    weights = BarChart()
    weights.type = "col"
    weights.title = "현재 vs 목표 비중" if ko else "Current vs target weight"
    weights.y_axis.number_format = "0%"
    weights.y_axis.title = None
    column = DASHBOARD_TICKER_COLUMN
    weights.add_data(
        Reference(ws, min_col=column + 1, max_col=column + 2, min_row=HEADER_ROW, max_row=last),
        titles_from_data=True,
    )
    weights.set_categories(Reference(ws, min_col=column, min_row=first, max_row=last))
    weights.width, weights.height = 22, 8
    ws.add_chart(weights, "E2")

    groups = sheets[GROUPS.name]
    group_rows = max(len(portfolio.groups) if portfolio else 0, 1)
    caps = BarChart()
    caps.type = "bar"
    caps.title = "그룹 비중 vs 한도" if ko else "Allocation by group vs cap"
    caps.x_axis.number_format = "0%"
    caps.add_data(
        Reference(groups, min_col=4, min_row=HEADER_ROW, max_row=HEADER_ROW + group_rows),
        titles_from_data=True,
    )
    caps.add_data(
        Reference(groups, min_col=2, min_row=HEADER_ROW, max_row=HEADER_ROW + group_rows),
        titles_from_data=True,
    )
    caps.set_categories(
        Reference(groups, min_col=1, min_row=HEADER_ROW + 1, max_row=HEADER_ROW + group_rows)
    )
    caps.width, caps.height = 14, 7
    ws.add_chart(caps, "B19")

    history = sheets[HISTORY_SHEET]
    line = LineChart()
    line.title = "평가액 추이" if ko else "Value history"
    line.y_axis.number_format = "#,##0"
    line.add_data(
        Reference(history, min_col=3, min_row=HEADER_ROW, max_row=HEADER_ROW + 1),
        titles_from_data=True,
    )
    line.set_categories(
        Reference(history, min_col=1, min_row=HEADER_ROW + 1, max_row=HEADER_ROW + 1)
    )
    line.width, line.height = 14, 7
    ws.add_chart(line, "J19")


def _ticker_table(ws: Worksheet, portfolio: Portfolio | None, lang: Lang) -> int:
    """The Dashboard's weight per ticker (T:V), from Holdings by formulas so it follows the
    user's edits: column Z (hidden) numbers each Holdings row whose ticker is seen there for the
    first time, row k of the table shows the k-th such ticker with its weight and target summed
    over every row (account) holding it. Returns the number of table rows (the chart's)."""
    tickers = dict.fromkeys(h.ticker for h in portfolio.holdings) if portfolio else {}
    slots = len(tickers) or DASHBOARD_TICKER_SLOTS
    first, last = HEADER_ROW + 1, LAST_FORMULA_ROW
    ticker = f"Holdings!${HOLDINGS.letter('ticker')}"
    weight = f"Holdings!${HOLDINGS.letter('weight')}"
    target = f"Holdings!${HOLDINGS.letter('target')}"
    index = get_column_letter(DASHBOARD_INDEX_COLUMN)
    for r in range(first, last + 1):
        ws.cell(
            row=r,
            column=DASHBOARD_INDEX_COLUMN,
            value=f'=IF({ticker}{r}="","",IF(COUNTIF({ticker}${first}:{ticker}{r},{ticker}{r})>1,'
            f'"",MAX(${index}${first - 1}:{index}{r - 1})+1))',
        )
    ws.column_dimensions[index].hidden = True
    col = DASHBOARD_TICKER_COLUMN
    t, w, g = (get_column_letter(col + i) for i in range(3))
    labels = [HOLDINGS.column(k).header(lang) for k in ("ticker", "weight", "target")]
    for i, label in enumerate(labels):
        cell = ws.cell(row=HEADER_ROW, column=col + i, value=label)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    ws.cell(row=HEADER_ROW - 1, column=col, value="종목별 비중" if lang == "ko" else "Per ticker")
    ws.cell(row=HEADER_ROW - 1, column=col).font = Font(bold=True)
    rows = f"{ticker}${first}:{ticker}${last}"
    for k in range(1, slots + 1):
        r = HEADER_ROW + k
        ws.cell(
            row=r,
            column=col,
            value=f'=IFERROR(INDEX({rows},MATCH({k},${index}${first}:${index}${last},0)),"")',
        )
        for letter, source in ((w, weight), (g, target)):
            cell = ws[f"{letter}{r}"]
            cell.value = (
                f'=IF(${t}{r}="","",SUMIF({rows},${t}{r},{source}${first}:{source}${last}))'
            )
            cell.number_format = WEIGHT_FORMAT
    ws.column_dimensions[t].width = 10
    return slots
