"""The quote cache is a cache: corrupt, garbage or locked, no command fails because of it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from quotes_fakes import WEEKEND, FakeYahoo
from test_hostile_quotes import us_portfolio

from xlrebalance.quotes import QuoteCache, QuoteStatus, Sources, fill_prices
from xlrebalance.quotes.cache import FILENAME
from xlrebalance.quotes.types import Quote


def quotes(n: int) -> list[Quote]:
    at = datetime(2026, 3, 6, 21, tzinfo=UTC)
    return [
        Quote(
            ticker=f"T{i:04d}",
            price=10.0 + i,
            currency="USD",
            time=at,
            source="yahoo",
            status=QuoteStatus.OK,
            market="US",
            name=f"Company number {i} " * 4,
            fetched=at,
        )
        for i in range(n)
    ]


def filled_cache(directory: Path) -> Path:
    with QuoteCache(directory) as cache:
        cache.put(quotes(400))  # several pages of rows
        assert cache.get("US", "T0399") is not None
    db = sqlite3.connect(directory / FILENAME)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file
    db.close()
    return directory / FILENAME


def test_a_corrupt_page_is_quarantined_and_a_new_cache_started(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = filled_cache(tmp_path)
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 6 * page
    data[3 * page : 5 * page] = b"\xa5" * (2 * page)  # two pages of the table's b-tree
    path.write_bytes(bytes(data))
    with QuoteCache(tmp_path) as cache:
        assert cache.get("US", "T0399") is None  # a new, empty cache...
        cache.put(quotes(3))
        assert cache.get("US", "T0002") is not None  # ...that works
        assert len(cache.notices) == 1 and "was damaged" in cache.notices[0]
    aside = list(tmp_path.glob(f"{FILENAME}.corrupt-*"))
    assert len(aside) == 1 and aside[0].stat().st_size == len(data)
    err = capsys.readouterr().err
    assert err.count("was damaged") == 1 and "Traceback" not in err


def test_a_garbage_file_is_quarantined_and_the_refresh_goes_on(
    tmp_path: Path, sources: Sources, yahoo_server: FakeYahoo
) -> None:
    directory = tmp_path / "garbage"
    directory.mkdir()
    (directory / FILENAME).write_bytes(b"this is not an SQLite database\n" * 200)
    with QuoteCache(directory) as cache:
        filled, _ = fill_prices(us_portfolio(), cache=cache, sources=sources, now=WEEKEND)
        assert {h.ticker: h.price for h in filled.holdings} == {"AAPL": 239.69, "QQQ": 512.3}
        assert "moved it to quotes.sqlite3.corrupt-" in cache.notices[0]
    with QuoteCache(directory) as cache:  # the next run finds the new cache with the prices
        assert cache.get("US", "AAPL") is not None and cache.notices == []


def test_damage_found_while_running_is_quarantined_too(tmp_path: Path) -> None:
    path = filled_cache(tmp_path)
    with QuoteCache(tmp_path) as cache:
        data = bytearray(path.read_bytes())
        data[2 * 4096 : 6 * 4096] = b"\x00\xff" * (2 * 4096)
        path.write_bytes(bytes(data))
        # Whatever SQLite notices first, nothing raises and the cache keeps working.
        cache.get_many([("US", f"T{i:04d}") for i in range(400)])
        cache.put(quotes(2))
        assert cache.get("US", "T0001") is not None


LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=1, isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
db.execute("DELETE FROM meta WHERE key = 'nothing'")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


def test_a_cache_locked_by_another_process_for_10_s_loses_no_prices(
    tmp_path: Path, sources: Sources, yahoo_server: FakeYahoo
) -> None:
    directory = tmp_path / "locked"
    QuoteCache(directory).close()
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(directory / FILENAME), "10"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        with QuoteCache(directory, write_wait=1.0) as cache:
            filled, report = fill_prices(us_portfolio(), cache=cache, sources=sources, now=WEEKEND)
            # The fetched prices are used even though they could not be kept.
            assert {h.ticker: h.price for h in filled.holdings} == {"AAPL": 239.69, "QQQ": 512.3}
            assert all(q.status is QuoteStatus.OK for q in report.quotes)
            assert any("used but not cached" in n for n in cache.notices)
    finally:
        assert locker.wait(timeout=60) == 0
        if locker.stdout is not None:
            locker.stdout.close()
    # The next run: the lock is gone, the cache works and keeps what it fetches.
    with QuoteCache(directory) as cache:
        fill_prices(us_portfolio(), cache=cache, sources=sources, now=WEEKEND)
        assert cache.get("US", "AAPL") is not None
        assert cache.notices == []
