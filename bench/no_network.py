"""``xlrebalance refresh`` of the bundled workbook without a network: the installed command in
a subprocess, quote sources pointed at a closed port (refused at once) and at a port that drops
connection attempts (a full accept queue on 127.0.0.1, like a firewall). Prints wall-clock and
CPU seconds per run (the machine's load shows in the gap between them) and the one stderr line.

.venv/bin/python bench/no_network.py [RUNS]
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(Path(sys.executable).parent / "xlrebalance")


def run_once(url: str, folder: Path) -> tuple[float, float, str]:
    book = folder / "book.xlsm"
    shutil.copyfile(ROOT / "rebalance.xlsm", book)
    env = {**os.environ, "XLREBALANCE_YAHOO_URL": url, "XLREBALANCE_CACHE_DIR": str(folder / "c")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [SCRIPT, "refresh", str(book), "--out", str(folder / "out.xlsm")],
        cwd=folder, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stderr.strip()


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    filler = socket.create_connection(server.getsockname())
    try:
        for label, url in (
            ("closed port", "http://127.0.0.1:9"),
            ("dropping port", f"http://127.0.0.1:{server.getsockname()[1]}"),
        ):
            walls, cpus, line = [], [], ""
            for _ in range(runs):
                with tempfile.TemporaryDirectory() as folder:
                    wall, cpu, line = run_once(url, Path(folder))
                walls.append(wall)
                cpus.append(cpu)
            print(
                f"{label:13}  wall median {statistics.median(walls):.2f} s "
                f"(min {min(walls):.2f}, max {max(walls):.2f})  "
                f"cpu median {statistics.median(cpus):.2f} s  runs {runs}"
            )
            print(f"               stderr: {line}")
    finally:
        filler.close()
        server.close()


if __name__ == "__main__":
    main()
