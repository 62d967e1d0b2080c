"""The public API (docs/api.md): the example on that page runs as written, and the names it
promises exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import xlrebalance

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def test_the_documented_example_runs() -> None:
    blocks = python_blocks(API.read_text(encoding="utf-8"))
    assert len(blocks) == 2, "docs/api.md: the import block and the example"
    # In a fresh interpreter from the repository root, as the page says to run it.
    out = subprocess.run(
        [sys.executable, "-c", "\n".join(blocks)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "drift 56.21% -> " in out.stdout
    assert "주문 (매도 먼저, 그다음 매수)" in out.stdout
    assert "fx.EURKRW -> no FX rate for EUR in KRW" in out.stdout


def test_every_public_name_resolves() -> None:
    for name in xlrebalance.__all__:
        assert getattr(xlrebalance, name) is not None, name
    assert xlrebalance.plan.__module__ == "xlrebalance.planner"
    assert xlrebalance.Portfolio.__module__ == "xlrebalance.model"
    assert issubclass(xlrebalance.PortfolioError, xlrebalance.XlRebalanceError)
    assert set(xlrebalance.__all__) <= set(dir(xlrebalance))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        getattr(xlrebalance, "no_such_name")  # noqa: B009
