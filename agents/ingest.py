"""Ingest: raw ERP records in, validated material events or dead letters out.

Every record ends in exactly one outcome (``streams.metrics.EVENTS``): a
tombstone, a category promotion applied here, an event forwarded (the
material agent counts its outcome), or a dead letter. Nothing a record holds
may crash the agent: Faust would restart it after a pause of every input
partition it reads, and the record would have no outcome at all.
"""

import logging
import time
from datetime import UTC, datetime

import faust

from agents.dead_letters import dead_letter
from agents.watermarks import partition_of, processed
from connectors.cdc import EventTimeWindow, InvalidRecord, decode_record
from connectors.mapping import load_mapping
from models.events import MaterialEvent, PromotionEvent, SourcePosition, encode
from streams.app import (
    app,
    category_promotions_table,
    erp_topics,
    material_events_topic,
    settings,
)
from streams.catalogue import INPUT_KINDS
from streams.metrics import EVENTS, PROCESSING_SECONDS

log = logging.getLogger(__name__)
mapping = load_mapping(settings.mapping_file)
_kind_of_topic = {settings.topic(name): kind for name, kind in INPUT_KINDS.items()}


@app.agent(erp_topics)
async def ingest(stream: faust.StreamT[bytes]) -> None:
    """Decode every ERP record; forward it keyed by material, or dead-letter it with the reason."""
    async for record in stream.events():
        message = record.message
        started = time.perf_counter()
        EVENTS.labels(message.topic, "received").inc()
        source = SourcePosition(
            topic=message.topic, partition=message.partition, offset=message.offset
        )
        event = sent_to = None
        try:
            event = decode_record(
                message.value,
                _kind_of_topic[message.topic],
                mapping,
                settings.max_event_bytes,
                EventTimeWindow(now=datetime.now(UTC), years=settings.event_time_window_years),
            )
            if event is None:
                EVENTS.labels(message.topic, "tombstone").inc()
            elif isinstance(event, PromotionEvent) and event.category is not None:
                category_promotions_table[event.promotion_id] = encode(event)
                EVENTS.labels(message.topic, "applied").inc()
            else:
                sent_to = partition_of(event.material_id)
                await material_events_topic.send(
                    key=event.material_id.encode(),
                    value=encode(MaterialEvent(event=event, source=source)),
                    partition=sent_to,
                )
        except Exception as error:  # one record's failure, foreseen or a bug, is its outcome
            reason = str(error) if isinstance(error, InvalidRecord) else _internal(error, source)
            event = sent_to = None
            await dead_letter(source, reason, message.key, message.value, message.timestamp)
            EVENTS.labels(message.topic, "dead_lettered").inc()
        await processed(message, event.event_time if event else None, sent_to)
        PROCESSING_SECONDS.labels("ingest").observe(time.perf_counter() - started)


def _internal(error: Exception, source: SourcePosition) -> str:
    """The dead-letter reason for a failure no check foresaw (a bug), logged with its trace."""
    log.exception("internal error on %s", source)
    return str(InvalidRecord(f"internal error: {type(error).__name__}: {error}"))
