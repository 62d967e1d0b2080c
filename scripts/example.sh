#!/usr/bin/env bash
# Set up a virtual environment (once) and run the main job on the bundled example.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[quotes,workbook]"
.venv/bin/xlrebalance plan templates/examples/seed.json --offline
