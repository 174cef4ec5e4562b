"""Critical notification latency: from a stock movement to its owner's webhook, live.

How long a material's owner waits between the ERP posting an issue that
opens a supply/demand gap and the critical notification reaching them: the
worker raises the alert, the router forms the owner's notification on
``stockloop.notifications``, and ``stockloop deliver`` (the long-running
loop, in a process of its own, as deployed) posts it to a signed webhook.

The run primes ``--count`` materials (a master naming its owner, a receipt
of 200 and a confirmed sales order of 150 due in five days: covered, no gap),
publishes a routing file whose critical route sends at once (``group_wait:
0s``, one group per material) to the material's owner, and starts
``stockloop deliver`` against a webhook endpoint served here on 127.0.0.1,
which checks each request's signature and records when it arrived. Then it
sends one probe every ``--interval`` seconds: an issue of 100 of the next
material (event time: the wall clock), which leaves 100 on hand against 150
ordered, a critical supply/demand gap. A probe's latency is
the time from its produce call to the moment its owner's webhook received
the notification. The split is read by consumers assigned before the run:
the first critical alert of the material on ``stockloop.alerts`` and the
owner's notification on ``stockloop.notifications`` (each seen up to a poll
later than the broker had it).

The baseline, in the same run and on the same broker: between probes,
``--pings`` records are produced to a topic of one partition and consumed
back with kafka-python (flush after each send, as a probe is sent), so the
ratio of the two holds on a noisy machine.

Run beside a broker (``scripts/with-test-broker.sh`` starts a private one)::

    scripts/with-test-broker.sh .venv/bin/python benchmarks/notification_latency.py

Each run uses its own app id, topic prefix, web port and state directory, and
leaves them in place; it stops the worker and the delivery process it
started and nothing else.
"""

import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from ingest_throughput import Estimate, Worker, duration, latency_rows, sample_quantile
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError
from rich.console import Console
from rich.table import Table
from worker_process import STOCKLOOP, private_deployment, wait_until

from connectors.delivery.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureRejected,
    verify,
)
from connectors.topic_admin import apply_catalogue
from streams.catalogue import load_catalogue
from streams.settings import PROJECT_ROOT, Settings

WAREHOUSE = "W1"
PRIMED_STOCK = 200.0
ORDERED = 150.0
PROBE_ISSUE = 100.0  # leaves 100 on hand against 150 ordered: a critical supply/demand gap
OWNER = "li"  # every material's owner, and the person the critical route names besides
WARM_UP = "WARM-0"
RESULT_TIMEOUT_S = 60.0
WARM_UP_TIMEOUT_S = 180.0

ROUTES = f"""\
version: 1
people:
  {OWNER}: {{name: Li Na, channels: {{webhook: {OWNER}-hook}}}}
route:
  receivers: [{OWNER}]
  group_by: [rule_id, warehouse_id]
  digest: true
  routes:
    - name: critical
      matchers: ['severity="critical"']
      receivers: [owner, {OWNER}]
      digest: false
      group_by: [rule_id, material_id]
      group_wait: 0s
      group_interval: 1m
      repeat_interval: 4h
"""
"""Critical alerts at once to the owner, one group per material; the rest in a digest.

The critical route names the owner person as well as the ``owner`` label
receiver: an alert's ``owner`` label is its rule's role (``planner``,
``buyer``), not the master's owner, and names nobody in this directory.
"""

console = Console()


# --- observers ---------------------------------------------------------------------------------


class Arrivals:
    """When each key was first seen, after a moment: ``first_after`` over recorded times."""

    def __init__(self) -> None:
        self._times: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def add(self, keys: Iterable[str], at: float) -> None:
        with self._lock:
            for key in keys:
                self._times.setdefault(key, []).append(at)

    def first_after(self, key: str, moment: float) -> float | None:
        """When ``key`` was first seen at or after ``moment``, if it was."""
        with self._lock:
            return min((t for t in self._times.get(key, ()) if t >= moment), default=None)

    def count(self) -> int:
        with self._lock:
            return sum(len(times) for times in self._times.values())


class TopicWatch(Arrivals):
    """A consumer of one topic, in a thread, recording the keys ``keys_of`` finds in each value.

    Assigned to every partition at its end before the run starts, so each
    record it sees was written during the run.
    """

    def __init__(
        self, settings: Settings, topic: str, keys_of: Callable[[dict[str, Any]], list[str]]
    ) -> None:
        super().__init__()
        self._keys_of = keys_of
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
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for records in self._consumer.poll(timeout_ms=100).values():
                received = time.perf_counter()
                for record in records:
                    if record.value is not None:
                        self.add(self._keys_of(orjson.loads(record.value)), received)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._consumer.close()


def critical_alert_keys(alert: dict[str, Any]) -> list[str]:
    """A critical alert is keyed by its material."""
    return [alert["material_id"]] if alert.get("severity") == "critical" else []


def owner_key(material_id: str) -> str:
    """The key of the owner's notifications of ``material_id``."""
    return f"{OWNER}/{material_id}"


def notification_keys(notification: dict[str, Any]) -> list[str]:
    """A notification is keyed ``recipient/material`` for each material it tells of."""
    recipient = notification["recipient"]
    return [f"{recipient}/{item['material_id']}" for item in notification["items"]]


class Webhooks(Arrivals):
    """Webhook endpoints on a free port of 127.0.0.1 (``/hooks/<name>``) that check signatures.

    A request whose signature does not verify is answered 401 and counted,
    not recorded: delivery would retry it, and the run would show it.
    """

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.rejected = 0
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received = time.perf_counter()
                try:
                    verify(
                        secret,
                        body,
                        self.headers.get(TIMESTAMP_HEADER),
                        self.headers.get(SIGNATURE_HEADER),
                        now=time.time(),
                    )
                except SignatureRejected:
                    with hooks._lock:
                        hooks.rejected += 1
                    self._answer(401)
                    return
                hooks.add(notification_keys(orjson.loads(body)), received)
                self._answer(200)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the run reads what arrived."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class RoundTrip:
    """The baseline: kafka-python produce (acks=all, flushed) → consume, on a topic of its own."""

    def __init__(self, settings: Settings) -> None:
        self._topic = settings.topic("bench.round-trip")
        kwargs = settings.kafka_security.kafka_python_kwargs()
        admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **kwargs)
        try:
            admin.create_topics([NewTopic(self._topic, num_partitions=1, replication_factor=1)])
        except TopicAlreadyExistsError:
            pass
        finally:
            admin.close()
        self._producer = KafkaProducer(
            bootstrap_servers=settings.bootstrap_servers, acks="all", **kwargs
        )
        self._consumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False, **kwargs
        )
        wait_until(
            lambda: bool(self._consumer.partitions_for_topic(self._topic)),
            timeout=30,
            what="round-trip topic metadata",
        )
        partition = TopicPartition(self._topic, 0)
        self._consumer.assign([partition])
        self._consumer.seek_to_end()
        self._consumer.position(partition)
        self._sent: dict[int, float] = {}
        self.latencies: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for records in self._consumer.poll(timeout_ms=100).values():
                received = time.perf_counter()
                with self._lock:
                    for record in records:
                        sent = self._sent.pop(int(record.value), None)
                        if sent is not None:
                            self.latencies.append(received - sent)

    def ping(self, number: int) -> None:
        """Produce one record and flush it, as a probe is sent."""
        with self._lock:
            self._sent[number] = time.perf_counter()
        self._producer.send(self._topic, value=str(number).encode())
        self._producer.flush()

    def lost(self) -> int:
        with self._lock:
            return len(self._sent)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._consumer.close()
        self._producer.close()


# --- processes ---------------------------------------------------------------------------------


class DeliverProcess:
    """``stockloop deliver`` (the long-running loop) with this run's settings, its log in a file."""

    def __init__(self, environment: dict[str, str], log_path: Path) -> None:
        self._environment = environment
        self._log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(STOCKLOOP), "deliver"],
                env=self._environment,
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check_alive(self) -> None:
        """Stop the benchmark with the delivery log if the process has died."""
        if self.process is not None and self.process.poll() is not None:
            tail = self._log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"stockloop deliver exited with {self.process.returncode}:\n{tail}")

    def memory_kib(self) -> dict[str, int]:
        """Peak (VmHWM) and current (VmRSS) resident memory of the process, in KiB."""
        assert self.process is not None
        return _memory(self.process.pid)

    def stop(self) -> None:
        """SIGTERM; SIGKILL only if it will not exit."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def _memory(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {
        line.split(":")[0]: int(line.split()[1])
        for line in status.splitlines()
        if line.startswith(("VmHWM:", "VmRSS:"))
    }


def deliver_environment(worker: Worker, hooks: Webhooks, secret: str) -> dict[str, str]:
    """The worker's settings plus the endpoint directory of the owner's webhook."""
    name = f"{OWNER}-hook"
    directory = {
        "webhook": {name: {"url": f"{hooks.base_url}/{name}", "secret_env": "BENCH_HOOK_SECRET"}}
    }
    return worker.environment | {
        "BENCH_HOOK_SECRET": secret,
        "STOCKLOOP_DELIVERY__ENDPOINTS": orjson.dumps(directory).decode(),
        "STOCKLOOP_DELIVERY__TIMEOUT_S": "5",
    }


# --- the ERP events ----------------------------------------------------------------------------


def _event(material_id: str, event_id: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_time": at.isoformat(),
        "material_id": material_id,
        **fields,
    }


def primed(material_id: str) -> list[tuple[str, dict[str, Any]]]:
    """A master naming its owner, a receipt of 200 and a confirmed order of 150 due in 5 days."""
    now = datetime.now(UTC)
    return [
        (
            "erp.materials",
            _event(
                material_id,
                f"{material_id}-m",
                now - timedelta(minutes=3),
                name=material_id,
                owner=OWNER,
            ),
        ),
        (
            "erp.stock-movements",
            _event(
                material_id,
                f"{material_id}-r",
                now - timedelta(minutes=2),
                movement_type="receipt",
                warehouse_id=WAREHOUSE,
                quantity=PRIMED_STOCK,
                batch_id=f"B-{material_id}",
                unit_cost=10.0,
            ),
        ),
        (
            "erp.sales-orders",
            _event(
                material_id,
                f"{material_id}-so",
                now - timedelta(minutes=1),
                order_id=f"SO-{material_id}",
                line_id="1",
                warehouse_id=WAREHOUSE,
                quantity=ORDERED,
                due_date=(now + timedelta(days=5)).date().isoformat(),
                status="confirmed",
            ),
        ),
    ]


def probe(material_id: str) -> dict[str, Any]:
    """An issue of 100, now: 100 on hand against 150 ordered within the week."""
    return _event(
        material_id,
        f"{material_id}-issue",
        datetime.now(UTC),
        movement_type="issue",
        warehouse_id=WAREHOUSE,
        quantity=PROBE_ISSUE,
    )


def send(producer: KafkaProducer, settings: Settings, topic: str, value: dict[str, Any]) -> None:
    producer.send(
        settings.topic(topic), key=value["material_id"].encode(), value=orjson.dumps(value)
    )


def prime(
    producer: KafkaProducer, settings: Settings, worker: Worker, materials: list[str]
) -> None:
    """Every material covered (master, stock, order); wait until the worker applied them."""
    expected = worker.snapshot().outcomes.get("applied", 0.0) + len(materials) * 3
    for material_id in materials:
        for topic, value in primed(material_id):
            send(producer, settings, topic, value)
    producer.flush()
    wait_until(
        lambda: worker.snapshot().outcomes.get("applied", 0.0) >= expected,
        timeout=120,
        what="priming",
    )


def publish_routes(worker: Worker, run_dir: Path) -> None:
    """``stockloop routes apply`` of ``ROUTES``, before the worker starts: it reads it at once."""
    path = run_dir / "routes.yaml"
    path.write_text(ROUTES)
    subprocess.run(
        [str(STOCKLOOP), "routes", "apply", str(path)],
        env=worker.environment,
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    )


# --- the run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """What the probe phase measured, in seconds from each probe's produce call."""

    probes: int
    delivered: list[float]  # → owner's webhook
    alerted: list[float]  # → critical alert on stockloop.alerts
    notified: list[float]  # → owner's notification on stockloop.notifications
    delivering: list[float]  # owner's notification seen → owner's webhook
    round_trips: list[float]
    lost_pings: int
    rejected: int
    hook_requests: int
    worker_memory: dict[str, int]
    deliver_memory: dict[str, int]
    histograms: dict[str, dict[float, float]]


def measure(
    producer: KafkaProducer,
    settings: Settings,
    worker: Worker,
    deliverer: DeliverProcess,
    hooks: Webhooks,
    materials: list[str],
    interval: float,
    pings: int,
) -> Run:
    """One probe every ``interval`` seconds, ``pings`` round trips spread between probes."""
    alerts = TopicWatch(settings, "stockloop.alerts", critical_alert_keys)
    notifications = TopicWatch(settings, "stockloop.notifications", notification_keys)
    baseline = RoundTrip(settings)
    sent: dict[str, float] = {}
    before = worker.snapshot()
    started = time.perf_counter()
    for index, material_id in enumerate(materials):
        for slot in range(pings + 1):
            due = started + interval * (index + slot / (pings + 1))
            if (pause := due - time.perf_counter()) > 0:
                time.sleep(pause)
            if slot == 0:
                sent[material_id] = time.perf_counter()
                send(producer, settings, "erp.stock-movements", probe(material_id))
                producer.flush()  # a probe leaves now, not with the next batch
            else:
                baseline.ping(index * pings + slot)
        deliverer.check_alive()

    def answered() -> bool:
        deliverer.check_alive()
        return all(hooks.first_after(owner_key(m), at) is not None for m, at in sent.items())

    try:
        wait_until(answered, timeout=RESULT_TIMEOUT_S, what="owner notifications of every probe")
    except TimeoutError:
        console.print("[yellow]some probes reached no owner's webhook in time[/yellow]")
    time.sleep(1.0)  # the last round trips
    alerts.close()
    notifications.close()
    baseline.close()

    def after(arrivals: Arrivals, key: Callable[[str], str]) -> list[float]:
        firsts = ((arrivals.first_after(key(m), at), at) for m, at in sent.items())
        return [first - at for first, at in firsts if first is not None]

    delivering = []
    for material_id, at in sent.items():
        seen = notifications.first_after(owner_key(material_id), at)
        arrived = hooks.first_after(owner_key(material_id), at)
        if seen is not None and arrived is not None:
            delivering.append(arrived - seen)
    return Run(
        probes=len(sent),
        delivered=after(hooks, owner_key),
        alerted=after(alerts, lambda m: m),
        notified=after(notifications, owner_key),
        delivering=delivering,
        round_trips=list(baseline.latencies),
        lost_pings=baseline.lost(),
        rejected=hooks.rejected,
        hook_requests=hooks.count(),
        worker_memory=worker.memory_kib(),
        deliver_memory=deliverer.memory_kib(),
        histograms=worker.snapshot().since(before),
    )


def report(run: Run, interval: float) -> None:
    """Print the one result table."""
    table = Table(
        title=(
            f"Movement → critical notification at the owner's webhook (one worker, one "
            f"`stockloop deliver`, {run.probes} probes {interval:g} s apart)"
        ),
        title_justify="left",
        title_style="bold",
    )
    table.add_column("measure")
    for column in ("n", "p50", "p95", "p99", "max"):
        table.add_column(column, justify="right")

    def latency_row(label: str, samples: list[float], of: int) -> None:
        table.add_row(
            label,
            f"{len(samples)}/{of}",
            *(duration(sample_quantile(samples, q)) for q in (0.5, 0.95, 0.99)),
            duration(Estimate(max(samples)) if samples else None),
        )

    latency_row("[bold]movement → owner's webhook[/bold]", run.delivered, run.probes)
    latency_row("  movement → critical alert (topic)", run.alerted, run.probes)
    latency_row("  movement → owner's notification (topic)", run.notified, run.probes)
    latency_row("  notification (topic) → owner's webhook", run.delivering, run.probes)
    pings = len(run.round_trips) + run.lost_pings
    latency_row("baseline: kafka produce → consume", run.round_trips, pings)
    for label, *quantiles in latency_rows(run.histograms):
        if any(value != "—" for value in quantiles):  # stages the phase did not reach
            table.add_row(f"worker: {label}", "", *quantiles)
    table.add_section()
    base = sample_quantile(run.round_trips, 0.5)
    owner = sample_quantile(run.delivered, 0.5)
    if base is not None and owner is not None and base.seconds > 0:
        table.add_row("p50 ratio to the baseline", "", f"{owner.seconds / base.seconds:,.0f}×")
    table.add_row(
        "webhook requests (signature checked)",
        f"{run.hook_requests}",
        f"rejected {run.rejected}",
    )
    for name, memory in (("worker", run.worker_memory), ("deliver", run.deliver_memory)):
        table.add_row(
            f"{name} RSS now / peak",
            "",
            f"{memory['VmRSS'] / 1024:,.0f} MiB",
            f"{memory['VmHWM'] / 1024:,.0f} MiB",
        )
    table.add_row(
        "machine (shared)", "", f"{os.cpu_count()} CPUs", f"load {os.getloadavg()[0]:.1f}"
    )
    console.print(table)


def main(
    count: Annotated[
        int, typer.Option(min=1, help="Probes: each empties a different material into a gap.")
    ] = 50,
    interval: Annotated[
        float, typer.Option(min=0.05, help="Seconds between probes (a steady trickle).")
    ] = 1.0,
    pings: Annotated[
        int, typer.Option(min=1, help="Baseline Kafka round trips between two probes.")
    ] = 3,
    tick_interval: Annotated[
        float,
        typer.Option(
            min=0.1, help="The worker's wall-clock tick (s); group_wait 0s sends without it."
        ),
    ] = 60.0,
) -> None:
    """Measure ERP movement → critical notification delivered to the owner's webhook."""
    run_id, run_dir, settings = private_deployment()
    console.print(
        f"run {run_id}: broker {settings.bootstrap_servers}, topics {settings.topic_prefix}*, "
        f"worker and deliver logs and state in {run_dir}"
    )
    apply_catalogue(load_catalogue(settings.topics_file), settings)
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=2,
        **settings.kafka_security.kafka_python_kwargs(),
    )
    worker = Worker(settings, run_dir / "worker.log")
    worker.environment["STOCKLOOP_TICK_INTERVAL_S"] = str(tick_interval)
    secret = secrets.token_hex(16)
    hooks = Webhooks(secret)
    deliverer = DeliverProcess(deliver_environment(worker, hooks, secret), run_dir / "deliver.log")
    probes = [f"PROBE-{number:04d}" for number in range(count)]
    try:
        publish_routes(worker, run_dir)
        worker.start()
        deliverer.start()
        prime(producer, settings, worker, [WARM_UP, *probes])
        console.print(f"primed {len(probes) + 1} materials; warming up the chain ...")
        warm_sent = time.perf_counter()
        send(producer, settings, "erp.stock-movements", probe(WARM_UP))
        producer.flush()

        def warm() -> bool:
            deliverer.check_alive()
            return hooks.first_after(owner_key(WARM_UP), warm_sent) is not None

        wait_until(warm, timeout=WARM_UP_TIMEOUT_S, what="warm-up notification")
        console.print(
            f"warm-up delivered in {time.perf_counter() - warm_sent:.1f} s; "
            f"{count} probes, {interval:g} s apart ..."
        )
        run = measure(producer, settings, worker, deliverer, hooks, probes, interval, pings)
    finally:
        deliverer.stop()
        worker.stop()
        hooks.close()
        producer.close()
    report(run, interval)


if __name__ == "__main__":
    typer.run(main)
