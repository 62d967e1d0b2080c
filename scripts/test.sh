#!/usr/bin/env bash
# Set up a virtual environment (once) and run every check: lint, format, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[quotes,workbook,excel,dev]"
echo "== ruff check"; .venv/bin/ruff check python udfs tests bench
echo "== ruff format --check"; .venv/bin/ruff format --check python udfs tests bench
echo "== mypy --strict"; .venv/bin/mypy
echo "== pytest"; .venv/bin/python -m pytest "$@"
