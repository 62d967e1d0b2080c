#!/usr/bin/env bash
# Set up a virtual environment (once) and run the main job on the bundled example.
# A second run skips the install while pyproject.toml is unchanged (a stamp in .venv records
# the hash it installed), so it takes only as long as the example itself.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
extras="quotes,workbook"
stamp=.venv/.xlrebalance-example-stamp
want="$(.venv/bin/python -c 'import hashlib, sys; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest(), sys.argv[1])' "$extras")"
if [ ! -x .venv/bin/xlrebalance ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[$extras]"
  echo "$want" > "$stamp"
fi
# Headless refresh of the bundled workbook, offline (prices on the sheet); the result goes to
# a copy so rebalance.xlsm itself is never changed.
out="${TMPDIR:-/tmp}/xlrebalance-example.xlsm"
.venv/bin/xlrebalance refresh rebalance.xlsm --offline --out "$out"
