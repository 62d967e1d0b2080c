"""What the tool writes into a workbook: prices, the Orders sheet, a History row.

Each function builds whole blocks and writes them through :class:`Book` in a few calls; only
cells the tool owns change (Holdings' price/time/source columns, Orders, History rows,
FX rates on Settings when quotes are fetched).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from xlrebalance import cells
from xlrebalance.errors import PortfolioError
from xlrebalance.model import Plan, Portfolio, Valuation, valuation
from xlrebalance.workbook.book import Book, CellValue
from xlrebalance.workbook.reader import WorkbookInput
from xlrebalance.workbook.schema import (
    HEADER_ROW,
    HISTORY_COLUMNS,
    HISTORY_SHEET,
    KRW_FORMAT,
    ORDER_COLUMNS,
    ORDERS_CLEAR_ROWS,
    ORDERS_HEADER_ROW,
    ORDERS_SHEET,
    SUMMARY_COLUMN,
    SUMMARY_LABELS,
    TIME_FORMAT,
    WARNING_CELL,
    WEIGHT_FORMAT,
    Column,
    Lang,
    money_format,
    normalize_header,
    value_label,
)


@dataclass(frozen=True)
class PriceUpdate:
    """A fetched price for one holding row (``price`` None: the sources had none, and
    ``source`` says why)."""

    price: float | None
    time: dt.datetime | None
    source: str


@dataclass(frozen=True)
class Staleness:
    """Which prices are too old (or of unknown age) for the plan to be trusted blindly."""

    tickers: tuple[str, ...]
    max_age_hours: float
    total: int

    def message(self, lang: Lang) -> str:
        if not self.tickers:
            return ""
        shown = ", ".join(self.tickers[:8]) + (" ..." if len(self.tickers) > 8 else "")
        n, total = len(self.tickers), self.total
        if lang == "ko":
            return (
                f"주의: 가격 {total}개 중 {n}개가 {self.max_age_hours:g}시간보다 오래되었거나 "
                f"시각이 없습니다 ({shown}). 시세를 새로 고친 뒤 주문하세요."
            )
        return (
            f"STALE PRICES: {n} of {total} prices are older than {self.max_age_hours:g} h or have "
            f"no time ({shown}). Refresh prices before placing these orders."
        )


def write_prices(book: Book, inp: WorkbookInput, updates: dict[int, PriceUpdate]) -> None:
    """Write price, price time and source for the holdings in ``updates`` (by holding index),
    one block per run of consecutive rows."""
    columns = inp.holdings_columns
    keys: list[str] = [k for k in ("price", "price_time", "source") if k in columns]
    if not keys or not updates:
        return
    spans = sorted(columns[k] for k in keys)
    if spans != list(range(spans[0], spans[0] + len(spans))):
        for key in keys:  # the user moved them apart: one column at a time
            _write_runs(book, inp, updates, [key], columns[key])
        return
    ordered = sorted(keys, key=lambda k: columns[k])
    _write_runs(book, inp, updates, ordered, spans[0])


def _write_runs(
    book: Book, inp: WorkbookInput, updates: dict[int, PriceUpdate], keys: list[str], column: int
) -> None:
    rows = sorted((inp.holdings_rows[i], i) for i in updates)
    run: list[tuple[int, int]] = []
    for item in rows:
        if run and item[0] != run[-1][0] + 1:
            _flush(book, inp, updates, keys, column, run)
            run = []
        run.append(item)
    if run:
        _flush(book, inp, updates, keys, column, run)


def _flush(
    book: Book,
    inp: WorkbookInput,
    updates: dict[int, PriceUpdate],
    keys: list[str],
    column: int,
    run: list[tuple[int, int]],
) -> None:
    values: list[list[CellValue]] = []
    formats: list[list[str | None]] = []
    for _, i in run:
        update = updates[i]
        holding = inp.portfolio.holdings[i]
        cells = {"price": update.price, "price_time": update.time, "source": update.source}
        fmts = {"price": money_format(holding.currency), "price_time": TIME_FORMAT, "source": None}
        values.append([cells[k] for k in keys])
        formats.append([fmts[k] for k in keys])
    book.write_block("Holdings", run[0][0], column, values, formats)


def write_orders(
    book: Book,
    plan: Plan,
    portfolio: Portfolio,
    lang: Lang,
    staleness: Staleness,
    now: dt.datetime,
) -> None:
    """Replace the Orders sheet's owned area: banner, header, order rows, summary block."""
    width = len(ORDER_COLUMNS)
    book.clear_block(ORDERS_SHEET, ORDERS_HEADER_ROW + 1, 1, ORDERS_CLEAR_ROWS, width)
    book.clear_block(ORDERS_SHEET, ORDERS_HEADER_ROW, SUMMARY_COLUMN, ORDERS_CLEAR_ROWS, 3)
    # Banner (A2) and the hint below it (A3) in one block: one call in Excel.
    row, column = WARNING_CELL
    banner: list[list[CellValue]] = [
        [staleness.message(lang) or None],
        [orders_hint(plan, lang, staleness, now)],
    ]
    book.write_block(ORDERS_SHEET, row, column, banner)
    header: list[CellValue] = [c.header(lang) for c in ORDER_COLUMNS]
    book.write_block(ORDERS_SHEET, ORDERS_HEADER_ROW, 1, [header])
    s = plan.summary
    values: list[list[CellValue]] = []
    formats: list[list[str | None]] = []
    for o in plan.orders:
        money = money_format(o.currency)
        values.append(
            [
                o.account,
                o.ticker,
                o.name or _name(portfolio, o.ticker),
                value_label(o.side.value, lang),
                o.quantity,
                o.price,
                o.currency,
                o.amount,
                o.fees + o.taxes,
                s.weights_before.get(o.ticker),
                s.weights_after.get(o.ticker),
                portfolio.targets.get(o.ticker, 0.0),
            ]
        )
        formats.append(
            [None, None, None, None, None, money, None, money, money] + [WEIGHT_FORMAT] * 3
        )
    if not values:
        values = [[_no_orders(lang)] + [None] * (width - 1)]
        formats = [[None] * width]
    book.write_block(ORDERS_SHEET, ORDERS_HEADER_ROW + 1, 1, values, formats)
    summary, summary_formats = summary_block(plan, lang, staleness, now)
    book.write_block(ORDERS_SHEET, ORDERS_HEADER_ROW, SUMMARY_COLUMN, summary, summary_formats)


def orders_hint(plan: Plan, lang: Lang, staleness: Staleness, now: dt.datetime) -> str:
    """Orders!A3 once orders are written; the built "Press Compute orders" line would read as
    if nothing had run."""
    when = f"{now:%Y-%m-%d %H:%M}"
    status = value_label(plan.summary.solver.status.value, lang)
    n, total = len(staleness.tickers), staleness.total
    if lang == "ko":
        prices = f"가격 {n}/{total}개 오래됨" if n else "가격 모두 최신"
        return (
            f"{when}에 Holdings 시트의 가격으로 계산 ({prices}, 솔버: {status}). "
            "다시 계산: 리밸런싱 탭의 '주문 계산' 또는 이 파일에 xlrebalance refresh"
        )
    prices = f"{n} of {total} prices stale" if n else "all prices fresh"
    return (
        f"Computed {when} from the prices on Holdings ({prices}; solver: {status}). "
        "To recompute: Compute orders (Rebalance tab), or run xlrebalance refresh on this file"
    )


def _name(portfolio: Portfolio, ticker: str) -> str | None:
    for h in portfolio.holdings:
        if h.ticker == ticker and h.name:
            return h.name
    return None


def _no_orders(lang: Lang) -> str:
    if lang == "ko":
        return "주문 없음: 현재 포트폴리오가 목표에 가장 가깝습니다."
    return "No orders: the portfolio is as close to its targets as trading can bring it."


def summary_block(
    plan: Plan, lang: Lang, staleness: Staleness, now: dt.datetime
) -> tuple[list[list[CellValue]], list[list[str | None]]]:
    """Label / value / unit rows of the summary, starting with its own header row."""
    s = plan.summary
    base = s.base_currency
    money = money_format(base)
    index = 0 if lang == "en" else 1

    def label(key: str) -> str:
        return SUMMARY_LABELS[key][index]

    rows: list[tuple[CellValue, CellValue, CellValue, str | None]] = [
        ("Summary" if lang == "en" else "요약", None, None, None),
        (label("computed"), now, None, TIME_FORMAT),
        (label("value_before"), s.value_before, base, money),
        (label("value_after"), s.value_after, base, money),
        (label("drift_before"), s.drift_before, None, WEIGHT_FORMAT),
        (label("drift_after"), s.drift_after, None, WEIGHT_FORMAT),
        (label("fees"), s.fees_total, base, money),
        (label("taxes"), s.taxes_total, base, money),
        (label("fx_cost"), s.fx_cost_total, base, money),
        (label("solver"), value_label(s.solver.status.value, lang), None, None),
        (label("gap"), s.solver.gap, None, "0.00E+00"),
        (label("seconds"), round(s.solver.seconds, 3), None, "0.000"),
        (
            label("prices"),
            (f"stale: {len(staleness.tickers)}" if staleness.tickers else "fresh")
            if lang == "en"
            else (f"오래됨: {len(staleness.tickers)}" if staleness.tickers else "최신"),
            None,
            None,
        ),
    ]
    for account, balances in s.cash_after.items():
        for currency, amount in balances.items():
            rows.append(
                (f"{label('cash_left')} {account}", amount, currency, money_format(currency))
            )
    for c in plan.conversions:
        rows.append(
            (
                f"{label('fx')} {c.account}",
                f"{c.sell_amount:,.2f} {c.sell_currency} -> {c.buy_amount:,.2f} {c.buy_currency}",
                None,
                None,
            )
        )
    for warning in plan.warnings:
        rows.append((label("warning"), warning, None, None))
    values = [[a, b, c] for a, b, c, _ in rows]
    formats: list[list[str | None]] = [[None, f, None] for *_, f in rows]
    return values, formats


def history_row(
    event: str,
    now: dt.datetime,
    value: float,
    cash: float,
    drift: float,
    plan: Plan | None,
    stale: int,
    lang: Lang = "en",
) -> tuple[list[CellValue], list[str | None]]:
    values: list[CellValue] = [
        now,
        value_label(event, lang),
        value,
        cash,
        drift,
        plan.summary.drift_after if plan else None,
        len(plan.orders) if plan else None,
        value_label(plan.summary.solver.status.value, lang) if plan else None,
        stale,
    ]
    formats = [c.number_format for c in HISTORY_COLUMNS]
    return values, formats


def append_history(book: Book, row: Sequence[CellValue], formats: Sequence[str | None]) -> int:
    return book.append_rows(HISTORY_SHEET, [list(row)], [list(formats)])


# The header row by which an Orders or History sheet is known as the tool's, and the columns
# of it that must be there (in English or Korean): older versions wrote at least these.
_OUTPUT_HEADERS: dict[str, tuple[int, tuple[Column, ...]]] = {
    ORDERS_SHEET: (ORDERS_HEADER_ROW, ORDER_COLUMNS[:4]),
    HISTORY_SHEET: (HEADER_ROW, HISTORY_COLUMNS[:2]),
}


def is_tool_output(book: Book, sheet: str) -> bool:
    """Whether ``sheet`` (Orders or History) is the tool's to write: its header row is ours,
    or it holds nothing but a title in A1 (as built or recreated). A sheet of the user's that
    happens to have that name is neither."""
    row, columns = _OUTPUT_HEADERS[sheet]
    block = book.read_block(sheet)
    line = block[row - 1] if len(block) >= row else []
    if len(line) >= len(columns) and all(
        isinstance(line[i], str) and normalize_header(str(line[i])) in c.aliases()
        for i, c in enumerate(columns)
    ):
        return True
    return all(
        cells.blank(value) for r, cells_ in enumerate(block) for c, value in enumerate(cells_)
        if (r, c) != (0, 0)
    )  # fmt: skip


def refuse_foreign_output(book: Book, sheets: Sequence[str]) -> None:
    """Stop before anything is written when a sheet the tool would write (Orders, History)
    is the user's own: overwriting it would lose their data."""
    for sheet in sheets:
        if sheet in book.sheet_names() and not is_tool_output(book, sheet):
            row, columns = _OUTPUT_HEADERS[sheet]
            expected = ", ".join(c.en for c in columns)
            raise PortfolioError(
                sheet,
                f"this sheet is not the one xlrebalance writes (its row {row} does not start "
                f"with {expected}), so nothing was written: rename your sheet, and the tool "
                f"makes its own {sheet} sheet",
            )


__all__ = [
    "KRW_FORMAT",
    "PriceUpdate",
    "Staleness",
    "Valuation",
    "append_history",
    "history_row",
    "is_tool_output",
    "orders_hint",
    "refuse_foreign_output",
    "summary_block",
    "valuation",
    "write_orders",
    "write_prices",
]
