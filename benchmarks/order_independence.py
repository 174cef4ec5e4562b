"""Order-independence benchmark: does a worker catching up on a backlog give the same results twice?

Event time is meant to make a material's state and its alerts depend on the
events and their times only, not on the order in which the input topics are
consumed (``models.watermark``, ``models.step``). A worker that catches up on
a backlog reads its topics at different speeds, and the interleaving changes
from run to run, so this benchmark runs the same simulated ERP history
(``connectors.simulator``, seeded) through ``--runs`` fresh deployments and
compares what they produced:

- each run has its own app id, topic prefix, web port and state directory,
  ``STOCKLOOP_CLOCK=data``; the whole history is produced first, then one
  worker is started and catches up on it;
- a run ends when every input record has an outcome (``stockloop_events_total``:
  received = applied + duplicate + dead_lettered + tombstone per topic; an
  event waiting for the watermark is counted applied only once applied) and
  the counters stay still for ``--settle`` seconds;
- per run it prints the catch-up rate (records / seconds from worker start to
  the last outcome), the worker's peak RSS (VmHWM), late demand (the sum of
  ``late_demand_events`` over materials and ``stockloop_late_demand_events_total``)
  and the number of alert records;
- then every material's state (``GET /materials/{id}``, parsed, the run's topic
  prefix removed) and every alert key's sequence of ``stockloop.alerts``
  records (as bytes and as parsed JSON) are compared with the first run's.
  It exits 1 when the runs differ, naming the fields and the first differing alert.

Run beside a private broker::

    scripts/with-test-broker.sh .venv/bin/python benchmarks/order_independence.py --help
    scripts/with-test-broker.sh .venv/bin/python benchmarks/order_independence.py \\
        --materials 34 --days 400 --runs 2

Each run stops the worker it started and leaves its topics on the (throwaway) broker.
"""

import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table
from worker_process import WorkerProcess, free_port

from connectors.simulator import ErpSimulator, Record
from connectors.topic_admin import apply_catalogue
from streams.catalogue import load_catalogue
from streams.settings import Settings

ALERTS_TOPIC = "stockloop.alerts"
OUTCOMES = ("applied", "duplicate", "dead_lettered", "tombstone")
POLL_S = 1.0
STALL_S = 120.0  # no outcome counted for this long: the worker is stuck

console = Console()


@dataclass(frozen=True)
class Metrics:
    """What one scrape of ``/metrics`` says about the run."""

    events: dict[tuple[str, str], float]
    """``stockloop_events_total`` by (unprefixed topic, outcome)."""
    late_demand: float
    alerts: float
    processed: float
    """Records the agents have handled (``stockloop_processing_seconds_count``): moves while
    events are only received into ``pending``, when no outcome is counted yet."""

    def received(self) -> float:
        return sum(v for (_, outcome), v in self.events.items() if outcome == "received")

    def unresolved(self) -> float:
        """Records received that have no outcome yet (waiting for the watermark, or in flight)."""
        topics = {topic for topic, _ in self.events}
        return sum(
            self.events.get((t, "received"), 0.0)
            - sum(self.events.get((t, o), 0.0) for o in OUTCOMES)
            for t in topics
        )


class Deployment(WorkerProcess):
    """One isolated stockloop deployment: its own topics, app id, port, state, and one worker."""

    def __init__(self, root: Path) -> None:
        run_id = uuid.uuid4().hex[:8]
        overrides: dict[str, object] = {
            "app_id": f"order-{run_id}",
            "topic_prefix": f"order-{run_id}.",
            "web_port": free_port(),
            "data_dir": root / "data",
            "clock": "data",
        }
        self.settings = Settings(**overrides)
        super().__init__(overrides, self.settings.web_port, root / "worker.log", timeout=30)
        apply_catalogue(load_catalogue(self.settings.topics_file), self.settings)

    def produce(self, records: list[Record]) -> None:
        """Send every record with the simulator's key, and wait for the broker's acks."""
        producer = KafkaProducer(
            bootstrap_servers=self.settings.bootstrap_servers,
            acks="all",
            linger_ms=5,
            batch_size=256 * 1024,
            **self.settings.kafka_security.kafka_python_kwargs(),
        )
        try:
            futures = [
                producer.send(self.settings.topic(r.topic), key=r.key, value=r.value)
                for r in records
            ]
            producer.flush()
        finally:
            producer.close()
        failed = [f for f in futures if f.failed()]
        if failed:
            raise RuntimeError(f"{len(failed)} records not acknowledged: {failed[0].exception}")

    def metrics(self) -> Metrics:
        events: dict[tuple[str, str], float] = {}
        late = alerts = processed = 0.0
        for family in text_string_to_metric_families(self.get("/metrics").text):
            for sample in family.samples:
                if sample.name == "stockloop_events_total":
                    topic = sample.labels["topic"].removeprefix(self.settings.topic_prefix)
                    events[(topic, sample.labels["outcome"])] = sample.value
                elif sample.name == "stockloop_late_demand_events_total":
                    late += sample.value
                elif sample.name == "stockloop_alerts_total":
                    alerts += sample.value
                elif sample.name == "stockloop_processing_seconds_count":
                    processed += sample.value
        return Metrics(events, late, alerts, processed)

    def peak_rss_mib(self) -> float:
        """The worker's peak resident memory (VmHWM), in MiB."""
        return self.memory_kib()["VmHWM"] / 1024

    def material(self, material_id: str) -> dict[str, Any] | None:
        """The material's state, parsed, with this run's topic prefix taken out of it."""
        response = self.get(f"/materials/{material_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return orjson.loads(self.unprefixed(response.content))

    def unprefixed(self, raw: bytes) -> bytes:
        """``raw`` without this run's topic prefix, which is the one thing runs must differ in."""
        return raw.replace(self.settings.topic_prefix.encode(), b"")

    def alerts(self) -> dict[str, list[bytes]]:
        """Every record of the alerts topic, per alert key, in offset order."""
        topic = self.settings.topic(ALERTS_TOPIC)
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            enable_auto_commit=False,
            **self.settings.kafka_security.kafka_python_kwargs(),
        )
        by_key: dict[str, list[bytes]] = defaultdict(list)
        try:
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            ends = consumer.end_offsets(partitions)
            consumer.assign(partitions)
            consumer.seek_to_beginning()
            while any(consumer.position(tp) < ends[tp] for tp in partitions):
                for records in consumer.poll(timeout_ms=1000).values():
                    for record in records:
                        by_key[record.key.decode()].append(self.unprefixed(record.value))
        finally:
            consumer.close()
        return dict(by_key)


@dataclass(frozen=True)
class RunResult:
    """What one catch-up produced, and what it cost."""

    records: int
    seconds: float
    peak_rss_mib: float
    late_demand_states: int
    late_demand_metric: float
    outcomes: Counter[str]
    states: dict[str, dict[str, Any] | None]
    alerts: dict[str, list[bytes]]

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    @property
    def alert_records(self) -> int:
        return sum(len(records) for records in self.alerts.values())


def catch_up(deployment: Deployment, expected: int, settle: float) -> tuple[float, Metrics]:
    """Wait until all ``expected`` records have an outcome and nothing moves for ``settle`` s.

    Returns the seconds from the worker's start to the scrape that first saw
    every outcome of the final, settled counts.
    """
    started = time.perf_counter()
    last: tuple[Any, ...] | None = None
    changed_at = progressed_at = started
    done_at: float | None = None
    while True:
        deployment.check_alive()
        metrics, now = deployment.metrics(), time.perf_counter()
        key = (
            tuple(sorted(metrics.events.items())),
            metrics.late_demand,
            metrics.alerts,
            metrics.processed,
        )
        if key != last:
            last, changed_at, progressed_at = key, now, now
            complete = metrics.received() >= expected and metrics.unresolved() == 0
            done_at = now if complete else None
        elif done_at is not None and now - changed_at >= settle:
            return done_at - started, metrics
        elif now - progressed_at > STALL_S:
            raise RuntimeError(
                f"stuck for {STALL_S:.0f} s: {metrics.received():.0f} of {expected} received, "
                f"{metrics.unresolved():.0f} without an outcome; worker log:\n"
                + deployment.log_tail()
            )
        console.print(
            f"  {now - started:6.0f} s  received {metrics.received():7.0f}/{expected}"
            f"  waiting {metrics.unresolved():6.0f}  alerts {metrics.alerts:5.0f}"
            f"  handled {metrics.processed:7.0f}",
            highlight=False,
        )
        time.sleep(POLL_S)


def run_once(records: list[Record], materials: list[str], settle: float) -> RunResult:
    """One fresh deployment: produce the whole history, then start a worker and let it catch up."""
    with tempfile.TemporaryDirectory(prefix="stockloop-order-") as root:
        deployment = Deployment(Path(root))
        console.print(f"run {deployment.settings.app_id}: producing {len(records)} records")
        deployment.produce(records)
        try:
            deployment.start(health_timeout=120)
            seconds, metrics = catch_up(deployment, len(records), settle)
            states = {m: deployment.material(m) for m in materials}
            alerts = deployment.alerts()
            peak = deployment.peak_rss_mib()
        except Exception:
            console.print(f"worker log of {deployment.settings.app_id}:\n{deployment.log_tail()}")
            raise
        finally:
            deployment.stop()
    outcomes: Counter[str] = Counter()
    for (_, outcome), value in metrics.events.items():
        outcomes[outcome] += int(value)
    console.print(
        f"run {deployment.settings.app_id}: caught up in {seconds:.0f} s "
        f"({len(records) / seconds:.0f} events/s), peak RSS {peak:.0f} MiB",
        highlight=False,
    )
    return RunResult(
        records=len(records),
        seconds=seconds,
        peak_rss_mib=peak,
        late_demand_states=sum(_late_demand(s) for s in states.values() if s is not None),
        late_demand_metric=metrics.late_demand,
        outcomes=outcomes,
        states=states,
        alerts=alerts,
    )


def _late_demand(state: dict[str, Any]) -> int:
    return int(state.get("late_demand_events") or 0)


def differences(left: Any, right: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Every leaf where two parsed JSON values differ: (path, left, right); dicts by key."""
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(left.keys() | right.keys()):
            yield from differences(left.get(key), right.get(key), f"{path}.{key}")
    elif isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            yield from differences(a, b, f"{path}[{index}]")
    elif left != right:
        yield path or ".", left, right


def _unit(material: str, path: str) -> tuple[str, str]:
    """The material-warehouse a differing path belongs to ('*' for material-wide fields)."""
    parts = path.split(".")
    if len(parts) > 2 and parts[1] == "warehouses":
        return material, parts[2]
    return material, "*"


def _field(path: str, state: dict[str, Any] | None) -> str:
    """A path with its material's warehouse ids and list indexes generalised, to count by field."""
    warehouses = set((state or {}).get("warehouses", {}))
    parts = ["<wh>" if part in warehouses else part.split("[")[0] for part in path.split(".")]
    return ".".join(parts)


@dataclass(frozen=True)
class Comparison:
    """How one run differs from the reference run."""

    units: set[tuple[str, str]]
    fields: Counter[str]
    examples: list[tuple[str, str, Any, Any]]
    keys_differing_bytes: list[str]
    keys_differing_json: list[str]
    first_alert_difference: str | None

    @property
    def identical(self) -> bool:
        return not (self.units or self.keys_differing_bytes or self.keys_differing_json)


def compare(reference: RunResult, other: RunResult) -> Comparison:
    units: set[tuple[str, str]] = set()
    fields: Counter[str] = Counter()
    examples: list[tuple[str, str, Any, Any]] = []
    for material, state in reference.states.items():
        for path, a, b in differences(state, other.states.get(material)):
            units.add(_unit(material, path))
            fields[_field(path, state)] += 1
            if len(examples) < 12:
                examples.append((material, path, a, b))
    keys = sorted(reference.alerts.keys() | other.alerts.keys())
    by_bytes = [k for k in keys if reference.alerts.get(k) != other.alerts.get(k)]
    by_json = [
        k
        for k in keys
        if [orjson.loads(v) for v in reference.alerts.get(k, [])]
        != [orjson.loads(v) for v in other.alerts.get(k, [])]
    ]
    first = _first_alert_difference(reference.alerts, other.alerts, by_json) if by_json else None
    return Comparison(units, fields, examples, by_bytes, by_json, first)


def _first_alert_difference(
    reference: dict[str, list[bytes]], other: dict[str, list[bytes]], keys: list[str]
) -> str:
    """The first differing record of the first differing key, field by field."""
    key = keys[0]
    left = [orjson.loads(v) for v in reference.get(key, [])]
    right = [orjson.loads(v) for v in other.get(key, [])]
    for index in range(max(len(left), len(right))):
        a = left[index] if index < len(left) else None
        b = right[index] if index < len(right) else None
        if a != b:
            fields = [f"{p}: {x!r} vs {y!r}" for p, x, y in differences(a, b)][:8]
            return f"key {key}, record {index} of {len(left)} vs {len(right)}: " + "; ".join(fields)
    return f"key {key}"


def _save(path: Path, result: RunResult) -> None:
    """A run's material states and alert records (parsed) as one JSON file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    alerts = {key: [orjson.loads(v) for v in values] for key, values in result.alerts.items()}
    path.write_bytes(
        orjson.dumps(
            {"states": result.states, "alerts": alerts},
            option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS,
        )
    )


def _runs_table(results: list[RunResult]) -> Table:
    table = Table(title="Catch-up per run", title_justify="left", title_style="bold")
    for column in ("run", "records", "seconds", "events/s", "peak RSS", "late demand", "alerts"):
        table.add_column(column, justify="right")
    table.add_column("outcomes")
    for number, result in enumerate(results, start=1):
        outcomes = ", ".join(f"{o} {result.outcomes[o]}" for o in OUTCOMES if result.outcomes[o])
        table.add_row(
            str(number),
            str(result.records),
            f"{result.seconds:.0f}",
            f"{result.rate:.0f}",
            f"{result.peak_rss_mib:.0f} MiB",
            f"{result.late_demand_states} (metric {result.late_demand_metric:.0f})",
            str(result.alert_records),
            outcomes,
        )
    return table


def _comparison_table(
    reference: RunResult, comparisons: list[Comparison], units_total: int
) -> Table:
    table = Table(title="Compared with run 1", title_justify="left", title_style="bold")
    for column in ("run", "material-warehouses differing", "alert keys differing", "fields"):
        table.add_column(column)
    for number, comparison in enumerate(comparisons, start=2):
        fields = ", ".join(f"{f} ({n})" for f, n in comparison.fields.most_common(10)) or "-"
        table.add_row(
            str(number),
            f"{len(comparison.units)} of {units_total}",
            f"{len(comparison.keys_differing_bytes)} by bytes, "
            f"{len(comparison.keys_differing_json)} by JSON, of {len(reference.alerts)}",
            fields,
        )
    return table


def main(
    materials: Annotated[int, typer.Option(min=1, help="Simulated materials.")] = 6,
    days: Annotated[int, typer.Option(min=1, help="Simulated days of ERP history.")] = 120,
    runs: Annotated[int, typer.Option(min=2, help="Catch-ups of the same history.")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the simulated ERP.")] = 42,
    settle: Annotated[
        float, typer.Option(min=1.0, help="Seconds the counters must stay still at the end.")
    ] = 5.0,
    save: Annotated[
        Path | None, typer.Option(help="Write each run's states and alerts here, to diff them.")
    ] = None,
) -> None:
    """Catch up on the same simulated backlog ``runs`` times; exit 1 if the results differ."""
    simulator = ErpSimulator(materials, seed)
    material_ids = [item.material_id for item in simulator.items]
    records = list(simulator.run(days))
    console.print(
        f"{len(records)} records: "
        + ", ".join(f"{t} {n}" for t, n in sorted(Counter(r.topic for r in records).items()))
    )
    results = [run_once(records, material_ids, settle) for _ in range(runs)]
    if save is not None:
        for number, result in enumerate(results, start=1):
            _save(save / f"run-{number}.json", result)
    reference = results[0]
    comparisons = [compare(reference, other) for other in results[1:]]
    units_total = sum(
        len((state or {}).get("warehouses", {})) + 1 for state in reference.states.values()
    )
    console.print(_runs_table(results))
    console.print(_comparison_table(reference, comparisons, units_total))
    for number, comparison in enumerate(comparisons, start=2):
        for material, path, a, b in comparison.examples:
            console.print(f"run {number}: {material}{path}: {a!r} vs {b!r}", highlight=False)
        if comparison.first_alert_difference:
            console.print(
                f"run {number}: first alert difference: {comparison.first_alert_difference}",
                highlight=False,
            )
    identical = all(c.identical for c in comparisons)
    console.print(
        "[bold green]runs identical[/]" if identical else "[bold red]runs differ[/]",
    )
    raise typer.Exit(0 if identical else 1)


if __name__ == "__main__":
    typer.run(main)
