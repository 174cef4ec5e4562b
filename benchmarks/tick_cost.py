"""Tick cost benchmark: what a live tick costs per material, and what it does to events meanwhile.

Issue #13 measured one wall-clock tick over 10,000 materials at 8.2-8.9 s
(about 1,230 materials per second), holding events and ``/health`` for all
of it. Two measurements, each before and after in the same run:

- **In process**, the tick's own work over 10,000 and 100,000 materials
  cloned from a simulated plant (``connectors.simulator``, 45 days): before,
  as the agent did it (each partition's tick iterates the whole table,
  hashes every key, parses and re-evaluates each of its materials); after,
  as it does now (the partition's index, and only the materials whose
  quiet window has passed, ``models.day_change``). Two ticks: one minute
  after the day's first tick (nothing happened), and the first tick of a
  new day (every material closes a day: both ways visit everything). The
  scans of the table, the index and the quiet windows are timed in full,
  the visits on a sample of each partition's (``SAMPLE``): a visit's cost
  does not depend on the table's size, and 100,000 take minutes, not hours.
- **Live**, a worker (private topics) holding 10,000 materials ticks every
  5 s while probe events arrive at 10/s, each for a new material: produce →
  visible (``GET /materials/{id}``) p50/p99/max, and the longest ``/health``
  answer. ``--old-tree DIR`` also runs the worker from a checkout of the
  code before (``git archive <commit> | tar -x -C DIR``).

Run beside a broker (``make bench`` starts a private one)::

    STOCKLOOP_BROKER_PORT=19092 .venv/bin/python benchmarks/tick_cost.py
"""

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import httpx
import typer
from aiokafka.partitioner import DefaultPartitioner
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table
from worker_process import WorkerProcess, private_deployment, wait_until

from connectors.cdc import decode_record
from connectors.mapping import load_mapping
from connectors.simulator import ErpSimulator
from connectors.topic_admin import apply_catalogue
from models.day_change import quiet_until
from models.events import MaterialEvent, PromotionEvent, SourcePosition, StockMovement, encode
from models.rules.spec import builtin_rules
from models.state import MaterialState
from models.step import AppliedEventIds, StepContext, advance, receive
from streams.catalogue import INPUT_KINDS, MATERIAL_EVENTS, STOCK_MOVEMENTS, load_catalogue
from streams.settings import Settings

console = Console(width=160)
SAMPLE = 400
"""Visits timed per partition; a visit's cost does not depend on the table's size."""
TICK_INTERVAL_S = 5.0


# --- in process -------------------------------------------------------------------------------


def simulated_plant(days: int, seed: int) -> tuple[list[MaterialState], StepContext]:
    """The materials of a simulated plant after ``days`` days of live ticks, and their context."""
    mapping = load_mapping(Settings().mapping_file)
    events: list[MaterialEvent] = []
    promotions: dict[str, list[PromotionEvent]] = {}
    for offset, record in enumerate(ErpSimulator(materials=6, seed=seed).run(days)):
        if record.topic not in INPUT_KINDS:
            continue
        try:
            event = decode_record(record.value, INPUT_KINDS[record.topic], mapping, 65_536)
        except ValueError:
            continue
        if isinstance(event, PromotionEvent) and event.category:
            promotions.setdefault(event.category, []).append(event)
        elif event is not None:
            source = SourcePosition(topic=record.topic, partition=0, offset=offset)
            events.append(MaterialEvent(event=event, source=source))
    events.sort(key=lambda envelope: envelope.event.event_time)
    context = StepContext(rules=builtin_rules(), category_promotions=promotions)
    states: dict[str, MaterialState] = {}
    applied = AppliedEventIds()
    for envelope in events:
        material_id = envelope.event.material_id
        state = states.setdefault(material_id, MaterialState(material_id=material_id))
        receive(state, envelope, applied)
        advance(state, envelope.event.event_time, context)
    return list(states.values()), context


def stored(state: MaterialState) -> bytes:
    return state.__pydantic_serializer__.to_json(state, exclude_computed_fields=True)


@dataclass
class Plant:
    """A materials table of clones of a few simulated materials, partitioned as the worker's."""

    table: dict[str, bytes]
    partitions: list[int]
    context: StepContext

    def partition_of(self, material_id: str) -> int:
        return PARTITIONER(material_id.encode(), self.partitions, self.partitions)


PARTITIONER = DefaultPartitioner()


def clone_plant(templates: list[MaterialState], size: int, context: StepContext) -> Plant:
    partitions = list(range(load_catalogue(Settings().topics_file)[MATERIAL_EVENTS].partitions))
    forms = [stored(state) for state in templates]
    table = {f"MAT-{index:07d}": forms[index % len(forms)] for index in range(size)}
    return Plant(table, partitions, context)


def visit(plant: Plant, material_id: str, at: datetime) -> MaterialState:
    """Parse, advance with evaluation at ``at``, store if changed: one material's tick."""
    state = MaterialState.model_validate_json(plant.table[material_id])
    advance(state, at, plant.context, evaluate_at_end=True)
    after = stored(state)
    if after != plant.table[material_id]:
        plant.table[material_id] = after
    return state


def tick_before(plant: Plant, at: datetime) -> float:
    """Seconds for a tick of every partition as the agent did it: every key read and hashed."""
    seconds = 0.0
    for partition in plant.partitions:
        started = time.perf_counter()
        mine = sorted(k for k in plant.table if plant.partition_of(k) == partition)
        seconds += time.perf_counter() - started
        seconds += timed_visits(plant, mine, at)
    return seconds


def timed_visits(plant: Plant, material_ids: list[str], at: datetime) -> float:
    """Seconds to visit all of ``material_ids``, timed on the first ``SAMPLE`` of them."""
    timed = material_ids[:SAMPLE]
    started = time.perf_counter()
    for material_id in timed:
        visit(plant, material_id, at)
    return (time.perf_counter() - started) * len(material_ids) / max(len(timed), 1)


@dataclass
class QuietIndex:
    """The agent's index and quiet windows, in memory."""

    by_partition: dict[int, list[str]]
    quiet: dict[str, tuple[datetime, datetime]]

    def is_quiet(self, material_id: str, at: datetime) -> bool:
        window = self.quiet.get(material_id)
        return window is not None and window[0] <= at < window[1]


def build_index(plant: Plant) -> QuietIndex:
    by_partition: dict[int, list[str]] = {}
    for material_id in plant.table:
        by_partition.setdefault(plant.partition_of(material_id), []).append(material_id)
    for material_ids in by_partition.values():
        material_ids.sort()
    return QuietIndex(by_partition, {})


def tick_after(plant: Plant, index: QuietIndex, at: datetime) -> tuple[float, int]:
    """Seconds for a tick of every partition as the agent does it now; materials it visits.

    Every quiet window is checked; the visits are timed on a sample, as for ``tick_before``.
    """
    seconds, visited = 0.0, 0
    for partition in plant.partitions:
        started = time.perf_counter()
        due = [m for m in index.by_partition.get(partition, ()) if not index.is_quiet(m, at)]
        seconds += time.perf_counter() - started
        seconds += timed_visits(plant, due, at)
        visited += len(due)
    return seconds, visited


def first_tick(plant: Plant, at: datetime, index: QuietIndex | None) -> None:
    """The day's first tick, untimed: every material visited, its quiet window noted.

    Clones of one template are visited once: the same stored state gives the same result.
    """
    done: dict[bytes, tuple[bytes, tuple[datetime, datetime]]] = {}
    for material_id, form in list(plant.table.items()):
        if form not in done:
            state = visit(plant, material_id, at)
            now = max(at, state.last_event_time or at)
            done[form] = (plant.table[material_id], (now, quiet_until(state, now, plant.context)))
        plant.table[material_id], window = done[form]
        if index is not None:
            index.quiet[material_id] = window


@dataclass
class InProcess:
    size: int
    mix: str
    quiet_share: float
    quiet_before: float
    quiet_after: float
    quiet_visited: int
    day_before: float
    day_after: float


def in_process(
    templates: list[MaterialState], context: StepContext, size: int, mix: str
) -> InProcess:
    last = max(s.applied_through for s in templates if s.applied_through)
    day_start = datetime.combine(last.date() + timedelta(days=1), datetime.min.time(), UTC)
    day_start += timedelta(hours=9)
    quiet_tick = day_start + timedelta(minutes=1)
    next_day = day_start + timedelta(days=1)
    console.print(f"in process: {size:,} materials ({mix}) ...")
    before = clone_plant(templates, size, context)
    first_tick(before, day_start, None)
    quiet_before = tick_before(before, quiet_tick)
    day_before = tick_before(before, next_day)
    after = clone_plant(templates, size, context)
    index = build_index(after)
    first_tick(after, day_start, index)
    quiet = sum(1 for window in index.quiet.values() if window[1] > quiet_tick) / size
    quiet_after, visited = tick_after(after, index, quiet_tick)
    day_after, _ = tick_after(after, index, next_day)
    return InProcess(size, mix, quiet, quiet_before, quiet_after, visited, day_before, day_after)


# --- live ------------------------------------------------------------------------------------


def receipt(material_id: str, at: datetime, event_id: str) -> bytes:
    movement = StockMovement(
        event_id=event_id,
        event_time=at,
        material_id=material_id,
        movement_type="receipt",
        warehouse_id="W1",
        quantity=10,
    )
    return encode(movement)


@dataclass
class Live:
    label: str
    probes: list[float]
    health_max: float
    tick_p99: float


def metric(worker: WorkerProcess, name: str, **labels: str) -> float:
    """A counter of the worker's ``/metrics``, summed over the samples with ``labels``."""
    total = 0.0
    for family in text_string_to_metric_families(worker.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def live(label: str, materials: int, probes: int, old_tree: Path | None) -> Live:
    run_id, run_dir, settings = private_deployment()
    console.print(f"live ({label}): run {run_id}, {materials:,} materials, log in {run_dir}")
    apply_catalogue(load_catalogue(settings.topics_file), settings)
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=2,
        **settings.kafka_security.kafka_python_kwargs(),
    )
    worker = WorkerProcess(
        {
            "app_id": settings.app_id,
            "topic_prefix": settings.topic_prefix,
            "web_port": settings.web_port,
            "data_dir": settings.data_dir,
            "tick_interval_s": TICK_INTERVAL_S,
        },
        settings.web_port,
        run_dir / "worker.log",
        timeout=60,
    )
    if old_tree is not None:
        worker.environment["PYTHONPATH"] = str(old_tree)
    topic = settings.topic(STOCK_MOVEMENTS)
    now = datetime.now(UTC) - timedelta(minutes=5)
    try:
        for index in range(materials):
            material_id = f"MAT-{index:06d}"
            producer.send(
                topic, key=material_id.encode(), value=receipt(material_id, now, f"r{index}")
            )
        producer.flush()
        worker.start()
        wait_until(
            lambda: metric(worker, "stockloop_events_total", outcome="applied") >= materials,
            timeout=900,
            what=f"{materials} receipts applied",
        )
        ticked = metric(worker, "stockloop_ticked_materials_total")
        wait_until(
            lambda: metric(worker, "stockloop_ticked_materials_total") >= ticked + 2 * materials,
            timeout=600,
            what="two tick rounds",
        )
        latencies, health = probe(settings, producer, probes, worker.check_alive)
        tick_p99 = tick_seconds(worker)
    finally:
        worker.stop()
        producer.close()
    return Live(label, latencies, health, tick_p99)


def probe(
    settings: Settings, producer: KafkaProducer, count: int, alive: Callable[[], None]
) -> tuple[list[float], float]:
    """Send a receipt for a new material every 100 ms: seconds until each is visible, and the
    longest ``/health`` answer meanwhile."""
    topic = settings.topic(STOCK_MOVEMENTS)
    latencies: list[float] = []
    stop = threading.Event()
    health: list[float] = []
    watcher = threading.Thread(target=_watch_health, args=(settings.web_port, stop, health))
    watcher.start()
    outstanding: dict[str, float] = {}
    started, sent = time.perf_counter(), 0
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{settings.web_port}", timeout=30) as http:
            while sent < count or outstanding:
                now = time.perf_counter()
                if sent < count and now >= started + 0.1 * sent:
                    material_id = f"PROBE-{sent:05d}"
                    at = datetime.now(UTC)
                    producer.send(
                        topic, key=material_id.encode(), value=receipt(material_id, at, material_id)
                    )
                    producer.flush()
                    outstanding[material_id] = now
                    sent += 1
                for material_id, sent_at in list(outstanding.items()):
                    if http.get(f"/materials/{material_id}").status_code == 200:
                        latencies.append(time.perf_counter() - sent_at)
                        del outstanding[material_id]
                    elif time.perf_counter() - sent_at > 120:
                        del outstanding[material_id]
                alive()
                time.sleep(0.005)
    finally:
        stop.set()
        watcher.join()
    return latencies, max(health, default=float("nan"))


def _watch_health(port: int, stop: threading.Event, seconds: list[float]) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        while not stop.is_set():
            started = time.perf_counter()
            http.get("/health")
            seconds.append(time.perf_counter() - started)
            time.sleep(0.01)


def tick_seconds(worker: WorkerProcess) -> float:
    """The largest tick duration bucket bound holding 99 % of ticks (``processing_seconds``)."""
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(worker.get("/metrics").text):
        for sample in family.samples:
            if (
                sample.name == "stockloop_processing_seconds_bucket"
                and sample.labels.get("stage") == "tick"
            ):
                buckets[float(sample.labels["le"])] = sample.value
    if not buckets:
        return float("nan")
    total = max(buckets.values())
    return min(bound for bound, count in buckets.items() if count >= 0.99 * total)


# --- report ----------------------------------------------------------------------------------


def quantile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(rows: list[InProcess], lives: list[Live]) -> None:
    table = Table(
        title="Tick cost in process (materials per second of one tick of every partition)"
    )
    for column in (
        "materials",
        "mix",
        "quiet share",
        "no-change tick: before",
        "after",
        "visited",
        "x",
        "new day: before",
        "after",
    ):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            f"{row.size:,}",
            row.mix,
            f"{row.quiet_share:.0%}",
            f"{row.size / row.quiet_before:,.0f}/s",
            f"{row.size / row.quiet_after:,.0f}/s",
            f"{row.quiet_visited:,}",
            f"{row.quiet_before / row.quiet_after:.1f}",
            f"{row.size / row.day_before:,.0f}/s",
            f"{row.size / row.day_after:,.0f}/s",
        )
    console.print(table)
    if not lives:
        return
    table = Table(title=f"Probe events at 10/s with ticks every {TICK_INTERVAL_S:.0f} s")
    for column in ("worker", "probes", "p50", "p99", "max", "longest /health", "tick p99 ≤"):
        table.add_column(column, justify="right")
    for result in lives:
        table.add_row(
            result.label,
            str(len(result.probes)),
            f"{quantile(result.probes, 0.5) * 1000:,.0f} ms",
            f"{quantile(result.probes, 0.99) * 1000:,.0f} ms",
            f"{max(result.probes, default=float('nan')) * 1000:,.0f} ms",
            f"{result.health_max * 1000:,.0f} ms",
            f"{result.tick_p99:g} s",
        )
    console.print(table)


def main(
    sizes: Annotated[list[int] | None, typer.Option(help="In-process table sizes.")] = None,
    live_materials: Annotated[
        int, typer.Option(min=0, help="Materials of the live worker (0: skip).")
    ] = 10_000,
    probes: Annotated[int, typer.Option(min=1, help="Probe events in the live phase.")] = 300,
    old_tree: Annotated[
        Path | None, typer.Option(help="A checkout of the code before, run as the 'before' worker.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated plant.")] = 11,
) -> None:
    """Time a no-change tick and a new day's tick in process, and events during live ticks."""
    templates, context = simulated_plant(days=45, seed=seed)
    quiet = [
        s
        for s in templates
        if not (
            s.alerts.alerts
            or s.alerts.pending
            or s.requests.open
            or s.transfers.open
            or s.reviews.open
        )
    ]
    rows = []
    for size in sizes or [10_000, 100_000]:
        rows.append(in_process(templates, context, size, "simulated plant"))
        if quiet:
            rows.append(in_process(quiet, context, size, "no alert open"))
    lives = []
    if live_materials:
        if old_tree is not None:
            lives.append(live("before", live_materials, probes, old_tree))
        lives.append(live("after", live_materials, probes, None))
    console.print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    report(rows, lives)


if __name__ == "__main__":
    typer.run(main)
