"""Rush sales orders of assembled items: the build a sales order line needs, as an order to analyse.

The article's case: an urgent customer order arrives, and within minutes the
planner knows which parts are missing and replenishment has started. For an
item bought or taken from stock the material's own rules do this; for an
assembled item (a parent in the bill of materials) the question is its
components', so the part of the line that the item's own stock does not cover
is analysed like a production order (``rush_order``): exploded, netted
against its components' availability after the orders ahead of it, published
as a ``ShortageResult`` and expedited part by part.

**Which lines are rush.** A line the ERP marks ``rush``, or one due sooner
than its item's cumulative lead time (``cumulative_lead_time_days``): the
longest chain of component lead times in its BOM, as MRP's critical path.
Inside that window the ordinary replenishment cannot deliver in time, which
is what makes an order urgent whether or not anyone flagged it. A structure
without any known lead time has no such window: only the flag counts. Lines
open, confirmed or partially shipped are demand; shipped and cancelled ones
are not.

**What must be built.** The line's open quantity minus what the finished
item offers in the line's warehouse by its due date (``to_build``): on hand
available, less confirmed demand due *before* the due date (earlier lines
ship first), plus in-transit supply with an ETA on or before it. Demand due
on the same day, this line's own among it, does not hold stock back: the
availability view sums demand by day and cannot tell this line's from the
others', and whether it already counts this line depends only on timing. An
open production order of the item itself is not counted as supply: its need
date is when it starts, not when its output is there.

**The order analysed.** A planned ``ProductionOrder`` for ``to_build`` of the
item by the due date, ``rush`` set, identified as ``{order_id}/{line_id}``
(``sales_line_order_id``) with the line version's event id and time, so its
result id is deterministic per line version. It competes with open
production orders by need date, both ways, exactly as they compete with each
other.

Examples
--------
>>> from models.production import BomLine
>>> def line(parent, component, per, lead=None):
...     return BomLine(event_id=f"{parent}-{component}", event_time="2026-11-30T08:00:00Z",
...                    parent_id=parent, component_id=component, quantity_per=per,
...                    lead_time_days=lead)
>>> bom = {"X": [line("X", "A", 2), line("X", "P1", 1, lead=3)], "A": [line("A", "P2", 1, 10)]}
>>> cumulative_lead_time_days("X", bom)
10.0
>>> so = SalesOrderLine(event_id="so-v1", event_time="2026-11-30T08:00:00Z", material_id="X",
...     order_id="SO-1", line_id="10", warehouse_id="W1", quantity=10, due_date="2026-12-04",
...     status="confirmed")
>>> finished = ComponentAvailability(component_id="X", on_hand_available=4)
>>> order = rush_order(so, bom, finished)
>>> order.order_id, order.quantity, order.need_date.isoformat(), order.rush
('SO-1/10', 6.0, '2026-12-04', True)
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from models.bom import Bom, ComponentAvailability, explode
from models.events import OrderStatus, SalesOrderLine
from models.production import BomLine, ProductionOrder, ProductionOrderStatus
from models.state import _q

DEMAND_STATUSES = frozenset(
    {OrderStatus.OPEN, OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_SHIPPED}
)
"""Statuses of a sales order line that still wants goods: only these can need a build."""


def sales_line_order_id(line: SalesOrderLine) -> str:
    """The id of the order analysed for a sales order line: ``{order_id}/{line_id}``.

    >>> sales_line_order_id(SalesOrderLine(event_id="e1", event_time="2026-11-30T08:00:00Z",
    ...     material_id="X", order_id="SO-1", line_id="10", warehouse_id="W1", quantity=1,
    ...     due_date="2026-12-04", status="open"))
    'SO-1/10'
    """
    return f"{line.order_id}/{line.line_id}"


def _live_lines(bom: Bom, parent_id: str) -> Sequence[BomLine]:
    return [line for line in bom.get(parent_id, ()) if not line.deleted]


def cumulative_lead_time_days(item_id: str, bom: Bom) -> float | None:
    """The longest chain of component lead times below ``item_id``; None when none is known.

    A component's lead time is the longest ``lead_time_days`` of the lines
    naming it in the structure (unknown counts as 0); its cumulative lead
    time adds the longest of its own components' on top. The item's own
    assembly time is not in the BOM (no line names it as a component here)
    and is left out. Raises ``BomCycleError`` when the structure has a cycle.
    """
    items = list(explode(item_id, 1.0, bom))  # parents before their components
    own: dict[str, float] = {}
    known = False
    for parent_id in [item_id, *items]:
        for line in _live_lines(bom, parent_id):
            if line.lead_time_days is not None:
                known = True
                own[line.component_id] = max(own.get(line.component_id, 0.0), line.lead_time_days)
    if not known:
        return None
    cumulative: dict[str, float] = {}
    for item in reversed(items):  # components before their parents
        below = (cumulative[line.component_id] for line in _live_lines(bom, item))
        cumulative[item] = own.get(item, 0.0) + max(below, default=0.0)
    return max((cumulative[line.component_id] for line in _live_lines(bom, item_id)), default=0.0)


def is_rush(line: SalesOrderLine, bom: Bom) -> bool:
    """Whether a line is urgent: flagged by the ERP, or due within its item's cumulative lead time.

    The window is counted in days from the line version's event date: a line
    due in 3 days of an item whose cumulative lead time is 10 is rush, as is
    an overdue one; one due in 10 days or more is not. Raises
    ``BomCycleError`` when the item's structure has a cycle.
    """
    if line.rush:
        return True
    lead_time = cumulative_lead_time_days(line.material_id, bom)
    return lead_time is not None and (line.due_date - line.event_time.date()).days < lead_time


def to_build(line: SalesOrderLine, finished: ComponentAvailability | None) -> float:
    """What of the line's open quantity the finished item's stock does not cover by its due date.

    ``finished`` is the item's own row of the availability view in the line's
    warehouse (None: nothing there, nothing coming). A line that no longer
    wants goods (shipped, cancelled) needs nothing built.

    >>> so = SalesOrderLine(event_id="so-v1", event_time="2026-11-30T08:00:00Z",
    ...     material_id="X", order_id="SO-1", line_id="10", warehouse_id="W1", quantity=10,
    ...     shipped_quantity=2, due_date="2026-12-04", status="partially_shipped")
    >>> stock = ComponentAvailability(component_id="X", on_hand_available=5,
    ...     confirmed_demand=(("2026-12-01", 1), ("2026-12-04", 8)),
    ...     in_transit=(("2026-12-03", 1), ("2026-12-05", 9)))
    >>> to_build(so, stock)  # open 8 - (5 - 1 due before + 1 arriving in time)
    3.0
    """
    if line.status not in DEMAND_STATUSES:
        return 0.0
    open_quantity = line.quantity - line.shipped_quantity
    if finished is None:
        return _q(max(0.0, open_quantity))
    earlier = math.fsum(q for due, q in finished.confirmed_demand if due < line.due_date)
    arriving = math.fsum(q for eta, q in finished.in_transit if eta <= line.due_date)
    offered = max(0.0, finished.on_hand_available - earlier + arriving)
    return _q(max(0.0, open_quantity - offered))


def rush_order(
    line: SalesOrderLine, bom: Bom, finished: ComponentAvailability | None
) -> ProductionOrder | None:
    """The order to analyse for a sales order line; None when the line needs no build analysed.

    None when the item is not assembled (no BOM lines of its own), the line
    is not rush (``is_rush``), or its stock covers it (``to_build`` is 0).
    Raises ``BomCycleError`` when the item's structure has a cycle.
    """
    if not _live_lines(bom, line.material_id):
        return None
    quantity = to_build(line, finished)
    if quantity <= 0 or not is_rush(line, bom):
        return None
    return ProductionOrder(
        event_id=line.event_id,
        event_time=line.event_time,
        material_id=line.material_id,
        order_id=sales_line_order_id(line),
        warehouse_id=line.warehouse_id,
        quantity=quantity,
        need_date=line.due_date,
        status=ProductionOrderStatus.PLANNED,
        rush=True,
    )


def fold_rush_line(
    current: ProductionOrder | None,
    line: SalesOrderLine,
    bom: Bom,
    finished: ComponentAvailability | None,
) -> ProductionOrder | None:
    """The order a table of open orders holds for a sales order line after ``line`` arrives.

    ``current`` is the order held for the line (None: none). A version of the
    line older than the one held, or the same one delivered again, changes
    nothing (the held order is returned as it is); a newer one replaces it by
    its own ``rush_order``, None when it needs no build any more (cancelled,
    shipped, covered by stock, or no longer rush): the held order then
    leaves the competing orders, as a closed production order does.
    """
    if current is not None and (line.event_time, line.event_id) <= (
        current.event_time,
        current.event_id,
    ):
        return current
    return rush_order(line, bom, finished)


WHAT_IF_ID = "what-if"
"""Order, line and event id of an on-demand question: never the id of a real sales order."""


def what_if_sales_line(fields: Mapping[str, object], now: datetime) -> SalesOrderLine:
    """A confirmed rush sales order line for an on-demand question ("can we ship 50 X Friday?").

    ``stockloop shortage LINE.json`` reads a document with at least
    ``material_id``, ``warehouse_id``, ``quantity`` and ``due_date``; ids, event
    time and status are filled in when absent, and ``rush`` is set unless the
    document says otherwise: asking is what makes it urgent. Nothing is created.

    >>> question = {"material_id": "X", "warehouse_id": "W1", "quantity": 50,
    ...             "due_date": "2026-12-04"}
    >>> line = what_if_sales_line(question, datetime.fromisoformat("2026-11-30T08:00Z"))
    >>> sales_line_order_id(line), line.status.value, line.rush
    ('what-if/what-if', 'confirmed', True)
    """
    defaults = {
        "event_id": WHAT_IF_ID,
        "event_time": now,
        "order_id": WHAT_IF_ID,
        "line_id": WHAT_IF_ID,
        "status": OrderStatus.CONFIRMED,
        "rush": True,
    }
    return SalesOrderLine.model_validate({**defaults, **fields})


def assembled(bom_keys: Iterable[str], material_id: str) -> bool:
    """Whether ``material_id`` is a parent among BOM line keys ``parent|component``.

    Lets a caller holding the BOM as a keyed table answer without parsing a
    line (``models.production.bom_line_key``).

    >>> assembled(["X|A", "A|P2"], "A"), assembled(["X|A", "A|P2"], "P2")
    (True, False)
    """
    prefix = f"{material_id}|"
    return any(key.startswith(prefix) for key in bom_keys)
