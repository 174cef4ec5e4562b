"""Material agent: one ordered stream per material, folded into the materials table."""

import time

import faust

from models.events import MaterialEvent
from models.state import MaterialState, Outcome
from streams.app import app, material_events_topic, materials_table, settings
from streams.metrics import END_TO_END_SECONDS, EVENTS, PROCESSING_SECONDS


def load_state(material_id: str) -> MaterialState:
    """The stored state of a material, or a fresh one for a material not seen before."""
    stored = materials_table.get(material_id)
    if stored is None:
        return MaterialState(material_id=material_id)
    return MaterialState.model_validate_json(stored)


@app.agent(material_events_topic)
async def apply_material_events(stream: faust.StreamT[bytes]) -> None:
    """Apply each event to its material's state; a duplicate leaves the state untouched."""
    async for record in stream.events():
        started = time.perf_counter()
        envelope = MaterialEvent.model_validate_json(record.value)
        material_id = envelope.event.material_id
        state = load_state(material_id)
        outcome = state.apply(envelope, settings.dedup_window)
        if outcome is Outcome.APPLIED:
            materials_table[material_id] = state.model_dump_json(
                exclude_computed_fields=True
            ).encode()
        source_topic = envelope.source.topic if envelope.source else record.message.topic
        EVENTS.labels(source_topic, outcome.value).inc()
        PROCESSING_SECONDS.labels("material").observe(time.perf_counter() - started)
        if outcome is Outcome.APPLIED and record.message.timestamp:
            END_TO_END_SECONDS.observe(max(time.time() - record.message.timestamp, 0.0))
