"""The queue behind =QUOTE(): many cells, one batched fetch per source, no loops."""

from __future__ import annotations

import threading
from pathlib import Path

from excel_data import PRICES

from xlrebalance.quotes import QuoteCache, Sources
from xlrebalance.quotes.engine import Want
from xlrebalance.quotes.fake import FakeSource
from xlrebalance.quotes.pending import PendingQuotes


def test_many_requests_make_one_batch_per_source(tmp_path: Path) -> None:
    yahoo = FakeSource({f"T{i}": 10.0 + i for i in range(300)}, name="yahoo")
    krx = FakeSource({"005930": 70000.0}, currency="KRW", name="krx")
    with QuoteCache(tmp_path) as cache:
        queue = PendingQuotes(cache=cache, sources=Sources(yahoo=yahoo, krx=krx), background=False)
        for i in range(1000):
            assert queue.request([Want(f"T{i % 300}", "US")], waiter=f"cell{i}")
        queue.request([Want("005930", "KR")], waiter="kr-cell")
        batch = queue.run_pending()
        assert batch is not None
        assert len(yahoo.calls) == 1 and len(krx.calls) == 1
        assert len(yahoo.calls[0]) == 302  # 300 US + 005930.KS/.KQ guesses
        assert len(batch.waiters) == 1001
        assert cache.get("US", "T299") is not None
        assert queue.run_pending() is None  # nothing left


def test_background_thread_waits_for_quiet_then_tells_waiters(tmp_path: Path) -> None:
    yahoo = FakeSource({"AAPL": 1.0, "QQQ": 2.0}, name="yahoo")
    told: list[object] = []
    done = threading.Event()

    def on_ready(waiters: object) -> None:
        told.extend(waiters)  # type: ignore[call-overload]
        done.set()

    with QuoteCache(tmp_path) as cache:
        # The quiet period must outlast the gap between the two requests even on a loaded
        # machine, or the batch splits in two (0.05 s leaves little room for a descheduled thread).
        queue = PendingQuotes(
            cache=cache, sources=Sources(yahoo=yahoo), on_ready=on_ready, quiet=0.5
        )
        try:
            queue.request([Want("AAPL", "US")], waiter="A1")
            queue.request([Want("QQQ", "US")], waiter="A2")
            assert done.wait(5)
            assert queue.wait_idle(5)
        finally:
            queue.close()
    assert sorted(told) == ["A1", "A2"]  # type: ignore[type-var]
    assert yahoo.calls == [["AAPL", "QQQ"]]


def test_a_failed_ticker_is_not_asked_again_before_retry_after(tmp_path: Path) -> None:
    yahoo = FakeSource({}, errors={"AAPL": "HTTP 500"}, name="yahoo")
    now = [0.0]
    with QuoteCache(tmp_path) as cache:
        queue = PendingQuotes(
            cache=cache,
            sources=Sources(yahoo=yahoo),
            background=False,
            retry_after=60,
            clock=lambda: now[0],
        )
        want = Want("AAPL", "US")
        assert queue.request([want], "B2")
        queue.run_pending()
        failed = queue.failure(want)
        assert failed is not None and "HTTP 500" in failed.detail
        now[0] = 30.0
        assert not queue.request([want], "B2")  # recalculated cell: no new fetch
        assert queue.run_pending() is None
        now[0] = 61.0
        assert queue.request([want], "B2")
        queue.run_pending()
        assert len(yahoo.calls) == 2


def test_a_source_that_raises_fails_its_tickers_and_the_queue_goes_on(tmp_path: Path) -> None:
    class Broken:
        name = "yahoo"

        def fetch(self, symbols: object, *, progress: object = None) -> object:
            raise RuntimeError("boom")

    def explode(cache: QuoteCache) -> Sources:
        raise RuntimeError("no sources today")

    with QuoteCache(tmp_path) as cache:
        queue = PendingQuotes(cache=cache, sources=explode, background=False)
        queue.request([Want("AAPL", "US")])
        batch = queue.run_pending()
        assert batch is not None and batch.quotes[0].price is None
        failed = queue.failure(Want("AAPL", "US"))
        assert failed is not None and "no sources today" in failed.detail

        queue2 = PendingQuotes(cache=cache, sources=Sources(yahoo=Broken()), background=False)
        queue2.request([Want("QQQ", "US")])
        batch2 = queue2.run_pending()
        assert batch2 is not None and "boom" in batch2.quotes[0].detail


def test_waiter_of_two_tickers_is_told_once_both_arrived(tmp_path: Path) -> None:
    yahoo = FakeSource(dict(PRICES), name="yahoo")
    with QuoteCache(tmp_path) as cache:
        queue = PendingQuotes(cache=cache, sources=Sources(yahoo=yahoo), background=False)
        queue.request([Want("AAPL", "US")], waiter="C1")
        first = queue.run_pending()
        queue.request([Want("QQQ", "US"), Want("AAPL", "US")], waiter="C2")
        second = queue.run_pending()
        assert first is not None and first.waiters == ("C1",)
        assert second is not None and second.waiters == ("C2",)
