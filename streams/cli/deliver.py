"""``stockloop deliver``: notifications sent to people, and every attempt recorded.

The command reads ``stockloop.notifications`` in a consumer group of its own
(``deliver_group``) and sends each notification to each of its destinations
with ``connectors.delivery`` (email, SMS, webhook, Slack, DingTalk, WeCom,
Feishu), under the timeouts, retries and rate limits of the delivery settings
(``STOCKLOOP_DELIVERY__*``). Every attempt is a ``Delivery`` record on
``stockloop.deliveries`` (key: the notification id) and one line on stdout.

A record's offset is committed only once all its destinations are delivered
or failed and the broker has their records. At start-up the command reads
``stockloop.deliveries`` back, so that a notification delivered before (by
this command or a previous run, then redelivered after a crash) is not sent
again, and attempt numbers go on where they stopped.
"""

import asyncio
import os
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from typing import Annotated

import typer
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.producer.future import FutureRecordMetadata
from kafka.structs import OffsetAndMetadata
from prometheus_client import start_http_server
from pydantic import ValidationError
from rich.console import Console

from connectors.delivery.channels import open_channels
from connectors.delivery.endpoints import (
    EndpointDirectory,
    EndpointError,
    SmsAccount,
    SmtpServer,
    load_directory,
    parse_directory,
)
from connectors.delivery.sender import (
    Deliverer,
    DeliveryLedger,
    RateLimit,
    RetryBudget,
    destination_key,
)
from connectors.kafka_client import open_consumer, open_producer, require_topics
from connectors.topic_reader import read_topic
from models.events import describe_validation_error, encode
from models.notifications import Channel, Delivery, DeliveryStatus, Notification
from streams import metrics
from streams.catalogue import DELIVERIES, NOTIFICATIONS
from streams.cli.kafka import connection, fail, kafka_errors
from streams.settings import DeliverySettings, Settings

POLL_MS = 1_000
"""How long one poll waits for notifications."""

ONCE_IDLE_S = 10.0
"""``--once`` stops when nothing has arrived for this long, even short of the end it saw."""

MAX_POLL_RECORDS = 50
"""Notifications per poll, sent side by side; their offsets are committed together."""

MAX_POLL_INTERVAL_MS = 1_800_000
"""How long the group waits for the next poll: a poll's notifications may wait for rate
limits (50 to one DingTalk robot take 2.5 minutes) and retries (five attempts of up to a
minute each)."""

console = Console()
err_console = Console(stderr=True)


# --- from the settings to the connectors ----------------------------------------------------


def deliver_group(app_id: str) -> str:
    """The delivery's consumer group: its own offsets, apart from the worker's.

    >>> deliver_group("stockloop")
    'stockloop-deliver'
    """
    return f"{app_id}-deliver"


def endpoint_directory(delivery: DeliverySettings, environ: Mapping[str, str]) -> EndpointDirectory:
    """The endpoint directory from its file, else from the setting; empty without either."""
    if delivery.endpoints_file is not None:
        return load_directory(delivery.endpoints_file, environ)
    if delivery.endpoints is not None:
        return parse_directory(
            delivery.endpoints.get_secret_value(), "STOCKLOOP_DELIVERY__ENDPOINTS", environ
        )
    return EndpointDirectory()


def smtp_server(delivery: DeliverySettings) -> SmtpServer | None:
    """The mail server, if one is set."""
    if delivery.smtp_host is None:
        return None
    return SmtpServer(
        host=delivery.smtp_host,
        port=delivery.smtp_port,
        user=delivery.smtp_user,
        password=delivery.smtp_password,
        starttls=delivery.smtp_starttls,
        cafile=delivery.smtp_cafile,
        sender=delivery.smtp_from,
    )


def sms_account(delivery: DeliverySettings) -> SmsAccount | None:
    """The SMS provider account, if one is set (the settings checked it is complete)."""
    if delivery.sms_provider is None:
        return None
    return SmsAccount(
        provider=delivery.sms_provider,
        url=delivery.sms_url or "",
        account=delivery.sms_account or "",
        secret=delivery.sms_secret,
        sender=delivery.sms_sender or "",
        template=delivery.sms_template,
    )


def retry_budget(delivery: DeliverySettings) -> RetryBudget:
    """The attempts and waits each destination gets."""
    return RetryBudget(
        attempts=delivery.max_attempts,
        first_delay_s=delivery.first_backoff_s,
        max_delay_s=delivery.max_backoff_s,
    )


def rate_limits(delivery: DeliverySettings) -> dict[Channel, RateLimit]:
    """Messages per minute to one endpoint, for each channel that has a limit."""
    per_minute = {
        Channel.DINGTALK: delivery.dingtalk_per_minute,
        Channel.WECOM: delivery.wecom_per_minute,
        Channel.FEISHU: delivery.feishu_per_minute,
        Channel.SLACK: delivery.slack_per_minute,
        Channel.WEBHOOK: delivery.webhook_per_minute,
        Channel.SMS: delivery.sms_per_minute,
        Channel.EMAIL: delivery.email_per_minute,
    }
    return {channel: RateLimit(limit) for channel, limit in per_minute.items() if limit}


async def deliver_notification(
    notification: Notification,
    delivery: DeliverySettings,
    environ: Mapping[str, str] = os.environ,
    ledger: DeliveryLedger | None = None,
    on_attempt: Callable[[Delivery], None] = lambda record: None,
) -> list[Delivery]:
    """Send one notification in-process with the delivery settings; its attempts' records.

    For end-to-end tests and embedding: no Kafka. ``ledger`` carries what is
    delivered between calls (a notification delivered in it is not sent again).
    """
    async with open_channels(
        endpoint_directory(delivery, environ),
        smtp_server(delivery),
        sms_account(delivery),
        delivery.timeout_s,
    ) as channels:
        deliverer = Deliverer(
            channels,
            retry_budget(delivery),
            delivery.timeout_s,
            limits=rate_limits(delivery),
            ledger=ledger,
            on_attempt=on_attempt,
        )
        return await deliverer.deliver(notification)


def attempt_line(delivery: Delivery) -> str:
    """One attempt, in one line: what happened, to whom, on which channel, and why.

    >>> from datetime import UTC, datetime
    >>> print(attempt_line(Delivery(id="k-2", notification_id="n-1", recipient="buyer-a",
    ...     channel="dingtalk", address="buyers", attempt=2, status="retrying",
    ...     at=datetime(2026, 1, 1, tzinfo=UTC), reason="HTTP 503 from dingtalk 'buyers'")))
    retrying n-1 to buyer-a by dingtalk 'buyers' (attempt 2): HTTP 503 from dingtalk 'buyers'
    """
    line = (
        f"{delivery.status.value} {delivery.notification_id} to {delivery.recipient} by "
        f"{delivery.channel.value} {delivery.address!r} (attempt {delivery.attempt})"
    )
    return f"{line}: {delivery.reason}" if delivery.reason else line


# --- Kafka ---------------------------------------------------------------------------------


class DeliverStopped(Exception):
    """Delivery cannot go on (the broker does not take the records): why, in one line."""


@dataclass
class DeliverRun:
    """One run of ``deliver``: what it reads and writes, and what it has done so far."""

    consumer: KafkaConsumer
    producer: KafkaProducer
    deliverer: Deliverer
    deliveries_topic: str
    say: Callable[[str], None]
    warn: Callable[[str], None]
    counts: dict[str, int] = field(
        default_factory=lambda: {"delivered": 0, "failed": 0, "skipped": 0, "retried": 0}
    )
    _pending: list[tuple[Delivery, FutureRecordMetadata]] = field(default_factory=list)

    def record(self, delivery: Delivery) -> None:
        """Send one attempt's record to the deliveries topic and say it."""
        future = self.producer.send(
            self.deliveries_topic, key=delivery.notification_id.encode(), value=encode(delivery)
        )
        self._pending.append((delivery, future))
        counted = {"retrying": "retried"}.get(delivery.status.value, delivery.status.value)
        self.counts[counted] += 1
        metrics.DELIVERIES.labels(delivery.channel.value, delivery.status.value).inc()
        (self.warn if delivery.status is DeliveryStatus.FAILED else self.say)(
            attempt_line(delivery)
        )

    async def poll(self) -> bool:
        """Deliver one poll's notifications side by side, record, commit; whether any arrived.

        kafka-python is synchronous: its poll, flush and commit block the event loop,
        which is idle then (a poll's deliveries are all finished before the next poll).
        """
        batch = self.consumer.poll(timeout_ms=POLL_MS)
        notifications = []
        done: dict[TopicPartition, int] = {}
        for partition in sorted(batch, key=lambda tp: tp.partition):
            for record in batch[partition]:
                done[partition] = record.offset + 1
                if record.value is None:
                    continue
                try:
                    notifications.append(Notification.model_validate_json(record.value))
                except ValidationError as error:
                    self.warn(
                        f"skipped partition {record.partition} offset {record.offset}: not a "
                        f"notification: {describe_validation_error(error)}"
                    )
        for notification in notifications:
            self._say_skipped(notification)
        attempts = await asyncio.gather(*(self.deliverer.deliver(n) for n in notifications))
        for notification, deliveries in zip(notifications, attempts, strict=True):
            for delivery in deliveries:
                if delivery.status is DeliveryStatus.DELIVERED:
                    waited = (delivery.at - notification.at).total_seconds()
                    metrics.DELIVERY_SECONDS.labels(delivery.channel.value).observe(
                        max(waited, 0.0)
                    )
        self._flush()
        self._commit(done)
        return bool(batch)

    def _say_skipped(self, notification: Notification) -> None:
        delivered = self.deliverer.ledger.delivered
        for destination in dict.fromkeys(notification.destinations):
            key = destination_key(notification.id, destination.channel, destination.address)
            if key in delivered:
                self.counts["skipped"] += 1
                self.say(
                    f"skipped {notification.id} to {notification.recipient} by "
                    f"{destination.channel.value} {destination.address!r}: delivered before"
                )

    def _flush(self) -> None:
        """Wait until the broker has every record sent so far; ``DeliverStopped`` if not."""
        self.producer.flush()
        pending, self._pending = self._pending, []
        for delivery, future in pending:
            try:
                future.get(timeout=30)
            except KafkaError as error:
                raise DeliverStopped(
                    f"record of {delivery.notification_id} attempt {delivery.attempt} not "
                    f"written to {self.deliveries_topic}: {error}; its notification is read "
                    "again on the next run"
                ) from None

    def _commit(self, done: dict[TopicPartition, int]) -> None:
        if not done:
            return
        offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in done.items()}
        try:
            self.consumer.commit(offsets)
        except CommitFailedError as error:
            self.warn(
                f"offsets not committed ({error}); the partitions' new owner reads those "
                "notifications again and skips what was delivered"
            )

    def drained(self, ends: dict[TopicPartition, int]) -> bool:
        """Whether every assigned partition is read up to its end as first seen (``ends``)."""
        assigned = self.consumer.assignment()
        unknown = [tp for tp in assigned if tp not in ends]
        if unknown:
            ends.update(self.consumer.end_offsets(unknown))
        return bool(assigned) and all(self.consumer.position(tp) >= ends[tp] for tp in assigned)


def delivered_before(settings: Settings) -> DeliveryLedger:
    """What ``stockloop.deliveries`` says was delivered already, and each destination's attempts."""
    ledger = DeliveryLedger()
    for record in read_topic(settings.topic(DELIVERIES), connection(settings)):
        if record.value is None:
            continue
        try:
            ledger.add(Delivery.model_validate_json(record.value))
        except ValidationError:
            continue  # not ours to judge: a foreign record is no delivery
    return ledger


async def run_deliver(settings: Settings, once: bool, environ: Mapping[str, str]) -> DeliverRun:
    """Deliver notifications until stopped (or, with ``once``, until caught up)."""
    delivery = settings.delivery
    link = connection(settings)
    notifications_topic = settings.topic(NOTIFICATIONS)
    deliveries_topic = settings.topic(DELIVERIES)
    require_topics(link, [notifications_topic, deliveries_topic])
    ledger = delivered_before(settings)
    consumer = open_consumer(
        link,
        group_id=deliver_group(settings.app_id),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=MAX_POLL_RECORDS,
        max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
    )
    with (
        closing(consumer),
        closing(open_producer(link, acks="all", enable_idempotence=True, linger_ms=5)) as producer,
    ):
        async with open_channels(
            endpoint_directory(delivery, environ),
            smtp_server(delivery),
            sms_account(delivery),
            delivery.timeout_s,
        ) as channels:
            run = DeliverRun(
                consumer=consumer,
                producer=producer,
                deliverer=Deliverer(
                    channels,
                    retry_budget(delivery),
                    delivery.timeout_s,
                    limits=rate_limits(delivery),
                    ledger=ledger,
                ),
                deliveries_topic=deliveries_topic,
                say=lambda line: console.print(line, highlight=False, soft_wrap=True),
                warn=lambda line: err_console.print(
                    f"[yellow]warning:[/yellow] {line}", highlight=False, soft_wrap=True
                ),
            )
            run.deliverer.on_attempt = run.record
            consumer.subscribe([notifications_topic])
            ends: dict[TopicPartition, int] = {}
            idle_s = 0.0
            while True:
                idle_s = 0.0 if await run.poll() else idle_s + POLL_MS / 1000
                if once and (run.drained(ends) or idle_s >= ONCE_IDLE_S):
                    return run


def deliver(
    once: Annotated[
        bool,
        typer.Option("--once", help="Deliver what is there, then exit (tests and backfills)."),
    ] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="Serve Prometheus metrics (stockloop_deliveries_total by channel and outcome, "
            "stockloop_delivery_seconds) on this port at /metrics.",
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Address the metrics port listens on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
) -> None:
    """Send notifications by email, SMS, webhook, Slack, DingTalk, WeCom and Feishu.

    Reads stockloop.notifications in a consumer group of its own and sends each
    to its destinations (STOCKLOOP_DELIVERY__* settings: endpoint directory,
    mail server, SMS provider, timeout, retries, rate limits). Every attempt is
    one line here and one record on stockloop.deliveries: delivered, retrying,
    or failed (refused at once, or after the retry budget). A notification
    already delivered is not sent again, so a redelivered record is harmless.
    """
    settings = Settings()
    if metrics_port is not None:
        try:
            start_http_server(metrics_port, addr=metrics_host)
        except OSError as error:
            message = f"--metrics-port {metrics_port}: cannot listen on {metrics_host}: {error}"
            raise fail(message) from None
    try:
        with kafka_errors():
            run = asyncio.run(run_deliver(settings, once, os.environ))
    except (EndpointError, DeliverStopped) as error:
        raise fail(str(error)) from None
    counts = run.counts
    console.print(
        f"delivered {counts['delivered']}, failed {counts['failed']}, retried "
        f"{counts['retried']}, skipped {counts['skipped']} as delivered before",
        highlight=False,
    )
