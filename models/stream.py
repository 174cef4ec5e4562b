"""What travels on ``stockloop.material-events``: one union, decoded once by the material agent."""

from typing import Annotated

from pydantic import Field, TypeAdapter

from models.alerts import AlertActionNotice
from models.events import MaterialEvent, Tick, Watermark
from models.purchasing import RequestActionNotice
from models.reviews import ReviewActionNotice

MaterialStreamRecord = TypeAdapter(
    Annotated[
        MaterialEvent
        | Tick
        | Watermark
        | AlertActionNotice
        | RequestActionNotice
        | ReviewActionNotice,
        Field(discriminator="type"),
    ]
)
"""A record of ``stockloop.material-events``: a material's event, a tick, ingest's watermark,
or an alert action, request decision or review action to apply at once."""
