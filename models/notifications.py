"""Notifications: what the router tells one person, and how delivery reports it.

The router (``models.notifying``) turns alert transitions and response events
into notifications, one per recipient and group, each addressed to the
recipient's channels for its urgency. ``stockloop deliver`` sends them and
records every attempt as a ``Delivery``. Both are records on Kafka topics
(``stockloop.notifications`` keyed by recipient, ``stockloop.deliveries``
keyed by notification id), so a consumer of its own can take either.

A notification's ``id`` is derived from what it is about (recipient, group,
the items' ids and the event time it was formed at), never from the order in
which things were consumed: it is the idempotency key for every channel.

Channel addresses never hold secrets. An email address or a phone number is
the address itself; a webhook, Slack, DingTalk, WeCom or Feishu address is the
*name* of an endpoint whose URL and secret come from the delivery settings.
"""

from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, NonNegativeInt

from models.events import SCHEMA_VERSION, EventTime, Id, Text


class Channel(StrEnum):
    """How a message reaches a person."""

    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"
    SLACK = "slack"
    DINGTALK = "dingtalk"
    WECOM = "wecom"
    FEISHU = "feishu"


class Urgency(StrEnum):
    """Why a notification is sent now, or with the next digest."""

    IMMEDIATE = "immediate"  # a group's first message, or its next after group_interval
    REMINDER = "reminder"  # still open and unacknowledged after repeat_interval
    ESCALATION = "escalation"  # not acknowledged in time: the next person in the chain
    DIGEST = "digest"  # everything non-urgent since the last digest, once a day


class Destination(BaseModel):
    """One channel of a recipient: the channel and its address (or endpoint name)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: Channel
    address: Text


class NotificationAction(BaseModel):
    """A one-click action: a signed link (``models.action_links``) that writes an action."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: Text  # in the recipient's language
    url: str


class NotificationItem(BaseModel):
    """One thing a notification is about: an alert transition or a response event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Id  # alert, purchase_request, transfer, review, shortage
    id: Id  # the source record's own id (its idempotency key)
    subject_id: Id  # what it stands for over time: alert id, request id, order id ...
    at: EventTime
    severity: Id
    material_id: Id | None = None
    warehouse_id: Id | None = None
    rule_id: Id | None = None
    summary: Text  # one line in the recipient's language
    link: Text | None = None  # to the material or the request, when a base URL is set
    closes: bool = False  # the subject ends here: resolved, ordered, received, decided ...
    actions: tuple[NotificationAction, ...] = ()  # offered to this item's recipient
    value_at_risk: float | None = None  # an alert's money at risk: ranks items of a severity


class Notification(BaseModel):
    """One message to one recipient; ``id`` is its idempotency key on every channel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    id: Id
    recipient: Id
    group_key: Text
    urgency: Urgency
    severity: Id  # the highest severity among the items
    at: EventTime  # the event time it was formed at
    language: Id
    destinations: tuple[Destination, ...]
    title: Text
    body: str  # plain text
    html: str | None = None  # for email
    short: Text  # one SMS message: at most 70 characters
    items: tuple[NotificationItem, ...]  # those listed: the first LISTED_ITEMS (models.rendering)
    unlisted: NonNegativeInt = 0  # items told but not listed; the id counts them all
    actions: tuple[NotificationAction, ...] = ()


class DeliveryStatus(StrEnum):
    """The result of one attempt to send a notification on one channel."""

    DELIVERED = "delivered"
    RETRYING = "retrying"  # failed, another attempt is scheduled
    FAILED = "failed"  # the retry budget is spent: a person must look


class Delivery(BaseModel):
    """One attempt's result; never holds a secret, a URL with a token or a signature."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    id: Id  # notification id, channel, address and attempt
    notification_id: Id
    recipient: Id
    channel: Channel
    address: Text
    attempt: int
    status: DeliveryStatus
    at: datetime  # wall-clock time of the attempt: delivery lives outside event time
    reason: str | None = None  # one line, e.g. "HTTP 429 from dingtalk 'buyers' (rate limited)"


class QuietHours(BaseModel):
    """A recipient's local night: only critical items break through; the rest waits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time  # may be before start: the quiet hours span midnight


class Person(BaseModel):
    """A recipient from the routing file's directory: how and when to reach them.

    ``channels`` carry everything routed to them; ``critical_channels`` are
    added for critical items and escalations (the article: the most urgent by
    SMS). ``escalate_to`` is the next person in the chain when they do not
    acknowledge in time.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Id
    name: Text
    language: Literal["en", "zh-CN"] = "en"
    timezone: Id = "UTC"  # an IANA zone, e.g. Asia/Shanghai
    channels: tuple[Destination, ...]
    critical_channels: tuple[Destination, ...] = ()
    digest_at: time = time(8, 30)  # local time of the daily digest
    quiet_hours: QuietHours | None = None
    escalate_to: Id | None = None


class RouteMatch(BaseModel):
    """What a matching route says about one item: who hears of it, and when.

    Times have Alertmanager's meanings: ``group_wait`` before a new group's
    first message, ``group_interval`` between messages about new items of a
    group, ``repeat_interval`` before a still-open item is told again.
    ``digest`` sends the item with the recipient's next daily digest instead.
    ``escalate_after`` (critical alerts, pending approvals): not acknowledged
    within this time, it goes to each recipient's ``escalate_to``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    route: Text  # the matched route's path, e.g. "root/critical/purchasing"
    recipients: tuple[Id, ...]  # person ids, groups already expanded
    group_by: tuple[Id, ...] = ("rule_id", "warehouse_id")
    group_wait: timedelta = timedelta(seconds=30)
    group_interval: timedelta = timedelta(minutes=5)
    repeat_interval: timedelta = timedelta(hours=4)
    digest: bool = False
    escalate_after: timedelta | None = None
