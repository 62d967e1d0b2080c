"""Drift: the L1 distance of a portfolio's weights from its targets, cash included."""

from __future__ import annotations

from collections.abc import Mapping

from xlrebalance.model import CASH


def weights(values: Mapping[str, float], cash: float) -> dict[str, float]:
    """Each ticker's and cash's share of the total (all in one currency)."""
    total = sum(values.values()) + cash
    if total <= 0:
        return {**{t: 0.0 for t in values}, CASH: 0.0}
    out = {t: v / total for t, v in values.items()}
    out[CASH] = cash / total
    return out


def drift(current: Mapping[str, float], targets: Mapping[str, float]) -> float:
    """``sum_i |w_i - t_i| + |w_cash - t_cash|`` over every ticker in either mapping."""
    keys = dict.fromkeys([*current, *targets, CASH])
    return sum(abs(current.get(k, 0.0) - targets.get(k, 0.0)) for k in keys)
