"""The notification router: alerts and response records in, one inbox per person, notifications out.

Two agents, because the sources are keyed by alert, request or order and a
person's notifications are formed in one place, keyed by recipient:

- ``route_to_inboxes`` reads ``stockloop.alerts`` and the response topics,
  matches each record against the routing file in force (the ``routes``
  response policy) and sends, per recipient, the item or its settlement to
  ``stockloop.notification-inbox``, a batch per recipient every 100 ms and
  at each commit (``streams.inbox_entries``);
- ``fill_inboxes`` keeps each recipient's ``Inbox`` (``models.notifying``) in
  the ``inboxes`` table, a record per subject written once per commit
  (``streams.inboxes``), and publishes what falls due on
  ``stockloop.notifications``, keyed by recipient.

Time is the items' event time; in live mode a timer also ticks every inbox
partition with the wall clock, so group waits, digests and escalations fall
due without new input. Notification ids are derived from their content, so a
record routed twice after a crash yields the same ids, which delivery sends
once.
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import faust
from aiokafka.partitioner import DefaultPartitioner
from faust.types import TP, EventT
from pydantic import BaseModel

from models.alert_quality import AlertRecord, closing_outcome, time_to_acknowledge
from models.alerting import Alert
from models.bom import ShortageResult
from models.dispatch import ActionMaker, InboxInput, InboxTick, RoutedBatch, dispatch, into_inbox
from models.events import encode
from models.notifications import Notification
from models.notifying import Inbox
from models.purchasing import PurchaseRequest
from models.reviews import Review
from models.transfers import Transfer
from streams.app import (
    app,
    catalogue,
    inboxes_table,
    notification_inbox_topic,
    notification_sources_topic,
    notifications_topic,
)
from streams.app import settings as app_settings
from streams.catalogue import (
    ALERTS,
    NOTIFICATION_INBOX,
    PURCHASE_REQUESTS,
    REVIEWS,
    SHORTAGES,
    TRANSFERS,
)
from streams.commit_flush import FlushOnCommit
from streams.inbox_entries import SEND_EVERY_S, InboxEntries
from streams.inboxes import Inboxes
from streams.metrics import (
    ACKNOWLEDGE_SECONDS,
    ALERTS_CLOSED,
    INBOX_RECORDS,
    NOTIFICATIONS,
    ROUTING_ERRORS,
)
from streams.policies import current_policies

log = logging.getLogger(__name__)
partitioner = DefaultPartitioner()
PARTITIONS = list(range(catalogue[NOTIFICATION_INBOX].partitions))
SOURCES: dict[str, type[BaseModel]] = {
    app_settings.topic(ALERTS): Alert,
    app_settings.topic(PURCHASE_REQUESTS): PurchaseRequest,
    app_settings.topic(TRANSFERS): Transfer,
    app_settings.topic(REVIEWS): Review,
    app_settings.topic(SHORTAGES): ShortageResult,
}


def _action_maker() -> ActionMaker | None:
    """Signed one-click actions, when the public URL and the signing key are set."""
    secret, base = app_settings.action_link_secret, app_settings.public_url
    if secret is None or base is None:
        return None
    ttl = timedelta(seconds=app_settings.action_link_ttl_s)
    return ActionMaker(secret.get_secret_value().encode(), base, ttl)


ACTIONS = _action_maker()
inboxes = Inboxes(inboxes_table)
app.sensors.add(FlushOnCommit(inboxes.flush))
routed = InboxEntries(notification_inbox_topic)
app.sensors.add(FlushOnCommit(routed.flush))


async def _reread(sender: faust.App, partitions: set[TP], **kwargs: object) -> None:
    """The partitions here may have changed: their inboxes are what the changelog restored."""
    inboxes.invalidate()


app.on_partitions_revoked.connect(_reread)
app.on_partitions_assigned.connect(_reread)


@app.agent(notification_sources_topic)
async def route_to_inboxes(stream: faust.StreamT[bytes]) -> None:
    """Send each record to the inboxes of the people its routes name."""
    async for record in stream.events():
        message = record.message
        try:
            source = SOURCES[message.topic].model_validate_json(message.value)
            entries = dispatch(source, current_policies().routes, app_settings.public_url, ACTIONS)
        except Exception:  # one record the router cannot read must not stop the others
            where = f"{message.topic}[{message.partition}]@{message.offset}"
            log.exception("cannot route %s", where)
            ROUTING_ERRORS.inc()
            continue
        if isinstance(source, Alert):
            count_alert_quality(source)
        for entry in entries:
            routed.add(entry)


def count_alert_quality(alert: Alert) -> None:
    """The live alert-quality metrics: how alerts end, and how soon they are acknowledged."""
    record = AlertRecord.of(alert)
    outcome = closing_outcome(record)
    if outcome is not None:
        ALERTS_CLOSED.labels(record.rule_id, record.receiver, outcome.value).inc()
    waited = time_to_acknowledge(alert)
    if waited is not None:
        ACKNOWLEDGE_SECONDS.labels(alert.rule_id).observe(waited.total_seconds())


def _recipients_in(partition: int) -> list[str]:
    return sorted(
        recipient
        for recipient in inboxes.recipients()
        if partitioner(recipient.encode(), PARTITIONS, PARTITIONS) == partition
    )


async def _settle(inbox: Inbox, notifications: list[Notification], cause: EventT) -> None:
    """Publish, then store the inbox if it changed. A send can wait for the producer, and a
    commit flushing an inbox stored before it would write what ``cause`` did while its
    notifications were not all sent: a crash then read ``cause`` again into an inbox that
    had told them. Stored after, a crash publishes again, with the same ids. Most ticks
    change nothing and write nothing."""
    for notification in notifications:
        await notifications_topic.send(
            key=notification.recipient.encode(), value=encode(notification)
        )
        NOTIFICATIONS.labels(notification.urgency.value).inc()
    inboxes.store(inbox, cause)


@app.timer(interval=SEND_EVERY_S)
async def send_routed() -> None:
    """Send what was routed without waiting for the commit, so that nobody hears later."""
    routed.flush()


@app.agent(notification_inbox_topic)
async def fill_inboxes(stream: faust.StreamT[bytes]) -> None:
    """Put items in their recipient's inbox and publish what falls due."""
    async for record in stream.events():
        message = record.message
        taken = InboxInput.validate_json(message.value)
        people = current_policies().routes.people
        for entry in taken.entries if isinstance(taken, RoutedBatch) else [taken]:
            INBOX_RECORDS.labels(entry.kind).inc()
            recipients = (
                _recipients_in(message.partition)
                if isinstance(entry, InboxTick)
                else [entry.recipient]
            )
            for recipient in recipients:
                await _settle(*into_inbox(inboxes.get(recipient), entry, people), record)
            await asyncio.sleep(0)  # a batch of hundreds of entries must not hold the loop


@app.timer(interval=app_settings.tick_interval_s, on_leader=True)
async def tick_inboxes() -> None:
    """Live mode: tick every inbox partition with the wall clock, so what waits falls due."""
    if app_settings.clock != "wall":
        return
    tick = encode(InboxTick(at=datetime.now(UTC)))
    for partition in PARTITIONS:
        await notification_inbox_topic.send(key=b"tick", value=tick, partition=partition)
