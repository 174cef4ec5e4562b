"""Decisions on purchase requests: validated, then forwarded to the worker that holds the request.

``stockloop.purchase-request-actions`` is keyed by request id (people and
workflow tools know requests, not partitions); the request lives in its
material's state, so each decision is sent on to ``stockloop.material-events``
keyed by its material. A record that is not a valid decision goes to the
dead-letter topic with a one-line reason.
"""

import faust
from pydantic import ValidationError

from agents.dead_letters import dead_letter
from agents.watermarks import partition_of
from models.events import SourcePosition, describe_validation_error, encode
from models.purchasing import PurchaseRequestAction, RequestActionNotice
from streams.app import app, material_events_topic, purchase_request_actions_topic
from streams.metrics import CONTROL_RECORDS


@app.agent(purchase_request_actions_topic)
async def route_request_actions(stream: faust.StreamT[bytes]) -> None:
    """Send each decision on to its material's partition, or dead-letter it."""
    async for record in stream.events():
        message = record.message
        CONTROL_RECORDS.labels(message.topic).inc()
        try:
            action = PurchaseRequestAction.model_validate_json(message.value or b"")
        except ValidationError as error:
            source = SourcePosition(
                topic=message.topic, partition=message.partition, offset=message.offset
            )
            reason = describe_validation_error(error)
            await dead_letter(source, reason, message.key, message.value, message.timestamp)
            continue
        notice = RequestActionNotice(action=action)
        await material_events_topic.send(
            key=action.material_id.encode(),
            value=encode(notice),
            partition=partition_of(action.material_id),
        )
