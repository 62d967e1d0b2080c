"""What a user sees from the installed ``xlrebalance plan`` when a portfolio cannot be planned
or is written wrong: one error line on stderr that names where the problem is (account and
currency, or the JSON field) and what is expected; nothing on stdout, no traceback.

Run as a real subprocess from a folder outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from plancheck import document


def _script() -> str:
    here = Path(sys.executable).parent / ("xlrebalance.exe" if os.name == "nt" else "xlrebalance")
    found = str(here) if here.exists() else shutil.which("xlrebalance")
    if found is None:
        pytest.fail("the xlrebalance console script is not installed beside the interpreter")
    return found


def plan_error(doc: dict[str, Any], folder: Path) -> str:
    """The one error line ``xlrebalance plan --offline --json`` prints for ``doc``."""
    path = folder / "portfolio.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    out = subprocess.run(
        [_script(), "plan", str(path), "--offline", "--json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("xlrebalance: error: "), lines[0]
    return lines[0].removeprefix("xlrebalance: error: ")


def _usd_withdrawal(auto_fx: bool, mode: str) -> dict[str, Any]:
    # 10 USD on hand, 200 USD withdrawn; plenty of KRW, but without auto_fx it cannot pay.
    return document(
        [
            {"ticker": "QQQ", "market": "US", "quantity": 2, "price": 500.0},
            {"ticker": "069500", "quantity": 10, "price": 40000},
        ],
        {"QQQ": 0.5, "069500": 0.5},
        cash={"KRW": 1_000_000, "USD": 10.0},
        fx={"USDKRW": 1400.0},
        mode=mode,
        auto_fx=auto_fx,
        contribution={"USD": -200.0},
    )


def test_usd_shortfall_without_auto_fx_is_named_in_usd(tmp_path: Path) -> None:
    message = plan_error(_usd_withdrawal(auto_fx=False, mode="buy_only"), tmp_path)
    assert message.startswith("account 'a': USD cash is short by 190.00 USD"), message
    assert "KRW" not in message
    assert "auto_fx" in message


def test_usd_shortfall_larger_than_the_holdings_without_auto_fx(tmp_path: Path) -> None:
    # Selling both QQQ shares brings 1,000 USD: 2,000 - 10 - 1,000 is still missing.
    doc = _usd_withdrawal(auto_fx=False, mode="rebalance")
    doc["settings"]["contribution"] = {"USD": -2000.0}
    message = plan_error(doc, tmp_path)
    assert message.startswith("account 'a': USD cash is short by 990.00 USD"), message


def test_shortfall_with_auto_fx_is_in_base_currency_all_currencies_counted(
    tmp_path: Path,
) -> None:
    # With auto_fx the account's currencies pay for each other, so the base total is the
    # honest figure. 069500 is locked and sell_only: only the two QQQ shares may be sold.
    doc = _usd_withdrawal(auto_fx=True, mode="sell_only")
    doc["holdings"][1]["locked"] = True
    doc["settings"]["contribution"] = {"USD": -1800.0}
    message = plan_error(doc, tmp_path)
    # 1800 - 10 - 1000 = 790 USD = 1,106,000 KRW, less the 1,000,000 KRW on hand.
    assert message.startswith("account 'a': cash is short by 106,000.00 KRW"), message
    assert "all its currencies counted" in message
