"""Material agent: one ordered stream per material, folded into the materials table.

Each event is applied to its material's state, the plan is brought up to
date, the rules are evaluated, and alert transitions go to
``stockloop.alerts``. A tick does the same for every material of its
partition, so time-based rules fire without input.
"""

import logging
import time
from datetime import UTC, date, datetime
from functools import lru_cache

import faust
from aiokafka.partitioner import DefaultPartitioner

from agents.dead_letters import dead_letter
from models.alerting import Alert, evaluate_alerts
from models.alerts import ALERT_ACTIONS, Acknowledge, Silence
from models.events import (
    MaterialEvent,
    MaterialStreamRecord,
    PromotionEvent,
    SourcePosition,
    Tick,
    encode,
)
from models.planning import Promotion
from models.rules.spec import RuleFile, RuleSpecError, builtin_rules, load_rules
from models.state import MaterialState, Outcome
from streams.app import (
    alert_actions_table,
    alerts_topic,
    app,
    category_promotions_table,
    material_events_topic,
    materials_table,
    rules_table,
)
from streams.app import settings as app_settings
from streams.metrics import (
    ALERTS,
    END_TO_END_SECONDS,
    EVENTS,
    LATE_DEMAND,
    PROCESSING_SECONDS,
    RULE_ERRORS,
    TICKED_MATERIALS,
)

log = logging.getLogger(__name__)
partitioner = DefaultPartitioner()
PARTITIONS = list(range(app.conf.topic_partitions))


def load_state(material_id: str) -> MaterialState:
    """The stored state of a material, or a fresh one for a material not seen before."""
    stored = materials_table.get(material_id)
    if stored is None:
        return MaterialState(material_id=material_id)
    return MaterialState.model_validate_json(stored)


def store_state(state: MaterialState) -> None:
    """Write a material's state."""
    materials_table[state.material_id] = _stored(state)


def _stored(state: MaterialState) -> bytes:
    """A material's state as the table holds it: derived fields are left out, recomputed on read."""
    return state.__pydantic_serializer__.to_json(state, exclude_computed_fields=True)


def promotions_for(state: MaterialState) -> list[Promotion]:
    """Category-wide promotions that apply to this material (held by every worker)."""
    category = state.master.category if state.master else None
    if category is None:
        return []
    promotions = []
    for stored in category_promotions_table.values():
        event = _promotion(stored)
        if event.category == category and not event.cancelled:
            promotions.append(
                Promotion(
                    promotion_id=event.promotion_id,
                    starts_on=event.starts_on,
                    ends_on=event.ends_on,
                    uplift=event.uplift,
                )
            )
    return promotions


@lru_cache(maxsize=1024)
def _promotion(stored: bytes) -> PromotionEvent:
    return PromotionEvent.model_validate_json(stored)


@lru_cache(maxsize=8)
def _rules(stored: bytes | None) -> RuleFile:
    """The built-in pack with the published rule file laid over it (parsed once per version)."""
    return builtin_rules() if stored is None else load_rules(stored, base=builtin_rules())


@lru_cache(maxsize=4096)
def _action(stored: bytes) -> Acknowledge | Silence:
    return ALERT_ACTIONS.validate_json(stored)


class AlertContext:
    """Rules, silences and acknowledgements as the global tables hold them right now.

    A rule file that fails validation (it should not: ``stockloop rules apply``
    validates first) is reported and the last good one stays in force.
    """

    def __init__(self) -> None:
        self.rules = builtin_rules()

    def refresh(self) -> None:
        try:
            self.rules = _rules(rules_table.get("active"))
        except RuleSpecError as error:
            RULE_ERRORS.inc()
            log.error("stockloop.rules: keeping the previous rules: %s", error)

    def evaluate(self, state: MaterialState, now: datetime) -> list[Alert]:
        """Alerts of the warehouses the last apply or replan touched."""
        actions = [_action(stored) for stored in alert_actions_table.values()]
        silences = [a for a in actions if isinstance(a, Silence)]
        acknowledgements = {a.alert_key: a for a in actions if isinstance(a, Acknowledge)}
        return evaluate_alerts(
            state, self.rules, now, silences, acknowledgements, state.touched_warehouses
        )


async def publish(alerts: list[Alert]) -> None:
    """Send alert transitions keyed by alert key (one partition per alert: ordered)."""
    for alert in alerts:
        await alerts_topic.send(key=alert.key.encode(), value=encode(alert))
        ALERTS.labels(alert.rule_id, alert.status, alert.severity or "none").inc()


async def tick_partition(partition: int, at: datetime, context: AlertContext) -> None:
    """Bring every material of ``partition`` to event time ``at`` and evaluate its rules.

    Planning is by the day, so most ticks change nothing: a material is written
    only when its state changed, which keeps quiet materials out of the changelog.
    """
    for key, stored in list(materials_table.items()):
        key_bytes = key if isinstance(key, bytes) else key.encode()
        if partitioner(key_bytes, PARTITIONS, PARTITIONS) != partition:
            continue
        state = MaterialState.model_validate_json(stored)
        now = max(at, state.last_event_time) if state.last_event_time else at
        state.replan(now, app_settings.planning, promotions_for(state))
        alerts = context.evaluate(state, now)
        ticked = _stored(state)
        if ticked == stored:
            TICKED_MATERIALS.labels("unchanged").inc()
        else:
            materials_table[state.material_id] = ticked
            TICKED_MATERIALS.labels("changed").inc()
        await publish(alerts)


@app.agent(material_events_topic)
async def apply_material_events(stream: faust.StreamT[bytes]) -> None:
    """Apply each event to its material's state; a duplicate leaves the state untouched."""
    context = AlertContext()
    ticked_day: dict[int, date] = {}
    async for record in stream.events():
        started = time.perf_counter()
        message = record.message
        item = MaterialStreamRecord.validate_json(message.value)
        context.refresh()
        if isinstance(item, Tick):
            await tick_partition(message.partition, item.at, context)
            PROCESSING_SECONDS.labels("tick").observe(time.perf_counter() - started)
            continue
        source = item.source or SourcePosition(
            topic=message.topic, partition=message.partition, offset=message.offset
        )
        try:
            outcome = await apply_event(item, context)
        except Exception as error:  # a bug must not lose the event: dead-letter it, go on
            log.exception("cannot apply event %s", item.event.event_id)
            reason = f"internal error applying the event: {type(error).__name__}: {error}"
            await dead_letter(source, reason.replace("\n", " "), message.key, message.value)
            EVENTS.labels(source.topic, "dead_lettered").inc()
            continue
        EVENTS.labels(source.topic, outcome.value).inc()
        PROCESSING_SECONDS.labels("material").observe(time.perf_counter() - started)
        if outcome is not Outcome.APPLIED:
            continue
        if message.timestamp:
            END_TO_END_SECONDS.observe(max(time.time() - message.timestamp, 0.0))
        if app_settings.clock == "data":
            day = item.event.event_time.date()
            if day > ticked_day.setdefault(message.partition, day):
                ticked_day[message.partition] = day
                await tick_partition(message.partition, item.event.event_time, context)


async def apply_event(item: MaterialEvent, context: AlertContext) -> Outcome:
    """Apply one event, evaluate the rules, store the state and publish its alerts."""
    state = load_state(item.event.material_id)
    late_before = state.late_demand_events
    outcome = state.apply(item, app_settings.planning, promotions_for(state))
    LATE_DEMAND.inc(state.late_demand_events - late_before)
    if outcome is Outcome.APPLIED:
        alerts = context.evaluate(state, state.last_event_time)
        store_state(state)
        await publish(alerts)
    return outcome


@app.timer(interval=app_settings.tick_interval_s, on_leader=True)
async def send_ticks() -> None:
    """Live mode: tick every partition with the wall clock, so rules fire without input."""
    if app_settings.clock != "wall":
        return
    tick = encode(Tick(at=datetime.now(UTC)))
    for partition in PARTITIONS:
        await material_events_topic.send(key=b"tick", value=tick, partition=partition)
