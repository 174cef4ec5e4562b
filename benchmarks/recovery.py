"""Recovery benchmark: a cold start from the changelog, against a raw read of the same log.

Issue #13, goals 4 and 5: a worker restarted elsewhere with an empty data
directory must restore its tables at no less than half the rate of a raw
read of the same changelog into a fresh RocksDB (by hand: 4,400 against
40,000 records/s, 11 %), and the worker's peak RSS is to be reported per
10,000 and 100,000 materials.

How the changelog is filled: through a worker, as production fills it. For
each ``--materials`` N, a private deployment (``worker_process``) gets one
goods receipt per material, then ``--events-per-material`` - 1 more ERP
changes of random materials (``ingest_throughput.ErpSimulator``: receipts,
issues, sales order and purchase order lines, plain JSON); a first worker
(the *filler*) applies them all and is stopped with SIGTERM, as a
deployment stops it. Its changelogs are then what a real worker leaves:
the materials, applied-events, health-materials and health-cells tables
(one record per event, as the agent writes them today), the global
availability table, and whatever else the tables hold. Writing states
straight to the materials changelog would have been faster but would have
left out the other tables a worker restores, and the copies per event that
goal 4 wants gone.

Then, on the same topics and app id:

- **Cold start**: a second worker with an empty data directory. Timed from
  process start to ``/health`` 200: ``streams.views`` answers 503 with
  ``waiting_for: rebalance`` while ``app.rebalancing`` holds, and Faust
  clears it (``on_rebalance_end``) only once table recovery has ended. The
  window from the first ``rebalance`` answer to the 200 is given too
  (process start-up, imports and the group join excluded). Its peak RSS
  (VmHWM) once ready, and per material. A sample of materials is read back
  through ``GET /materials/{id}``: a ready worker without them would be a
  wrong figure.
- **Raw read** of every changelog partition from its first offset to the
  end offset the cold worker found, with aiokafka (records counted only),
  and again into a fresh rocksdict store per table partition, one write
  batch per fetched batch, as Faust's RocksDB store applies a changelog
  batch (``settings.table_store`` is ``rocksdb://``).

Run beside a broker::

    scripts/with-test-broker.sh .venv/bin/python benchmarks/recovery.py \
        --materials 10000 --materials 100000

Each run leaves its topics and directories in place; it stops the workers it
started and nothing else.
"""

import asyncio
import os
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import httpx
import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from ingest_throughput import HISTORY, ErpSimulator, Worker, produce_backlog
from kafka import KafkaProducer
from rich.console import Console
from rich.table import Table
from rocksdict import Options, Rdict, WriteBatch
from worker_process import changelog_offsets, free_port, private_deployment, wait_until

from connectors.mapping import load_mapping
from connectors.topic_admin import apply_catalogue
from streams.catalogue import load_catalogue
from streams.settings import Settings

console = Console(width=160)
READY_TIMEOUT_S = 1800.0
HEALTH_POLL_S = 0.05
SAMPLE = 50
"""Materials read back from the cold worker once it is ready."""
FETCH_BYTES = 16 * 1024 * 1024


@dataclass
class Recovery:
    """One size: the changelog the filler left, the cold start, and the raw reads of the log."""

    materials: int
    events: int
    records: dict[str, int]
    """Changelog records per table (end offset minus first offset, over its partitions)."""
    ready_seconds: float
    window_seconds: float
    """From the first ``/health`` answer ``waiting_for: rebalance`` to the first 200."""
    peak_rss_kib: int
    filler_peak_rss_kib: int
    raw_read_seconds: float
    raw_rocksdb_seconds: float
    raw_records: int
    load: tuple[str, str]

    @property
    def total(self) -> int:
        return sum(self.records.values())

    @property
    def worker_rate(self) -> float:
        """Changelog records per second from the cold worker's process start to ready."""
        return self.total / self.ready_seconds

    @property
    def rocksdb_rate(self) -> float:
        """Records per second of the raw read into a fresh RocksDB: goal 4's baseline."""
        return self.raw_records / self.raw_rocksdb_seconds


def loadavg() -> str:
    """``/proc/loadavg``'s three averages, as the brief asks for with every figure."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def by_table(settings: Settings, offsets: dict[TopicPartition, tuple[int, int]]) -> dict[str, int]:
    records: dict[str, int] = {}
    for tp, (first, end) in offsets.items():
        table = tp.topic.removeprefix(f"{settings.app_id}-").removesuffix("-changelog")
        records[table] = records.get(table, 0) + end - first
    return dict(sorted(records.items(), key=lambda item: -item[1]))


def fill(
    settings: Settings, run_dir: Path, materials: int, per_material: int, seed: int
) -> tuple[int, int]:
    """Events for ``materials`` through a filler worker, stopped once all are applied.

    The events applied and the filler's peak RSS in KiB.
    """
    mapping = load_mapping(settings.mapping_file)
    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    simulator = ErpSimulator(materials, 0.0, mapping, seed, this_hour - HISTORY)
    backlog = [simulator.probe(material_id, False) for material_id in simulator.materials]
    backlog += simulator.records(materials * (per_material - 1))
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=20,
        batch_size=256 * 1024,
        **settings.kafka_security.kafka_python_kwargs(),
    )
    filler = Worker(settings, run_dir / "filler.log")
    try:
        produce_backlog(producer, settings, backlog)
        filler.start(health_timeout=READY_TIMEOUT_S)
        # Not ``drain``: its 60 s stall limit stops a filler whose tick over 100,000 materials
        # holds commits for longer (seen: 69 s), which is slow, not stuck.
        wait_until(
            lambda: filler.snapshot().counted >= len(backlog),
            timeout=READY_TIMEOUT_S + len(backlog) / 20,
            what=f"{len(backlog):,} events applied by the filler",
            interval=1.0,
        )
        # Two commit intervals: the last changelog writes and offsets leave before SIGTERM.
        time.sleep(2 * settings.commit_interval_s + 1)
        peak = filler.memory_kib()["VmHWM"]
    finally:
        filler.stop()
        producer.close()
    return len(backlog), peak


class HealthWatch:
    """Polls ``/health`` from a thread: when it first answered ``rebalance``, and first 200."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.started = time.perf_counter()
        self.rebalance_at: float | None = None
        self.ready_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30) as http:
            while not self._stop.is_set() and self.ready_at is None:
                try:
                    response = http.get("/health")
                except httpx.HTTPError:
                    time.sleep(HEALTH_POLL_S)
                    continue
                now = time.perf_counter()
                if response.status_code == 200:
                    self.ready_at = now
                elif self.rebalance_at is None and (
                    response.json().get("waiting_for") == "rebalance"
                ):
                    self.rebalance_at = now
                time.sleep(HEALTH_POLL_S)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def cold_start(settings: Settings, run_dir: Path, materials: int) -> tuple[float, float, int]:
    """A worker on the same topics with an empty data directory: seconds from process start to
    ready, seconds from its first ``rebalance`` answer to ready, its peak RSS (KiB) once ready.

    Raises if a sample of the materials is not readable once it says it is ready.
    """
    cold = settings.model_copy(update={"web_port": free_port(), "data_dir": run_dir / "cold"})
    worker = Worker(cold, run_dir / "cold.log")
    watch = HealthWatch(cold.web_port)
    try:
        ready = worker.start(health_timeout=READY_TIMEOUT_S)
        peak = worker.memory_kib()["VmHWM"]
        watch.stop()
        step = max(1, materials // SAMPLE)
        missing = [
            material_id
            for material_id in (f"MAT-{n:05d}" for n in range(0, materials, step))
            if worker.get(f"/materials/{material_id}").status_code != 200
        ]
        if missing:
            raise RuntimeError(f"ready worker lacks {len(missing)} of the sample: {missing[:5]}")
    finally:
        watch.stop()
        worker.stop()
    rebalance_at = watch.rebalance_at if watch.rebalance_at is not None else watch.started
    ready_at = watch.ready_at if watch.ready_at is not None else watch.started + ready
    return ready, ready_at - rebalance_at, peak


async def raw_read(
    settings: Settings, offsets: dict[TopicPartition, tuple[int, int]], store: Path | None
) -> tuple[float, int]:
    """Seconds to read every changelog partition from its first to its end offset, and the
    records read; into a fresh rocksdict store per partition under ``store`` if given.

    One write batch per fetched batch of a partition, as Faust's store applies a changelog
    batch; keys and values as raw bytes, as our tables hold them.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        max_partition_fetch_bytes=FETCH_BYTES,
        fetch_max_bytes=FETCH_BYTES * 4,
        max_poll_records=10_000,
    )
    wanted = {tp: end for tp, (first, end) in offsets.items() if end > first}
    databases: dict[TopicPartition, Rdict] = {}
    if store is not None:
        for tp in wanted:
            path = store / f"{tp.topic}-{tp.partition}"
            databases[tp] = Rdict(str(path), Options(raw_mode=True))
    await consumer.start()
    read = 0
    try:
        started = time.perf_counter()
        consumer.assign(list(wanted))
        for tp in wanted:
            consumer.seek(tp, offsets[tp][0])
        remaining = set(wanted)
        while remaining:
            batches = await consumer.getmany(timeout_ms=1000)
            for tp, messages in batches.items():
                read += len(messages)
                if tp in databases:
                    batch = WriteBatch(raw_mode=True)
                    for message in messages:
                        if message.value is None:
                            batch.delete(message.key)
                        else:
                            batch.put(message.key, message.value)
                    databases[tp].write(batch)
                if messages and messages[-1].offset + 1 >= wanted[tp]:
                    remaining.discard(tp)
                    consumer.pause(tp)
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
        for database in databases.values():
            database.close()
    return seconds, read


def measure(materials: int, per_material: int, seed: int) -> Recovery:
    """Fill a private deployment's changelogs with ``materials``, then cold-start and read raw."""
    run_id, run_dir, settings = private_deployment()
    load_at_start = loadavg()
    console.print(f"{materials:,} materials: run {run_id}, logs and state in {run_dir}")
    apply_catalogue(load_catalogue(settings.topics_file), settings)
    events, filler_peak = fill(settings, run_dir, materials, per_material, seed)
    offsets = changelog_offsets(settings)
    console.print(f"changelogs: {by_table(settings, offsets)}; cold start (load {loadavg()}) ...")
    ready, window, peak = cold_start(settings, run_dir, materials)
    console.print(f"ready after {ready:.1f} s; raw reads (load {loadavg()}) ...")
    raw_seconds, raw_records = asyncio.run(raw_read(settings, offsets, None))
    store = run_dir / "raw-rocksdb"
    rocksdb_seconds, _ = asyncio.run(raw_read(settings, offsets, store))
    shutil.rmtree(store)
    return Recovery(
        materials,
        events,
        by_table(settings, offsets),
        ready,
        window,
        peak,
        filler_peak,
        raw_seconds,
        rocksdb_seconds,
        raw_records,
        (load_at_start, loadavg()),
    )


def report(results: list[Recovery]) -> None:
    """The changelog per table, the cold start against the raw reads, then memory."""
    table = Table(title="Changelog records the filler left, per table (empty tables left out)")
    table.add_column("table")
    for result in results:
        table.add_column(f"{result.materials:,} materials", justify="right")
        table.add_column("per material", justify="right")
    names = [name for name in results[0].records if any(r.records.get(name) for r in results)]
    for name in [*names, "total"]:
        counts = [r.total if name == "total" else r.records.get(name, 0) for r in results]
        table.add_row(
            name,
            *(
                cell
                for count, r in zip(counts, results, strict=True)
                for cell in (f"{count:,}", f"{count / r.materials:.2f}")
            ),
        )
    table.add_row("events applied", *(c for r in results for c in (f"{r.events:,}", "")))
    console.print(table)
    table = Table(
        title="Cold start from the changelog (empty data directory) against raw aiokafka reads "
        "of the same log, records/s over every changelog"
    )
    for column in (
        "materials",
        "records",
        "start → ready",
        "worker",
        "rebalance → ready",
        "worker",
        "raw read",
        "raw → RocksDB",
        "worker ÷ raw → RocksDB",
        "load start → end",
    ):
        table.add_column(column, justify="right")
    for result in results:
        worker_rate, rocksdb_rate = result.worker_rate, result.rocksdb_rate
        table.add_row(
            f"{result.materials:,}",
            f"{result.total:,}",
            f"{result.ready_seconds:.1f} s",
            f"{worker_rate:,.0f}/s",
            f"{result.window_seconds:.1f} s",
            f"{result.total / result.window_seconds:,.0f}/s",
            f"{result.raw_records / result.raw_read_seconds:,.0f}/s",
            f"{rocksdb_rate:,.0f}/s",
            f"{worker_rate / rocksdb_rate:.1%}",
            f"{result.load[0]} → {result.load[1]}",
        )
    console.print(table)
    table = Table(title="Worker memory (VmHWM): the cold worker once ready, the filler at the end")
    for column in ("materials", "cold peak RSS", "KiB per material", "filler peak RSS"):
        table.add_column(column, justify="right")
    for result in results:
        table.add_row(
            f"{result.materials:,}",
            f"{result.peak_rss_kib / 1024:,.0f} MiB",
            f"{result.peak_rss_kib / result.materials:,.1f}",
            f"{result.filler_peak_rss_kib / 1024:,.0f} MiB",
        )
    console.print(table)


def main(
    materials: Annotated[
        list[int] | None,
        typer.Option(min=1, help="Materials in the table (repeatable; default 10,000)."),
    ] = None,
    events_per_material: Annotated[
        int, typer.Option(min=1, help="ERP events per material the filler applies.")
    ] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the simulated ERP.")] = 13,
) -> None:
    """Time a cold start from the changelog against a raw read of it; peak RSS per material."""
    report([measure(size, events_per_material, seed) for size in materials or [10_000]])
    console.print(f"load average {loadavg()} on {os.cpu_count()} cores")


if __name__ == "__main__":
    typer.run(main)
