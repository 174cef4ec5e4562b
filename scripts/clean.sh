#!/usr/bin/env bash
# Remove what runs leave behind: .stockloop (test brokers' data, demo state and logs) and the
# test caches. Nothing is pulled from under a process still using it: while a broker started
# from .stockloop or a kept demo worker runs, say how to stop it and remove nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
running=0
for pid_file in .stockloop/*/broker.pid; do
  [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null || continue
  dir="$PWD/$(dirname "$pid_file")"
  echo "a broker still runs from $dir; stop it first:" >&2
  echo "  STOCKLOOP_BROKER_DIR=$dir .venv/bin/stockloop broker stop" >&2
  running=1
done
if [ -f .stockloop/demo-worker.pid ] && kill -0 "$(cat .stockloop/demo-worker.pid)" 2>/dev/null; then
  echo "a demo worker kept running (KEEP_RUNNING=1); end it first: scripts/demo.sh stop" >&2
  running=1
fi
if [ "$running" = 1 ]; then
  echo "nothing removed" >&2
  exit 1
fi
rm -rf .stockloop .pytest_cache .hypothesis
