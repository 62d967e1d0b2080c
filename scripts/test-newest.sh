#!/usr/bin/env bash
# The same checks as scripts/test.sh, but on the newest versions pyproject.toml's bounds
# allow (no constraints.txt), in a separate environment (.venv-newest): a dependency release
# that breaks something is found here before a user finds it. Results: docs/dependencies.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-newest/bin/python ]; then
  python3 -m venv .venv-newest
fi
.venv-newest/bin/python -m pip install --quiet --upgrade pip
.venv-newest/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager \
  -e ".[quotes,workbook,excel,dev]"
echo "== versions that differ from constraints.txt"
.venv-newest/bin/python -m pip freeze --exclude-editable | grep -v '^-e' | sort >.venv-newest/freeze.txt
grep -v '^#' constraints.txt | sort | comm -13 - .venv-newest/freeze.txt || true
echo "== mypy --strict"; .venv-newest/bin/mypy
echo "== pytest"; .venv-newest/bin/python -m pytest "$@"
