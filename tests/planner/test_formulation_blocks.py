"""``formulate`` builds its rows as numpy blocks; the model must be exactly the one built
entry by entry before (tests/planner/formulation_entrywise.py), bit for bit: HiGHS given
another matrix could end at another optimal vertex, and plans would change."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from formulation_entrywise import formulate_entrywise
from hypothesis import HealthCheck, assume, given, settings
from test_planner_properties import portfolios

from xlrebalance.document import portfolio_from_dict
from xlrebalance.errors import PortfolioError
from xlrebalance.model import Account, Fee, Holding, Market, Portfolio, Settings
from xlrebalance.planner.formulation import Formulation, formulate
from xlrebalance.planner.problem import Problem, build_problem


def _assert_identical(a: Formulation, b: Formulation) -> None:
    for name in (
        "cost",
        "row_lower",
        "row_upper",
        "col_lower",
        "col_upper",
        "integrality",
        "binaries",
        "fee_positions",
    ):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), name
    assert a.matrix.shape == b.matrix.shape
    for name in ("indptr", "indices", "data"):
        x, y = getattr(a.matrix, name), getattr(b.matrix, name)
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), name
    assert (a.n, a.z_start, a.f_start, a.copies) == (b.n, b.z_start, b.f_start, b.copies)


def _problem(doc: dict[str, Any]) -> Problem:
    try:
        return build_problem(portfolio_from_dict(doc))
    except PortfolioError:
        assume(False)
        raise


@settings(deadline=None, max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios())
def test_blocks_build_the_entrywise_model_bit_for_bit(doc: dict[str, Any]) -> None:
    problem = _problem(doc)
    for relax in (True, False):
        _assert_identical(
            formulate(problem, relax=relax), formulate_entrywise(problem, relax=relax)
        )


@settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios(tickers=(10, 30), rows=(13, 40), fractional=False))
def test_blocks_build_the_entrywise_model_on_larger_books(doc: dict[str, Any]) -> None:
    problem = _problem(doc)
    for relax in (True, False):
        _assert_identical(
            formulate(problem, relax=relax), formulate_entrywise(problem, relax=relax)
        )


@pytest.mark.parametrize("fee", [0.0, 0.0025])
def test_blocks_keep_zero_entries_out(fee: float) -> None:
    # A ticker without a target (and, without fees, no cost) has zero coefficients that the
    # sparse matrix leaves out, in both builds.
    book = Portfolio(
        base_currency="USD",
        accounts=(Account("main", {"USD": 1000.0}),),
        holdings=(
            Holding("main", "AAA", Market.US, 2.0, "USD", price=10.0),
            Holding("main", "BBB", Market.US, 0.0, "USD", price=20.0),
        ),
        targets={"AAA": 1.0},
        settings=Settings(fees={"US": Fee(fee)}, sell_tax={}),
    )
    problem = build_problem(book)
    for relax in (True, False):
        form = formulate(problem, relax=relax)
        assert not np.any(form.matrix.data == 0.0)
        _assert_identical(form, formulate_entrywise(problem, relax=relax))
