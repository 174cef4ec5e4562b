"""Tick cost benchmark: what a live tick costs per material, and what it does to events meanwhile.

Issue #13 measured one wall-clock tick over 10,000 materials at 8.2-8.9 s
(about 1,230 materials per second), holding events and ``/health`` for all
of it. Two measurements, each before and after in the same run:

- **In process**, the tick's own work over 10,000 and 100,000 materials
  cloned from a simulated plant (``connectors.simulator``, 45 days): before,
  as the agent did it (each partition's tick iterates the whole table,
  hashes every key, parses and re-evaluates each of its materials); after,
  as it does now (the partition's index, and only the materials whose
  quiet window has passed, ``models.day_change``). Three measures: a tick
  one minute after the day's first two (nothing happened), the rest of the
  day at a tick a minute (each material visited when its quiet window
  ends: a repeat, an expiry, a value at risk grown), and the first tick of
  a new day (every material closes a day: both ways visit everything). The
  scans of the table, the index and the quiet windows are timed in full,
  the visits on a sample of each partition's (``SAMPLE``): a visit's cost
  does not depend on the table's size, and 100,000 take minutes, not hours.
- **Live**, a worker (private topics) holding 10,000 materials ticks every
  5 s while probe events arrive at ``--rate`` a second (10), each for a new
  material: produce → applied (its record on ``stockloop.availability``)
  p50/p95/p99/max; ``/health`` asked every 100 ms, its longest answer and the
  longest gap between two answers; and, ten times a second after a probe,
  the raw client's produce → consume round trip on a topic
  of its own (``notification_latency.RoundTrip``), the broker hop's cost at
  that moment, so each figure is also a ratio on the machine at hand.
  ``--prime quiet`` gives each material a receipt (the index and the quiet
  windows let a tick skip it); ``--prime gaps`` keeps a supply/demand gap
  open in each: before 00c4e0c every tick visited every material and only
  the slices stood between a tick and the probes; since, a tick that
  changed nothing leaves it quiet until its alert's next repeat.
  ``--old-tree DIR`` also runs the worker from a checkout of the code
  before (``git archive <commit> | tar -x -C DIR``; the ticks before slices
  are those of 3010b72, the parent of e1354bc).
  ``--runs N`` repeats each configuration, before and after taking turns: on a
  shared machine one run says little, the range over runs says more.

Run beside a broker (``make bench`` starts a private one)::

    scripts/with-test-broker.sh .venv/bin/python benchmarks/tick_cost.py \
        --sizes 0 --old-tree /tmp/before --runs 2 --prime quiet --prime gaps
"""

import math
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import httpx
import typer
from aiokafka.partitioner import DefaultPartitioner
from kafka import KafkaProducer
from notification_latency import RoundTrip, TopicWatch
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table
from worker_process import WorkerProcess, private_deployment, wait_for_quiet_changelogs, wait_until

from connectors.cdc import decode_record
from connectors.mapping import load_mapping
from connectors.simulator import ErpSimulator
from connectors.topic_admin import apply_catalogue
from models.day_change import quiet_until
from models.events import (
    MaterialEvent,
    OrderStatus,
    PromotionEvent,
    SalesOrderLine,
    SourcePosition,
    StockMovement,
    encode,
)
from models.rules.spec import builtin_rules
from models.state import MaterialState
from models.step import AppliedEventIds, StepContext, advance, receive
from streams.catalogue import (
    AVAILABILITY,
    INPUT_KINDS,
    MATERIAL_EVENTS,
    SALES_ORDERS,
    STOCK_MOVEMENTS,
    load_catalogue,
)
from streams.settings import Settings

console = Console(width=160)
SAMPLE = 400
"""Visits timed per partition; a visit's cost does not depend on the table's size."""
SETTLING_TICK = timedelta(seconds=30)
"""The day's second tick, after its first: the one that changes nothing (``first_ticks``)."""
REST_OF_DAY_TICK = timedelta(seconds=60)
"""The worker's default tick interval, for the rest of the day after the no-change tick."""
TICK_INTERVAL_S = 5.0
HEALTH_POLL_S = 0.1
PROBE_TIMEOUT_S = 120.0
"""A probe not applied this long after the last one went out counts as lost."""


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


def visit(plant: Plant, material_id: str, at: datetime) -> tuple[MaterialState, bool]:
    """Parse, advance with evaluation at ``at``, store if changed: one material's tick.

    Also whether it changed nothing (``quiet_until``'s ``settled``).
    """
    state = MaterialState.model_validate_json(plant.table[material_id])
    result = advance(state, at, plant.context, evaluate_at_end=True)
    after = stored(state)
    settled = result.is_empty and after == plant.table[material_id]
    if not settled:
        plant.table[material_id] = after
    return state, settled


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


def rest_of_day(plant: Plant, index: QuietIndex, start: datetime) -> tuple[float, int, int]:
    """Seconds, visits and ticks of a tick every ``REST_OF_DAY_TICK`` from ``start`` to midnight.

    What the no-change tick leaves out: the materials whose quiet window ends
    within the day (a repeat, an expiry, a value at risk that grew) are
    visited when it does, and their visits and new windows are counted.
    """
    midnight = datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), UTC)
    seconds, visits, ticks, at = 0.0, 0, 0, start
    while at < midnight:
        for partition in plant.partitions:
            started = time.perf_counter()
            due = [m for m in index.by_partition.get(partition, ()) if not index.is_quiet(m, at)]
            seconds += time.perf_counter() - started
            seconds += visit_clones(plant, index, due, at)
            visits += len(due)
        ticks += 1
        at += REST_OF_DAY_TICK
    return seconds, visits, ticks


def visit_clones(
    plant: Plant, index: QuietIndex | None, material_ids: list[str], at: datetime
) -> float:
    """Seconds to visit ``material_ids`` and note their quiet windows in ``index``, if any.

    Clones of one stored state give one result: each is visited and timed
    once, and its time counted for every clone.
    """
    clones: dict[bytes, list[str]] = {}
    for material_id in material_ids:
        clones.setdefault(plant.table[material_id], []).append(material_id)
    seconds = 0.0
    for group in clones.values():
        started = time.perf_counter()
        state, settled = visit(plant, group[0], at)
        now = max(at, state.last_event_time or at)
        window = (now, quiet_until(state, now, plant.context, settled))
        seconds += (time.perf_counter() - started) * len(group)
        for material_id in group:
            plant.table[material_id] = plant.table[group[0]]
            if index is not None:
                index.quiet[material_id] = window
    return seconds


def first_ticks(plant: Plant, at: datetime, index: QuietIndex | None) -> None:
    """The day's first two ticks, untimed: every material visited, its quiet window noted.

    The first closes the day and changes most materials; the second changes
    nothing, so a material whose lifecycles run on the clock is quiet from
    then on until its next clock, as after the agent's second tick of a day.
    """
    for moment in (at, at + SETTLING_TICK):
        visit_clones(plant, index, list(plant.table), moment)


@dataclass
class InProcess:
    size: int
    mix: str
    quiet_share: float
    quiet_before: float
    quiet_after: float
    quiet_visited: int
    rest_seconds: float
    rest_visits: int
    rest_ticks: int
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
    first_ticks(before, day_start, None)
    quiet_before = tick_before(before, quiet_tick)
    day_before = tick_before(before, next_day)
    after = clone_plant(templates, size, context)
    index = build_index(after)
    first_ticks(after, day_start, index)
    quiet = sum(1 for window in index.quiet.values() if window[1] > quiet_tick) / size
    quiet_after, visited = tick_after(after, index, quiet_tick)
    rest = rest_of_day(after, index, quiet_tick + REST_OF_DAY_TICK)
    day_after, _ = tick_after(after, index, next_day)
    return InProcess(
        size, mix, quiet, quiet_before, quiet_after, visited, *rest, day_before, day_after
    )


# --- live ------------------------------------------------------------------------------------


class Prime(StrEnum):
    """What each material of the live worker holds before the probes."""

    QUIET = "quiet"
    """A receipt: nothing a tick can change today, so the index and quiet windows skip it."""
    GAPS = "gaps"
    """A receipt of 10 and an order line of 50 due in three days: a supply/demand gap stays
    open, an alert with clocks (before 00c4e0c, visited at every tick)."""


def receipt(material_id: str, at: datetime, event_id: str, quantity: float = 10) -> bytes:
    movement = StockMovement(
        event_id=event_id,
        event_time=at,
        material_id=material_id,
        movement_type="receipt",
        warehouse_id="W1",
        quantity=quantity,
    )
    return encode(movement)


def order_line(material_id: str, at: datetime) -> bytes:
    """A confirmed order of 50, due in three days, for the ``GAPS`` prime."""
    line = SalesOrderLine(
        event_id=f"o-{material_id}",
        event_time=at,
        material_id=material_id,
        order_id=f"SO-{material_id}",
        line_id="10",
        warehouse_id="W1",
        quantity=50,
        due_date=at.date() + timedelta(days=3),
        status=OrderStatus.CONFIRMED,
    )
    return encode(line)


@dataclass
class Live:
    """One live run: probe latencies, the raw client's round trips beside them, ``/health``."""

    label: str
    prime: Prime
    rate: float
    probes: list[float]
    lost: int
    round_trips: list[float]
    health_answer_max: float
    health_gap_max: float
    ticked: float
    tick_p99: float
    peak_rss_kib: int
    """The worker's peak resident memory (VmHWM) at the end of the run."""
    load: tuple[float, float]
    cpu_per_probe: float
    """Worker CPU seconds from the first probe until the last was applied, per probe: the
    figure that still compares two workers once the rate saturates them."""


def metric(worker: WorkerProcess, name: str, **labels: str) -> float:
    """A counter of the worker's ``/metrics``, summed over the samples with ``labels``."""
    total = 0.0
    for family in text_string_to_metric_families(worker.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def live(
    label: str, materials: int, probes: int, rate: float, old_tree: Path | None, prime: Prime
) -> Live:
    """Prime a private worker with ``materials``, let two tick rounds pass and its changelog
    writes end, then probe it."""
    run_id, run_dir, settings = private_deployment()
    load_at_start = os.getloadavg()[0]
    console.print(
        f"live ({label}, {prime}): run {run_id}, {materials:,} materials, worker log and "
        f"probes.csv in {run_dir}"
    )
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
        timeout=PROBE_TIMEOUT_S,
    )
    if old_tree is not None:
        worker.environment["PYTHONPATH"] = str(old_tree)
    movements, orders = settings.topic(STOCK_MOVEMENTS), settings.topic(SALES_ORDERS)
    now = datetime.now(UTC) - timedelta(minutes=5)
    round_trip = RoundTrip(settings)
    try:
        for index in range(materials):
            material_id = f"MAT-{index:06d}"
            key = material_id.encode()
            producer.send(movements, key=key, value=receipt(material_id, now, f"r{index}"))
            if prime is Prime.GAPS:
                producer.send(orders, key=key, value=order_line(material_id, now))
        producer.flush()
        expected = materials * (2 if prime is Prime.GAPS else 1)
        worker.start()
        wait_until(
            lambda: metric(worker, "stockloop_events_total", outcome="applied") >= expected,
            timeout=1800,
            what=f"{expected} priming events applied",
        )
        ticked = metric(worker, "stockloop_ticked_materials_total")
        wait_until(
            lambda: metric(worker, "stockloop_ticked_materials_total") >= ticked + 2 * materials,
            timeout=1200,
            what="two tick rounds",
        )
        wait_for_quiet_changelogs(settings, quiet_s=TICK_INTERVAL_S + 1, timeout=600)
        ticked = metric(worker, "stockloop_ticked_materials_total")
        cpu_before = worker.cpu_seconds()
        latencies, lost, health = probe(
            settings, producer, probes, rate, worker.check_alive, round_trip, run_dir / "probes.csv"
        )
        cpu_per_probe = (worker.cpu_seconds() - cpu_before) / probes
        ticked = metric(worker, "stockloop_ticked_materials_total") - ticked
        tick_p99 = tick_seconds(worker)
        peak_rss_kib = worker.memory_kib()["VmHWM"]
    finally:
        worker.stop()
        producer.close()
        round_trip.close()
    return Live(
        label,
        prime,
        rate,
        latencies,
        lost,
        list(round_trip.latencies),
        max((answer for answer, _ in health), default=math.nan),
        max((gap for _, gap in health), default=math.nan),
        ticked,
        tick_p99,
        peak_rss_kib,
        (load_at_start, os.getloadavg()[0]),
        cpu_per_probe,
    )


def probe(
    settings: Settings,
    producer: KafkaProducer,
    count: int,
    rate: float,
    alive: Callable[[], None],
    round_trip: RoundTrip,
    log: Path,
) -> tuple[list[float], int, list[tuple[float, float]]]:
    """Send receipts for new materials at ``rate`` a second: seconds until each is applied, how
    many never were within ``PROBE_TIMEOUT_S``, and each ``/health`` answer's time and the gap
    since the answer before. ``log`` gets each probe's send time (seconds after the first) and
    latency in ms (empty: never applied), to tell a steady tail from a burst of late probes.

    A probe counts as applied when its material's record reaches ``stockloop.availability``,
    which the worker writes in the step that applies an event. Polling ``GET /materials/{id}``
    for every outstanding probe every 20 ms, as this benchmark did, put thousands of requests
    a second on the loop under test, and the web server's share grew with the very delays it
    measured. Probes go out from a thread of their own on a fixed schedule, so a slow worker
    does not space them out. After some probes the raw client sends one record through a
    topic of its own and reads it back (``RoundTrip``): what the broker hop alone costs at
    that moment on this machine.
    """
    stop = threading.Event()
    health: list[tuple[float, float]] = []
    watcher = threading.Thread(target=_watch_health, args=(settings.web_port, stop, health))
    applied = TopicWatch(settings, AVAILABILITY, lambda availability: [availability["material_id"]])
    sent: dict[str, float] = {}
    sender = threading.Thread(
        target=_send_probes, args=(settings, producer, count, rate, round_trip, sent)
    )

    def latencies() -> dict[str, float]:
        seen = {m: applied.first_after(m, at) for m, at in list(sent.items())}
        return {m: seen_at - sent[m] for m, seen_at in seen.items() if seen_at is not None}

    watcher.start()
    sender.start()
    try:
        while sender.is_alive():
            alive()
            time.sleep(0.5)
        deadline = time.perf_counter() + PROBE_TIMEOUT_S
        while len(latencies()) < len(sent) and time.perf_counter() < deadline:
            alive()
            time.sleep(0.5)
    finally:
        stop.set()
        sender.join()
        watcher.join()
        applied.close()
    found = latencies()
    first = min(sent.values(), default=0.0)
    with log.open("w") as rows:
        rows.write("probe,sent_after_s,latency_ms\n")
        for material_id, at in sent.items():
            latency = f"{found[material_id] * 1000:.1f}" if material_id in found else ""
            rows.write(f"{material_id},{at - first:.3f},{latency}\n")
    return list(found.values()), len(sent) - len(found), health


def _send_probes(
    settings: Settings,
    producer: KafkaProducer,
    count: int,
    rate: float,
    round_trip: RoundTrip,
    sent: dict[str, float],
) -> None:
    """Probe ``n`` goes out ``n / rate`` seconds after the first; every ``rate / 10``-th
    is followed by a round trip of the raw client (ten a second)."""
    topic = settings.topic(STOCK_MOVEMENTS)
    started = time.perf_counter()
    for number in range(count):
        time.sleep(max(0.0, started + number / rate - time.perf_counter()))
        material_id = f"PROBE-{number:05d}"
        value = receipt(material_id, datetime.now(UTC), material_id)
        sent[material_id] = time.perf_counter()
        producer.send(topic, key=material_id.encode(), value=value)
        producer.flush()
        if number % max(1, round(rate / 10)) == 0:
            round_trip.ping(number)


def _watch_health(port: int, stop: threading.Event, answers: list[tuple[float, float]]) -> None:
    """Ask ``/health`` every ``HEALTH_POLL_S``; note each answer's time and the gap since the last.

    A poll is never sent while the one before is unanswered, so a stall shows as one long
    answer and one long gap (the gap's floor is the poll interval).
    """
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=PROBE_TIMEOUT_S) as http:
        last = time.perf_counter()
        while not stop.is_set():
            asked = time.perf_counter()
            http.get("/health")
            answered = time.perf_counter()
            answers.append((answered - asked, answered - last))
            last = answered
            time.sleep(max(0.0, asked + HEALTH_POLL_S - time.perf_counter()))


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
    """Nearest-rank quantile of ``samples``; NaN for none.

    >>> quantile([0.3, 0.1, 0.2, 0.4], 0.5)
    0.2
    """
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def fine_ms(seconds: float) -> str:
    return f"{seconds * 1000:,.2f} ms"


def span(values: list[float], show: Callable[[float], str]) -> str:
    """A range of runs' values, or the one value."""
    low, high = min(values), max(values)
    return show(low) if len(values) == 1 or show(low) == show(high) else f"{show(low)}–{show(high)}"


@dataclass
class TickCost:
    """Everything one run of the benchmark measured."""

    in_process: list[InProcess]
    lives: list[Live]


def measured_configurations(lives: list[Live]) -> dict[tuple[Prime, str], list[Live]]:
    """The live runs by prime and worker (before, after), in the order they ran."""
    groups: dict[tuple[Prime, str], list[Live]] = {}
    for result in lives:
        groups.setdefault((result.prime, result.label), []).append(result)
    return groups


def report(result: TickCost) -> None:
    """Print the in-process table, then each live run, then the range over runs."""
    rows, lives = result.in_process, result.lives
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
        "rest of day: visits/tick",
        "materials/s",
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
            f"{row.rest_visits / row.rest_ticks:,.1f}",
            f"{row.size * row.rest_ticks / row.rest_seconds:,.0f}/s",
            f"{row.size / row.day_before:,.0f}/s",
            f"{row.size / row.day_after:,.0f}/s",
        )
    if rows:
        console.print(table)
    if not lives:
        return
    table = Table(
        title=f"Probe events, produce → applied (availability record), with ticks every "
        f"{TICK_INTERVAL_S:.0f} s; raw client: produce (flushed) → consume on a topic of its "
        f"own, ten a second; /health asked every {HEALTH_POLL_S * 1000:.0f} ms"
    )
    for column in (
        "worker",
        "prime",
        "load",
        "rate",
        "probes",
        "p50",
        "p95",
        "p99",
        "max",
        "raw p50",
        "raw p99",
        "p99 ÷ raw p99",
        "longest /health answer",
        "longest /health gap",
        "ticked meanwhile",
        "tick p99 ≤",
        "peak RSS",
        "worker CPU per probe",
    ):
        table.add_column(column, justify="right")
    for run in lives:
        table.add_row(
            run.label,
            run.prime,
            f"{run.load[0]:.1f}→{run.load[1]:.1f}",
            f"{run.rate:g}/s",
            f"{len(run.probes)}" + (f" ({run.lost} lost)" if run.lost else ""),
            ms(quantile(run.probes, 0.5)),
            ms(quantile(run.probes, 0.95)),
            ms(quantile(run.probes, 0.99)),
            ms(max(run.probes, default=math.nan)),
            ms(quantile(run.round_trips, 0.5)),
            ms(quantile(run.round_trips, 0.99)),
            f"{quantile(run.probes, 0.99) / quantile(run.round_trips, 0.99):,.0f}",
            ms(run.health_answer_max),
            ms(run.health_gap_max),
            f"{run.ticked:,.0f}",
            f"{run.tick_p99:g} s",
            f"{run.peak_rss_kib / 1024:,.0f} MiB",
            fine_ms(run.cpu_per_probe),
        )
    console.print(table)
    console.print(range_table(lives))


def range_table(lives: list[Live]) -> Table:
    """Each configuration's figures as the range over its runs, and after ÷ before."""
    groups = measured_configurations(lives)
    figures: list[tuple[str, Callable[[Live], float], Callable[[float], str]]] = [
        ("probe p50", lambda run: quantile(run.probes, 0.5), ms),
        ("probe p95", lambda run: quantile(run.probes, 0.95), ms),
        ("probe p99", lambda run: quantile(run.probes, 0.99), ms),
        ("probe max", lambda run: max(run.probes, default=math.nan), ms),
        ("raw client p99", lambda run: quantile(run.round_trips, 0.99), ms),
        ("longest /health answer", lambda run: run.health_answer_max, ms),
        ("longest /health gap", lambda run: run.health_gap_max, ms),
        ("worker CPU per probe", lambda run: run.cpu_per_probe, fine_ms),
    ]
    table = Table(title="Range over runs (min–max); after ÷ before compares the means")
    table.add_column("prime")
    table.add_column("figure")
    for column in ("before", "after", "after ÷ before"):
        table.add_column(column, justify="right")
    for prime in Prime:
        before, after = groups.get((prime, "before"), []), groups.get((prime, "after"), [])
        if not (before or after):
            continue
        for name, figure, show in figures:
            low = [figure(run) for run in before]
            high = [figure(run) for run in after]
            ratio = statistics.fmean(high) / statistics.fmean(low) if low and high else math.nan
            table.add_row(
                prime,
                name,
                f"{span(low, show)} (n={len(low)})" if low else "—",
                f"{span(high, show)} (n={len(high)})" if high else "—",
                f"{ratio:.3f}" if math.isfinite(ratio) else "—",
            )
        table.add_section()
    return table


def measure(
    sizes: list[int],
    live_materials: int,
    probes: int,
    rate: float,
    old_tree: Path | None,
    primes: list[Prime],
    runs: int,
    seed: int,
    after: bool = True,
) -> TickCost:
    """The in-process ticks at ``sizes``, then ``runs`` live rounds of each prime, before and
    after taking turns so that the machine's load falls on both alike."""
    rows = []
    if sizes:
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
        for size in sizes:
            rows.append(in_process(templates, context, size, "simulated plant"))
            if quiet:
                rows.append(in_process(quiet, context, size, "no alert open"))
    lives = []
    if live_materials:
        for _ in range(runs):
            for prime in primes:
                if old_tree is not None:
                    lives.append(live("before", live_materials, probes, rate, old_tree, prime))
                if after:
                    lives.append(live("after", live_materials, probes, rate, None, prime))
    console.print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return TickCost(rows, lives)


def main(
    sizes: Annotated[
        list[int] | None, typer.Option(help="In-process table sizes (repeatable; 0: skip).")
    ] = None,
    live_materials: Annotated[
        int, typer.Option(min=0, help="Materials of the live worker (0: skip).")
    ] = 10_000,
    probes: Annotated[int, typer.Option(min=1, help="Probe events in the live phase.")] = 300,
    rate: Annotated[float, typer.Option(min=0.1, max=2000, help="Probe events per second.")] = 10.0,
    old_tree: Annotated[
        Path | None, typer.Option(help="A checkout of the code before, run as the 'before' worker.")
    ] = None,
    prime: Annotated[
        list[Prime] | None,
        typer.Option(help="What the live worker's materials hold (repeatable; default quiet)."),
    ] = None,
    runs: Annotated[int, typer.Option(min=1, help="Live runs of each configuration.")] = 1,
    after: Annotated[
        bool, typer.Option(help="Run the worker of this tree live (--no-after: only --old-tree).")
    ] = True,
    seed: Annotated[int, typer.Option(help="Seed of the simulated plant.")] = 11,
) -> None:
    """Time a no-change tick and a new day's tick in process, and events during live ticks."""
    chosen = [size for size in sizes or [10_000, 100_000] if size > 0]
    primes = prime or [Prime.QUIET]
    report(measure(chosen, live_materials, probes, rate, old_tree, primes, runs, seed, after))


if __name__ == "__main__":
    typer.run(main)
