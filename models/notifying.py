"""The notification router's core: one person's inbox, and what it tells them when.

One ``Inbox`` per recipient (a Faust table keyed by recipient) holds the
*subjects* the person hears about (an alert, a purchase request, a transfer, a
review, a production order's shortage: whatever an item's ``subject_id``
names), the groups that bundle them, and the day of the last digest. Three
pure functions move it in event time:

- ``receive`` puts a routed item in its group. Group key: the recipient and the
  values of the route's ``group_by`` labels. Alertmanager's meanings: a new group
  waits ``group_wait`` before its first message, so that what arrives together
  is told together; a group that has sent collects new items for
  ``group_interval`` (messages go out on its ticks, ``sent_at + k *
  group_interval``). An update of a subject not yet told replaces the queued
  version (the later by event time and id wins, whatever the arrival order).
  A subject already told is told again only when it is news (its severity
  rose) or, unacknowledged, after the route's ``repeat_interval``: otherwise
  the update only refreshes what the next reminder says. A closing item (a
  resolved alert, a request ordered, rejected, cancelled or expired, a transfer
  received, a decided review, a covered shortage) ends the subject's reminders;
  it is told in the next digest if the subject was told, and not at all if it
  came and went before anyone was told.
- ``due`` (on a tick) sends what fell due: groups whose wait passed, escalations,
  reminders and the daily digest.
- ``acknowledge`` stops the reminders and the escalation of a subject (a
  person's acknowledgement or approval) until its severity rises.

Digests: items of ``digest`` routes, and everything that is not critical and
falls due inside the recipient's quiet hours (group messages and reminders
alike), wait for the recipient's daily digest at ``digest_at`` local time
(``zoneinfo``, so 08:30 stays 08:30 across a DST change). One digest per local
day, none when there is nothing in it. Critical items break through quiet hours.

Escalation: a subject whose route sets ``escalate_after`` (a critical alert, a
request pending approval) and that is not acknowledged that long after it
arrived (or after its severity last rose) is sent, as an ``escalation``, to
the recipient's ``escalate_to``, on that person's channels and critical
channels, in their language; still unacknowledged after twice that time, to
the next person up the chain (their ``escalate_to``), and so on to the end of
the chain.

Determinism: every notification is formed at an event time computed from the
inputs (a group's flush time, a reminder's or escalation's due time, the
digest's local time of day), never at the tick's ``now``, and lists its items
sorted. Its id is ``sha256(recipient, group key, sorted item ids, formation
time)``, 16 hex digits. Items received in any order before a flush give the
same notifications (``tests/unit/models/test_notifying.py`` checks it with
hypothesis). An item belongs to a flush when it arrived (``now`` of its
``receive``) at or before the flush time.

State stays small: a subject without news for ``FORGET_AFTER`` is dropped
(open alerts repeat, open requests expire, well within it), and a group
without subjects is dropped (a new item starts it again, with ``group_wait``).

Cost: a buyer's inbox holds thousands of subjects, and each of ``due``'s
steps is a pass over all of them. So an inbox keeps the earliest event time
at which ``due`` could change it or tell anything (its *quiet bound*: the
first group flush, escalation, reminder, forgetting or new digest day); ``due``
before it returns the inbox as given at once, and ``receive`` and
``acknowledge``, which change one subject, carry the bound over to the new
inbox without a pass. Once it is reached, ``due`` runs only the steps whose
own first moment (kept with the bound) has come, each over only the subjects
whose moment came, and reads the next bound off an index of the subjects'
moments (``models.inbox_moments``) instead of a pass. The results are those of
doing every pass (``tests/unit/models/test_inbox_due_index.py`` checks it with
hypothesis).

Examples
--------
>>> from datetime import UTC, datetime, timedelta
>>> from models.notifications import Destination, NotificationItem, Person, RouteMatch
>>> t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
>>> li = Person(id="li", name="Li Wei", channels=(Destination(channel="email", address="li@x"),))
>>> match = RouteMatch(route="root/buyers", recipients=("li",))
>>> item = NotificationItem(kind="alert", id="a1-0", subject_id="a1", at=t0, severity="warning",
...     material_id="M1", warehouse_id="W1", rule_id="stockout_risk", summary="stock-out risk M1")
>>> labels = {"rule_id": "stockout_risk", "warehouse_id": "W1"}
>>> inbox, sent = receive(Inbox(recipient="li"), item, labels, match, li, t0)
>>> sent
[]
>>> inbox, sent = due(inbox, {"li": li}, t0 + timedelta(seconds=30))
>>> [(n.urgency.value, n.title, n.at.time().isoformat()) for n in sent]
[('immediate', '[Warning] stock-out risk M1', '09:00:30')]
>>> inbox, sent = due(inbox, {"li": li}, t0 + timedelta(hours=4, seconds=30))
>>> [(n.urgency.value, n.title) for n in sent]
[('reminder', 'Reminder, still open: stock-out risk M1')]
>>> inbox = acknowledge(inbox, "a1", t0 + timedelta(hours=5))
>>> due(inbox, {"li": li}, t0 + timedelta(hours=9))[1]
[]
"""

import hashlib
import operator
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, NamedTuple, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import immutables
import orjson
from pydantic import BaseModel, Field, GetCoreSchemaHandler, GetPydanticSchema, PrivateAttr
from pydantic_core import core_schema

from models.events import EventTime
from models.inbox_moments import (
    AT_ONCE,
    NEVER,
    Kind,
    Moments,
    escalation_at,
    last_news,
    reminder_at,
)
from models.notifications import (
    Destination,
    Notification,
    NotificationItem,
    Person,
    RouteMatch,
    Urgency,
)
from models.rendering import LISTED_ITEMS, ordered, render, severity_rank

FORGET_AFTER = timedelta(days=30)
"""A subject without news (no item, not queued) for this long leaves the inbox."""

DIGEST = "digest"
"""Group key suffix of a recipient's daily digest."""

_OMIT_FALSY = {"exclude_if": operator.not_}


class Subject(BaseModel):
    """One thing a person hears about over time, in its latest version.

    ``queued``: waiting for its group's next message or for the digest, since
    ``queued_at`` (the arrival of the earliest queued version). ``told_at`` /
    ``told_severity``: when it was last told (a message, a reminder or a
    digest), at what severity; a later version of lower severity lowers it,
    so that rising back (a stock-out risk critical again) is news again.
    ``since``: start of the current unacknowledged episode, the escalation
    clock. ``closed``: its closing item waits for the
    digest; then the subject leaves. ``closed_at``: when its latest closing
    version arrived, kept if it opens again: every older version is behind it.
    """

    item: NotificationItem
    group_key: str
    digest: bool = Field(False, **_OMIT_FALSY)
    repeat_interval: timedelta
    escalate_after: timedelta | None = Field(None, **_OMIT_FALSY)
    since: EventTime
    queued: Literal["group", "digest"] | None = Field(None, **_OMIT_FALSY)
    queued_at: EventTime | None = Field(None, **_OMIT_FALSY)
    told_at: EventTime | None = Field(None, **_OMIT_FALSY)
    told_severity: str | None = Field(None, **_OMIT_FALSY)
    acknowledged: bool = Field(False, **_OMIT_FALSY)
    escalations: int = Field(0, **_OMIT_FALSY)
    """How far up the escalation chain the current episode has gone."""
    closed: bool = Field(False, **_OMIT_FALSY)
    closed_at: EventTime | None = Field(None, **_OMIT_FALSY)


def _subject_map_schema(source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
    as_dict = handler(dict[str, Subject])
    return core_schema.no_info_after_validator_function(
        immutables.Map,
        as_dict,
        serialization=core_schema.plain_serializer_function_ser_schema(
            lambda subjects: dict(sorted(subjects.items())), return_schema=as_dict
        ),
    )


SubjectMap = Annotated[immutables.Map[str, Subject], GetPydanticSchema(_subject_map_schema)]
"""An inbox's subjects by id: a persistent map, serialised as a JSON object in id order.

A buyer's inbox holds thousands of subjects and every item received
changes one or two of them; the inbox is never changed in place, so as a
dict each change copied all of them (and freed the old copy): the largest
share of the notifier in a drain. A new map shares all but a path of
nodes with the old one. Its iteration order follows the ids' hashes, so
nothing read from it may depend on that order: notifications list their
items sorted and are sent in time order.
"""


class Group(BaseModel):
    """A group's timing (from the latest route that fed it) and its last message."""

    wait: timedelta
    interval: timedelta
    sent_at: EventTime | None = Field(None, **_OMIT_FALSY)


class _Quiet(NamedTuple):
    """An inbox's quiet bound and what it was computed for.

    The digest time depends on the person and the escalations on the length
    of their chain; a new routing file may change either, and then the bound
    is computed again. ``exact``: computed by a pass, so ``due`` at ``until``
    does change the inbox; a bound carried over by ``receive`` may be earlier
    than the inbox's true one (the old version of the subject may have set it).
    The other moments are kept apart, so that ``due`` skips the steps with
    nothing to do: no group flushes before ``flush_from``, no subject
    escalates before ``escalate_from`` or is reminded before
    ``remind_from``, and no subject's last news (``last_news``) is earlier than
    ``news_from``, so nothing is forgotten before ``news_from +
    FORGET_AFTER``. Carried over the same way, each stays at or below the
    true one.
    """

    person: Person
    chain: int
    until: datetime
    exact: bool
    news_from: datetime
    flush_from: datetime
    escalate_from: datetime
    remind_from: datetime


class Inbox(BaseModel):
    """What one recipient has been told and is about to be told; stored per recipient.

    Serialised compactly (defaults and empty fields are left out):
    ``Inbox.model_validate_json(inbox.model_dump_json())`` gives it back.

    Never changed in place (always ``model_copy(update=...)``): its quiet bound
    (``_quiet``, see the module's *Cost*) is kept on the object, and an inbox
    carrying one has no group that no subject belongs to.
    """

    recipient: str
    subjects: SubjectMap = Field(default_factory=immutables.Map, **_OMIT_FALSY)
    groups: dict[str, Group] = Field(default_factory=dict, **_OMIT_FALSY)
    digest_day: date | None = Field(None, **_OMIT_FALSY)

    _quiet: _Quiet | None = PrivateAttr(None)
    _moments: Moments | None = PrivateAttr(None)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy without the quiet bound and the moments index, which describe this inbox's
        subjects (``_derived`` hands the index over)."""
        copied = super().model_copy(update=update, deep=deep)
        copied._quiet = None
        copied._moments = None
        return copied

    def __eq__(self, other: object) -> bool:
        """Equal by content: the quiet bound is a cache, not part of what the inbox says."""
        if not isinstance(other, Inbox):
            return NotImplemented
        return (self.recipient, self.subjects, self.groups, self.digest_day) == (
            other.recipient,
            other.subjects,
            other.groups,
            other.digest_day,
        )


# --- helpers ------------------------------------------------------------------------------


def group_key(recipient: str, group_by: Iterable[str], labels: Mapping[str, str]) -> str:
    """The group of an item: the recipient and the values of the route's ``group_by`` labels.

    >>> group_key("li", ("rule_id", "warehouse_id"), {"rule_id": "stockout_risk"})
    'li|rule_id=stockout_risk,warehouse_id='
    """
    return f"{recipient}|" + ",".join(f"{name}={labels.get(name, '')}" for name in group_by)


def notification_id(recipient: str, key: str, item_ids: Iterable[str], at: datetime) -> str:
    """Deterministic notification id: recipient, group key, sorted item ids and formation time.

    >>> t = datetime(2026, 3, 2, 9, tzinfo=UTC)
    >>> notification_id("li", "li|x", ["b", "a"], t) == notification_id("li", "li|x", ["a", "b"], t)
    True
    """
    content = orjson.dumps(["notification", recipient, key, sorted(item_ids), _utc(at).isoformat()])
    return hashlib.sha256(content).hexdigest()[:16]


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"now {moment.isoformat()}: must be timezone-aware (event time, UTC)")
    return moment.astimezone(UTC)


def _zone(person: Person) -> ZoneInfo:
    try:
        return ZoneInfo(person.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"person {person.id!r}: timezone {person.timezone!r} is not an IANA zone "
            "(e.g. Asia/Shanghai)"
        ) from None


def in_quiet_hours(person: Person, moment: datetime) -> bool:
    """Whether ``moment`` falls in the person's local quiet hours (start included, end not).

    >>> from datetime import time
    >>> from models.notifications import QuietHours
    >>> night = QuietHours(start=time(22), end=time(7))
    >>> p = Person(id="p", name="P", timezone="Asia/Shanghai", channels=(), quiet_hours=night)
    >>> in_quiet_hours(p, datetime(2026, 3, 2, 15, tzinfo=UTC))  # 23:00 in Shanghai
    True
    >>> in_quiet_hours(p, datetime(2026, 3, 2, 23, tzinfo=UTC))  # 07:00 in Shanghai
    False
    """
    quiet = person.quiet_hours
    if quiet is None or quiet.start == quiet.end:
        return False
    local = _utc(moment).astimezone(_zone(person)).time()
    if quiet.start < quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end


def digest_time(person: Person, now: datetime) -> tuple[date, datetime]:
    """The latest digest time at or before ``now``: the local day and the instant in UTC.

    A ``digest_at`` that does not exist on a spring-forward day is taken with
    the offset before the change (02:30 in Berlin on 2026-03-29 is 03:30 CEST);
    one that exists twice in autumn is the first.

    >>> p = Person(id="p", name="P", timezone="Europe/Berlin", channels=())
    >>> day, at = digest_time(p, datetime(2026, 3, 29, 7, tzinfo=UTC))  # 09:00 CEST
    >>> str(day), str(at)
    ('2026-03-29', '2026-03-29 06:30:00+00:00')
    """
    zone = _zone(person)
    day = _utc(now).astimezone(zone).date()
    instant = datetime.combine(day, person.digest_at, tzinfo=zone).astimezone(UTC)
    if instant > now:
        day -= timedelta(days=1)
        instant = datetime.combine(day, person.digest_at, tzinfo=zone).astimezone(UTC)
    return day, instant


def destinations(person: Person, critical: bool) -> tuple[Destination, ...]:
    """The person's channels, plus their critical channels for critical items and escalations."""
    chosen = (*person.channels, *person.critical_channels) if critical else person.channels
    return tuple(dict.fromkeys(chosen))


def _newer(item: NotificationItem, than: NotificationItem) -> bool:
    return (item.at, item.id) > (than.at, than.id)


def _joins_queue(subject: Subject, item: NotificationItem, arrived: datetime) -> bool:
    """Whether ``item``, no newer than ``subject``'s version, would have joined the queue
    waiting now had it arrived at ``arrived`` in time order.

    A record read again after a crash brings such versions: one the
    recipient was told of since (``told_at``), one a closing version or a
    rise to critical has since put behind a new episode (``closed_at``,
    ``since``). Their arrival belongs to a queue that is gone; counted, it
    would send the waiting group's message earlier and with other items
    than a clean run's. Only a subject never told nor closed has no such
    boundary: any version's arrival counts, whatever the order.
    """
    if item.closes or subject.closed:
        return False
    if subject.closed_at is not None and arrived <= subject.closed_at:
        return False
    return subject.told_at is None or (subject.since <= arrived and subject.told_at < arrived)


def _notification(
    urgency: Urgency,
    subjects: Sequence[Subject],
    person: Person,
    key: str,
    at: datetime,
    escalated_from: Person | None = None,
) -> Notification:
    items = ordered(s.item for s in subjects)
    listed = items[:LISTED_ITEMS]
    severity = items[0].severity
    message = render(
        urgency,
        items,
        person.language,
        recipient_name=person.name,
        escalated_from=escalated_from.name if escalated_from is not None else None,
    )
    critical = urgency is Urgency.ESCALATION or (
        urgency is not Urgency.DIGEST and severity == "critical"
    )
    return Notification(
        id=notification_id(person.id, key, [item.id for item in items], at),
        recipient=person.id,
        group_key=key,
        urgency=urgency,
        severity=severity,
        at=at,
        language=person.language,
        destinations=destinations(person, critical),
        title=message.title,
        body=message.body,
        html=message.html,
        short=message.short,
        items=tuple(listed),
        unlisted=len(items) - len(listed),
        actions=tuple(dict.fromkeys(action for item in listed for action in item.actions)),
    )


def _told(subject: Subject, at: datetime) -> Subject:
    return subject.model_copy(
        update={
            "queued": None,
            "queued_at": None,
            "told_at": at,
            "told_severity": subject.item.severity,
        }
    )


# --- receive ------------------------------------------------------------------------------


def receive(
    inbox: Inbox,
    item: NotificationItem,
    labels: Mapping[str, str],
    match: RouteMatch,
    person: Person,
    now: datetime,
) -> tuple[Inbox, list[Notification]]:
    """Take one routed item for the inbox's recipient at event time ``now``.

    ``labels`` are the item's routing labels (for the group key), ``match`` the
    route that sent it here, ``person`` the recipient; the item carries its
    one-click actions (acknowledge, approve). Returns the new inbox and the messages due at
    ``now`` for the item's group (a ``group_wait`` of zero, or a group tick that
    has passed); ``due`` sends everything else.
    """
    if person.id != inbox.recipient:
        raise ValueError(f"receive: person {person.id!r} is not the inbox's {inbox.recipient!r}")
    now = _utc(now)
    old = inbox.subjects.get(item.subject_id)
    key = group_key(inbox.recipient, match.group_by, labels)
    if old is not None and not _newer(item, old.item):
        # A duplicate, or older than the version held: only its arrival counts, so that the
        # queue starts at the earliest arrival whatever order the versions came in, unless
        # that arrival belongs to a queue already told or closed (``_joins_queue``).
        if old.queued_at is None or old.queued_at <= now or not _joins_queue(old, item, now):
            return inbox, []
        earlier = old.model_copy(update={"queued_at": now})
        return _flush_groups(_replaced(inbox, earlier, inbox.groups), person, now)
    queued_at = min(old.queued_at, now) if old is not None and old.queued_at is not None else now
    if item.closes:
        if old is None or old.told_at is None:
            # Never told: nothing to tell. The closed subject stays (until FORGET_AFTER) so that
            # an older version arriving late does not open it again.
            closed = Subject(
                item=item,
                group_key=key,
                repeat_interval=match.repeat_interval,
                since=now,
                closed=True,
                closed_at=now,
            )
            return _regrouped(inbox, old, _replaced(inbox, closed, inbox.groups)), []
        closing = old.model_copy(
            update={
                "item": item,
                "closed": True,
                "closed_at": now,
                "queued": "digest",
                "queued_at": queued_at,
            }
        )
        return _replaced(inbox, closing, inbox.groups), []
    news = old is None or old.closed or old.told_at is None
    rose = (
        old is not None
        and old.told_severity is not None
        and severity_rank(item.severity) > severity_rank(old.told_severity)
    )
    settings = {
        "item": item,
        "group_key": key,
        "digest": match.digest,
        "repeat_interval": match.repeat_interval,
        "escalate_after": match.escalate_after,
    }
    if old is None or old.closed:
        subject = Subject(**settings, since=now, closed_at=old.closed_at if old else None)
    elif rose:
        subject = old.model_copy(
            update={**settings, "since": now, "acknowledged": False, "escalations": 0}
        )
    else:
        fell = old.told_severity is not None and severity_rank(item.severity) < severity_rank(
            old.told_severity
        )
        subject = old.model_copy(
            update=settings | ({"told_severity": item.severity} if fell else {})
        )
    if news or rose:
        subject = subject.model_copy(
            update={"queued": "digest" if match.digest else "group", "queued_at": queued_at}
        )
    groups = dict(inbox.groups)
    retimed = False
    if subject.queued == "group":
        group = groups.get(key)
        wait, interval = match.group_wait, match.group_interval
        retimed = group is not None and (group.wait, group.interval) != (wait, interval)
        timing = {"wait": wait, "interval": interval}
        groups[key] = group.model_copy(update=timing) if group else Group(**timing)
    received = _replaced(inbox, subject, groups, carry=not retimed)
    flushed, sent = _visiting(
        received, "arrivals", now, lambda at, arrived: _flush_groups(at, person, now, arrived)
    )
    return _regrouped(inbox, old, flushed), sent


def _replaced(
    inbox: Inbox, subject: Subject, groups: dict[str, Group], carry: bool = True
) -> Inbox:
    """The inbox with ``subject`` in place of its previous version, and ``groups``.

    Its quiet bound is carried over without a pass when the old inbox has one
    and ``carry`` (no group's timing changed): the old bound covers every
    other subject, the new version adds its own moments and its group's
    flush at its arrival (a flush time grows with the earliest arrival it
    waits for, so a group's is the earliest of its members'). What the
    previous version waited for leaves, which only makes the true bound later.
    """
    subject_id = subject.item.subject_id
    replaced = _derived(
        inbox, (subject_id,), subjects=inbox.subjects.set(subject_id, subject), groups=groups
    )
    quiet = inbox._quiet
    if quiet is None or not carry:
        return replaced
    flush_from, escalate_from, remind_from = (
        quiet.flush_from,
        quiet.escalate_from,
        quiet.remind_from,
    )
    if subject.queued == "group":
        group = groups[subject.group_key]
        if subject.queued_at is None or group.interval < timedelta(0):
            return replaced
        flush_from = min(flush_from, _flush_at(group, subject.queued_at))
    escalate_from = min(escalate_from, escalation_at(subject, quiet.chain))
    remind_from = min(remind_from, reminder_at(subject))
    news = last_news(subject)
    forget = NEVER if subject.queued else news + FORGET_AFTER
    replaced._quiet = quiet._replace(
        until=min(quiet.until, forget, flush_from, escalate_from, remind_from),
        exact=False,
        news_from=min(quiet.news_from, news),
        flush_from=flush_from,
        escalate_from=escalate_from,
        remind_from=remind_from,
    )
    return replaced


def _regrouped(before: Inbox, old: Subject | None, inbox: Inbox) -> Inbox:
    """``inbox`` after a subject changed, without the groups no subject belongs to any more.

    Only the subject's previous group can have lost its last subject, and
    ``before`` carrying a quiet bound had no such group: when the subject kept
    its group, there is nothing to look for; when it moved, only whether
    another subject is still in the previous one (usually the first few
    looked at). Dropping a group only removes moments, so the bound stays
    with the tidied inbox.
    """
    if before._quiet is not None:
        if old is None:
            return inbox
        key = old.group_key
        if (
            inbox.subjects[old.item.subject_id].group_key == key
            or key not in inbox.groups
            or any(subject.group_key == key for subject in inbox.subjects.values())
        ):
            return inbox
        tidied = _derived(
            inbox, (), groups={k: group for k, group in inbox.groups.items() if k != key}
        )
    else:
        tidied = _tidy(inbox)
    if tidied is not inbox:
        tidied._quiet = inbox._quiet
    return tidied


def _derived(inbox: Inbox, changed: Iterable[str], **update: Any) -> Inbox:
    """``inbox`` with ``update``, in which at most the subjects ``changed`` differ; it takes
    over the inbox's moments index, if the inbox owns one (``models.inbox_moments``)."""
    derived = inbox.model_copy(update=update)
    moments = inbox._moments
    if moments is not None and moments.owner is inbox:
        moments.hand_over(derived, inbox.subjects, derived.subjects, changed)
        derived._moments = moments
    return derived


def _moments_for(inbox: Inbox, chain: int) -> Moments:
    """The inbox's moments index for a chain of ``chain`` people: its own, or built now."""
    moments = inbox._moments
    if (
        moments is None
        or moments.owner is not inbox
        or moments.chain != chain
        or moments.outgrown(inbox.subjects)
    ):
        moments = inbox._moments = Moments.of(inbox, inbox.subjects, chain)
    return moments


Step = Callable[[Inbox, Collection[str] | None], tuple[Inbox, list[Notification]]]
"""One of ``due``'s steps, over the subjects named (None: every subject)."""


def _visiting(
    inbox: Inbox, kind: Kind, now: datetime, step: Step
) -> tuple[Inbox, list[Notification]]:
    """``step`` over the subjects whose ``kind`` moment came by ``now``, as the inbox's moments
    index tells; over every subject when it has none, or holds what the index cannot account
    for (``Moments.accounts_for``)."""
    moments = inbox._moments
    if moments is None or moments.owner is not inbox or not moments.accounts_for(inbox.groups):
        return step(inbox, None)
    groups = inbox.groups
    taken = moments.take(kind, now, inbox.subjects, lambda key, at: _flush_at(groups[key], at))
    after, sent = step(inbox, {subject_id for _, _, subject_id, _ in taken})
    moments.put_back(kind, taken, after.subjects)
    return after, sent


# --- due ----------------------------------------------------------------------------------


def _flush_at(group: Group, earliest: datetime) -> datetime:
    """When a group sends what it holds: ``group_wait`` after it formed, else its next tick."""
    if group.sent_at is None:
        return earliest + group.wait
    if not group.interval:
        return max(earliest, group.sent_at)
    ticks = max(1, -((group.sent_at - earliest) // group.interval))
    return group.sent_at + ticks * group.interval


def _flush_groups(
    inbox: Inbox, person: Person, now: datetime, arrived: Collection[str] | None = None
) -> tuple[Inbox, list[Notification]]:
    """Send every group message due at ``now``, in time order (one group may send twice).

    Before the inbox's quiet bound no group is due: no pass. ``arrived``: the
    subjects queued for a group by ``now`` (None: look at every subject); a
    group whose first arrival is later is not due yet.
    """
    if inbox._quiet is not None and now < inbox._quiet.until:
        return inbox, []
    subjects, groups = inbox.subjects, dict(inbox.groups)
    sent: list[Notification] = []
    changed: list[str] = []
    while True:
        queued: dict[str, list[Subject]] = {}
        pool = _pool(subjects, arrived)
        for subject in pool:
            if subject.queued == "group":
                queued.setdefault(subject.group_key, []).append(subject)
        schedule = sorted(
            (_flush_at(groups[key], min(s.queued_at or now for s in members)), key)
            for key, members in queued.items()
        )
        if not schedule or schedule[0][0] > now:
            break
        at, key = schedule[0]
        members = [s for s in queued[key] if s.queued_at is not None and s.queued_at <= at]
        quiet = in_quiet_hours(person, at)
        told = [s for s in members if not quiet or s.item.severity == "critical"]
        told_ids = {s.item.subject_id for s in told}
        flushed = subjects.mutate()
        for subject in members:
            changed.append(subject.item.subject_id)
            if subject.item.subject_id in told_ids:
                flushed[subject.item.subject_id] = _told(subject, at)
            else:
                flushed[subject.item.subject_id] = subject.model_copy(update={"queued": "digest"})
        subjects = flushed.finish()
        if told:
            sent.append(_notification(Urgency.IMMEDIATE, told, person, key, at))
            groups[key] = groups[key].model_copy(update={"sent_at": at})
    if not changed:
        return inbox, sent
    return _derived(inbox, changed, subjects=subjects, groups=groups), sent


def escalation_chain(person: Person, people: Mapping[str, Person]) -> list[Person]:
    """The people above ``person``, nearest first: who hears of what they leave unacknowledged.

    The routing file refuses a chain that loops; a name missing from the
    directory (a routing file replaced since) ends the chain there.
    """
    chain: list[Person] = []
    seen = {person.id}
    current = people.get(person.escalate_to) if person.escalate_to else None
    while current is not None and current.id not in seen:
        chain.append(current)
        seen.add(current.id)
        current = people.get(current.escalate_to) if current.escalate_to else None
    return chain


def _pool(subjects: SubjectMap, named: Collection[str] | None) -> Iterable[Subject]:
    """The subjects a step visits: those ``named``, or every one."""
    return subjects.values() if named is None else [subjects[sid] for sid in named]


def _escalations(
    inbox: Inbox,
    person: Person,
    people: Mapping[str, Person],
    now: datetime,
    late_ones: Collection[str] | None = None,
) -> tuple[Inbox, list[Notification]]:
    """Unacknowledged subjects go one level up the chain per ``escalate_after`` they wait.

    ``late_ones``: the subjects whose next escalation came by ``now`` (None:
    look at every subject).
    """
    chain = escalation_chain(person, people)
    late: dict[tuple[int, str], list[tuple[datetime, Subject]]] = {}
    pool = _pool(inbox.subjects, late_ones)
    for subject in pool:
        after = subject.escalate_after
        if after is None or subject.acknowledged or subject.closed:
            continue
        level = subject.escalations
        while level < len(chain) and subject.since + (level + 1) * after <= now:
            late.setdefault((level, subject.group_key), []).append(
                (subject.since + (level + 1) * after, subject)
            )
            level += 1
    if not late:
        return inbox, []
    sent = []
    changed = []
    subjects = inbox.subjects.mutate()
    for (level, key), pairs in sorted(late.items()):
        at = max(moment for moment, _ in pairs)
        members = [subject for _, subject in pairs]
        escalation_key = f"{key}|escalation"
        sent.append(
            _notification(Urgency.ESCALATION, members, chain[level], escalation_key, at, person)
        )
        for subject in members:
            current = subjects[subject.item.subject_id]
            subjects[subject.item.subject_id] = current.model_copy(
                update={"escalations": max(current.escalations, level + 1)}
            )
            changed.append(subject.item.subject_id)
    sent.sort(key=lambda notification: (notification.at, notification.id))
    return _derived(inbox, changed, subjects=subjects.finish()), sent


def _reminders(
    inbox: Inbox, person: Person, now: datetime, reminded: Collection[str] | None = None
) -> tuple[Inbox, list[Notification]]:
    """Open subjects told ``repeat_interval`` ago are told again, or wait for the digest.

    ``reminded``: the subjects whose reminder came by ``now`` (None: look at
    every subject).
    """
    subjects = inbox.subjects.mutate()
    due_by_group: dict[str, list[tuple[datetime, Subject]]] = {}
    changed: list[str] = []
    pool = _pool(inbox.subjects, reminded)
    for subject in pool:
        if subject.acknowledged or subject.closed or subject.queued:
            continue
        told, every = subject.told_at, subject.repeat_interval
        if told is None or not every:
            continue
        repeats = (now - told) // every
        if repeats < 1:
            continue
        at = told + repeats * every
        if subject.digest or (subject.item.severity != "critical" and in_quiet_hours(person, at)):
            subjects[subject.item.subject_id] = subject.model_copy(
                update={"queued": "digest", "queued_at": at}
            )
            changed.append(subject.item.subject_id)
        else:
            due_by_group.setdefault(subject.group_key, []).append((at, subject))
    if not changed and not due_by_group:
        return inbox, []
    sent = []
    for key, pairs in sorted(due_by_group.items()):
        at = max(moment for moment, _ in pairs)
        members = [subject for _, subject in pairs]
        sent.append(_notification(Urgency.REMINDER, members, person, key, at))
        for subject in members:
            subjects[subject.item.subject_id] = _told(subject, at)
            changed.append(subject.item.subject_id)
    return _derived(inbox, changed, subjects=subjects.finish()), sent


def _digest(inbox: Inbox, person: Person, now: datetime) -> tuple[Inbox, list[Notification]]:
    day, at = digest_time(person, now)
    if inbox.digest_day is not None and day <= inbox.digest_day:
        return inbox, []
    members = [
        s
        for s in inbox.subjects.values()
        if s.queued == "digest" and s.queued_at is not None and s.queued_at <= at
    ]
    subjects = inbox.subjects.mutate()
    sent = []
    if members:
        key = f"{inbox.recipient}|{DIGEST}"
        sent.append(_notification(Urgency.DIGEST, members, person, key, at))
        for subject in members:
            if subject.closed:
                del subjects[subject.item.subject_id]
            else:
                subjects[subject.item.subject_id] = _told(subject, at)
    told = [subject.item.subject_id for subject in members]
    return _derived(inbox, told, subjects=subjects.finish(), digest_day=day), sent


def _tidy(inbox: Inbox, now: datetime | None = None) -> Inbox:
    """Drop subjects without news for ``FORGET_AFTER`` and groups no subject belongs to."""
    subjects = inbox.subjects
    forgotten: set[str] = set()
    if now is not None:
        # Once per record over every subject of the inbox: compare, build only when one goes.
        horizon = now - FORGET_AFTER
        forgotten = {
            sid
            for sid, s in subjects.items()
            if not s.queued and s.item.at <= horizon and s.since <= horizon
        }
        if forgotten:
            kept = subjects.mutate()
            for sid in forgotten:
                del kept[sid]
            subjects = kept.finish()
    used = {s.group_key for s in subjects.values()}
    groups = {key: group for key, group in inbox.groups.items() if key in used}
    if len(subjects) == len(inbox.subjects) and len(groups) == len(inbox.groups):
        return inbox
    return _derived(inbox, forgotten, subjects=subjects, groups=groups)


def due(
    inbox: Inbox, people: Mapping[str, Person], now: datetime
) -> tuple[Inbox, list[Notification]]:
    """Everything due for the inbox's recipient at event time ``now`` (a tick).

    An inbox nothing fell due in comes back as the very object given, so the
    worker can tell that without serialising it (``streams.inboxes``); before
    its quiet bound, at once.

    In order: group messages whose wait or interval passed, escalations (to
    ``escalate_to``, as notifications addressed to that person), reminders,
    and the daily digest. ``people`` is the routing file's directory; a
    recipient missing from it is told nothing and the inbox is kept as it is
    (they may come back with the next routing file).
    """
    now = _utc(now)
    person = people.get(inbox.recipient)
    if person is None:
        return inbox, []
    chain = len(escalation_chain(person, people))
    if now < _quiet_for(inbox, person, chain, now, recheck=False):
        return inbox, []
    # The bound's moments tell which steps have nothing to do, and the moments index
    # (models.inbox_moments, made ready here) which subjects each of the others visits. A
    # group message tells its subjects, which moves their reminders (to no later than now,
    # if the flush came late), and so do nothing else before the reminders.
    quiet = _kept(inbox, person, chain)
    _moments_for(inbox, chain)
    before, held = inbox, len(inbox.subjects)
    sent: list[Notification] = []
    escalated: list[Notification] = []
    reminded: list[Notification] = []
    if quiet is None or quiet.flush_from <= now:
        inbox, sent = _visiting(
            inbox, "arrivals", now, lambda at, arrived: _flush_groups(at, person, now, arrived)
        )
    flushed = inbox is not before
    if quiet is None or quiet.escalate_from <= now:
        inbox, escalated = _visiting(
            inbox, "escalations", now, lambda at, late: _escalations(at, person, people, now, late)
        )
    if quiet is None or quiet.remind_from <= now or flushed:
        inbox, reminded = _visiting(
            inbox, "reminders", now, lambda at, reminded: _reminders(at, person, now, reminded)
        )
    inbox, digested = _digest(inbox, person, now)
    # Tidying has nothing to do when no subject's news is old enough to forget and none left:
    # the steps above never move a subject to another group, and an inbox that carried a
    # bound had no group without subjects.
    if quiet is None or len(inbox.subjects) < held or quiet.news_from <= now - FORGET_AFTER:
        inbox = _tidy(inbox, now)
    # Bound now, in one pass, so that the next items received carry it over.
    _quiet_for(inbox, person, chain, now, recheck=True)
    return inbox, [*sent, *escalated, *reminded, *digested]


def _quiet_for(
    inbox: Inbox, person: Person, chain: int, now: datetime, *, recheck: bool
) -> datetime:
    """The inbox's quiet bound for ``person`` and a chain of ``chain`` people, kept on the inbox.

    The bound kept is used when it was computed for them and either exact or
    still ahead of ``now``. A carried one that ``now`` reached may be earlier
    than the inbox's true one; it is computed again only when ``recheck``.
    Before ``due``'s work it is not: a carried bound is reached because
    something fell due 97 times in 100 (a ``make bench`` drain), so a pass to
    check it would only come before the passes of the work itself.
    """
    quiet = _kept(inbox, person, chain)
    if quiet is not None and (quiet.exact or now < quiet.until or not recheck):
        return quiet.until
    computed = _quiet_until(inbox, person, chain)
    if computed is None:
        return AT_ONCE
    inbox._quiet = computed
    return computed.until


def _kept(inbox: Inbox, person: Person, chain: int) -> _Quiet | None:
    """The quiet bound kept on the inbox, if it was computed for ``person`` and ``chain``."""
    quiet = inbox._quiet
    if quiet is None or quiet.chain != chain:
        return None
    return quiet if quiet.person is person or quiet.person == person else None


def _quiet_until(inbox: Inbox, person: Person, chain: int) -> _Quiet | None:
    """The earliest event time at which ``due`` can change the inbox or tell anything, with the
    moments of each step (``_Quiet``), read off the inbox's moments index.

    The earliest of every queued group's flush, every subject's own moments
    (``escalation_at``, ``reminder_at``, forgetting) and the next digest
    day. None when the inbox holds what the bound does not account for, a
    group no subject belongs to (the next ``_tidy`` drops it) or a subject
    queued for a group it does not have: ``due`` then does its whole work, as
    it always did.
    """
    moments = _moments_for(inbox, chain)
    if not moments.accounts_for(inbox.groups):
        return None
    subjects = inbox.subjects
    oldest_idle = moments.first(moments.idle, subjects)
    forget = oldest_idle + FORGET_AFTER if oldest_idle < NEVER - FORGET_AFTER else NEVER
    flush_from = min(
        (_flush_at(inbox.groups[key], at) for key, at in moments.first_arrivals(subjects)),
        default=NEVER,
    )
    escalate_from = moments.first(moments.escalations, subjects)
    remind_from = moments.first(moments.reminders, subjects)
    until = min(_next_digest_day(inbox, person), forget, flush_from, escalate_from, remind_from)
    news_from = moments.first(moments.news, subjects)
    return _Quiet(person, chain, until, True, news_from, flush_from, escalate_from, remind_from)


def _next_digest_day(inbox: Inbox, person: Person) -> datetime:
    """When ``_digest`` next changes the inbox: the digest time of the day after ``digest_day``.

    It records each new local day's digest, with or without anything in it.
    ``digest_time`` gives the latest digest time at or before ``now``, and a
    later day's digest time is later, so no day after ``digest_day`` comes
    sooner. No digest yet: the first ``due`` records one.
    """
    if inbox.digest_day is None:
        return AT_ONCE
    return _digest_at(person, inbox.digest_day + timedelta(days=1))


def _digest_at(person: Person, day: date) -> datetime:
    """The instant of the person's digest on local ``day``, in UTC (see ``digest_time``)."""
    return datetime.combine(day, person.digest_at, tzinfo=_zone(person)).astimezone(UTC)


def next_due(inbox: Inbox, people: Mapping[str, Person], now: datetime) -> datetime | None:
    """When ``due`` will next have something to do for this inbox, if nothing else arrives.

    The earliest of its groups' flushes, its subjects' next escalation and
    reminder, and its next digest (None: nothing waits). A time at or before
    ``now`` means something is due already. A simulation calls ``due`` at
    exactly these times instead of polling every inbox on a fixed tick.
    """
    now = _utc(now)
    person = people.get(inbox.recipient)
    if person is None:
        return None
    chain = len(escalation_chain(person, people))
    moments: list[datetime] = []
    queued: dict[str, datetime] = {}
    for subject in inbox.subjects.values():
        if subject.queued == "group" and subject.queued_at is not None:
            earliest = queued.get(subject.group_key)
            queued[subject.group_key] = min(earliest or subject.queued_at, subject.queued_at)
        if subject.acknowledged or subject.closed:
            continue
        after = subject.escalate_after
        if after is not None and subject.escalations < chain:
            moments.append(subject.since + (subject.escalations + 1) * after)
        if subject.told_at is not None and not subject.queued and subject.repeat_interval:
            moments.append(subject.told_at + subject.repeat_interval)
    moments += [_flush_at(inbox.groups[key], at) for key, at in queued.items()]
    waiting = [s.queued_at for s in inbox.subjects.values() if s.queued == "digest" and s.queued_at]
    if waiting:
        first = min(waiting)
        day = first.astimezone(_zone(person)).date()
        if _digest_at(person, day) < first:
            day += timedelta(days=1)
        if inbox.digest_day is not None and day <= inbox.digest_day:
            day = inbox.digest_day + timedelta(days=1)
        moments.append(_digest_at(person, day))
    return min(moments, default=None)


# --- acknowledge --------------------------------------------------------------------------


def acknowledge(inbox: Inbox, subject_id: str, now: datetime) -> Inbox:
    """Stop the reminders and the escalation of ``subject_id``: the person knows.

    A queued version is dropped too (it would tell them what they acknowledged);
    a closing item waiting for the digest stays. Only a rise of its severity
    makes the subject news again. An unknown subject changes nothing.
    """
    _utc(now)
    subject = inbox.subjects.get(subject_id)
    if subject is None or subject.closed:
        return inbox
    update: dict[str, object] = {"acknowledged": True}
    if subject.queued:
        update |= {"queued": None, "queued_at": None}
        if subject.told_at is None:
            update |= {"told_at": _utc(now), "told_severity": subject.item.severity}
    acknowledged = _replaced(inbox, subject.model_copy(update=update), inbox.groups)
    return _regrouped(inbox, subject, acknowledged)
