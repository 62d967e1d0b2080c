"""The command line as users meet it: what start-up imports, what ``--help`` says, and the plan
printed into a pipe (plain text, the user's language).

Start-up is checked by what gets imported, not by a timed assert (the machine is shared); the
times are measured by bench/startup.py and recorded in docs/cli.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from installed_cli import run_console
from test_console_script import ROOT, run
from xlrebalance.cli import _parser

SEED = ROOT / "python" / "xlrebalance" / "templates" / "examples" / "seed.json"
HEAVY = ("scipy", "highspy", "numpy", "openpyxl", "yfinance", "pykrx", "curl_cffi", "rich",
         "exchange_calendars", "pandas")  # fmt: skip


def imported_after(code: str) -> list[str]:
    """Heavy top-level packages in ``sys.modules`` after running ``code`` in a fresh process."""
    probe = (
        f"{code}\nimport sys, json\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    found: list[str] = json.loads(out.stdout)
    return found


def test_importing_the_cli_and_building_its_parser_loads_no_heavy_library() -> None:
    assert imported_after("import xlrebalance.cli\nxlrebalance.cli._parser()") == []


def test_importing_the_package_is_light_until_a_name_needs_more() -> None:
    assert imported_after("import xlrebalance") == []
    assert imported_after("from xlrebalance import load_portfolio, Portfolio, Plan") == []
    assert imported_after("from xlrebalance import XlRebalanceError, PortfolioError") == []
    assert "numpy" in imported_after("from xlrebalance import plan")


def test_a_cached_quote_does_not_load_the_planner() -> None:
    # The quote command's own imports (what `xlrebalance quote` runs before any network).
    code = "import xlrebalance.cli\nfrom xlrebalance.quotes.prices import quote"
    found = imported_after(code)
    assert not {"scipy", "highspy", "numpy", "openpyxl", "rich"} & set(found)


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found.extend(_subparsers(sub))
    return found


def test_every_argument_has_help() -> None:
    for parser in _subparsers(_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"{parser.prog}: {action.dest} has no help text"


def _help(*args: str) -> str:
    with pytest.raises(SystemExit) as done:
        _parser().parse_args([*args, "--help"])
    assert done.value.code == 0
    return ""


def test_help_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    _help("workbook", "new")
    shown = " ".join(capsys.readouterr().out.split())
    assert "(default: empty)" in shown  # the example a new workbook starts from
    assert "(default: en)" in shown
    _help("quote")
    shown = " ".join(capsys.readouterr().out.split())
    assert "TICKER" in shown and "6-character KRX code" in shown
    _help("workbook", "build")
    assert "default: rebalance.xlsm" in " ".join(capsys.readouterr().out.split())
    _help("plan")
    assert "ko when LANG" in " ".join(capsys.readouterr().out.split())


def test_piped_plan_is_plain_text_with_the_plan_in_it(tmp_path: Path) -> None:
    out = run(["plan", str(SEED), "--offline"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout  # no colour or cursor codes in a pipe or file
    assert "Orders (sells first, then buys)" in out.stdout
    assert "proven optimal" in out.stdout or "from optimal" in out.stdout
    doc = json.loads(run(["plan", str(SEED), "--offline", "--json"], tmp_path).stdout)
    for order in doc["orders"]:
        assert order["ticker"] in out.stdout


def test_piped_plan_even_when_the_terminal_type_asks_for_colour(tmp_path: Path) -> None:
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    out = subprocess.run(
        [sys.executable, "-m", "xlrebalance", "plan", str(SEED), "--offline"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout


def test_korean_headings_from_lang_flag_and_locale(tmp_path: Path) -> None:
    flagged = run(["plan", str(SEED), "--offline", "--lang", "ko"], tmp_path)
    assert flagged.returncode == 0, flagged.stderr
    assert "주문 (매도 먼저, 그다음 매수)" in flagged.stdout
    assert "매도" in flagged.stdout and "SELL" not in flagged.stdout
    env = {**os.environ, "LANG": "ko_KR.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
    by_locale = subprocess.run(
        [sys.executable, "-m", "xlrebalance", "plan", str(SEED), "--offline"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert by_locale.returncode == 0, by_locale.stderr
    assert "괴리" in by_locale.stdout and "Drift" not in by_locale.stdout


def test_a_quote_answered_by_the_cache_builds_no_source(tmp_path: Path) -> None:
    # Building the default sources asks the OS keyring for a KRX login (keyring alone costs
    # about 0.2 s to import); a quote the cache answers must not build them.
    code = f"""
import os, sys
from datetime import UTC, datetime
os.environ["XLREBALANCE_CACHE_DIR"] = {str(tmp_path)!r}
from xlrebalance.quotes.cache import QuoteCache
from xlrebalance.quotes.prices import quote
from xlrebalance.quotes.types import Quote, QuoteStatus
now = datetime.now(UTC)
with QuoteCache() as cache:
    cache.put([Quote("AAPL", 230.1, "USD", now, "yahoo", QuoteStatus.OK, market="US",
                     fetched=now)])
import xlrebalance.quotes.engine as engine
def no_sources(*args, **kwargs):
    raise AssertionError("sources built for a cached quote")
engine.Sources.default = no_sources
[got] = quote(["AAPL"])
assert got.price == 230.1, got
print("keyring" in sys.modules, "yfinance" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_every_command_help_runs_in_the_installed_command(tmp_path: Path) -> None:
    # The help text is formatted with % by argparse: a stray % in a default once made
    # `xlrebalance backtest --help` a traceback. Every subcommand, as a user runs it.
    commands = [
        parser.prog.split()[1:] for parser in _subparsers(_parser()) if parser.prog.split()[1:]
    ]
    assert ["backtest"] in commands
    for command in [[], *commands]:
        done = run_console(*command, "--help", cwd=tmp_path)
        assert done.returncode == 0, (command, done.stderr[-2000:])
        assert done.stdout.startswith("usage: xlrebalance"), command
        assert "Traceback" not in done.stderr
