"""What both network sources share: base-URL redirection, bounded retries, a bounded pool."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
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


def probe(url: str, timeout: float) -> str | None:
    """Whether the network reaches ``url``: None when a TCP connection to its host (or to the
    proxy the environment names for it) opens within ``timeout`` seconds, else why not.

    It costs one handshake and no import, so a computer without a network finds out in
    milliseconds (a refused connection, a name that does not resolve) or ``timeout`` seconds
    (packets dropped), before yfinance or pykrx is even loaded."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        target = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = target.hostname or host, target.port or 80
    # RFC 6761: *.localhost is the loopback (curl resolves it so; glibc's files+dns may not).
    address = "127.0.0.1" if host == "localhost" or host.endswith(".localhost") else host
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return None
    except socket.gaierror as exc:
        return f"cannot resolve {host} ({exc.strerror or exc})"
    except TimeoutError:
        return f"no answer from {host}:{port} within {timeout:g} s"
    except OSError as exc:
        return f"cannot connect to {host}:{port} ({exc.strerror or exc})"
