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

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from models.action_links import ActionLink, sign
from models.alerting import Alert
from models.alerts import TransitionReason, TransitionStatus
from models.bom import ShortageResult
from models.events import EventTime, Id, Text
from models.notifications import NotificationAction, NotificationItem, RouteMatch
from models.purchasing import PurchaseRequest, RequestStatus
from models.rendering import item_of
from models.reviews import Review, ReviewStatus
from models.routing import RoutingFile, match
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


InboxInput = TypeAdapter(Annotated[RoutedItem | Settled | InboxTick, Field(discriminator="kind")])
"""A record on ``stockloop.notification-inbox``."""

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


def dispatch(
    record: Record,
    routing: RoutingFile,
    link_base: str | None,
    actions: "ActionMaker | None" = None,
) -> list[RoutedItem | Settled]:
    """Per recipient of every matching route: the settlement first, then the item.

    ``actions`` makes the one-click actions an item offers its recipient
    (None: links are not configured, the item offers none).
    """
    news, settled = is_news(record), settles(record)
    if not (news or settled):
        return []
    routed: list[RoutedItem | Settled] = []
    languages: dict[str, tuple[NotificationItem, dict[str, str]]] = {}
    _, labels = item_of(record, "en", link_base)
    for route in match(routing, labels):
        for recipient in route.recipients:
            person = routing.people[recipient]
            if person.language not in languages:
                languages[person.language] = item_of(record, person.language, link_base)
            item, item_labels = languages[person.language]
            if settled:
                routed.append(Settled(recipient=recipient, subject_id=item.subject_id, at=item.at))
            if news:
                if actions is not None:
                    offered = actions(record, item, recipient, person.language)
                    item = item.model_copy(update={"actions": offered})
                routed.append(
                    RoutedItem(recipient=recipient, item=item, labels=item_labels, match=route)
                )
    return routed


_LABELS = {
    "en": {"acknowledge": "Acknowledge", "approve": "Approve"},
    "zh-CN": {"acknowledge": "确认", "approve": "批准"},
}


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
        label = _LABELS.get(language, _LABELS["en"])[action]
        return (
            NotificationAction(label=label, url=f"{self.base_url}/actions/{sign(link, self.key)}"),
        )
