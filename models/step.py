"""One material's step: events in, applied in event-time order, and the alerts they cause.

Everything a material does goes through here, so the worker, the dry-run, the
benchmarks and a replay give the same outputs for the same events:

- ``receive`` takes an event into the material's ``pending`` list (or refuses
  it as a duplicate, exactly, by event id);
- ``advance`` applies pending events up to an event time that every input has
  passed (``models.watermark``), oldest first, and evaluates the rules after
  each event and at each midnight in between, then raises the purchase
  requests the plans call for (``models.replenishment``). What comes out
  depends on the events and their times only, not on the order in which
  topics were read.

An event that arrives after its time has been passed is still applied (stock
must move), at once; that is the one way arrival order can show, and the
demand model counts such demand as late.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Protocol

from models.alerting import Alert, evaluate_alerts
from models.alerts import Acknowledge, Silence
from models.approval import ApprovalPolicy, default_approval_policy
from models.events import (
    InTransitLine,
    MaterialEvent,
    PromotionEvent,
    SalesOrderLine,
    SourcePosition,
    StockMovement,
)
from models.expedite import ExpediteNotice
from models.planning import PlanningConfig, Promotion
from models.purchasing import PurchaseRequest, PurchaseRequestAction
from models.replenishment import act, act_on_transfer, expedite, move_stock, replenish, take_over
from models.reviewing import act_on_review, review
from models.reviews import Review, ReviewAction, ReviewPolicy, default_review_policy
from models.rules.spec import RuleFile
from models.state import DEFAULT_CONFIG, MaterialState
from models.transfers import Transfer, TransferAction, TransferLanes

_APPLY_FIRST = {"material": 0, "promotion": 1, "in_transit": 2, "order_line": 3, "movement": 4}
"""Events with the same time apply in this order: master data before what it plans, supply
before the demand it covers, so ties never depend on arrival."""

_STOCK_OR_DEMAND = (StockMovement, SalesOrderLine, InTransitLine)


class AppliedEvents(Protocol):
    """Event ids a material has received, for exact de-duplication beyond its own state.

    The worker keeps them in a table of their own (one small record per
    event), so a material's state does not grow with its history. Each id
    keeps the source position of the record that brought it: the id and the
    state are written to two changelogs, and a crash between the two writes
    must not make the record's own redelivery look like a re-send.
    """

    def received_from(self, material_id: str, event_id: str) -> str | None:
        """The source position the id came with ('' if none), None if never received."""
        ...

    def remember(
        self, material_id: str, event_id: str, event_time: datetime, source: str
    ) -> None: ...


class AppliedEventIds:
    """``AppliedEvents`` in memory: for replays, dry-runs, benchmarks and tests."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], str] = {}

    def received_from(self, material_id: str, event_id: str) -> str | None:
        return self._ids.get((material_id, event_id))

    def remember(self, material_id: str, event_id: str, event_time: datetime, source: str) -> None:
        self._ids[(material_id, event_id)] = source


class Received(StrEnum):
    """What receiving an event did."""

    PENDING = "pending"
    DUPLICATE = "duplicate"
    TOO_OLD = "too_old"


@dataclass(frozen=True)
class StepContext:
    """What a step reads besides the material: rules, planning, approval policy, alert actions."""

    rules: RuleFile
    planning: PlanningConfig = DEFAULT_CONFIG
    approval: ApprovalPolicy = field(default_factory=default_approval_policy)
    lanes: TransferLanes = field(default_factory=TransferLanes)
    reviews: ReviewPolicy = field(default_factory=default_review_policy)
    category_promotions: Mapping[str, Sequence[PromotionEvent]] = field(default_factory=dict)
    silences: Sequence[Silence] = ()
    acknowledgements: Mapping[str, Acknowledge] = field(default_factory=dict)

    def promotions_for(self, state: MaterialState, now: datetime) -> list[Promotion]:
        """Category-wide promotions of this material's category announced by event time ``now``.

        They reach every worker through a table, whenever ingest reads them;
        counting each only from its own event time keeps a backlog from
        knowing the future.
        """
        category = state.master.category if state.master else None
        announced = self.category_promotions.get(category, ()) if category else ()
        return [
            Promotion(
                promotion_id=event.promotion_id,
                starts_on=event.starts_on,
                ends_on=event.ends_on,
                uplift=event.uplift,
            )
            for event in announced
            if event.event_time <= now and not event.cancelled
        ]


@dataclass
class StepResult:
    """What a step did: the events it applied, and the transitions to publish."""

    applied: list[MaterialEvent] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    requests: list[PurchaseRequest] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """Nothing applied and nothing to publish."""
        return not (self.applied or self.alerts or self.transfers or self.requests or self.reviews)


def too_old_reason(state: MaterialState, envelope: MaterialEvent, config: PlanningConfig) -> str:
    """The one-line reason an event older than the de-duplication horizon is refused."""
    event = envelope.event
    return (
        f"event_time={event.event_time.isoformat()}: older than the de-duplication horizon "
        f"({config.dedup_horizon_days} days before {state.material_id}'s clock "
        f"{state.last_event_time.isoformat() if state.last_event_time else '-'}); "
        "a re-send could not be told from a new event"
    )


def receive(
    state: MaterialState,
    envelope: MaterialEvent,
    applied: AppliedEvents,
    config: PlanningConfig = DEFAULT_CONFIG,
    delivery: SourcePosition | None = None,
) -> Received:
    """Take an event into ``pending``, unless it was received before or is too old to tell.

    Two checks make a re-send a no-op: the source offset (a record read twice
    after a crash) and the event id, remembered for ``dedup_horizon_days`` of
    event time (an ERP or a CDC re-snapshot sending the same event again).
    The horizon counts back from the material's newest event, not from a
    tick: a live worker's wall-clock ticks must not make history loaded
    after them too old.
    """
    event = envelope.event
    if not state.accept(envelope, delivery):
        return Received.DUPLICATE
    source = _position(envelope.source or delivery)
    received_from = applied.received_from(state.material_id, event.event_id)
    # The same record again, which the state never took in: the id was written, then a crash.
    if received_from is not None and not (source and received_from == source):
        return Received.DUPLICATE
    horizon = timedelta(days=config.dedup_horizon_days)
    if (
        isinstance(event, _STOCK_OR_DEMAND)
        and state.last_event_time is not None
        and event.event_time < state.last_event_time - horizon
    ):
        return Received.TOO_OLD
    applied.remember(state.material_id, event.event_id, event.event_time, source)
    key = _order(envelope)
    index = len(state.pending)
    while index > 0 and _order(state.pending[index - 1]) > key:
        index -= 1
    state.pending.insert(index, envelope)
    return Received.PENDING


def advance(
    state: MaterialState, to: datetime, context: StepContext, evaluate_at_end: bool = False
) -> StepResult:
    """Apply pending events up to event time ``to``, oldest first, with a tick at each midnight.

    Rules are evaluated after the last event of each instant (for the
    warehouses its events touched) and at each midnight (for all), so
    time-based rules fire on quiet days too. Events of one instant are one
    change: evaluated after each, a shipment's order line applied before its
    issue freed stock for a moment, and the alert resolved and was raised
    again at the same time.
    ``evaluate_at_end``: also evaluate at ``to`` itself (a live tick: alert
    repeats fall due by the clock, not only at midnight).
    """
    result = StepResult()
    instant: dict[str, None] = {}
    while state.pending and state.pending[0].event.event_time <= to:
        envelope = state.pending.pop(0)
        event = envelope.event
        _midnights(state, event.event_time, context, result)
        if isinstance(event, InTransitLine):
            result.requests += take_over(state, event)
        if isinstance(event, StockMovement):
            result.transfers += move_stock(state, event)
        state.apply_event(event, context.planning, context.promotions_for(state, event.event_time))
        result.applied.append(envelope)
        instant.update(dict.fromkeys(state.touched_warehouses))
        if not (state.pending and state.pending[0].event.event_time == event.event_time):
            state.touch(instant)
            _evaluate(state, state.last_event_time or event.event_time, context, result)
            instant = {}
        _passed(state, event.event_time)
    _midnights(state, to, context, result)
    if evaluate_at_end and state.applied_through is not None:
        now = max(to, state.last_event_time or to)
        state.replan(now, context.planning, context.promotions_for(state, now))
        _evaluate(state, now, context, result)
    return result


def decide_review(state: MaterialState, action: ReviewAction) -> StepResult:
    """Apply an opinion or the decision on one of the material's reviews; never moves its time.

    Raises ``ValueError`` (one line) when the review is not open or the
    action does not fit it.
    """
    return StepResult(reviews=act_on_review(state, action))


def expedite_request(
    state: MaterialState, notice: ExpediteNotice, context: StepContext
) -> StepResult:
    """A production order lacks this part: an expedited purchase request for what is missing."""
    return StepResult(requests=expedite(state, notice, context.approval))


def decide_request(state: MaterialState, action: PurchaseRequestAction) -> StepResult:
    """Apply a person's decision on one of the material's requests; it never moves its time.

    Raises ``ValueError`` (one line) when the request is not open or the
    decision does not fit its status.
    """
    return StepResult(requests=act(state, action))


def decide_transfer(state: MaterialState, action: TransferAction) -> StepResult:
    """Apply a person's decision on one of the material's transfers; it never moves its time.

    Raises ``ValueError`` (one line) when the transfer is not open or the
    decision does not fit its status, as ``decide_request`` does.
    """
    return StepResult(transfers=act_on_transfer(state, action))


def _midnights(
    state: MaterialState, until: datetime, context: StepContext, result: StepResult
) -> None:
    """Replan and evaluate at each midnight after the material's clock, up to ``until``."""
    if state.applied_through is None:
        return
    day = state.applied_through.date() + timedelta(days=1)
    while day <= until.date():
        midnight = datetime.combine(day, time(), tzinfo=until.tzinfo)
        state.replan(midnight, context.planning, context.promotions_for(state, midnight))
        _evaluate(state, midnight, context, result)
        _passed(state, midnight)
        day += timedelta(days=1)


def _evaluate(
    state: MaterialState, now: datetime, context: StepContext, result: StepResult
) -> None:
    """Evaluate the rules for the warehouses just brought up to date, then what they call for:
    reviews of dead stock, transfers and purchases of missing stock."""
    alerts = evaluate_alerts(
        state,
        context.rules,
        now,
        context.silences,
        context.acknowledgements,
        state.touched_warehouses,
        pricing=context.planning.priority,
    )
    result.alerts += alerts
    result.reviews += review(state, alerts, now, context.reviews)
    replenished = replenish(state, now, context.approval, context.lanes, state.touched_warehouses)
    result.transfers += replenished.transfers
    result.requests += replenished.requests


def _passed(state: MaterialState, at: datetime) -> None:
    """Note an event or a midnight as done; a mere advance within a day writes nothing."""
    if state.applied_through is None or at > state.applied_through:
        state.applied_through = at


def _position(source: SourcePosition | None) -> str:
    return f"{source.topic}:{source.partition}:{source.offset}" if source else ""


def _order(envelope: MaterialEvent) -> tuple[datetime, int, str]:
    event = envelope.event
    return (event.event_time, _APPLY_FIRST[event.kind], event.event_id)


def replay(
    events: Iterable[MaterialEvent], context: StepContext, states: dict[str, MaterialState]
) -> list[Alert]:
    """Receive and apply a whole history in memory, as a worker whose inputs are all read.

    The reference for order-independence: any interleaving of the same events
    gives the same states and alerts.
    """
    applied = AppliedEventIds()
    newest: datetime | None = None
    for envelope in events:
        material_id = envelope.event.material_id
        state = states.setdefault(material_id, MaterialState(material_id=material_id))
        receive(state, envelope, applied, context.planning)
        at = envelope.event.event_time
        newest = at if newest is None or at > newest else newest
    alerts: list[Alert] = []
    for material_id in sorted(states):
        if newest is not None:
            alerts += advance(states[material_id], newest, context).alerts
    return alerts
