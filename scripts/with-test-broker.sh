#!/usr/bin/env bash
# Run a command beside a fresh, private Kafka broker (port 19092), stopped and removed afterwards.
# The test suite and the benchmarks use it; the demo broker (port 9092) is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
export STOCKLOOP_BROKER_PORT="${STOCKLOOP_TEST_BROKER_PORT:-19092}"
export STOCKLOOP_CONTROLLER_PORT="${STOCKLOOP_TEST_CONTROLLER_PORT:-19093}"
export STOCKLOOP_BROKER_DIR="$PWD/.stockloop/test-broker-$STOCKLOOP_BROKER_PORT"

# The broker's data (about 100 MB after the suite) is worth nothing once it has stopped;
# if it does not stop, its directory stays, so that its pid file still finds it.
stop_and_remove() {
  .venv/bin/stockloop broker stop && rm -rf "$STOCKLOOP_BROKER_DIR"
}

.venv/bin/stockloop broker stop >/dev/null 2>&1 || true
rm -rf "$STOCKLOOP_BROKER_DIR"
trap stop_and_remove EXIT
.venv/bin/stockloop broker start
"$@"
