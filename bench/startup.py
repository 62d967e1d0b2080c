"""Start-up time of the installed ``xlrebalance`` command (docs/cli.md).

Times, over several runs each (wall clock median and best, and CPU time of the process):
``python -c pass`` (the floor), ``xlrebalance --help``, and ``xlrebalance quote`` of three
tickers answered from a warm cache (fresh entries written just before; the Yahoo address points
at a closed local port, so a cache miss would show up as an error, not as a download). Also
``plan --offline`` of the seed example, which does load the planner, for scale.

    .venv/bin/python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from xlrebalance.quotes.cache import QuoteCache
from xlrebalance.quotes.types import Quote, QuoteStatus

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "python" / "xlrebalance" / "templates" / "examples" / "seed.json"


def script() -> str:
    here = Path(sys.executable).parent / "xlrebalance"
    found = str(here) if here.exists() else shutil.which("xlrebalance")
    if found is None:
        raise SystemExit("install the package first: pip install -e .")
    return found


def timed(cmd: list[str], env: dict[str, str], runs: int) -> tuple[float, float, float]:
    """Median and best wall time, and median CPU time (user + system) of the child: on a
    shared, loaded machine the wall time includes waiting for a core, the CPU time does not."""
    subprocess.run(cmd, env=env, capture_output=True)  # warm-up: bytecode cache, OS file cache
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return statistics.median(walls), min(walls), statistics.median(cpus)


def warm_cache(directory: Path) -> None:
    now = datetime.now(UTC)
    quotes = [
        Quote("AAPL", 230.1, "USD", now, "yahoo", QuoteStatus.OK, market="US", fetched=now),
        Quote("005930", 71200, "KRW", now, "yahoo", QuoteStatus.OK, market="KR", fetched=now),
        Quote("USDKRW", 1450.0, "KRW", now, "yahoo", QuoteStatus.OK, market="FX", fetched=now),
    ]
    with QuoteCache(directory) as cache:
        cache.put(quotes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    exe = script()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "XLREBALANCE_CACHE_DIR": tmp,
            "XLREBALANCE_YAHOO_URL": "http://127.0.0.1:9",
            "KRX_ID": "",
            "KRX_PW": "",
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode cached after run 1
        warm_cache(Path(tmp))
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("xlrebalance --help", [exe, "--help"]),
            ("xlrebalance quote AAPL 005930 USDKRW (warm cache)", [exe, "quote", "AAPL", "005930",
                                                                   "USDKRW"]),
            ("xlrebalance plan seed.json --offline", [exe, "plan", str(SEED), "--offline"]),
        ]  # fmt: skip
        print(f"{'command':<52} {'wall median':>11} {'best':>6} {'CPU':>6}   ({args.runs} runs, s)")
        for label, cmd in rows:
            median, best, cpu = timed(cmd, env, args.runs)
            print(f"{label:<52} {median:11.3f} {best:6.3f} {cpu:6.3f}")


if __name__ == "__main__":
    main()
