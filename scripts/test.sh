#!/usr/bin/env bash
# Every test: lint, unit and property tests, then integration tests on a real broker.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
scripts/with-test-broker.sh .venv/bin/python -m pytest -p no:cacheprovider "$@"
