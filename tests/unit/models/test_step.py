"""The material step: exact de-duplication, and outputs that do not depend on arrival order."""

import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.cdc import decode_record
from connectors.mapping import load_mapping
from connectors.simulator import ErpSimulator
from models.alerting import Alert
from models.events import (
    MaterialEvent,
    PromotionEvent,
    SalesOrderLine,
    SourcePosition,
    StockMovement,
)
from models.planning import PlanningConfig
from models.priority import PriorityConfig
from models.rules.spec import builtin_rules
from models.state import MaterialState
from models.step import (
    AppliedEventIds,
    Received,
    StepContext,
    advance,
    receive,
    replay,
)
from models.watermark import InputProgress, PartitionClock
from streams.catalogue import INPUT_KINDS
from streams.settings import Settings

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LATENESS = timedelta(hours=1)
"""The default ``STOCKLOOP_LATENESS_S``."""
CONTEXT = StepContext(rules=builtin_rules())


def movement(n: int, kind: str, quantity: float, event_id: str | None = None) -> MaterialEvent:
    return MaterialEvent(
        event=StockMovement(
            event_id=event_id or f"mv-{n}",
            event_time=T0 + timedelta(minutes=n),
            material_id="M1",
            movement_type=kind,
            warehouse_id="W1",
            quantity=quantity,
        )
    )


def received_and_applied(state: MaterialState, events, applied: AppliedEventIds) -> list:
    outcomes = [receive(state, envelope, applied) for envelope in events]
    advance(state, max(e.event.event_time for e in events), CONTEXT)
    return outcomes


def test_a_re_sent_event_is_a_duplicate_after_any_number_of_newer_events():
    """300 records with 150 distinct ids: each id counts once (it counted 786 instead of 450)."""
    state, applied = MaterialState(material_id="M1"), AppliedEventIds()
    first = [movement(n, "receipt", 3) for n in range(150)]
    received_and_applied(state, first, applied)
    outcomes = received_and_applied(
        state, [movement(n + 150, "receipt", 3, f"mv-{n}") for n in range(150)], applied
    )
    assert set(outcomes) == {Received.DUPLICATE}
    assert state.warehouses["W1"].on_hand == 450


def test_a_full_re_snapshot_after_ten_thousand_further_events_changes_nothing():
    state, applied = MaterialState(material_id="M1"), AppliedEventIds()
    snapshot = [movement(n, "receipt", 5) for n in range(50)]
    received_and_applied(state, snapshot, applied)
    further = [movement(50 + n, "receipt" if n % 2 else "issue", 1) for n in range(10_000)]
    received_and_applied(state, further, applied)
    before = state.model_dump()
    outcomes = received_and_applied(state, snapshot, applied)
    assert set(outcomes) == {Received.DUPLICATE}
    assert state.model_dump() == before


def test_a_stock_event_older_than_the_horizon_is_refused_not_applied():
    state, applied = MaterialState(material_id="M1"), AppliedEventIds()
    received_and_applied(state, [movement(0, "receipt", 5)], applied)
    received_and_applied(state, [movement(60 * 24 * 60, "receipt", 5)], applied)
    ancient = movement(-10, "receipt", 5, "never-seen")
    assert receive(state, ancient, applied) is Received.TOO_OLD
    assert state.warehouses["W1"].on_hand == 10 and not state.pending


def test_a_live_tick_does_not_make_history_loaded_after_it_too_old():
    state, applied = MaterialState(material_id="M1"), AppliedEventIds()
    received_and_applied(state, [movement(0, "receipt", 5)], applied)
    advance(state, T0 + timedelta(days=200), CONTEXT, evaluate_at_end=True)
    assert receive(state, movement(60, "receipt", 5), applied) is Received.PENDING


def test_a_redelivered_record_is_a_duplicate_even_with_a_new_event_id():
    state, applied = MaterialState(material_id="M1"), AppliedEventIds()
    source = SourcePosition(topic="erp", partition=0, offset=7)
    first = movement(0, "receipt", 10).model_copy(update={"source": source})
    again = movement(1, "receipt", 10, "other").model_copy(update={"source": source})
    assert receive(state, first, applied) is Received.PENDING
    assert receive(state, again, applied) is Received.DUPLICATE


def test_a_record_redelivered_after_a_crash_between_the_id_and_the_state_is_taken_in():
    """The id table was written, the state was not (SIGKILL between the two changelogs)."""
    state, applied = MaterialState(material_id="M1"), AppliedEventIds()
    source = SourcePosition(topic="erp", partition=0, offset=7)
    receipt = movement(0, "receipt", 10).model_copy(update={"source": source})
    assert receive(state, receipt, applied) is Received.PENDING
    restored = MaterialState(material_id="M1")  # what the state's changelog still held
    assert receive(restored, receipt, applied) is Received.PENDING
    re_sent = receipt.model_copy(update={"source": source.model_copy(update={"offset": 9})})
    assert receive(restored, re_sent, applied) is Received.DUPLICATE


def test_an_event_without_a_source_read_again_after_a_crash_is_taken_in_once():
    """One of several events a record made carries no source: its record on material-events,
    read again after a crash between the id table and the state, tells whether it was taken."""
    delivery = SourcePosition(topic="stockloop.material-events", partition=3, offset=41)
    line = movement(0, "receipt", 10)
    state, applied = MaterialState(material_id="M1"), AppliedEventIds()
    assert receive(state, line, applied, delivery=delivery) is Received.PENDING
    # The state was written, the id was not: the state knows the record.
    assert receive(state, line, AppliedEventIds(), delivery=delivery) is Received.DUPLICATE
    # The id was written, the state was not: the same record is taken in.
    restored = MaterialState(material_id="M1")
    assert receive(restored, line, applied, delivery=delivery) is Received.PENDING
    # The event sent again (ingest read its record twice): a new record, the same id.
    again = delivery.model_copy(update={"offset": 57})
    assert receive(MaterialState(material_id="M1"), line, applied, delivery=again) is (
        Received.DUPLICATE
    )


# --- order-independence ---------------------------------------------------------------------


def simulated_topics(days: int, seed: int) -> dict[str, list[MaterialEvent]]:
    """Simulated ERP history, decoded as ingest does, per input topic in the topic's order."""
    mapping = load_mapping(Settings().mapping_file)
    topics: dict[str, list[MaterialEvent]] = {}
    offsets: dict[str, int] = {}
    for record in ErpSimulator(materials=4, seed=seed).run(days):
        try:
            event = decode_record(record.value, INPUT_KINDS[record.topic], mapping, 65_536)
        except Exception:
            continue  # the simulator's deliberately broken records
        if event is None or (isinstance(event, PromotionEvent) and event.category):
            continue
        offset = offsets[record.topic] = offsets.get(record.topic, -1) + 1
        source = SourcePosition(topic=record.topic, partition=0, offset=offset)
        topics.setdefault(record.topic, []).append(MaterialEvent(event=event, source=source))
    return topics


def run_worker(
    topics: dict[str, list[MaterialEvent]], rng: random.Random, report_every: int
) -> tuple[dict[str, str], list[Alert]]:
    """The material agent's loop, in memory: topics read at random relative speeds.

    Ingest reports each topic's progress every ``report_every`` records (and
    whenever a topic is read to its end); every material is advanced when the
    watermark moves, and events that time has passed are applied at once.
    """
    queues = {topic: list(events) for topic, events in topics.items()}
    highwaters = {f"{topic}:0": len(events) for topic, events in topics.items()}
    progress, clock = InputProgress(), PartitionClock(highwaters, LATENESS)
    applied, states, alerts = AppliedEventIds(), {}, []
    speeds = {topic: rng.uniform(0.05, 1.0) for topic in queues}
    read = 0
    while any(queues.values()):
        busy = [topic for topic, queue in queues.items() if queue]
        topic = rng.choices(busy, weights=[speeds[t] for t in busy])[0]
        envelope = queues[topic].pop(0)
        event = envelope.event
        state = states.setdefault(event.material_id, MaterialState(material_id=event.material_id))
        receive(state, envelope, applied)
        to = clock.applicable()
        if to is not None and event.event_time <= to:
            alerts += advance(state, to, CONTEXT).alerts
        progress.record(f"{topic}:0", envelope.source.offset, event.event_time)
        read += 1
        if (read % report_every == 0 or not queues[topic]) and clock.update(
            progress.watermark(highwaters, committed={})
        ):
            to = clock.applicable()
            for material_id in sorted(states):
                alerts += advance(states[material_id], to, CONTEXT).alerts
    return {m: s.model_dump_json() for m, s in sorted(states.items())}, alerts


TOPICS = simulated_topics(days=45, seed=7)


def reference() -> tuple[dict[str, str], list[Alert]]:
    states: dict[str, MaterialState] = {}
    alerts = replay((e for events in TOPICS.values() for e in events), CONTEXT, states)
    return {m: s.model_dump_json() for m, s in sorted(states.items())}, alerts


REFERENCE_STATES, REFERENCE_ALERTS = reference()


def by_material(alerts: list[Alert]) -> dict[str, list[bytes]]:
    """Alert transitions per material, in order: what a consumer of one key sees."""
    streams: dict[str, list[bytes]] = {}
    for alert in alerts:
        streams.setdefault(alert.material_id, []).append(alert.model_dump_json().encode())
    return streams


@pytest.mark.parametrize(("seed", "report_every"), [(0, 1), (1, 7), (2, 50), (3, 400), (4, 3)])
def test_any_interleaving_of_the_topics_gives_the_same_states_and_alerts(seed, report_every):
    """Topics read at random relative speeds, reports at any pace: the same states (as data:
    the order of ``source_offsets`` is arrival order) and byte-identical alerts per material."""
    states, alerts = run_worker(TOPICS, random.Random(seed), report_every)
    assert {m: orjson.loads(s) for m, s in states.items()} == {
        m: orjson.loads(s) for m, s in REFERENCE_STATES.items()
    }
    assert by_material(alerts) == by_material(REFERENCE_ALERTS)


def arrival_order(topics: dict[str, list[MaterialEvent]], rng: random.Random) -> list:
    """The topics interleaved at random relative speeds, each in its own order."""
    queues = {topic: list(events) for topic, events in topics.items()}
    speeds = {topic: rng.uniform(0.05, 1.0) for topic in queues}
    order = []
    while any(queues.values()):
        busy = [topic for topic, queue in queues.items() if queue]
        order.append(queues[rng.choices(busy, weights=[speeds[t] for t in busy])[0]].pop(0))
    return order


def test_events_out_of_order_within_the_lateness_give_the_same_outputs():
    """Each topic shuffled locally (no event more than 40 minutes behind one sent before it)."""
    rng = random.Random(5)
    jittered = {
        topic: sorted(
            events, key=lambda e: e.event.event_time + rng.random() * timedelta(minutes=40)
        )
        for topic, events in TOPICS.items()
    }
    for events in jittered.values():
        for offset, envelope in enumerate(events):
            source = envelope.source.model_copy(update={"offset": offset})
            events[offset] = envelope.model_copy(update={"source": source})
    states, alerts = run_worker(jittered, random.Random(6), report_every=5)

    def without_offsets(stored: str) -> dict:  # the shuffle gave the records new offsets
        return {k: v for k, v in orjson.loads(stored).items() if k != "source_offsets"}

    assert {m: without_offsets(s) for m, s in states.items()} == {
        m: without_offsets(s) for m, s in REFERENCE_STATES.items()
    }
    assert by_material(alerts) == by_material(REFERENCE_ALERTS)


def test_a_backlog_replay_counts_no_in_order_demand_as_late():
    states, _ = run_worker(TOPICS, random.Random(1), report_every=25)
    late = [MaterialState.model_validate_json(s).late_demand_events for s in states.values()]
    assert sum(late) == 0
    # Applied as they arrive, the same interleaving loses demand to closed days.
    arrived: dict[str, MaterialState] = {}
    for envelope in arrival_order(TOPICS, random.Random(1)):
        material_id = envelope.event.material_id
        arrived.setdefault(material_id, MaterialState(material_id=material_id)).apply(envelope)
    assert sum(state.late_demand_events for state in arrived.values()) > 50


@given(st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=60), st.data())
@settings(max_examples=50, deadline=None)
def test_re_sending_any_event_changes_nothing(quantities, data):
    state, applied = MaterialState(material_id="M1"), AppliedEventIds()
    events = [movement(n, "receipt" if n % 3 else "issue", q) for n, q in enumerate(quantities)]
    received_and_applied(state, events, applied)
    before = state.model_dump()
    again = data.draw(st.sampled_from(events))
    assert receive(state, again, applied) is Received.DUPLICATE
    assert state.model_dump() == before


def test_the_step_prices_value_at_risk_with_the_deployments_customer_weights():
    """A key account's unserved order is worth what the settings say (STOCKLOOP_PLANNING__...)."""
    line = SalesOrderLine(
        event_id="so-1",
        event_time=T0 + timedelta(minutes=5),
        material_id="M1",
        order_id="SO-1",
        line_id="1",
        warehouse_id="W1",
        quantity=150,
        due_date=(T0 + timedelta(days=3)).date(),
        status="confirmed",
        unit_price=8.0,
        customer_id="KEY-1",
        customer_priority=1,
    )
    weights = {1: 3.0, 2: 2.0, 3: 1.0, 4: 0.75, 5: 0.5}
    values = {}
    for key_account_weight in (3.0, 10.0):
        priority = PriorityConfig(customer_weights=weights | {1: key_account_weight})
        context = StepContext(rules=builtin_rules(), planning=PlanningConfig(priority=priority))
        state, applied = MaterialState(material_id="M1"), AppliedEventIds()
        for event in (movement(0, "receipt", 100), MaterialEvent(event=line)):
            receive(state, event, applied)
        result = advance(state, T0 + timedelta(minutes=10), context)
        gap = next(a for a in result.alerts if a.rule_id == "supply_demand_gap")
        values[key_account_weight] = gap.priority.value_at_risk
    assert values[10.0] > values[3.0] > 0
