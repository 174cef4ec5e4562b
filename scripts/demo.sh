#!/usr/bin/env bash
# The demo: a local broker, the topics, a worker, 60 days of simulated ERP traffic
# (plain JSON and Debezium change events, three of them broken on purpose), then what the
# worker made of it: stock, alerts, purchase requests, a transfer, a dead-stock review, and
# the shortage analysis of a production order released at the end. Each run has its own
# topic prefix, app id and state directory, and removes them at the end. KEEP_RUNNING=1
# leaves broker, worker and topics up to explore, with this run's settings in
# .stockloop/demo.env; `scripts/demo.sh stop` ends such a run. STOCKLOOP_DEMO_ERP=odoo (or
# erpnext) runs it "as Odoo": the same traffic as Odoo 17's tables send it through Debezium,
# read by a worker with the Odoo pack, so materials and orders go by Odoo's ids.
set -euo pipefail
cd "$(dirname "$0")/.."
sl=.venv/bin/stockloop
env_file=.stockloop/demo.env
pid_file=.stockloop/demo-worker.pid
order_file=.stockloop/demo-order.jsonl
days=60
web="http://127.0.0.1:${STOCKLOOP_WEB_PORT:-6066}"

# Stop the worker, delete this run's topics and state, stop the broker.
clean_up() {
  if [ -f "$pid_file" ]; then
    worker=$(cat "$pid_file")
    kill "$worker" 2>/dev/null && while kill -0 "$worker" 2>/dev/null; do sleep 0.2; done
  fi
  $sl topics delete --yes | tail -1 || echo "could not delete the topics ${STOCKLOOP_TOPIC_PREFIX}*"
  rm -rf "$STOCKLOOP_DATA_DIR" "$pid_file" "$env_file" "$order_file" .stockloop/demo-simulate.txt
  $sl broker stop
}

if [ "${1:-}" = stop ]; then
  [ -f "$env_file" ] || { echo "no demo is kept running ($env_file is missing)"; exit 0; }
  set -a; . "$env_file"; set +a
  clean_up
  exit 0
fi

run_id=$(date +%Y%m%d%H%M%S)
export STOCKLOOP_APP_ID="stockloop-demo-$run_id"
export STOCKLOOP_TOPIC_PREFIX="demo-$run_id."
export STOCKLOOP_DATA_DIR="$PWD/.stockloop/demo-$run_id"
export STOCKLOOP_CLOCK=data  # simulated history is a replay: its own event time drives the ticks
shape="${STOCKLOOP_DEMO_ERP:-plain}"
case "$shape" in
  plain) ;;
  odoo) export STOCKLOOP_MAPPING_FILE="$PWD/connectors/mappings/odoo17.yaml" ;;
  erpnext) export STOCKLOOP_MAPPING_FILE="$PWD/connectors/mappings/erpnext15.yaml" ;;
  *) echo "STOCKLOOP_DEMO_ERP=$shape: unknown; known: odoo, erpnext"; exit 1 ;;
esac
log="$PWD/.stockloop/demo-worker.log"
mkdir -p .stockloop
export COLUMNS="${COLUMNS:-150}"  # rich wraps tables at 80 columns when piped
cat >"$env_file" <<EOF
# The settings of the demo run $run_id; load them with: set -a; . $env_file; set +a
STOCKLOOP_APP_ID=$STOCKLOOP_APP_ID
STOCKLOOP_TOPIC_PREFIX=$STOCKLOOP_TOPIC_PREFIX
STOCKLOOP_DATA_DIR=$STOCKLOOP_DATA_DIR
STOCKLOOP_CLOCK=$STOCKLOOP_CLOCK
EOF
for name in STOCKLOOP_BROKER_HOST STOCKLOOP_BROKER_PORT STOCKLOOP_WEB_PORT STOCKLOOP_MAPPING_FILE; do
  if [ -n "${!name:-}" ]; then echo "$name=${!name}" >>"$env_file"; fi
done
trap clean_up EXIT  # a failed run cleans up even with KEEP_RUNNING=1; a finished one keeps it

# The id the worker knows a simulated material or production order by: itself, or the ERP's.
id_of() {
  if [ "$shape" = plain ]; then echo "$2"; return; fi
  .venv/bin/python -c "from connectors.shapes import writer
print(writer('$shape').$1_id_of('$2'))"
}

# Wait until the worker has accounted for this many input records. An ERP's reference rows
# (locations, order headers) and the changes its pack skips (a draft, an edit) count too.
wait_for() {
  if [ "$shape" = plain ]; then $sl status --wait-for "$1" "${@:2}"; return; fi
  outcomes='outcome="(applied|duplicate|dead_lettered|tombstone|reference|skipped)"'
  for _ in $(seq 1 240); do
    done_=$(curl -fs "$web/metrics" |
      awk -v pattern="$outcomes" '/^stockloop_events_total/ && $0 ~ pattern {s += $NF}
        END {print int(s)}' || true)
    [ "${done_:-0}" -ge "$1" ] && { [ "${2:-}" = --timeout ] || $sl status; return 0; }
    sleep 0.5
  done
  echo "only ${done_:-0} of $1 records accounted for"
  return 1
}

$sl broker start
$sl topics apply

echo "starting the worker (log: $log)"
$sl worker --loglevel warning >"$log" 2>&1 &
echo $! >"$pid_file"

for _ in $(seq 1 120); do
  curl -fs "$web/health" >/dev/null && break
  kill -0 "$(cat "$pid_file")" 2>/dev/null || { tail -30 "$log"; exit 1; }
  sleep 1
done

$sl simulate --days "$days" --materials 6 --shape "$shape" | tee .stockloop/demo-simulate.txt
sent=$(sed -n 's/^sent \([0-9]*\).*/\1/p' .stockloop/demo-simulate.txt)
wait_for "$sent"
echo
echo "Three records above were broken on purpose (truncated JSON, a quantity of 'twelve',"
echo "a change event of an unmapped table): each must be refused here, with its reason."
$sl dead-letters
$sl materials show "$(id_of material FAB-COT-150)"
$sl alerts open
echo
echo "What the worker does about them. Purchase requests waiting for a buyer's decision"
echo "(every request: stockloop requests list; decide: stockloop requests approve|reject):"
$sl requests list --status pending_approval
echo
echo "HP-200: a key account's order leaves SH01 short; the old stock nobody sells in BJ03"
echo "goes there first (open transfers), and gets a dead-stock review. The transfer is worth"
echo "more than the approval policy lets through alone, so it waits for a buyer"
echo "(decide: stockloop transfers approve|reject):"
hp200=$(id_of material HP-200)
$sl materials show "$hp200"
$sl transfers list --material "$hp200"
$sl reviews list
echo
echo "The ERP releases production order MO-240017 (20 desk fans FAN-24V in SZ02) now that its"
echo "history is in: the worker analyses an order when it reads it, against its components' stock."
.venv/bin/python -c "from connectors.simulator import ErpSimulator
print(ErpSimulator().production_order(days=$days).value.decode())" >"$order_file"
$sl produce erp.production-orders "$order_file" --key-field order_id --shape "$shape" |
  tee .stockloop/demo-simulate.txt
sent=$((sent + $(sed -n 's/^sent \([0-9]*\).*/\1/p' .stockloop/demo-simulate.txt)))
wait_for "$sent" --timeout 60 >/dev/null ||
  { echo "the worker did not take the production order within 60 s (log: $log)"; exit 1; }
order=$(id_of order MO-240017)
$sl shortage --order "$order"
pcb=$(id_of material PCB-DRV)
for _ in $(seq 1 20); do  # the missing part's expedited request, raised by its own material
  curl -fs "$web/materials/$pcb" | grep -q "$order" && break
  sleep 0.5
done
$sl requests list --material "$pcb"
echo
echo "Who was told, by the shipped routing file (models/routes.yaml): critical at once to the"
echo "owner, the rest in each person's daily digest. stockloop deliver sends them"
echo "(all of them: stockloop notifications):"
$sl notifications --last 8
echo "full state as JSON: curl $web/materials/$hp200   rules in force: curl $web/rules"
if [ "${KEEP_RUNNING:-0}" = 1 ]; then
  trap - EXIT
  echo
  echo "Worker (pid $(cat "$pid_file")) and broker keep running. The dashboard: $web/"
  echo "This run's topics are named"
  echo "${STOCKLOOP_TOPIC_PREFIX}*, its consumer group $STOCKLOOP_APP_ID: other commands see"
  echo "them only with these settings, so in another shell first run"
  echo "  set -a; . $env_file; set +a"
  echo "End the run (worker, topics, state, broker) with: scripts/demo.sh stop"
else
  echo "This run's topics and state are removed now; KEEP_RUNNING=1 make demo keeps them"
  echo "and the worker, whose dashboard is then at $web/"
fi
