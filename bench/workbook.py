"""Headless refresh of a 700-row Holdings workbook, offline: time to read, plan and write.

.venv/bin/python bench/workbook.py
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from xlrebalance.macros import _plan, staleness
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.package import save_workbook
from xlrebalance.workbook.reader import read_input
from xlrebalance.workbook.schema import HEADER_ROW, HOLDINGS
from xlrebalance.workbook.writer import append_history, history_row, valuation, write_orders

ROWS = 700


def make_book(path: Path) -> None:
    build_workbook(path, example="empty")
    wb = load_workbook(path, keep_vba=True)
    ws = wb["Holdings"]
    rng = random.Random(7)
    keys = [c.key for c in HOLDINGS.columns]
    for n in range(ROWS):
        r = HEADER_ROW + 1 + n
        kr = n % 2 == 0
        values = {
            "account": "isa" if kr else "general",
            "ticker": f"{100000 + n:06d}" if kr else f"T{n:04d}",
            "market": "KR" if kr else "US",
            "quantity": rng.randint(0, 200),
            "currency": "KRW" if kr else "USD",
            "price": rng.randint(5_000, 200_000) if kr else round(rng.uniform(10, 600), 2),
            "target": 1.0 / ROWS,
            "locked": False,
            "kind": "ETF" if n % 3 == 0 else "STOCK",
        }
        for c, key in enumerate(keys, start=1):
            column = HOLDINGS.columns[c - 1]
            if column.formula:
                ws.cell(row=r, column=c, value=column.formula.format(r=r))
            elif key in values:
                ws.cell(row=r, column=c, value=values[key])
    last = get_column_letter(len(HOLDINGS.columns))
    ws.tables["HoldingsTable"].ref = f"A{HEADER_ROW}:{last}{HEADER_ROW + ROWS}"
    cash = wb["Cash"]
    cash.append(["isa", "KRW", 50_000_000])
    cash.delete_rows(HEADER_ROW + 1)
    cash.append(["general", "USD", 40_000])
    cash.tables["CashTable"].ref = f"A{HEADER_ROW}:D{HEADER_ROW + 2}"
    save_workbook(wb, path, backup=False)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.xlsm"
        make_book(path)
        t0 = time.perf_counter()
        book = OpenpyxlBook.open(path)
        inp = read_input(book, offline=True)
        t1 = time.perf_counter()
        now = __import__("datetime").datetime.now()
        result = _plan(inp, now, frozenset())
        t2 = time.perf_counter()
        write_orders(book, result.plan, inp.portfolio, inp.lang, staleness(inp, now), now)
        v = valuation(inp.portfolio)
        append_history(book, *history_row("refresh", now, v.value, v.cash, v.drift, result.plan, 0))
        save_workbook(book.workbook, Path(tmp) / "out.xlsm")
        t3 = time.perf_counter()
        print(f"holdings rows     {len(inp.portfolio.holdings)}")
        print(f"orders            {len(result.plan.orders)} ({result.plan.summary.solver.status})")
        print(f"read + validate   {t1 - t0:6.3f} s")
        print(f"plan              {t2 - t1:6.3f} s")
        print(f"write + save      {t3 - t2:6.3f} s")
        print(f"total             {t3 - t0:6.3f} s   (target < 2 s)")


if __name__ == "__main__":
    main()
