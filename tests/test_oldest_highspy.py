"""The oldest highspy the pin allows, end to end: every bundled example and test portfolio is
planned by ``python -m xlrebalance plan FILE --offline --json`` in a subprocess, stdout parsed
strictly as one JSON document, and the plan compared with the one the pinned (newest) highspy
gives: ties are broken on purpose, so the same input gives the same orders on every version.

Marked ``oldest_highspy`` and left out of a plain ``pytest`` run (it installs a wheel);
scripts/test.sh runs it after the wheel test. To stay quick it does not reinstall numpy,
scipy and the rest: a fresh virtual environment gets only highspy (``--no-deps``, from pip's
wheel cache after the first run) and reads every other package from this environment's
site-packages, added after its own, so its highspy is the one imported (checked below)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
OLDEST_HIGHSPY = "1.7.1"
"""The oldest release ``highspy>=1.7.1`` (pyproject.toml) allows: 1.7.0 was never published
(the index goes from 1.5.3 to 1.7.1), and 1.7.1 has a wheel for CPython 3.11 on Linux."""

PORTFOLIOS = sorted((ROOT / "python" / "xlrebalance" / "templates" / "examples").glob("*.json"))
PORTFOLIOS += sorted((ROOT / "tests" / "data" / "planner").glob("*.json"))

pytestmark = pytest.mark.oldest_highspy


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["XLREBALANCE_CACHE_DIR"] = str(cwd / "cache")
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done


def _orders(plan: dict[str, Any]) -> list[tuple[str, str, str, float]]:
    return [(o["account"], o["ticker"], o["side"], o["quantity"]) for o in plan["orders"]]


def test_pin_names_the_oldest_version_tested() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(rf'"highspy>={re.escape(OLDEST_HIGHSPY)},<[0-9.]+"', pyproject)


def test_every_portfolio_plans_with_the_oldest_highspy(tmp_path: Path) -> None:
    assert PORTFOLIOS, "no portfolios found"
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    own = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         f"highspy=={OLDEST_HIGHSPY}"],
        tmp_path,
    )  # fmt: skip
    # Everything else from this environment, after the new one's own site-packages.
    ours = sysconfig.get_paths()["purelib"]
    (own / "zz_dev_environment.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    found = _run(
        [str(python), "-c",
         "import highspy, importlib.metadata as m; print(m.version('highspy')); "
         "print(highspy.__file__)"],
        tmp_path,
    ).stdout.split()  # fmt: skip
    assert found[0] == OLDEST_HIGHSPY
    assert Path(found[1]).is_relative_to(env_dir)

    for portfolio in PORTFOLIOS:
        args = ["-m", "xlrebalance", "plan", str(portfolio), "--offline", "--json"]
        oldest = json.loads(_run([str(python), *args], tmp_path).stdout)
        newest = json.loads(_run([sys.executable, *args], tmp_path).stdout)
        assert oldest["summary"]["solver"]["status"] in ("optimal", "time_limit", "heuristic")
        assert _orders(oldest) == _orders(newest), portfolio.name
        assert oldest["summary"]["drift_after"] == newest["summary"]["drift_after"]
