"""What travels on ``stockloop.material-events``: one union, decoded once by the material agent."""

from typing import Annotated

from pydantic import Field, TypeAdapter

from models.alerts import AlertActionNotice
from models.events import MaterialEvent, Tick, Watermark
from models.expedite import ExpediteNotice
from models.purchasing import RequestActionNotice
from models.reviews import ReviewActionNotice
from models.transfers import TransferActionNotice

MaterialStreamRecord = TypeAdapter(
    Annotated[
        MaterialEvent
        | Tick
        | Watermark
        | AlertActionNotice
        | RequestActionNotice
        | ReviewActionNotice
        | TransferActionNotice
        | ExpediteNotice,
        Field(discriminator="type"),
    ]
)
"""A record of ``stockloop.material-events``: a material's event, a tick, ingest's watermark,
an alert action, request or transfer decision or review action to apply at once, or a production
order's missing part to expedite."""
