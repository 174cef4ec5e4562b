"""Alert lifecycle: rule outcomes in, alert transitions (raised, updated, repeated, resolved) out.

One ``AlertBook`` per material holds the alerts that are open, the conditions
that hold but have not held for their ``for`` duration yet, and the silences
that apply to the material. ``AlertBook.step`` folds one round of rule
evaluations for one warehouse into the book, at event time ``now``, and returns
what consumers must hear about. The semantics follow Alertmanager and PagerDuty:

- **One open alert per key** ``material|warehouse|rule``. Its id is derived from
  the key, the event time it was raised and how many alerts the book had raised
  before (``raised``), so a replay gives the same ids, and an alert raised,
  resolved and raised again at one event time gets a new one.
  A transition's id is ``{alert id}-{sequence}`` (0 for ``raised``, +1 for every
  later transition of the same alert): the idempotency key of the output event,
  never shared by two different transitions.
- **for**: an alert is raised only once the condition has held, at every
  evaluation, for ``for_seconds`` of event time; one evaluation where it does not
  hold (or is out of scope) starts the wait again.
- **Hysteresis**: an open alert resolves only when the rule's ``clear`` holds
  (or the rule stops applying: out of scope). An evaluation that neither fires
  nor clears leaves the alert exactly as it is: no transition, no repeat.
- **Tier hysteresis**: escalation is immediate; de-escalation is not. An open
  alert at a higher tier than the one that fires now keeps its tier while that
  tier is in the evaluation's ``holding`` (not firing, but not cleared either:
  its own clear condition does not hold), and, with the rule's
  ``deescalate_after_seconds``, until its tier has been clear at every
  evaluation for that long (event time; the clock is ``deescalating_since``).
  It then moves down to the highest lower tier that fires or still holds.
  A value hovering at a tier boundary thus gives one ``updated``, not one per
  crossing.
- **updated** when the severity changes (always), or when a number the rule read
  moved by more than ``MATERIAL_CHANGE`` (10 %) relative to the value last
  published (``|new - old| > 0.10 * |old|``; ``None`` <-> number and 0 -> non-zero
  count as material). Comparing with the last *published* numbers, not the
  previous evaluation, means slow drift is reported once it adds up, while
  float jitter never is.
- **repeated** while the condition still fires, unacknowledged, and
  ``repeat_interval_seconds`` have passed since the last raised/updated/repeated
  transition. An acknowledgement stops repeats (including the ``unsuppressed``
  one below) until the severity changes.
- **Inhibition never hides a worse alert.** A source alert inhibits a target
  only while the source's severity is at least the target's (Alertmanager's
  inhibit rules are written so: a critical source mutes warning targets). A
  target that escalates above its source is no longer inhibited: its
  ``updated`` (reason ``severity``) notifies; a source that de-escalates below
  its target releases it with ``repeated``, reason ``unsuppressed``.
- **Silences and inhibition never drop state.** A silenced or inhibited alert
  is raised, updated and resolved as usual, but its transitions say
  ``silenced=True`` / ``inhibited=True`` and the caller does not notify.
- **Every change a consumer must know is published**, so that the latest
  transition per key says what the book says. An open alert (firing or in its
  band) that becomes silenced or inhibited is ``updated`` with reason
  ``silenced`` / ``inhibited`` (the flags say which suppressions hold). When its
  suppression ends, the step emits ``repeated`` with reason ``unsuppressed``
  (not a second ``raised``: there is exactly one ``raised`` per alert, so a
  consumer that opens a purchase request on ``raised`` never opens two); if it
  was acknowledged, ``updated`` with reason ``unsuppressed``, which does not
  notify. An acknowledgement applied with ``apply`` is published by the next
  step that evaluates the alert's rule: ``updated``, reason ``acknowledged``,
  not notified.

Quantities are ``float`` as everywhere in ``models``; times are timezone-aware
UTC and ``now`` is always an event time passed in, never the wall clock.

Examples
--------
>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2026, 3, 1, tzinfo=UTC)
>>> book = AlertBook(material_id="M1")
>>> scope = {"material_id": "M1", "warehouse_id": "W1"}
>>> low = Evaluation("below_rop", firing=True, severity="warning", values={"available": 40.0})
>>> [f"{t.status} {t.severity} {t.id}" for t in book.step([low], scope, t0)]
['raised warning ee742e9dc83992df-0']
>>> band = Evaluation("below_rop", firing=False, clear=False, values={"available": 95.0})
>>> book.step([band], scope, t0 + timedelta(hours=1))
[]
>>> ok = Evaluation("below_rop", firing=False, clear=True, values={"available": 130.0})
>>> [f"{t.status} {t.reason} {t.id}" for t in book.step([ok], scope, t0 + timedelta(hours=2))]
['resolved cleared ee742e9dc83992df-1']
>>> book.alerts, book.raised
({}, 1)

Tier hysteresis: critical at once, but back to warning only when critical has
cleared (``holding`` empty) for ``deescalate_after_seconds``:

>>> tiers = {"low": RuleSettings(deescalate_after_seconds=3600)}
>>> def fires(severity, *holding):
...     return Evaluation("low", firing=True, severity=severity, holding=holding)
>>> [t.severity for t in book.step([fires("warning")], scope, t0, tiers)]
['warning']
>>> [t.severity for t in book.step([fires("critical")], scope, t0 + timedelta(minutes=10), tiers)]
['critical']
>>> book.step([fires("warning", "critical")], scope, t0 + timedelta(minutes=20), tiers)
[]
>>> book.step([fires("warning")], scope, t0 + timedelta(minutes=30), tiers)
[]
>>> [t.severity for t in book.step([fires("warning")], scope, t0 + timedelta(minutes=90), tiers)]
['warning']
"""

import hashlib
import math
import operator
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    model_serializer,
    model_validator,
)

from models.events import SCHEMA_VERSION, EventTime, Id, Text

Severity = Literal["info", "warning", "critical"]

MATERIAL_CHANGE = 0.10
"""Relative change of a published number that makes an open alert ``updated``."""

_JITTER = 1e-9  # absolute floor, so 0.0 -> 1e-12 of float noise is not "material"

_SCOPE_LABELS = ("material_id", "warehouse_id")
_TIMES_DEFAULTING_TO_RAISED_AT = ("active_since", "updated_at", "last_notified_at")

# Stored models omit empty and default fields (they come back as defaults when
# read), because every book is written to a changelog on every update.
_OMIT_FALSY = {"exclude_if": operator.not_}


class AlertBookError(ValueError):
    """A step or action the alert book cannot apply; the message says what to fix."""


def alert_key(material_id: str, warehouse_id: str, rule_id: str) -> str:
    """Alert key: at most one open alert per (material, warehouse, rule).

    >>> alert_key("M1", "W1", "stockout")
    'M1|W1|stockout'
    """
    return f"{material_id}|{warehouse_id}|{rule_id}"


def alert_id(key: str, raised_at: datetime, raised_before: int) -> str:
    """Deterministic alert id: the key, the event time it was raised, and its book's raise count.

    ``raised_before`` (how many alerts the material's book raised before this
    one) tells apart two alerts of one key raised at the same event time, as
    when a condition fires, clears and fires again in one instant: the key and
    the time alone would give both the same id, and their transitions the
    same idempotency keys with different content.

    >>> alert_id("M1|W1|stockout", datetime(2026, 3, 1, tzinfo=UTC), 0)
    'e70458f983955105'
    >>> alert_id("M1|W1|stockout", datetime(2026, 3, 1, tzinfo=UTC), 1)
    'da27b0d36619a72b'
    """
    stamp = raised_at.astimezone(UTC).isoformat()
    content = f"{key}|{stamp}|{raised_before}"
    return hashlib.sha1(content.encode(), usedforsecurity=False).hexdigest()[:16]


TIER_RANK: Mapping[str, int] = {"info": 0, "warning": 1, "critical": 2}
"""Severities, lowest first: escalation moves up this order, de-escalation down."""


def inhibits(source_severity: str, target_severity: str) -> bool:
    """Whether a source alert at ``source_severity`` may inhibit a target at ``target_severity``.

    Only when the source is at least as severe: inhibition hides a symptom
    behind its worse cause, never a worse alert behind a milder one.

    >>> inhibits("critical", "warning"), inhibits("warning", "warning")
    (True, True)
    >>> inhibits("warning", "critical")
    False
    """
    return TIER_RANK.get(source_severity, 1) >= TIER_RANK.get(target_severity, 1)


def values_changed(
    old: Mapping[str, float | None],
    new: Mapping[str, float | None],
    names: Iterable[str] | None = None,
    threshold: float = MATERIAL_CHANGE,
) -> bool:
    """Whether any of ``names`` (default: every number in either) moved materially.

    Material: appeared or disappeared (``None`` <-> number), to or from an
    infinity, or ``|new - old| > threshold * |old|`` (so any move away from 0
    counts, beyond an absolute 1e-9 of float noise).

    >>> values_changed({"available": 100.0}, {"available": 109.0})
    False
    >>> values_changed({"available": 100.0}, {"available": 111.0})
    True
    >>> values_changed({"available": 0.0}, {"available": 1e-12})
    False
    """
    for name in names if names is not None else old.keys() | new.keys():
        a, b = old.get(name), new.get(name)
        if a is None or b is None:
            if (a is None) != (b is None):
                return True
            continue
        if a == b:
            continue
        if math.isnan(a) or math.isnan(b):
            if not (math.isnan(a) and math.isnan(b)):
                return True
            continue
        if math.isinf(a) or math.isinf(b) or abs(b - a) > max(threshold * abs(a), _JITTER):
            return True
    return False


# --- inputs -------------------------------------------------------------------


class Evaluated(Protocol):
    """What the alert book reads from one rule evaluation (``models.rules`` fits as is)."""

    @property
    def rule_id(self) -> str: ...
    @property
    def in_scope(self) -> bool: ...
    @property
    def firing(self) -> bool: ...
    @property
    def severity(self) -> str | None: ...
    @property
    def clear(self) -> bool: ...
    @property
    def values(self) -> Mapping[str, float | None]: ...
    @property
    def expression(self) -> str: ...

    # Optional: ``holding: Collection[str]``, the tiers above ``severity`` that have not
    # cleared (tier hysteresis); missing means none (a lower severity de-escalates).


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One rule evaluated for one (material, warehouse) at one event time.

    ``clear`` defaults to ``not firing`` (a rule without a separate clear
    condition); give it explicitly for hysteresis. ``holding`` are the tiers
    above ``severity`` that do not fire but have not cleared either: an open
    alert at one of them keeps it (tier hysteresis).
    """

    rule_id: str
    in_scope: bool = True
    firing: bool = False
    severity: Severity | None = None
    clear: bool | None = None
    values: Mapping[str, float | None] = field(default_factory=dict)
    expression: str = ""
    holding: tuple[Severity, ...] = ()

    def __post_init__(self) -> None:
        if self.clear is None:
            object.__setattr__(self, "clear", not self.firing)


class AlertSettings(Protocol):
    """The per-rule settings the alert book reads (``models.rules`` fits as is).

    An object may also have ``update_on: Collection[str] | None``: the value
    names whose changes make an ``updated`` (default: all of them), and
    ``deescalate_after_seconds: float``: how long a higher tier must stay
    clear before an open alert moves down (default: 0, at once).
    """

    @property
    def for_seconds(self) -> float: ...
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def repeat_interval_seconds(self) -> float | None: ...


class RuleSettings(BaseModel):
    """Alerting settings of one rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    for_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    labels: dict[str, str] = Field(default_factory=dict)
    repeat_interval_seconds: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    update_on: tuple[str, ...] | None = None
    deescalate_after_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0


_DEFAULT_SETTINGS = RuleSettings()


class Inhibition(BaseModel):
    """While a ``source`` alert is open, ``target`` alerts with ``equal`` labels are inhibited.

    Example: a stock-out inhibits "below safety stock" for the same material
    and warehouse. Only a source at least as severe as the target inhibits it
    (``inhibits``): a critical aged batch is news even while its material is a
    dead-stock warning.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Id
    target: Id
    equal: tuple[str, ...] = _SCOPE_LABELS


# --- actions (topic stockloop.alert-actions) --------------------------------------


class Acknowledge(BaseModel):
    """Someone has seen the alert and is on it: no repeats until its severity changes.

    ``alert_id``, when given, pins the acknowledgement to one alert, so a late
    acknowledgement never acknowledges a newer alert under the same key.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    kind: Literal["acknowledge"] = "acknowledge"
    alert_key: Annotated[str, Field(min_length=1, max_length=400)]
    alert_id: Id | None = None
    by: Id
    at: EventTime
    comment: Text = ""


class Silence(BaseModel):
    """Mute alerts whose labels equal every matcher, from ``starts_at`` until ``ends_at``.

    Labels are the scope's labels and the rule's, plus ``material_id``,
    ``warehouse_id``, ``rule_id`` and ``severity``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    kind: Literal["silence"] = "silence"
    id: Id
    matchers: Annotated[dict[str, str], Field(min_length=1)]
    starts_at: EventTime
    ends_at: EventTime
    created_by: Id
    comment: Text = ""

    @model_validator(mode="after")
    def _ends_after_start(self) -> "Silence":
        if self.ends_at <= self.starts_at:
            raise ValueError(
                f"silence {self.id}: ends_at {self.ends_at} must be after "
                f"starts_at {self.starts_at}"
            )
        return self

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        """Whether this silence mutes an alert with ``labels`` at event time ``now``."""
        return self.starts_at <= now < self.ends_at and all(
            labels.get(name) == value for name, value in self.matchers.items()
        )


class Expire(BaseModel):
    """End a silence early, at event time ``at``."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    kind: Literal["expire"] = "expire"
    silence_id: Id
    at: EventTime


AlertAction = Annotated[Acknowledge | Silence | Expire, Field(discriminator="kind")]
ALERT_ACTIONS: TypeAdapter[Acknowledge | Silence | Expire] = TypeAdapter(AlertAction)
"""Decoder for the ``stockloop.alert-actions`` topic: ``ALERT_ACTIONS.validate_json(raw)``."""


class AlertActionNotice(BaseModel):
    """An alert action on ``stockloop.material-events``, so that it takes effect at once.

    ``stockloop.alert-actions`` stays the record of every action (mirrored into
    a table on every worker). This copy reaches the material agent in order with
    the material's own events, so the material is re-evaluated as soon as the
    action is taken, not at its next event or tick (which a finished replay
    never has), and without racing the mirrored table. An acknowledgement is
    sent keyed by its material (``material_id``); a silence or its expiry, which
    may match any material, to every partition with ``material_id`` None.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["action"] = "action"
    schema_version: Literal[1] = SCHEMA_VERSION
    material_id: Id | None = None
    action: AlertAction


class ActionOutcome(StrEnum):
    """What applying an action to a book did (one counter each)."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"  # already in effect: nothing changed
    IGNORED = "ignored"  # nothing to act on in this book (no such open alert or silence)


# --- state and output ---------------------------------------------------------------


class TransitionStatus(StrEnum):
    """What happened to an alert."""

    RAISED = "raised"
    UPDATED = "updated"
    REPEATED = "repeated"
    RESOLVED = "resolved"


class TransitionReason(StrEnum):
    """Why it happened."""

    CONDITION = "condition"  # raised: the condition held for `for_seconds`
    SEVERITY = "severity"  # updated: the severity changed
    VALUES = "values"  # updated: a number moved by more than MATERIAL_CHANGE
    REPEAT_INTERVAL = "repeat_interval"  # repeated: still firing, unacknowledged
    UNSUPPRESSED = "unsuppressed"  # repeated (updated if acknowledged): suppression ended
    SILENCED = "silenced"  # updated: a silence began to mute it (or still does)
    INHIBITED = "inhibited"  # updated: an open source alert began to inhibit it
    ACKNOWLEDGED = "acknowledged"  # updated: someone acknowledged it
    CLEARED = "cleared"  # resolved: the rule's clear condition holds
    OUT_OF_SCOPE = "out_of_scope"  # resolved: the rule no longer applies here
    RULE_REMOVED = "rule_removed"  # resolved: the rule was deleted


class OpenAlert(BaseModel):
    """An open alert: its condition held long enough and has not cleared since.

    ``values`` are the numbers last published (raised, updated or repeated);
    ``labels`` are the scope's and rule's labels (the built-in ones are derived);
    ``silenced`` / ``inhibited`` are its suppression as of the last step that
    evaluated its rule; ``ack_unpublished`` says an acknowledgement awaits its
    ``updated`` transition; ``deescalating_since`` is the event time since
    which its tier has been clear, while it waits out the rule's
    ``deescalate_after``. ``why`` and ``made_of`` are its last transition's
    explanation and value-at-risk parts (``models.alerting`` sets them), so
    the dashboard and ``stockloop alerts open`` read them from the state
    instead of the alerts topic.
    """

    model_config = ConfigDict(ser_json_inf_nan="strings")

    id: str
    rule_id: str
    warehouse_id: str
    severity: Severity
    active_since: EventTime
    raised_at: EventTime
    updated_at: EventTime
    last_notified_at: EventTime
    sequence: int = Field(0, **_OMIT_FALSY)
    values: dict[str, float | None] = Field(default_factory=dict, **_OMIT_FALSY)
    labels: dict[str, str] = Field(default_factory=dict, **_OMIT_FALSY)
    acknowledged_by: str | None = Field(None, **_OMIT_FALSY)
    acknowledged_at: EventTime | None = Field(None, **_OMIT_FALSY)
    ack_unpublished: bool = Field(False, **_OMIT_FALSY)
    silenced: bool = Field(False, **_OMIT_FALSY)
    inhibited: bool = Field(False, **_OMIT_FALSY)
    deescalating_since: EventTime | None = Field(None, **_OMIT_FALSY)
    why: str = Field("", description="Its last transition's explanation.", **_OMIT_FALSY)
    made_of: dict[str, float] = Field(
        default_factory=dict,
        description="Its last transition's value at risk in parts (models.priority.ValueAtRisk).",
        **_OMIT_FALSY,
    )

    @model_serializer(mode="wrap")
    def _omit_times_equal_to_raised_at(self, handler: SerializerFunctionWrapHandler) -> dict:
        """Stored compactly: a time equal to ``raised_at`` is left out and restored on reading."""
        data = handler(self)
        for name in _TIMES_DEFAULTING_TO_RAISED_AT:
            if getattr(self, name) == self.raised_at:
                data.pop(name, None)
        return data

    @model_validator(mode="before")
    @classmethod
    def _times_default_to_raised_at(cls, data: object) -> object:
        if isinstance(data, dict) and "raised_at" in data:
            missing = [n for n in _TIMES_DEFAULTING_TO_RAISED_AT if n not in data]
            if missing:
                data = {**data, **dict.fromkeys(missing, data["raised_at"])}
        return data


MAX_CLOSED_ALERTS = 5
"""Closed alerts a book remembers for the material page, newest kept."""


class ClosedAlert(BaseModel):
    """An alert that was open and resolved: what the material page lists as its alert history.

    The full story of every alert is on ``stockloop.alerts``; the book keeps
    only the last ``MAX_CLOSED_ALERTS``, so its stored state stays small.
    """

    rule_id: str
    warehouse_id: str
    severity: Severity = Field(description="Its severity when it resolved.")
    raised_at: EventTime
    resolved_at: EventTime
    reason: str = Field(description="Why it resolved (a TransitionReason).")
    value_at_risk: float | None = Field(None, **_OMIT_FALSY)


class AlertTransition(BaseModel):
    """One thing consumers must hear about an alert; ``id`` is its idempotency key."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="strings")

    id: str
    alert_id: str
    key: str
    sequence: int
    status: TransitionStatus
    reason: TransitionReason
    at: datetime
    material_id: str
    warehouse_id: str
    rule_id: str
    severity: Severity
    previous_severity: Severity | None
    active_since: datetime
    raised_at: datetime
    updated_at: datetime
    labels: dict[str, str]
    values: dict[str, float | None]
    expression: str
    silenced: bool
    silence_ids: tuple[str, ...]
    inhibited: bool
    inhibited_by: tuple[str, ...]
    acknowledged_by: str | None
    acknowledged_at: datetime | None

    @property
    def notify(self) -> bool:
        """Whether the caller should notify people.

        Not when silenced or inhibited, and not for an ``updated`` that only
        records an acknowledgement or the end of an acknowledged alert's
        suppression: people already know.
        """
        return not (self.silenced or self.inhibited) and not (
            self.status is TransitionStatus.UPDATED and self.reason in _QUIET_UPDATES
        )


_QUIET_UPDATES = frozenset({TransitionReason.ACKNOWLEDGED, TransitionReason.UNSUPPRESSED})


@dataclass(slots=True)
class _Draft:
    """A transition decided in the first pass, before suppression is known."""

    key: str
    alert: OpenAlert
    values: Mapping[str, float | None]
    expression: str
    status: TransitionStatus | None
    reason: TransitionReason | None = None
    previous_severity: str | None = None


class AlertBook(BaseModel):
    """The alerts of one material: open, pending (waiting out ``for``) and its silences.

    ``pending`` maps a key to the event time since which its condition holds.
    ``silences`` holds the silences applied to this book with ``apply``; they
    are dropped once ended. ``raised`` counts the alerts raised so far: it
    numbers alert ids (one integer per material, rather than a counter per
    key). ``closed`` remembers the last few resolved alerts for the
    material page. Nothing else is kept, so the book stays small.
    """

    model_config = ConfigDict(ser_json_inf_nan="strings")

    material_id: str
    alerts: dict[str, OpenAlert] = Field(default_factory=dict, **_OMIT_FALSY)
    pending: dict[str, EventTime] = Field(default_factory=dict, **_OMIT_FALSY)
    silences: dict[str, Silence] = Field(default_factory=dict, **_OMIT_FALSY)
    raised: int = Field(0, **_OMIT_FALSY)
    closed: list[ClosedAlert] = Field(default_factory=list, **_OMIT_FALSY)

    def step(
        self,
        evaluations: Iterable[Evaluated],
        scope: Mapping[str, object],
        now: datetime,
        rules_settings: Mapping[str, AlertSettings] | None = None,
        inhibitions: Sequence[Inhibition] = (),
        silences: Iterable[Silence] = (),
    ) -> list[AlertTransition]:
        """Fold one round of evaluations for one warehouse into the book, at event time ``now``.

        ``scope`` has ``material_id`` (this book's), ``warehouse_id`` and any
        further labels (None values are dropped). ``rules_settings`` maps a rule
        id to its settings (missing: raise at once, never repeat, no labels).
        ``silences`` are extra silences the caller holds (e.g. a global table),
        used besides the book's own. Keys not evaluated keep their state.
        Returns at most one transition per evaluated rule, in evaluation order.
        """
        now = _event_time(now)
        warehouse_id, extra = self._read_scope(scope)
        if self.silences:
            self._drop_ended_silences(now)
        settings = rules_settings or {}
        extra_silences = tuple(silences)
        by_target: dict[str, list[Inhibition]] = {}
        for inhibition in inhibitions:
            by_target.setdefault(inhibition.target, []).append(inhibition)
        silencing = bool(self.silences or extra_silences)
        drafts: list[_Draft] = []
        seen: set[str] = set()
        for ev in evaluations:
            rule_id = ev.rule_id
            if rule_id in seen:
                raise AlertBookError(
                    f"rule {rule_id!r} evaluated twice in one step for {self.material_id}/"
                    f"{warehouse_id}; pass one evaluation per rule"
                )
            seen.add(rule_id)
            cfg = settings.get(rule_id) or _DEFAULT_SETTINGS
            key = alert_key(self.material_id, warehouse_id, rule_id)
            draft = self._decide(key, rule_id, warehouse_id, extra, ev, cfg, now)
            if draft is None or (
                # nothing new, no suppression to start or end, no acknowledgement to publish
                draft.status is None
                and not (draft.alert.silenced or draft.alert.inhibited)
                and not draft.alert.ack_unpublished
                and not (silencing or rule_id in by_target)
            ):
                continue
            drafts.append(draft)
        transitions = []
        for draft in drafts:
            transition = self._settle(draft, now, by_target, extra_silences)
            if transition is not None:
                transitions.append(transition)
        return transitions

    def apply(self, action: Acknowledge | Silence | Expire) -> ActionOutcome:
        """Apply an acknowledgement, a silence or a silence's early expiry to this book.

        A silence whose ``material_id`` matcher names another material is
        ignored; the caller may also keep silences outside the book and pass
        them to ``step``.
        """
        match action:
            case Acknowledge():
                alert = self.alerts.get(action.alert_key)
                if (
                    alert is None
                    or (action.alert_id is not None and action.alert_id != alert.id)
                    or action.at < alert.raised_at
                ):
                    return ActionOutcome.IGNORED
                if alert.acknowledged_at is not None:
                    return ActionOutcome.DUPLICATE
                alert.acknowledged_by, alert.acknowledged_at = action.by, action.at
                alert.ack_unpublished = True
                return ActionOutcome.APPLIED
            case Silence():
                if action.matchers.get("material_id", self.material_id) != self.material_id:
                    return ActionOutcome.IGNORED
                if self.silences.get(action.id) == action:
                    return ActionOutcome.DUPLICATE
                self.silences[action.id] = action
                return ActionOutcome.APPLIED
            case Expire():
                silence = self.silences.get(action.silence_id)
                if silence is None:
                    return ActionOutcome.IGNORED
                if silence.ends_at <= action.at:
                    return ActionOutcome.DUPLICATE
                if action.at <= silence.starts_at:
                    del self.silences[action.silence_id]
                else:
                    self.silences[action.silence_id] = silence.model_copy(
                        update={"ends_at": action.at}
                    )
                return ActionOutcome.APPLIED
        raise AlertBookError(f"not an alert action: {type(action).__name__}")

    def mutes(self, silence: Silence, now: datetime) -> bool:
        """Whether ``silence`` mutes one of this book's open alerts at event time ``now``."""
        return any(silence.mutes(self._labels(alert), now) for alert in self.alerts.values())

    def next_due(
        self,
        now: datetime,
        rules_settings: Mapping[str, AlertSettings],
        silences: Iterable[Silence] = (),
    ) -> datetime | None:
        """The first event time after ``now`` at which one of the book's clocks may act.

        The clocks ``step`` reads: a pending condition's ``for``, an open
        alert's repeat and de-escalation, and the start and end of every
        silence (the book's and ``silences``). An acknowledgement not yet
        published is due at ``now``. None when no clock runs. Whether an
        evaluation's outcome changes is the caller's to know: between two
        due times, a step whose outcomes equal the last step's changes nothing.

        >>> from datetime import UTC
        >>> t0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
        >>> book = AlertBook(material_id="M1")
        >>> book.next_due(t0, {}) is None
        True
        >>> book.pending["M1|W1|low"] = t0
        >>> book.next_due(t0, {"low": RuleSettings(for_seconds=600)})
        datetime.datetime(2026, 3, 1, 9, 10, tzinfo=datetime.timezone.utc)
        """
        now = _event_time(now)
        moments: list[datetime] = []
        for key, since in self.pending.items():
            cfg = rules_settings.get(key.rpartition("|")[2]) or _DEFAULT_SETTINGS
            moments.append(since + timedelta(seconds=cfg.for_seconds))
        for alert in self.alerts.values():
            if alert.ack_unpublished:
                return now
            cfg = rules_settings.get(alert.rule_id) or _DEFAULT_SETTINGS
            interval = cfg.repeat_interval_seconds
            if interval and alert.acknowledged_at is None:
                moments.append(alert.last_notified_at + timedelta(seconds=interval))
            wait = getattr(cfg, "deescalate_after_seconds", 0)
            if wait and alert.deescalating_since is not None:
                moments.append(alert.deescalating_since + timedelta(seconds=wait))
        for silence in (*self.silences.values(), *silences):
            moments += [at for at in (silence.starts_at, silence.ends_at) if at > now]
        return max(min(moments), now) if moments else None

    def retire_rules(
        self, active_rule_ids: Collection[str], now: datetime
    ) -> list[AlertTransition]:
        """Resolve the alerts, and forget the pending conditions, of rules that no longer exist.

        Call it after a rules reload; ``active_rule_ids`` are all the rules that remain.
        """
        now = _event_time(now)
        suffixes = tuple(f"|{rule_id}" for rule_id in active_rule_ids)
        for key in [k for k in self.pending if not k.endswith(suffixes)]:
            del self.pending[key]
        transitions = []
        for key, alert in list(self.alerts.items()):
            if alert.rule_id in active_rule_ids:
                continue
            del self.alerts[key]
            draft = _Draft(key, alert, alert.values, "", TransitionStatus.RESOLVED)
            draft.reason, draft.previous_severity = TransitionReason.RULE_REMOVED, alert.severity
            transitions.append(self._settle(draft, now, {}, ()))
        return transitions

    # --- internals -----------------------------------------------------------

    def _read_scope(self, scope: Mapping[str, object]) -> tuple[str, dict[str, str]]:
        material_id, warehouse_id = scope.get("material_id"), scope.get("warehouse_id")
        if material_id != self.material_id:
            raise AlertBookError(
                f"scope is for material {material_id!r} but this book is {self.material_id!r}; "
                "step each material's own book"
            )
        if not isinstance(warehouse_id, str) or not warehouse_id:
            raise AlertBookError(f"scope needs a warehouse_id, got {warehouse_id!r}")
        extra = {
            name: str(value)
            for name, value in scope.items()
            if value is not None and name not in _SCOPE_LABELS
        }
        return warehouse_id, extra

    def _decide(
        self,
        key: str,
        rule_id: str,
        warehouse_id: str,
        extra: dict[str, str],
        ev: Evaluated,
        cfg: AlertSettings,
        now: datetime,
    ) -> _Draft | None:
        """First pass: the lifecycle of one key, before silences and inhibition."""
        holds = ev.in_scope and ev.firing
        alert = self.alerts.get(key)
        if alert is None:
            if not holds:
                self.pending.pop(key, None)
                return None
            since = self.pending.get(key, now)
            if (now - since).total_seconds() < cfg.for_seconds:
                self.pending[key] = since
                return None
            self.pending.pop(key, None)
            alert = OpenAlert(
                id=alert_id(key, now, self.raised),
                rule_id=rule_id,
                warehouse_id=warehouse_id,
                severity=_severity(ev),
                active_since=since,
                raised_at=now,
                updated_at=now,
                last_notified_at=now,
                values=dict(ev.values),
                labels=_merged(extra, cfg.labels),
            )
            self.alerts[key] = alert
            self.raised += 1
            return _Draft(key, alert, ev.values, ev.expression, TransitionStatus.RAISED, None)
        if holds:
            labels = _merged(extra, cfg.labels)
            if labels != alert.labels:
                alert.labels = labels
            severity = _tier(alert, _severity(ev), ev, cfg, now)
            draft = _Draft(key, alert, ev.values, ev.expression, None, None, alert.severity)
            if severity != alert.severity:
                draft.status, draft.reason = TransitionStatus.UPDATED, TransitionReason.SEVERITY
                alert.severity = severity
                alert.acknowledged_by = alert.acknowledged_at = None
                alert.ack_unpublished = False
            elif values_changed(alert.values, ev.values, getattr(cfg, "update_on", None)):
                draft.status, draft.reason = TransitionStatus.UPDATED, TransitionReason.VALUES
            elif alert.acknowledged_at is None and _repeat_due(cfg, alert, now):
                draft.status = TransitionStatus.REPEATED
                draft.reason = TransitionReason.REPEAT_INTERVAL
            return draft
        if not ev.in_scope or ev.clear:
            del self.alerts[key]
            reason = TransitionReason.CLEARED if ev.in_scope else TransitionReason.OUT_OF_SCOPE
            return _Draft(
                key,
                alert,
                ev.values,
                ev.expression,
                TransitionStatus.RESOLVED,
                reason,
                alert.severity,
            )
        # Between firing and clear: hysteresis keeps the alert as it is; only the
        # de-escalation clock learns whether its tier is still holding, and its
        # suppression may start or end (the second pass decides).
        _tier(alert, None, ev, cfg, now)
        return _Draft(key, alert, ev.values, ev.expression, None, None, alert.severity)

    def _settle(
        self,
        draft: _Draft,
        now: datetime,
        by_target: Mapping[str, Sequence[Inhibition]],
        extra_silences: tuple[Silence, ...],
    ) -> AlertTransition | None:
        """Second pass: silences and inhibition against the book as it is after this step."""
        alert = draft.alert
        inhibitions = by_target.get(alert.rule_id, ())
        silence_ids: tuple[str, ...] = ()
        inhibited_by: tuple[str, ...] = ()
        labels = {}
        if self.silences or extra_silences or inhibitions:
            labels = self._labels(alert)
            silence_ids = _dedup(
                s.id
                for group in (self.silences.values(), extra_silences)
                for s in group
                if s.mutes(labels, now)
            )
            if inhibitions:
                inhibited_by = self._inhibitors(alert, labels, inhibitions)
        if draft.status is not TransitionStatus.RESOLVED:
            silenced, inhibited = bool(silence_ids), bool(inhibited_by)
            if draft.status in (None, TransitionStatus.REPEATED):
                _suppression_news(draft, silenced, inhibited)
            alert.silenced, alert.inhibited = silenced, inhibited
            if draft.status is None:
                return None
            if draft.status is not TransitionStatus.RAISED:
                alert.sequence += 1
                alert.values = dict(draft.values)
                if draft.reason in _NEWS_FOR_PEOPLE:
                    alert.last_notified_at = now
                if draft.reason in _NEWS_OF_CONTENT:
                    alert.updated_at = now
        else:
            alert.sequence += 1
        alert.ack_unpublished = False
        return self._transition(draft, now, silence_ids, inhibited_by, labels or None)

    def _transition(
        self,
        draft: _Draft,
        now: datetime,
        silence_ids: tuple[str, ...],
        inhibited_by: tuple[str, ...],
        labels: dict[str, str] | None = None,
    ) -> AlertTransition:
        alert = draft.alert
        if draft.status is TransitionStatus.RAISED:
            reason = TransitionReason.CONDITION
        else:
            reason = draft.reason
        if draft.status is TransitionStatus.RESOLVED:
            self._remember_closed(alert, now, str(reason))
        return AlertTransition(
            id=f"{alert.id}-{alert.sequence}",
            alert_id=alert.id,
            key=draft.key,
            sequence=alert.sequence,
            status=draft.status,
            reason=reason,
            at=now,
            material_id=self.material_id,
            warehouse_id=alert.warehouse_id,
            rule_id=alert.rule_id,
            severity=alert.severity,
            previous_severity=draft.previous_severity,
            active_since=alert.active_since,
            raised_at=alert.raised_at,
            updated_at=alert.updated_at,
            labels=labels or self._labels(alert),
            values=dict(draft.values),
            expression=draft.expression,
            silenced=bool(silence_ids),
            silence_ids=tuple(s for s in silence_ids if s),
            inhibited=bool(inhibited_by),
            inhibited_by=tuple(k for k in inhibited_by if k),
            acknowledged_by=alert.acknowledged_by,
            acknowledged_at=alert.acknowledged_at,
        )

    def _remember_closed(self, alert: OpenAlert, now: datetime, reason: str) -> None:
        self.closed.append(
            ClosedAlert(
                rule_id=alert.rule_id,
                warehouse_id=alert.warehouse_id,
                severity=alert.severity,
                raised_at=alert.raised_at,
                resolved_at=now,
                reason=reason,
                value_at_risk=alert.values.get("value_at_risk"),
            )
        )
        del self.closed[:-MAX_CLOSED_ALERTS]

    def _labels(self, alert: OpenAlert) -> dict[str, str]:
        """All labels of an alert: scope and rule labels, then the built-in ones."""
        return {
            **alert.labels,
            "material_id": self.material_id,
            "warehouse_id": alert.warehouse_id,
            "rule_id": alert.rule_id,
            "severity": alert.severity,
        }

    def _inhibitors(
        self, alert: OpenAlert, labels: dict[str, str], inhibitions: Sequence[Inhibition]
    ) -> tuple[str, ...]:
        """Keys of open source alerts that inhibit ``alert`` (it may itself be resolved).

        Severities are those after this step's first pass, so a target that
        escalates past its source in this step is already free of it.
        """
        found: list[str] = []
        for rule in inhibitions:
            for key, source in self.alerts.items():
                if (
                    source.rule_id != rule.source
                    or source is alert
                    or not inhibits(source.severity, alert.severity)
                ):
                    continue
                source_labels = self._labels(source)
                if all(source_labels.get(name) == labels.get(name) for name in rule.equal):
                    found.append(key)
        return _dedup(found)

    def _drop_ended_silences(self, now: datetime) -> None:
        for silence_id in [i for i, s in self.silences.items() if s.ends_at <= now]:
            del self.silences[silence_id]


_NEWS_OF_CONTENT = frozenset({TransitionReason.SEVERITY, TransitionReason.VALUES})
_NEWS_FOR_PEOPLE = _NEWS_OF_CONTENT | {
    TransitionReason.REPEAT_INTERVAL,
    TransitionReason.UNSUPPRESSED,
}


def _suppression_news(draft: _Draft, silenced: bool, inhibited: bool) -> None:
    """Make ``draft`` (nothing to say, or a repeat) publish a change of suppression or an ack.

    The reason names the suppression that began, else the one that still
    holds; an ended suppression is ``unsuppressed``: ``repeated`` so people
    hear of the alert again, or a quiet ``updated`` if they acknowledged it.
    """
    alert = draft.alert
    if (silenced, inhibited) != (alert.silenced, alert.inhibited):
        if silenced and (not alert.silenced or not inhibited or alert.inhibited):
            draft.status, draft.reason = TransitionStatus.UPDATED, TransitionReason.SILENCED
        elif inhibited:
            draft.status, draft.reason = TransitionStatus.UPDATED, TransitionReason.INHIBITED
        else:
            acknowledged = alert.acknowledged_at is not None
            draft.status = TransitionStatus.UPDATED if acknowledged else TransitionStatus.REPEATED
            draft.reason = TransitionReason.UNSUPPRESSED
    elif draft.status is None and alert.ack_unpublished:
        draft.status, draft.reason = TransitionStatus.UPDATED, TransitionReason.ACKNOWLEDGED


def _event_time(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise AlertBookError(f"event time {now!r} has no timezone; pass an aware UTC datetime")
    return now if now.tzinfo is UTC else now.astimezone(UTC)


def _severity(ev: Evaluated) -> str:
    """The severity of a firing evaluation; a rule that gives none fires as a warning."""
    return str(ev.severity) if ev.severity else "warning"


def _tier(
    alert: OpenAlert, fired: str | None, ev: Evaluated, cfg: AlertSettings, now: datetime
) -> str:
    """The severity an open alert takes when ``fired`` fires now (None: in the band).

    Up at once; down only from a tier that is not ``holding`` and, with
    ``deescalate_after_seconds``, has not been for that long: then to the
    highest lower tier that fires or still holds.
    """
    current = TIER_RANK.get(alert.severity, 1)
    if fired is not None and TIER_RANK.get(fired, 1) >= current:
        alert.deescalating_since = None
        return fired
    holding = getattr(ev, "holding", ())
    if alert.severity in holding:
        alert.deescalating_since = None
        return alert.severity
    wait = getattr(cfg, "deescalate_after_seconds", 0)
    if wait:
        since = alert.deescalating_since or now
        if fired is None or (now - since).total_seconds() < wait:
            alert.deescalating_since = since
            return alert.severity
    if fired is None:
        return alert.severity
    alert.deescalating_since = None
    lower = [tier for tier in holding if TIER_RANK.get(tier, 1) < current]
    return max((fired, *lower), key=lambda tier: TIER_RANK.get(tier, 1))


def _merged(extra: dict[str, str], rule_labels: Mapping[str, str]) -> dict[str, str]:
    """The alert's labels: the rule's are defaults, the scope's own win.

    A rule says who usually acts (``owner: buyer``); a material whose master
    names its owner is that person's, whatever the rule.
    """
    return {**rule_labels, **extra} if rule_labels else dict(extra)


def _repeat_due(cfg: AlertSettings, alert: OpenAlert, now: datetime) -> bool:
    interval = cfg.repeat_interval_seconds
    return bool(interval) and (now - alert.last_notified_at).total_seconds() >= interval


def _dedup(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
