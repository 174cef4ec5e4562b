"""A material's availability per warehouse, as other materials' shortage analyses read it.

A production order needs many components, and each lives in its own
material's state on whichever worker owns that material. Rather than asking
every one of them (a scatter-gather per order), each material publishes what
it offers whenever an applied event changes it, to a compacted topic that
every worker mirrors into a table: the analysis of an order then reads its
components locally, in one pass, within the same second.
"""

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.bom import ComponentAvailability
from models.events import SCHEMA_VERSION, Id

if TYPE_CHECKING:
    from models.state import MaterialState


class MaterialAvailability(BaseModel):
    """One record of ``stockloop.availability``: what a material offers, warehouse by warehouse.

    The latest record per material is its availability (the topic is
    compacted). ``as_of`` is the event time of the newest event it reflects.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Version of this schema.")
    material_id: Id
    as_of: datetime | None = Field(description="Event time of the newest event reflected.")
    warehouses: dict[str, ComponentAvailability] = Field(
        description="By warehouse: on hand available, confirmed demand by due date, "
        "in-transit supply by ETA."
    )

    def in_warehouse(self, warehouse_id: str) -> ComponentAvailability | None:
        """What the material offers in one warehouse, or None if it has no stock record there."""
        return self.warehouses.get(warehouse_id)


def availability_of(state: "MaterialState") -> MaterialAvailability:
    """The availability record of a material's current state."""
    return MaterialAvailability(
        material_id=state.material_id,
        as_of=state.last_event_time,
        warehouses={
            warehouse_id: ComponentAvailability.of_stock(state.material_id, stock)
            for warehouse_id, stock in sorted(state.warehouses.items())
        },
    )
