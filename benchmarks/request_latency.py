"""Purchase request latency: from a stock movement to the purchase request it raises, live.

How long a buyer waits, at a steady load, between the ERP posting an issue
that leaves a material short and the request for it appearing on
``stockloop.purchase-requests``; the same hop to the alert on
``stockloop.alerts`` is the baseline (the step raises both from the same
evaluation, so the difference is what the request adds).

The run primes ``--materials`` materials (a master with a preferred
supplier and a pack size, and a receipt of 500 into each of two
warehouses), then sends stock movements at ``--rate`` events/s for
``--probes`` seconds, live (event time is the wall clock, as an ERP's is;
the worker ticks on the wall clock). Each
second, one of them is a probe: an issue of a probe material's whole stock
plus 10, which puts its inventory position below its reorder point, so the
material must raise one request (and alerts). The rest are small receipts and
issues on the other materials, which never go short. A probe's latency is the
time from its produce call to the moment a consumer, assigned before the run,
receives the first request (and the first alert) of its material: it
includes the wait for the watermark (an event is applied once every input
has passed its time), which a live worker pays on every event.

Run beside a broker (``make bench`` starts a private one)::

    scripts/with-test-broker.sh .venv/bin/python benchmarks/request_latency.py

Each run uses its own app id, topic prefix, web port and state directory, and
leaves them in place; it stops the worker it started and nothing else.
"""

import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import typer
from ingest_throughput import Estimate, Worker, duration, latency_rows, sample_quantile
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from rich.console import Console
from rich.table import Table
from worker_process import private_deployment, wait_until

from connectors.topic_admin import apply_catalogue
from streams.catalogue import load_catalogue
from streams.settings import Settings

WAREHOUSES = ("W1", "W2")
PRIMED_STOCK = 500.0
RESULT_TIMEOUT_S = 30.0

console = Console()


class Arrivals:
    """A consumer of one output topic, in a thread: when each material's records arrived.

    Assigned to every partition at its end before the run starts, so each
    record it sees was written during the run.
    """

    def __init__(self, settings: Settings, topic: str) -> None:
        self._consumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            enable_auto_commit=False,
            **settings.kafka_security.kafka_python_kwargs(),
        )
        name = settings.topic(topic)
        partitions = [TopicPartition(name, p) for p in self._consumer.partitions_for_topic(name)]
        self._consumer.assign(partitions)
        self._consumer.seek_to_end()
        for partition in partitions:  # resolve the end offsets now, not at the first poll
            self._consumer.position(partition)
        self.times: dict[str, list[float]] = {}
        self.statuses: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for records in self._consumer.poll(timeout_ms=100).values():
                received = time.perf_counter()
                for record in records:
                    value = orjson.loads(record.value)
                    self.statuses[value["status"]] += 1
                    self.times.setdefault(value["material_id"], []).append(received)

    def first_after(self, material_id: str, moment: float) -> float | None:
        """When the first record of ``material_id`` arrived at or after ``moment``, if one did."""
        return min((t for t in self.times.get(material_id, ()) if t >= moment), default=None)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._consumer.close()


@dataclass(frozen=True)
class Run:
    """What the steady phase measured."""

    materials: int
    rate: int
    sent: int
    sent_rate: float
    request_latencies: list[float]
    alert_latencies: list[float]
    probes: int
    cpu_share: float
    rss_kib: int
    peak_rss_kib: int
    histograms: dict[str, dict[float, float]]
    request_statuses: Counter[str]
    alert_statuses: Counter[str]


def _event(material_id: str, number: int, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": f"{material_id}-{number}",
        "event_time": datetime.now(UTC).isoformat(),
        "material_id": material_id,
        **fields,
    }


def master(material_id: str, rng: random.Random) -> dict[str, Any]:
    """A material master: unit cost, pack size and preferred supplier, as requests need."""
    return _event(
        material_id,
        0,
        name=f"Part {material_id}",
        unit_cost=round(rng.uniform(2, 400), 2),
        pack_size=rng.choice([1, 5, 10]),
        preferred_supplier=f"S{rng.randrange(12)}",
        default_lead_time_days=rng.choice([5, 10, 20]),
    )


def movement(
    material_id: str, number: int, kind: str, quantity: float, warehouse_id: str = "W1"
) -> dict[str, Any]:
    """A posted receipt or issue of ``quantity``, with the wall clock as its event time."""
    return _event(
        material_id,
        number,
        movement_type=kind,
        warehouse_id=warehouse_id,
        quantity=quantity,
        batch_id=f"B-{material_id}-{number}" if kind == "receipt" else None,
        unit_cost=10.0 if kind == "receipt" else None,
    )


def prime(
    producer: KafkaProducer, settings: Settings, worker: Worker, materials: list[str], seed: int
) -> None:
    """A master and ``PRIMED_STOCK`` in every warehouse for every material; wait until applied."""
    rng = random.Random(seed)
    expected = worker.snapshot().outcomes.get("applied", 0.0) + len(materials) * 3
    for material_id in materials:
        send(producer, settings, "erp.materials", master(material_id, rng))
        for number, warehouse_id in enumerate(WAREHOUSES, start=1):
            receipt = movement(material_id, number, "receipt", PRIMED_STOCK, warehouse_id)
            send(producer, settings, "erp.stock-movements", receipt)
    producer.flush()
    wait_until(
        lambda: worker.snapshot().outcomes.get("applied", 0.0) >= expected,
        timeout=120,
        what="priming",
    )


def send(producer: KafkaProducer, settings: Settings, topic: str, value: dict[str, Any]) -> None:
    producer.send(
        settings.topic(topic), key=value["material_id"].encode(), value=orjson.dumps(value)
    )


def steady(
    producer: KafkaProducer,
    settings: Settings,
    worker: Worker,
    materials: list[str],
    rate: int,
    probes: int,
    seed: int,
) -> Run:
    """Send ``rate`` movements/s for ``probes`` seconds, the first of each second a probe."""
    rng = random.Random(seed + 1)
    probe_materials, background = materials[:probes], materials[probes:]
    requests = Arrivals(settings, "stockloop.purchase-requests")
    alerts = Arrivals(settings, "stockloop.alerts")
    probe_sent: dict[str, float] = {}
    total = rate * probes
    before, cpu_before, started = worker.snapshot(), worker.cpu_seconds(), time.perf_counter()
    for number in range(total):
        due = started + number / rate
        if (pause := due - time.perf_counter()) > 0:
            time.sleep(pause)
        if number % rate == 0:
            material_id = probe_materials[number // rate]
            probe = movement(material_id, 3, "issue", PRIMED_STOCK + 10)
            probe_sent[material_id] = time.perf_counter()
            send(producer, settings, "erp.stock-movements", probe)
            producer.flush()  # a probe leaves now, not with the next batch
            continue
        material_id = rng.choice(background)
        kind = "receipt" if rng.random() < 0.5 else "issue"
        quantity = rng.randint(5, 20) if kind == "receipt" else rng.randint(1, 5)
        value = movement(material_id, 10 + number, kind, quantity, rng.choice(WAREHOUSES))
        send(producer, settings, "erp.stock-movements", value)
    producer.flush()
    sent_for = time.perf_counter() - started

    def answered() -> bool:
        return all(
            requests.first_after(m, at) is not None and alerts.first_after(m, at) is not None
            for m, at in probe_sent.items()
        )

    try:
        wait_until(answered, timeout=RESULT_TIMEOUT_S, what="requests for every probe")
    except TimeoutError:
        console.print("[yellow]some probes got no request or alert in time[/yellow]")
    cpu_share = (worker.cpu_seconds() - cpu_before) / (time.perf_counter() - started)
    requests.close()
    alerts.close()
    memory = worker.memory_kib()
    return Run(
        materials=len(materials),
        rate=rate,
        sent=total,
        sent_rate=total / sent_for,
        request_latencies=_latencies(probe_sent, requests),
        alert_latencies=_latencies(probe_sent, alerts),
        probes=len(probe_sent),
        cpu_share=cpu_share,
        rss_kib=memory["VmRSS"],
        peak_rss_kib=memory["VmHWM"],
        histograms=worker.snapshot().since(before),
        request_statuses=requests.statuses,
        alert_statuses=alerts.statuses,
    )


def _latencies(sent: dict[str, float], arrivals: Arrivals) -> list[float]:
    """Probe produce → first record of its material after it, for the probes answered."""
    firsts = ((arrivals.first_after(m, at), at) for m, at in sent.items())
    return [first - at for first, at in firsts if first is not None]


def report(run: Run) -> None:
    """Print the one result table."""
    table = Table(
        title=(
            f"Movement → purchase request latency (one worker, {run.materials} materials, "
            f"steady {run.rate} events/s, {run.probes} probes)"
        ),
        title_justify="left",
        title_style="bold",
    )
    table.add_column("measure")
    for column in ("n", "p50", "p95", "p99", "max"):
        table.add_column(column, justify="right")

    def latency_row(label: str, samples: list[float]) -> None:
        table.add_row(
            label,
            f"{len(samples)}/{run.probes}",
            *(duration(sample_quantile(samples, q)) for q in (0.5, 0.95, 0.99)),
            duration(Estimate(max(samples)) if samples else None),
        )

    latency_row("[bold]probe issue → purchase request[/bold]", run.request_latencies)
    latency_row("probe issue → alert (baseline)", run.alert_latencies)
    for label, *quantiles in latency_rows(run.histograms):
        if any(value != "—" for value in quantiles):  # stages the phase did not reach
            table.add_row(f"worker: {label}", "", *quantiles)
    table.add_section()
    table.add_row("movements sent (with probes)", f"{run.sent:,}", f"{run.sent_rate:.1f}/s")
    for topic, statuses in (("requests", run.request_statuses), ("alerts", run.alert_statuses)):
        seen = ", ".join(f"{status} {count}" for status, count in sorted(statuses.items()))
        table.add_row(f"{topic} published meanwhile", f"{statuses.total()}", seen)
    table.add_row("worker CPU", "", f"{run.cpu_share:.0%} of one CPU")
    table.add_row(
        "worker RSS now / peak",
        "",
        f"{run.rss_kib / 1024:,.0f} MiB",
        f"{run.peak_rss_kib / 1024:,.0f} MiB",
    )
    table.add_row(
        "machine (shared)",
        "",
        f"{os.cpu_count()} CPUs",
        f"load {os.getloadavg()[0]:.1f}",
    )
    console.print(table)


def main(
    materials: Annotated[
        int, typer.Option(min=2, help="Materials primed with a master and stock.")
    ] = 200,
    rate: Annotated[
        int, typer.Option(min=2, help="Steady load, movements/s (one a second is a probe).")
    ] = 50,
    probes: Annotated[
        int, typer.Option(min=1, help="Probes, one a second; each empties its own material.")
    ] = 60,
    seed: Annotated[int, typer.Option(help="Seed of masters and background movements.")] = 7,
) -> None:
    """Measure movement → purchase request latency (and → alert) at a steady load."""
    if probes >= materials:
        raise typer.BadParameter("--probes must be below --materials: each probe empties one")
    run_id, run_dir, settings = private_deployment()
    console.print(
        f"run {run_id}: broker {settings.bootstrap_servers}, topics {settings.topic_prefix}*, "
        f"worker log and state in {run_dir}"
    )
    apply_catalogue(load_catalogue(settings.topics_file), settings)
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=2,
        **settings.kafka_security.kafka_python_kwargs(),
    )
    worker = Worker(settings, run_dir / "worker.log")
    names = [f"MAT-{number:05d}" for number in range(materials)]
    try:
        worker.start()
        prime(producer, settings, worker, names, seed)
        console.print(f"primed {materials} materials; steady phase of {probes} s ...")
        run = steady(producer, settings, worker, names, rate, probes, seed)
    finally:
        worker.stop()
        producer.close()
    report(run)


if __name__ == "__main__":
    typer.run(main)
