"""Drift: the L1 distance of a portfolio's weights from its targets, cash included.

The definitions live in :mod:`xlrebalance.model` (one valuation for the planner, the worksheet
functions and the workbook); this module keeps the planner's import path."""

from __future__ import annotations

from xlrebalance.model import drift, weights

__all__ = ["drift", "weights"]
