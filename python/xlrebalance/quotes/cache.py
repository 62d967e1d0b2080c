"""The persistent quote cache: one SQLite file in the user cache directory.

It keeps the last good price per ticker (a failed fetch never overwrites one) and the Yahoo
symbol each KRX code resolved to (``.KS`` for KOSPI, ``.KQ`` for KOSDAQ). WAL mode lets the
worksheet functions read while the command line or the ribbon writes.

Location: the ``directory`` argument, else ``$XLREBALANCE_CACHE_DIR``, else the platform's user
cache directory (``~/.cache/xlrebalance`` on Linux, ``%LOCALAPPDATA%\\xlrebalance\\Cache`` on
Windows).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from xlrebalance.quotes.types import Quote, QuoteStatus

CACHE_ENV = "XLREBALANCE_CACHE_DIR"
FILENAME = "quotes.sqlite3"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS quotes (
    key TEXT PRIMARY KEY,      -- market:ticker, e.g. US:AAPL, KR:005930, FX:USDKRW
    ticker TEXT NOT NULL,
    market TEXT NOT NULL,
    price REAL NOT NULL,
    currency TEXT,
    time REAL,                 -- market time of the price, POSIX seconds
    fetched REAL NOT NULL,     -- when it was received, POSIX seconds
    source TEXT NOT NULL,
    symbol TEXT,
    delayed INTEGER NOT NULL DEFAULT 0,
    name TEXT,
    name_ko TEXT,
    change REAL
);
CREATE TABLE IF NOT EXISTS symbols (
    ticker TEXT PRIMARY KEY,   -- a KRX code
    symbol TEXT NOT NULL,      -- its Yahoo symbol, 005930.KS or 035720.KQ
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    symbol TEXT NOT NULL,      -- Yahoo symbol: AAPL, 005930.KS, KRW=X
    day TEXT NOT NULL,         -- YYYY-MM-DD, the exchange's trading day
    close REAL NOT NULL,       -- as traded (split-adjusted)
    adjusted REAL NOT NULL,    -- dividends reinvested (Yahoo's adjusted close)
    dividend REAL NOT NULL DEFAULT 0,  -- cash per share going ex that day
    PRIMARY KEY (symbol, day)
);
CREATE TABLE IF NOT EXISTS history_span (
    symbol TEXT PRIMARY KEY,   -- the days from..to were asked and stored (a range, not rows)
    start TEXT NOT NULL,
    end TEXT NOT NULL,
    fetched REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS profiles (
    key TEXT PRIMARY KEY,      -- market:ticker
    body TEXT NOT NULL,        -- JSON: what the ticker holds (a fund) or is (a company)
    fetched REAL NOT NULL,     -- POSIX seconds
    source TEXT NOT NULL
);
"""

_COLUMNS = (
    "ticker, market, price, currency, time, fetched, source, symbol, delayed, name, name_ko, change"
)


def default_directory() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs  # only here: the worksheet path passes a directory or uses the env

    return Path(platformdirs.user_cache_dir("xlrebalance", appauthor=False))


def key_of(market: str, ticker: str) -> str:
    return f"{market}:{ticker}"


def _stamp(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _moment(stamp: float | None) -> datetime | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC)


class QuoteCache:
    """Thread-safe access to the cache file (one connection, one lock).

    The cache is a cache: no problem with it stops a command. A file that is not a database
    or has a corrupt page is moved aside (``quotes.sqlite3.corrupt-<time>``) and a new one
    started; a file that cannot be opened at all is replaced by an in-memory cache for this
    run; a write blocked by another process past ``write_wait`` seconds is skipped (the prices
    are still used, just not kept). Each of these is said once, on stderr and in
    :attr:`notices`."""

    def __init__(self, directory: str | Path | None = None, *, write_wait: float = 10.0) -> None:
        self.directory = Path(directory) if directory is not None else default_directory()
        self.path = self.directory / FILENAME
        self.write_wait = write_wait
        self.notices: list[str] = []
        self._lock = threading.Lock()
        self._db = self._connect()

    # -- opening, quarantine and the guarded operation -------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            return self._open(self.path)
        except sqlite3.Error as exc:
            if not _corrupt(exc):
                return self._in_memory(exc)
            self._quarantine(exc)
        except OSError as exc:
            return self._in_memory(exc)
        try:
            return self._open(self.path)
        except (OSError, sqlite3.Error) as exc:
            return self._in_memory(exc)

    def _open(self, target: Path | str) -> sqlite3.Connection:
        db = sqlite3.connect(target, check_same_thread=False, timeout=BUSY_TIMEOUT)
        try:
            db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
            if str(target) != ":memory:":
                check = db.execute("PRAGMA quick_check").fetchone()
                if check is None or check[0] != "ok":
                    raise sqlite3.DatabaseError(f"database disk image is malformed ({check})")
                _retry_busy(lambda: db.execute("PRAGMA journal_mode=WAL"), self.write_wait)
                db.execute("PRAGMA synchronous=NORMAL")
            _retry_busy(lambda: _create(db), self.write_wait)
        except BaseException:
            db.close()
            raise
        return db

    def _in_memory(self, exc: BaseException) -> sqlite3.Connection:
        self._notice(
            f"quote cache {self.path} cannot be used ({_short(exc)}): working without it for "
            "this run (prices are fetched, not kept)"
        )
        return self._open(":memory:")

    def _quarantine(self, exc: BaseException) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{FILENAME}.corrupt-{stamp}")
        try:
            os.replace(self.path, aside)
        except OSError as move:
            raise sqlite3.DatabaseError(f"cannot move the damaged cache aside: {move}") from exc
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
        self._notice(
            f"quote cache {self.path} was damaged ({_short(exc)}): moved it to {aside.name} "
            "and started a new one"
        )

    def _notice(self, message: str) -> None:
        self.notices.append(message)
        with _said_lock:
            if message in _said:
                return
            _said.add(message)
        print(f"xlrebalance: {message}", file=sys.stderr)

    def _guard(self, operation: Callable[[sqlite3.Connection], T], default: T, what: str) -> T:
        """Run ``operation`` on the connection under the lock; busy -> wait and retry up to
        ``write_wait``; corrupt -> quarantine and retry once on a new file; any other
        database error -> ``default`` with a notice."""
        with self._lock:
            for attempt in range(2):
                try:
                    return _retry_busy(lambda: operation(self._db), self.write_wait)
                except sqlite3.Error as exc:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.rollback()
                    if _corrupt(exc) and attempt == 0:
                        with contextlib.suppress(sqlite3.Error):
                            self._db.close()
                        try:
                            self._quarantine(exc)
                            self._db = self._open(self.path)
                        except (OSError, sqlite3.Error) as again:
                            self._db = self._in_memory(again)
                        continue
                    self._notice(f"quote cache: could not {what} ({_short(exc)})")
                    return default
            return default

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._db.close()

    def __enter__(self) -> QuoteCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- quotes ---------------------------------------------------------------------------

    def get(self, market: str, ticker: str) -> Quote | None:
        """The last good quote (status OK as stored; the caller judges freshness)."""

        def read(db: sqlite3.Connection) -> Quote | None:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM quotes WHERE key = ?", (key_of(market, ticker),)
            ).fetchone()
            return None if row is None else _quote(row)

        return self._guard(read, None, "read a price")

    def get_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Quote]:
        wanted = list(keys)

        def read(db: sqlite3.Connection) -> dict[tuple[str, str], Quote]:
            found: dict[tuple[str, str], Quote] = {}
            for start in range(0, len(wanted), 500):  # SQLite's parameter limit
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM quotes WHERE key IN ({marks})",
                    [key_of(m, t) for m, t in chunk],
                ).fetchall()
                for row in rows:
                    q = _quote(row)
                    found[(q.market, q.ticker)] = q
            return found

        return self._guard(read, {}, "read prices")

    def put(self, quotes: Sequence[Quote]) -> None:
        """Store good quotes; quotes without a price are ignored, never stored."""
        rows = [
            (
                key_of(q.market, q.ticker),
                q.ticker,
                q.market,
                q.price,
                q.currency,
                _stamp(q.time),
                _stamp(q.fetched) or datetime.now(UTC).timestamp(),
                q.source,
                q.symbol,
                int(q.delayed),
                q.name,
                q.name_ko,
                q.change,
            )
            for q in quotes
            if q.price is not None
        ]
        if not rows:
            return

        def write(db: sqlite3.Connection) -> None:
            # A Yahoo quote carries no Korean name: keep the one KRX gave earlier.
            with db:
                db.executemany(
                    "INSERT INTO quotes VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT(key) DO UPDATE SET price=excluded.price, "
                    "currency=excluded.currency, time=excluded.time, fetched=excluded.fetched, "
                    "source=excluded.source, symbol=excluded.symbol, delayed=excluded.delayed, "
                    "name=COALESCE(excluded.name, quotes.name), "
                    "name_ko=COALESCE(excluded.name_ko, quotes.name_ko), change=excluded.change",
                    rows,
                )

        self._guard(write, None, f"keep {len(rows)} price(s); they are used but not cached")

    # -- daily history (backtests) -----------------------------------------------------------

    def history_span(self, symbol: str) -> tuple[str, str] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT start, end FROM history_span WHERE symbol = ?", (symbol,)
            ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def history(self, symbol: str, start: str, end: str) -> list[tuple[str, float, float, float]]:
        """(day, close, adjusted, dividend) rows from ``start`` to ``end``, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT day, close, adjusted, dividend FROM history "
                "WHERE symbol = ? AND day >= ? AND day <= ? ORDER BY day",
                (symbol, start, end),
            ).fetchall()
        return [(str(d), float(c), float(a), float(v)) for d, c, a, v in rows]

    def put_history(
        self,
        symbol: str,
        start: str,
        end: str,
        rows: Sequence[tuple[str, float, float, float]],
        fetched: datetime,
    ) -> None:
        """Replace everything stored for the symbol by ``rows`` and remember ``start..end``
        as fetched. The whole series goes at once because Yahoo re-adjusts past closes after
        each dividend (and split): rows of an older fetch beside new ones could differ by
        that adjustment, a jump that never happened. So a wider range is fetched whole, never
        spliced. ``rows`` may run past ``end`` (today's bar, not final yet)."""
        with self._lock:
            self._db.execute("DELETE FROM history WHERE symbol = ?", (symbol,))
            self._db.executemany(
                "INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?, ?)",
                [(symbol, *row) for row in rows],
            )
            self._db.execute(
                "INSERT OR REPLACE INTO history_span VALUES (?, ?, ?, ?)",
                (symbol, start, end, fetched.timestamp()),
            )
            self._db.commit()

    def clear(self) -> None:
        def wipe(db: sqlite3.Connection) -> None:
            with db:
                db.execute("DELETE FROM quotes")
                db.execute("DELETE FROM symbols")

        self._guard(wipe, None, "clear the cache")

    # -- fund holdings and company profiles (slow-changing, JSON) ---------------------------

    def profiles(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, float]]:
        """``(market, ticker) -> (JSON body, fetched POSIX seconds)`` for those stored."""
        wanted = list(keys)
        found: dict[tuple[str, str], tuple[str, float]] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, body, fetched FROM profiles WHERE key IN ({marks})",
                    [key_of(m, t) for m, t in chunk],
                ).fetchall()
                for key, body, fetched in rows:
                    market, _, ticker = str(key).partition(":")
                    found[(market, ticker)] = (str(body), float(fetched))
        return found

    def put_profiles(self, rows: Iterable[tuple[str, str, str, float, str]]) -> None:
        """Store ``(market, ticker, JSON body, fetched, source)`` rows."""
        values = [(key_of(m, t), body, fetched, source) for m, t, body, fetched, source in rows]
        if not values:
            return
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO profiles VALUES (?, ?, ?, ?)", values)
            self._db.commit()

    # -- KRX code -> Yahoo symbol ----------------------------------------------------------

    def symbols(self, tickers: Iterable[str]) -> dict[str, str]:
        wanted = list(tickers)

        def read(db: sqlite3.Connection) -> dict[str, str]:
            found: dict[str, str] = {}
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(
                    db.execute(
                        f"SELECT ticker, symbol FROM symbols WHERE ticker IN ({marks})", chunk
                    ).fetchall()
                )
            return found

        return self._guard(read, {}, "read KRX symbols")

    def remember_symbols(self, resolved: dict[str, str], now: datetime) -> None:
        if not resolved:
            return

        def write(db: sqlite3.Connection) -> None:
            with db:
                db.executemany(
                    "INSERT OR REPLACE INTO symbols VALUES (?, ?, ?)",
                    [(t, s, now.timestamp()) for t, s in resolved.items()],
                )

        self._guard(write, None, "keep KRX symbols")

    def forget_symbols(self, tickers: Iterable[str]) -> None:
        gone = [(t,) for t in tickers]

        def write(db: sqlite3.Connection) -> None:
            with db:
                db.executemany("DELETE FROM symbols WHERE ticker = ?", gone)

        self._guard(write, None, "forget KRX symbols")


BUSY_TIMEOUT = 2.0
"""Seconds SQLite itself waits for another process's lock per statement (then we retry)."""

_said: set[str] = set()
_said_lock = threading.Lock()
T = TypeVar("T")


def _create(db: sqlite3.Connection) -> None:
    found = db.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
        "AND name IN ('quotes', 'symbols', 'meta')"
    ).fetchone()
    if found is not None and found[0] == 3:
        return  # no write needed (another process may hold the write lock)
    db.executescript(_SCHEMA)
    db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
    db.commit()


def _busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED))
    return "locked" in str(exc) or "busy" in str(exc)


def _corrupt(exc: sqlite3.Error) -> bool:
    """A file that is not (or no longer) a sound database, as opposed to a busy or
    unreachable one."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return True
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "encrypted" in text


def _retry_busy(operation: Callable[[], T], wait: float) -> T:
    """``operation()``, tried again while the database is busy, for up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    pause = 0.05
    while True:
        try:
            return operation()
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


def _short(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


def _quote(row: tuple[object, ...]) -> Quote:
    ticker, market, price, currency, time, fetched, source, symbol, delayed, name, name_ko, ch = row
    assert isinstance(ticker, str) and isinstance(market, str) and isinstance(source, str)
    assert isinstance(price, float | int)
    return Quote(
        ticker=ticker,
        price=float(price),
        currency=currency if isinstance(currency, str) else None,
        time=_moment(time if isinstance(time, float | int) else None),
        source=source,
        status=QuoteStatus.OK,
        market=market,
        delayed=bool(delayed),
        name=name if isinstance(name, str) else None,
        name_ko=name_ko if isinstance(name_ko, str) else None,
        change=float(ch) if isinstance(ch, float | int) else None,
        symbol=symbol if isinstance(symbol, str) else None,
        fetched=_moment(fetched if isinstance(fetched, float | int) else None),
    )
