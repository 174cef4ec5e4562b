"""Production input schemas: production orders and bill-of-materials lines, as the ERP sends them.

They arrive on ``erp.production-orders`` and ``erp.boms`` (plain JSON or through
the CDC mapping) and feed the shortage analysis (``models.bom``). As in
``models.events``, quantities are ``float``, times are timezone-aware UTC, and
every record carries an ``event_id`` (for de-duplication) and an
``event_time`` (the only clock the core knows).

A bill of materials is the set of current lines of one parent. A line is
identified by ``(parent_id, component_id)``: a later version replaces an
earlier one, and a version with ``deleted`` set removes the line
(``bom_from_lines``). Deletion is a flag rather than ``quantity_per = 0``
because a zero quantity is far more often a typing error in the ERP than an
intent, and a flag says what is meant; ``quantity_per`` must always be > 0.
"""

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.events import EventTime, Id, Positive, _check_horizon, _Event


class ProductionOrderStatus(StrEnum):
    """Life cycle of a production order."""

    PLANNED = "planned"
    RELEASED = "released"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN_STATUSES = frozenset({ProductionOrderStatus.PLANNED, ProductionOrderStatus.RELEASED})
"""Statuses of an order that still needs its components: only these compete for stock."""


class ProductionOrder(_Event):
    """A production order: build ``quantity`` of the assembled ``material_id`` by ``need_date``.

    ``need_date`` is the planned start: the day every component must be in
    the warehouse. ``rush`` marks an order that a planner wants answered
    first; it does not change which order takes components first (that is
    the need date). Each version of an order replaces the previous one.
    """

    kind: Literal["production_order"] = "production_order"
    order_id: Id
    warehouse_id: Id
    quantity: Positive
    need_date: date
    status: ProductionOrderStatus
    rush: bool = False

    @model_validator(mode="after")
    def _need_date_near_the_event(self) -> "ProductionOrder":
        _check_horizon(self.event_time, need_date=self.need_date)
        return self

    @property
    def is_open(self) -> bool:
        """Whether the order still needs its components (planned or released)."""
        return self.status in OPEN_STATUSES


class BomLine(BaseModel):
    """One line of a bill of materials: ``quantity_per`` of a component per unit of its parent.

    ``scrap_pct`` is the share lost in production: a parent unit consumes
    ``quantity_per × (1 + scrap_pct / 100)`` of the component.
    ``lead_time_days``, when the ERP knows it, is the component's
    replenishment lead time (purchase or production).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    kind: Literal["bom_line"] = "bom_line"
    event_id: Id
    event_time: EventTime
    parent_id: Id
    component_id: Id
    quantity_per: Positive
    scrap_pct: Annotated[float, Field(ge=0, lt=100, allow_inf_nan=False)] = 0.0
    lead_time_days: Annotated[float, Field(ge=0, le=3650, allow_inf_nan=False)] | None = None
    deleted: bool = False

    @model_validator(mode="after")
    def _not_its_own_component(self) -> "BomLine":
        if self.component_id == self.parent_id:
            raise ValueError(f"component_id {self.component_id!r} is its own parent_id")
        return self

    @property
    def gross_per_parent(self) -> float:
        """Component consumed per parent unit, scrap included, not rounded.

        >>> BomLine(event_id="b1", event_time="2026-11-30T08:00:00Z", parent_id="P",
        ...         component_id="C", quantity_per=2, scrap_pct=5).gross_per_parent
        2.1
        """
        return self.quantity_per * (1 + self.scrap_pct / 100)


def _version(line: BomLine) -> tuple[datetime, str]:
    return line.event_time, line.event_id


def bom_from_lines(lines: Iterable[BomLine]) -> dict[str, tuple[BomLine, ...]]:
    """The current bills of materials, by parent id, from line versions in any order.

    The newest version of each ``(parent_id, component_id)`` wins (by event
    time, then event id, so that the arrival order does not matter); deleted
    lines and parents left without lines are dropped. Lines come sorted by
    component id.

    >>> def line(event_id, hour, component_id, deleted=False):
    ...     return BomLine(event_id=event_id, event_time=f"2026-11-30T{hour:02}:00:00Z",
    ...                    parent_id="P", component_id=component_id, quantity_per=1,
    ...                    deleted=deleted)
    >>> bom = bom_from_lines(
    ...     [line("b2", 9, "A", deleted=True), line("b1", 8, "A"), line("b3", 8, "B")]
    ... )
    >>> [(p, [c.component_id for c in cs]) for p, cs in bom.items()]
    [('P', ['B'])]
    """
    newest: dict[tuple[str, str], BomLine] = {}
    for line in lines:
        key = (line.parent_id, line.component_id)
        if key not in newest or _version(line) > _version(newest[key]):
            newest[key] = line
    bom: dict[str, list[BomLine]] = {}
    for (parent_id, _), line in sorted(newest.items()):
        if not line.deleted:
            bom.setdefault(parent_id, []).append(line)
    return {parent_id: tuple(parent_lines) for parent_id, parent_lines in bom.items()}


WHAT_IF_ID = "what-if"
"""Order and event id of an on-demand question: never the id of a real order."""


def what_if_order(fields: Mapping[str, object], now: datetime) -> ProductionOrder:
    """A planned production order for an on-demand question ("can we build 500 of X by Friday?").

    ``stockloop shortage ORDER.json`` reads a document with at least
    ``material_id``, ``warehouse_id``, ``quantity`` and ``need_date``; ids,
    event time and status are filled in when absent, so the question reads
    like the order it would become. Nothing is created: the order is only
    analysed.

    >>> question = {"material_id": "X", "warehouse_id": "W1", "quantity": 500,
    ...             "need_date": "2026-12-04"}
    >>> order = what_if_order(question, datetime.fromisoformat("2026-11-30T08:00Z"))
    >>> order.order_id, order.status.value, order.need_date.isoformat()
    ('what-if', 'planned', '2026-12-04')
    """
    defaults = {
        "event_id": WHAT_IF_ID,
        "event_time": now,
        "order_id": WHAT_IF_ID,
        "status": ProductionOrderStatus.PLANNED,
    }
    return ProductionOrder.model_validate({**defaults, **fields})


def bom_line_key(line: BomLine) -> str:
    """The key of a line in the table of current BOM lines: ``parent|component``.

    >>> bom_line_key(BomLine(event_id="b1", event_time="2026-11-30T08:00:00Z",
    ...                      parent_id="X", component_id="A", quantity_per=2))
    'X|A'
    """
    return f"{line.parent_id}|{line.component_id}"


def fold_bom_line(current: BomLine | None, line: BomLine) -> BomLine | None:
    """The line a table of current BOM lines holds after ``line`` arrives; None: no line.

    The newer version wins, as in ``bom_from_lines``; a deleted newer version
    removes the line. An older version arriving late changes nothing.
    """
    if current is not None and _version(line) < _version(current):
        return current
    return None if line.deleted else line


def fold_order(current: ProductionOrder | None, order: ProductionOrder) -> ProductionOrder | None:
    """The order a table of open production orders holds after ``order`` arrives; None: none.

    The newer version wins (event time, then event id); a closed or cancelled
    newer version removes the order, which then no longer competes for
    components. An older version arriving late changes nothing.
    """
    if current is not None and (order.event_time, order.event_id) < (
        current.event_time,
        current.event_id,
    ):
        return current
    return order if order.is_open else None
