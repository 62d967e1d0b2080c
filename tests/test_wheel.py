"""The wheel as a user installs it: built from the checkout, installed into a fresh virtual
environment in a temporary folder, used from there with no checkout on any path.

Marked ``wheel`` and left out of a plain ``pytest`` run (it installs numpy, scipy, ... into a
new environment, about a minute); scripts/test.sh, and so CI, runs it with ``-m wheel``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.wheel


def _run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["XLREBALANCE_CACHE_DIR"] = str(cwd / "cache")
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done


def test_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    dist, work = tmp_path / "dist", tmp_path / "work"
    work.mkdir()
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)], work
    )
    (wheel,) = dist.glob("xlrebalance-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    _run(
        [str(python), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"),
         f"{wheel}[excel]"],
        work,
    )  # fmt: skip
    xlrebalance = str(env_dir / "bin" / "xlrebalance")

    made = _run([xlrebalance, "workbook", "new", "mine.xlsm", "--example", "seed"], work)
    assert made.stdout.splitlines()[0] == "created mine.xlsm"
    assert (work / "mine.xlsm").is_file() and (work / "mine.py").is_file()
    _run([xlrebalance, "refresh", "mine.xlsm", "--offline"], work)
    planned = _run([xlrebalance, "plan", "mine.xlsm", "--offline", "--json"], work)
    plan = json.loads(planned.stdout)  # the whole of stdout is the JSON document
    assert plan["orders"] and {o["side"] for o in plan["orders"]} <= {"BUY", "SELL"}

    where = _run(
        [str(python), "-c",
         "import json, xlrebalance, xlrebalance_udfs; "
         "print(json.dumps([xlrebalance.__file__, xlrebalance_udfs.__file__]))"],
        work,
    )  # fmt: skip
    for found in json.loads(where.stdout):
        assert Path(found).is_relative_to(env_dir), found
