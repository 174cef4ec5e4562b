"""Shortage analysis: each open production order netted against its components' availability.

A production order needs many components, each owned by the worker of its own
material. Rather than ask each one (a scatter-gather: an order of 200
components would be 200 round trips and a join state), every material
publishes its availability to the compacted ``stockloop.availability`` after
each applied event, and every worker mirrors that topic into a global table:
an order's analysis then reads its components locally, in one pass. BOM lines
and open production orders are folded into global tables the same way, so any
worker can analyse any order.

The production records of a CDC mapping may look values up in reference
rows (an Odoo BOM line its ``mrp_bom`` header, an order its operation type's
warehouse). The rows are those ingest keeps in ``cdc_references_table``; a
reference table routed to a production topic (``mrp_bom`` on ``erp.boms``) is
kept there by this agent. A record whose row is not known yet is held in
``production_held_table`` (``connectors.held_changes``) and decoded again when
the row arrives here, or, for a row ingest or another worker read, on the
leader's next sweep (``SWEEP_SECONDS``): held, never dead-lettered or lost.

An order version that is new or changed and open is analysed at once
(``models.bom.analyse_shortage``); the result goes to ``stockloop.shortages``
keyed by order id, and each missing part to its material's partition of
``stockloop.material-events`` as an ``ExpediteNotice``; when the order is
cancelled or closed, a notice of 0 per part withdraws what it asked for. Every record of
``erp.production-orders`` and ``erp.boms`` has one outcome
(``streams.metrics.EVENTS``): applied, duplicate (an older version than the one
held), tombstone, skipped (outside the mapping's ``when``), a reference row
kept, held for one, or dead-lettered with its one-line reason.

A rush sales order line of an assembled item is analysed the same way, as
the build it needs (``models.rush``): its order ``{order_id}/{line_id}``
joins the open orders table while the line needs a build, competing with the
production orders by need date, and leaves it, withdrawing its expedites,
when a later version no longer does (shipped, cancelled, covered by stock).
The lines are read where ingest has already decoded and validated them, CDC
lookups included: on ``stockloop.material-events``, beside the material
agent, so a bad ERP record is dead-lettered once, by ingest. The line's
outcome there is the material agent's; a line this agent cannot analyse (a
BOM cycle) is logged and skipped, never fatal. The order table is written
from the partitions of ``stockloop.material-events``, so
``erp.production-orders`` needs at least as many partitions (both have 4 by
default).
"""

import logging
import time
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import TypeVar

import faust
from pydantic import ValidationError

from agents.dead_letters import dead_letter
from agents.ingest import cdc_references_table
from agents.watermarks import partition_of
from connectors.cdc import (
    EventTimeWindow,
    InvalidRecord,
    MissingReference,
    decode_production_changes,
)
from connectors.held_changes import (
    HeldChange,
    TableReferences,
    decode_held,
    encode_held,
    held_key,
    keep_reference,
    releasable,
)
from connectors.mapping import load_mapping
from models.availability import MaterialAvailability
from models.bom import BomCycleError, ComponentAvailability, ShortageResult, analyse_shortage
from models.events import (
    MaterialEvent,
    SalesOrderLine,
    SourcePosition,
    describe_validation_error,
    encode,
)
from models.expedite import ExpediteNotice, expedite_notices, withdrawal_notices
from models.production import (
    BomLine,
    ProductionOrder,
    bom_from_lines,
    bom_line_key,
    fold_bom_line,
    fold_order,
)
from models.rush import assembled, fold_rush_line, sales_line_order_id, to_build
from streams.app import (
    RawGlobalTable,
    _table,
    app,
    availability_table,
    availability_topic,
    bom_lines_table,
    catalogue,
    material_events_topic,
    production_orders_table,
    production_topics,
    settings,
    shortages_topic,
)
from streams.catalogue import BOMS, PRODUCTION_ORDERS
from streams.metrics import CONTROL_RECORDS, EVENTS, SHORTAGE_SECONDS
from streams.table_derived import Derived

log = logging.getLogger(__name__)
mapping = load_mapping(settings.mapping_file)
_kind_of_topic = {
    settings.topic(PRODUCTION_ORDERS): "production_order",
    settings.topic(BOMS): "bom_line",
}
SWEEP_SECONDS = 5.0
_references = TableReferences(cdc_references_table)
production_held_table = _table(
    RawGlobalTable,
    "production-held",
    catalogue[BOMS].partitions,
    "Production records waiting for a reference row, by 'table/key/topic/partition/offset': "
    "the record.",
)


@app.agent(availability_topic)
async def mirror_availability(stream: faust.StreamT[bytes]) -> None:
    """Copy each material's latest availability into the availability table."""
    async for record in stream.events():
        message = record.message
        if message.key is None:
            continue
        if message.value is None:
            availability_table.pop(message.key.decode(), None)
        else:
            availability_table[message.key.decode()] = message.value
        CONTROL_RECORDS.labels(message.topic).inc()


@app.agent(production_topics)
async def analyse_orders(stream: faust.StreamT[bytes]) -> None:
    """Fold BOM lines and orders into their tables; analyse each new open order version."""
    async for record in stream.events():
        message = record.message
        EVENTS.labels(message.topic, "received").inc()
        source = SourcePosition(
            topic=message.topic, partition=message.partition, offset=message.offset
        )
        await _read(HeldChange(source, message.key, message.value, message.timestamp))


@app.timer(interval=SWEEP_SECONDS, on_leader=True)
async def release_held_production_changes() -> None:
    """Decode again the held changes whose row another worker, or ingest, has read since."""
    await _release(releasable(list(production_held_table.items()), cdc_references_table))


async def _read(change: HeldChange) -> None:
    """One record's outcome: applied, duplicate, a reference row, held, or dead-lettered."""
    source = change.source
    try:
        outcome = await _handle(change)
    except MissingReference as missing:
        production_held_table[held_key(missing, source)] = encode_held(change)
        outcome = "held"
    except Exception as error:  # one record's failure, foreseen or a bug, is its outcome
        reason = str(error) if isinstance(error, InvalidRecord) else _internal(error, source)
        await dead_letter(source, reason, change.key, change.value, change.timestamp)
        outcome = "dead_lettered"
    EVENTS.labels(source.topic, outcome).inc()


async def _release(held: list[tuple[str, bytes]]) -> None:
    """Decode held changes again: they are applied, wait for another row, or are dead letters."""
    for name, encoded in held:
        production_held_table.pop(name, None)
        change = decode_held(encoded)
        await _read(change)
        EVENTS.labels(change.source.topic, "released").inc()


async def _handle(change: HeldChange) -> str:
    """Apply one record; its outcome.

    Raises ``MissingReference`` for a record to hold, ``InvalidRecord`` for one
    to dead-letter.
    """
    decoded = decode_production_changes(
        change.value,
        _kind_of_topic[change.source.topic],
        mapping,
        settings.max_event_bytes,
        _references,
        EventTimeWindow(now=datetime.now(UTC), years=settings.event_time_window_years),
    )
    if decoded.reference is not None:
        known = keep_reference(cdc_references_table, decoded.reference)
        if known is not None:
            await _release(releasable(list(production_held_table.items()), {known}, known))
        return "reference"
    if not decoded.events:
        return "tombstone" if decoded.skipped == "tombstone" else "skipped"
    outcomes = [await _apply(record) for record in decoded.events]
    return "applied" if "applied" in outcomes else "duplicate"


async def _apply(record: ProductionOrder | BomLine) -> str:
    """Fold one BOM line or order version into its table; analyse an order version that is new."""
    if isinstance(record, BomLine):
        key = bom_line_key(record)
        current = _stored(bom_lines_table, key, BomLine)
        return _store(bom_lines_table, key, current, fold_bom_line(current, record))
    current_order = _stored(production_orders_table, record.order_id, ProductionOrder)
    folded = fold_order(current_order, record)
    if current_order is not None and folded is None:
        await _withdraw(current_order, record.event_time, _boms.current())
    outcome = _store(production_orders_table, record.order_id, current_order, folded)
    if folded is record:
        await _publish(_analysed(record, _boms.current()))
    return outcome


def _analysed(order: ProductionOrder, bom: Mapping[str, tuple[BomLine, ...]]) -> ShortageResult:
    """The order's shortage result against ``bom`` and the mirrored tables; a BOM cycle refuses
    the order."""
    started = time.perf_counter()
    competing = [
        ProductionOrder.model_validate_json(raw) for raw in production_orders_table.values()
    ]
    try:
        result = analyse_shortage(
            order, bom, WarehouseAvailability(availability_table, order.warehouse_id), competing
        )
    except BomCycleError as error:
        raise InvalidRecord(f"order {order.order_id}: {error}") from None
    SHORTAGE_SECONDS.observe(time.perf_counter() - started)
    return result


def _read_boms() -> dict[str, tuple[BomLine, ...]]:
    """The bills of materials the BOM lines table holds, by parent."""
    return bom_from_lines(BomLine.model_validate_json(raw) for raw in bom_lines_table.values())


_boms = Derived(_read_boms, bom_lines_table)


async def _publish(result: ShortageResult) -> None:
    """The result on ``stockloop.shortages``; each missing part to its material's partition."""
    await shortages_topic.send(key=result.order_id.encode(), value=encode(result))
    for notice in expedite_notices(result):
        await _send_to_material(notice)


async def _withdraw(
    order: ProductionOrder, at: datetime, bom: Mapping[str, tuple[BomLine, ...]]
) -> None:
    """The order was cancelled or closed: its parts' undecided expedited requests go too."""
    try:
        result = _analysed(order, bom)
    except InvalidRecord:
        return  # a BOM cycle: it was never analysed, so it expedited nothing
    for notice in withdrawal_notices(result, at):
        await _send_to_material(notice)


_ORDER_LINE = b'"kind":"order_line"'
"""How an order line shows in a material event (compact JSON): other records are not parsed."""


@app.agent(material_events_topic)
async def analyse_rush_lines(stream: faust.StreamT[bytes]) -> None:
    """Analyse each rush sales order line of an assembled item as the build it needs."""
    async for record in stream.events():
        message = record.message
        if message.value is None or _ORDER_LINE not in message.value:
            continue
        where = f"{message.topic}[{message.partition}]@{message.offset}"
        try:
            event = MaterialEvent.model_validate_json(message.value).event
            if isinstance(event, SalesOrderLine):
                await _handle_sales_line(event)
        except (ValidationError, InvalidRecord, BomCycleError) as error:
            why = describe_validation_error(error) if isinstance(error, ValidationError) else error
            log.warning("order line at %s not analysed: %s", where, why)
        except Exception:  # a bug: this line's analysis is lost, the worker goes on
            log.exception("order line at %s not analysed", where)


async def _handle_sales_line(line: SalesOrderLine) -> None:
    """Fold one version of a sales order line into the open orders; analyse its build if new.

    Most lines need no build: the finished item's stock covers them, or the
    item is bought. Two lookups and the BOM table's keys tell those apart
    before any BOM line is parsed.
    """
    key = sales_line_order_id(line)
    current = _stored(production_orders_table, key, ProductionOrder)
    finished = WarehouseAvailability(availability_table, line.warehouse_id).get(line.material_id)
    if current is None and (
        to_build(line, finished) <= 0 or not assembled(bom_lines_table.keys(), line.material_id)
    ):
        return
    bom = _boms.current()
    folded = fold_rush_line(current, line, bom, finished)
    if folded is current:
        return
    if current is not None and folded is None:
        await _withdraw(current, line.event_time, bom)
    _store(production_orders_table, key, current, folded)
    if folded is not None:
        await _publish(_analysed(folded, bom))


async def _send_to_material(notice: ExpediteNotice) -> None:
    await material_events_topic.send(
        key=notice.material_id.encode(),
        value=encode(notice),
        partition=partition_of(notice.material_id),
    )


class WarehouseAvailability(Mapping[str, ComponentAvailability]):
    """The availability table seen from one warehouse: each material's row there, read lazily.

    The analysis looks up only the items of the orders it nets, so only those
    records are parsed. A material without a record, or without stock in the
    warehouse, has no row: nothing there, nothing coming.
    """

    def __init__(self, table: Mapping[str, bytes], warehouse_id: str) -> None:
        self._table = table
        self._warehouse_id = warehouse_id

    def __getitem__(self, material_id: str) -> ComponentAvailability:
        raw = self._table.get(material_id)
        row = (
            None
            if raw is None
            else MaterialAvailability.model_validate_json(raw).in_warehouse(self._warehouse_id)
        )
        if row is None:
            raise KeyError(material_id)
        return row

    def __iter__(self) -> Iterator[str]:
        return (material_id for material_id in self._table if material_id in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


Stored = TypeVar("Stored", BomLine, ProductionOrder)


def _stored(table: Mapping[str, bytes], key: str, model: type[Stored]) -> Stored | None:
    raw = table.get(key)
    return None if raw is None else model.model_validate_json(raw)


def _store(
    table: MutableMapping[str, bytes], key: str, current: Stored | None, folded: Stored | None
) -> str:
    """Write what the fold left; "duplicate" when it kept the held version over an older one."""
    if folded is not None and folded is current:
        return "duplicate"
    if folded is None:
        table.pop(key, None)
    else:
        table[key] = encode(folded)
    return "applied"


def _internal(error: Exception, source: SourcePosition) -> str:
    """The dead-letter reason for a failure no check foresaw (a bug), logged with its trace."""
    log.exception("internal error on %s", source)
    return str(InvalidRecord(f"internal error: {type(error).__name__}: {error}"))
