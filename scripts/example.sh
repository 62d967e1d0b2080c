#!/usr/bin/env bash
# Set up a virtual environment (once) and run the main job on the bundled example.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[quotes,workbook]"
# Headless refresh of the bundled workbook, offline (prices on the sheet); the result goes to
# a copy so rebalance.xlsm itself is never changed.
out="${TMPDIR:-/tmp}/xlrebalance-example.xlsm"
.venv/bin/xlrebalance refresh rebalance.xlsm --offline --out "$out"
