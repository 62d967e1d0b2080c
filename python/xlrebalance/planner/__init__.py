"""The trade planner: from a validated portfolio with prices to exact, cost-aware orders.

Pipeline (see docs/planner.md): LP relaxation (HiGHS) -> rounding and repair -> local search,
then, when the heuristic cannot prove itself optimal against the lower bounds and the problem
is small enough to be cheap, a warm-started branch and bound under a node budget. Every plan
says which of these answered: ``optimal`` (proven), ``time_limit`` (exact search stopped, with
its gap) or ``heuristic`` (with its gap to the best lower bound). Gaps are in drift units.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from xlrebalance.errors import InfeasibleError
from xlrebalance.model import (
    CASH,
    Conversion,
    Order,
    Plan,
    Portfolio,
    Side,
    SolverReport,
    SolverStatus,
    Summary,
)
from xlrebalance.planner.costs import settle, trade_fee, trade_tax
from xlrebalance.planner.drift import drift, weights
from xlrebalance.planner.formulation import formulate
from xlrebalance.planner.highs import solve_exact, solve_relaxation
from xlrebalance.planner.problem import (
    FRACTIONAL_DIGITS,
    FloatArray,
    Problem,
    build_problem,
    without_margin,
)
from xlrebalance.planner.search import (
    IMPROVE_EPS,
    ideal_start,
    improve,
    integer_bound,
    repair,
    round_trades,
)
from xlrebalance.planner.state import COST_WEIGHT, TradeState

__all__ = ["PlannerOptions", "assemble_plan", "plan", "plan_trades"]

OPTIMALITY_TOLERANCE = 1e-6
"""Gap below which a plan counts as proven optimal, in drift units (a millionth of the
portfolio: 40 KRW on a 40M KRW book). The gap is still reported as it is."""


FAR_GAP = 1e-3
"""A plan whose gap to its lower bound is above this (and above a tenth of its objective)
says so in a warning."""

EXACT_SAFETY_SECONDS = 30.0
"""Wall-clock safety net of the exact phase, which its node budget ends long before."""


@dataclass(frozen=True)
class PlannerOptions:
    """How hard to try. The defaults keep planning well under a second at 500 positions."""

    exact: bool = True
    exact_max_positions: int = 30
    node_limit: int = 300
    heuristic_effort: float = 0.3  # HiGHS's primal heuristics in the exact phase (work share)
    time_limit: float | None = None  # None: the portfolio's settings.time_limit
    search_seconds: float = 30.0  # safety net only: work bounds end the search first
    lp_max_positions: int = 3000  # above: no LP relaxation (too slow), the ideal plan instead


@dataclass(frozen=True)
class TradeResult:
    trades: FloatArray
    state: TradeState
    report: SolverReport
    problem: Problem  # as solved: caps found unreachable on the way are marked so


def _start(problem: Problem, options: PlannerOptions) -> tuple[TradeState, float]:
    """The LP relaxation's plan, rounded and repaired, and the LP's bound (above
    ``options.lp_max_positions`` movable positions: every ticker to its target, no LP)."""
    movable = int(np.count_nonzero((problem.lo < 0) | (problem.hi > 0)))
    bound = -np.inf
    if movable > options.lp_max_positions:
        start = ideal_start(problem)
    else:
        relaxed = formulate(problem, relax=True)
        lp = solve_relaxation(relaxed)
        bound = lp.bound
        if lp.solution is not None:
            start = round_trades(problem, relaxed.trades(lp.solution))
        else:
            start = np.zeros(problem.size)
    return repaired_start(problem, start), bound


def repaired_start(problem: Problem, start: FloatArray) -> TradeState:
    """``start`` made to keep every rule (cash, caps, bounds) by :func:`repair`, or, where it
    cannot be, no trades at all repaired."""
    state = TradeState(problem, start)
    try:
        repair(state)
    except InfeasibleError:
        # The relaxation cannot see minimum fees and trade sizes; from no trades at all,
        # repair only has to cover withdrawals, and its message then names the real cause.
        state = TradeState(problem)
        try:
            repair(state)
        except InfeasibleError:
            # A cap whose only sales cannot pay their own fees: it is unreachable.
            state = TradeState(problem)
            repair(state, keep_cash=True)
    return state


def _polish(problem: Problem, state: TradeState) -> TradeState:
    """With fractional shares, the plan's LP: which rows trade (and so which minimum fees and
    trade sizes apply) is kept, every quantity is re-optimised, then rounded to 10**-6 shares
    and repaired. The local search alone would crawl there in 10**-6 steps."""
    form = formulate(problem)
    lower, upper = form.col_lower.copy(), form.col_upper.copy()
    n = problem.size
    for j, i in enumerate(form.binaries.tolist()):
        trades = state.x[i] != 0
        lower[form.z_start + j] = upper[form.z_start + j] = 1.0 if trades else 0.0
        if not trades:
            upper[i] = upper[n + i] = 0.0
    lp = solve_relaxation(replace(form, col_lower=lower, col_upper=upper))
    if lp.solution is None:
        return state
    candidate = TradeState(problem, round_trades(problem, form.trades(lp.solution)))
    try:
        repair(candidate)
    except InfeasibleError:
        return state
    if candidate.relaxed_caps or candidate.objective >= state.objective:
        return state
    return candidate


def _unreachable(problem: Problem, names: list[str]) -> Problem:
    """``problem`` with the caps ``names`` marked unreachable (their groups may not rise)."""
    caps = tuple(replace(c, reachable=False) if c.name in names else c for c in problem.caps)
    warnings = tuple(
        f"group {name} stays above its cap: no sale the account can pay for (fees, cash) "
        "brings it under; its value may not rise"
        for name in names
    )
    return replace(problem, caps=caps, warnings=problem.warnings + warnings)


def plan_trades(problem: Problem, options: PlannerOptions, time_limit: float) -> TradeResult:
    """Solve the flattened problem; the trade per position and how it was found."""
    started = time.perf_counter()
    state, lp_bound = _start(problem, options)
    while state.relaxed_caps:
        # Repair found a cap no affordable sale reaches: solve again with that rule, so that
        # the relaxation, the bounds and the exact phase all see the rule the plan keeps.
        problem = _unreachable(problem, state.relaxed_caps)
        state, lp_bound = _start(problem, options)
    if problem.fractional:
        state = _polish(problem, state)
    improve(state, started + options.search_seconds)
    if problem.fractional:
        polished = _polish(problem, state)
        if polished is not state:
            state = polished
            improve(state, started + options.search_seconds)
    bound = max(
        lp_bound,
        integer_bound(
            problem, upper=state.objective, proven_within=OPTIMALITY_TOLERANCE * problem.total
        ),
    )
    scale = problem.total
    status = SolverStatus.HEURISTIC
    if state.objective - bound <= OPTIMALITY_TOLERANCE * scale:
        status = SolverStatus.OPTIMAL
    movable = int(np.count_nonzero((problem.lo < 0) | (problem.hi > 0)))
    # The exact phase ends at its node budget; the clock is only a far-away safety net (a
    # loaded machine must get the same plan as an idle one).
    budget = max(time_limit, EXACT_SAFETY_SECONDS)
    if (
        status is not SolverStatus.OPTIMAL
        and options.exact
        and movable <= options.exact_max_positions
    ):
        form = formulate(problem)
        warm = form.solution_for(problem, state.trades())
        exact = solve_exact(
            form,
            warm,
            node_limit=options.node_limit,
            time_limit=budget,
            abs_gap=OPTIMALITY_TOLERANCE * scale,
            heuristic_effort=options.heuristic_effort,
        )
        if exact.solution is not None:
            trades = np.round(form.trades(exact.solution) / problem.step) * problem.step
            trades = np.clip(trades, problem.lo, problem.hi)
            candidate = TradeState(problem, trades)
            if (
                candidate.is_feasible()
                and all(candidate.allowed(i, q) for i, q in enumerate(candidate.x))
                and candidate.objective < state.objective
            ):
                # HiGHS stops anywhere within its gap tolerance, which differs by version;
                # the local search then settles the plan the same way on every version.
                improve(candidate, time.perf_counter() + options.search_seconds)
                state = candidate
        bound = max(bound, exact.bound)
        status = SolverStatus.TIME_LIMIT
    problem, report = solver_report(problem, state, bound, status, started)
    return TradeResult(state.trades(), state, report, problem)


def solver_report(
    problem: Problem, state: TradeState, bound: float, status: SolverStatus, started: float
) -> tuple[Problem, SolverReport]:
    """The plan's status and gap against ``bound``; a plan far from its bound says so in a
    warning (added to the returned problem). One wording for every entry point."""
    scale = problem.total
    gap = max(0.0, state.objective - bound) / scale
    if gap <= OPTIMALITY_TOLERANCE:
        status = SolverStatus.OPTIMAL
    if gap > FAR_GAP and gap > 0.1 * state.objective / scale:
        far = (
            f"the plan may be up to {gap:.2%} of the portfolio from the best possible "
            f"(solver {status.value}, objective {state.objective / scale:.4%}, lower bound "
            f"{bound / scale:.4%}); the bound is not exact (it relaxes caps and prices cash), "
            "so the plan may be closer"
        )
        problem = replace(problem, warnings=(*problem.warnings, far))
    report = SolverReport(
        status=status,
        gap=gap,
        seconds=time.perf_counter() - started,
        objective=state.objective / scale,
        bound=bound / scale,
    )
    return problem, report


def plan(portfolio: Portfolio, options: PlannerOptions | None = None) -> Plan:
    """Orders that bring ``portfolio`` closest to its targets (prices and FX must be present)."""
    options = options or PlannerOptions()
    problem = build_problem(portfolio)
    limit = options.time_limit if options.time_limit is not None else portfolio.settings.time_limit
    result = plan_trades(problem, options, limit)
    if problem.margin_short and not _settles(portfolio, result.problem, result.state):
        # An account held less than the rounding margin and the plan spends it to the last
        # cent: plan again with the whole margin set aside (trades must earn it), and keep
        # doing nothing if that is closer to the targets or nothing else is possible.
        strict = build_problem(portfolio, full_margin=True)
        idle = TradeState(result.problem)
        try:
            retried = plan_trades(strict, options, limit)
        except InfeasibleError:
            retried = None
        if retried is not None and retried.state.objective <= idle.objective:
            return assemble_plan(portfolio, retried.problem, retried.state, retried.report)
        if idle.account_feasible() and _settles(portfolio, result.problem, idle):
            # Doing nothing; a group it leaves above its cap is named, as when no sale the
            # account can pay for brings it under.
            for g in idle.violated_caps():
                idle.relax_cap(g)
            return assemble_plan(portfolio, result.problem, idle, result.report)
        if retried is None:
            raise InfeasibleError(
                "no plan keeps every account's cash above zero once fees are rounded"
            )
        return assemble_plan(portfolio, retried.problem, retried.state, retried.report)
    result = _spend_rounding_margin(portfolio, result)
    return assemble_plan(portfolio, result.problem, result.state, result.report)


def _spend_rounding_margin(portfolio: Portfolio, result: TradeResult) -> TradeResult:
    """A fractional plan with its own trades raised (buy more, sell less) into the cash the
    rounding margin kept idle, each raise checked against the fees and taxes as billed.

    The planner sets one billing unit aside per fee any movable row may pay; a plan that
    buys 3 of 60 US rows pays 3 rounded fees, so about 0.57 USD sat idle although a fraction
    of a share more would bring the portfolio closer to its targets. Whole-share plans keep
    the margin: it is cents, less than any share."""
    state = result.state
    trading = np.array(state.x) != 0
    if not result.problem.fractional or not trading.any():
        return result
    problem = without_margin(result.problem, trading)
    topped = TradeState(problem, state.trades())
    fees, taxes = _rounded_costs(portfolio, topped)
    billed = [f + t for f, t in zip(fees, taxes, strict=True)]
    dropped = _drop_dust(topped, billed)
    bound = _cash_bound_accounts(result.problem, state, trading, dropped)
    if not bound and not dropped.any():
        return result
    rows_of = _rows_of(problem)
    for a in bound:
        movable = [i for i in rows_of[a] if topped.x[i] != 0]
        for _ in range(2 * len(movable) + 4):
            if not _top_up_once(portfolio, topped, a, movable, billed):
                break
    before = state.objective + _rounding_weight(state, fees, taxes)
    if topped.objective + _rounding_weight(topped, billed, [0.0] * problem.size) >= before:
        return result
    if not _settles(portfolio, problem, topped):
        return result
    report = replace(
        result.report,
        objective=topped.objective / problem.total,
        gap=max(0.0, topped.objective / problem.total - result.report.bound),
    )
    return TradeResult(topped.trades(), topped, report, problem)


def _rounding_weight(state: TradeState, fees: list[float], taxes: list[float]) -> float:
    """What billing adds to the objective's costs: fees and taxes as billed (``fees`` and
    ``taxes`` per position, native) less what the planner counts, at the costs' weight."""
    p = state.problem
    extra = 0.0
    for i, q in enumerate(state.x):
        if q != 0:
            counted = state.fee_native(i) + state.tax_native(i)
            extra += (fees[i] + taxes[i] - counted) * float(p.rate[p.currency[i]])
    return COST_WEIGHT * extra


def _drop_dust(state: TradeState, billed: list[float]) -> FloatArray:
    """Undo the trades whose billed cost is above what the planner counted by more than they
    are worth: 10**-6 share bought for a fee of 0.0000003 USD that is billed a whole cent.
    The cash each account gets back (base currency), for the top-up to spend."""
    p = state.problem
    freed = np.zeros(len(p.accounts))
    for i, q in enumerate(state.x):
        if q == 0:
            continue
        extra = billed[i] - state.fee_native(i) - state.tax_native(i)
        if extra <= 0:
            continue
        delta, ok = state.evaluate(i, 0.0)
        if ok and delta < COST_WEIGHT * extra * float(p.rate[p.currency[i]]):
            freed[p.account[i]] += (q * p.price_native[i] + billed[i]) * p.rate[p.currency[i]]
            state.apply(i, 0.0)
            billed[i] = 0.0
    return freed


def _cash_bound_accounts(
    p: Problem, state: TradeState, trading: npt.NDArray[np.bool_], dropped: FloatArray
) -> list[int]:
    """Accounts that may pay for more: the plan left them less cash than their margin plus
    one step of each of their trades (rounding each row to 10**-6 shares may leave up to a
    step). An account with cash to spare (a cash target, every ticker at its target) was not
    held back, and checking it would cost time on large books for nothing."""
    freed = ((p.withheld_native - p.reserve_native) * p.rate).sum(axis=1) + dropped
    left = (np.array(state.balances) * p.rate).sum(axis=1)
    steps = np.bincount(
        p.account[trading],
        weights=p.unit[trading] * p.step * (1 + p.fee_rate[trading]),
        minlength=len(p.accounts),
    )
    return [a for a in range(len(p.accounts)) if 0 < left[a] + freed[a] <= freed[a] + steps[a]]


def _billed_cost(portfolio: Portfolio, state: TradeState, i: int, q: float) -> float:
    """Fee and tax of position ``i`` trading ``q``, as the broker bills them."""
    h = portfolio.holdings[i]
    s = portfolio.settings
    rule = s.rounding(h.market)
    fee = s.fee(h.market)
    price = float(state.problem.price_native[i])
    return rule.apply(trade_fee(q, price, fee.rate, fee.min)) + rule.apply(
        trade_tax(q, price, s.tax_rate(h.market, h.kind))
    )


def _top_up_once(
    portfolio: Portfolio, state: TradeState, a: int, rows: list[int], billed: list[float]
) -> bool:
    """Raise the one trade of account ``a`` that helps the objective most, by as many steps
    as its cash pays for once costs are billed (or up to its ticker's target); ``billed``
    (per position) is kept up to date. False when no raise helps."""
    p = state.problem
    if not rows:
        return False
    real = _real_balances(portfolio, p, state, a, billed, [0.0] * p.size, rows)
    rates = p.rate.tolist()
    step = p.step
    deviations = state.deviations()
    best: tuple[float, int, float] | None = None
    for i in rows:
        x, c, price = state.x[i], int(p.currency[i]), float(p.price_native[i])

        def settles(q: float, x: float = x, c: int = c, price: float = price, i: int = i) -> bool:
            """Cash pays for ``q`` with costs as billed and as the planner counts them
            (fees rounded down bill less than it counts: it keeps to its own count), and
            no group cap breaks."""
            balances = real[:]
            balances[c] -= (q - x) * price + _billed_cost(portfolio, state, i, q) - billed[i]
            if not settle(balances, rates, p.base, p.auto_fx, p.fx_spread).feasible:
                return False
            return state.evaluate(i, q)[1]

        ceiling = min(p.hi[i], -step) if x < 0 else p.hi[i]  # a sale stays a sale
        most = math.floor((ceiling - x) / step + 1e-9)
        if most < 1 or not settles(round(x + step, 9)):
            continue
        low, high = 1, most  # settles(low) holds; find the largest k that settles
        while low < high:
            mid = (low + high + 1) // 2
            if settles(round(x + mid * step, 9)):
                low = mid
            else:
                high = mid - 1
        to_target = math.floor(-deviations[int(p.ticker[i])] / float(p.unit[i]) / step + 1e-9)
        for k in {low, min(low, to_target)}:
            q = round(x + k * step, 9)
            if k < 1 or not state.allowed(i, q):
                continue
            delta, ok = state.evaluate(i, q)
            if ok and delta < -IMPROVE_EPS * p.total and (best is None or delta < best[0]):
                best = (delta, i, q)
    if best is None:
        return False
    _, i, q = best
    state.apply(i, q)
    billed[i] = _billed_cost(portfolio, state, i, q)
    return True


def _rounded_costs(portfolio: Portfolio, state: TradeState) -> tuple[list[float], list[float]]:
    """Fee and tax of each position as the broker bills them (rounded per market)."""
    s = portfolio.settings
    fees, taxes = [], []
    for i, h in enumerate(portfolio.holdings):
        rule = s.rounding(h.market)
        fees.append(rule.apply(state.fee_native(i)))
        taxes.append(rule.apply(state.tax_native(i)))
    return fees, taxes


def _real_balances(
    portfolio: Portfolio,
    p: Problem,
    state: TradeState,
    a: int,
    fees: list[float],
    taxes: list[float],
    rows: list[int],
) -> list[float]:
    """Account ``a``'s balances after trades at billed costs, less its reserve: what the
    planner's balances (cash less reserve and margin) become once the margin is given back
    and the rounding taken."""
    balances = [
        b + float(w) - float(r)
        for b, w, r in zip(
            state.balances[a], p.withheld_native[a], p.reserve_native[a], strict=True
        )
    ]
    for i in rows:
        extra = fees[i] - state.fee_native(i) + taxes[i] - state.tax_native(i)
        balances[int(p.currency[i])] -= extra
    return balances


def _rows_of(p: Problem) -> list[list[int]]:
    """The positions of each account (one pass: scanning every position per account was
    minutes at 5,000 accounts)."""
    rows: list[list[int]] = [[] for _ in p.accounts]
    for i, a in enumerate(p.account.tolist()):
        rows[a].append(i)
    return rows


def _settles(portfolio: Portfolio, p: Problem, state: TradeState) -> bool:
    """Whether every account stays at or above its reserve once costs are rounded."""
    fees, taxes = _rounded_costs(portfolio, state)
    rates = p.rate.tolist()
    rows = _rows_of(p)
    return all(
        settle(_real_balances(portfolio, p, state, a, fees, taxes, rows[a]), rates, p.base,
               p.auto_fx, p.fx_spread).feasible
        for a in range(len(p.accounts))
    )  # fmt: skip


def assemble_plan(
    portfolio: Portfolio, problem: Problem, state: TradeState, report: SolverReport
) -> Plan:
    """Orders, cash after and summary for the trades in ``state`` (any solver's). Fees and
    taxes are reported as the broker rounds them; cash after follows from those."""
    p = problem
    fees, taxes = _rounded_costs(portfolio, state)
    orders = []
    for i, h in enumerate(portfolio.holdings):
        q = state.x[i]
        if q == 0:
            continue
        # The search adds and subtracts steps of 10**-6 in floating point: the order states
        # the grid value it means, not its binary neighbour (5473.4406149999995).
        quantity = round(abs(q), FRACTIONAL_DIGITS) if p.fractional else float(round(abs(q)))
        orders.append(
            Order(
                account=h.account,
                ticker=h.ticker,
                side=Side.BUY if q > 0 else Side.SELL,
                quantity=quantity,
                price=float(p.price_native[i]),
                currency=h.currency,
                amount=_money(quantity * float(p.price_native[i])),
                fees=_money(fees[i]),
                taxes=_money(taxes[i]),
                name=h.name,
            )
        )
    account_order = {a: n for n, a in enumerate(p.accounts)}
    orders.sort(key=lambda o: account_order[o.account])  # stable: holdings order within

    rates = p.rate.tolist()
    cash_after: dict[str, dict[str, float]] = {}
    conversions: list[Conversion] = []
    base = p.currencies[p.base]
    fx_cost = 0.0
    cash_total_after = 0.0
    rows_of = _rows_of(p)
    for a, account in enumerate(p.accounts):
        balances = _real_balances(portfolio, p, state, a, fees, taxes, rows_of[a])
        settled = settle(balances, rates, p.base, p.auto_fx, p.fx_spread)
        fx_cost += settled.spread_cost
        for c, amount in settled.converted:
            balances[c] += amount
            if amount > 0:
                paid = amount * rates[c] * (1 + p.fx_spread)
                balances[p.base] -= paid
                conversions.append(Conversion(account, base, p.currencies[c], paid, amount))
            else:
                got = -amount * rates[c] * (1 - p.fx_spread)
                balances[p.base] += got
                conversions.append(Conversion(account, p.currencies[c], base, -amount, got))
        for c, reserve in enumerate(p.reserve_native[a].tolist()):
            balances[c] += reserve  # set aside above, never spent
        start = p.cash_native[a] + p.withheld_native[a]
        used = {c for c, v in enumerate(start.tolist()) if v != 0}
        used |= {int(p.currency[i]) for i in rows_of[a]}
        cash_after[account] = {
            p.currencies[c]: _money(balances[c]) for c in sorted(used | {p.base})
        }
        cash_total_after += sum(balances[c] * rates[c] for c in range(len(balances)))

    held_after = p.held + state.trades()
    values_before = _ticker_values(p, p.held)
    values_after = _ticker_values(p, held_after)
    cash_before = sum(
        amount * portfolio.rate(c)
        for account in portfolio.accounts
        for c, amount in account.cash.items()
    )
    w_before = weights(values_before, cash_before)
    w_after = weights(values_after, cash_total_after)
    targets = {t: w for t, w in portfolio.targets.items()}
    targets.setdefault(CASH, 0.0)
    fees_total = sum(fees[i] * rates[int(p.currency[i])] for i in range(p.size))
    taxes_total = sum(taxes[i] * rates[int(p.currency[i])] for i in range(p.size))
    summary = Summary(
        base_currency=base,
        value_before=_money(sum(values_before.values()) + cash_before),
        value_after=_money(sum(values_after.values()) + cash_total_after),
        drift_before=round(drift(w_before, targets), 10),
        drift_after=round(drift(w_after, targets), 10),
        cash_after=cash_after,
        fees_total=_money(fees_total),
        taxes_total=_money(taxes_total),
        fx_cost_total=_money(fx_cost),
        solver=report,
        weights_before={k: round(v, 10) for k, v in w_before.items()},
        weights_after={k: round(v, 10) for k, v in w_after.items()},
    )
    return Plan(
        orders=tuple(orders),
        summary=summary,
        conversions=tuple(conversions),
        warnings=p.warnings
        + tuple(
            f"group {name} stays above its cap: no sale the account can pay for "
            "(fees, cash) brings it under; its value may not rise"
            for name in state.relaxed_caps
        ),
    )


def _ticker_values(p: Problem, quantities: FloatArray) -> dict[str, float]:
    values = np.bincount(p.ticker, weights=p.unit * quantities, minlength=len(p.tickers))
    return {t: float(v) for t, v in zip(p.tickers, values.tolist(), strict=True)}


def _money(value: float) -> float:
    """Round away float noise (amounts are shown to the cent or won; keep 6 decimals)."""
    return round(float(value), 6) + 0.0
