"""What a new user does to a workbook, through the installed command run from another folder:
cash typed as a ticker, a sheet of their own called Orders or History, a column header typed
twice, ticker lists split by line breaks or Korean commas, total rows, a deleted Groups sheet,
a Settings sheet without its Key column."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from installed_cli import run_console as xlrebalance
from xlrebalance import cells
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.schema import HEADER_ROW, HOLDINGS, Lang

COLUMN = {c.key: i for i, c in enumerate(HOLDINGS.columns, start=1)}
NEXT = 15  # the first Holdings row below the seed example's eleven
THEMES = ("XLK", "SOXX", "TQQQ")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workbook(tmp_path_factory.mktemp("build") / "rebalance.xlsm", example="seed")


@pytest.fixture()
def book(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "book.xlsm"
    shutil.copyfile(built, target)
    return target


def edit(path: Path, change: Callable[[Any], None]) -> None:
    """Change the workbook as a user's script does: openpyxl, then a plain save."""
    wb = load_workbook(path, keep_vba=True)
    change(wb)
    wb.save(path)


def plan_json(book: Path, cwd: Path) -> dict[str, Any]:
    out = xlrebalance("plan", str(book), "--offline", "--json", cwd=cwd)
    assert out.returncode == 0, out.stderr
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def refused(book: Path, cwd: Path, *args: str) -> str:
    """The command fails with one line (exit 2, no traceback) and the file is as it was."""
    before = book.read_bytes()
    out = xlrebalance(*args, str(book), "--offline", cwd=cwd)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("xlrebalance: error: "), out.stderr
    assert book.read_bytes() == before
    return out.stderr


# -- 1. cash typed as a ticker -------------------------------------------------------------


@pytest.mark.parametrize("name", ["CASH", "cash", "현금", "예수금"])
def test_a_cash_row_on_holdings_is_refused_pointing_to_the_cash_sheet(
    book: Path, tmp_path: Path, name: str
) -> None:
    def add_cash(wb: Any) -> None:
        ws = wb["Holdings"]
        for key, value in (("account", "general"), ("ticker", name), ("quantity", 500000),
                           ("currency", "KRW"), ("price", 1)):  # fmt: skip
            ws.cell(NEXT, COLUMN[key], value)

    edit(book, add_cash)
    for command in ("plan", "refresh"):
        err = refused(book, tmp_path, command)
        assert f"Holdings!B{NEXT}" in err
        assert "is cash, not a ticker" in err and "Cash sheet" in err and "targets.CASH" in err


# -- 2. a sheet of the user's own called Orders or History ----------------------------------


@pytest.mark.parametrize("sheet", ["Orders", "History"])
def test_a_users_own_orders_or_history_sheet_is_never_overwritten(
    book: Path, tmp_path: Path, sheet: str
) -> None:
    def replace_sheet(wb: Any) -> None:
        del wb[sheet]
        mine = wb.create_sheet(sheet)
        mine.append(["Date", "What I bought", "Shares"])
        for n in range(1, 8):
            mine.append([f"2026-0{n}-01", "QQQ", n])

    edit(book, replace_sheet)
    err = refused(book, tmp_path, "refresh")
    assert f"error: {sheet}: this sheet is not the one xlrebalance writes" in err
    assert "rename your sheet" in err
    assert plan_json(book, tmp_path)["orders"]  # planning alone writes nothing: still fine


def test_the_tools_own_sheets_recreated_or_korean_are_written(book: Path, tmp_path: Path) -> None:
    """Not a false alarm: a deleted Orders sheet is recreated, and a refresh after that (an
    Orders sheet holding what the tool wrote) goes through as before."""
    edit(book, lambda wb: wb.remove(wb["Orders"]))
    for _ in range(2):
        out = xlrebalance("refresh", str(book), "--offline", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
    ko = tmp_path / "ko.xlsm"
    build_workbook(ko, lang="ko", example="seed")
    out = xlrebalance("refresh", str(ko), "--offline", cwd=tmp_path)
    assert out.returncode == 0, out.stderr


# -- 3. a header typed twice ---------------------------------------------------------------


def test_a_second_quantity_column_is_refused_naming_both_cells(book: Path, tmp_path: Path) -> None:
    def second_quantity(wb: Any) -> None:
        ws = wb["Holdings"]
        ws.cell(HEADER_ROW, 19, "quantity")  # S3, beside the last template column (R)
        for r in range(HEADER_ROW + 1, NEXT):
            ws.cell(r, 19, 1)

    edit(book, second_quantity)
    err = refused(book, tmp_path, "plan")
    assert 'Holdings!S3: "quantity" names the same column as Holdings!E3 ("Quantity")' in err


def test_a_second_column_named_like_a_computed_one_is_the_users(book: Path, tmp_path: Path) -> None:
    """Weight is a formula column the reader never reads: a user's own "Weight" beside it
    (their own calculation) is just another column of theirs."""
    plain = plan_json(book, tmp_path)

    def own_weight(wb: Any) -> None:
        ws = wb["Holdings"]
        ws.cell(HEADER_ROW, 19, "Weight")
        for r in range(HEADER_ROW + 1, NEXT):
            ws.cell(r, 19, 0.5)

    edit(book, own_weight)
    assert plan_json(book, tmp_path)["orders"] == plain["orders"]


# -- 4. ticker lists -----------------------------------------------------------------------


def test_ticker_lists_split_on_line_breaks_tabs_and_korean_commas() -> None:
    typed = " XLK\nSOXX\r\n\tTQQQ，069500、 69500;;QQQ ；SPY,\n"
    assert cells.ticker_list(typed) == ("XLK", "SOXX", "TQQQ", "069500", "069500", "QQQ", "SPY")
    assert cells.ticker_list(None) == ()


@pytest.mark.parametrize("typed", ["XLK\nSOXX\nTQQQ", "XLK、SOXX，TQQQ", "XLK\tSOXX; TQQQ"])
def test_a_group_cap_holds_whatever_separates_its_tickers(
    book: Path, tmp_path: Path, typed: str
) -> None:
    def cap(wb: Any) -> None:
        wb["Groups"]["B5"] = 0.15  # Themes: the seed's targets give them 25%
        wb["Groups"]["C5"] = typed

    edit(book, cap)
    after = plan_json(book, tmp_path)["summary"]["weights_after"]
    assert sum(after[t] for t in THEMES) <= 0.15 + 1e-9


# -- 5. total rows -------------------------------------------------------------------------


def test_total_rows_under_holdings_and_cash_are_skipped(book: Path, tmp_path: Path) -> None:
    plain = plan_json(book, tmp_path)

    def totals(wb: Any) -> None:
        ws = wb["Holdings"]
        ws.cell(NEXT, COLUMN["account"], "합계")
        ws.cell(NEXT, COLUMN["quantity"], f"=SUM(E4:E{NEXT - 1})")
        ws.cell(NEXT, COLUMN["value"], f"=SUM(K4:K{NEXT - 1})")
        ws.cell(NEXT, COLUMN["target"], f"=SUM(M4:M{NEXT - 1})")
        cash = wb["Cash"]
        cash["A7"], cash["C7"], cash["D7"] = "Total:", "=SUM(C4:C6)", "=SUM(D4:D6)"

    edit(book, totals)
    assert plan_json(book, tmp_path)["orders"] == plain["orders"]
    out = xlrebalance("refresh", str(book), "--offline", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    wb = load_workbook(book)
    assert wb["Holdings"].cell(NEXT, COLUMN["account"]).value == "합계"  # left as it was
    assert wb["Holdings"].cell(NEXT, COLUMN["price"]).value is None
    assert wb["Cash"]["C7"].value == "=SUM(C4:C6)"


def test_sum_is_a_ticker_where_a_ticker_belongs(book: Path, tmp_path: Path) -> None:
    """Strict: ``SUM`` in the Ticker column of an account's row is a holding (a listed US
    ticker), and without an account it is an error, never a skipped total."""

    def sum_row(account: str | None) -> Callable[[Any], None]:
        def change(wb: Any) -> None:
            ws = wb["Holdings"]
            for key, value in (("account", account), ("ticker", "SUM"), ("quantity", 3),
                               ("price", 40.0), ("currency", "USD")):  # fmt: skip
                ws.cell(NEXT, COLUMN[key]).value = value  # None too: cell(r, c, None) skips it

        return change

    edit(book, sum_row("general"))
    doc = plan_json(book, tmp_path)
    assert doc["summary"]["weights_before"]["SUM"] > 0
    edit(book, sum_row(None))
    assert f"Holdings!A{NEXT}: SUM: account is empty" in refused(book, tmp_path, "plan")


# -- 7. a missing Groups sheet, a Settings sheet without keys -------------------------------


def test_a_workbook_without_a_groups_sheet_has_no_groups(book: Path, tmp_path: Path) -> None:
    edit(book, lambda wb: wb.remove(wb["Groups"]))
    assert plan_json(book, tmp_path)["orders"]
    out = xlrebalance("refresh", str(book), "--offline", cwd=tmp_path)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_settings_without_a_key_column_are_read_by_their_labels(tmp_path: Path, lang: Lang) -> None:
    book = build_workbook(tmp_path / f"{lang}.xlsm", lang=lang, example="seed")
    plain = plan_json(book, tmp_path)
    edit(book, lambda wb: wb["Settings"].delete_cols(1))  # the "Do not edit" Key column
    again = plan_json(book, tmp_path)
    assert again["orders"] == plain["orders"]
    assert again["summary"]["weights_after"] == plain["summary"]["weights_after"]


def test_settings_without_keys_or_labels_say_what_is_expected(book: Path, tmp_path: Path) -> None:
    edit(book, lambda wb: wb["Settings"].delete_cols(1, 2))
    err = refused(book, tmp_path, "plan")
    assert 'Settings: no header row with the columns "Key", "Value" in its first 20 rows' in err


def test_a_renamed_holdings_sheet_is_named_with_what_there_is(book: Path, tmp_path: Path) -> None:
    def rename(wb: Any) -> None:
        wb["Holdings"].title = "보유종목"

    edit(book, rename)
    err = refused(book, tmp_path, "plan")
    assert (
        "error: Holdings: the workbook has no sheet named Holdings (it has Dashboard, 보유종목"
        in err
    )
    assert "if you renamed it, rename it back" in err


def test_a_note_typed_under_a_table_is_named_as_such(book: Path, tmp_path: Path) -> None:
    def note(wb: Any) -> None:
        wb["Holdings"].cell(NEXT + 3, 1, "※ 가격은 2026-01 기준")

    edit(book, note)
    err = refused(book, tmp_path, "plan")
    row = NEXT + 3
    assert (
        f'Holdings!B{row}: ticker is empty (the row holds only Holdings!A{row} "※ 가격은 '
        '2026-01 기준": a note? keep notes in a column of your own, or delete the row)'
    ) in err
