"""bt's side of bench/backtest.py: the same closes, policy and commission, timed.

Run by ``bench/backtest.py --bt PYTHON`` with an interpreter that has bt (not a dependency of
this project; the docs used bt 1.4.1 in a scratch virtualenv outside the checkout). Imports only
numpy, pandas and bt. Reads the closes bench/backtest.py wrote (.npz: dates, closes), prints one
JSON line: seconds (bt.Backtest + bt.run, imports and data loading excluded), final value,
commissions, peak resident memory of this process, the days it traded and its average cash share.

    /tmp/btvenv/bin/python bench/bt_reference.py closes.npz monthly
"""

from __future__ import annotations

import json
import resource
import sys
import time

import bt
import numpy as np
import pandas as pd

CAPITAL = 100_000_000.0
COMMISSION = 0.0025


def strategy(policy: str) -> bt.Strategy:
    algos = bt.algos
    if policy == "monthly":
        steps = [algos.RunMonthly(run_on_first_date=True), algos.SelectAll(), algos.WeighEqually()]
    elif policy == "quarterly":
        steps = [
            algos.RunQuarterly(run_on_first_date=True),
            algos.SelectAll(),
            algos.WeighEqually(),
        ]
    elif policy == "none":
        steps = [algos.RunOnce(), algos.SelectAll(), algos.WeighEqually()]
    elif policy.startswith("band:") and policy.endswith("%"):
        tolerance = float(policy[5:-1]) / 100
        steps = [algos.SelectAll(), algos.WeighEqually(), algos.RunIfOutOfBounds(tolerance)]
    else:
        raise SystemExit(f"bt_reference: no bt strategy for {policy!r}")
    return bt.Strategy(policy, [*steps, algos.Rebalance()])


def main() -> int:
    path, policy = sys.argv[1], sys.argv[2]
    data = np.load(path)
    columns = [f"A{i:03d}" for i in range(data["closes"].shape[1])]
    frame = pd.DataFrame(data["closes"], index=pd.DatetimeIndex(data["dates"]), columns=columns)
    started = time.perf_counter()
    test = bt.Backtest(
        strategy(policy),
        frame,
        initial_capital=CAPITAL,
        commissions=lambda quantity, price: abs(quantity) * price * COMMISSION,
    )
    result = bt.run(test)
    seconds = time.perf_counter() - started
    run = result.backtests[policy].strategy
    # After the clock: how often bt traded and how much of its value sat in cash (its
    # rounding down leaves cash idle, which a band then counts as drift).
    traded_days = result.get_transactions().index.get_level_values(0).unique()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "final": float(run.values.iloc[-1]),
                "fees": float(run.fees.sum()),
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rebalances": len(traded_days),
                "cash_share": float((run.cash / run.values).mean()),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
