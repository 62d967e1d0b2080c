"""The persistent quote cache: one SQLite file in the user cache directory.

It keeps the last good price per ticker (a failed fetch never overwrites one) and the Yahoo
symbol each KRX code resolved to (``.KS`` for KOSPI, ``.KQ`` for KOSDAQ). WAL mode lets the
worksheet functions read while the command line or the ribbon writes.

Location: the ``directory`` argument, else ``$XLREBALANCE_CACHE_DIR``, else the platform's user
cache directory (``~/.cache/xlrebalance`` on Linux, ``%LOCALAPPDATA%\\xlrebalance\\Cache`` on
Windows).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from xlrebalance.errors import QuoteError
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
    """Thread-safe access to the cache file (one connection, one lock)."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_directory()
        self.path = self.directory / FILENAME
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
            )
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise QuoteError(f"cannot open the quote cache {self.path}: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> QuoteCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- quotes ---------------------------------------------------------------------------

    def get(self, market: str, ticker: str) -> Quote | None:
        """The last good quote (status OK as stored; the caller judges freshness)."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM quotes WHERE key = ?", (key_of(market, ticker),)
            ).fetchone()
        return None if row is None else _quote(row)

    def get_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Quote]:
        wanted = list(keys)
        found: dict[tuple[str, str], Quote] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):  # SQLite's parameter limit
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT {_COLUMNS} FROM quotes WHERE key IN ({marks})",
                    [key_of(m, t) for m, t in chunk],
                ).fetchall()
                for row in rows:
                    q = _quote(row)
                    found[(q.market, q.ticker)] = q
        return found

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
        with self._lock:
            # A Yahoo quote carries no Korean name: keep the one KRX gave earlier.
            self._db.executemany(
                "INSERT INTO quotes VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(key) DO UPDATE SET price=excluded.price, "
                "currency=excluded.currency, time=excluded.time, fetched=excluded.fetched, "
                "source=excluded.source, symbol=excluded.symbol, delayed=excluded.delayed, "
                "name=COALESCE(excluded.name, quotes.name), "
                "name_ko=COALESCE(excluded.name_ko, quotes.name_ko), change=excluded.change",
                rows,
            )
            self._db.commit()

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM quotes")
            self._db.execute("DELETE FROM symbols")
            self._db.commit()

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
        found: dict[str, str] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(
                    self._db.execute(
                        f"SELECT ticker, symbol FROM symbols WHERE ticker IN ({marks})", chunk
                    ).fetchall()
                )
        return found

    def remember_symbols(self, resolved: dict[str, str], now: datetime) -> None:
        if not resolved:
            return
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO symbols VALUES (?, ?, ?)",
                [(t, s, now.timestamp()) for t, s in resolved.items()],
            )
            self._db.commit()

    def forget_symbols(self, tickers: Iterable[str]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM symbols WHERE ticker = ?", [(t,) for t in tickers])
            self._db.commit()


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
