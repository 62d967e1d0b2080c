"""What both network sources share: base-URL redirection, bounded retries, a bounded pool."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

T = TypeVar("T")
R = TypeVar("R")


def rewrite_url(url: str, base: str | None) -> str:
    """Send ``url`` to ``base`` keeping its path and query.

    ``https://query1.finance.yahoo.com/v7/finance/quote?symbols=A`` with base
    ``http://127.0.0.1:8080/yahoo`` becomes ``http://127.0.0.1:8080/yahoo/v7/finance/quote?symbols=A``.
    """
    if not base:
        return url
    target = urlsplit(url)
    root = urlsplit(base)
    path = root.path.rstrip("/") + (target.path or "/")
    return urlunsplit((root.scheme, root.netloc, path, target.query, target.fragment))


class DeadlineExceeded(TimeoutError):
    """The time budget of a fetch ran out before this request could be (re)tried."""


class Transient(Exception):
    """A failure worth retrying (rate limit, timeout, dropped connection, 5xx)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Retries bounded in count (``attempts`` in all) and in time (``budget`` seconds for a
    whole fetch, retries and waits included). Waits double from ``backoff`` up to
    ``max_delay``; a wait that would cross the budget is not started."""

    attempts: int = 3
    backoff: float = 0.5
    max_delay: float = 4.0
    budget: float = 20.0

    def deadline(self, clock: Callable[[], float] = time.monotonic) -> float:
        return clock() + self.budget

    def run(
        self,
        attempt: Callable[[float], T],
        *,
        deadline: float,
        is_transient: Callable[[BaseException], bool],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> T:
        """Call ``attempt(seconds_left)`` until it returns, a non-transient error, or the
        count or time bound is reached (the last error is raised)."""
        delay = self.backoff
        for n in range(1, self.attempts + 1):
            left = deadline - clock()
            if left <= 0:
                raise DeadlineExceeded("time budget for this fetch is used up")
            try:
                return attempt(left)
            except Exception as exc:
                if n == self.attempts or not is_transient(exc):
                    raise
                # A server that says how long to wait (HTTP 429/503 Retry-After) is obeyed,
                # as far as the budget allows; past it the caller falls back to old prices.
                asked = getattr(exc, "retry_after", None)
                wait = max(delay, asked) if isinstance(asked, int | float) else delay
                if clock() + wait >= deadline:
                    raise
                sleep(wait)
                delay = min(delay * 2, self.max_delay)
        raise AssertionError("unreachable: the loop returns or raises")


def bounded_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """``map`` over at most ``workers`` threads, results in input order."""
    todo = list(items)
    if len(todo) <= 1 or workers <= 1:
        yield from map(fn, todo)
        return
    with ThreadPoolExecutor(max_workers=min(workers, len(todo))) as pool:
        yield from pool.map(fn, todo)


class Counter:
    """A thread-safe request counter (the benchmark and tests read it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.value += n
