import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "python" / "xlrebalance" / "templates" / "examples" / "seed.json"


def test_cli_plan_json_on_seed() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "xlrebalance", "plan", str(SEED), "--offline", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    doc = json.loads(out.stdout)
    assert doc["orders"]
    assert doc["summary"]["drift_after"] < doc["summary"]["drift_before"]
