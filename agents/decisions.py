"""People's decisions on requests, transfers and reviews: validated, then sent to their worker.

``stockloop.purchase-request-actions``, ``stockloop.transfer-actions`` and
``stockloop.review-actions`` are keyed by request, transfer or review id
(people and workflow tools know those, not partitions); each lives in its
material's state, so each decision is sent on to
``stockloop.material-events`` keyed by its material.
A record that is not a valid decision goes to the dead-letter topic with a
one-line reason.
"""

from typing import TypeVar

import faust
from pydantic import BaseModel, ValidationError

from agents.dead_letters import dead_letter
from agents.watermarks import partition_of
from models.events import SourcePosition, describe_validation_error, encode
from models.purchasing import PurchaseRequestAction, RequestActionNotice
from models.reviews import ReviewAction, ReviewActionNotice
from models.transfers import TransferAction, TransferActionNotice
from streams.app import (
    app,
    material_events_topic,
    purchase_request_actions_topic,
    review_actions_topic,
    transfer_actions_topic,
)
from streams.metrics import CONTROL_RECORDS

Action = TypeVar("Action", bound=BaseModel)


@app.agent(purchase_request_actions_topic)
async def route_request_actions(stream: faust.StreamT[bytes]) -> None:
    """Send each decision on a purchase request on to its material, or dead-letter it."""
    async for record in stream.events():
        action = await _valid(PurchaseRequestAction, record.message)
        if action is not None:
            await _forward(action.material_id, RequestActionNotice(action=action))


@app.agent(transfer_actions_topic)
async def route_transfer_actions(stream: faust.StreamT[bytes]) -> None:
    """Send each decision on a transfer on to its material, or dead-letter it."""
    async for record in stream.events():
        action = await _valid(TransferAction, record.message)
        if action is not None:
            await _forward(action.material_id, TransferActionNotice(action=action))


@app.agent(review_actions_topic)
async def route_review_actions(stream: faust.StreamT[bytes]) -> None:
    """Send each opinion or decision on a dead-stock review on to its material, or dead-letter."""
    async for record in stream.events():
        action = await _valid(ReviewAction, record.message)
        if action is not None:
            await _forward(action.material_id, ReviewActionNotice(action=action))


async def _valid(kind: type[Action], message: faust.types.Message) -> Action | None:
    CONTROL_RECORDS.labels(message.topic).inc()
    try:
        return kind.model_validate_json(message.value or b"")
    except ValidationError as error:
        source = SourcePosition(
            topic=message.topic, partition=message.partition, offset=message.offset
        )
        reason = describe_validation_error(error)
        await dead_letter(source, reason, message.key, message.value, message.timestamp)
        return None


async def _forward(material_id: str, notice: BaseModel) -> None:
    await material_events_topic.send(
        key=material_id.encode(), value=encode(notice), partition=partition_of(material_id)
    )
