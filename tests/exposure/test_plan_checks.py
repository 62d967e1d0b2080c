"""The plan command with exposure limits, take-profit targets and average costs, as a user runs
it: the installed console script, from another folder, stdout parsed strictly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_lookthrough import three_funds


def test_plan_json_carries_limit_and_take_profit_warnings_and_realised_gains(
    tmp_path: Path,
) -> None:
    doc = three_funds(exposure_limits={"gross_leverage": 1.2, "company": 0.1})
    doc["holdings"][2].update(average_cost=80.0, take_profit=0.2)  # TQQQ up 25%
    path = tmp_path / "book.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    exe = Path(sys.executable).parent / "xlrebalance"
    out = subprocess.run(
        [str(exe), "plan", str(path), "--offline", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    warnings = result["warnings"]
    assert "gross exposure is 1.50x the portfolio before the orders, above the limit 1.20x" in (
        " ".join(warnings)
    )
    assert any("TQQQ in a is up 25.0%, past its take-profit target 20%" in w for w in warnings)
    # No fund holdings cached (offline): the company limit says what it could not see.
    assert any("checked without the holdings of QQQ, XLK, TQQQ" in w for w in warnings)
    sales = {s["ticker"]: s for s in result["realised"]["sales"]}
    tqqq = sales["TQQQ"]
    assert tqqq["gain"] == pytest.approx(tqqq["proceeds"] - 80.0 * tqqq["quantity"])
    assert result["realised"]["overseas_gains_tax"] is None  # a USD book: no KRW estimate
