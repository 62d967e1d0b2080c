"""The installed ``xlrebalance`` console script, run as a user runs it: a subprocess (a uniquely
named module at the top of tests/, on the path like workbook_checks)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def console_script() -> str:
    """The console script installed beside this interpreter (the venv's ``bin``)."""
    here = Path(sys.executable).parent / ("xlrebalance.exe" if os.name == "nt" else "xlrebalance")
    found = str(here) if here.exists() else shutil.which("xlrebalance")
    if found is None:
        pytest.fail("the xlrebalance console script is not installed beside the interpreter")
    return found


def run_console(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``xlrebalance ARGS`` from ``cwd``, output captured as text, Python warnings off (a
    dependency's warning on stderr is not ours to test)."""
    return subprocess.run(
        [console_script(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
