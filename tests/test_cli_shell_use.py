"""The installed ``xlrebalance plan`` used from a shell the way new users do: a glob that
names several files, and output piped into ``head``. Real subprocesses from a folder outside
the checkout."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from installed_cli import console_script

EXAMPLES = Path(__file__).resolve().parents[1] / "python/xlrebalance/templates/examples"


def test_a_glob_of_several_files_says_plan_takes_one(tmp_path: Path) -> None:
    # Before: "error: unrecognized arguments: examples/seed.json examples/tech-lookthrough.json".
    for path in EXAMPLES.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    files = sorted(p.name for p in tmp_path.glob("*.json"))
    assert len(files) >= 2
    out = subprocess.run(
        [console_script(), "plan", *files, "--offline"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr == (
        f"xlrebalance: error: plan takes one portfolio file, got {len(files)} "
        f"({', '.join(files)}); run it once per file\n"
    )


def _large_book(path: Path) -> None:
    """600 Korean rows, each far from its target: a plan JSON well above a pipe's buffer."""
    rows = [
        {"account": "a", "ticker": f"{100000 + i:06d}", "quantity": (i % 7) * 3, "price": 10000}
        for i in range(600)
    ]
    doc = {
        "version": 1,
        "base_currency": "KRW",
        "accounts": [{"id": "a", "cash": {"KRW": 5_000_000}}],
        "holdings": rows,
        "targets": {r["ticker"]: 1 / 600 for r in rows},
    }
    path.write_text(json.dumps(doc), encoding="utf-8")


def test_output_piped_into_a_reader_that_stops_early_is_no_traceback(tmp_path: Path) -> None:
    # Before: `xlrebalance plan ... --json | head` ended in a BrokenPipeError traceback.
    book = tmp_path / "large.json"
    _large_book(book)
    with subprocess.Popen(
        [console_script(), "plan", str(book), "--offline", "--json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.read(64)
        assert first.startswith(b"{")
        proc.stdout.close()  # as head does once it has its lines
        stderr = proc.stderr.read().decode()
        proc.wait(timeout=120)
    assert "Traceback" not in stderr, stderr
    assert stderr == ""
    assert proc.returncode == 141
