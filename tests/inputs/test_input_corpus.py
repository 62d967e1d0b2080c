"""The bad-input corpus (input_cases.py) through the three readers: the bundled workbook, a
user's ranges given to the worksheet functions, the JSON document. Each case must read as the
same value, or fail with the same message, in all three; a workbook refresh that fails leaves
the file byte for byte, and nothing prints a traceback."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from input_cases import CASES, Case, Error, read_back
from openpyxl import load_workbook

from installed_cli import console_script
from workbook_checks import refresh_fails_leaving_file_alone
from xlrebalance import worksheet
from xlrebalance.document import load_portfolio
from xlrebalance.errors import PortfolioError
from xlrebalance.model import Portfolio, validate
from xlrebalance.ranges import read_ranges
from xlrebalance.workbook.book import OpenpyxlBook
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.reader import read_input
from xlrebalance.workbook.schema import HOLDINGS

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "python" / "xlrebalance" / "templates" / "examples" / "seed.json"
FIRST_ROW = 4  # the first holding (VOO, general) and the first cash row in the built workbook


def seed() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(SEED.read_text(encoding="utf-8"))
    return doc


def test_the_corpus_is_big_and_its_ids_unique() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
    assert sum(isinstance(c.expect, Error) for c in CASES) >= 30


# -- the workbook ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workbook(tmp_path_factory.mktemp("corpus") / "rebalance.xlsm")


def _settings_row(ws: Any, key: str) -> int:
    for r in range(1, ws.max_row + 1):
        if ws.cell(row=r, column=1).value == key:
            return r
    row = ws.max_row + 1
    ws.cell(row=row, column=1).value = key
    return row


def _workbook_cell(wb: Any, field: str) -> tuple[str, str]:
    if field.startswith("holdings."):
        return "Holdings", f"{HOLDINGS.letter(field.split('.', 1)[1])}{FIRST_ROW}"
    if field == "cash.amount":
        ws = wb["Cash"]
        assert (ws[f"A{FIRST_ROW}"].value, ws[f"B{FIRST_ROW}"].value) == ("general", "KRW")
        return "Cash", f"C{FIRST_ROW}"
    return "Settings", f"C{_settings_row(wb['Settings'], field)}"


def _workbook_edits(wb: Any, case: Case) -> dict[tuple[str, str], object]:
    return {_workbook_cell(wb, f): v for f, v in {case.field: case.raw, **case.also}.items()}


def _read_workbook(built: Path, case: Case) -> Portfolio:
    wb = load_workbook(built, keep_vba=True)
    for (sheet, cell), value in _workbook_edits(wb, case).items():
        wb[sheet][cell] = value
    return read_input(OpenpyxlBook(wb, built)).portfolio


def _workbook_where(built: Path, case: Case) -> str:
    sheet, cell = _workbook_cell(load_workbook(built), case.field)
    return f"{sheet}!{cell}"


# -- the user's ranges (worksheet functions) ---------------------------------------------------

RANGE_HEADER = ("account", "ticker", "market", "kind", "quantity", "price", "currency", "locked",
                "name", "target")  # fmt: skip


def _ranges(case: Case) -> tuple[list[list[object]], list[list[object]], list[list[object]]]:
    doc = seed()
    targets = dict(doc["targets"])
    holdings: list[list[object]] = [list(RANGE_HEADER)]
    for h in doc["holdings"]:
        row = {**h, "target": targets.pop(h["ticker"], None)}
        holdings.append([row.get(k) for k in RANGE_HEADER])
    cash: list[list[object]] = [["account", "currency", "amount"]]
    for account in doc["accounts"]:
        cash.extend([account["id"], c, amount] for c, amount in account["cash"].items())
    s = doc["settings"]
    settings: list[list[object]] = [
        ["key", "value"],
        ["base_currency", doc["base_currency"]],
        ["fx.USDKRW", doc["fx"]["USDKRW"]],
        ["settings.mode", s["mode"]],
        ["settings.contribution.KRW", s["contribution"]["KRW"]],
        ["settings.fractional", s["fractional"]],
        ["settings.band.absolute", s["band"]["absolute"]],
        ["settings.band.relative", s["band"]["relative"]],
        ["settings.min_trade_value", s["min_trade_value"]],
        *(
            [f"settings.fees.{m}.{part}", fee[part]]
            for m, fee in s["fees"].items()
            for part in ("rate", "min")
        ),
        *([f"settings.sell_tax.{k}", v] for k, v in s["sell_tax"].items()),
        ["settings.fx_spread", s["fx_spread"]],
        ["settings.auto_fx", s["auto_fx"]],
        ["targets.CASH", targets.pop("CASH")],
    ]
    for field, value in {case.field: case.raw, **case.also}.items():
        if field.startswith("holdings."):
            holdings[1][RANGE_HEADER.index(field.split(".", 1)[1])] = value
        elif field == "cash.amount":
            assert cash[1][:2] == ["general", "KRW"]
            cash[1][2] = value
        else:
            keys = [row[0] for row in settings]
            if field not in keys:
                settings.append([field, None])
                keys.append(field)
            settings[keys.index(field)][1] = value
    return holdings, cash, settings


def _read_ranges(case: Case) -> Portfolio:
    holdings, cash, settings = _ranges(case)
    inp = read_ranges(holdings, None, cash, settings)
    validate(inp.portfolio, offline=True, locate=inp.locate)
    return inp.portfolio


def _ranges_where(case: Case) -> str:
    if case.field.startswith("holdings."):
        return "Holdings row 2"
    if case.field == "cash.amount":
        return "Cash row 2"
    _, _, settings = _ranges(case)
    return f"Settings row {[row[0] for row in settings].index(case.field) + 1}"


# -- the JSON document -----------------------------------------------------------------------


def _document(case: Case) -> dict[str, Any]:
    doc = seed()
    for field, value in {case.field: case.raw, **case.also}.items():
        if field.startswith("holdings."):
            key = field.split(".", 1)[1]
            if key == "target":
                parent, key = doc["targets"], doc["holdings"][0]["ticker"]
            else:
                parent = doc["holdings"][0]
                if key == "ticker" and value is not None:
                    doc["targets"][str(value)] = doc["targets"].pop(parent["ticker"])
        elif field == "cash.amount":
            parent, key = doc["accounts"][0]["cash"], "KRW"
        elif field.startswith(("fx.", "targets.")):
            head, key = field.split(".", 1)
            parent = doc[head]
        else:
            parts = field.removeprefix("settings.").split(".")
            if parts[0] == "sell_tax":
                parts = ["sell_tax", ".".join(parts[1:])]
            parent = doc["settings"]
            for part in parts[:-1]:
                parent = parent.setdefault(part, {})
            key = parts[-1]
        if value is None:
            parent.pop(key, None)
        else:
            parent[key] = value
    return doc


def _read_json(case: Case, tmp_path: Path) -> Portfolio:
    path = tmp_path / "portfolio.json"
    path.write_text(json.dumps(_document(case), ensure_ascii=False), encoding="utf-8")
    return load_portfolio(path, offline=True)


def _json_where(case: Case) -> str:
    if case.field == "holdings.target":
        return "targets.VOO"
    if case.field.startswith("holdings."):
        return f"holdings[0].{case.field.split('.', 1)[1]}"
    if case.field == "cash.amount":
        return "accounts[0].cash.KRW"
    return case.field


# -- the cases, three ways -------------------------------------------------------------------


def _outcome(read: Any) -> tuple[str, object]:
    try:
        return "value", read()
    except PortfolioError as exc:
        return "error", (exc.location, exc.message)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_reads_the_same_in_all_three_readers(case: Case, built: Path, tmp_path: Path) -> None:
    readers = {
        "workbook": (lambda: read_back(case.field, _read_workbook(built, case)),
                     _workbook_where(built, case)),
        "ranges": (lambda: read_back(case.field, _read_ranges(case)), _ranges_where(case)),
        "json": (lambda: read_back(case.field, _read_json(case, tmp_path)), _json_where(case)),
    }  # fmt: skip
    for name, (read, where) in readers.items():
        kind, got = _outcome(read)
        if isinstance(case.expect, Error):
            assert kind == "error", f"{name} read {got!r}"
            location, message = got  # type: ignore[misc]
            expected = case.expect.message
            if name == "ranges" and case.expect.ranges is not None:
                expected = case.expect.ranges
            assert message == expected, name
            assert location.startswith(where), (name, location)
        else:
            assert (kind, got) == ("value", case.expect), name


ERRORS = [c for c in CASES if isinstance(c.expect, Error)]


@pytest.mark.parametrize("case", ERRORS, ids=lambda c: c.id)
def test_bad_cell_fails_the_refresh_and_leaves_the_workbook_alone(
    case: Case, built: Path, tmp_path: Path
) -> None:
    book = tmp_path / "book.xlsm"
    shutil.copyfile(built, book)
    edits = _workbook_edits(load_workbook(book), case)
    stderr = refresh_fails_leaving_file_alone(book, edits, in_process=True)
    assert isinstance(case.expect, Error)
    assert stderr.startswith(f"xlrebalance: error: {_workbook_where(built, case)}")
    assert stderr.rstrip("\n").endswith(case.expect.message)
    assert stderr.count("\n") == 1


@pytest.mark.parametrize("case", ERRORS, ids=lambda c: c.id)
def test_bad_range_cell_is_one_error_text_in_the_cell(case: Case) -> None:
    holdings, cash, settings = _ranges(case)
    shown = worksheet.trades_table(holdings, None, cash, settings)
    assert isinstance(case.expect, Error)
    assert isinstance(shown, str) and shown.startswith(
        worksheet.ERROR_PREFIX + "Holdings row 2"
        if case.field.startswith("holdings.")
        else worksheet.ERROR_PREFIX
    )
    message = case.expect.ranges or case.expect.message
    assert " ".join(message.split())[:120] in shown


# -- JSON-only: how the file itself is written ------------------------------------------------


def _seed_text() -> str:
    return json.dumps(seed(), ensure_ascii=False, indent=2)


def _nested(depth: int) -> str:
    return '{"version": 1, "x": ' + "[" * depth + "]" * depth + "}"


FILES: list[tuple[str, bytes, str]] = [
    ("utf16-le-bom", _seed_text().encode("utf-16"),
     "the file is UTF-16 text; save it as UTF-8"),
    ("utf16-be-no-bom", _seed_text().encode("utf-16-be"),
     "the file is UTF-16 text; save it as UTF-8"),
    ("latin1", _seed_text().replace("Vanguard", "Vanguard café").encode("latin-1", "replace"),
     "the file is not UTF-8 (byte 0xe9 on line 31, perhaps Latin-1 or CP949); save it as UTF-8"),
    ("cp949", _seed_text().encode("cp949"),
     "the file is not UTF-8 (byte 0xb9 on line 101, perhaps Latin-1 or CP949); save it as UTF-8"),
    ("nested-100000", _nested(100_000).encode(), "nested deeper than 64 levels (line 1)"),
    ("duplicate-top-key", b'{"version": 1, "version": 1}',
     "the key 'version' appears twice in the same object"),
    ("duplicate-holding-key",
     _seed_text().replace('"quantity": 20,', '"quantity": 20, "quantity": 2,', 1).encode(),
     "the key 'quantity' appears twice in the same object"),
    ("not-json", b'{"version": 1,,}', "not valid JSON (line 1, column 15: Expecting property "
     "name enclosed in double quotes)"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "raw", "message"), FILES, ids=[f[0] for f in FILES])
def test_json_file_problems_are_one_clear_line(
    name: str, raw: bytes, message: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{name}.json"
    path.write_bytes(raw)
    with pytest.raises(PortfolioError) as caught:
        load_portfolio(path)
    assert caught.value.message == message
    where = {"duplicate-top-key": "version", "duplicate-holding-key": "holdings[0].quantity"}
    assert caught.value.location == where.get(name, str(path))
    out = subprocess.run(
        [console_script(), "plan", str(path), "--offline"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().endswith(message)


def test_a_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "notepad.json"
    path.write_bytes(b"\xef\xbb\xbf" + _seed_text().encode("utf-8"))
    assert load_portfolio(path) == load_portfolio(SEED)


def test_text_numbers_in_json_read_as_the_typed_numbers(tmp_path: Path) -> None:
    doc = seed()
    typed = copy.deepcopy(doc)
    doc["holdings"][0]["quantity"] = "20"
    doc["holdings"][0]["price"] = "$561.20"
    doc["accounts"][0]["cash"]["KRW"] = "₩1,200,000"
    doc["targets"]["VOO"] = "20%"
    for d, name in ((doc, "text.json"), (typed, "typed.json")):
        (tmp_path / name).write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    assert load_portfolio(tmp_path / "text.json") == load_portfolio(tmp_path / "typed.json")
