"""Ingest throughput benchmark: how fast a worker turns an ERP backlog into material state.

The numbers that decide how many workers a site needs: the rate at which one
worker drains a backlog through the ingest and material agents (and through
every agent, the notifier's included, until none lags), the latency
from an ERP commit to a visible stock position at a steady rate, the memory a
worker holds and the size of one material's state, and the cost of the pure
core per event, without Kafka.

The workload is deterministic (seeded): stock receipts and issues, sales order
lines and purchase order lines over ``--materials`` materials, each keyed by
material id, one simulated second apart from two days before the hour the
run starts (recent, as a live ERP's are; only this anchor moves between runs).
A ``--debezium-share`` of them are Debezium Postgres change events of the
tables in ``connectors/mappings/example-erp.yaml`` as the JSON converter writes
them with ``schemas.enable=false`` (so the mapping's encodings apply: decimals
in ``precise`` mode, base64 of the unscaled integer at the mapping's scale;
dates as epoch days; timestamps as epoch microseconds of the ERP's wall
clock); the rest are plain JSON events (``models.events``).

Run beside a broker (``make bench`` starts a private one)::

    STOCKLOOP_BROKER_PORT=19092 .venv/bin/python benchmarks/ingest_throughput.py

Each run uses its own app id, topic prefix, web port and state directory, and
leaves them in place; it stops the worker it started and nothing else.
"""

import base64
import math
import os
import random
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from worker_process import WorkerProcess, private_deployment, records_by_topic, wait_until

from connectors.cdc import decode_record
from connectors.mapping import CdcMapping, load_mapping
from connectors.topic_admin import apply_catalogue
from models.alerts import Acknowledge
from models.events import MaterialEvent, SourcePosition, encode
from models.rules.spec import builtin_rules
from models.state import MaterialState
from models.step import AppliedEventIds, StepContext, advance, receive
from streams.catalogue import (
    ALERT_ACTIONS,
    INPUT_KINDS,
    SALES_ORDERS,
    SHIPMENTS,
    STOCK_MOVEMENTS,
    load_catalogue,
)
from streams.settings import Settings

LATENCY_GOALS = {200: 0.100, 500: 0.250}
"""Issue #13's produce → visible p99 goals in seconds, by events per second: the steady phases'
default rates."""
HISTORY = timedelta(days=2)  # event times start this long before the run: recent, never future
EPOCH = datetime(1970, 1, 1)
WAREHOUSES = ("SH01", "SH02")
# ERP codes of the example mapping, and the event values they stand for.
RECEIPT_CODE, ISSUE_CODE = 101, 261
ORDER_STATUS = {"C": "confirmed", "P": "partially_shipped", "S": "shipped"}
SUPPLY_STATUS = {"O": "ordered", "A": "shipped"}
PROBE_POLL_S = 0.005
PROBE_TIMEOUT_S = 30.0
METRICS_POLL_S = 0.1
DRAIN_POLL_S = 0.5
"""A drain's ``/metrics`` polls: a scrape costs the worker about 4 ms of CPU, and every
100 ms that was 4 % of the CPU a drain measures (py-spy, 2026-12-02); the end is known
within half a second of drains that last minutes."""
STALL_S = 60.0  # no record counted for this long: the worker is stuck (e.g. a crashed agent)
SETTLE_TIMEOUT_S = 900.0  # the agents behind the material agent still lag after this: give up

console = Console()


# --- the workload: ERP facts ------------------------------------------------------------------


@dataclass(frozen=True)
class Movement:
    """A posted inventory transaction (table ``inv_transaction``)."""

    trans_id: int
    material_id: str
    receipt: bool
    warehouse_id: str
    quantity: Decimal
    unit_cost: Decimal | None
    batch_id: str | None
    po_line_id: int | None


@dataclass
class OrderLine:
    """One version of a sales order line (table ``so_line``)."""

    so_no: str
    line_no: int
    material_id: str
    warehouse_id: str
    quantity: Decimal
    shipped: Decimal
    due_date: date
    status: str
    unit_price: Decimal
    customer_id: str
    priority: int


@dataclass
class SupplyLine:
    """One version of a purchase order line (table ``po_line``)."""

    po_line_id: int
    material_id: str
    vendor_id: str
    warehouse_id: str
    quantity: Decimal
    received: Decimal
    created_at: datetime
    eta: date
    status: str


Fact = Movement | OrderLine | SupplyLine


@dataclass(frozen=True)
class ErpRecord:
    """One record as an ERP producer or Debezium would write it to an input topic."""

    topic: str
    key: bytes
    value: bytes
    debezium: bool


@dataclass
class _Book:
    """What the simulated ERP has open for one material, so later changes refer to real lines."""

    orders: list[OrderLine] = field(default_factory=list)
    supply: list[SupplyLine] = field(default_factory=list)


class ErpSimulator:
    """A seeded ERP: each ``next_record`` is the next change, plain JSON or a Debezium event.

    Open order and supply lines per material stay few (lines ship, receipts
    close PO lines), so a material's state reaches a steady size, as in a real ERP.
    """

    def __init__(
        self,
        materials: int,
        debezium_share: float,
        mapping: CdcMapping,
        seed: int,
        start: datetime,
    ) -> None:
        self._rng = random.Random(seed)
        self._start = start
        self._materials = [f"MAT-{number:05d}" for number in range(materials)]
        self._books: dict[str, _Book] = defaultdict(_Book)
        self._debezium_share = debezium_share
        self._zone = mapping.timezone
        self._sequence = 0

    @property
    def materials(self) -> list[str]:
        """Ids of the simulated materials."""
        return self._materials

    def next_record(self) -> ErpRecord:
        """The next change of a random material, encoded per the Debezium share."""
        fact = self._next_fact(self._rng.choice(self._materials))
        return self._encode(fact, self._rng.random() < self._debezium_share)

    def probe(self, material_id: str, debezium: bool) -> ErpRecord:
        """A goods receipt for ``material_id``, outside the random stream."""
        return self._encode(self._receipt(material_id, None), debezium)

    def records(self, count: int) -> list[ErpRecord]:
        """The next ``count`` records."""
        return [self.next_record() for _ in range(count)]

    def _next_fact(self, material_id: str) -> Fact:
        roll = self._rng.random()
        if roll < 0.2:
            return self._receipt_against_supply(material_id)
        if roll < 0.5:
            return self._issue(material_id)
        if roll < 0.8:
            return self._order_line(material_id)
        return self._supply_line(material_id)

    def _tick(self) -> int:
        self._sequence += 1
        return self._sequence

    def _quantity(self, low: int, high: int) -> Decimal:
        """A quantity with the three decimals of the ERP's numeric(18,3) columns."""
        return Decimal(self._rng.randint(low * 1000, high * 1000)).scaleb(-3)

    def _receipt(self, material_id: str, supply: SupplyLine | None) -> Movement:
        trans_id = self._tick()
        return Movement(
            trans_id=trans_id,
            material_id=material_id,
            receipt=True,
            warehouse_id=supply.warehouse_id if supply else self._rng.choice(WAREHOUSES),
            quantity=supply.quantity - supply.received if supply else self._quantity(50, 250),
            unit_cost=Decimal(self._rng.randint(5_000, 250_000)).scaleb(-4),
            batch_id=f"L{trans_id}",
            po_line_id=supply.po_line_id if supply else None,
        )

    def _receipt_against_supply(self, material_id: str) -> Movement:
        """Goods arrive for the oldest shipped PO line, or without a PO if none is shipped."""
        book = self._books[material_id]
        shipped = next((line for line in book.supply if line.status == "A"), None)
        if shipped is not None:
            book.supply.remove(shipped)
        return self._receipt(material_id, shipped)

    def _issue(self, material_id: str) -> Movement:
        return Movement(
            trans_id=self._tick(),
            material_id=material_id,
            receipt=False,
            warehouse_id=self._rng.choice(WAREHOUSES),
            quantity=self._quantity(20, 250),
            unit_cost=None,
            batch_id=None,
            po_line_id=None,
        )

    def _order_line(self, material_id: str) -> OrderLine:
        """A new confirmed line, or a shipment on an open one (each version replaces the last)."""
        book = self._books[material_id]
        if book.orders and (len(book.orders) >= 3 or self._rng.random() < 0.5):
            line = book.orders[0]
            line.shipped = min(line.quantity, line.shipped + self._quantity(1, 80))
            line.status = "S" if line.shipped == line.quantity else "P"
            if line.status == "S":
                book.orders.remove(line)
            return OrderLine(**vars(line))
        sequence = self._tick()
        line = OrderLine(
            so_no=f"SO-{sequence:08d}",
            line_no=10,
            material_id=material_id,
            warehouse_id=self._rng.choice(WAREHOUSES),
            quantity=self._quantity(5, 120),
            shipped=Decimal("0.000"),
            due_date=self._moment().date() + timedelta(days=self._rng.randint(3, 30)),
            status="C",
            unit_price=Decimal(self._rng.randint(10_000, 500_000)).scaleb(-4),
            customer_id=f"C-{self._rng.randint(1, 400):05d}",
            priority=self._rng.randint(1, 5),
        )
        book.orders.append(line)
        return OrderLine(**vars(line))

    def _supply_line(self, material_id: str) -> SupplyLine:
        """A new PO line, or the supplier's shipping notice for an ordered one."""
        book = self._books[material_id]
        ordered = next((line for line in book.supply if line.status == "O"), None)
        if ordered is not None and (len(book.supply) >= 3 or self._rng.random() < 0.5):
            ordered.status = "A"
            return SupplyLine(**vars(ordered))
        line = SupplyLine(
            po_line_id=self._tick(),
            material_id=material_id,
            vendor_id=f"V-{self._rng.randint(1, 60):04d}",
            warehouse_id=self._rng.choice(WAREHOUSES),
            quantity=self._quantity(100, 400),
            received=Decimal("0.000"),
            created_at=self._moment(),
            eta=self._moment().date() + timedelta(days=self._rng.randint(5, 40)),
            status="O",
        )
        book.supply.append(line)
        return SupplyLine(**vars(line))

    def _moment(self) -> datetime:
        """Event time: one simulated second per change, so times only move forward."""
        return self._start + timedelta(seconds=self._sequence)

    def _encode(self, fact: Fact, debezium: bool) -> ErpRecord:
        at = self._start + timedelta(seconds=self._tick())
        match fact:
            case Movement():
                topic, table, (row, plain) = STOCK_MOVEMENTS, "inv_transaction", _movement(fact, at)
            case OrderLine():
                topic, table, (row, plain) = SALES_ORDERS, "so_line", _order(fact)
            case SupplyLine():
                topic, table, (row, plain) = SHIPMENTS, "po_line", _supply(fact)
        if debezium:
            document = _change(table, _wall_clock_row(row, self._zone), at, _op(fact))
        else:
            document = {"event_id": f"ev-{self._sequence}", "event_time": at.isoformat(), **plain}
        return ErpRecord(topic, fact.material_id.encode(), orjson.dumps(document), debezium)


def _op(fact: Fact) -> str:
    """``c`` for a new row, ``u`` for a later version of an order or PO line."""
    match fact:
        case OrderLine(status="C"):
            return "c"
        case SupplyLine(status="O") | Movement():
            return "c"
    return "u"


def _precise(value: Decimal, scale: int) -> str:
    """Debezium ``decimal.handling.mode=precise``: base64 of the two's-complement unscaled value."""
    unscaled = int(value.scaleb(scale))
    return base64.b64encode(
        unscaled.to_bytes(unscaled.bit_length() // 8 + 1, "big", signed=True)
    ).decode()


def _epoch_days(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _movement(fact: Movement, at: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``inv_transaction`` row (issues posted negative, as ERPs do) and the plain event."""
    signed = fact.quantity if fact.receipt else -fact.quantity
    row = {
        "trans_id": fact.trans_id,
        "item_no": fact.material_id,
        "trans_type": RECEIPT_CODE if fact.receipt else ISSUE_CODE,
        "whse_code": fact.warehouse_id,
        "qty": _precise(signed, 3),
        "lot_no": fact.batch_id,
        "unit_cost": _precise(fact.unit_cost, 4) if fact.unit_cost is not None else None,
        "po_line_id": fact.po_line_id,
        "so_no": None,
        "so_line_no": None,
        "to_whse_code": None,
        "posted_at": at,
    }
    plain = {
        "material_id": fact.material_id,
        "movement_type": "receipt" if fact.receipt else "issue",
        "warehouse_id": fact.warehouse_id,
        "quantity": float(fact.quantity),
        "batch_id": fact.batch_id,
        "unit_cost": float(fact.unit_cost) if fact.unit_cost is not None else None,
        "po_line_id": str(fact.po_line_id) if fact.po_line_id is not None else None,
    }
    return row, {name: value for name, value in plain.items() if value is not None}


def _order(fact: OrderLine) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``so_line`` row and the plain event of one order line version."""
    row = {
        "so_no": fact.so_no,
        "line_no": fact.line_no,
        "item_no": fact.material_id,
        "ship_whse": fact.warehouse_id,
        "qty_ordered": _precise(fact.quantity, 3),
        "qty_shipped": _precise(fact.shipped, 3),
        "promise_date": _epoch_days(fact.due_date),
        "line_status": fact.status,
        "unit_price": _precise(fact.unit_price, 4),
        "cust_no": fact.customer_id,
        "cust_priority": fact.priority,
    }
    plain = {
        "material_id": fact.material_id,
        "order_id": fact.so_no,
        "line_id": str(fact.line_no),
        "warehouse_id": fact.warehouse_id,
        "quantity": float(fact.quantity),
        "shipped_quantity": float(fact.shipped),
        "due_date": fact.due_date.isoformat(),
        "status": ORDER_STATUS[fact.status],
        "unit_price": float(fact.unit_price),
        "customer_id": fact.customer_id,
        "customer_priority": fact.priority,
    }
    return row, plain


def _supply(fact: SupplyLine) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``po_line`` row and the plain event of one PO line version."""
    row = {
        "po_line_id": fact.po_line_id,
        "item_no": fact.material_id,
        "vendor_no": fact.vendor_id,
        "recv_whse": fact.warehouse_id,
        "qty_ordered": _precise(fact.quantity, 3),
        "qty_received": _precise(fact.received, 3),
        "created_at": fact.created_at,  # turned into epoch micros of the ERP's wall clock
        "promised_date": _epoch_days(fact.eta),
        "line_status": fact.status,
    }
    plain = {
        "material_id": fact.material_id,
        "line_id": str(fact.po_line_id),
        "supplier_id": fact.vendor_id,
        "warehouse_id": fact.warehouse_id,
        "quantity": float(fact.quantity),
        "received_quantity": float(fact.received),
        "ordered_at": fact.created_at.isoformat(),
        "eta": fact.eta.isoformat(),
        "status": SUPPLY_STATUS[fact.status],
    }
    return row, plain


def _wall_clock_row(row: dict[str, Any], zone: tzinfo) -> dict[str, Any]:
    """Write the row's moments as Debezium does a ``timestamp(6)``: micros of the local clock."""
    return {
        column: _epoch_micros(value, zone) if isinstance(value, datetime) else value
        for column, value in row.items()
    }


def _epoch_micros(moment: datetime, zone: tzinfo) -> int:
    wall = moment.astimezone(zone).replace(tzinfo=None)
    return (wall - EPOCH) // timedelta(microseconds=1)


def _change(table: str, row: dict[str, Any], at: datetime, op: str) -> dict[str, Any]:
    """A Debezium Postgres change event without the schema wrapper (``schemas.enable=false``)."""
    ts_ms = (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    lsn = 24_000_000 + ts_ms  # grows with commit time: every change has its own log position
    return {
        "before": None,
        "after": row,
        "source": {
            "version": "2.5.4.Final",
            "connector": "postgresql",
            "name": "erp",
            "ts_ms": ts_ms,
            "snapshot": "false",
            "db": "erp",
            "schema": "public",
            "table": table,
            "txId": lsn // 256,
            "lsn": lsn,
        },
        "op": op,
        "ts_ms": ts_ms + 40,
        "transaction": None,
    }


# --- the worker and its metrics ---------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """The worker's counters at one moment: outcomes summed over topics, histogram buckets."""

    outcomes: dict[str, float]
    histograms: dict[str, dict[float, float]]  # ingest, material, end_to_end -> le -> cumulative
    lag: float | None  # records the agents have still to read, all partitions; None: not known yet

    @property
    def counted(self) -> float:
        """Input records the pipeline has finished with, however it ended."""
        return sum(self.outcomes.get(o, 0.0) for o in ("applied", "duplicate", "dead_lettered"))

    def since(self, earlier: "Snapshot") -> dict[str, dict[float, float]]:
        """Histogram buckets of what was observed between ``earlier`` and this snapshot."""
        return {
            name: {
                le: count - earlier.histograms.get(name, {}).get(le, 0.0)
                for le, count in buckets.items()
            }
            for name, buckets in self.histograms.items()
        }


class Worker(WorkerProcess):
    """One ``stockloop worker`` process with its own app id, topics, port and state directory."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        super().__init__(
            {
                "app_id": settings.app_id,
                "topic_prefix": settings.topic_prefix,
                "web_port": settings.web_port,
                "data_dir": settings.data_dir,
            },
            settings.web_port,
            log_path,
            timeout=10,
        )

    def snapshot(self) -> Snapshot:
        """Parse ``/metrics``."""
        outcomes: dict[str, float] = defaultdict(float)
        histograms: dict[str, dict[float, float]] = defaultdict(dict)
        lags: list[float] = []
        for family in text_string_to_metric_families(self.get("/metrics").text):
            for sample in family.samples:
                if sample.name == "stockloop_consumer_lag":
                    # A changelog partition is read only to restore a table: its lag is the
                    # worker's own writes since, never read back while it owns the table.
                    if not sample.labels["topic"].endswith("-changelog"):
                        lags.append(sample.value)
                elif sample.name == "stockloop_events_total":
                    outcomes[sample.labels["outcome"]] += sample.value
                elif sample.name == "stockloop_processing_seconds_bucket":
                    histograms[sample.labels["stage"]][float(sample.labels["le"])] = sample.value
                elif sample.name == "stockloop_end_to_end_seconds_bucket":
                    histograms["end_to_end"][float(sample.labels["le"])] = sample.value
        return Snapshot(dict(outcomes), dict(histograms), sum(lags) if lags else None)

    def material(self, material_id: str) -> bytes | None:
        """The material's state JSON as ``GET /materials/{id}`` returns it; None if unknown."""
        response = self.get(f"/materials/{material_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.content

    def cpu_wait_seconds(self) -> float:
        """Time the worker's event-loop thread was ready to run but waited for a CPU.

        Tells a worker starved by other processes on the machine from one that
        is idle waiting on the broker, which its CPU share alone cannot.
        """
        assert self.process is not None
        return int(Path(f"/proc/{self.process.pid}/schedstat").read_text().split()[1]) / 1e9


# --- phases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drain:
    """Backlog drain: the rate at which one worker finished records already waiting."""

    seconds: float
    rate: float
    cpu_seconds: float
    cpu_wait_seconds: float
    outcomes: dict[str, float]
    histograms: dict[str, dict[float, float]]
    started: float  # perf_counter at the first record received
    cpu_at_start: float


@dataclass(frozen=True)
class Settled:
    """The whole drain: from its start until every agent, the notifier's included, caught up."""

    seconds: float
    cpu_seconds: float
    lag: float  # records still to read when measured: 0 unless it gave up after SETTLE_TIMEOUT_S


@dataclass(frozen=True)
class Steady:
    """One steady-rate phase: what was asked, what was sent, and how late state followed."""

    target_rate: int
    sent_rate: float
    catch_up_seconds: float
    cpu_share: float
    cpu_wait_share: float
    probes: list[float]
    lost_probes: int
    histograms: dict[str, dict[float, float]]


def _producer(settings: Settings) -> KafkaProducer:
    # A short linger: batches still fill during the backlog, and probes leave at once.
    return KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=2,
        batch_size=256 * 1024,
        **settings.kafka_security.kafka_python_kwargs(),
    )


def produce_backlog(producer: KafkaProducer, settings: Settings, records: list[ErpRecord]) -> float:
    """Send every record and wait for the broker's acks; the records per second sent."""
    started = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task("producing backlog", total=len(records))
        futures = []
        for index, record in enumerate(records, start=1):
            futures.append(_send(producer, settings, record))
            if index % 1000 == 0:
                progress.update(task, completed=index)
        producer.flush()
        progress.update(task, completed=len(records))
    _raise_on_failed_sends(futures)
    return len(records) / (time.perf_counter() - started)


def publish_acknowledgements(producer: KafkaProducer, settings: Settings, count: int) -> None:
    """Acknowledgements of ``count`` alerts of other materials, as ``stockloop alerts
    acknowledge`` publishes them: what a plant's buyers leave in force, which every step
    of every material reads (``agents.material.AlertContext``)."""
    at = datetime.now(UTC)
    alert_keys = [f"stock_out_risk|OTHER-{n:06d}|SH01" for n in range(count)]
    futures = [
        producer.send(
            settings.topic(ALERT_ACTIONS),
            key=f"ack:{alert_key}".encode(),
            value=encode(Acknowledge(alert_key=alert_key, by="bench", at=at)),
        )
        for alert_key in alert_keys
    ]
    producer.flush()
    _raise_on_failed_sends(futures)


def _send(producer: KafkaProducer, settings: Settings, record: ErpRecord) -> Any:
    return producer.send(settings.topic(record.topic), key=record.key, value=record.value)


def _raise_on_failed_sends(futures: Sequence[Any]) -> None:
    failed = [future for future in futures if future.failed()]
    if failed:
        raise RuntimeError(f"{len(failed)} records not acknowledged: {failed[0].exception}")


def drain(worker: Worker, expected: int) -> Drain:
    """Poll ``/metrics`` until ``expected`` records are counted.

    The clock starts at the first poll that sees a received record, so a
    worker's start-up does not pollute the rate. Events wait for the
    watermark before they are applied (and counted), so the worker is stuck
    only when neither ingest nor the material agent moves.
    """
    first: tuple[float, float, float, float] | None = None
    baseline = worker.snapshot()
    progressed = (time.perf_counter(), baseline.counted)
    with _progress() as progress:
        task = progress.add_task("draining backlog", total=expected)
        while True:
            worker.check_alive()
            snapshot, now = worker.snapshot(), time.perf_counter()
            progress.update(task, completed=snapshot.counted)
            if first is None and snapshot.outcomes.get("received", 0.0) > 0:
                first = (now, snapshot.counted, worker.cpu_seconds(), worker.cpu_wait_seconds())
            if snapshot.counted >= expected:
                break
            moved = snapshot.counted + snapshot.outcomes.get("received", 0.0)
            if moved > progressed[1]:
                progressed = (now, moved)
            elif now - progressed[0] > STALL_S:
                raise RuntimeError(
                    f"worker stuck at {snapshot.counted:.0f} of {expected} records counted "
                    f"for {STALL_S:.0f} s; its log ends:\n{worker.log_tail()}"
                )
            time.sleep(DRAIN_POLL_S)
    assert first is not None
    seconds = now - first[0]
    return Drain(
        seconds=seconds,
        rate=(snapshot.counted - first[1]) / seconds if seconds > 0 else math.inf,
        cpu_seconds=worker.cpu_seconds() - first[2],
        cpu_wait_seconds=worker.cpu_wait_seconds() - first[3],
        outcomes=snapshot.outcomes,
        histograms=snapshot.since(baseline),
        started=first[0],
        cpu_at_start=first[2],
    )


def settle(worker: Worker, drained: Drain) -> Settled:
    """Wait until no partition the worker reads lags: the work the drain left behind is done.

    The drain ends when the material agent has applied the last event, but
    the records it sent on (alerts, requests, and the notifier's inbox
    entries they fan out to) are still being read; they take the same CPU.
    The worker's ``stockloop_consumer_lag`` gauge is refreshed every 5 s, so
    the time is good to about 5 s.
    """
    with _progress() as progress:
        progress.add_task("waiting for every agent to catch up", total=None)
        while True:
            worker.check_alive()
            now, lag = time.perf_counter(), worker.snapshot().lag
            if lag == 0 or now - drained.started > SETTLE_TIMEOUT_S:
                break
            time.sleep(1.0)
    return Settled(
        seconds=now - drained.started,
        cpu_seconds=worker.cpu_seconds() - drained.cpu_at_start,
        lag=lag if lag is not None else math.nan,
    )


def written_table(records: dict[str, int], events: int) -> Table:
    """Records on each topic once every agent caught up: each crosses Faust at a fixed cost."""
    table = _table(
        "Records on the topics once every agent caught up (inputs included)",
        "topic",
        "records",
        "per input event",
    )
    for name, count in sorted(records.items(), key=lambda item: -item[1]):
        table.add_row(name, f"{count:,}", f"{count / events:.2f}")
    total = sum(records.values())
    table.add_row(
        "[bold]all[/bold]", f"[bold]{total:,}[/bold]", f"[bold]{total / events:.2f}[/bold]"
    )
    return table


def idle_cpu_share(worker: Worker, seconds: float = 3.0) -> float:
    """Share of one CPU the worker burns with no input at all: its timers, fetches and commits."""
    before = worker.cpu_seconds()
    time.sleep(seconds)
    return (worker.cpu_seconds() - before) / seconds


def steady(
    worker: Worker,
    producer: KafkaProducer,
    simulator: ErpSimulator,
    rate: int,
    seconds: float,
    probes: int,
) -> Steady:
    """Produce at ``rate`` records/s for ``seconds`` while probes time produce -> visible."""
    settings = worker.settings
    records = simulator.records(int(rate * seconds))
    probe_records = [
        simulator.probe(f"PROBE-{rate}-{number:03d}", debezium=number % 2 == 1)
        for number in range(probes)
    ]
    before, started = worker.snapshot(), time.perf_counter()
    cpu_before, wait_before = worker.cpu_seconds(), worker.cpu_wait_seconds()
    expected = before.counted + len(records) + len(probe_records)
    latencies: list[float] = []
    prober = threading.Thread(
        target=_run_probes,
        args=(settings, producer, probe_records, seconds / max(probes, 1), latencies),
    )
    prober.start()
    sent_rate = _paced_send(producer, settings, records, rate, f"steady {rate}/s")
    finished_sending = time.perf_counter()
    wait_until(
        lambda: worker.snapshot().counted >= expected,
        timeout=120,
        what=f"steady {rate}/s drain",
        interval=METRICS_POLL_S,
    )
    caught_up = time.perf_counter()
    cpu_after, wait_after = worker.cpu_seconds(), worker.cpu_wait_seconds()
    prober.join()
    after = worker.snapshot()
    return Steady(
        target_rate=rate,
        sent_rate=sent_rate,
        catch_up_seconds=caught_up - finished_sending,
        cpu_share=(cpu_after - cpu_before) / (caught_up - started),
        cpu_wait_share=(wait_after - wait_before) / (caught_up - started),
        probes=latencies,
        lost_probes=len(probe_records) - len(latencies),
        histograms=after.since(before),
    )


def _paced_send(
    producer: KafkaProducer, settings: Settings, records: list[ErpRecord], rate: int, label: str
) -> float:
    """Send ``records`` at ``rate`` per second, in small bursts; the rate achieved."""
    futures = []
    started = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task(label, total=len(records))
        while len(futures) < len(records):
            due = min(len(records), int((time.perf_counter() - started) * rate) + 1)
            futures.extend(_send(producer, settings, r) for r in records[len(futures) : due])
            progress.update(task, completed=len(futures))
            time.sleep(0.002)
    elapsed = time.perf_counter() - started
    producer.flush()
    _raise_on_failed_sends(futures)
    return len(records) / elapsed


def _run_probes(
    settings: Settings,
    producer: KafkaProducer,
    probes: list[ErpRecord],
    interval: float,
    latencies: list[float],
) -> None:
    """Send a probe receipt every ``interval`` seconds and time each until the API shows it.

    Each probe has a material of its own, so nothing else can make it appear;
    latency runs from just before ``send`` to the first 200 of ``GET
    /materials/{id}``. Probes leave on schedule whether or not earlier ones are
    visible yet, so a stall delays every probe sent during it, as it delays every
    event (a probe that waited for the last one would sample stalls too rarely).
    A probe is polled every 5 ms, or every 5 % of its age once older than 100 ms,
    which bounds both the error and the load the polling adds to the worker.
    """
    outstanding: dict[str, tuple[float, float]] = {}  # path -> (sent, next poll)
    started, sent_count = time.perf_counter(), 0
    with httpx.Client(base_url=f"http://127.0.0.1:{settings.web_port}", timeout=10) as http:
        while sent_count < len(probes) or outstanding:
            now = time.perf_counter()
            if sent_count < len(probes) and now >= started + interval * sent_count:
                probe = probes[sent_count]
                outstanding[f"/materials/{probe.key.decode()}"] = (now, now)
                _send(producer, settings, probe)
                sent_count += 1
            for path, (sent, next_poll) in list(outstanding.items()):
                if time.perf_counter() < next_poll:
                    continue
                visible = http.get(path).status_code == 200
                now = time.perf_counter()
                if visible:
                    latencies.append(now - sent)
                if visible or now - sent > PROBE_TIMEOUT_S:
                    del outstanding[path]
                else:
                    outstanding[path] = (sent, now + max(PROBE_POLL_S, 0.05 * (now - sent)))
            time.sleep(0.001)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


# --- state size and memory --------------------------------------------------------------------


@dataclass(frozen=True)
class Footprint:
    """Worker memory and the size of a typical material's state."""

    peak_rss_kib: int
    rss_kib: int
    api_bytes: list[int]
    stored_bytes: list[int]
    events_per_material: list[int]


def footprint(worker: Worker, materials: list[str], sample: int = 25) -> Footprint:
    """Memory of the worker, and state sizes of ``sample`` materials spread over the id range.

    ``api_bytes`` is what ``GET /materials/{id}`` returns (computed fields
    included); ``stored_bytes`` is what the table and its changelog hold per
    update (the same state without computed fields).
    """
    memory = worker.memory_kib()
    api, stored, applied = [], [], []
    for material_id in materials[:: max(1, len(materials) // sample)]:
        body = worker.material(material_id)
        if body is None:
            continue
        state = MaterialState.model_validate_json(body)
        api.append(len(body))
        stored.append(len(state.model_dump_json(exclude_computed_fields=True)))
        applied.append(state.events_applied)
    return Footprint(memory["VmHWM"], memory["VmRSS"], api, stored, applied)


# --- micro-benchmarks of the pure core --------------------------------------------------------


def time_decode(records: list[ErpRecord], mapping: CdcMapping, max_bytes: int) -> float:
    """Microseconds per ``decode_record``, best of five passes over ``records``."""
    kinds = [INPUT_KINDS[record.topic] for record in records]
    best = math.inf
    for _ in range(5):
        started = time.perf_counter()
        for record, kind in zip(records, kinds, strict=True):
            decode_record(record.value, kind, mapping, max_bytes)
        best = min(best, time.perf_counter() - started)
    return best / len(records) * 1e6


def material_agent_costs(
    records: list[ErpRecord], mapping: CdcMapping, settings: Settings, materials: list[str]
) -> dict[str, float]:
    """Microseconds per step of the material agent's work, on states grown by earlier events.

    Only the records of every fifth material are used, to keep this quick. The
    first 80 % of them grow the states (untimed), so states are about the size
    the worker ended with; the last 20 % go through what ``agents.material``
    does per record with every input read to its end (live): parse the
    envelope, load the state from JSON, receive and apply it with the
    built-in rules (``models.step``: the settings' planning config, no
    category promotions, as in this workload), dump it back to JSON.
    """
    sample = {material_id.encode() for material_id in materials[::5]}
    chosen = [record for record in records if record.key in sample]
    envelopes = list(_envelopes(chosen, mapping, settings.max_event_bytes))
    timed = max(1, len(envelopes) // 5)
    states: dict[str, MaterialState] = {}
    context = StepContext(rules=builtin_rules(), planning=settings.planning)
    applied = AppliedEventIds()

    def receive_and_apply(state: MaterialState, envelope: MaterialEvent) -> None:
        receive(state, envelope, applied, settings.planning)
        advance(state, envelope.event.event_time, context)

    for envelope in envelopes[:-timed]:
        material_id = envelope.event.material_id
        state = states.setdefault(material_id, MaterialState(material_id=material_id))
        receive_and_apply(state, envelope)
    table = {
        key: state.model_dump_json(exclude_computed_fields=True).encode()
        for key, state in states.items()
    }
    spent = dict.fromkeys(("envelope", "load", "apply", "dump"), 0.0)
    for raw in [encode(envelope) for envelope in envelopes[-timed:]]:
        t0 = time.perf_counter()
        envelope = MaterialEvent.model_validate_json(raw)
        t1 = time.perf_counter()
        material_id = envelope.event.material_id
        stored = table.get(material_id)
        state = (
            MaterialState.model_validate_json(stored)
            if stored is not None
            else MaterialState(material_id=material_id)
        )
        t2 = time.perf_counter()
        receive_and_apply(state, envelope)
        t3 = time.perf_counter()
        table[material_id] = state.model_dump_json(exclude_computed_fields=True).encode()
        t4 = time.perf_counter()
        for step, seconds in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            spent[step] += seconds
    costs = {step: seconds / timed * 1e6 for step, seconds in spent.items()}
    costs["total"] = sum(costs.values())
    costs["state_bytes"] = statistics.median(len(value) for value in table.values())
    return costs


def _envelopes(
    records: list[ErpRecord], mapping: CdcMapping, max_bytes: int
) -> Iterator[MaterialEvent]:
    """The material events ingest would write, each with a growing source offset."""
    for offset, record in enumerate(records):
        event = decode_record(record.value, INPUT_KINDS[record.topic], mapping, max_bytes)
        assert event is not None
        yield MaterialEvent(
            event=event, source=SourcePosition(topic=record.topic, partition=0, offset=offset)
        )


# --- percentiles and the report ---------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A percentile read from histogram buckets; ``above`` when it fell in the +Inf bucket."""

    seconds: float
    above: bool = False


def bucket_quantile(buckets: dict[float, float], q: float) -> Estimate | None:
    """The ``q`` quantile by linear interpolation inside its bucket, as Prometheus does.

    >>> bucket_quantile({0.1: 50.0, 0.2: 100.0, math.inf: 100.0}, 0.75)
    Estimate(seconds=0.15000000000000002, above=False)
    """
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for upper in bounds:
        if buckets[upper] >= rank:
            if math.isinf(upper):
                return Estimate(lower, above=True)
            share = (rank - below) / (buckets[upper] - below)
            return Estimate(lower + (upper - lower) * share)
        lower, below = upper, buckets[upper]
    return None


def highest_bucket(buckets: dict[float, float]) -> Estimate | None:
    """The upper bound of the highest non-empty bucket: the most the maximum can be."""
    below = 0.0
    highest = None
    for upper in sorted(buckets):
        if buckets[upper] > below:
            highest = upper
        below = buckets[upper]
    if highest is None:
        return None
    if math.isinf(highest):
        return Estimate(max(b for b in buckets if not math.isinf(b)), above=True)
    return Estimate(highest)


def sample_quantile(samples: list[float], q: float) -> Estimate | None:
    """Nearest-rank percentile of measured samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    return Estimate(ordered[max(0, math.ceil(q * len(ordered)) - 1)])


def duration(estimate: Estimate | None, prefix: str = "") -> str:
    """A duration in the unit that reads best; ``>`` when only a lower bound is known."""
    if estimate is None:
        return "—"
    seconds = estimate.seconds
    mark = ">" if estimate.above else prefix
    if seconds < 1e-3:
        return f"{mark}{seconds * 1e6:.0f} µs"
    if seconds < 1.0:
        return f"{mark}{seconds * 1e3:.1f} ms"
    return f"{mark}{seconds:.2f} s"


_HISTOGRAMS = {
    "ingest": "ingest agent, per record (hist.)",
    "material": "material agent, per record (hist.)",
    "end_to_end": "ingest write → applied (hist.)",
    "tick": "wall-clock tick of a partition (hist.)",
}


def latency_rows(histograms: dict[str, dict[float, float]]) -> list[list[str]]:
    """One row per worker histogram observed in the phase: bucket-interpolated percentiles.

    Ticks (the material agent replanning every material of a partition) appear
    only in phases a tick fell into; they hold up the events queued behind them.
    """
    rows = []
    for name, label in _HISTOGRAMS.items():
        buckets = histograms.get(name, {})
        count = buckets.get(math.inf, 0.0)
        if name == "tick" and not count:
            continue
        rows.append(
            [
                f"{label}, n={count:,.0f}" if name == "tick" else label,
                *(duration(bucket_quantile(buckets, q)) for q in (0.5, 0.95, 0.99)),
                duration(highest_bucket(buckets), prefix="≤"),
            ]
        )
    return rows


def probe_row(result: Steady) -> list[str]:
    """Measured produce → visible in ``GET /materials/{id}`` for the phase's probes."""
    lost = f", {result.lost_probes} not seen in 30 s" if result.lost_probes else ""
    return [
        f"probe produce → GET shows it (n={len(result.probes)}{lost})",
        duration(sample_quantile(result.probes, 0.5)),
        duration(sample_quantile(result.probes, 0.95)),
        "—",
        duration(max(map(Estimate, result.probes), key=lambda e: e.seconds, default=None)),
    ]


@dataclass(frozen=True)
class Results:
    """Everything the benchmark measured, for the report."""

    events: int
    materials: int
    debezium: int
    produce_rate: float
    startup_seconds: float
    drain: Drain
    settled: Settled
    idle_cpu: float
    steady: list[Steady]
    footprint: Footprint
    decode_plain_us: float
    decode_debezium_us: float
    agent_us: dict[str, float]
    load: tuple[float, float]


def report(results: Results) -> None:
    """Print the result tables."""
    console.print(_throughput_table(results))
    console.print(_latency_table(results))
    console.print(_footprint_table(results.footprint))
    console.print(_core_table(results))


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    table.add_column(columns[0])
    for column in columns[1:]:
        table.add_column(column, justify="right")
    return table


def _throughput_table(results: Results) -> Table:
    drain = results.drain
    table = _table("Throughput (one worker)", "measure", "value")
    plain = results.events - results.debezium
    table.add_row(
        "backlog",
        f"{results.events:,} events over {results.materials:,} materials "
        f"({results.debezium:,} Debezium, {plain:,} plain JSON)",
    )
    table.add_row("outcomes", ", ".join(f"{k} {v:,.0f}" for k, v in sorted(drain.outcomes.items())))
    table.add_row(
        "machine (shared: other load skews every number)",
        f"{os.cpu_count()} CPUs, 1-min load average {results.load[0]:.1f} at start, "
        f"{results.load[1]:.1f} at end of the Kafka phases",
    )
    table.add_row("benchmark → broker produce rate", f"{results.produce_rate:,.0f} events/s")
    table.add_row("worker start → /health 200", f"{results.startup_seconds:.1f} s")
    table.add_row(
        "[bold]backlog drain, ingest + material agent[/bold]",
        f"[bold]{drain.rate:,.0f} events/s[/bold] ({drain.seconds:.1f} s)",
    )
    table.add_row(
        "backlog drain per worker CPU-second (contention-free)",
        f"{drain.rate * drain.seconds / drain.cpu_seconds:,.0f} events/CPU-s "
        f"(worker busy {drain.cpu_seconds / drain.seconds:.0%} of one CPU, "
        f"waiting for a CPU {drain.cpu_wait_seconds / drain.seconds:.0%})",
    )
    settled = results.settled
    unfinished = f", gave up: {settled.lag:,.0f} records still to read" if settled.lag else ""
    table.add_row(
        "[bold]whole drain: until every agent caught up (the notifier's too)[/bold]",
        f"[bold]{results.events / settled.seconds:,.0f} events/s[/bold] ({settled.seconds:.0f} s, "
        f"±5 s{unfinished})",
    )
    table.add_row(
        "whole drain per worker CPU-second",
        f"{results.events / settled.cpu_seconds:,.0f} events/CPU-s "
        f"(worker busy {settled.cpu_seconds / settled.seconds:.0%} of one CPU)",
    )
    table.add_row(
        "idle worker after the whole drain (3 s, no input)",
        f"busy {results.idle_cpu:.0%} of one CPU",
    )
    for phase in results.steady:
        table.add_row(
            f"steady {phase.target_rate}/s: sent at / caught up after last send",
            f"{phase.sent_rate:,.0f} events/s / {phase.catch_up_seconds:.1f} s "
            f"(worker busy {phase.cpu_share:.0%} of one CPU, "
            f"waiting for a CPU {phase.cpu_wait_share:.0%})",
        )
    return table


def _latency_table(results: Results) -> Table:
    table = _table(
        "Latency (hist. = worker histogram, percentiles bucket-interpolated)",
        "phase",
        "measure",
        "p50",
        "p95",
        "p99",
        "max",
    )
    sections = [("backlog drain", latency_rows(results.drain.histograms))]
    sections += [
        (f"steady {phase.target_rate}/s", [*latency_rows(phase.histograms), probe_row(phase)])
        for phase in results.steady
    ]
    for name, rows in sections:
        for index, row in enumerate(rows):
            table.add_row(name if index == 0 else "", *row)
        table.add_section()
    return table


def _footprint_table(footprint: Footprint) -> Table:
    table = _table("Worker memory and state size", "measure", "value")
    table.add_row("worker peak RSS (VmHWM)", f"{footprint.peak_rss_kib / 1024:,.0f} MiB")
    table.add_row("worker RSS at the end (VmRSS)", f"{footprint.rss_kib / 1024:,.0f} MiB")
    if footprint.api_bytes:
        table.add_row(
            f"material state, GET /materials/{{id}} (median / max of {len(footprint.api_bytes)})",
            f"{statistics.median(footprint.api_bytes):,.0f} / {max(footprint.api_bytes):,} B",
        )
        table.add_row(
            "material state as stored per update (table + changelog)",
            f"{statistics.median(footprint.stored_bytes):,.0f} / {max(footprint.stored_bytes):,} B",
        )
        table.add_row(
            "events applied per sampled material (median)",
            f"{statistics.median(footprint.events_per_material):,.0f}",
        )
    return table


def _core_table(results: Results) -> Table:
    costs = results.agent_us
    table = _table("Pure core, in process (no Kafka)", "operation", "µs/op")
    table.add_row("decode_record, plain JSON (mixed kinds)", f"{results.decode_plain_us:.1f}")
    table.add_row(
        "decode_record, Debezium without schema (mixed tables)",
        f"{results.decode_debezium_us:.1f}",
    )
    table.add_row("MaterialEvent.model_validate_json (envelope)", f"{costs['envelope']:.1f}")
    table.add_row(
        f"MaterialState.model_validate_json (median state {costs['state_bytes']:,.0f} B)",
        f"{costs['load']:.1f}",
    )
    table.add_row("models.step receive + advance (apply, rules)", f"{costs['apply']:.1f}")
    table.add_row("MaterialState.model_dump_json", f"{costs['dump']:.1f}")
    table.add_row(
        "[bold]material agent's per-event work (sum)[/bold]", f"[bold]{costs['total']:.1f}[/bold]"
    )
    return table


# --- main -------------------------------------------------------------------------------------


def main(
    events: Annotated[
        int, typer.Option(min=1, help="Backlog events to produce and drain.")
    ] = 50_000,
    materials: Annotated[int, typer.Option(min=1, help="Distinct materials.")] = 500,
    debezium_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of events sent as Debezium changes.")
    ] = 0.5,
    rate: Annotated[
        list[int] | None,
        typer.Option(
            help="Steady-phase rates, events/s (repeatable); default the latency goals' "
            "rates, 200 and 500 (issue #13)."
        ),
    ] = None,
    steady_seconds: Annotated[
        float, typer.Option(min=1.0, help="Length of each steady phase.")
    ] = 10.0,
    probes: Annotated[int, typer.Option(min=0, help="Latency probes per steady phase.")] = 25,
    seed: Annotated[int, typer.Option(help="Seed of the simulated ERP.")] = 7,
    acknowledgements: Annotated[
        int,
        typer.Option(
            min=0, help="Acknowledgements of other materials' alerts in force before the drain."
        ),
    ] = 0,
) -> None:
    """Measure backlog drain rate, steady-rate latency, memory and per-event core cost."""
    run_id, run_dir, settings = private_deployment()
    mapping = load_mapping(settings.mapping_file)
    # Recent event times, as a live ERP sends: the worker's wall-clock ticks then replan
    # materials over a day or two, not over the years since some fixed date.
    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    simulator = ErpSimulator(materials, debezium_share, mapping, seed, this_hour - HISTORY)
    backlog = simulator.records(events)
    console.print(
        f"run {run_id}: broker {settings.bootstrap_servers}, topics {settings.topic_prefix}*, "
        f"worker log and state in {run_dir}"
    )
    load_at_start = os.getloadavg()[0]
    apply_catalogue(load_catalogue(settings.topics_file), settings)
    producer = _producer(settings)
    worker = Worker(settings, run_dir / "worker.log")
    try:
        if acknowledgements:
            publish_acknowledgements(producer, settings, acknowledgements)
            console.print(f"{acknowledgements:,} acknowledgements in force")
        produce_rate = produce_backlog(producer, settings, backlog)
        startup = worker.start()
        drained = drain(worker, events)
        # Printed at once: a saturated steady phase below ends the run without the report.
        console.print(
            f"drained {events:,} events in {drained.seconds:.1f} s ({drained.rate:,.0f}/s), "
            f"{drained.rate * drained.seconds / drained.cpu_seconds:,.0f} events per worker "
            "CPU-second"
        )
        settled = settle(worker, drained)
        console.print(
            f"every agent caught up {settled.seconds:.0f} s after the drain started: "
            f"{events / settled.cpu_seconds:,.0f} events per worker CPU-second in all"
            if not settled.lag
            else f"gave up waiting {settled.seconds:.0f} s after the drain started, "
            f"{settled.lag:,.0f} records still to read"
        )
        console.print(written_table(records_by_topic(settings), events))
        idle_cpu = idle_cpu_share(worker)
        phases = [
            steady(worker, producer, simulator, r, steady_seconds, probes)
            for r in rate or list(LATENCY_GOALS)
        ]
        sizes = footprint(worker, simulator.materials)
        load_at_end = os.getloadavg()[0]
    finally:
        worker.stop()
        producer.close()
    console.print("worker stopped; timing the pure core ...")
    plain = [record for record in backlog if not record.debezium][:5000]
    debezium = [record for record in backlog if record.debezium][:5000]
    report(
        Results(
            events=events,
            materials=materials,
            debezium=sum(record.debezium for record in backlog),
            produce_rate=produce_rate,
            startup_seconds=startup,
            drain=drained,
            settled=settled,
            idle_cpu=idle_cpu,
            steady=phases,
            footprint=sizes,
            decode_plain_us=time_decode(plain, mapping, settings.max_event_bytes)
            if plain
            else math.nan,
            decode_debezium_us=(
                time_decode(debezium, mapping, settings.max_event_bytes) if debezium else math.nan
            ),
            agent_us=material_agent_costs(backlog, mapping, settings, simulator.materials),
            load=(load_at_start, load_at_end),
        )
    )


if __name__ == "__main__":
    typer.run(main)
