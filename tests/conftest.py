"""Suite-wide guard: no test reaches the internet, a real keyring or the user's cache.

Quote sources are pointed at a closed port on 127.0.0.1, so a code path that forgets
``--offline`` fails fast instead of fetching from Yahoo or KRX; tests that exercise quotes
point the same variables at their local servers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI explores a fixed set of examples so that a run is repeatable; developers' runs draw new
# ones each time (and `HYPOTHESIS_PROFILE=explore` draws many more) to keep finding bugs.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", max_examples=2000, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)

DEAD_END = "http://127.0.0.1:9"  # the discard port: connections are refused at once


@pytest.fixture(scope="session")
def _calendar_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trading sessions built from exchange-calendars (seconds for XKRX) are derived data: one
    folder for the whole run, so that subprocesses do not rebuild them test after test."""
    return tmp_path_factory.mktemp("calendars")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, _calendar_dir: Path) -> None:
    for name in ("KRX_ID", "KRX_PW"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XLREBALANCE_YAHOO_URL", DEAD_END)
    monkeypatch.setenv("XLREBALANCE_KRX_URL", DEAD_END)
    monkeypatch.setenv("XLREBALANCE_CACHE_DIR", str(tmp_path / "xlrebalance-cache"))
    monkeypatch.setenv("XLREBALANCE_CALENDAR_DIR", str(_calendar_dir))
