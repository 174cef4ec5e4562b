"""Quiet materials: skipping them on live ticks changes no output and no state."""

from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.cdc import decode_record
from connectors.mapping import load_mapping
from connectors.simulator import ErpSimulator
from models.day_change import Span, could_hold, facts_over, quiet_until
from models.events import MaterialEvent, PromotionEvent, SourcePosition, StockMovement, encode
from models.planning import PlanningConfig
from models.priority import PriorityConfig
from models.rules.spec import builtin_rules, load_rules
from models.state import MaterialState
from models.step import AppliedEventIds, StepContext, advance, receive
from streams.catalogue import INPUT_KINDS
from streams.settings import Settings

RULES = builtin_rules()


def simulated_history(
    materials: int, days: int, seed: int
) -> tuple[list[MaterialEvent], dict[str, list[PromotionEvent]]]:
    """Simulated ERP history decoded as ingest does, in time order, and category promotions."""
    mapping = load_mapping(Settings().mapping_file)
    events: list[MaterialEvent] = []
    promotions: dict[str, list[PromotionEvent]] = {}
    for offset, record in enumerate(ErpSimulator(materials=materials, seed=seed).run(days)):
        if record.topic not in INPUT_KINDS:
            continue  # bills of materials and production orders: not a material's events
        try:
            event = decode_record(record.value, INPUT_KINDS[record.topic], mapping, 65_536)
        except ValueError:
            continue  # the simulator's deliberately broken records
        if event is None:
            continue
        if isinstance(event, PromotionEvent) and event.category:
            promotions.setdefault(event.category, []).append(event)
            continue
        source = SourcePosition(topic=record.topic, partition=0, offset=offset)
        events.append(MaterialEvent(event=event, source=source))
    events.sort(key=lambda envelope: envelope.event.event_time)
    return events, promotions


class LiveWorker:
    """The material agent in memory: events as they come, and a live tick every ``tick_every``.

    ``skip_quiet``: a tick leaves out the materials ``quiet_until`` says it
    cannot change; otherwise every tick visits every material.
    """

    def __init__(self, context: StepContext, skip_quiet: bool) -> None:
        self.context = context
        self.skip_quiet = skip_quiet
        self.states: dict[str, MaterialState] = {}
        self.applied = AppliedEventIds()
        self.outputs: list[bytes] = []
        self.quiet: dict[str, tuple[datetime, datetime]] = {}
        self.visits = 0
        self.skipped = 0

    def run(self, events: list[MaterialEvent], tick_every: timedelta) -> None:
        first = events[0].event.event_time
        tick = datetime.combine(first.date(), datetime.min.time(), tzinfo=UTC) + tick_every
        for envelope in events:
            while tick <= envelope.event.event_time:
                self.tick(tick)
                tick += tick_every
            self.receive(envelope)
        self.tick(tick)

    def receive(self, envelope: MaterialEvent) -> None:
        material_id = envelope.event.material_id
        state = self.states.setdefault(material_id, MaterialState(material_id=material_id))
        receive(state, envelope, self.applied, self.context.planning)
        self.emit(advance(state, envelope.event.event_time, self.context))
        self.quiet.pop(material_id, None)

    def tick(self, at: datetime) -> None:
        for material_id in sorted(self.states):
            self.visits += 1
            window = self.quiet.get(material_id)
            if self.skip_quiet and window is not None and window[0] <= at < window[1]:
                self.skipped += 1
                continue
            state = self.states[material_id]
            before = stored_form(state)
            result = advance(state, at, self.context, evaluate_at_end=True)
            self.emit(result)
            settled = result.is_empty and stored_form(state) == before
            now = max(at, state.last_event_time or at)
            self.quiet[material_id] = (now, quiet_until(state, now, self.context, settled))

    def emit(self, result: object) -> None:
        for name in ("alerts", "transfers", "requests", "reviews"):
            self.outputs += [encode(output) for output in getattr(result, name)]

    def stored(self) -> dict[str, bytes]:
        return {material_id: stored_form(state) for material_id, state in self.states.items()}


def stored_form(state: MaterialState) -> bytes:
    return state.__pydantic_serializer__.to_json(state, exclude_computed_fields=True)


def both_ways(
    events: list[MaterialEvent], tick_every: timedelta, context: StepContext
) -> tuple[LiveWorker, LiveWorker]:
    """The same history visiting every material and skipping quiet ones: the outputs and the
    stored states must be byte for byte the same."""
    every, quiet = LiveWorker(context, skip_quiet=False), LiveWorker(context, skip_quiet=True)
    every.run(events, tick_every)
    quiet.run(events, tick_every)
    assert every.outputs == quiet.outputs
    assert every.stored() == quiet.stored()
    return every, quiet


def simulated_context(promotions: dict[str, list[PromotionEvent]]) -> StepContext:
    return StepContext(rules=RULES, category_promotions=promotions)


def test_skipping_quiet_materials_gives_the_same_outputs_and_states_byte_for_byte():
    events, promotions = simulated_history(materials=6, days=42, seed=11)
    every, quiet = both_ways(events, timedelta(minutes=131), simulated_context(promotions))
    # The history raises and resolves alerts, requests and reviews; a material is skipped
    # until its next clock (three in five visits here; two in five when every material with
    # an alert or request open was visited at every tick).
    assert len(every.outputs) > 100
    assert quiet.skipped > quiet.visits / 2


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 1_000), minutes=st.integers(61, 600))
def test_skipping_is_exact_for_any_tick_spacing(seed: int, minutes: int):
    events, promotions = simulated_history(materials=2, days=35, seed=seed)
    both_ways(events, timedelta(minutes=minutes), simulated_context(promotions))


FACTS = builtin_rules().enabled_rules[0].compiled.names  # type: ignore[union-attr]
numbers = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(
    fixed=st.fixed_dictionaries({name: numbers for name in sorted(set(FACTS) | {"on_hand"})}),
    age=st.floats(0, 400),
    quiet=st.floats(0, 400),
    growth=st.floats(0, 1),
    share=st.floats(0, 1),
)
def test_a_rule_said_not_to_fire_over_an_interval_fires_nowhere_in_it(
    fixed: dict[str, float | None], age: float, quiet: float, growth: float, share: float
):
    first = {**fixed, "batch_age_days": age, "days_since_last_issue": quiet}
    last = {**first, "batch_age_days": age + growth, "days_since_last_issue": quiet + growth}
    inside = {**first, "batch_age_days": age + growth * share}
    inside["days_since_last_issue"] = quiet + growth * share
    facts = facts_over(first, last)
    assert facts is not None
    for rule in RULES.enabled_rules:
        fires = rule.compiled.fires  # type: ignore[union-attr]
        if not could_hold(fires.node, facts):
            assert not fires.holds(first) and not fires.holds(last) and not fires.holds(inside)


def test_a_fact_other_than_the_clock_s_changing_in_the_interval_makes_it_unknowable():
    assert facts_over({"on_hand": 3.0}, {"on_hand": 4.0}) is None
    assert facts_over({"batch_age_days": 3.0}, {"batch_age_days": None}) is None
    assert facts_over({"batch_age_days": 3.0}, {"batch_age_days": 4.0}) == {
        "batch_age_days": Span(3.0, 4.0)
    }


def test_stock_on_the_shelf_is_quiet_until_just_before_it_is_due_for_review():
    received = datetime(2026, 1, 1, 10, tzinfo=UTC)
    state = MaterialState(material_id="SPARE-7")
    context = StepContext(rules=RULES)
    receipt = StockMovement(
        event_id="r1",
        event_time=received,
        material_id="SPARE-7",
        movement_type="receipt",
        warehouse_id="W1",
        quantity=12,
    )
    receive(state, MaterialEvent(event=receipt), AppliedEventIds())
    now = received + timedelta(days=59, hours=15)  # 01:00 on the day it turns 60 days old
    advance(state, now, context, evaluate_at_end=True)
    due = received + timedelta(days=60)  # dead_stock's review_days
    assert due - timedelta(seconds=90) <= quiet_until(state, now, context) <= due
    assert not advance(state, due - timedelta(seconds=1), context, evaluate_at_end=True).alerts
    [review] = advance(state, due, context, evaluate_at_end=True).alerts
    assert review.rule_id == "dead_stock"


def receipt_of(quantity: float, warehouse_id: str, at: datetime, event_id: str) -> MaterialEvent:
    movement = StockMovement(
        unit_cost=250.0,
        event_id=event_id,
        event_time=at,
        material_id="SPARE-7",
        movement_type="receipt",
        warehouse_id=warehouse_id,
        quantity=quantity,
    )
    return MaterialEvent(event=movement)


def test_an_open_alert_whose_rule_reads_the_clock_is_visited_all_day():
    rules = load_rules(
        """
version: 1
rules:
  - id: young_batch_watch
    description: A batch older than half a day, a warning after 1.3 days.
    when: batch_age_days > 0.5
    severity:
      warning: batch_age_days > 1.3
    update_on: [batch_age_days]
    repeat_interval: 30d
""",
        base=builtin_rules(),
    )
    received = datetime(2026, 1, 1, 10, tzinfo=UTC)
    events = [
        receipt_of(12, "W1", received, "r1"),
        receipt_of(3, "W2", received + timedelta(days=3), "r2"),
    ]
    every, quiet = both_ways(events, timedelta(minutes=20), StepContext(rules=rules))
    watched = [orjson.loads(output) for output in every.outputs]
    statuses = [a["status"] for a in watched if a.get("rule_id") == "young_batch_watch"]
    assert statuses[0] == "raised" and statuses.count("updated") >= 2
    assert quiet.skipped > 0


def test_an_aging_risk_s_value_is_published_again_as_it_grows_and_quiet_in_between():
    rules = load_rules(
        """
version: 1
rules:
  - id: shelf_watch
    description: Anything on the shelf, priced as dead stock.
    when: on_hand > 5
    severity: info
    repeat_interval: 30d
    labels: {owner: finance, action: dead_stock_review}
""",
        base=builtin_rules(),
    )
    # Without a write-off share the value at risk is the holding cost alone, which grows
    # by 10 % whenever the time held does: several times a day in the first days.
    planning = PlanningConfig(priority=PriorityConfig(write_off_share=0.0))
    context = StepContext(rules=rules, planning=planning)
    received = datetime(2026, 1, 1, 10, tzinfo=UTC)
    events = [
        receipt_of(12, "W1", received, "r1"),
        receipt_of(3, "W2", received + timedelta(days=4), "r2"),
    ]
    every, quiet = both_ways(events, timedelta(minutes=20), context)
    alerts = [orjson.loads(output) for output in every.outputs]
    reasons = [a["reason"] for a in alerts if a.get("rule_id") == "shelf_watch"]
    assert reasons.count("values") >= 5
    assert quiet.skipped > quiet.visits / 2


def test_a_review_s_missed_deadline_is_escalated_at_the_first_tick_after_it():
    received = datetime(2026, 1, 1, 10, tzinfo=UTC)
    events = [
        receipt_of(12, "W1", received, "r1"),
        receipt_of(3, "W2", received + timedelta(days=72), "r2"),  # after finance's deadline
    ]
    every, quiet = both_ways(events, timedelta(minutes=20), StepContext(rules=RULES))
    reviews = [orjson.loads(output) for output in every.outputs if b'"review_id"' in output]
    # Finance's deadline, ten days after opening, falls between two weekly repeats of the alert.
    assert reviews[-1]["escalated"] == ["sales", "engineering", "finance"]
    assert quiet.skipped > quiet.visits / 2
