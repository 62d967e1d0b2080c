"""The per-year session files: read without importing exchange-calendars, rebuilt when stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from xlrebalance.quotes import sessions

PROBE = """
import sys
from datetime import datetime, timedelta, timezone
from xlrebalance.quotes.calendar import FreshnessPolicy
now = datetime(2026, 11, 26, 17, 0, tzinfo=timezone.utc)  # Thanksgiving, NYSE closed
fresh = FreshnessPolicy().is_fresh("US", now - timedelta(hours=19), now)
print(fresh, "exchange_calendars" in sys.modules, "pandas" in sys.modules)
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    where = tmp_path / "calendars"
    monkeypatch.setenv(sessions.CALENDAR_DIR_ENV, str(where))
    sessions.forget()
    yield where
    sessions.forget()


def probe(folder: Path) -> list[str]:
    env = {**os.environ, sessions.CALENDAR_DIR_ENV: str(folder)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_warm_folder_answers_without_importing_the_library(folder: Path) -> None:
    # The first process builds the year from exchange-calendars and keeps it...
    assert probe(folder) == ["True", "True", "True"]
    assert (folder / "XNYS-2026.json").exists()
    # ...the next one reads the file: no exchange-calendars, no pandas on a cached quote.
    assert probe(folder) == ["True", "False", "False"]


def test_a_file_is_used_only_for_the_library_and_overlay_it_was_built_from(folder: Path) -> None:
    stamp = sessions._library_stamp()
    assert stamp is not None
    folder.mkdir(parents=True)
    path = folder / "XNYS-2026.json"
    overlay = sessions._overlay_digest()
    doc = {"format": 1, "library": stamp, "overlay": overlay, "sessions": []}
    path.write_text(json.dumps(doc))
    # Read as it is (an empty year: no sessions at all), proving the file is what answers.
    assert sessions.year_sessions("US", 2026) == {}
    for other in ({"library": stamp + "-old"}, {"overlay": "0"}, {"format": 0}):
        sessions.forget()
        path.write_text(json.dumps({**doc, **other}))
        table = sessions.year_sessions("US", 2026)
        assert table is not None and date(2026, 11, 27) in table  # rebuilt from the library
        assert date(2026, 11, 26) not in table
        assert json.loads(path.read_text())["library"] == stamp
    sessions.forget()
    path.write_text("{not json")
    table = sessions.year_sessions("US", 2026)
    assert table is not None and len(table) > 200


def test_trading_days_of_a_range_apply_the_overlay_and_the_library_range(folder: Path) -> None:
    days = sessions.trading_days("KR", date(2026, 6, 1), date(2026, 6, 5))
    assert days == [date(2026, 6, d) for d in (1, 2, 4, 5)]  # 3 June: local elections
    assert sessions.year_sessions("KR", 2051) is None  # past XKRX's last year (2050)
    assert sessions.trading_days("KR", date(1950, 1, 1), date(1950, 12, 31)) == []
