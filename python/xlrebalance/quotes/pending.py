"""Tickers that worksheet functions found missing (or stale) in the cache, fetched together.

A recalculation calls ``=QUOTE()`` once per cell, on Excel's thread, and must never wait for
the network there. So a cell that misses the cache only *asks*: :meth:`PendingQuotes.request`
adds its tickers to a set and returns at once. A background thread waits until the requests
stop arriving (``quiet`` seconds, at most ``max_delay`` after the first), then fetches the whole
set with one :func:`~xlrebalance.quotes.engine.refresh` -- one batched fetch per source however
many cells asked -- stores the quotes in the cache and hands the waiters (the calling cells) to
``on_ready`` so that Excel recalculates exactly those cells, which now hit the cache.

A ticker whose fetch failed is not asked again for ``retry_after`` seconds: without that, a
cell showing a stale price would re-request, be recalculated, re-request... forever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from xlrebalance.quotes.cache import QuoteCache
from xlrebalance.quotes.calendar import FreshnessPolicy
from xlrebalance.quotes.engine import Sources, Want, refresh
from xlrebalance.quotes.types import Quote, QuoteStatus, failure

log = logging.getLogger(__name__)

Waiter = object
"""Whatever identifies a calling cell (xlwings hands the UDF a ``caller`` range). Kept by
identity, never hashed or compared: hashing an xlwings range is a COM call, which must not
happen on this module's thread."""


@dataclass(frozen=True)
class Batch:
    """One background fetch: what was asked, what came back, who was waiting."""

    wants: tuple[Want, ...]
    quotes: tuple[Quote, ...]
    waiters: tuple[Waiter, ...]
    seconds: float
    fetched: int


@dataclass
class _State:
    pending: dict[Want, None] = field(default_factory=dict)
    waiters: dict[int, tuple[Waiter, set[Want]]] = field(default_factory=dict)
    in_flight: set[Want] = field(default_factory=set)
    first: float | None = None
    last: float = 0.0
    attempted: dict[Want, float] = field(default_factory=dict)
    failures: dict[Want, Quote] = field(default_factory=dict)
    batches: list[Batch] = field(default_factory=list)


class PendingQuotes:
    """The queue behind the worksheet functions (see the module docstring).

    ``cache`` and ``sources`` may be factories: the real sources import yfinance (about 0.7 s),
    which then happens on the background thread, not during a recalculation. ``background``
    False keeps everything on the caller's thread: :meth:`run_pending` then does the fetch
    (tests and the benchmark drive it that way).
    """

    def __init__(
        self,
        *,
        cache: QuoteCache | Callable[[], QuoteCache],
        sources: Sources | Callable[[QuoteCache], Sources],
        on_ready: Callable[[Sequence[Waiter]], None] | None = None,
        quiet: float = 0.25,
        max_delay: float = 2.0,
        retry_after: float = 60.0,
        policy: FreshnessPolicy | None = None,
        background: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cache_arg = cache
        self._sources_arg = sources
        self._cache: QuoteCache | None = cache if isinstance(cache, QuoteCache) else None
        self._sources: Sources | None = sources if isinstance(sources, Sources) else None
        self.on_ready = on_ready
        self.quiet = quiet
        self.max_delay = max_delay
        self.retry_after = retry_after
        self.policy = policy
        self.background = background
        self._clock = clock
        self._state = _State()
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- what the worksheet functions call ---------------------------------------------

    def request(self, wants: Iterable[Want], waiter: Waiter | None = None) -> bool:
        """Queue ``wants`` for the next batch; ``waiter`` is told when they arrive.

        Returns whether anything is now pending or in flight for these wants (False when
        every one of them failed recently and waits out ``retry_after``)."""
        now = self._clock()
        queued = False
        with self._lock:
            s = self._state
            for want in wants:
                if want in s.in_flight or want in s.pending:
                    queued = True
                elif now - s.attempted.get(want, -1e18) >= self.retry_after:
                    s.pending[want] = None
                    s.first = now if s.first is None else s.first
                    s.last = now
                    queued = True
                else:
                    continue
                if waiter is not None:
                    s.waiters.setdefault(id(waiter), (waiter, set()))[1].add(want)
            if queued and self.background:
                self._start()
                self._lock.notify_all()
        return queued

    def failure(self, want: Want) -> Quote | None:
        """The last failed answer for ``want`` (why a cell has no price), if any."""
        with self._lock:
            return self._state.failures.get(want)

    def is_waiting(self, want: Want) -> bool:
        with self._lock:
            return want in self._state.pending or want in self._state.in_flight

    @property
    def batches(self) -> list[Batch]:
        """Every batch fetched so far (the benchmark counts them)."""
        with self._lock:
            return list(self._state.batches)

    @property
    def cache(self) -> QuoteCache:
        if self._cache is None:
            factory = self._cache_arg
            assert callable(factory)
            self._cache = factory()
        return self._cache

    # -- the fetch -----------------------------------------------------------------------

    def run_pending(self) -> Batch | None:
        """Fetch everything pending now, in one refresh; None when nothing was pending."""
        with self._lock:
            s = self._state
            if not s.pending:
                return None
            wants = tuple(s.pending)
            s.pending.clear()
            s.first = None
            s.in_flight.update(wants)
        started = self._clock()
        try:
            quotes, fetched = self._fetch(wants)
        finally:
            with self._lock:
                self._state.in_flight.difference_update(wants)
        with self._lock:
            s = self._state
            done = self._clock()
            for want, got in zip(wants, quotes, strict=True):
                if got.status is QuoteStatus.OK:
                    s.failures.pop(want, None)
                    s.attempted.pop(want, None)
                else:
                    s.failures[want] = got
                    s.attempted[want] = done
            ready: list[Waiter] = []
            busy = set(s.pending) | s.in_flight
            for key, (waiter, asked) in list(s.waiters.items()):
                # A waiter is told once none of its wants is still queued or in flight.
                if not asked & busy and asked & set(wants):
                    ready.append(waiter)
                    del s.waiters[key]
            batch = Batch(wants, tuple(quotes), tuple(ready), done - started, fetched)
            s.batches.append(batch)
        if ready and self.on_ready is not None:
            try:
                self.on_ready(ready)
            except Exception:  # a failing recalculation hook must not stop the queue
                log.exception("xlrebalance: recalculating the waiting cells failed")
        return batch

    def _fetch(self, wants: Sequence[Want]) -> tuple[list[Quote], int]:
        try:
            cache = self.cache
            if self._sources is None:
                factory = self._sources_arg
                assert callable(factory)
                self._sources = factory(cache)
            report = refresh(
                wants,
                cache=cache,
                sources=self._sources,
                now=datetime.now(UTC),
                policy=self.policy,
            )
        except Exception as exc:  # the queue outlives any one failure
            log.exception("xlrebalance: background quote fetch failed")
            detail = f"quote fetch failed: {exc}"
            return [failure(w.ticker, "queue", QuoteStatus.ERROR, detail) for w in wants], 0
        out: list[Quote] = []
        for want in wants:
            got = report.get(want.ticker, want.market)
            out.append(got or failure(want.ticker, "queue", QuoteStatus.ERROR, "no answer"))
        return out, report.fetched

    # -- the background thread ---------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="xlrebalance-quotes", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._closed and not self._state.pending:
                    self._lock.wait()
                if self._closed:
                    return
                # Wait for the recalculation to finish asking: quiet, or max_delay.
                while not self._closed:
                    now = self._clock()
                    first = self._state.first if self._state.first is not None else now
                    due = min(self._state.last + self.quiet, first + self.max_delay)
                    if now >= due:
                        break
                    self._lock.wait(due - now)
                if self._closed:
                    return
            self.run_pending()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is pending or in flight (tests, benchmark)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._state.pending and not self._state.in_flight:
                    return True
            time.sleep(0.005)
        return False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
