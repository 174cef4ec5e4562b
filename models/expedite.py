"""Expedite notices: a component a production order lacks, sent to the worker that owns it.

The shortage analysis runs where the order is read, but a purchase request
lives in its material's state, on the partition of ``stockloop.material-events``
that the material hashes to. So for each part with something missing the
shortage agent sends an ``ExpediteNotice`` there, keyed by the component, and
the material's step turns it into an expedited purchase request.

A notice is identified by the order and the component (``expedite_id``): the
latest analysis of an order says how much of each component is still
missing, so a later notice of the same pair replaces the earlier one. When
the order is cancelled or closed, a notice of 0 for each of its parts
withdraws what it had asked for: the requests nobody has decided yet are
cancelled (an approved one stays, as when any other need goes).
"""

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.bom import ComponentShortage, ShortageResult
from models.events import SCHEMA_VERSION, EventTime, Id, NonNegative


class ExpediteNotice(BaseModel):
    """A part a production order lacks: ``quantity`` wanted in ``warehouse_id`` by ``needed_by``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["expedite"] = "expedite"
    schema_version: Literal[1] = SCHEMA_VERSION
    material_id: Id = Field(description="The missing component.")
    warehouse_id: Id
    quantity: NonNegative = Field(
        description="What the order lacks of it by its need date; 0: the order no longer "
        "needs it (cancelled or closed)."
    )
    needed_by: date = Field(description="The order's need date.")
    order_id: Id
    shortage_id: str = Field(description="Id of the ShortageResult that found it missing.")
    at: EventTime = Field(description="Event time of the order version analysed.")

    @property
    def expedite_id(self) -> str:
        """The need this notice names: one per order and component, whatever the version."""
        return f"{self.order_id}|{self.material_id}"


def expedite_notices(result: ShortageResult) -> list[ExpediteNotice]:
    """One notice per purchased part the result finds missing, by component id.

    Assemblies never count as missing (their shortfall is built), so only
    parts are expedited.

    >>> from models.bom import ComponentShortage
    >>> part = ComponentShortage(component_id="A", level=1, assembly=False, required=10,
    ...     available=4, arriving_in_time=0, to_build=0, missing=6, covered_by=None)
    >>> result = ShortageResult(id="s1", order_id="MO-1", order_event_id="e1",
    ...     analysed_at="2026-11-30T08:00:00Z", material_id="X", warehouse_id="W1",
    ...     quantity=5, need_date="2026-12-04", rush=False, components=(part,),
    ...     missing_components=("A",), kit_completeness=0, quantity_completeness=0.4,
    ...     earliest_feasible_start=None, orders_ahead=())
    >>> [(n.material_id, n.quantity, n.expedite_id) for n in expedite_notices(result)]
    [('A', 6.0, 'MO-1|A')]
    """
    return [
        _notice(result, line.component_id, line.missing, result.analysed_at)
        for line in _parts(result)
        if line.missing > 0
    ]


def withdrawal_notices(result: ShortageResult, at: datetime) -> list[ExpediteNotice]:
    """A notice of 0 for each purchased part of an order that was cancelled or closed at ``at``.

    ``result`` is the order's last analysis, whose parts are the ones it may
    have expedited; a part never expedited takes the notice as a no-op.

    >>> from datetime import UTC
    >>> from models.bom import ComponentShortage
    >>> part = ComponentShortage(component_id="A", level=1, assembly=False, required=10,
    ...     available=10, arriving_in_time=0, to_build=0, missing=0, covered_by=None)
    >>> result = ShortageResult(id="s1", order_id="MO-1", order_event_id="e1",
    ...     analysed_at="2026-11-30T08:00:00Z", material_id="X", warehouse_id="W1",
    ...     quantity=5, need_date="2026-12-04", rush=False, components=(part,),
    ...     missing_components=(), kit_completeness=1, quantity_completeness=1,
    ...     earliest_feasible_start=None, orders_ahead=())
    >>> [(n.material_id, n.quantity) for n in withdrawal_notices(result, datetime.now(UTC))]
    [('A', 0.0)]
    """
    return [_notice(result, line.component_id, 0.0, at) for line in _parts(result)]


def _parts(result: ShortageResult) -> list[ComponentShortage]:
    """The purchased parts of an analysis, by component id: assemblies are built, not bought."""
    return sorted(
        (line for line in result.components if not line.assembly),
        key=lambda line: line.component_id,
    )


def _notice(
    result: ShortageResult, component_id: str, quantity: float, at: datetime
) -> ExpediteNotice:
    return ExpediteNotice(
        material_id=component_id,
        warehouse_id=result.warehouse_id,
        quantity=quantity,
        needed_by=result.need_date,
        order_id=result.order_id,
        shortage_id=result.id,
        at=at,
    )
