"""1,000 ``=QUOTE()`` cells over 300 distinct tickers (200 US, 100 KRX), as Excel calls them.

A first recalculation on an empty cache: every cell answers at once (``#N/A waiting``) and the
background queue fetches all 300 tickers together -- the benchmark counts the fetches per
source, each of which sleeps ``--latency`` seconds like a network round trip. A second
recalculation: every cell answers from the cache. Prints the figures beside the targets.

    .venv/bin/python bench/udfs.py [--latency 0.1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "udfs"))

import xlrebalance_udfs as udfs
from xlrebalance import worksheet
from xlrebalance.quotes import Quote, QuoteCache, QuoteStatus, Sources, cached_quote
from xlrebalance.quotes.fake import FakeSource
from xlrebalance.quotes.types import Progress

CELLS, US_COUNT, KR_COUNT = 1000, 200, 100


class SlowSource(FakeSource):
    """A fake source that takes ``latency`` seconds per fetch, like a network round trip."""

    latency: float = 0.1

    def fetch(
        self, symbols: Sequence[str], *, progress: Progress | None = None
    ) -> Mapping[str, Quote]:
        time.sleep(self.latency)
        return super().fetch(symbols, progress=progress)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()

    us = [f"U{n:03d}" for n in range(US_COUNT)]
    kr = [f"{900000 + n:06d}" for n in range(KR_COUNT)]
    on_yahoo: dict[str, float | Quote] = {t: 10.0 + i for i, t in enumerate(us)}
    # KRX codes on Yahoo (KOSPI suffix) are quoted in KRW; a bare float would get USD.
    on_yahoo.update({f"{t}.KS": Quote(t, 1000.0, "KRW", None, "yahoo", QuoteStatus.OK) for t in kr})
    yahoo = SlowSource(on_yahoo, name="yahoo")
    krx = SlowSource({t: 1000.0 for t in kr}, currency="KRW", name="krx")
    for source in (yahoo, krx):
        source.latency = args.latency
    cells = [(us + kr)[i % (US_COUNT + KR_COUNT)] for i in range(CELLS)]

    ready = threading.Event()
    with tempfile.TemporaryDirectory() as tmp, QuoteCache(Path(tmp)) as cache:
        live = worksheet.LiveQuotes(
            cache=cache,
            sources=Sources(yahoo=yahoo, krx=krx),
            on_ready=lambda waiters: ready.set(),
        )
        worksheet.use_live(live)
        started = time.perf_counter()
        first = [udfs.QUOTE(t, None, f"cell{i}") for i, t in enumerate(cells)]
        first_pass = time.perf_counter() - started
        assert all(v == worksheet.WAITING for v in first), "a cold cache answers waiting"
        ready.wait(30)
        live.pending.wait_idle(30)
        arrived = time.perf_counter() - started

        timings = []
        values = []
        for t in cells:
            t0 = time.perf_counter()
            values.append(udfs.QUOTE(t))
            timings.append(time.perf_counter() - t0)
        assert all(isinstance(v, float) for v in values), "every cell priced after the batch"
        lookups = []
        for t in cells[:300]:
            t0 = time.perf_counter()
            cached_quote(t, cache=cache)
            lookups.append(time.perf_counter() - t0)
        live.pending.close()
        worksheet.use_live(None)

    batches = live.pending.batches
    median_ms = statistics.median(timings) * 1e3
    p95_ms = sorted(timings)[int(0.95 * len(timings))] * 1e3
    distinct = US_COUNT + KR_COUNT
    print(f"{CELLS} =QUOTE() cells, {distinct} distinct tickers, latency {args.latency:g} s")
    print(f"{'figure':44} {'value':>14}  target")
    print(
        f"{'first recalculation (all waiting), total':44} {first_pass * 1e3:11.1f} ms  no network"
    )
    print(f"{'  per cell':44} {first_pass / CELLS * 1e3:11.3f} ms")
    print(f"{'queue batches':44} {len(batches):14d}  1")
    print(
        f"{'fetches: yahoo / krx':44} {len(yahoo.calls):9d} / {len(krx.calls):2d}  <= 1 per source"
    )
    print(f"{'symbols in the yahoo batch':44} {sum(map(len, yahoo.calls)):14d}")
    print(f"{'quotes in the cache after':44} {arrived * 1e3:11.1f} ms")
    print(f"{'cached =QUOTE() call, median':44} {median_ms:11.4f} ms  < 0.1 ms")
    print(f"{'cached =QUOTE() call, p95':44} {p95_ms:11.4f} ms")
    print(f"{'cached_quote() alone, median':44} {statistics.median(lookups) * 1e3:11.4f} ms")


if __name__ == "__main__":
    main()
