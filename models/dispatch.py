"""Dispatch: what one alert or response record means for each person's inbox.

The router reads ``stockloop.alerts`` and the response topics, which are keyed
by alert, request or order; a person's notifications are formed in their own
inbox, keyed by recipient. ``dispatch`` is the step between: it matches the
record's labels against the routing file and says, per recipient, either
"here is an item for you" or "this subject is settled" (an alert acknowledged
or resolved, a request decided, a transfer done, a review decided, a kit
complete), which stops the reminders and escalations of what came before.

Bookkeeping records (an alert update that only records a suppression or an
acknowledgement) are not news: they settle or do nothing.
"""

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Literal, Self

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from models.action_links import ActionLink, sign
from models.alerting import Alert
from models.alerts import TransitionReason, TransitionStatus
from models.bom import ShortageResult
from models.events import EventTime, Id, Text
from models.notifications import (
    Notification,
    NotificationAction,
    NotificationItem,
    Person,
    RouteMatch,
)
from models.notifying import Inbox, acknowledge, due, receive
from models.purchasing import PurchaseRequest, RequestStatus
from models.rendering import ACTION_LABELS, item_of
from models.reviews import Review, ReviewStatus
from models.routing import SEVERITIES, RoutingFile, match
from models.transfers import Transfer, TransferStatus

Record = Alert | PurchaseRequest | Transfer | Review | ShortageResult


class RoutedItem(BaseModel):
    """An item for one recipient, with the route that sent it there."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["item"] = "item"
    recipient: Id
    item: NotificationItem
    labels: dict[str, str]
    match: RouteMatch


class Settled(BaseModel):
    """A subject that needs nobody any more: no reminders, no escalation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["settled"] = "settled"
    recipient: Id
    subject_id: Text
    at: EventTime


class InboxTick(BaseModel):
    """Time passes for every inbox of a partition: groups, digests and escalations fall due."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["tick"] = "tick"
    at: EventTime


class RoutedBatch(BaseModel):
    """What the router sent one recipient between two of its commits, in the order it routed it.

    One record per recipient instead of one per entry: in a backlog every
    input event fanned out to about three inbox records, each crossing Faust
    at its fixed cost twice (produced, then consumed).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["batch"] = "batch"
    recipient: Id
    entries: list[Annotated[RoutedItem | Settled, Field(discriminator="kind")]]

    @model_validator(mode="after")
    def _one_recipient(self) -> Self:
        for entry in self.entries:
            if entry.recipient != self.recipient:
                raise ValueError(
                    f"entries: recipient {entry.recipient!r} in the batch of {self.recipient!r}"
                )
        return self


InboxInput = TypeAdapter(
    Annotated[RoutedItem | Settled | RoutedBatch | InboxTick, Field(discriminator="kind")]
)
"""A record on ``stockloop.notification-inbox``. Workers before batches sent each item and
settlement as a record of its own; those are still read."""


def batches(recipient: str, entries: list[bytes], limit: int) -> list[bytes]:
    """``RoutedBatch`` records of ``recipient`` holding ``entries`` (each already encoded) in order,
    each of at most about ``limit`` bytes, so that none nears Kafka's record size limit; an
    entry larger than ``limit`` alone is a record of its own."""
    records: list[bytes] = []
    chunk: list[bytes] = []
    size = 0
    for entry in entries:
        if chunk and size + len(entry) > limit:
            records.append(_batch(recipient, chunk))
            chunk, size = [], 0
        chunk.append(entry)
        size += len(entry) + 1
    if chunk:
        records.append(_batch(recipient, chunk))
    return records


def _batch(recipient: str, entries: list[bytes]) -> bytes:
    fragments = [orjson.Fragment(entry) for entry in entries]
    return orjson.dumps({"kind": "batch", "recipient": recipient, "entries": fragments})


_OPEN_REQUESTS = {RequestStatus.PROPOSED, RequestStatus.PENDING_APPROVAL}
_BOOKKEEPING = {TransitionReason.ACKNOWLEDGED, TransitionReason.UNSUPPRESSED}


def settles(record: Record) -> bool:
    """Whether the record ends what people were told about its subject."""
    match record:
        case Alert():
            return record.status is TransitionStatus.RESOLVED or record.acknowledged_by is not None
        case PurchaseRequest():
            return record.status not in _OPEN_REQUESTS
        case Transfer():
            return record.status is not TransferStatus.PROPOSED
        case Review():
            return record.status is ReviewStatus.DECIDED
        case ShortageResult():
            return not record.missing_components


def is_news(record: Record) -> bool:
    """Whether anyone should hear of the record itself (not only of its end)."""
    match record:
        case Alert():
            return (
                record.notify
                and record.status is not TransitionStatus.RESOLVED
                and record.reason not in _BOOKKEEPING
            )
        case _:
            return True


_OPEN_STATUSES = {
    "alert": ("raised", "updated", "repeated"),
    "purchase_request": ("proposed", "pending_approval"),
    "transfer": ("proposed", "approved", "shipped"),
    "review": ("open", "escalated"),
    "shortage": ("short",),
}
"""What a subject's status may have been while people were told of it, by event label."""


def _told_to(routing: RoutingFile, labels: dict[str, str]) -> list[str]:
    """Everyone a subject with ``labels`` may have been told of, at any severity or open status.

    A settling record carries its last severity and a closed status; the
    routes that told people of the subject matched earlier ones (a critical
    alert resolved as a warning, a pending request approved). Each of them
    must hear of the settlement, or their inboxes go on reminding them.
    """
    people: dict[str, None] = {}
    for severity in SEVERITIES:
        for status in _OPEN_STATUSES.get(labels.get("event", ""), (labels.get("status", ""),)):
            variant = labels | {"severity": severity, "status": status}
            for route in match(routing, variant):
                people.update(dict.fromkeys(route.recipients))
    return list(people)


def dispatch(
    record: Record,
    routing: RoutingFile,
    link_base: str | None,
    actions: "ActionMaker | None" = None,
) -> list[RoutedItem | Settled]:
    """The settlement for everyone who may have been told, then the item per matching route.

    ``actions`` makes the one-click actions an item offers its recipient
    (None: links are not configured, the item offers none).
    """
    news, settled = is_news(record), settles(record)
    if not (news or settled):
        return []
    items: dict[str, tuple[NotificationItem, dict[str, str]]] = {}

    def item_for(language: str) -> tuple[NotificationItem, dict[str, str]]:
        if language not in items:
            items[language] = item_of(record, language, link_base)
        return items[language]

    item, labels = item_for("en")
    routed: list[RoutedItem | Settled] = []
    if settled:
        routed += [
            Settled(recipient=recipient, subject_id=item.subject_id, at=item.at)
            for recipient in _told_to(routing, labels)
        ]
    if news:
        for route in match(routing, labels):
            for recipient in route.recipients:
                person = routing.people[recipient]
                told, told_labels = item_for(person.language)
                if actions is not None:
                    offered = actions(record, told, recipient, person.language)
                    told = told.model_copy(update={"actions": offered})
                routed.append(
                    RoutedItem(recipient=recipient, item=told, labels=told_labels, match=route)
                )
    return routed


def into_inbox(
    inbox: Inbox, entry: RoutedItem | Settled | InboxTick, people: Mapping[str, Person]
) -> tuple[Inbox, list[Notification]]:
    """One inbox record taken in: what the recipient is told now, and the inbox after it.

    An item is received and then everything due at its time is told; a
    settlement first tells what fell due by then (it ends only what comes
    after it), then stops the subject's reminders and escalation; a tick tells
    what fell due. An item for someone who left the directory is dropped.
    """
    match entry:
        case RoutedItem():
            person = people.get(entry.recipient)
            if person is None:
                return inbox, []
            at = entry.item.at
            inbox, told = receive(inbox, entry.item, entry.labels, entry.match, person, at)
            inbox, fallen_due = due(inbox, people, at)
            return inbox, told + fallen_due
        case Settled():
            inbox, fallen_due = due(inbox, people, entry.at)
            return acknowledge(inbox, entry.subject_id, entry.at), fallen_due
        case InboxTick():
            return due(inbox, people, entry.at)


class ActionMaker:
    """Signs the one-click actions an item offers: acknowledge an alert, approve a request.

    A link expires ``ttl`` after the item's event time, so the same record
    always yields the same link (replays included).
    """

    def __init__(self, key: bytes, base_url: str, ttl: timedelta) -> None:
        self.key = key
        self.base_url = base_url.rstrip("/")
        self.ttl = ttl

    def __call__(
        self, record: Record, item: NotificationItem, recipient: str, language: str
    ) -> tuple[NotificationAction, ...]:
        match record:
            case Alert():
                action, subject, alert_id = "acknowledge", record.key, record.alert_id
            case PurchaseRequest() if record.status is RequestStatus.PENDING_APPROVAL:
                action, subject, alert_id = "approve", record.request_id, None
            case _:
                return ()
        link = ActionLink(
            action=action,
            subject=subject,
            alert_id=alert_id,
            material_id=record.material_id,
            by=recipient,
            expires=item.at + self.ttl,
        )
        label = ACTION_LABELS.get(language, ACTION_LABELS["en"])[action]
        return (
            NotificationAction(label=label, url=f"{self.base_url}/actions/{sign(link, self.key)}"),
        )
