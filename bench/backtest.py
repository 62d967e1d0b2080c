"""Backtest benchmark on the synthetic data of the anchors (shared/notes/backtest-anchors.md).

GBM closes (drift 7%, volatility 25% a year, numpy default_rng(7), a fresh generator per data
set, start 10,000, pandas business days 2005-01-03 .. 2024-12-31, 2 decimals), A = 10 assets,
B = 500; capital 100,000,000; equal weights; commission 0.25%; whole shares. Prints our time,
final value, commissions and rebalances per policy beside bt's and vectorbt's figures measured
on this kind of machine (the notes; neither library is a dependency), and peak memory.

    .venv/bin/python bench/backtest.py            # A and B, monthly/quarterly/band/hold
    .venv/bin/python bench/backtest.py --only A
    .venv/bin/python bench/backtest.py --bt /tmp/btvenv/bin/python   # bt run beside, same data

``--bt PYTHON`` runs bench/bt_reference.py with that interpreter (one with bt installed, outside
this project) on the same closes right after each of our runs, and prints its time beside ours.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from xlrebalance.backtest.history import PriceHistory
from xlrebalance.backtest.policy import parse_policy
from xlrebalance.backtest.simulate import QUICK, THOROUGH, BacktestConfig, prepare, simulate
from xlrebalance.model import Account, Fee, Holding, Market, Portfolio, Settings

CAPITAL = 100_000_000.0

# (data set, policy) -> (bt seconds, bt final, bt commissions, vectorbt seconds, vbt final)
ANCHORS = {
    ("A", "monthly"): (1.04, 269.81e6, 5.087e6, 0.046, 269.93e6),
    ("A", "quarterly"): (0.55, 273.24e6, 3.026e6, 0.069, 273.43e6),
    ("A", "band:10%"): (4.86, 270.50e6, 6.538e6, 0.051, 271.47e6),
    ("A", "none"): (0.48, 237.27e6, None, 0.085, 237.70e6),
    ("B", "monthly"): (25.8, 394.92e6, 7.709e6, 2.5, 416.40e6),
    ("B", "quarterly"): (34.8, 399.76e6, None, 2.6, 416.16e6),
    ("B", "band:10%"): (106.0, 345.43e6, 31.9e6, 1.4, 398.44e6),
    ("B", "none"): (14.9, 400.78e6, None, 2.9, 415.78e6),
}


def synthetic(assets: int) -> PriceHistory:
    """The anchors' closes: the first row is 10,000 for every asset."""
    import pandas as pd

    dates = pd.bdate_range("2005-01-03", "2024-12-31")
    rng = np.random.default_rng(7)
    mu, sigma, dt = 0.07, 0.25, 1 / 252
    shocks = rng.standard_normal((len(dates) - 1, assets))
    steps = (mu - sigma**2 / 2) * dt + sigma * np.sqrt(dt) * shocks
    paths = np.vstack([np.zeros(assets), np.cumsum(steps, axis=0)])
    closes = np.round(10_000 * np.exp(paths), 2)
    return PriceHistory(
        dates=np.array(dates.values, dtype="datetime64[D]"),
        tickers=tuple(f"A{i:03d}" for i in range(assets)),
        closes=closes,
    )


def equal_weight(tickers: tuple[str, ...], fractional: bool = False) -> Portfolio:
    """One account, USD, only the commission: the bt comparison with our extras off."""
    return Portfolio(
        base_currency="USD",
        accounts=(Account("main", {"USD": CAPITAL}),),
        holdings=tuple(Holding("main", t, Market.US, 0.0, "USD", price=10_000.0) for t in tickers),
        targets={t: 1 / len(tickers) for t in tickers},
        settings=Settings(fees={"US": Fee(0.0025)}, sell_tax={}, fractional=fractional),
    )


def example_prices(book: Portfolio, seed: int = 2015) -> str:
    """Synthetic daily closes (CSV text) for an example book, 2015-01-02 .. 2024-12-31.

    Not market data (nothing here reaches the network): one market factor (vol 15%) plus each
    ticker's own noise; ETFs 18% a year in all, single stocks 30%, TQQQ three times QQQ's daily
    move, SPY/VOO/360750 the same index; USDKRW from 1,100 with 7% volatility."""
    import pandas as pd

    dates = pd.bdate_range("2015-01-02", "2024-12-31")
    n = len(dates)
    rng = np.random.default_rng(seed)
    dt = 1 / 252
    market = 0.15 * np.sqrt(dt) * rng.standard_normal(n)
    kinds = {h.ticker: h.kind.value for h in book.holdings}
    columns: dict[str, np.ndarray] = {}
    for ticker in dict.fromkeys(h.ticker for h in book.holdings):
        vol = 0.18 if kinds[ticker] == "ETF" else 0.30
        own = np.sqrt(max(vol**2 - 0.15**2, 0.0)) * np.sqrt(dt) * rng.standard_normal(n)
        columns[ticker] = 0.08 * dt + market + own
    for copy, of in (("SPY", "VOO"), ("360750", "VOO")):  # the same index
        if copy in columns and of in columns:
            columns[copy] = columns[of].copy()
    if "TQQQ" in columns and "QQQ" in columns:
        columns["TQQQ"] = 3 * columns["QQQ"] - 0.0095 * dt
    lines = ["date," + ",".join(columns) + (",USDKRW" if book.base_currency == "KRW" else "")]
    fx_moves = 0.07 * np.sqrt(dt) * rng.standard_normal(n)
    if "360750" in columns:  # an S&P 500 fund in won moves with the dollar too
        columns["360750"] = columns["360750"] + fx_moves
    closes = {t: 100 * np.exp(np.cumsum(r)) for t, r in columns.items()}
    fx = 1100 * np.exp(np.cumsum(fx_moves))
    uses_usd = any(h.currency == "USD" for h in book.holdings)
    for i, day in enumerate(dates):
        row = [f"{closes[t][i]:.2f}" for t in columns]
        if book.base_currency == "KRW":
            row.append(f"{fx[i]:.2f}" if uses_usd else "")
        lines.append(day.strftime("%Y-%m-%d") + "," + ",".join(row))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("A", "B"))
    parser.add_argument("--policy", action="append")
    parser.add_argument("--fast", action="store_true", help="planner without local search")
    parser.add_argument("--examples", metavar="DIR", help="write synthetic CSVs for the examples")
    parser.add_argument("--bt", metavar="PYTHON", help="run bt beside with this interpreter")
    args = parser.parse_args(argv)
    if args.examples:
        from xlrebalance.document import load_portfolio

        out = Path(args.examples)
        out.mkdir(parents=True, exist_ok=True)
        root = (
            Path(__file__).resolve().parents[1]
            / "python"
            / "xlrebalance"
            / "templates"
            / "examples"
        )
        for name in ("seed", "equal-weight"):
            book = load_portfolio(root / f"{name}.json", offline=False)
            (out / f"{name}-prices.csv").write_text(example_prices(book), encoding="utf-8")
            print(f"wrote {out / f'{name}-prices.csv'}")
        return 0
    sets = [("A", 10), ("B", 500)]
    policies = args.policy or ["monthly", "quarterly", "band:10%", "none"]
    print(
        f"{'run':<14} {'ours s':>7} {'final':>9} {'fees':>7} {'rebal':>5} {'drift':>6} "
        f"{'bt s':>6} {'bt final':>9} {'bt fees':>7} {'vbt s':>6} {'vbt final':>9}"
    )
    scratch = tempfile.TemporaryDirectory()
    for name, assets in sets:
        if args.only and name != args.only:
            continue
        history = synthetic(assets)
        closes = Path(scratch.name) / f"{name}.npz"
        np.savez(closes, dates=history.dates, closes=history.closes)
        market = prepare(equal_weight(history.tickers), history, CAPITAL)
        config = BacktestConfig(planner=QUICK if args.fast else THOROUGH)
        for spec in policies:
            started = time.perf_counter()
            result = simulate(market, parse_policy(spec), config)
            seconds = time.perf_counter() - started
            anchor = ANCHORS.get((name, spec))
            bt = (
                f"{anchor[0]:>6.2f} {anchor[1] / 1e6:>8.2f}M "
                + (f"{anchor[2] / 1e6:>6.3f}M" if anchor[2] else f"{'':>7}")
                + f" {anchor[3]:>6.3f} {anchor[4] / 1e6:>8.2f}M"
                if anchor
                else ""
            )
            print(
                f"{name} {spec:<12} {seconds:>7.2f} {result.performance.final_value / 1e6:>8.2f}M "
                f"{result.fees / 1e6:>6.3f}M {result.rebalances:>5} "
                f"{float(result.drift.mean()):>6.4f} {bt}   "
                f"(planner {result.planner_seconds:.2f} s)",
                flush=True,
            )
            if args.bt:
                here = _bt_here(args.bt, closes, spec)
                if here is not None:
                    print(
                        f"  bt here: {here['seconds']:.2f} s, final {here['final'] / 1e6:.3f}M, "
                        f"fees {here['fees'] / 1e6:.3f}M, {here['rebalances']:.0f} trading days, "
                        f"cash {here['cash_share']:.2%} of value on average, "
                        f"peak {here['peak_mb']:.0f} MB; "
                        f"bt / ours {here['seconds'] / seconds:.1f}x",
                        flush=True,
                    )
    scratch.cleanup()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {rss:.0f} MB", file=sys.stdout)
    return 0


def _bt_here(python: str, closes: Path, spec: str) -> dict[str, float] | None:
    """bt on the same closes in its own interpreter (bench/bt_reference.py), or None."""
    script = Path(__file__).with_name("bt_reference.py")
    done = subprocess.run(
        [python, str(script), str(closes), spec], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        print(f"  bt here: failed ({done.stderr.strip().splitlines()[-1:]})", flush=True)
        return None
    answer: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


if __name__ == "__main__":
    raise SystemExit(main())
