"""Synthetic closes for the bundled seed book (no network in tests; the docs say so)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "python" / "xlrebalance" / "templates" / "examples" / "seed.json"


def seed_prices(path: Path, *, days: int = 70, drop: str | None = None) -> Path:
    """Synthetic closes for the seed book's tickers (no network here; docs say so)."""
    doc = json.loads(SEED.read_text(encoding="utf-8"))
    tickers = list(dict.fromkeys(h["ticker"] for h in doc["holdings"]))
    if drop:
        tickers.remove(drop)
    rng = np.random.default_rng(5)
    dates = np.busday_offset("2024-01-02", np.arange(days), roll="forward")
    closes = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal((days, len(tickers))), axis=0))
    fx = 1300 * np.exp(np.cumsum(0.003 * rng.standard_normal(days)))
    lines = ["date," + ",".join(tickers) + ",USDKRW"]
    for d, row, rate in zip(dates, closes, fx, strict=True):
        lines.append(f"{d}," + ",".join(f"{v:.2f}" for v in row) + f",{rate:.2f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
