"""Integration harness: real worker processes on the real broker that `make test` starts.

Each test gets its own app id, topic prefix, web port and state directory, so
tests never see each other's records or consumer groups. A test that stops or
tunes the broker itself starts a ``PrivateBroker`` of its own.
"""

import os
import random
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.producer.future import FutureRecordMetadata
from prometheus_client.parser import text_string_to_metric_families

from connectors.broker import LocalBroker
from connectors.topic_admin import apply_catalogue
from models.events import MaterialEvent, MaterialMaster, SalesOrderLine, StockMovement
from models.state import MaterialState
from streams.catalogue import load_catalogue
from streams.settings import PROJECT_ROOT, Settings

STOCKLOOP = str(PROJECT_ROOT / ".venv" / "bin" / "stockloop")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    check: Callable[[], object],
    timeout: float = 60.0,
    interval: float = 0.25,
    describe: Callable[[], object] | None = None,
):
    """Poll ``check`` until it returns something truthy.

    On timeout, fail with the check's last value, or with what ``describe``
    says about the state of things when a bare ``False`` would tell nothing.
    """
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    detail = describe() if describe else last
    raise AssertionError(f"condition not met within {timeout}s; last value: {detail!r}")


MATERIALS = [f"M-{n:03d}" for n in range(24)]
STREAM_START = datetime(2026, 3, 1, tzinfo=UTC)


def synthetic_stream(count: int, seed: int = 7) -> list[StockMovement | SalesOrderLine]:
    """Receipts, issues, adjustments and order-line versions over many materials."""
    rng = random.Random(seed)
    events: list[StockMovement | SalesOrderLine] = []
    for n in range(count):
        material = rng.choice(MATERIALS)
        warehouse = rng.choice(["W1", "W2"])
        at = STREAM_START + timedelta(minutes=n)
        roll = rng.random()
        if roll < 0.2:
            events.append(
                SalesOrderLine(
                    event_id=f"so-{n}",
                    event_time=at,
                    material_id=material,
                    order_id=f"SO{rng.randrange(40)}",
                    line_id="10",
                    warehouse_id=warehouse,
                    quantity=rng.randrange(1, 50),
                    due_date=date(2026, 3, 20),
                    status=rng.choice(["confirmed", "partially_shipped", "cancelled"]),
                )
            )
            continue
        kind = "receipt" if roll < 0.55 else "issue" if roll < 0.95 else "adjustment"
        events.append(
            StockMovement(
                event_id=f"mv-{n}",
                event_time=at,
                material_id=material,
                movement_type=kind,
                warehouse_id=warehouse,
                quantity=rng.randrange(1, 40) * (-1 if kind == "adjustment" else 1),
                batch_id=f"B{n}" if kind == "receipt" else None,
                unit_cost=round(rng.uniform(1, 20), 2),
            )
        )
    return events


def topic_of(event: StockMovement | SalesOrderLine) -> str:
    return "erp.sales-orders" if isinstance(event, SalesOrderLine) else "erp.stock-movements"


def stock_view(state: dict) -> dict:
    """What a clean run must agree on: stock per warehouse and the number of events applied."""
    return {
        "events_applied": state["events_applied"],
        "warehouses": {
            wid: {
                "on_hand": w["on_hand"],
                "committed": w["committed"],
                "batches": [(b["batch_id"], b["quantity"]) for b in w["batches"]],
                "committed_lines": sorted(w["committed_lines"]),
            }
            for wid, w in state["warehouses"].items()
        },
    }


def clean_run(events: Iterable[StockMovement | SalesOrderLine]) -> dict[str, dict]:
    """The stock view of every material after ``events``, applied once each, in order."""
    states: dict[str, MaterialState] = {}
    for event in events:
        state = states.setdefault(event.material_id, MaterialState(material_id=event.material_id))
        state.apply(MaterialEvent(event=event))
    return {m: stock_view(s.model_dump(mode="json")) for m, s in states.items()}


@dataclass(frozen=True)
class ChangelogExtent:
    """What one changelog partition still holds: ``log_start`` is what the broker reports
    as its earliest offset, ``first_record`` the offset of the first record still there."""

    log_start: int
    first_record: int | None
    records: int
    end: int


HISTORY_LINGER_MS = 500
"""How long the harness's producer waits for more records before sending; ``flush`` ends it."""
HISTORY_BATCH_BYTES = 1 << 20
"""One batch per partition holds a test's whole history (the request limit is 1 MiB)."""


class Pipeline:
    """One isolated stockloop deployment: its topics, and a worker process that can be killed."""

    def __init__(self, root: Path, **overrides: object) -> None:
        run_id = uuid.uuid4().hex[:8]
        self.overrides: dict[str, object] = {
            "app_id": f"it-{run_id}",
            "topic_prefix": f"it-{run_id}.",
            "web_port": _free_port(),
            "data_dir": root / "data",
            "session_timeout_s": 6.0,
            **overrides,
        }
        self.settings = Settings(**self.overrides)
        self.log_path = root / "worker.log"
        self.process: subprocess.Popen | None = None
        # A test's history goes out at ``flush`` in one produce request, as one batch per
        # partition: sent record by record, a live worker could read to the end between
        # two records, let its clock run to the wall clock and count the rest of the
        # history as late demand (its forecast then depended on the network's timing).
        self._sent: list[FutureRecordMetadata] = []
        self.producer = KafkaProducer(
            bootstrap_servers=self.settings.bootstrap_servers,
            acks="all",
            linger_ms=HISTORY_LINGER_MS,
            batch_size=HISTORY_BATCH_BYTES,
            **self.settings.kafka_security.kafka_python_kwargs(),
        )
        apply_catalogue(load_catalogue(self.settings.topics_file), self.settings)

    @property
    def env(self) -> dict[str, str]:
        """The worker's environment: ours plus this deployment's settings."""
        env = dict(os.environ)
        for name, value in self.overrides.items():
            env[f"STOCKLOOP_{name.upper()}"] = str(value)
        return env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [STOCKLOOP, "worker", "--loglevel", "warning"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready(timeout=90)

    def wait_ready(self, timeout: float) -> None:
        """Wait until /health says the worker can serve reads; fail saying why it cannot."""
        wait_until(self._healthy, timeout=timeout, describe=self._startup_report)

    def _startup_report(self) -> str:
        """Why the worker is not ready: what /health waits for, and the end of its log."""
        try:
            health = httpx.get(f"{self.url}/health", timeout=2).text
        except httpx.HTTPError as error:
            health = f"no answer ({error!r})"
        return f"/health: {health}; worker log tail:\n{self.log_path.read_text()[-4000:]}"

    def _healthy(self) -> bool:
        if self.process and self.process.poll() is not None:
            raise AssertionError(f"worker exited:\n{self.log_path.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit, no flush."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)

    def cli(self, *arguments: str) -> str:
        """Run ``stockloop ARGUMENTS`` against this deployment; its output, in wide tables."""
        return subprocess.run(
            [STOCKLOOP, *arguments],
            env=self.env | {"COLUMNS": "250"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def send(self, topic: str, value: bytes | dict | None, key: bytes | None = None) -> None:
        """Produce one record; a dict is keyed by its material id, as an ERP producer would."""
        if isinstance(value, dict):
            if key is None and "material_id" in value:
                key = str(value["material_id"]).encode()
            value = orjson.dumps(value)
        self._sent.append(self.producer.send(self.settings.topic(topic), key=key, value=value))

    def send_all(self, records: Iterable[tuple[str, dict]]) -> None:
        """Send each (topic, value) in order, then wait for the broker's acks."""
        for topic, value in records:
            self.send(topic, value)
        self.flush()

    def flush(self) -> None:
        """Wait until the broker has every record sent; fail if it refused one.

        A record the producer gave up on would otherwise be missing from the
        input, and a test would blame the worker for not applying it.
        """
        self.producer.flush()
        sent, self._sent = self._sent, []
        refused = [future.exception for future in sent if future.failed()]
        assert not refused, f"the broker did not take {len(refused)} input records: {refused[0]}"

    def material(self, material_id: str) -> dict | None:
        """The material's state from the worker, or None while it cannot say (yet)."""
        try:
            response = httpx.get(f"{self.url}/materials/{material_id}", timeout=10)
        except (httpx.ReadError, httpx.RemoteProtocolError):
            # A connection the worker dropped mid-answer (seen once on a machine at load 11,
            # in a crash test's restart): ask again, as a caller polling for state does.
            return None
        if response.status_code in (404, 503):  # unknown, or the worker is rebalancing
            return None
        response.raise_for_status()
        return response.json()

    def counters(self) -> dict[tuple[str, str], float]:
        """``stockloop_events_total`` by (unprefixed topic, outcome)."""
        return {
            (labels["topic"], labels["outcome"]): value
            for labels, value in self._samples("stockloop_events_total")
        }

    def ticked_materials(self, outcome: str) -> float:
        """Materials the worker's ticks brought forward, by outcome (changed, unchanged)."""
        counts = self._samples("stockloop_ticked_materials_total")
        return sum(value for labels, value in counts if labels["outcome"] == outcome)

    def inbox_records(self, kind: str) -> float:
        """Records of ``kind`` (item, settled, tick) the notification inboxes have taken."""
        counts = self._samples("stockloop_inbox_records_total")
        return sum(value for labels, value in counts if labels["kind"] == kind)

    def changelog_records(self, table: str) -> int:
        """Records written so far to the changelog topic of the worker's table ``table``."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            **self.settings.kafka_security.kafka_python_kwargs(),
        )
        try:
            topic = f"{self.settings.app_id}-{table}-changelog"
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            return sum(consumer.end_offsets(partitions).values())
        finally:
            consumer.close()

    def control_records(self, topic: str) -> float:
        """How many records of control topic ``topic`` the worker has copied into its tables."""
        counts = self._samples("stockloop_control_records_total")
        return sum(value for labels, value in counts if labels["topic"] == topic)

    def _samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """Samples of metric ``name``, with the topic label stripped of this run's prefix."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        samples = []
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name:
                    labels = dict(sample.labels)
                    if "topic" in labels:
                        labels["topic"] = labels["topic"].removeprefix(self.settings.topic_prefix)
                    samples.append((labels, sample.value))
        return samples

    def read_all(self, topic: str, expected: int, timeout: float = 60.0) -> list:
        """Consume ``topic`` from the beginning until ``expected`` records have arrived."""
        consumer = KafkaConsumer(
            self.settings.topic(topic),
            bootstrap_servers=self.settings.bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            consumer_timeout_ms=1000,
            **self.settings.kafka_security.kafka_python_kwargs(),
        )
        records: list = []
        deadline = time.monotonic() + timeout
        try:
            while len(records) < expected and time.monotonic() < deadline:
                records.extend(consumer)
        finally:
            consumer.close()
        return records

    def send_events(self, events: Iterable[StockMovement | SalesOrderLine]) -> None:
        """Produce ERP events to their topics, keyed by material so each keeps its order."""
        for event in events:
            self.send(
                topic_of(event), event.model_dump(mode="json"), key=event.material_id.encode()
            )
        self.flush()

    def applied(self) -> float:
        """Input records applied to material state so far, over every input topic."""
        return sum(value for (_, outcome), value in self.counters().items() if outcome == "applied")

    def assert_caught_up(
        self,
        expected: dict[str, dict],
        timeout: float,
        events: Iterable[MaterialMaster | StockMovement | SalesOrderLine] = (),
    ) -> None:
        """Wait until every material has applied what ``clean_run`` did; then compare stock.

        Given the ``events`` sent, a material still behind at the timeout is
        reported with those of its events that never reached
        ``stockloop.material-events``: lost before the material agent
        (ingest) or after it (none missing there).
        """

        def behind() -> dict[str, tuple[int | None, int]]:
            """Materials not yet caught up: (events applied, events expected)."""
            applied = {m: self.material(m) for m in expected}
            return {
                m: (state and state["events_applied"], expected[m]["events_applied"])
                for m, state in applied.items()
                if state is None or state["events_applied"] < expected[m]["events_applied"]
            }

        def described() -> dict[str, object]:
            """Where the materials behind stand, and the worker's clock per partition."""
            lagging = behind()
            standing = {}
            for material in lagging:
                state = self.material(material) or {}
                pending = [envelope["event"]["event_time"] for envelope in state.get("pending", [])]
                standing[material] = {
                    "applied_through": state.get("applied_through"),
                    "pending": len(pending),
                    "oldest_pending": min(pending, default=None),
                }
            clocks = {
                labels["partition"]: datetime.fromtimestamp(value, UTC).isoformat()
                for labels, value in self._samples("stockloop_watermark_seconds")
            }
            waiting_per_partition = {
                labels["partition"]: value
                for labels, value in self._samples("stockloop_pending_materials")
                if value
            }
            sent = {event.event_id for event in events if event.material_id in lagging}
            return {
                "behind": lagging,
                "materials behind": standing,
                "events of theirs not on material-events": sorted(sent - self.forwarded(sent)),
                "watermark per partition": clocks,
                "materials waiting per partition": waiting_per_partition,
                "counters": self.counters(),
            }

        wait_until(lambda: not behind(), timeout=timeout, interval=1.0, describe=described)
        for material, view in expected.items():
            # Asked again while the worker cannot say: a rebalance after catching up (load).
            state = wait_until(lambda material=material: self.material(material), timeout=timeout)
            assert stock_view(state) == view, material

    def forwarded(self, event_ids: set[str]) -> set[str]:
        """Those of ``event_ids`` that ingest put on stockloop.material-events."""
        found: set[str] = set()
        if not event_ids:
            return found
        for record in self.read_all("stockloop.material-events", 10**9, timeout=20):
            value = orjson.loads(record.value)
            event = value.get("event") if isinstance(value, dict) else None
            if isinstance(event, dict) and event.get("event_id") in event_ids:
                found.add(event["event_id"])
        return found

    def changelog_content(self, table: str) -> dict[bytes, bytes]:
        """The last value of each key in ``table``'s changelog, keys whose last record is a
        tombstone left out: what a store restored from it holds."""
        read, _, _ = self._read_changelog(table)
        content: dict[bytes, bytes | None] = {}
        for records in read.values():
            content.update((record.key, record.value) for record in records)
        return {key: value for key, value in content.items() if value is not None}

    def changelog_topic(self, table: str) -> str:
        """The changelog topic Faust keeps for the worker's table ``table``."""
        return f"{self.settings.app_id}-{table}-changelog"

    def configure_changelogs(self, config: Mapping[str, str]) -> list[str]:
        """Set topic ``config`` on every changelog topic of this app; the topics changed."""
        admin = KafkaAdminClient(
            bootstrap_servers=self.settings.bootstrap_servers,
            **self.settings.kafka_security.kafka_python_kwargs(),
        )
        try:
            changelogs = sorted(
                topic
                for topic in admin.list_topics()
                if topic.startswith(f"{self.settings.app_id}-") and topic.endswith("-changelog")
            )
            admin.alter_configs(
                [
                    ConfigResource(ConfigResourceType.TOPIC, t, configs=dict(config))
                    for t in changelogs
                ]
            )
        finally:
            admin.close()
        return changelogs

    def changelog_extent(self, table: str) -> dict[int, ChangelogExtent]:
        """Per partition of ``table``'s changelog: where it starts, what it still holds."""
        read, starts, ends = self._read_changelog(table)
        return {
            tp.partition: ChangelogExtent(
                log_start=starts[tp],
                first_record=records[0].offset if records else None,
                records=len(records),
                end=ends[tp],
            )
            for tp, records in read.items()
        }

    def _read_changelog(
        self, table: str
    ) -> tuple[dict[TopicPartition, list], dict[TopicPartition, int], dict[TopicPartition, int]]:
        """Every record of ``table``'s changelog by partition, with each partition's first and
        end offsets."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            enable_auto_commit=False,
            **self.settings.kafka_security.kafka_python_kwargs(),
        )
        try:
            topic = self.changelog_topic(table)
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            starts = consumer.beginning_offsets(partitions)
            ends = consumer.end_offsets(partitions)
            consumer.assign(partitions)
            consumer.seek_to_beginning()
            read: dict[TopicPartition, list] = {tp: [] for tp in partitions}
            while any(consumer.position(tp) < ends[tp] for tp in partitions):
                for tp, records in consumer.poll(timeout_ms=1000).items():
                    read[tp].extend(records)
            return read, starts, ends
        finally:
            consumer.close()

    def close(self) -> None:
        self.stop()
        self.producer.close()


class _TunedBroker(LocalBroker):
    """The local broker with some ``server.properties`` of the test's own."""

    def __init__(self, settings: Settings, properties: Mapping[str, str]) -> None:
        super().__init__(settings)
        self.extra_properties = dict(properties)

    def server_properties(self) -> str:
        extra = "".join(f"{key}={value}\n" for key, value in self.extra_properties.items())
        return super().server_properties() + extra


class PrivateBroker:
    """A Kafka broker one test owns: its own ports and directory.

    The test can stop it, restart it or tune it (``properties``, e.g. the log
    cleaner's back-off) without touching the broker the other tests share.
    The controller listens on ``port + 1``. Pipelines reach it with
    ``Pipeline(root, broker_port=broker.port)``.
    """

    def __init__(self, root: Path, port: int, properties: Mapping[str, str] | None = None) -> None:
        self.port = port
        settings = Settings(broker_port=port, controller_port=port + 1, broker_dir=root)
        self._broker = _TunedBroker(settings, properties or {})

    def start(self) -> float:
        """Start it (data kept from an earlier start); seconds until it answered."""
        started = time.monotonic()
        self._broker.start()
        return time.monotonic() - started

    def stop(self) -> float:
        """Stop it as ``stockloop broker stop`` does (SIGTERM, a clean shutdown); seconds taken."""
        started = time.monotonic()
        self._broker.stop()
        return time.monotonic() - started


def stock_movement(
    event_id: str,
    at: datetime,
    material: str,
    warehouse: str,
    kind: str,
    quantity: float,
    unit_cost: float | None,
) -> tuple[str, dict]:
    """An ``erp.stock-movements`` record as the topic and the value to send."""
    movement = {
        "event_id": event_id,
        "event_time": at.isoformat(),
        "material_id": material,
        "movement_type": kind,
        "warehouse_id": warehouse,
        "quantity": quantity,
    }
    if unit_cost is not None:
        movement["unit_cost"] = unit_cost
    return "erp.stock-movements", movement


def api_json(worker: Pipeline, path: str, **params: object) -> dict:
    """A 200 answer's JSON; a dropped connection or a 503 (rebalancing) is asked again."""

    def answer() -> httpx.Response | None:
        try:
            response = httpx.get(f"{worker.url}{path}", params=params, timeout=20)
        except httpx.TransportError:
            return None
        return None if response.status_code == 503 else response

    response = wait_until(answer, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()
