"""The installed ``xlrebalance backtest`` in a subprocess, outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from backtest_prices import SEED, seed_prices

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    here = Path(sys.executable).parent / "xlrebalance"
    script = str(here) if here.exists() else shutil.which("xlrebalance")
    assert script is not None
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "XLREBALANCE_CACHE_DIR": str(cwd / "cache")}
    env["XLREBALANCE_YAHOO_URL"] = "http://127.0.0.1:9"  # closed: no network in tests
    return subprocess.run(
        [script, "backtest", *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )


def test_json_is_pure_json_with_every_metric(tmp_path: Path) -> None:
    prices = seed_prices(tmp_path / "p.csv")
    out = run(
        [str(SEED), "--prices", str(prices), "--start", "2024-01-01", "--json",
         "--policy", "none", "--policy", "monthly", "--policy", "monthly+band:10%"],
        tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)  # strict: nothing before or after
    assert [p["policy"] for p in doc["policies"]] == ["none", "monthly", "monthly+band:10%"]
    for p in doc["policies"]:
        for key in (
            "final_value",
            "cagr",
            "volatility",
            "sharpe",
            "max_drawdown",
            "rebalances",
            "turnover",
            "fees",
            "taxes",
            "fx_spread",
            "drift_average",
            "drift_max",
        ):
            assert key in p  # fmt: skip
    monthly = doc["policies"][1]
    assert monthly["rebalances"] == 3  # Feb, Mar, Apr 1st trading days
    assert monthly["fees"] > 0 and monthly["fx_spread"] > 0
    assert len(doc["series"]["dates"]) == 70
    assert doc["series"]["values"]["none"][-1] == doc["policies"][0]["final_value"]


def test_text_output_and_a_partial_backtest_says_what_it_left_out(tmp_path: Path) -> None:
    prices = seed_prices(tmp_path / "p.csv", drop="SOXX")
    out = run([str(SEED), "--prices", str(prices), "--policy", "quarterly"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "quarterly" in out.stdout
    assert "SOXX: no price history; left out" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2024-05-01", "--end", "2024-01-01"], "--start: 2024-05-01 is after --end"),
        (["--start", "2030-01-01"], "fewer than two days of prices"),
        (["--policy", "weekly"], "--policy weekly: expected none, monthly"),
        (["--start", "yesterday"], "'yesterday' is not a date"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    prices = seed_prices(tmp_path / "p.csv")
    out = run([str(SEED), "--prices", str(prices), *args], tmp_path)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_offline_without_cache_or_prices_says_what_to_do(tmp_path: Path) -> None:
    out = run([str(SEED), "--offline"], tmp_path)
    assert out.returncode == 2
    assert "run once without --offline, or give --prices FILE" in out.stderr
    assert "Traceback" not in out.stderr


def test_ctrl_c_prints_what_finished_and_names_what_did_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import xlrebalance.backtest.simulate as simulation
    from xlrebalance.cli import main

    real = simulation.simulate
    calls = []

    def interrupted_on_the_second(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(simulation, "simulate", interrupted_on_the_second)
    prices = seed_prices(tmp_path / "p.csv")
    code = main(["backtest", str(SEED), "--prices", str(prices), "--json",
                 "--policy", "none", "--policy", "monthly", "--policy", "quarterly"])  # fmt: skip
    out = capsys.readouterr()
    assert code == 130
    doc = json.loads(out.out)
    assert [p["policy"] for p in doc["policies"]] == ["none"]
    assert doc["not_run"] == ["monthly", "quarterly"]
    assert "interrupted; not run: monthly, quarterly" in out.err


def damaged_prices(path: Path) -> Path:
    """The seed closes with a 13-session hole in QQQ, SOXX ending after 40 sessions (delisted)
    and a column the book does not hold."""
    lines = seed_prices(path).read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    qqq, soxx = header.index("QQQ"), header.index("SOXX")
    out = [lines[0] + ",NOTINBOOK"]
    for i, line in enumerate(lines[1:], 1):
        cells = line.split(",")
        if 20 <= i <= 32:
            cells[qqq] = ""
        if i > 40:
            cells[soxx] = ""
        out.append(",".join(cells) + ",1.0")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def test_a_gap_a_delisting_and_an_unknown_column_are_said_not_hidden(tmp_path: Path) -> None:
    prices = damaged_prices(tmp_path / "p.csv")
    out = run([str(SEED), "--prices", str(prices), "--policy", "monthly", "--json"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    doc = json.loads(out.stdout)
    notes = doc["notes"]
    assert "p.csv: columns not in the portfolio, ignored: NOTINBOOK" in notes
    assert any(n.startswith("QQQ: history gap from 2024-01-29 to 2024-02-14") for n in notes)
    assert any(n.startswith("SOXX: history ends on 2024-02-26") for n in notes)
    assert doc["policies"][0]["final_value"] > 0
    text = run([str(SEED), "--prices", str(prices), "--policy", "none"], tmp_path)
    assert "SOXX: history ends on 2024-02-26 (delisted or renamed?)" in text.stdout


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("date,AAA\n2024-01-02,1\n2024-01-03,2\n", "no price history for any ticker"),
        ("date,VOO\n2024-01-02,1\n2024-13-03,2\n", "p.csv row 3: date '2024-13-03' is not"),
        ("date,VOO\n2024-01-02,1\n2024-01-03,abc\n", "p.csv row 3 column VOO: 'abc' is not"),
        (None, "p.csv: cannot read the prices file"),
    ],
)
def test_bad_prices_files_are_one_clear_line(tmp_path: Path, csv: str | None, message: str) -> None:
    if csv is not None:
        (tmp_path / "p.csv").write_text(csv, encoding="utf-8")
    out = run([str(SEED), "--prices", str(tmp_path / "p.csv")], tmp_path)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_the_table_stays_aligned_with_a_long_policy_name(tmp_path: Path) -> None:
    prices = seed_prices(tmp_path / "p.csv")
    policies = ["--policy", "contribute:1000000KRW@monthly", "--policy", "none"]
    out = run([str(SEED), "--prices", str(prices), *policies], tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("policy "))
    table = lines[header : header + 3]
    # Every row ends its final-value column where the header's does.
    end = table[0].index("final value") + len("final value")
    for row in table[1:]:
        assert row[end - 1].isdigit() and row[end] == " ", row
