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

import asyncio
import logging
import time as time_module
import weakref
from bisect import insort
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Protocol

import faust
from aiokafka.partitioner import DefaultPartitioner
from faust.streams import _current_event
from faust.types import TP, EventT, FutureMessage
from pydantic import BaseModel

from agents.dead_letters import dead_letter
from models.alerting import apply_action
from models.alerts import ALERT_ACTIONS, Acknowledge, AlertActionNotice, Silence
from models.availability import availability_of
from models.day_change import quiet_until
from models.events import MaterialEvent, PromotionEvent, SourcePosition, Tick, Watermark, encode
from models.expedite import ExpediteNotice
from models.forecast_tally import scaled_errors, tally
from models.purchasing import RequestActionNotice
from models.reviews import ReviewActionNotice
from models.rules.spec import RuleFile, RuleSpecError, builtin_rules, load_rules
from models.state import MaterialState, Outcome, Outgoing, still_outgoing
from models.step import (
    Received,
    StepContext,
    StepResult,
    advance,
    decide_request,
    decide_review,
    decide_transfer,
    expedite_request,
    receive,
    too_old_reason,
)
from models.stream import MaterialStreamRecord
from models.transfers import TransferActionNotice
from models.watermark import PartitionClock, WaitingMaterials, input_position
from streams.app import (
    alert_actions_table,
    alerts_topic,
    app,
    applied_events_table,
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
from streams.commit_flush import FlushOnCommit
from streams.loop_share import SLICE_S, give_way
from streams.material_states import MaterialStates
from streams.metrics import ALERTS as ALERTS_PUBLISHED
from streams.metrics import (
    END_TO_END_SECONDS,
    EVENTS,
    FORECAST_ERROR,
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
from streams.table_derived import Derived

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
app.sensors.add(FlushOnCommit(states.flush))
_output_topics = {
    ALERTS: alerts_topic,
    AVAILABILITY: availability_topic,
    PURCHASE_REQUESTS: purchase_requests_topic,
    REVIEWS: reviews_topic,
    TRANSFERS: transfers_topic,
}
LATEST_ONLY = {AVAILABILITY}
"""Output topics on which a record replaces the previous one of its key (compacted state)."""
OUTBOX_MAX_BYTES = 256 * 1024
"""A step whose outputs are larger is delivered before its state is stored, not kept in the
outbox: a tick across months of midnights (a history far behind the wall clock) gave one
material 533 outputs, a state of 1 MB, and the worker crashed on the largest record Kafka takes."""


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


ActionsAndPromotions = tuple[list[Silence], dict[str, Acknowledge], dict[str, list[PromotionEvent]]]


def _actions_and_promotions() -> ActionsAndPromotions:
    """The silences, the acknowledgements by alert key and the category promotions in force."""
    actions = [_action(stored) for stored in alert_actions_table.values()]
    promotions: dict[str, list[PromotionEvent]] = {}
    for stored in category_promotions_table.values():
        event = _promotion(stored)
        if event.category is not None:
            promotions.setdefault(event.category, []).append(event)
    return (
        [a for a in actions if isinstance(a, Silence)],
        {a.alert_key: a for a in actions if isinstance(a, Acknowledge)},
        promotions,
    )


class AlertContext:
    """Rules, response policies, silences, acknowledgements and promotions as the global
    tables hold them now.

    A rule file that fails validation (it should not: ``stockloop rules apply``
    validates first) is reported and the last good one stays in force.
    """

    def __init__(self) -> None:
        self.rules = builtin_rules()
        self._actions = Derived(
            _actions_and_promotions, alert_actions_table, category_promotions_table
        )

    def refresh(self) -> None:
        try:
            self.rules = _rules(rules_table.get("active"))
        except RuleSpecError as error:
            RULE_ERRORS.inc()
            log.error("stockloop.rules: keeping the previous rules: %s", error)

    def step_context(self) -> StepContext:
        """What the pure step reads, as of now."""
        silences, acknowledgements, promotions = self._actions.current()
        policies = current_policies()
        return StepContext(
            rules=self.rules,
            planning=app_settings.planning,
            approval=policies.approval,
            lanes=policies.lanes,
            reviews=policies.reviews,
            category_promotions=promotions,
            silences=silences,
            acknowledgements=acknowledgements,
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


class Cause(Protocol):
    """The input record a step's outputs wait on: they stay in the outbox until it is committed."""

    @property
    def tp(self) -> TP: ...

    @property
    def offset(self) -> int: ...


@dataclass(frozen=True)
class TickCause:
    """The cause of a tick's outputs on a material reached after the tick's own record.

    The tick's record may be committed while the tick is still under way;
    outputs sent after that take the first offset not yet committed, so the
    outbox keeps them until a later commit, before which Faust flushes them.
    """

    tp: TP
    offset: int


class Acknowledgements:
    """Outputs the broker has acknowledged, per material, until its next step prunes its outbox.

    In memory only: a restarted worker sends a stored outbox again
    (``resend_outbox``), and those sends are acknowledged anew.
    """

    def __init__(self) -> None:
        self._by_material: dict[str, set[tuple[int, str, str, str]]] = {}

    def on_delivery(self, material_id: str, record: Outgoing) -> Callable[[FutureMessage], None]:
        """The send callback noting ``record`` as on its topic (Faust calls it on success only)."""
        identity = record.identity

        def delivered(_: FutureMessage) -> None:
            self._by_material.setdefault(material_id, set()).add(identity)

        return delivered

    def take(self, material_id: str) -> set[tuple[int, str, str, str]]:
        """What was acknowledged for the material since the last call."""
        return self._by_material.pop(material_id, set())


acknowledgements = Acknowledgements()


async def settle(state: MaterialState, result: StepResult, cause: Cause) -> bool:
    """Store a stepped state with its outputs in its outbox, then send them; whether it changed.

    Outputs the broker acknowledged, or whose cause is committed (Faust
    flushes every send before it commits), are dropped from the outbox first
    (``models.state.Outgoing``). Outputs over ``OUTBOX_MAX_BYTES`` are
    delivered first instead, and the state is stored without them.
    """
    committed = app.consumer._committed_offset.get(cause.tp)
    outgoing = _outputs(result, state, cause.offset)
    delivered_first = sum(len(record.value) for record in outgoing) > OUTBOX_MAX_BYTES
    if delivered_first:
        await _deliver(outgoing)
    kept = [] if delivered_first else outgoing
    outbox = still_outgoing(
        state.outbox,
        kept,
        committed,
        LATEST_ONLY,
        acknowledgements.take(state.material_id),
    )
    if kept or len(outbox) != len(state.outbox):
        state.outbox = outbox
    changed = states.store(state)
    ticks.index.add(state.material_id)
    ticks.quiet.pop(state.material_id, None)
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
    if not delivered_first:
        await _send(state.material_id, outgoing)
    return changed


async def resend_outbox(partition: int) -> None:
    """Send again what the partition's previous owner may not have delivered before it stopped."""
    for material_id in ticks.index.materials_in(partition):
        state = states.get(material_id)
        if state is not None and state.outbox:
            await _send(material_id, state.outbox)
            RESENT_OUTPUTS.inc(len(state.outbox))


async def _deliver(outgoing: list[Outgoing]) -> None:
    """Send and wait until the broker has every record: a crash before the state is stored
    then reads the input again and sends them again (consumers deduplicate by id)."""
    deliveries = [
        await _output_topics[record.topic].send(
            key=record.key.encode(), value=record.value.encode()
        )
        for record in outgoing
    ]
    await asyncio.gather(*deliveries)


async def _send(material_id: str, outgoing: list[Outgoing]) -> None:
    for record in outgoing:
        await _output_topics[record.topic].send(
            key=record.key.encode(),
            value=record.value.encode(),
            callback=acknowledgements.on_delivery(material_id, record),
        )


def _partition_of(material_id: str) -> int:
    return partitioner(material_id.encode(), PARTITIONS, PARTITIONS)


class PartitionTime:
    """Event time on one partition of material-events, and the materials still waiting for it.

    Kept in memory: after a restart the watermark reports come again within
    ``watermark_interval_s``, and the first advance visits every material, so
    events left pending in stored states are picked up.
    """

    def __init__(self) -> None:
        self.clock = PartitionClock(EXPECTED_INPUTS, timedelta(seconds=app_settings.lateness_s))
        self.waiting = WaitingMaterials()
        self.scanned_day: date | None = None
        self.pruned_on: date | None = None


class MaterialIndex:
    """The material ids of each partition of the materials table, in id order.

    A tick visits the materials of its own partition only. Finding them by
    iterating the table and hashing every key made each partition's tick a
    pass over every partition the worker holds (standbys included). The
    index is built by one such pass after a rebalance, when the table holds
    what its changelog restored for the partitions now here, and grows as
    the material agent stores new materials: the agent is the only writer of
    its partitions, and a material is never deleted.
    """

    def __init__(self) -> None:
        self._by_partition: dict[int, list[str]] | None = None
        self._known: set[str] = set()

    def materials_in(self, partition: int) -> list[str]:
        """The materials of ``partition``, in id order: a copy, which a tick works through later."""
        by_partition = self._by_partition
        if by_partition is None:
            by_partition = self._by_partition = self._build()
        return list(by_partition.get(partition, ()))

    def add(self, material_id: str) -> None:
        """Note a material just stored (a new one joins its partition's list)."""
        if self._by_partition is not None and material_id not in self._known:
            self._known.add(material_id)
            insort(self._by_partition.setdefault(_partition_of(material_id), []), material_id)

    def invalidate(self) -> None:
        """Forget everything: the partitions here changed, the next use reads the table again."""
        self._by_partition = None
        self._known = set()

    def _build(self) -> dict[int, list[str]]:
        by_partition: dict[int, list[str]] = {}
        self._known = set()
        for key in materials_table:
            material_id = key.decode() if isinstance(key, bytes) else key
            self._known.add(material_id)
            by_partition.setdefault(_partition_of(material_id), []).append(material_id)
        for material_ids in by_partition.values():
            material_ids.sort()
        return by_partition


@dataclass
class TickJob:
    """One partition's tick, worked through in slices: the materials it has still to bring along.

    It keeps the step context of its own record, so a material reached late
    gets exactly what an uninterrupted tick would have given it, and the
    record itself: Faust writes a table only within an event of the
    partition it writes to.
    """

    event: EventT
    to: datetime
    context: StepContext
    live: bool
    order: list[str]
    left: set[str]
    busy_s: float
    """Time spent on it so far: what the tick cost, without the records served between slices."""
    position: int = 0
    dropped: bool = False
    generation: int = 0

    @property
    def tp(self) -> TP:
        return self.event.message.tp

    def superseded_by(self, later: "TickJob") -> bool:
        """Whether ``later`` does all this job would: both live on one partition, this not begun."""
        return self.live and later.live and self.tp == later.tp and self.position == 0


class Ticks:
    """The ticks under way on this worker, and the turn records and tick slices take in it.

    A tick over 10,000 materials held the event loop for 8 seconds: events,
    ``/health`` and ``/metrics`` all waited. Now a tick is a job worked
    through by a task of its own in slices of ``SLICE_S`` (a material takes
    about a millisecond), and between slices the loop serves everything
    else, records of the material agent included. Each slice and each
    record take ``turn``, so neither sees the other half done. Before a
    record touches a material that a tick under way has not reached yet,
    ``catch_up`` brings that material through the tick first: each material
    still sees the ticks and records of its partition in the partition's
    order, with each tick's own time and context, so its outputs are those
    of a tick that held everything up.

    A tick visits only the materials it can change: each visit notes until
    when its material stays quiet (``models.day_change.quiet_until``), and
    any other write of the material, a new step context or a rebalance
    forgets that.
    """

    def __init__(self) -> None:
        self.turn = asyncio.Lock()
        self.jobs: deque[TickJob] = deque()
        self.index = MaterialIndex()
        self.progress: dict[int, PartitionTime] = {}
        self.quiet: dict[str, tuple[datetime, datetime, int]] = {}
        """Material id -> (visited at, quiet until, context generation)."""
        self._context: StepContext | None = None
        self._generation = 0
        self._runner: asyncio.Future[None] | None = None

    def start(self, job: TickJob) -> None:
        """Queue a tick; the runner works through the queue oldest first.

        A live tick replaces the live ticks of its partition that have not
        started yet: it brings every material to a later wall-clock time, so
        they would only repeat its work. While ticks take longer than the
        tick interval, the queue stays one round long instead of growing.
        """
        if job.context != self._context:
            # Other rules, silences, acknowledgements, promotions or policies: visit everything.
            self._context, self._generation = job.context, self._generation + 1
        job.generation = self._generation
        if job.live:
            self.jobs = deque(j for j in self.jobs if not j.superseded_by(job))
        self.jobs.append(job)
        if self._runner is None or self._runner.done():
            self._runner = app.add_future(self._run())

    async def catch_up(self, material_id: str, partition: int) -> None:
        """Bring a material through the ticks under way that have not reached it yet, in order."""
        for job in [j for j in self.jobs if j.tp.partition == partition]:
            if material_id in job.left:
                job.left.discard(material_id)
                if self._is_quiet(job, material_id):
                    TICKED_MATERIALS.labels("unchanged").inc()
                else:
                    await self._visit(job, material_id)

    def drop(self, partitions: set[int]) -> None:
        """The worker lost these partitions: stop their ticks; the next owner advances them all.

        Their event time goes too. Should they come back, they start as after
        a restart: time stands until every input has reported again, and the
        first advance visits every material. A clock kept from before still
        held what the previous owner of an input had said of it (read to its
        end, say) until the new owner's first report, and time could run
        past events that input had still to deliver.
        """
        for job in self.jobs:
            if job.tp.partition in partitions:
                job.dropped = True
        self.jobs = deque(job for job in self.jobs if not job.dropped)
        for partition in partitions:
            self.progress.pop(partition, None)
        self.index.invalidate()
        self.quiet.clear()

    async def _run(self) -> None:
        """Work through the queue, a slice at a time, sharing the loop with the records.

        Between two slices everything else that is ready runs first, for up
        to as long as the slice took (``give_way``). Yielding one round of
        the loop was not enough: Faust hands a record to the agent through a
        dozen rounds, each of which waited for a slice, so during ticks the
        agent received one record every 150-250 ms. A worker that is
        stopping leaves its ticks: its producer may already be stopped, and
        the partition's next owner ticks every material again.
        """
        while self.jobs and not app.should_stop:
            async with self.turn:
                job = self.jobs[0]
                # This task's own context: the table writes go to the tick's partition.
                _current_event.set(weakref.ref(job.event))
                took = await self._slice(job)
            await give_way(took)

    async def _slice(self, job: TickJob) -> float:
        """Work on ``job`` for up to ``SLICE_S``; the seconds it took."""
        started = time_module.perf_counter()
        deadline = started + SLICE_S
        skipped = 0
        while (
            not job.dropped
            and job.position < len(job.order)
            and time_module.perf_counter() < deadline
        ):
            material_id = job.order[job.position]
            job.position += 1
            if material_id not in job.left:
                continue
            job.left.discard(material_id)
            if self._is_quiet(job, material_id):
                skipped += 1
            else:
                await self._visit(job, material_id)
        TICKED_MATERIALS.labels("unchanged").inc(skipped)
        took = time_module.perf_counter() - started
        job.busy_s += took
        if not job.dropped and job.position >= len(job.order):
            self.jobs.popleft()
            PROCESSING_SECONDS.labels("tick").observe(job.busy_s)
            if (progress := self.progress.get(job.tp.partition)) is not None:
                PENDING_MATERIALS.labels(str(job.tp.partition)).set(len(progress.waiting))
        return took

    def _is_quiet(self, job: TickJob, material_id: str) -> bool:
        """Whether the tick cannot change the material: its last visit said so, nothing since."""
        quiet = self.quiet.get(material_id)
        return quiet is not None and quiet[2] == job.generation and quiet[0] <= job.to < quiet[1]

    async def _visit(self, job: TickJob, material_id: str) -> None:
        """Bring one material to the tick's time.

        A failure is logged and the material waits, due at the tick's time:
        the next watermark report retries it, so a tick that fails near the
        end of the input does not leave events unapplied for good.
        """
        state = states.get(material_id)
        if state is None:
            return
        progress = self.progress.get(job.tp.partition)
        committed = app.consumer._committed_offset.get(job.tp)
        offset = job.event.message.offset
        cause = TickCause(job.tp, max(offset, committed or offset))
        try:
            result = advance_counted(state, job.to, job.context, job.live)
            changed = await settle(state, result, cause)
        except Exception:
            states.forget(material_id)
            self.quiet.pop(material_id, None)
            log.exception("cannot tick material %s to %s", material_id, job.to.isoformat())
            if progress is not None and not job.live:
                progress.waiting.retry(material_id, job.to)
            return
        TICKED_MATERIALS.labels("changed" if changed else "unchanged").inc()
        now = max(job.to, state.last_event_time or job.to)
        settled = job.live and not changed and result.is_empty
        until = quiet_until(state, now, job.context, settled)
        self.quiet[material_id] = (now, until, job.generation)
        if progress is not None:
            progress.waiting.note(state)


ticks = Ticks()


@app.on_partitions_revoked.connect
async def _drop_ticks(sender: faust.App, revoked: set[TP], **kwargs: object) -> None:
    """Ticks of partitions that go elsewhere stop; the index is read again once they are settled."""
    ticks.drop({tp.partition for tp in revoked})


@app.on_partitions_assigned.connect
async def _reindex(sender: faust.App, assigned: set[TP], **kwargs: object) -> None:
    """New partitions here: their materials come from the changelog, read the table again."""
    ticks.index.invalidate()


async def release(
    progress: PartitionTime, partition: int, to: datetime, context: StepContext, cause: Cause
) -> None:
    """Bring the waiting materials of ``partition`` that ``to`` has passed to event time ``to``.

    A tick under way reaches each of them first. Each is noted as it goes
    (waiting still, or no more), so a failure part way leaves the rest
    waiting for the next report instead of forgetting them.
    """
    for material_id in progress.waiting.due(to):
        await ticks.catch_up(material_id, partition)
        state = states.get(material_id)
        if state is None:
            progress.waiting.forget(material_id)
            continue
        try:
            result = advance_counted(state, to, context)
        except BaseException:
            states.forget(material_id)
            raise
        changed = await settle(state, result, cause)
        TICKED_MATERIALS.labels("changed" if changed else "unchanged").inc()
        progress.waiting.note(state)
    PENDING_MATERIALS.labels(str(partition)).set(len(progress.waiting))


def advance_counted(
    state: MaterialState, to: datetime, context: StepContext, live: bool = False
) -> StepResult:
    """``advance``, counting the late demand it met and the forecast errors of days it closed."""
    late_before, scored_before = state.late_demand_events, tally(state)
    result = advance(state, to, context, live)
    LATE_DEMAND.inc(state.late_demand_events - late_before)
    for error in scaled_errors(state, scored_before):
        FORECAST_ERROR.observe(error)
    return result


def _newest_event(material_id: str, partition: int) -> datetime | None:
    """A material's newest event time, if it belongs to ``partition``."""
    if _partition_of(material_id) != partition:
        return None
    state = states.get(material_id)
    return state.last_event_time if state else None


async def prune_partition(record: EventT, partition: int, horizon: timedelta) -> None:
    """Prune the partition's event ids in a task of its own, beside the records; the deletes go
    to the changelog partition of ``record``. A rebalance stops it."""
    _current_event.set(weakref.ref(record))
    generation = app.consumer_generation_id
    await prune(
        applied_events_table,
        horizon,
        lambda material_id: _newest_event(material_id, partition),
        lambda: app.consumer_generation_id == generation and not app.rebalancing,
    )


async def on_time(
    progress: PartitionTime, to: datetime, context: StepContext, record: EventT, live: bool
) -> None:
    """Event time moved on to ``to`` here: apply what waited for it, tick on a new day.

    A new day (or a live tick) starts a tick that brings every material of
    the partition to the new time, so time-based rules fire without input
    (``Ticks``); otherwise only the materials whose waiting events ``to``
    has passed are advanced, at once: an event released by a report is not
    kept behind the ticks.
    """
    started = time_module.perf_counter()
    cause = record.message
    partition = cause.partition
    if live or progress.scanned_day is None or to.date() > progress.scanned_day:
        progress.scanned_day = max(to.date(), progress.scanned_day or to.date())
        order = ticks.index.materials_in(partition)
        busy_s = time_module.perf_counter() - started
        ticks.start(TickJob(record, to, context, live, order, set(order), busy_s))
        if progress.pruned_on is None or to.date() >= progress.pruned_on + PRUNE_EVERY:
            progress.pruned_on = to.date()
            horizon = timedelta(days=app_settings.planning.dedup_horizon_days)
            app.add_future(prune_partition(record, partition, horizon))
    else:
        await release(progress, partition, to, context, cause)


async def on_event(
    item: MaterialEvent,
    source: SourcePosition,
    message: faust.types.Message,
    progress: PartitionTime,
    context: LazyContext,
) -> None:
    """Receive one event into its material; apply it (and what waited) if time has passed it."""
    await ticks.catch_up(item.event.material_id, message.partition)
    state = load_state(item.event.material_id)
    delivery = SourcePosition(
        topic=message.topic, partition=message.partition, offset=message.offset
    )
    received = receive(state, item, applied_events, app_settings.planning, delivery)
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
        result = advance_counted(state, to, context.get())
    progress.waiting.note(state)
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
    partition = cause.partition
    material_ids = (
        [notice.material_id] if notice.material_id else ticks.index.materials_in(partition)
    )
    for material_id in material_ids:
        await ticks.catch_up(material_id, partition)
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
    await ticks.catch_up(notice.material_id, cause.partition)
    state = states.get(notice.material_id) or MaterialState(material_id=notice.material_id)
    try:
        result = expedite_request(state, notice, context)
    except BaseException:
        states.forget(state.material_id)
        raise
    await settle(state, result, cause)


async def on_decision(
    notice: RequestActionNotice | TransferActionNotice | ReviewActionNotice,
    message: faust.types.Message,
) -> None:
    """Apply a decision on a request, transfer or review at once, or dead-letter it with why."""
    action = notice.action
    await ticks.catch_up(action.material_id, message.partition)
    state = states.get(action.material_id)
    try:
        if state is None:
            raise ValueError(f"material_id={action.material_id}: no such material here")
        if isinstance(notice, RequestActionNotice):
            result = decide_request(state, notice.action)
        elif isinstance(notice, TransferActionNotice):
            result = decide_transfer(state, notice.action)
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


async def on_record(record: EventT, alert_context: AlertContext) -> None:
    """One record of material-events: an event, time passing, or an action on a material."""
    started = time_module.perf_counter()
    message = record.message
    item = MaterialStreamRecord.validate_json(message.value)
    progress = ticks.progress.get(message.partition)
    if progress is None:
        progress = ticks.progress[message.partition] = PartitionTime()
        await resend_outbox(message.partition)
    alert_context.refresh()
    context = LazyContext(alert_context)
    match item:
        case Watermark():
            moved = progress.clock.update(item)
            if moved:
                WATERMARK_SECONDS.labels(str(message.partition)).set(
                    progress.clock.value.timestamp()
                )
            # Also when time stands: a tick that reached a material after the last release
            # leaves it waiting for a time already passed, and no report may move time again.
            to = progress.clock.applicable()
            if to is not None and (moved or progress.waiting.any_due(to)):
                await on_time(progress, to, context.get(), record, live=False)
        case Tick():
            if (to := progress.clock.applicable()) is not None:
                # Inputs still behind (a backlog): the wall clock waits for event time.
                now = max(item.at, to) if progress.clock.caught_up else to
                await on_time(progress, now, context.get(), record, live=True)
        case AlertActionNotice():
            await on_action(item, context.get(), message)
        case RequestActionNotice() | TransferActionNotice() | ReviewActionNotice():
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
                return
            PROCESSING_SECONDS.labels("material").observe(time_module.perf_counter() - started)


@app.agent(material_events_topic)
async def apply_material_events(stream: faust.StreamT[bytes]) -> None:
    """Receive events into their materials' states and apply them in event-time order.

    Ingest's watermark reports say how far every input has come; ticks (live
    mode) carry the wall clock, held back to the watermark while inputs are
    behind, so a backlog is replayed in event time, repeats included. Each
    record takes its turn between the slices of the ticks under way.
    """
    alert_context = AlertContext()
    async for record in stream.events():
        async with ticks.turn:
            await on_record(record, alert_context)


@app.timer(interval=app_settings.tick_interval_s, on_leader=True)
async def send_ticks() -> None:
    """Live mode: tick every partition with the wall clock, so rules fire without input."""
    if app_settings.clock != "wall":
        return
    tick = encode(Tick(at=datetime.now(UTC)))
    for partition in PARTITIONS:
        await material_events_topic.send(key=b"tick", value=tick, partition=partition)
