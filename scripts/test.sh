#!/usr/bin/env bash
# Set up a virtual environment (once) and run every check: lint, format, types, tests, and the
# built wheel in a fresh environment outside the checkout. Installs the exact versions in
# constraints.txt (reproducible); scripts/test-newest.sh tests the newest ones allowed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[quotes,workbook,excel,dev]"
echo "== ruff check"; .venv/bin/ruff check python udfs tests bench
echo "== ruff format --check"; .venv/bin/ruff format --check python udfs tests bench
echo "== mypy --strict"; .venv/bin/mypy
echo "== pytest"; .venv/bin/python -m pytest "$@"
echo "== wheel (fresh environment outside the checkout)"
.venv/bin/python -m pytest -q -m wheel tests/test_wheel.py
echo "== oldest highspy the pin allows (every example planned, stdout parsed as JSON)"
.venv/bin/python -m pytest -q -m oldest_highspy tests/test_oldest_highspy.py
