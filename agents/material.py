"""Material agent: one ordered stream per material, folded into the materials table."""

import time

import faust

from models.events import MaterialEvent, PromotionEvent
from models.planning import Promotion
from models.state import MaterialState, Outcome
from streams.app import app, category_promotions_table, material_events_topic, materials_table
from streams.app import settings as app_settings
from streams.metrics import END_TO_END_SECONDS, EVENTS, PROCESSING_SECONDS


def load_state(material_id: str) -> MaterialState:
    """The stored state of a material, or a fresh one for a material not seen before."""
    stored = materials_table.get(material_id)
    if stored is None:
        return MaterialState(material_id=material_id)
    return MaterialState.model_validate_json(stored)


def store_state(state: MaterialState) -> None:
    """Write a material's state; derived fields are left out and recomputed on read."""
    materials_table[state.material_id] = state.__pydantic_serializer__.to_json(
        state, exclude_computed_fields=True
    )


def promotions_for(state: MaterialState) -> list[Promotion]:
    """Category-wide promotions that apply to this material (held by every worker)."""
    category = state.master.category if state.master else None
    if category is None:
        return []
    promotions = []
    for stored in category_promotions_table.values():
        event = PromotionEvent.model_validate_json(stored)
        if event.category == category and not event.cancelled:
            promotions.append(
                Promotion(
                    promotion_id=event.promotion_id,
                    starts_on=event.starts_on,
                    ends_on=event.ends_on,
                    uplift=event.uplift,
                )
            )
    return promotions


@app.agent(material_events_topic)
async def apply_material_events(stream: faust.StreamT[bytes]) -> None:
    """Apply each event to its material's state; a duplicate leaves the state untouched."""
    async for record in stream.events():
        started = time.perf_counter()
        envelope = MaterialEvent.model_validate_json(record.value)
        state = load_state(envelope.event.material_id)
        outcome = state.apply(envelope, app_settings.planning, promotions_for(state))
        if outcome is Outcome.APPLIED:
            store_state(state)
        source_topic = envelope.source.topic if envelope.source else record.message.topic
        EVENTS.labels(source_topic, outcome.value).inc()
        PROCESSING_SECONDS.labels("material").observe(time.perf_counter() - started)
        if outcome is Outcome.APPLIED and record.message.timestamp:
            END_TO_END_SECONDS.observe(max(time.time() - record.message.timestamp, 0.0))
