"""A new user's ``xlrebalance backtest``: the installed console script, run from a folder outside
the checkout, offline, on price files shaped as people make them (Excel exports, other locales)
and on options typed the way people type them. Each run either gives a result whose notes say
what was left out, or one line on stderr naming the option, file row or column, exit code 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from backtest_prices import SEED

from installed_cli import run_console

US = ("VOO", "SPY", "QQQ", "XLK", "TQQQ", "SOXX")
KR = ("069500", "360750", "005930")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One quote cache for the module: the trading calendars are built once, not per test."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def folder(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XLREBALANCE_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("XLREBALANCE_YAHOO_URL", "http://127.0.0.1:9")  # closed: no network
    return tmp_path


def closes(days: int = 60, start: str = "2024-01-02") -> tuple[list[str], np.ndarray]:
    """Weekday dates and synthetic closes for the seed book's tickers, then USDKRW."""
    rng = np.random.default_rng(11)
    dates = np.busday_offset(start, np.arange(days), roll="forward")
    values = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal((days, len(US) + len(KR))), 0))
    rate = 1300 * np.exp(np.cumsum(0.003 * rng.standard_normal(days)))
    return [str(d) for d in dates], np.column_stack([values, rate])


def write_csv(path: Path, header: list[str], rows: list[list[str]], **how: Any) -> Path:
    sep = how.get("sep", ",")
    text = "\r\n".join(sep.join(r) for r in [header, *rows]) + "\r\n"
    path.write_bytes(text.encode(how.get("encoding", "utf-8")))
    return path


def plain_rows(dates: list[str], values: np.ndarray) -> list[list[str]]:
    return [[d, *(f"{v:.2f}" for v in row)] for d, row in zip(dates, values, strict=True)]


HEADER = ["date", *US, *KR, "USDKRW"]


def backtest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The seed book, offline; with --json unless the test asks for the text."""
    text = "--text" in args
    rest = [a for a in args if a != "--text"]
    return run_console(
        "backtest", str(SEED), "--offline", *rest, *([] if text else ["--json"]), cwd=folder
    )


def result(out: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    doc: dict[str, Any] = json.loads(out.stdout)  # the whole stdout, strictly
    return doc


def outcome(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The policies' results without the planner's wall-clock seconds."""
    return [{k: v for k, v in p.items() if k != "planner_seconds"} for p in doc["policies"]]


def refused(out: subprocess.CompletedProcess[str], *words: str) -> str:
    """The one-line error (exit code 2, no traceback) and that it names ``words``."""
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xlrebalance: error: "), out.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_a_prices_file_before_2010_is_used_whole_without_start(folder: Path) -> None:
    # --start used to default to 2010-01-01 even with --prices: an older file was refused and a
    # longer one cut at 2010 without a word.
    dates, values = closes(days=40, start="2005-03-01")
    prices = write_csv(folder / "old.csv", HEADER, plain_rows(dates, values))
    doc = result(backtest(folder, "--prices", str(prices), "--policy", "none"))
    assert (doc["start"], doc["end"]) == (dates[0], dates[-1])
    later = backtest(folder, "--prices", str(prices), "--start", dates[10], "--policy", "none")
    assert result(later)["start"] == dates[10]


def test_one_day_of_prices_names_the_file_not_an_unset_start(folder: Path) -> None:
    dates, values = closes(days=1)
    prices = write_csv(folder / "one.csv", HEADER, plain_rows(dates, values))
    line = refused(backtest(folder, "--prices", str(prices), "--policy", "none"), "--prices")
    assert "None" not in line and dates[0] in line
    late = refused(
        backtest(folder, "--prices", str(prices), "--start", "2030-01-01", "--policy", "none"),
        "--start",
        "2030-01-01",
    )
    assert "None" not in late


def test_a_delisting_that_cannot_pay_its_minimum_fee_never_leaves_negative_cash(
    folder: Path,
) -> None:
    # AAA falls 15% a day, then its history ends: 100 shares bring a dollar or two, less than
    # the USD 5 minimum fee. Selling anyway took the account's cash below zero (final value
    # -3,519 KRW under monthly); now the shares are written off and the warning says so.
    book = {
        "version": 1,
        "base_currency": "KRW",
        "fx": {"USDKRW": 1300.0},
        "accounts": [{"id": "a", "cash": {"USD": 1005.0}}],
        "holdings": [
            {
                "account": "a",
                "ticker": t,
                "market": "US",
                "kind": "STOCK",
                "quantity": 0,
                "price": 10,
                "currency": "USD",
            }
            for t in ("AAA", "BBB")
        ],
        "targets": {"AAA": 1.0},
        "settings": {"fees": {"US": {"rate": 0.001, "min": 5}}, "fx_spread": 0.0},
    }
    (folder / "book.json").write_text(json.dumps(book), encoding="utf-8")
    dates = [str(d) for d in np.busday_offset("2024-01-02", np.arange(60), roll="forward")]
    rows = [
        [d, f"{10 * 0.85**i:.4f}" if i < 40 else "", f"{100 + i / 10:.2f}", "1300"]
        for i, d in enumerate(dates)
    ]
    prices = write_csv(folder / "p.csv", ["date", "AAA", "BBB", "USDKRW"], rows)
    out = run_console(
        "backtest", "book.json", "--prices", str(prices), "--offline", "--json",
        "--policy", "none", "--policy", "monthly", cwd=folder,
    )  # fmt: skip
    doc = result(out)
    assert any("AAA: history ends on" in n for n in doc["notes"])
    for policy in doc["policies"]:
        assert min(doc["series"]["values"][policy["policy"]]) >= 0, policy["policy"]
        assert policy["fees"] >= 0 and policy["taxes"] >= 0 and policy["fx_spread"] >= 0
        assert any("written off at zero" in w for w in policy["warnings"]), policy["warnings"]


def _shape(name: str, dates: list[str], values: np.ndarray, folder: Path) -> Path:
    """The same closes as a spreadsheet or data tool would write them."""
    rows = plain_rows(dates, values)
    path = folder / f"{name}.csv"
    if name == "excel_bom":
        return write_csv(path, HEADER, rows, encoding="utf-8-sig")
    if name == "semicolon_decimal_comma":
        rows = [[r[0], *(c.replace(".", ",") for c in r[1:])] for r in rows]
        return write_csv(path, HEADER, rows, sep=";")
    if name == "excel_unicode_text":  # UTF-16 with BOM, tab separated
        return write_csv(path, HEADER, rows, sep="\t", encoding="utf-16")
    if name == "korean_excel_cp949":
        return write_csv(path, ["날짜", *HEADER[1:]], rows, encoding="cp949")
    if name in ("slashes", "dots"):
        mark = "/" if name == "slashes" else "."
        return write_csv(path, HEADER, [[r[0].replace("-", mark), *r[1:]] for r in rows])
    if name == "with_times":
        return write_csv(path, HEADER, [[r[0] + " 00:00:00", *r[1:]] for r in rows])
    if name == "newest_first":
        return write_csv(path, HEADER, rows[::-1])
    if name == "thousands":  # the rate as 1,303.71, quoted
        rows = [[*r[:-1], f'"{float(r[-1]):,.2f}"'] for r in rows]
        return write_csv(path, HEADER, rows)
    if name == "empty_trailing_columns":
        return write_csv(path, [*HEADER, "", ""], [[*r, "", ""] for r in rows])
    if name == "leading_zeros_dropped":
        return write_csv(path, [h.lstrip("0") for h in HEADER], rows)
    if name == "pandas_unnamed_index":
        return write_csv(path, ["", *HEADER[1:]], rows)
    if name == "weekends_filled":  # Friday's closes repeated on Saturday and Sunday
        filled: list[list[str]] = []
        for r in rows:
            filled.append(r)
            if np.is_busday(r[0], weekmask="0000100"):
                friday = np.datetime64(r[0])
                filled += [[str(friday + k), *r[1:]] for k in (1, 2)]
        return write_csv(path, HEADER, filled)
    raise AssertionError(name)


SHAPES = [
    "excel_bom",
    "semicolon_decimal_comma",
    "excel_unicode_text",
    "korean_excel_cp949",
    "slashes",
    "dots",
    "with_times",
    "newest_first",
    "thousands",
    "empty_trailing_columns",
    "leading_zeros_dropped",
    "pandas_unnamed_index",
    "weekends_filled",
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> dict[str, Any]:
    """The run on a plain CSV that every shape must reproduce."""
    folder = tmp_path_factory.mktemp("reference")
    dates, values = closes()
    prices = write_csv(folder / "plain.csv", HEADER, plain_rows(dates, values))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XLREBALANCE_CACHE_DIR", str(cache_dir))
        return result(backtest(folder, "--prices", str(prices), "--policy", "monthly"))


@pytest.mark.parametrize("shape", SHAPES)
def test_price_files_as_spreadsheets_write_them_give_the_same_backtest(
    folder: Path, reference: dict[str, Any], shape: str
) -> None:
    # Each was refused before (no 'date' column, not UTF-8, not YYYY-MM-DD, 12 cells found)
    # or, for the dropped zeros, left two tickers out.
    dates, values = closes()
    prices = _shape(shape, dates, values, folder)
    doc = result(backtest(folder, "--prices", str(prices), "--policy", "monthly"))
    assert outcome(doc) == outcome(reference)
    assert doc["series"] == reference["series"]
    if shape == "leading_zeros_dropped":
        assert doc["notes"] == [
            f"{prices.name}: read 69500 as 069500, 5930 as 005930 (leading zeros dropped by a "
            "spreadsheet)"
        ]
    elif shape == "weekends_filled":
        assert len(doc["notes"]) == 1 and "on a Saturday or Sunday left out" in doc["notes"][0]
    else:
        assert doc["notes"] == []


def test_missing_markers_are_no_close_like_empty_cells(folder: Path) -> None:
    dates, values = closes()
    rows = plain_rows(dates, values)
    for r, marker in zip(range(10, 20), ["N/A", "#N/A", "-", "", "NaN"] * 2, strict=True):
        rows[r][3] = marker  # QQQ: a two-week hole, reported as a gap
    with_markers = write_csv(folder / "markers.csv", HEADER, rows)
    for r in range(10, 20):
        rows[r][3] = ""
    blanks = write_csv(folder / "blanks.csv", HEADER, rows)
    a = result(backtest(folder, "--prices", str(with_markers), "--policy", "monthly"))
    b = result(backtest(folder, "--prices", str(blanks), "--policy", "monthly"))
    assert outcome(a) == outcome(b) and a["notes"] == b["notes"]
    assert any(n.startswith("QQQ: history gap") for n in a["notes"]), a["notes"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("duplicate_day", ["dup.csv", "appears twice", "rows 7 and 12"]),
        ("no_fx_column", ["dup.csv row 1", "no USDKRW column", "add a column USDKRW"]),
        ("day_first", ["dup.csv row 2", "'02/01/2024'", "YYYY-MM-DD"]),
        ("decimal_comma_with_commas", ["dup.csv row 2 column VOO", "is not a number"]),
    ],
)
def test_price_files_that_cannot_be_read_as_meant_name_row_and_column(
    folder: Path, change: str, words: list[str]
) -> None:
    dates, values = closes()
    header, rows = list(HEADER), plain_rows(dates, values)
    if change == "duplicate_day":
        rows.insert(10, list(rows[5]))
    elif change == "no_fx_column":
        header, rows = header[:-1], [r[:-1] for r in rows]
    elif change == "day_first":
        rows = [[f"{d[8:10]}/{d[5:7]}/{d[:4]}", *r[1:]] for d, r in zip(dates, rows, strict=True)]
    else:  # 100,35 in a comma-separated file: ambiguous, so refused rather than read as 10035
        rows = [[r[0], *(f'"{c.replace(".", ",")}"' for c in r[1:])] for r in rows]
    prices = write_csv(folder / "dup.csv", header, rows)
    refused(backtest(folder, "--prices", str(prices), "--policy", "none"), *words)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--risk-free", "3"], ["--risk-free", "300%", "0.03", "3%"]),  # was taken as 300%
        (["--risk-free", "abc"], ["--risk-free", "'abc'"]),
        (["--policy", "userx"], ["--policy userx", "expected"]),  # was run as user
        (["--policy", "user@"], ["--policy user@", "calendar after @"]),
        (["--policy", "contribute:0KRW"], ["--policy contribute:0KRW", "above zero"]),
        (["--policy", "contribute:-5KRW"], ["--policy contribute:-5KRW", "amount"]),
        (["--policy", "quarterly:middle"], ["--policy quarterly:middle", "first or last"]),
        (["--policy", "band:abc"], ["--policy band:abc", "'abc'"]),
        (["--policy", "monthly+"], ["--policy monthly+", "expected"]),
        (["--policy", "user@weekly"], ["--policy user@weekly", "expected"]),
        # refused before any policy runs (it was refused after the ones before it had run)
        (["--policy", "monthly", "--policy", "contribute:100EUR"], ["contribute:100eur", "EUR"]),
        (["--capital", "0"], ["--capital", "positive"]),
        (["--capital", "-5"], ["--capital", "positive"]),
        (["--start", "2024-03-01", "--end", "2024-02-01"], ["--start", "after --end"]),
    ],
)
def test_options_typed_wrong_are_one_line(folder: Path, args: list[str], words: list[str]) -> None:
    dates, values = closes()
    prices = write_csv(folder / "p.csv", HEADER, plain_rows(dates, values))
    refused(backtest(folder, "--prices", str(prices), *args), *words)


def test_risk_free_as_a_percentage_and_a_policy_given_twice(folder: Path) -> None:
    dates, values = closes()
    prices = write_csv(folder / "p.csv", HEADER, plain_rows(dates, values))
    runs = [
        backtest(folder, "--prices", str(prices), "--policy", "none", "--risk-free", rate)
        for rate in ("3%", "0.03")
    ]
    assert outcome(result(runs[0])) == outcome(result(runs[1]))
    twice = backtest(
        folder, "--prices", str(prices), "--policy", "monthly", "--policy", "Monthly",
        "--policy", "none",
    )  # fmt: skip
    doc = result(twice)  # the daily values are keyed by name: a second monthly hid the first
    assert [p["policy"] for p in doc["policies"]] == ["monthly", "none"]
    assert list(doc["series"]["values"]) == ["monthly", "none"]
    assert "--policy monthly given twice" in twice.stderr


def test_write_out_on_a_new_seed_workbook_keeps_the_users_sheets(folder: Path) -> None:
    import openpyxl

    made = run_console("workbook", "new", "--example", "seed", "book.xlsm", cwd=folder)
    assert made.returncode == 0, made.stderr
    book = openpyxl.load_workbook(folder / "book.xlsm", keep_vba=True)
    book.create_sheet("MyNotes")["A1"] = "keep me"
    book.save(folder / "book.xlsm")
    dates, values = closes()
    rows = [[r[0], *(c.replace(".", ",") for c in r[1:])] for r in plain_rows(dates, values)]
    prices = write_csv(folder / "p.csv", HEADER, rows, sep=";")  # a European Excel export
    out = run_console(
        "backtest", "book.xlsm", "--prices", "p.csv", "--offline", "--policy", "monthly",
        "--policy", "none", "--write", "--out", "copy.xlsm", "--json", cwd=folder,
    )  # fmt: skip
    doc = result(out)
    copy = openpyxl.load_workbook(folder / "copy.xlsm", keep_vba=True)
    assert copy["MyNotes"]["A1"].value == "keep me"
    sheet = copy["Backtest"]
    assert len(sheet._charts) == 2
    row = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "Final value")
    assert list(row[1:3]) == pytest.approx([p["final_value"] for p in doc["policies"]], abs=0.01)
    assert openpyxl.load_workbook(folder / "book.xlsm")["MyNotes"]["A1"].value == "keep me"
    assert prices.exists()
