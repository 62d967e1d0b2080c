"""The installed ``xlrebalance`` command, as a user runs it: a subprocess, from a folder outside
the checkout, stdout parsed strictly.

An in-process ``main()`` cannot see a library writing to file descriptor 1 (highspy 1.16 prints
a banner from C++ when its first solver is made); only a real process can, so these tests are
what turns such a dependency release into a red test of ours.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from installed_cli import run_console

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "python" / "xlrebalance" / "templates" / "examples").glob("*.json"))
PORTFOLIOS = EXAMPLES + sorted((ROOT / "tests" / "data" / "planner").glob("*.json"))


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_console(*args, cwd=cwd, timeout=120)


@pytest.mark.parametrize("path", PORTFOLIOS, ids=lambda p: p.stem)
def test_plan_json_is_pure_json(path: Path, tmp_path: Path) -> None:
    out = run(["plan", str(path), "--offline", "--json"], tmp_path)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)  # strict: any banner before or after fails here
    assert {"orders", "summary"} <= doc.keys()
    assert doc["summary"]["solver"]["status"] in {"optimal", "time_limit", "heuristic"}


def test_quote_json_is_pure_json(tmp_path: Path) -> None:
    # No network here: the conftest points every source at a closed port. The output must
    # still be a JSON list with one entry per ticker, saying what is missing.
    out = run(["quote", "AAPL", "005930", "USDKRW", "--json"], tmp_path)
    assert out.returncode in (0, 1), out.stderr
    quotes = json.loads(out.stdout)
    assert [q["ticker"] for q in quotes] == ["AAPL", "005930", "USDKRW"]


def test_workbook_new_and_refresh_print_only_their_lines(tmp_path: Path) -> None:
    book = tmp_path / "mine.xlsm"
    made = run(["workbook", "new", str(book), "--example", "seed"], tmp_path)
    assert made.returncode == 0, made.stderr
    assert "Running HiGHS" not in made.stdout
    assert book.exists()
    copy = tmp_path / "copy.xlsm"
    refreshed = run(["refresh", str(book), "--offline", "--out", str(copy)], tmp_path)
    assert refreshed.returncode == 0, refreshed.stderr
    assert "Running HiGHS" not in refreshed.stdout
    assert "HiGHS" not in refreshed.stderr
    assert copy.exists()


def test_plan_of_a_missing_file_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    out = run(["plan", str(tmp_path / "missing.json"), "--offline"], tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stdout == ""
