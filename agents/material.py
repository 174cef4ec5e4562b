"""Material agent: one ordered stream per material, folded into the materials table.

Events are received into their material's state and applied in event-time
order once every input has passed their time (``models.step``,
``models.watermark``); alert transitions go to ``stockloop.alerts``, purchase
request transitions to ``stockloop.purchase-requests``, transfers between its
warehouses to ``stockloop.transfers``, dead-stock reviews to
``stockloop.reviews``. Ingest's
watermark reports move time on; a new day, or a live tick, brings every
material of the partition along, so time-based rules fire without input.
"""

import logging
import time as time_module
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import faust
from aiokafka.partitioner import DefaultPartitioner
from pydantic import BaseModel

from agents.dead_letters import dead_letter
from models.alerting import apply_action
from models.alerts import ALERT_ACTIONS, Acknowledge, AlertActionNotice, Silence
from models.availability import availability_of
from models.events import MaterialEvent, PromotionEvent, SourcePosition, Tick, Watermark, encode
from models.expedite import ExpediteNotice
from models.purchasing import RequestActionNotice
from models.reviews import ReviewActionNotice
from models.rules.spec import RuleFile, RuleSpecError, builtin_rules, load_rules
from models.state import MaterialState, Outcome, Outgoing
from models.step import (
    Received,
    StepContext,
    StepResult,
    advance,
    decide_request,
    decide_review,
    expedite_request,
    receive,
    too_old_reason,
)
from models.stream import MaterialStreamRecord
from models.watermark import PartitionClock, input_position
from streams.app import (
    alert_actions_table,
    alerts_topic,
    app,
    availability_topic,
    catalogue,
    category_promotions_table,
    material_events_topic,
    materials_table,
    purchase_requests_topic,
    reviews_topic,
    rules_table,
    transfers_topic,
)
from streams.app import settings as app_settings
from streams.applied_events import TableAppliedEvents, prune
from streams.catalogue import (
    ALERTS,
    AVAILABILITY,
    INPUT_TOPICS,
    PURCHASE_REQUESTS,
    REVIEWS,
    TRANSFERS,
)
from streams.material_states import MaterialStates
from streams.metrics import ALERTS as ALERTS_PUBLISHED
from streams.metrics import (
    END_TO_END_SECONDS,
    EVENTS,
    LATE_DEMAND,
    PENDING_MATERIALS,
    PROCESSING_SECONDS,
    RESENT_OUTPUTS,
    RULE_ERRORS,
    TICKED_MATERIALS,
    WATERMARK_SECONDS,
)
from streams.metrics import PURCHASE_REQUESTS as PURCHASE_REQUESTS_PUBLISHED
from streams.metrics import REVIEWS as REVIEWS_PUBLISHED
from streams.metrics import TRANSFERS as TRANSFERS_PUBLISHED
from streams.policies import current_policies

log = logging.getLogger(__name__)
partitioner = DefaultPartitioner()
PARTITIONS = list(range(app.conf.topic_partitions))
EXPECTED_INPUTS = [
    input_position(app_settings.topic(name), partition)
    for name in INPUT_TOPICS
    for partition in range(catalogue[name].partitions)
]
"""Every input partition a material partition waits for (all of them may hold its events)."""
PRUNE_EVERY = timedelta(days=7)
applied_events = TableAppliedEvents()
states = MaterialStates()
_output_topics = {
    ALERTS: alerts_topic,
    AVAILABILITY: availability_topic,
    PURCHASE_REQUESTS: purchase_requests_topic,
    REVIEWS: reviews_topic,
    TRANSFERS: transfers_topic,
}


def load_state(material_id: str) -> MaterialState:
    """The stored state of a material, or a fresh one for a material not seen before."""
    return states.get_or_new(material_id)


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
    """Rules, response policies, silences, acknowledgements and promotions as the global
    tables hold them now.

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

    def step_context(self) -> StepContext:
        """What the pure step reads, as of now."""
        actions = [_action(stored) for stored in alert_actions_table.values()]
        promotions: dict[str, list[PromotionEvent]] = {}
        for stored in category_promotions_table.values():
            event = _promotion(stored)
            if event.category is not None:
                promotions.setdefault(event.category, []).append(event)
        policies = current_policies()
        return StepContext(
            rules=self.rules,
            planning=app_settings.planning,
            approval=policies.approval,
            lanes=policies.lanes,
            reviews=policies.reviews,
            category_promotions=promotions,
            silences=[a for a in actions if isinstance(a, Silence)],
            acknowledgements={a.alert_key: a for a in actions if isinstance(a, Acknowledge)},
        )


class LazyContext:
    """The step context, read from the global tables only if a record needs it.

    Most records of a backlog only go into pending; reading every alert
    action and promotion for each of them was measurable.
    """

    def __init__(self, alert_context: AlertContext) -> None:
        self._alert_context = alert_context
        self._context: StepContext | None = None

    def get(self) -> StepContext:
        if self._context is None:
            self._context = self._alert_context.step_context()
        return self._context


def _outputs(result: StepResult, state: MaterialState, offset: int) -> list[Outgoing]:
    """A step's output records: alert transitions by alert key, the rest by their own ids.

    A step that applied events also publishes the material's availability,
    which other materials' shortage analyses read (``models.availability``).
    """
    records: list[tuple[str, str, BaseModel]] = []
    if result.applied:
        records.append((AVAILABILITY, state.material_id, availability_of(state)))
    records += [(ALERTS, alert.key, alert) for alert in result.alerts]
    records += [(TRANSFERS, t.transfer_id, t) for t in result.transfers]
    records += [(PURCHASE_REQUESTS, r.request_id, r) for r in result.requests]
    records += [(REVIEWS, r.review_id, r) for r in result.reviews]
    return [
        Outgoing(offset=offset, topic=topic, key=key, value=encode(value).decode())
        for topic, key, value in records
    ]


async def settle(state: MaterialState, result: StepResult, cause: faust.types.Message) -> bool:
    """Store a stepped state with its outputs in its outbox, then send them; whether it changed.

    Outputs whose cause is committed are dropped from the outbox first:
    Faust flushes every send before it commits (``models.state.Outgoing``).
    """
    committed = app.consumer._committed_offset.get(cause.tp)
    outgoing = _outputs(result, state, cause.offset)
    kept = [o for o in state.outbox if committed is None or o.offset >= committed]
    if outgoing or len(kept) != len(state.outbox):
        state.outbox = kept + outgoing
    changed = states.store(state)
    for envelope in result.applied:
        topic = envelope.source.topic if envelope.source else "unknown"
        EVENTS.labels(topic, Outcome.APPLIED.value).inc()
    for alert in result.alerts:
        ALERTS_PUBLISHED.labels(alert.rule_id, alert.status, alert.severity or "none").inc()
    for transfer in result.transfers:
        TRANSFERS_PUBLISHED.labels(transfer.status).inc()
    for request in result.requests:
        PURCHASE_REQUESTS_PUBLISHED.labels(request.status).inc()
    for review in result.reviews:
        REVIEWS_PUBLISHED.labels(review.status).inc()
    await _send(outgoing)
    return changed


async def resend_outbox(partition: int) -> None:
    """Send again what the partition's previous owner may not have delivered before it stopped."""
    for material_id in _materials_in(partition):
        state = states.get(material_id)
        if state is not None and state.outbox:
            await _send(state.outbox)
            RESENT_OUTPUTS.inc(len(state.outbox))


async def _send(outgoing: list[Outgoing]) -> None:
    for record in outgoing:
        await _output_topics[record.topic].send(
            key=record.key.encode(), value=record.value.encode()
        )


def _partition_of(material_id: str) -> int:
    return partitioner(material_id.encode(), PARTITIONS, PARTITIONS)


class PartitionTime:
    """Event time on one partition of material-events, and the materials still waiting for it.

    Kept in memory: after a restart the watermark reports come again within
    ``watermark_interval_s``, and the first advance scans every material, so
    events left pending in stored states are picked up.
    """

    def __init__(self) -> None:
        self.clock = PartitionClock(EXPECTED_INPUTS, timedelta(seconds=app_settings.lateness_s))
        self.waiting: set[str] = set()
        self.scanned_day: date | None = None
        self.pruned_on: date | None = None


async def advance_materials(
    partition: int,
    material_ids: list[str],
    to: datetime,
    context: StepContext,
    cause: faust.types.Message,
    evaluate_at_end: bool = False,
) -> set[str]:
    """Bring materials of ``partition`` to event time ``to``; those with events still waiting.

    Planning is by the day, so most advances of a quiet material change
    nothing: it is written only when its state changed, which keeps quiet
    materials out of the changelog.
    """
    waiting = set()
    for material_id in material_ids:
        state = states.get(material_id)
        if state is None:
            continue
        late_before = state.late_demand_events
        try:
            result = advance(state, to, context, evaluate_at_end)
        except BaseException:
            states.forget(material_id)
            raise
        LATE_DEMAND.inc(state.late_demand_events - late_before)
        changed = await settle(state, result, cause)
        TICKED_MATERIALS.labels("changed" if changed else "unchanged").inc()
        if state.pending:
            waiting.add(material_id)
    return waiting


def _newest_event(material_id: str, partition: int) -> datetime | None:
    """A material's newest event time, if it belongs to ``partition``."""
    if _partition_of(material_id) != partition:
        return None
    state = states.get(material_id)
    return state.last_event_time if state else None


def _materials_in(partition: int) -> list[str]:
    keys = (k.decode() if isinstance(k, bytes) else k for k in materials_table)
    return sorted(k for k in keys if _partition_of(k) == partition)


async def on_time(
    progress: PartitionTime,
    to: datetime,
    context: StepContext,
    cause: faust.types.Message,
    live: bool,
) -> None:
    """Event time moved on to ``to`` here: apply what waited for it, tick on a new day.

    A new day (or a live tick) brings every material of the partition to the
    new time, so time-based rules fire without input; otherwise only the
    materials with waiting events are advanced.
    """
    started = time_module.perf_counter()
    partition = cause.partition
    if live or progress.scanned_day is None or to.date() > progress.scanned_day:
        progress.scanned_day = max(to.date(), progress.scanned_day or to.date())
        progress.waiting = await advance_materials(
            partition, _materials_in(partition), to, context, cause, live
        )
        if progress.pruned_on is None or to.date() >= progress.pruned_on + PRUNE_EVERY:
            progress.pruned_on = to.date()
            horizon = timedelta(days=app_settings.planning.dedup_horizon_days)
            prune(horizon, lambda material_id: _newest_event(material_id, partition))
        PROCESSING_SECONDS.labels("tick").observe(time_module.perf_counter() - started)
    else:
        waiting, progress.waiting = sorted(progress.waiting), set()
        progress.waiting |= await advance_materials(partition, waiting, to, context, cause)
    PENDING_MATERIALS.labels(str(partition)).set(len(progress.waiting))


async def on_event(
    item: MaterialEvent,
    source: SourcePosition,
    message: faust.types.Message,
    progress: PartitionTime,
    context: LazyContext,
) -> None:
    """Receive one event into its material; apply it (and what waited) if time has passed it."""
    state = load_state(item.event.material_id)
    received = receive(state, item, applied_events, app_settings.planning)
    if received is Received.DUPLICATE:
        EVENTS.labels(source.topic, Outcome.DUPLICATE.value).inc()
        return
    if received is Received.TOO_OLD:
        reason = too_old_reason(state, item, app_settings.planning)
        await dead_letter(source, reason, message.key, message.value)
        EVENTS.labels(source.topic, "dead_lettered").inc()
        await settle(state, StepResult(), message)
        return
    to = progress.clock.applicable()
    result = StepResult()
    if to is not None and item.event.event_time <= to:
        late_before = state.late_demand_events
        result = advance(state, to, context.get())
        LATE_DEMAND.inc(state.late_demand_events - late_before)
    if state.pending:
        progress.waiting.add(state.material_id)
    await settle(state, result, message)
    if message.timestamp and any(e is item for e in result.applied):
        END_TO_END_SECONDS.observe(max(time_module.time() - message.timestamp, 0.0))


async def on_action(
    notice: AlertActionNotice, context: StepContext, cause: faust.types.Message
) -> None:
    """Apply an acknowledgement or silence at once, to its material or every one of the partition.

    The action is taken from the notice, not the mirrored table, which may
    not hold it yet; acting never moves a material's time.
    """
    material_ids = [notice.material_id] if notice.material_id else _materials_in(cause.partition)
    for material_id in material_ids:
        state = states.get(material_id)
        if state is None:
            continue
        try:
            alerts = apply_action(
                state,
                notice.action,
                context.rules,
                context.silences,
                context.acknowledgements,
                pricing=context.planning.priority,
            )
        except BaseException:
            states.forget(material_id)
            raise
        await settle(state, StepResult(alerts=alerts), cause)


async def on_expedite(
    notice: ExpediteNotice, context: StepContext, cause: faust.types.Message
) -> None:
    """A production order lacks this part: raise an expedited request at once."""
    state = states.get(notice.material_id) or MaterialState(material_id=notice.material_id)
    try:
        result = expedite_request(state, notice, context)
    except BaseException:
        states.forget(state.material_id)
        raise
    await settle(state, result, cause)


async def on_decision(
    notice: RequestActionNotice | ReviewActionNotice, message: faust.types.Message
) -> None:
    """Apply a decision on a request or review at once, or dead-letter it with the reason."""
    action = notice.action
    state = states.get(action.material_id)
    try:
        if state is None:
            raise ValueError(f"material_id={action.material_id}: no such material here")
        if isinstance(notice, RequestActionNotice):
            result = decide_request(state, notice.action)
        else:
            result = decide_review(state, notice.action)
    except ValueError as error:
        if state is not None:
            states.forget(state.material_id)
        source = SourcePosition(
            topic=message.topic, partition=message.partition, offset=message.offset
        )
        await dead_letter(source, str(error), message.key, message.value)
        return
    await settle(state, result, message)


@app.agent(material_events_topic)
async def apply_material_events(stream: faust.StreamT[bytes]) -> None:
    """Receive events into their materials' states and apply them in event-time order.

    Ingest's watermark reports say how far every input has come; ticks (live
    mode) carry the wall clock, held back to the watermark while inputs are
    behind, so a backlog is replayed in event time, repeats included.
    """
    alert_context = AlertContext()
    partitions: dict[int, PartitionTime] = {}
    async for record in stream.events():
        started = time_module.perf_counter()
        message = record.message
        item = MaterialStreamRecord.validate_json(message.value)
        progress = partitions.get(message.partition)
        if progress is None:
            progress = partitions[message.partition] = PartitionTime()
            await resend_outbox(message.partition)
        alert_context.refresh()
        context = LazyContext(alert_context)
        match item:
            case Watermark():
                if progress.clock.update(item):
                    WATERMARK_SECONDS.labels(str(message.partition)).set(
                        progress.clock.value.timestamp()
                    )
                    if (to := progress.clock.applicable()) is not None:
                        await on_time(progress, to, context.get(), message, live=False)
            case Tick():
                if (to := progress.clock.applicable()) is not None:
                    # Inputs still behind (a backlog): the wall clock waits for event time.
                    now = max(item.at, to) if progress.clock.caught_up else to
                    await on_time(progress, now, context.get(), message, live=True)
            case AlertActionNotice():
                await on_action(item, context.get(), message)
            case RequestActionNotice() | ReviewActionNotice():
                await on_decision(item, message)
            case ExpediteNotice():
                await on_expedite(item, context.get(), message)
            case MaterialEvent():
                source = item.source or SourcePosition(
                    topic=message.topic, partition=message.partition, offset=message.offset
                )
                try:
                    await on_event(item, source, message, progress, context)
                except Exception as error:  # a bug must not lose the event: dead-letter it
                    states.forget(item.event.material_id)
                    log.exception("cannot apply event %s", item.event.event_id)
                    reason = f"internal error applying the event: {type(error).__name__}: {error}"
                    await dead_letter(source, reason.replace("\n", " "), message.key, message.value)
                    EVENTS.labels(source.topic, "dead_lettered").inc()
                    continue
                PROCESSING_SECONDS.labels("material").observe(time_module.perf_counter() - started)


@app.timer(interval=app_settings.tick_interval_s, on_leader=True)
async def send_ticks() -> None:
    """Live mode: tick every partition with the wall clock, so rules fire without input."""
    if app_settings.clock != "wall":
        return
    tick = encode(Tick(at=datetime.now(UTC)))
    for partition in PARTITIONS:
        await material_events_topic.send(key=b"tick", value=tick, partition=partition)
