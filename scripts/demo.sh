#!/usr/bin/env bash
# The demo: a local broker, the topics, a worker, 60 days of simulated ERP traffic
# (plain JSON and Debezium change events, three of them broken), then what the
# worker made of it. KEEP_RUNNING=1 leaves broker and worker up to explore.
set -euo pipefail
cd "$(dirname "$0")/.."
sl=.venv/bin/stockloop
run_id=$(date +%Y%m%d%H%M%S)
export STOCKLOOP_APP_ID="stockloop-demo-$run_id"
export STOCKLOOP_TOPIC_PREFIX="demo-$run_id."
export STOCKLOOP_DATA_DIR="$PWD/.stockloop/demo-$run_id"
export STOCKLOOP_CLOCK=data  # simulated history is a replay: its own event time drives the ticks
log="$PWD/.stockloop/demo-worker.log"
mkdir -p .stockloop
export COLUMNS="${COLUMNS:-150}"  # rich wraps tables at 80 columns when piped

$sl broker start
$sl topics apply

echo "starting the worker (log: $log)"
$sl worker --loglevel warning >"$log" 2>&1 &
worker=$!
stop_all() {
  kill "$worker" 2>/dev/null && wait "$worker" 2>/dev/null || true
  $sl broker stop
}
if [ "${KEEP_RUNNING:-0}" != 1 ]; then trap stop_all EXIT; fi

for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:${STOCKLOOP_WEB_PORT:-6066}/health" >/dev/null && break
  kill -0 "$worker" 2>/dev/null || { tail -30 "$log"; exit 1; }
  sleep 1
done

$sl simulate --days 60 --materials 6 | tee .stockloop/demo-simulate.txt
sent=$(sed -n 's/^sent \([0-9]*\),.*/\1/p' .stockloop/demo-simulate.txt)
$sl status --wait-for "$sent"
$sl dead-letters
for material in HP-200 FAB-COT-150; do $sl materials show "$material"; done
$sl alerts open
echo "full state as JSON: curl http://127.0.0.1:${STOCKLOOP_WEB_PORT:-6066}/materials/HP-200"
if [ "${KEEP_RUNNING:-0}" = 1 ]; then
  echo "worker (pid $worker) and broker keep running; stop with: kill $worker; $sl broker stop"
fi
