"""Alerting for one material: facts → rules → alert lifecycle → alert events.

The output event (``Alert``, on ``stockloop.alerts``) explains itself: the
rule's condition and the numbers it read, the policy behind them (forecast,
σ, lead time, z, safety stock, reorder point, cover, projected stock-out),
and the value at risk in money that ranks it among other alerts, with what
it is made of (``models.priority``).

The value at risk is recomputed at every evaluation, not only when an alert
changes state: it joins the numbers the rule read as ``value_at_risk``, and
every rule's ``update_on`` includes it, so the lifecycle publishes an
``updated`` (reason ``values``) when it rises by more than the priority
settings' ``update_threshold`` above its baseline: the value last published,
or the lowest since then. A fall is not news (stock being used up shrinks an
overstock's value every day): the baseline follows it down unannounced, and
the alert's next transition carries the lower value. So the value at risk
is no new source of noise, and a large order on an open alert is heard.

Three entry points drive the one lifecycle: ``evaluate_alerts`` (an event or
a tick), ``apply_action`` (an acknowledgement, silence or expiry, at once) and
``preview_alerts`` (the rules dry-run, on a copy).
"""

import math
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from models.alerts import (
    Acknowledge,
    ActionOutcome,
    AlertBook,
    AlertSettings,
    AlertTransition,
    Expire,
    OpenAlert,
    Silence,
    TransitionReason,
    TransitionStatus,
    alert_key,
    values_changed,
)
from models.events import SCHEMA_VERSION
from models.facts import inventory_position, scope_of, warehouse_facts
from models.planning import PolicySnapshot
from models.priority import (
    DEFAULT_PRIORITY,
    Priority,
    PriorityConfig,
    RiskKind,
    priority_of,
    risk_kind,
)
from models.rules.evaluate import RuleOutcome, evaluate_all
from models.rules.spec import RuleAlertSettings, RuleFile
from models.state import MaterialState, WarehouseStock

VALUE_AT_RISK = "value_at_risk"
"""The name of the value at risk among an alert's published numbers."""

SAFETY_STOCK_FORMULA = (
    "SS = z * sqrt(sigma_LTD^2 + d^2 * sigma_LT^2), sigma_LTD = sigma of forecast errors "
    "over LT; ROP = d * LT + SS"
)


class Explanation(BaseModel):
    """Why an alert fired: the condition, its numbers, and the policy numbers behind them."""

    text: str = Field(description="One line for a person.")
    condition: str
    values: dict[str, float | None]
    params: dict[str, float]
    formula: str = SAFETY_STOCK_FORMULA
    forecast_daily: float | None = None
    sigma_daily_demand: float | None = None
    sigma_lead_time_demand: float | None = None
    demand_class: str | None = None
    lead_time_days: float | None = None
    sigma_lead_time_days: float | None = None
    service_level: float | None = None
    z: float | None = None
    safety_stock: float | None = None
    reorder_point: float | None = None
    days_of_cover: float | None = None
    projected_stockout_date: date | None = None
    open_order_value: float = Field(description="Value of open confirmed orders in the warehouse.")


class Alert(BaseModel):
    """One alert transition on ``stockloop.alerts``: raised, updated, repeated or resolved.

    ``id`` is the idempotency key (alert id and sequence): unique to one
    transition, and the same when the same input is replayed, so a consumer
    that sees an id twice after a restart or a replay can drop the second.

    The latest record per ``key`` is the alert's state as the worker holds it
    (``GET /materials/{id}``): ``status`` other than ``resolved`` means open;
    ``silenced`` / ``inhibited`` say whether it is suppressed, and
    ``acknowledged_by`` who acknowledged it. Changes of those are published
    too, as ``updated`` with reason ``silenced`` or ``inhibited`` (a
    suppression began; the flags say which hold now), ``acknowledged``, or
    ``unsuppressed`` (the suppression of an acknowledged alert ended; an
    unacknowledged one comes back as ``repeated`` / ``unsuppressed``).
    ``notify`` says whether to tell people: false for suppressed alerts and
    for those bookkeeping updates. Schema version 1: the reasons above were
    added to the enumeration without changing a field.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = SCHEMA_VERSION
    id: str
    alert_id: str
    key: str
    sequence: int
    rule_id: str
    status: TransitionStatus
    reason: TransitionReason
    severity: str | None
    previous_severity: str | None
    material_id: str
    warehouse_id: str
    at: datetime
    raised_at: datetime
    updated_at: datetime
    labels: dict[str, str]
    priority: Priority
    explanation: Explanation
    silenced: bool
    inhibited: bool
    acknowledged_by: str | None
    notify: bool


def evaluate_alerts(
    state: MaterialState,
    rules: RuleFile,
    now: datetime,
    silences: Iterable[Silence] = (),
    acknowledgements: Mapping[str, Acknowledge] | None = None,
    warehouses: Collection[str] | None = None,
    pricing: PriorityConfig = DEFAULT_PRIORITY,
) -> list[Alert]:
    """Evaluate every rule for the warehouses of ``state`` at event time ``now``.

    ``warehouses`` limits evaluation to stocks that changed (None: all). The
    material's alert book is updated in place; the returned alerts are the
    transitions to publish. ``pricing`` prices the value at risk (the
    settings' ``planning.priority``).
    """
    book = state.alerts
    acknowledgements = acknowledgements or {}
    acknowledged = {
        book.alerts[key].warehouse_id
        for key in book.alerts.keys() & acknowledgements.keys()
        if book.apply(acknowledgements[key]) is ActionOutcome.APPLIED
    }
    if warehouses is not None and acknowledged:
        # An acknowledgement is published by the step of its alert's warehouse.
        warehouses = [*warehouses, *(acknowledged - set(warehouses))]
    silences = tuple(silences)
    settings = _WatchingValueAtRisk(rules.alert_settings())
    alerts: list[Alert] = []
    transitions = book.retire_rules([rule.id for rule in rules.enabled_rules], now)
    for warehouse_id in state.warehouses if warehouses is None else warehouses:
        stock = state.warehouses[warehouse_id]
        facts = warehouse_facts(state, stock, now)
        scope = scope_of(state, warehouse_id)
        priced = _Pricing(stock, facts, now, pricing)
        outcomes = []
        for outcome in evaluate_all(rules, facts, scope):
            # Only a firing rule or an open alert reads its numbers: price only those.
            alert = book.alerts.get(alert_key(state.material_id, warehouse_id, outcome.rule_id))
            if outcome.firing or alert is not None:
                outcome = _with_value_at_risk(outcome, alert, priced, pricing)
            outcomes.append(outcome)
        by_rule = {outcome.rule_id: outcome for outcome in outcomes}
        for transition in book.step(outcomes, scope, now, settings, rules.inhibit, silences):
            outcome = by_rule.get(transition.rule_id)
            kind = risk_kind(transition.rule_id, transition.labels)
            alerts.append(_noted(book, _alert(transition, stock, priced.of(kind), outcome)))
    for transition in transitions:
        stock = state.warehouses.get(transition.warehouse_id)
        if stock is not None:
            priced = _Pricing(stock, warehouse_facts(state, stock, now), now, pricing)
            kind = risk_kind(transition.rule_id, transition.labels)
            alerts.append(_alert(transition, stock, priced.of(kind), None))
    return alerts


def _noted(book: AlertBook, alert: Alert) -> Alert:
    """The transition, its explanation and value-at-risk parts kept on the open alert it leaves.

    The dashboard's alert list and ``stockloop alerts open`` read them from
    the state, as the alerts topic's latest record of the key says them.
    """
    held = book.alerts.get(alert.key)
    if held is not None:
        held.why = alert.explanation.text
        held.made_of = alert.priority.made_of.model_dump(exclude_defaults=True)
    return alert


class _Pricing:
    """The value at risk of one stock at one evaluation, computed once per kind asked for."""

    def __init__(
        self,
        stock: WarehouseStock,
        facts: Mapping[str, float | None],
        now: datetime,
        config: PriorityConfig,
    ) -> None:
        self.stock, self.facts, self.now, self.config = stock, facts, now, config
        self._by_kind: dict[RiskKind, Priority] = {}

    def of(self, kind: RiskKind) -> Priority:
        """The priority of an alert that puts ``kind`` at risk."""
        priority = self._by_kind.get(kind)
        if priority is None:
            cover = self.facts.get("days_of_cover")
            priority = priority_of(self.stock, cover, self.now, kind, self.config)
            self._by_kind[kind] = priority
        return priority


class _WatchingValueAtRisk(Mapping[str, AlertSettings]):
    """Every rule's alert settings with ``value_at_risk`` among the numbers whose move is news.

    A view, not a copy: made at every evaluation, so it costs nothing until read.
    """

    def __init__(self, settings: Mapping[str, RuleAlertSettings]) -> None:
        self._settings = settings

    def __getitem__(self, rule_id: str) -> AlertSettings:
        return _Watching(self._settings[rule_id])

    def __iter__(self) -> Iterator[str]:
        return iter(self._settings)

    def __len__(self) -> int:
        return len(self._settings)


class _Watching:
    """One rule's alert settings, its ``update_on`` extended with ``value_at_risk``."""

    __slots__ = ("_settings", "update_on")

    def __init__(self, settings: RuleAlertSettings) -> None:
        self._settings = settings
        self.update_on = (*settings.update_on, VALUE_AT_RISK)

    def __getattr__(self, name: str) -> object:
        return getattr(self._settings, name)


def _with_value_at_risk(
    outcome: RuleOutcome, alert: OpenAlert | None, priced: _Pricing, config: PriorityConfig
) -> RuleOutcome:
    """The outcome with the value at risk among its numbers, as the lifecycle should see it.

    The lifecycle publishes a move of more than 10 % (``MATERIAL_CHANGE``)
    from the alert's stored value. Only a rise beyond ``update_threshold``
    is shown to it as it is; a smaller rise is shown as the baseline, and a
    fall lowers the stored baseline itself, so neither is news.
    """
    value = priced.of(risk_kind(outcome.rule_id, outcome.labels)).value_at_risk
    if alert is None:
        return outcome._replace(values={**outcome.values, VALUE_AT_RISK: value})
    baseline = alert.values.get(VALUE_AT_RISK)
    if not value_at_risk_moves(alert, value, config.update_threshold):
        value = alert.values[VALUE_AT_RISK]
    elif baseline is None or value < baseline:
        # A fall, or an alert raised before values at risk were published: no news,
        # today's value becomes the baseline (an upgrade does not re-notify every alert).
        alert.values[VALUE_AT_RISK] = value
    return outcome._replace(values={**outcome.values, VALUE_AT_RISK: value})


def value_at_risk_moves(alert: OpenAlert, value: float, threshold: float) -> bool:
    """Whether evaluating an open alert at ``value`` changes it: a fall or a first value
    becomes its baseline, a rise beyond ``threshold`` is news (``models.day_change`` asks
    this of the highest value an interval can reach)."""
    baseline = alert.values.get(VALUE_AT_RISK)
    return (
        baseline is None
        or value < baseline
        or values_changed({VALUE_AT_RISK: baseline}, {VALUE_AT_RISK: value}, threshold=threshold)
    )


def actions_in_force(
    actions: Iterable[Acknowledge | Silence | Expire],
) -> tuple[list[Silence], dict[str, Acknowledge]]:
    """The silences and acknowledgements that hold after ``actions``, in order.

    As on the compacted ``stockloop.alert-actions`` topic, a later action
    replaces an earlier one under the same key: an expiry ends its silence,
    an acknowledgement replaces the previous one of its alert key.
    """
    silences: dict[str, Silence] = {}
    acknowledgements: dict[str, Acknowledge] = {}
    for action in actions:
        match action:
            case Silence():
                silences[action.id] = action
            case Expire():
                silences.pop(action.silence_id, None)
            case Acknowledge():
                acknowledgements[action.alert_key] = action
    return list(silences.values()), acknowledgements


def material_clock(state: MaterialState) -> datetime | None:
    """The latest event time this material has reached (None: it has seen no time yet).

    That is the event time it has been brought to (``applied_through``), its
    last event, or a later step of its alert book (an alert raised, notified
    or pending then), whichever is latest, so an action never steps the book
    back in time.
    """
    book = state.alerts
    times = [state.applied_through, state.last_event_time, *book.pending.values()]
    for alert in book.alerts.values():
        times += [alert.updated_at, alert.last_notified_at, alert.deescalating_since]
    return max((time for time in times if time is not None), default=None)


def apply_action(
    state: MaterialState,
    action: Acknowledge | Silence | Expire,
    rules: RuleFile,
    silences: Iterable[Silence] = (),
    acknowledgements: Mapping[str, Acknowledge] | None = None,
    now: datetime | None = None,
    pricing: PriorityConfig = DEFAULT_PRIORITY,
) -> list[Alert]:
    """Apply an alert action to one material at once: its alerts re-evaluated, what changed out.

    ``silences`` and ``acknowledgements`` are those already in force (the
    alert-actions table as the worker holds it); ``action``, taken after
    them, wins over them. ``now`` is the material's clock (default:
    ``material_clock``): acting never moves a material's time, so
    acknowledging an alert of a finished replay does not age its stock to
    today. Returns the transitions to publish: ``updated`` / ``acknowledged``
    for an acknowledgement, the alerts a silence starts or stops muting.

    A silence that mutes an open alert of the material is also kept in its
    alert book, so an evaluation that runs before the mirrored table holds
    the silence does not unmute the alert (and page people) for a moment.
    """
    now = now or material_clock(state)
    if now is None:
        return []
    in_force, acks = actions_in_force([*silences, *(acknowledgements or {}).values(), action])
    match action:
        case Silence() if state.alerts.mutes(action, now):
            state.alerts.apply(action)
        case Expire():
            state.alerts.apply(action)
    return evaluate_alerts(state, rules, now, in_force, acks, pricing=pricing)


class Verdict(StrEnum):
    """What the worker's lifecycle would do with one rule for one stock (the rules dry-run)."""

    RAISE = "would raise"  # fires, has held for its `for`: raised now
    OPEN = "open"  # fires, and is open already
    KEPT = "kept by hysteresis"  # open, not firing (or at a higher tier) but not cleared
    PENDING = "pending"  # fires, but has not held for its `for` yet
    RESOLVE = "would resolve"  # open, and clears now (or its rule is gone)


@dataclass(frozen=True, slots=True)
class AlertPreview:
    """One row of the rules dry-run: a rule, a stock, and what the live lifecycle would do.

    ``since`` is when a pending condition began to hold and ``due`` when its
    ``for`` is met; ``published`` the transition the worker would send now
    (``raised``, ``updated (severity)``...), None if it would send nothing.
    """

    material_id: str
    warehouse_id: str
    rule_id: str
    verdict: Verdict
    severity: str | None
    silenced: bool
    inhibited: bool
    acknowledged_by: str | None
    published: str | None
    why: str
    since: datetime | None = None
    due: datetime | None = None


def preview_alerts(
    state: MaterialState,
    rules: RuleFile,
    now: datetime,
    silences: Iterable[Silence] = (),
    acknowledgements: Mapping[str, Acknowledge] | None = None,
    pricing: PriorityConfig = DEFAULT_PRIORITY,
) -> list[AlertPreview]:
    """What the worker would do with ``rules`` for this material at ``now``, changing nothing.

    The live lifecycle (``for``, tier hysteresis, inhibition, silences,
    acknowledgements) runs on a copy of the state and its alert book, so a
    row says what the worker would hold and send, not merely which
    conditions fire. Rows: every open, pending or resolving alert.
    """
    copy = state.model_copy(deep=True)
    published = {
        a.key: a
        for a in evaluate_alerts(copy, rules, now, silences, acknowledgements, pricing=pricing)
    }
    settings = rules.alert_settings()
    book = copy.alerts
    rows: list[AlertPreview] = []
    for warehouse_id, stock in sorted(copy.warehouses.items()):
        facts = warehouse_facts(copy, stock, now)
        for outcome in evaluate_all(rules, facts, scope_of(copy, warehouse_id)):
            key = alert_key(copy.material_id, warehouse_id, outcome.rule_id)
            alert, sent = book.alerts.get(key), published.pop(key, None)
            status = None if sent is None else _published(sent)
            if alert is not None:
                firing = outcome.in_scope and outcome.firing
                if sent is not None and sent.status is TransitionStatus.RAISED:
                    verdict = Verdict.RAISE
                elif firing and alert.severity == outcome.severity:
                    verdict = Verdict.OPEN
                else:
                    verdict = Verdict.KEPT
                rows.append(
                    AlertPreview(
                        copy.material_id,
                        warehouse_id,
                        outcome.rule_id,
                        verdict,
                        alert.severity,
                        alert.silenced,
                        alert.inhibited,
                        alert.acknowledged_by,
                        status,
                        outcome.explain(kept=alert.severity),
                    )
                )
            elif key in book.pending:
                since = book.pending[key]
                wait = settings[outcome.rule_id].for_seconds if outcome.rule_id in settings else 0
                rows.append(
                    AlertPreview(
                        copy.material_id,
                        warehouse_id,
                        outcome.rule_id,
                        Verdict.PENDING,
                        outcome.severity,
                        False,
                        False,
                        None,
                        None,
                        outcome.explain(),
                        since=since,
                        due=since + timedelta(seconds=wait),
                    )
                )
            elif sent is not None:
                rows.append(_resolving(sent, status, outcome.explain()))
    # Alerts of rules the file removes resolve without an evaluation of their own.
    rows += [
        _resolving(sent, _published(sent), sent.explanation.text) for sent in published.values()
    ]
    return rows


def muted_by(silenced: bool, inhibited: bool) -> str:
    """How an alert is suppressed, for a person: "silenced", "inhibited", both, or ""."""
    return ", ".join(name for name, on in (("silenced", silenced), ("inhibited", inhibited)) if on)


def _published(alert: Alert) -> str:
    return f"{alert.status} ({alert.reason})"


def _resolving(alert: Alert, published: str | None, why: str) -> AlertPreview:
    return AlertPreview(
        alert.material_id,
        alert.warehouse_id,
        alert.rule_id,
        Verdict.RESOLVE,
        alert.severity,
        alert.silenced,
        alert.inhibited,
        alert.acknowledged_by,
        published,
        why,
    )


def _alert(
    transition: AlertTransition,
    stock: WarehouseStock,
    priority: Priority,
    outcome: RuleOutcome | None,
) -> Alert:
    policy = stock.policy
    open_value = sum(
        line.open_quantity * line.unit_price for line in stock.committed_lines.values()
    )
    explanation = Explanation(
        text=explanation_text(transition, stock, outcome),
        condition=transition.expression,
        values=dict(transition.values),
        params=dict(outcome.params) if outcome is not None else {},
        forecast_daily=policy.daily_demand if policy else None,
        sigma_daily_demand=policy.sigma_daily_demand if policy else None,
        sigma_lead_time_demand=policy.sigma_lead_time_demand if policy else None,
        demand_class=policy.demand_class if policy else None,
        lead_time_days=policy.lead_time_days if policy else None,
        sigma_lead_time_days=policy.sigma_lead_time_days if policy else None,
        service_level=policy.service_level if policy else None,
        z=policy.z if policy else None,
        safety_stock=policy.safety_stock if policy else None,
        reorder_point=policy.reorder_point if policy else None,
        days_of_cover=policy.days_of_cover if policy else None,
        projected_stockout_date=policy.projected_stockout_date if policy else None,
        open_order_value=round(open_value, 2),
    )
    return Alert(
        id=transition.id,
        alert_id=transition.alert_id,
        key=transition.key,
        sequence=transition.sequence,
        rule_id=transition.rule_id,
        status=transition.status,
        reason=transition.reason,
        severity=transition.severity,
        previous_severity=transition.previous_severity,
        material_id=transition.material_id,
        warehouse_id=transition.warehouse_id,
        at=transition.at,
        raised_at=transition.raised_at,
        updated_at=transition.updated_at,
        labels=dict(transition.labels),
        priority=priority,
        explanation=explanation,
        silenced=transition.silenced,
        inhibited=transition.inhibited,
        acknowledged_by=transition.acknowledged_by,
        notify=transition.notify,
    )


def explanation_text(
    transition: AlertTransition, stock: WarehouseStock, outcome: RuleOutcome | None
) -> str:
    """One line for a person: a planner's sentence for a replenishment alert, else the rule's.

    ``stockout_risk`` says the forecast per day, the lead time and the days
    to order, the projected stock-out and order-by dates and the quantity to
    order; ``reorder_point_reached`` the position against the reorder point
    and the quantity to order. Any other rule, and any resolution, gives its
    condition and the numbers it read; the tier (kept by hysteresis, if so)
    leads every line.
    """
    if outcome is None:
        return f"{transition.rule_id} removed"
    # The severity may be kept above the tier that fires now (tier hysteresis): say so.
    said = outcome.explain(kept=transition.severity)
    policy = stock.policy
    if policy is None or transition.status is TransitionStatus.RESOLVED:
        return said
    head = said.split(": ", 1)[0]
    position = inventory_position(stock)
    if transition.rule_id == "stockout_risk" and policy.projected_stockout_date is not None:
        margin = outcome.params.get("order_margin_days", 0.0)
        return f"{head}: {stockout_sentence(policy, margin, position)}"
    if transition.rule_id == "reorder_point_reached":
        return f"{head}: {reorder_sentence(policy, position)}"
    return said


def stockout_sentence(policy: PolicySnapshot, margin_days: float, position: float) -> str:
    """The projected stock-out as a planner says it: when, why, by when to order, how much.

    The order-by date is the stock-out date less the lead time and the days
    it takes to approve and confirm an order (whole days, rounded up: late is
    the costly side); ``stockout_risk`` warns from that date on, so it is
    mostly today or already past. The suggested quantity fills the inventory
    position up to the order-up-to level.

    >>> policy = PolicySnapshot.model_construct(
    ...     as_of=date(2026, 5, 1), daily_demand=10.2, lead_time_days=21.0, order_up_to=600.0,
    ...     projected_stockout_date=date(2026, 6, 3), projected_stockout_days=33, unit="EA")
    >>> for part in stockout_sentence(policy, 5, position=180).split(": "):
    ...     print(part)
    stock-out 2026-06-03 in 33 d at 10.2/d; lead time 21 d + 5 d to order
    order by 2026-05-08 (in 7 d), suggested 420 EA
    >>> later = policy.model_copy(update={"as_of": date(2026, 5, 10)})
    >>> stockout_sentence(later, 5, position=180).split(": ")[1]
    'order by 2026-05-08 (2 d ago), suggested 420 EA'
    """
    stockout = policy.projected_stockout_date
    assert stockout is not None
    order_by = stockout - timedelta(days=math.ceil(policy.lead_time_days + margin_days))
    days = (order_by - policy.as_of).days
    when = f"order by {order_by} ({'today' if not days else _days(days)})"
    lead = f"lead time {_quantity(policy.lead_time_days)} d"
    if margin_days:
        lead += f" + {_quantity(margin_days)} d to order"
    return (
        f"stock-out {stockout} in {policy.projected_stockout_days} d at "
        f"{_quantity(policy.daily_demand)}/d; {lead}: {when}, suggested "
        f"{_quantity(_gap(policy, position))} {policy.unit}"
    )


def reorder_sentence(policy: PolicySnapshot, position: float) -> str:
    """The reorder point reached, as a planner says it: where the position is, what to order.

    >>> policy = PolicySnapshot.model_construct(
    ...     daily_demand=10.0, lead_time_days=30.0, safety_stock=92.0, reorder_point=392.0,
    ...     order_up_to=760.0, unit="EA")
    >>> for part in reorder_sentence(policy, position=380).split(": "):
    ...     print(part)
    position 380 EA at or below the reorder point 392 EA (30 d at 10/d + safety stock 92)
    suggested 380 EA up to 760
    """
    unit = policy.unit
    return (
        f"position {_quantity(position)} {unit} at or below the reorder point "
        f"{_quantity(policy.reorder_point)} {unit} ({_quantity(policy.lead_time_days)} d at "
        f"{_quantity(policy.daily_demand)}/d + safety stock {_quantity(policy.safety_stock)}): "
        f"suggested {_quantity(_gap(policy, position))} {unit} up to "
        f"{_quantity(policy.order_up_to)}"
    )


def _days(days: int) -> str:
    """A distance in days from today, as a person says it."""
    return f"in {days} d" if days > 0 else f"{-days} d ago"


def _gap(policy: PolicySnapshot, position: float) -> float:
    """What fills the position up to the order-up-to level, in whole units."""
    return float(math.ceil(max(policy.order_up_to - position, 0.0) - 1e-9))


def _quantity(value: float) -> str:
    """A number as a person reads it: at most one decimal, no trailing zero."""
    return f"{value:.1f}".rstrip("0").rstrip(".")
