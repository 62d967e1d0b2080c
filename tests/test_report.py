"""The terminal plan (report.py): snapshots of the seed example in English and Korean at a fixed
width, and the rules the rendering must keep (sells first, stale rows marked, status in words).

The snapshots render a plan recorded from ``xlrebalance plan
python/xlrebalance/templates/examples/seed.json --offline --json``
(tests/data/report/seed.plan.json), so a planner change does not move them; the live planner's
plan is rendered by the console-script tests. To accept a deliberate change
of the layout: ``XLREBALANCE_UPDATE_SNAPSHOTS=1 pytest tests/test_report.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from xlrebalance.document import load_portfolio
from xlrebalance.model import (
    Conversion,
    Order,
    Plan,
    Side,
    SolverReport,
    SolverStatus,
    Summary,
)
from xlrebalance.report import default_lang, format_plan, solver_words

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "report"
SEED = ROOT / "python" / "xlrebalance" / "templates" / "examples" / "seed.json"
WIDTH = 100


def plan_from_dict(doc: dict[str, Any]) -> Plan:
    """The inverse of ``plan_to_dict`` for the fields the terminal shows."""
    s = doc["summary"]
    summary = Summary(
        base_currency=s["base_currency"],
        value_before=s["value_before"],
        value_after=s["value_after"],
        drift_before=s["drift_before"],
        drift_after=s["drift_after"],
        cash_after=s["cash_after"],
        fees_total=s["fees_total"],
        taxes_total=s["taxes_total"],
        fx_cost_total=s["fx_cost_total"],
        solver=SolverReport(
            status=SolverStatus(s["solver"]["status"]),
            gap=s["solver"]["gap"],
            seconds=s["solver"]["seconds"],
        ),
        weights_before=s["weights_before"],
        weights_after=s["weights_after"],
    )
    orders = tuple(
        Order(
            account=o["account"],
            ticker=o["ticker"],
            side=Side(o["side"]),
            quantity=o["quantity"],
            price=o["price"],
            currency=o["currency"],
            amount=o["amount"],
            fees=o["fees"],
            taxes=o["taxes"],
        )
        for o in doc["orders"]
    )
    conversions = tuple(Conversion(**c) for c in doc["conversions"])
    return Plan(orders, summary, conversions, tuple(doc["warnings"]))


def seed_plan() -> Plan:
    return plan_from_dict(json.loads((DATA / "seed.plan.json").read_text(encoding="utf-8")))


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_seed_plan_snapshot(lang: str) -> None:
    shown = format_plan(seed_plan(), load_portfolio(SEED), lang=lang, width=WIDTH) + "\n"
    snapshot = DATA / f"seed.{lang}.txt"
    if os.environ.get("XLREBALANCE_UPDATE_SNAPSHOTS"):
        snapshot.write_text(shown, encoding="utf-8")
    assert shown == snapshot.read_text(encoding="utf-8")


def test_plain_text_has_no_escape_codes_and_no_trailing_blanks() -> None:
    shown = format_plan(seed_plan(), load_portfolio(SEED), stale=("QQQ",), width=WIDTH)
    assert "\x1b" not in shown
    assert all(line == line.rstrip() for line in shown.splitlines())


@pytest.mark.parametrize("columns", [80, 100, 160])
def test_only_names_give_way_on_a_narrow_terminal(columns: int) -> None:
    from rich.cells import cell_len

    for lang in ("en", "ko"):
        shown = format_plan(seed_plan(), load_portfolio(SEED), lang=lang, width=columns)
        assert max(cell_len(line) for line in shown.splitlines()) <= columns
        for line in shown.splitlines():
            if "…" in line:  # an ellipsis only ever ends a name (third column of an order)
                assert line.split()[0] in ("general", "isa"), line
        for figure in ("3,093,750", "5,050.80", "41,675,645 KRW", "56.21% → 2.06%"):
            assert figure in shown


def test_sells_come_before_buys() -> None:
    plan = seed_plan()
    assert [o.side for o in plan.orders] != sorted(
        (o.side for o in plan.orders), key=lambda s: s is not Side.SELL
    ), "the recorded plan interleaves sides, so this test can fail"
    lines = format_plan(plan, load_portfolio(SEED), width=WIDTH).splitlines()
    sides = [word for line in lines for word in line.split() if word in ("BUY", "SELL")]
    assert sides == sorted(sides, key=lambda s: s != "SELL")
    assert sides.count("SELL") == sum(o.side is Side.SELL for o in plan.orders)


def test_stale_prices_are_marked_on_their_rows_only() -> None:
    shown = format_plan(seed_plan(), load_portfolio(SEED), stale=("QQQ",), width=WIDTH)
    marked = [line.split() for line in shown.splitlines() if "*" in line]
    # The QQQ order's price, the QQQ weight row, and the note saying what * means.
    assert [m[:2] for m in marked[:2]] == [["general", "QQQ"], ["QQQ*", "21.39%"]]
    assert "512.30*" in marked[0]
    assert (
        " ".join(marked[2]) == "Warning * stale price: refresh quotes before placing these orders"
    )
    korean = format_plan(seed_plan(), load_portfolio(SEED), stale=("QQQ",), lang="ko")
    assert sum("*" in line for line in korean.splitlines()) == 3
    assert "오래된 가격" in korean


def test_drift_contribution_and_status_explain_themselves() -> None:
    shown = format_plan(seed_plan(), load_portfolio(SEED), width=WIDTH)
    assert "(sum of |weight − target|; 0 = on target)" in shown
    assert re.search(r"^Contribution +2,000,000 KRW into general$", shown, re.MULTILINE)
    assert "proven optimal" in shown


def test_withdrawal_names_the_account_it_comes_from() -> None:
    from dataclasses import replace

    portfolio = load_portfolio(SEED)
    settings = replace(portfolio.settings, contribution={"USD": -120.5}, contribution_account="isa")
    shown = format_plan(seed_plan(), replace(portfolio, settings=settings), width=WIDTH)
    assert re.search(r"^Withdrawal +120\.50 USD from isa$", shown, re.MULTILINE)


def test_solver_status_in_words() -> None:
    optimal = SolverReport(SolverStatus.OPTIMAL, 0.0, 0.1)
    heuristic = SolverReport(SolverStatus.HEURISTIC, 0.0003, 0.1)
    limited = SolverReport(SolverStatus.TIME_LIMIT, 0.0125, 1.0)
    assert solver_words(optimal) == "proven optimal"
    assert solver_words(heuristic) == "best found, at most 0.03% from optimal"
    assert solver_words(limited).endswith("best found, at most 1.25% from optimal")
    assert solver_words(heuristic, "ko") == "찾은 최선안, 최적과의 차이 최대 0.03%"


def test_korean_headings_follow_the_locale() -> None:
    assert default_lang({"LANG": "ko_KR.UTF-8"}) == "ko"
    assert default_lang({"LANG": "en_US.UTF-8"}) == "en"
    assert default_lang({"LC_ALL": "C.UTF-8", "LANG": "ko_KR.UTF-8"}) == "en"  # LC_ALL wins
    assert default_lang({"LC_ALL": "", "LC_MESSAGES": "ko_KR"}) == "ko"
    assert default_lang({}) == "en"
