"""PlanSession (repeated plans of one book, as the backtest asks for them) against the planner.

The session must keep every rule ``plan`` keeps (checked by the independent ``plancheck``), be
``plan`` itself where it takes no different path (no search: the same LP, rounding and repair,
whatever it planned before), never end above the rounding it starts from, and score candidates with
exactly ``TradeState``'s objective and feasibility.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from plancheck import check_plan
from test_planner_properties import portfolios

from xlrebalance.document import plan_to_dict, portfolio_from_dict
from xlrebalance.errors import InfeasibleError, PortfolioError
from xlrebalance.model import Account, Fee, Holding, Market, Plan, Portfolio, Settings
from xlrebalance.planner import PlannerOptions, plan
from xlrebalance.planner.problem import build_problem
from xlrebalance.planner.session import SMALL_BOOK, Candidates, PlanSession
from xlrebalance.planner.state import TradeState

SESSION_SETTINGS = settings(
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
QUICK = PlannerOptions(exact=False, search_seconds=0.0)
THOROUGH = PlannerOptions(exact=False)


def _plan_or_none(planner: Any, doc: dict[str, Any]) -> Plan | None:
    try:
        result: Plan = planner(portfolio_from_dict(copy.deepcopy(doc), offline=True))
    except (InfeasibleError, PortfolioError):
        return None
    return result


def _same(a: Plan, b: Plan) -> bool:
    left, right = plan_to_dict(a), plan_to_dict(b)
    for out in (left, right):
        out["summary"]["solver"].pop("seconds")
    return left == right


def _cheaper_prices(doc: dict[str, Any], factor: float) -> dict[str, Any]:
    moved = copy.deepcopy(doc)
    for h in moved["holdings"]:
        h["price"] = round(h["price"] * factor, 2)
    return moved


@SESSION_SETTINGS
@given(portfolios())
def test_session_plans_keep_the_rules_and_never_end_above_their_start(doc: dict[str, Any]) -> None:
    note(str(doc))
    session = PlanSession(THOROUGH)
    found = _plan_or_none(session.plan, doc)
    reference = _plan_or_none(lambda p: plan(p, QUICK), doc)
    assert (found is None) == (reference is None)
    if found is None or reference is None:
        return
    check_plan(doc, plan_to_dict(found))
    if doc["settings"]["fractional"]:
        # Fractional books are handed to the planner whole: the session's plan is plan()'s
        # with the same options. (plan()'s last step, spending the fee-rounding margin, starts
        # from each search's own end, so a longer search may end 10**-7 above a shorter one.)
        assert _same(found, plan(portfolio_from_dict(copy.deepcopy(doc), offline=True), THOROUGH))
        return
    # The session's search starts from QUICK's plan (the repaired rounding) and only improves.
    assert found.summary.solver.objective <= reference.summary.solver.objective + 1e-12


@SESSION_SETTINGS
@given(portfolios(tickers=(10, 30), rows=(13, 40), fractional=False))
def test_large_books_take_the_exchange_search_keep_the_rules_and_never_end_above_their_start(
    doc: dict[str, Any],
) -> None:
    # More than SMALL_BOOK positions that may trade: the exchange search, not the roundings.
    note(str(doc))
    session = PlanSession(THOROUGH)
    found = _plan_or_none(session.plan, doc)
    reference = _plan_or_none(lambda p: plan(p, QUICK), doc)
    assert (found is None) == (reference is None)
    if found is None or reference is None:
        return
    check_plan(doc, plan_to_dict(found))
    assert found.summary.solver.objective <= reference.summary.solver.objective + 1e-12
    movable = Candidates(build_problem(portfolio_from_dict(copy.deepcopy(doc), offline=True))).idx
    assert (session.searched_exchanges == 1) == (movable.size > SMALL_BOOK)


@SESSION_SETTINGS
@given(portfolios(), st.sampled_from([0.97, 1.0, 1.03]))
def test_without_search_a_session_plans_exactly_as_plan_after_any_other_plan(
    doc: dict[str, Any], factor: float
) -> None:
    note(str(doc))
    expected = _plan_or_none(lambda p: plan(p, QUICK), doc)
    session = PlanSession(QUICK)
    # The same session first plans the book at other prices, as in a backtest: the plan must
    # not depend on it.
    _plan_or_none(session.plan, _cheaper_prices(doc, factor))
    found = _plan_or_none(session.plan, doc)
    assert (found is None) == (expected is None)
    if found is not None and expected is not None:
        assert _same(found, expected)


@SESSION_SETTINGS
@given(portfolios(), st.randoms(use_true_random=False))
def test_candidates_score_exactly_as_trade_state(doc: dict[str, Any], rng: Any) -> None:
    _candidates_score_as_trade_state(doc, rng)


@SESSION_SETTINGS
@given(
    portfolios(tickers=(10, 30), rows=(13, 40), fractional=False), st.randoms(use_true_random=False)
)
def test_candidates_of_large_books_score_exactly_as_trade_state(
    doc: dict[str, Any], rng: Any
) -> None:
    # Above PLAIN_SUMS_ABOVE movable positions the batch sums without matrix products.
    _candidates_score_as_trade_state(doc, rng)


def _candidates_score_as_trade_state(doc: dict[str, Any], rng: Any) -> None:
    assume(not doc["settings"]["fractional"])
    try:
        problem = build_problem(portfolio_from_dict(copy.deepcopy(doc), offline=True))
    except PortfolioError:
        return
    candidates = Candidates(problem)
    idx = candidates.idx
    assume(idx.size > 0)
    rows = []
    for _ in range(20):
        row = np.zeros(idx.size)
        for r in range(idx.size):
            lo, hi = float(candidates.lo[r]), float(candidates.hi[r])
            row[r] = rng.choice([0.0, lo, hi, float(rng.randint(int(lo), int(hi)))])
        rows.append(row)
    batch = np.array(rows)
    scores, _ = candidates.score(batch)
    for row, score in zip(batch, scores.tolist(), strict=True):
        trades = np.zeros(problem.size)
        trades[idx] = row
        state = TradeState(problem, trades)
        allowed = all(state.allowed(i, q) for i, q in enumerate(trades.tolist()))
        if allowed and state.is_feasible():
            assert abs(score - state.objective) <= 1e-9 * max(problem.total, 1.0), (row, score)
        elif allowed and 0 < max(state.shortfall) < 1e-3:
            continue  # at the cash tolerance itself: summation order may decide either way
        else:
            assert score == np.inf, (row, score, state.shortfall, state.violated_caps())


def _equal_weight_book(prices: list[float], quantities: list[float], cash: float) -> Portfolio:
    tickers = [f"A{i:03d}" for i in range(len(prices))]
    return Portfolio(
        base_currency="USD",
        accounts=(Account("main", {"USD": cash}),),
        holdings=tuple(
            Holding("main", t, Market.US, q, "USD", price=p)
            for t, p, q in zip(tickers, prices, quantities, strict=True)
        ),
        targets={t: 1 / len(tickers) for t in tickers},
        settings=Settings(fees={"US": Fee(0.0025)}, sell_tax={}),
    )


def test_on_ten_position_books_the_session_is_at_least_as_close_as_plan_in_sum() -> None:
    # Twelve monthly books of a drifting 10-asset equal-weight portfolio (the backtest's A
    # anchor in small): summed over them, the session's objective is not above plan's.
    rng = np.random.default_rng(13)
    prices = np.full(10, 10_000.0)
    quantities = np.zeros(10)
    cash = 100_000_000.0
    session = PlanSession(THOROUGH)
    ours = theirs = 0.0
    for _ in range(12):
        book = _equal_weight_book(prices.round(2).tolist(), quantities.tolist(), cash)
        found = session.plan(book)
        reference = plan(book, THOROUGH)
        ours += found.summary.solver.objective
        theirs += reference.summary.solver.objective
        check_plan_money(book, found)
        for order in found.orders:
            k = int(order.ticker[1:])
            quantities[k] += order.quantity if order.side.value == "BUY" else -order.quantity
        cash = found.summary.cash_after["main"]["USD"]
        prices = prices * np.exp(rng.normal(0.005, 0.07, size=10))
    assert ours <= theirs + 1e-12


def check_plan_money(book: Portfolio, found: Plan) -> None:
    """Cash never below zero, no sale of more than is held."""
    held = {h.ticker: h.quantity for h in book.holdings}
    for order in found.orders:
        if order.side.value == "SELL":
            assert order.quantity <= held[order.ticker]
    for balances in found.summary.cash_after.values():
        assert all(v >= -1e-6 for v in balances.values())
