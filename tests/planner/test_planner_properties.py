"""Property tests: every plan for a generated portfolio keeps the rules, checked independently
(``plancheck.check_plan`` recomputes cash, costs, weights and drift from the orders)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, note, reject, settings
from hypothesis import strategies as st
from plancheck import (
    Facts,
    check_plan,
    document,
    in_band_tickers,
    run,
    sell_everything,
    start_cash,
    total_start,
)

from xlrebalance.errors import InfeasibleError, PortfolioError

PROPERTY_SETTINGS = settings(
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

BANDS = [(0.0, 0.0), (0.05, 0.25), (0.02, 0.0), (0.0, 0.2)]
TAXES = [{"KR:STOCK": 0.002, "KR:ETF": 0.0}, {"KR:STOCK": 0.0, "KR:ETF": 0.0}, {"KR": 0.001}]


@st.composite
def ticker_specs(draw: st.DrawFn, k: int) -> dict[str, Any]:
    us = draw(st.booleans())
    kind = draw(st.sampled_from(["STOCK", "ETF"]))
    if us:
        price = draw(st.integers(100, 60_000)) / 100  # 1.00 .. 600.00 USD
        return {"ticker": f"U{k}", "market": "US", "kind": kind, "price": price}
    price = draw(st.integers(20, 60_000)) * 5  # 100 .. 300,000 KRW in 5-won ticks
    return {"ticker": f"{k:06d}", "market": "KR", "kind": kind, "price": price}


@st.composite
def portfolios(
    draw: st.DrawFn,
    *,
    costs: bool = True,
    tickers: tuple[int, int] = (1, 8),
    rows: tuple[int, int] = (1, 12),
    fractional: bool | None = None,
) -> dict[str, Any]:
    n_accounts = draw(st.integers(1, 3))
    account_ids = [f"acc{i}" for i in range(n_accounts)]
    if fractional is None:
        fractional = draw(st.booleans())
    n_tickers = draw(st.integers(*tickers))
    specs = [draw(ticker_specs(k)) for k in range(n_tickers)]
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, n_accounts - 1), st.integers(0, n_tickers - 1)),
            min_size=min(rows[0], n_accounts * n_tickers),
            max_size=rows[1],
            unique=True,
        )
    )
    holdings = []
    for a, k in pairs:
        if fractional:
            quantity: float = draw(st.integers(0, 300_000)) / 1000
        else:
            quantity = draw(st.integers(0, 300))
        row = {
            **specs[k],
            "account": account_ids[a],
            "quantity": quantity,
            "locked": draw(st.sampled_from([False, False, False, True])),
        }
        holdings.append(row)
    used = list(dict.fromkeys(h["ticker"] for h in holdings))

    # Targets: random integer parts over the held tickers and maybe CASH, normalised.
    keys = [*used, "CASH"]
    parts = [draw(st.integers(0, 10)) for _ in keys]
    if not draw(st.booleans()):
        parts[-1] = 0
    if sum(parts) == 0:
        parts[0] = 1
    targets = {k: p / sum(parts) for k, p in zip(keys, parts, strict=True) if p}

    accounts = []
    for account in account_ids:
        cash: dict[str, float] = {"KRW": draw(st.integers(0, 20_000)) * 1000}
        if draw(st.booleans()):
            cash["USD"] = draw(st.integers(0, 2_000_000)) / 100
        accounts.append({"id": account, "cash": cash})

    groups = []
    for g in range(draw(st.integers(0, 2))):
        members = draw(st.lists(st.sampled_from(used), min_size=1, max_size=3, unique=True))
        cap = draw(st.sampled_from([0.0, 0.05, 0.1, 0.3, 0.6, 1.0]))
        groups.append({"name": f"G{g}", "tickers": members, "max_weight": cap})

    absolute, relative = draw(st.sampled_from(BANDS))
    extra: dict[str, Any] = {
        "mode": draw(st.sampled_from(["rebalance", "buy_only", "sell_only"])),
        "fractional": fractional,
        "band": {"absolute": absolute, "relative": relative},
        "min_trade_value": draw(st.sampled_from([0, 0, 10_000, 200_000])),
        "auto_fx": draw(st.booleans()),
        "contribution": {},
    }
    flow = draw(st.sampled_from(["none", "none", "deposit", "withdraw"]))
    if flow != "none":
        amount = draw(st.integers(1, 5000)) * 1000
        extra["contribution"] = {"KRW": amount if flow == "deposit" else -amount}
        if n_accounts > 1 and draw(st.booleans()):
            extra["contribution_account"] = draw(st.sampled_from(account_ids))
    if costs:
        extra["fees"] = {
            "US": {
                "rate": draw(st.sampled_from([0, 0.0025])),
                "min": draw(st.sampled_from([0, 1])),
            },
            "KR": {
                "rate": draw(st.sampled_from([0, 0.00015, 0.003])),
                "min": draw(st.sampled_from([0, 500])),
            },
        }
        extra["sell_tax"] = draw(st.sampled_from(TAXES))
        extra["fx_spread"] = draw(st.sampled_from([0.0, 0.001, 0.01]))
    return document(
        holdings, targets, accounts=accounts, fx={"USDKRW": 1385.5}, **extra, groups=groups
    )


# Bugs pinned in test_found_bugs.py that are still open: (input predicate, pattern of the
# checker's message). An example failing that way on such an input is rejected here so the
# properties keep hunting for new bugs; remove an entry when its bug is fixed. (Empty: every
# bug pinned so far passes against the planner as of this commit.)
KNOWN_BUGS: list[tuple[Callable[[dict[str, Any]], bool], re.Pattern[str]]] = []


def check_unless_known_bug(doc: dict[str, Any], out: dict[str, Any]) -> Facts:
    try:
        return check_plan(doc, out)
    except AssertionError as exc:
        message = str(exc)
        if any(pred(doc) and pattern.match(message) for pred, pattern in KNOWN_BUGS):
            reject()
        raise


def _plan_or_prove_infeasible(doc: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return _plan_or_prove_infeasible_strict(doc)
    except AssertionError as exc:
        if any(pred(doc) and pattern.match(str(exc)) for pred, pattern in KNOWN_BUGS):
            reject()
        raise


def _plan_or_prove_infeasible_strict(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The plan; or None when the planner says infeasible and we can confirm it is."""
    note(json.dumps(doc))
    if total_start(doc) <= 0:
        # A withdrawal as large as the whole portfolio: must be refused, not planned.
        try:
            run(doc)
        except (PortfolioError, InfeasibleError):
            return None
        raise AssertionError("planned a withdrawal larger than the whole portfolio")
    try:
        return run(doc)
    except InfeasibleError as exc:
        # Acceptable only if neither doing nothing nor selling everything that may be sold
        # keeps the rules (the checker raises AssertionError for a broken candidate).
        for candidate in ({"orders": [], "conversions": [], "summary": {}}, sell_everything(doc)):
            try:
                check_plan(doc, candidate, summary=False)
            except AssertionError:
                continue
            raise AssertionError(
                f"InfeasibleError ({exc}) but this plan is valid: {candidate}"
            ) from exc
        return None


@PROPERTY_SETTINGS
@given(portfolios())
def test_every_plan_keeps_the_rules(doc: dict[str, Any]) -> None:
    out = _plan_or_prove_infeasible(doc)
    if out is None:
        return
    check_unless_known_bug(doc, out)
    solver = out["summary"]["solver"]
    assert solver["status"] in {"optimal", "time_limit", "heuristic"}
    assert solver["gap"] >= 0


def _empty_plan_allowed(doc: dict[str, Any]) -> bool:
    """Whether doing nothing keeps the rules: every balance covered (with lossless automatic
    FX when on) and no group above its cap."""
    for balances in start_cash(doc).values():
        if doc["settings"]["auto_fx"]:
            if sum(v * (1385.5 if c == "USD" else 1.0) for c, v in balances.items()) < 0:
                return False
        elif any(v < 0 for v in balances.values()):
            return False
    try:
        check_plan(doc, {"orders": [], "conversions": [], "summary": {}}, summary=False)
    except AssertionError:
        return False
    total = total_start(doc)
    for g in doc["groups"]:
        value = sum(
            h["quantity"] * h["price"] * (1385.5 if h["currency"] == "USD" else 1.0)
            for h in doc["holdings"]
            if h["ticker"] in g["tickers"]
        )
        if value > g["max_weight"] * total:
            return False
    return True


@PROPERTY_SETTINGS
@given(portfolios(costs=False))
def test_without_costs_a_plan_is_never_worse_than_doing_nothing(doc: dict[str, Any]) -> None:
    out = _plan_or_prove_infeasible(doc)
    if out is None:
        return
    facts = check_unless_known_bug(doc, out)
    if _empty_plan_allowed(doc):
        assert facts.drift_after <= facts.drift_empty + 1e-9, (
            f"drift {facts.drift_empty} if nothing traded, {facts.drift_after} after the plan"
        )


@settings(deadline=None, max_examples=30)
@given(portfolios())
def test_same_input_same_plan(doc: dict[str, Any]) -> None:
    first = _plan_or_prove_infeasible(doc)
    if first is None:
        return
    second = run(copy.deepcopy(doc))
    for out in (first, second):
        out["summary"]["solver"].pop("seconds")
    assert first == second


def test_band_helper_sees_a_ticker_inside_its_band() -> None:
    # Guards the band property: if in_band_tickers never found anything, it would test nothing.
    doc = document(
        [
            {"ticker": "A", "quantity": 42, "price": 1000},
            {"ticker": "B", "quantity": 58, "price": 1000},
        ],
        {"A": 0.4, "B": 0.6},
        band={"absolute": 0.05, "relative": 0.25},
    )
    assert in_band_tickers(doc, margin=1e-9) == {"A", "B"}
