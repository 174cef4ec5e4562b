"""Alert quality: what became of each alert, per rule and receiver: which rule cries wolf.

An alert is worth its interruption when someone answers it. This fold reads
what stockloop already publishes, in any order and with duplicates:

- alert transitions (``stockloop.alerts``): each alert's rule, receiver
  (the ``owner`` label, until routing names people), when it was raised,
  whether it ever notified anyone, whether and how it resolved, and who
  acknowledged it (``acknowledged_by``);
- acknowledgements (``stockloop.alert-actions``), for the exact time of an
  acknowledgement; without them the time is that of the first transition
  that carried it (the alert's next evaluation, at once in a live worker);
- purchase requests, transfers and reviews, which carry the ids of the
  alerts they answer (``alert_ids``).

Each alert gets one ``Outcome``, the first that applies:

1. **acted on**: a request it caused was approved (by a person or the
   approval policy) or ordered, a transfer it asked for was approved,
   shipped or received, or a review it opened was decided;
2. **acknowledged**: someone acknowledged it, and nothing was done (yet);
3. **unheard**: never notified (silenced or inhibited all its life), so
   nobody can be blamed for not answering it;
4. **resolved on its own**: its condition cleared with no answer;
5. **ignored**: still open with no answer, or ended otherwise (the rule
   stopped applying or was removed).

A rule whose alerts are mostly resolved on their own or ignored cries wolf:
tune its thresholds, its ``for`` or its repeat interval. Time to
acknowledgement and to action count from the alert's ``raised_at``.

Pure: no Kafka, no clock; ``since`` is an argument.

Examples
--------
>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2026, 3, 1, tzinfo=UTC)
>>> quality = AlertQuality()
>>> quality.add_alert(AlertRecord("a1", "low", "planner", t0, at=t0, notified=True))
>>> quality.add_alert(AlertRecord("a2", "low", "planner", t0, at=t0, notified=True))
>>> quality.add_alert(AlertRecord("a2", "low", "planner", t0, at=t0 + timedelta(hours=3),
...                               resolved=True, cleared=True))
>>> quality.add_acknowledgement("a1", "M1|W1|low", t0 + timedelta(minutes=30))
>>> [(fate.alert_id, fate.outcome.value) for fate in quality.fates()]
[('a1', 'acknowledged'), ('a2', 'resolved_on_its_own')]
>>> (row,) = summarise(quality.fates(), by="rule")
>>> row.group, row.alerts, row.share(Outcome.RESOLVED_ON_ITS_OWN), row.median_time_to_ack
('low', 2, 0.5, datetime.timedelta(seconds=1800))
"""

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol

from models.alerts import Acknowledge, TransitionReason, TransitionStatus
from models.purchasing import PurchaseRequest, RequestStatus
from models.reviews import Review, ReviewStatus
from models.transfers import Transfer, TransferStatus

NO_RECEIVER = "-"
"""The receiver of an alert without an ``owner`` label."""

ACTED_REQUEST = frozenset({RequestStatus.APPROVED, RequestStatus.ORDERED})
ACTED_TRANSFER = frozenset(
    {TransferStatus.APPROVED, TransferStatus.SHIPPED, TransferStatus.RECEIVED}
)
"""Statuses that answer an alert: supply is on its way (or was agreed)."""

GroupBy = Literal["rule", "receiver"]


class Outcome(StrEnum):
    """What became of one alert; see the module docstring for the order they are tried in."""

    ACTED_ON = "acted_on"
    ACKNOWLEDGED = "acknowledged"
    UNHEARD = "unheard"
    RESOLVED_ON_ITS_OWN = "resolved_on_its_own"
    IGNORED = "ignored"


class PublishedTransition(Protocol):
    """An alert transition as published: ``models.alerting.Alert`` and ``AlertTransition`` fit."""

    @property
    def alert_id(self) -> str: ...
    @property
    def rule_id(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def raised_at(self) -> datetime: ...
    @property
    def at(self) -> datetime: ...
    @property
    def status(self) -> TransitionStatus: ...
    @property
    def reason(self) -> TransitionReason: ...
    @property
    def notify(self) -> bool: ...
    @property
    def acknowledged_by(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """What the fold reads from one alert transition (``AlertRecord.of`` reads a published one).

    ``at`` is the transition's event time; ``acknowledged`` whether it carries
    an acknowledgement; ``resolved`` whether it ends the alert, and
    ``cleared`` whether by its own clear condition.
    """

    alert_id: str
    rule_id: str
    receiver: str
    raised_at: datetime
    at: datetime
    key: str = ""
    notified: bool = False
    acknowledged: bool = False
    resolved: bool = False
    cleared: bool = False

    @classmethod
    def of(cls, alert: PublishedTransition) -> "AlertRecord":
        """The record of one published alert transition."""
        resolved = alert.status is TransitionStatus.RESOLVED
        return cls(
            alert_id=alert.alert_id,
            rule_id=alert.rule_id,
            receiver=alert.labels.get("owner") or NO_RECEIVER,
            raised_at=alert.raised_at,
            at=alert.at,
            key=alert.key,
            notified=alert.notify,
            acknowledged=alert.acknowledged_by is not None,
            resolved=resolved,
            cleared=resolved and alert.reason is TransitionReason.CLEARED,
        )


def closing_outcome(record: AlertRecord) -> Outcome | None:
    """The outcome an alert's closing transition shows by itself: the live metric's view.

    A worker counts alerts as they close, from the transition alone, so it
    cannot know of the requests, transfers and reviews that answered them
    (``acted on``) nor whether one ever notified (``unheard``): those take the
    whole fold (``stockloop rules report``). None: the transition closes nothing.

    >>> from datetime import UTC, datetime
    >>> t0 = datetime(2026, 3, 1, tzinfo=UTC)
    >>> closing_outcome(AlertRecord("a1", "low", "li", t0, t0, resolved=True, cleared=True))
    <Outcome.RESOLVED_ON_ITS_OWN: 'resolved_on_its_own'>
    >>> closing_outcome(AlertRecord("a1", "low", "li", t0, t0, resolved=True, acknowledged=True))
    <Outcome.ACKNOWLEDGED: 'acknowledged'>
    """
    if not record.resolved:
        return None
    if record.acknowledged:
        return Outcome.ACKNOWLEDGED
    return Outcome.RESOLVED_ON_ITS_OWN if record.cleared else Outcome.IGNORED


def time_to_acknowledge(alert: PublishedTransition) -> timedelta | None:
    """From raising to the transition that publishes an acknowledgement (None: not one).

    That transition's time is the material's clock when the acknowledgement
    was applied: in a live worker the wall clock, in a replay the time of the
    material's last event (the actions topic has the exact time; the report
    reads it).
    """
    if alert.reason is not TransitionReason.ACKNOWLEDGED:
        return None
    return max(alert.at - alert.raised_at, timedelta(0))


@dataclass(slots=True)
class _Life:
    """One alert as far as its transitions tell."""

    rule_id: str
    receiver: str
    raised_at: datetime
    key: str
    first_seen: datetime
    notified: bool = False
    acknowledged_at: datetime | None = None
    ended_at: datetime | None = None
    cleared: bool = False


@dataclass(frozen=True, slots=True)
class AlertFate:
    """One alert's outcome, and how long its answers took (None: no such answer)."""

    alert_id: str
    rule_id: str
    receiver: str
    raised_at: datetime
    outcome: Outcome
    time_to_ack: timedelta | None
    time_to_action: timedelta | None


@dataclass(slots=True)
class AlertQuality:
    """The fold: add transitions, acknowledgements and responses in any order, then ``fates``."""

    _lives: dict[str, _Life] = field(default_factory=dict)
    _acks_by_id: dict[str, datetime] = field(default_factory=dict)
    _acks_by_key: dict[str, list[datetime]] = field(default_factory=lambda: defaultdict(list))
    _actions: dict[str, datetime] = field(default_factory=dict)

    def add_alert(self, record: AlertRecord | PublishedTransition) -> None:
        """Fold one alert transition; a transition read twice changes nothing."""
        if not isinstance(record, AlertRecord):
            record = AlertRecord.of(record)
        life = self._lives.get(record.alert_id)
        if life is None:
            life = self._lives[record.alert_id] = _Life(
                record.rule_id, record.receiver, record.raised_at, record.key, record.at
            )
        elif (record.at, record.receiver) < (life.first_seen, life.receiver):
            # The earliest transition names the receiver, whatever order they are read in.
            life.receiver, life.first_seen = record.receiver, record.at
        life.notified |= record.notified
        if record.acknowledged:
            life.acknowledged_at = _earliest(life.acknowledged_at, record.at)
        if record.resolved:
            life.ended_at, life.cleared = record.at, record.cleared

    def add_acknowledgement(self, alert_id: str | None, alert_key: str, at: datetime) -> None:
        """Fold one acknowledgement: pinned to an alert id, or to the alert open under the key."""
        if alert_id is not None:
            self._acks_by_id[alert_id] = _earliest(self._acks_by_id.get(alert_id), at)
        else:
            self._acks_by_key[alert_key].append(at)

    def add_action(self, action: Acknowledge) -> None:
        """Fold one ``Acknowledge`` from the alert-actions topic (silences say nothing here)."""
        self.add_acknowledgement(action.alert_id, action.alert_key, action.at)

    def add_request(self, request: PurchaseRequest) -> None:
        """A request approved or ordered answers the alerts that caused it."""
        if request.status in ACTED_REQUEST:
            self._answered(request.alert_ids, request.at)

    def add_transfer(self, transfer: Transfer) -> None:
        """A transfer approved, shipped or received answers the alerts that asked for supply."""
        if transfer.status in ACTED_TRANSFER:
            self._answered(transfer.alert_ids, transfer.at)

    def add_review(self, review: Review) -> None:
        """A decided review answers the alerts under review."""
        if review.status is ReviewStatus.DECIDED:
            self._answered(review.alert_ids, review.at)

    def fates(self, since: datetime | None = None) -> list[AlertFate]:
        """Every alert raised at or after ``since`` (None: all), oldest first, with its outcome."""
        fates = []
        for alert_id, life in self._lives.items():
            if since is not None and life.raised_at < since:
                continue
            acked_at = self._acknowledged_at(alert_id, life)
            acted_at = self._actions.get(alert_id)
            fates.append(
                AlertFate(
                    alert_id=alert_id,
                    rule_id=life.rule_id,
                    receiver=life.receiver,
                    raised_at=life.raised_at,
                    outcome=_outcome(life, acked_at, acted_at),
                    time_to_ack=_after(life.raised_at, acked_at),
                    time_to_action=_after(life.raised_at, acted_at),
                )
            )
        return sorted(fates, key=lambda fate: (fate.raised_at, fate.alert_id))

    def _answered(self, alert_ids: Iterable[str], at: datetime) -> None:
        for alert_id in alert_ids:
            self._actions[alert_id] = _earliest(self._actions.get(alert_id), at)

    def _acknowledged_at(self, alert_id: str, life: _Life) -> datetime | None:
        """The earliest acknowledgement of this alert: by its id, or by its key while it was open.

        An acknowledgement before the alert was raised, or after it ended,
        was not applied to it (the alert book ignores it too).
        """
        pinned = self._acks_by_id.get(alert_id)
        actions = [pinned] if pinned is not None else []
        if life.key:
            actions += self._acks_by_key.get(life.key, ())
        found = [
            at
            for at in actions
            if at >= life.raised_at and (life.ended_at is None or at < life.ended_at)
        ]
        if life.acknowledged_at is not None:
            found.append(life.acknowledged_at)
        return min(found) if found else None


@dataclass(frozen=True, slots=True)
class QualityRow:
    """The outcomes of one rule's (or one receiver's) alerts."""

    group: str
    alerts: int
    counts: dict[Outcome, int]
    median_time_to_ack: timedelta | None
    median_time_to_action: timedelta | None

    def share(self, outcome: Outcome) -> float:
        """The share of this group's alerts with ``outcome``, 0..1.

        >>> QualityRow("low", 4, {Outcome.IGNORED: 1}, None, None).share(Outcome.IGNORED)
        0.25
        """
        return self.counts.get(outcome, 0) / self.alerts if self.alerts else 0.0


def summarise(fates: Sequence[AlertFate], by: GroupBy = "rule") -> list[QualityRow]:
    """One row per rule (or receiver), the one with most alerts first."""
    groups: dict[str, list[AlertFate]] = defaultdict(list)
    for fate in fates:
        groups[fate.rule_id if by == "rule" else fate.receiver].append(fate)
    rows = [
        QualityRow(
            group=group,
            alerts=len(members),
            counts={
                outcome: n
                for outcome in Outcome
                if (n := sum(1 for fate in members if fate.outcome is outcome))
            },
            median_time_to_ack=_median(fate.time_to_ack for fate in members),
            median_time_to_action=_median(fate.time_to_action for fate in members),
        )
        for group, members in groups.items()
    ]
    return sorted(rows, key=lambda row: (-row.alerts, row.group))


def _outcome(life: _Life, acked_at: datetime | None, acted_at: datetime | None) -> Outcome:
    if acted_at is not None:
        return Outcome.ACTED_ON
    if acked_at is not None:
        return Outcome.ACKNOWLEDGED
    if not life.notified:
        return Outcome.UNHEARD
    if life.ended_at is not None and life.cleared:
        return Outcome.RESOLVED_ON_ITS_OWN
    return Outcome.IGNORED


def _earliest(known: datetime | None, at: datetime) -> datetime:
    return at if known is None or at < known else known


def _after(start: datetime, end: datetime | None) -> timedelta | None:
    return None if end is None else max(end - start, timedelta(0))


def _median(durations: Iterable[timedelta | None]) -> timedelta | None:
    """The median of the durations given (None ignored); None when there are none.

    >>> _median([timedelta(minutes=10), None, timedelta(minutes=30)])
    datetime.timedelta(seconds=1200)
    """
    known = sorted(d for d in durations if d is not None)
    return statistics.median(known) if known else None
