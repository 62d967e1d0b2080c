"""Suite-wide guard: no test reaches the internet, a real keyring or the user's cache.

Quote sources are pointed at a closed port on 127.0.0.1, so a code path that forgets
``--offline`` fails fast instead of fetching from Yahoo or KRX; tests that exercise quotes
point the same variables at their local servers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DEAD_END = "http://127.0.0.1:9"  # the discard port: connections are refused at once


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("KRX_ID", "KRX_PW"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XLREBALANCE_YAHOO_URL", DEAD_END)
    monkeypatch.setenv("XLREBALANCE_KRX_URL", DEAD_END)
    monkeypatch.setenv("XLREBALANCE_CACHE_DIR", str(tmp_path / "xlrebalance-cache"))
