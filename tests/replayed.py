"""Stock positions after a history is replayed in memory, as a worker whose inputs are all read.

The ERP pack and shape tests compare them with what the ERP's rows, or the
plain traffic, say.
"""

from collections.abc import Iterable

from models.events import InputEvent, MaterialEvent
from models.rules.spec import builtin_rules
from models.state import MaterialState
from models.step import StepContext, replay

Figures = tuple[float, float, float]
"""On hand, committed and in transit."""


def replayed_positions(events: Iterable[InputEvent]) -> dict[tuple[str, str], Figures]:
    """On hand, committed and in transit per (material id, warehouse id) after ``events``.

    Events of no material (promotions) are left out; released and split changes
    carry no source offset, so the event id deduplicates.
    """
    states: dict[str, MaterialState] = {}
    replay(
        (MaterialEvent(event=event) for event in events if event.material_id is not None),
        StepContext(rules=builtin_rules()),
        states,
    )
    return {
        (material_id, warehouse_id): (stock.on_hand, stock.committed, stock.in_transit)
        for material_id, state in states.items()
        for warehouse_id, stock in state.warehouses.items()
    }
