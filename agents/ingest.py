"""Ingest: raw ERP records in, validated material events or dead letters out.

Every record ends in exactly one outcome (``streams.metrics.EVENTS``): a
tombstone, a change the mapping skips (a draft move, an edit of a done one), a
reference row kept, a category promotion applied here, a change held for a
reference row, events forwarded (the material agent counts their outcome), or
a dead letter. Nothing a record holds may crash the agent: Faust would restart
it after a pause of every input partition it reads, and the record would have
no outcome at all.

Lookups. The mapping's reference tables (locations, warehouses, order headers)
are kept in ``cdc_references_table``, a global table, so every worker can look
up any row. A change whose lookup names a row not read yet (Debezium's topics
interleave) is written to ``cdc_held_table``, one key per change, and decoded
again when that row arrives, on the worker that reads it, or, should the two
cross between workers, on the next sweep of each worker (``SWEEP_SECONDS``).
A released change's events carry no source position: their deterministic ids
deduplicate them, where the position would make them look read before.
"""

import logging
import time
from datetime import UTC, datetime

import faust

from agents.dead_letters import dead_letter
from agents.watermarks import forwarded, partition_of, processed
from connectors.cdc import Decoded, EventTimeWindow, InvalidRecord, MissingReference, decode_changes
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
from models.events import InputEvent, MaterialEvent, PromotionEvent, SourcePosition, encode
from streams.app import (
    RawGlobalTable,
    _table,
    app,
    catalogue,
    category_promotions_table,
    erp_topics,
    material_events_topic,
    settings,
)
from streams.catalogue import INPUT_KINDS, STOCK_MOVEMENTS
from streams.metrics import EVENTS, PROCESSING_SECONDS

log = logging.getLogger(__name__)
mapping = load_mapping(settings.mapping_file)
_kind_of_topic = {settings.topic(name): kind for name, kind in INPUT_KINDS.items()}
SWEEP_SECONDS = 5.0

cdc_references_table = _table(
    RawGlobalTable,
    "cdc-references",
    catalogue[STOCK_MOVEMENTS].partitions,
    "Reference rows of the CDC mapping (locations, warehouses, order headers) by "
    "'table/key': the kept fields, for lookups.",
)
cdc_held_table = _table(
    RawGlobalTable,
    "cdc-held",
    catalogue[STOCK_MOVEMENTS].partitions,
    "Changes waiting for a reference row, by 'table/key/topic/partition/offset': the record.",
)


_references = TableReferences(cdc_references_table)


@app.agent(erp_topics)
async def ingest(stream: faust.StreamT[bytes]) -> None:
    """Decode every ERP record; forward its events keyed by material, or dead-letter it."""
    swept = time.monotonic()
    async for record in stream.events():
        message = record.message
        started = time.perf_counter()
        EVENTS.labels(message.topic, "received").inc()
        source = SourcePosition(
            topic=message.topic, partition=message.partition, offset=message.offset
        )
        event_time, sent_to = await _ingest(source, message.key, message.value, message.timestamp)
        await processed(message, event_time, sent_to)
        if time.monotonic() - swept > SWEEP_SECONDS:
            swept = time.monotonic()
            await _release(_releasable())
        PROCESSING_SECONDS.labels("ingest").observe(time.perf_counter() - started)


async def _ingest(
    source: SourcePosition,
    key: bytes | None,
    value: bytes | None,
    timestamp: float | None,
    held: bool = False,
) -> tuple[datetime | None, int | None]:
    """One record's outcome; its last event's time and partition when it sent events."""
    try:
        decoded = decode_changes(
            value,
            _kind_of_topic[source.topic],
            mapping,
            settings.max_event_bytes,
            _references,
            EventTimeWindow(now=datetime.now(UTC), years=settings.event_time_window_years),
        )
        return await _forward(decoded, source, held)
    except MissingReference as missing:
        held_change = HeldChange(source, key, value, timestamp)
        cdc_held_table[held_key(missing, source)] = encode_held(held_change)
        EVENTS.labels(source.topic, "held").inc()
    except Exception as error:  # one record's failure, foreseen or a bug, is its outcome
        reason = str(error) if isinstance(error, InvalidRecord) else _internal(error, source)
        await dead_letter(source, reason, key, value, timestamp)
        EVENTS.labels(source.topic, "dead_lettered").inc()
    return None, None


async def _forward(
    decoded: Decoded[InputEvent], source: SourcePosition, held: bool
) -> tuple[datetime | None, int | None]:
    if decoded.reference is not None:
        if (name := keep_reference(cdc_references_table, decoded.reference)) is not None:
            await _release(_releasable(name))
        EVENTS.labels(source.topic, "reference").inc()
        return None, None
    if not decoded.events:
        outcome = "tombstone" if decoded.skipped == "tombstone" else "skipped"
        EVENTS.labels(source.topic, outcome).inc()
        return None, None
    event_time = sent_to = None
    for number, event in enumerate(decoded.events, start=1):
        if isinstance(event, PromotionEvent) and event.category is not None:
            category_promotions_table[event.promotion_id] = encode(event)
            EVENTS.labels(source.topic, "applied").inc()
            continue
        # Only the record's own last event carries its position (see the module docstring).
        last = number == len(decoded.events) and not held
        sent_to = partition_of(event.material_id)
        await material_events_topic.send(
            key=event.material_id.encode(),
            value=encode(MaterialEvent(event=event, source=source if last else None)),
            partition=sent_to,
        )
        forwarded(sent_to)
        event_time = event.event_time
    return event_time, sent_to


def _releasable(reference: str | None = None) -> list[tuple[str, bytes]]:
    """Held changes whose reference row is now known: those of ``reference``, else all."""
    return releasable(list(cdc_held_table.items()), cdc_references_table, reference)


async def _release(held: list[tuple[str, bytes]]) -> None:
    """Decode held changes again: they become events, wait for another row, or dead letters."""
    for name, encoded in held:
        cdc_held_table.pop(name, None)
        change = decode_held(encoded)
        await _ingest(change.source, change.key, change.value, change.timestamp, held=True)
        EVENTS.labels(change.source.topic, "released").inc()


def _internal(error: Exception, source: SourcePosition) -> str:
    """The dead-letter reason for a failure no check foresaw (a bug), logged with its trace."""
    log.exception("internal error on %s", source)
    return str(InvalidRecord(f"internal error: {type(error).__name__}: {error}"))
