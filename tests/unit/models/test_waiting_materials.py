"""Which materials a watermark report releases: those whose oldest waiting event it has passed."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from models.events import MaterialEvent, StockMovement
from models.rules.spec import builtin_rules
from models.state import MaterialState
from models.step import AppliedEventIds, StepContext, advance, receive
from models.watermark import WaitingMaterials

START = datetime(2026, 3, 2, tzinfo=UTC)
CONTEXT = StepContext(rules=builtin_rules())


def receipt(material_id: str, number: int, hours: float) -> MaterialEvent:
    return MaterialEvent(
        event=StockMovement(
            event_id=f"{material_id}-{number}",
            event_time=START + timedelta(hours=hours),
            material_id=material_id,
            movement_type="receipt",
            warehouse_id="W1",
            quantity=10,
            batch_id=f"B{number}",
            unit_cost=2.0,
        )
    )


def received(material_id: str, hours: list[float]) -> MaterialState:
    state = MaterialState(material_id=material_id)
    applied = AppliedEventIds()
    for number, at in enumerate(hours):
        receive(state, receipt(material_id, number, at), applied)
    return state


def test_a_material_a_tick_reaches_after_the_release_is_released_by_the_next_report():
    """The tick of the day brings M1 to 06:00 only after a report released 09:00 to the others:
    a report that does not move time on must still apply M1's 08:00 receipt."""
    waiting = WaitingMaterials()
    released_at = START + timedelta(hours=9)
    assert waiting.due(released_at) == []  # the release: M1 was not known to wait yet

    late = received("M1", [8.0])
    advance(late, START + timedelta(hours=6), CONTEXT)  # the tick's own, earlier, time
    waiting.note(late)

    assert waiting.due(released_at) == ["M1"] and waiting.any_due(released_at)
    advance(late, released_at, CONTEXT)
    waiting.note(late)
    assert late.events_applied == 1 and len(waiting) == 0


def test_a_failed_advance_is_retried_from_the_earliest_time_it_failed_at():
    waiting = WaitingMaterials()
    waiting.note(received("M1", [30.0]))
    waiting.retry("M1", START + timedelta(hours=10))
    waiting.retry("M1", START + timedelta(hours=20))
    assert waiting.due(START + timedelta(hours=9)) == []
    assert waiting.due(START + timedelta(hours=10)) == ["M1"]


def test_a_material_of_another_owner_is_forgotten():
    waiting = WaitingMaterials()
    waiting.note(received("M1", [1.0]))
    waiting.forget("M1")
    assert len(waiting) == 0 and waiting.due(START + timedelta(days=1)) == []


event_hours = st.lists(st.integers(min_value=0, max_value=72), max_size=4)


@given(
    materials=st.dictionaries(st.sampled_from(["M1", "M2", "M3", "M4"]), event_hours),
    to_hours=st.integers(min_value=0, max_value=72),
)
def test_releasing_the_due_materials_leaves_exactly_those_with_later_events(
    materials: dict[str, list[int]], to_hours: int
):
    to = START + timedelta(hours=to_hours)
    states = {m: received(m, hours) for m, hours in materials.items()}
    waiting = WaitingMaterials()
    for state in states.values():
        waiting.note(state)

    due = waiting.due(to)
    assert due == sorted(m for m, hours in materials.items() if hours and min(hours) <= to_hours)
    for material_id in due:
        advance(states[material_id], to, CONTEXT)
        waiting.note(states[material_id])

    assert waiting.due(to) == [] and not waiting.any_due(to)
    later = [m for m, hours in materials.items() if any(h > to_hours for h in hours)]
    assert len(waiting) == len(later)
    for material_id, hours in materials.items():
        assert states[material_id].events_applied == sum(1 for h in hours if h <= to_hours)
