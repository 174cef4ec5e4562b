#!/usr/bin/env bash
# Every test: lint and format check, unit and property tests, then integration tests on a
# real broker.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-deps.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
scripts/with-test-broker.sh .venv/bin/python -m pytest -p no:cacheprovider "$@"
