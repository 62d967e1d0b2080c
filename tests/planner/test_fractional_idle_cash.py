"""A fractional ``buy_only`` plan spends its cash down to what fees and the 10**-6 share step
allow, wherever one more step of a buy would still bring the portfolio closer to its targets.

The planner sets one billing unit (a cent) aside per fee any movable row may pay, so that
rounded fees never take an account below zero; a plan that trades 3 of 60 US rows used to
leave the other 57 cents idle. The plan is now topped up against the fees as billed, after
dropping trades whose billed fee is worth more than they are."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from plancheck import check_plan, document, run

from installed_cli import console_script

STEP = 1e-6
CENT = 0.01


def _book(prices: list[float], held: list[int], targets: dict[str, float], **extra: Any) -> Any:
    rows = [
        {"ticker": f"T{i:02d}", "market": "US", "quantity": q, "price": p}
        for i, (p, q) in enumerate(zip(prices, held, strict=True))
    ]
    return document(rows, targets, mode="buy_only", fractional=True, **extra)


def _sixty_rows() -> dict[str, Any]:
    # 60 US rows, ten of them with a target: each movable row had a cent set aside.
    prices = [round(20 + (i * 37.3) % 380, 2) for i in range(60)]
    targets = {f"T{i:02d}": (0.1 if i < 10 else 0.0) for i in range(60)}
    return _book(
        prices,
        [1 + i % 5 for i in range(60)],
        targets,
        cash={"USD": 3000.0},
        fees={"US": {"rate": 0.0025, "min": 0}, "KR": {"rate": 0.0, "min": 0}},
    )


def _idle_usd(out: dict[str, Any]) -> float:
    return float(out["summary"]["cash_after"]["a"]["USD"])


def test_sixty_us_rows_leave_no_idle_margin_through_the_cli(tmp_path: Path) -> None:
    doc = _sixty_rows()
    path = tmp_path / "sixty.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    done = subprocess.run(
        [console_script(), "plan", str(path), "--offline", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    check_plan(doc, out)  # never more cash spent than there is, fees as billed
    prices = [h["price"] for h in doc["holdings"]]
    # Every target ticker is still far under its target: one more step would help.
    assert _idle_usd(out) < max(prices) * STEP * 1.0025 + CENT, out["summary"]["cash_after"]
    assert _idle_usd(out) >= 0
    # No dust: before, it also bought 10**-6 share of two tickers for a billed cent each
    # (the planner counted a fee of 0.0000003 USD).
    assert all(o["amount"] >= 1.0 for o in out["orders"]), out["orders"]


@st.composite
def _books(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 12))
    prices = [draw(st.integers(100, 60_000)) / 100 for _ in range(n)]
    held = [draw(st.integers(0, 20)) for _ in range(n)]
    parts = [draw(st.integers(0, 10)) for _ in range(n)]
    if sum(parts) == 0:
        parts[0] = 1
    targets = {f"T{i:02d}": p / sum(parts) for i, p in enumerate(parts)}
    # A minimum fee with no rate once took ~10 s on some books (test_fractional_room_jump).
    rate, minimum = draw(
        st.sampled_from(
            [(0.0, 0.0), (0.001, 0.0), (0.0025, 0.0), (0.005, 0.0), (0.0025, 1.0), (0.0, 1.0)]
        )
    )
    return _book(
        prices,
        held,
        targets,
        cash={"USD": draw(st.integers(100, 500_000)) / 100},
        fees={"US": {"rate": rate, "min": minimum}, "KR": {"rate": 0.0, "min": 0}},
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_books())
def test_idle_cash_is_below_one_step_and_its_fee_where_a_buy_still_helps(
    doc: dict[str, Any],
) -> None:
    out = run(doc)
    check_plan(doc, out)
    total = out["summary"]["value_after"]
    bought = {o["ticker"] for o in out["orders"] if o["side"] == "BUY"}
    rate = doc["settings"]["fees"]["US"]["rate"]
    price = {h["ticker"]: h["price"] for h in doc["holdings"]}
    # Bought rows still under their target by more than a step: raising one of them costs a
    # step, its fee at the rate, and at most one more billed cent.
    under = [
        t
        for t in bought
        if out["summary"]["weights_after"][t] * total
        < doc["targets"][t] * total - 2 * price[t] * STEP * 1000.0
    ]
    note(f"orders {out['orders']}, under target {under}, cash {out['summary']['cash_after']}")
    if under:
        cheapest = min(price[t] for t in under) * STEP * (1 + rate) + CENT
        assert _idle_usd(out) < cheapest
