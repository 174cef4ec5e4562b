"""``stockloop requests handoff``: approved purchase requests posted to the ERP, references kept.

The command reads ``stockloop.purchase-requests`` in a consumer group of its
own (``handoff_group``). Every transition that is approved and has no ERP
reference yet is posted with ``connectors.erp_handoff.ErpHandoff`` (the
request id is the idempotency key); the reference the ERP answers with goes
back as a ``record_reference`` action on ``stockloop.purchase-request-actions``,
where the worker that holds the request records it. The record's offset is
committed only after the broker has acknowledged that action.

So the hand-off is at least once, never lost: a crash between the post and the
commit posts the request again on the next run, under the same key, and the
ERP answers with the reference it gave the first time; the worker then
refuses the second, identical reference (dead-lettered, nothing changes).
"""

import os
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

import typer
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata
from pydantic import ValidationError
from rich.console import Console

from connectors.erp_handoff import (
    ErpEndpoint,
    ErpHandoff,
    HandoffRefused,
    HandoffUnavailable,
    ReferenceMissing,
)
from connectors.kafka_client import open_consumer, open_producer, require_topics
from models.events import describe_validation_error, encode
from models.purchasing import PurchaseRequest, PurchaseRequestAction, RequestStatus
from streams.catalogue import PURCHASE_REQUEST_ACTIONS, PURCHASE_REQUESTS
from streams.cli.kafka import connection, fail, kafka_errors
from streams.settings import Settings

HANDOFF_ACTOR = "erp-handoff"
"""``by`` of the ``record_reference`` actions the hand-off sends."""

POLL_MS = 1_000
"""How long one poll waits for records."""

ONCE_IDLE_S = 10.0
"""``--once`` stops when nothing has arrived for this long, even short of the end it saw.

The group join takes a moment, and a partition whose leader is away never
reaches its end offset: a cron run must end all the same.
"""

MAX_POLL_RECORDS = 5
"""Records per poll: a hand-off may take minutes while the ERP is retried (five attempts of
up to 10 s, waits of up to 30 s), and the group drops a member that does not poll in time."""

MAX_POLL_INTERVAL_MS = 900_000
"""How long the group waits for the next poll: ``MAX_POLL_RECORDS`` slow hand-offs fit in it."""

console = Console()
err_console = Console(stderr=True)


# --- the pure part ---------------------------------------------------------------------------


def handoff_group(app_id: str) -> str:
    """The hand-off's consumer group: its own offsets, apart from the worker's.

    >>> handoff_group("stockloop")
    'stockloop-erp-handoff'
    """
    return f"{app_id}-erp-handoff"


def awaits_handoff(transition: PurchaseRequest) -> bool:
    """Whether the ERP must receive this transition: approved, and no ERP reference recorded."""
    return transition.status is RequestStatus.APPROVED and transition.erp_reference is None


def reference_action(
    request: PurchaseRequest, reference: str, at: datetime
) -> PurchaseRequestAction:
    """The action that records the ERP's ``reference`` for ``request``, at wall-clock ``at``."""
    return PurchaseRequestAction(
        action="record_reference",
        request_id=request.request_id,
        material_id=request.material_id,
        by=HANDOFF_ACTOR,
        erp_reference=reference,
        at=at,
    )


def handed_off_line(request: PurchaseRequest, reference: str) -> str:
    """One hand-off, in one line: the request, its amount, the ERP's reference."""
    return (
        f"handed off {request.request_id} ({request.material_id} in {request.warehouse_id}, "
        f"{request.amount:,.2f} {request.currency}) as {reference}"
    )


# --- Kafka and HTTP ------------------------------------------------------------------------


class HandoffStopped(Exception):
    """The hand-off cannot go on (ERP unavailable, unusable answer, broker): why, in one line."""


@dataclass
class HandoffRun:
    """One run of the hand-off: what it reads, posts and sends, and what it has done so far.

    ``done`` holds, per partition, the offset after the last record fully dealt
    with (posted and its reference acknowledged, or skipped); it is committed
    after each hand-off, after each poll, and before the run stops on an error,
    so nothing past a record still owed to the ERP is ever committed.
    """

    consumer: KafkaConsumer
    producer: KafkaProducer
    erp: ErpHandoff
    actions_topic: str
    say: Callable[[str], None]
    warn: Callable[[str], None]
    handed_off: set[str] = field(default_factory=set)
    refused: int = 0
    done: dict[TopicPartition, int] = field(default_factory=dict)

    def poll(self) -> bool:
        """Deal with one poll's records, in order per partition; whether any arrived."""
        batch = self.consumer.poll(timeout_ms=POLL_MS)
        try:
            for partition in sorted(batch, key=lambda tp: tp.partition):
                for record in batch[partition]:
                    self._deal_with(record)
                    self.done[partition] = record.offset + 1
        finally:
            self.commit()
        return bool(batch)

    def _deal_with(self, record: ConsumerRecord) -> None:
        if record.value is None:
            return
        try:
            transition = PurchaseRequest.model_validate_json(record.value)
        except ValidationError as error:
            self.warn(
                f"skipped partition {record.partition} offset {record.offset}: not a purchase "
                f"request: {describe_validation_error(error)}"
            )
            return
        # Posted earlier in this run: the ERP would answer with the same reference.
        if not awaits_handoff(transition) or transition.request_id in self.handed_off:
            return
        try:
            reference = self.erp.send(transition)
        except HandoffRefused as error:
            self.refused += 1
            self.warn(f"{error}; skipped")
            return
        except (HandoffUnavailable, ReferenceMissing) as error:
            raise HandoffStopped(str(error)) from None
        self._record(transition, reference)
        self.handed_off.add(transition.request_id)
        self.done[TopicPartition(record.topic, record.partition)] = record.offset + 1
        self.commit()
        self.say(handed_off_line(transition, reference))

    def _record(self, request: PurchaseRequest, reference: str) -> None:
        """Send the reference to the actions topic and wait until the broker has it."""
        action = reference_action(request, reference, datetime.now(UTC))
        try:
            self.producer.send(
                self.actions_topic, key=request.request_id.encode(), value=encode(action)
            ).get(timeout=30)
        except KafkaError as error:
            raise HandoffStopped(
                f"ERP reference {reference} of purchase request {request.request_id} not "
                f"recorded on {self.actions_topic}: {error}; the next run posts it again"
            ) from None

    def commit(self) -> None:
        """Commit the offsets past the records dealt with; a partition lost is re-read elsewhere."""
        if not self.done:
            return
        offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in self.done.items()}
        try:
            self.consumer.commit(offsets)
        except CommitFailedError as error:
            self.warn(
                f"offsets not committed ({error}); the partitions' new owner posts their "
                "requests again under the same keys"
            )
        self.done.clear()

    def drained(self, ends: dict[TopicPartition, int]) -> bool:
        """Whether every assigned partition is read up to its end as first seen (``ends``)."""
        assigned = self.consumer.assignment()
        unknown = [tp for tp in assigned if tp not in ends]
        if unknown:
            ends.update(self.consumer.end_offsets(unknown))
        return bool(assigned) and all(self.consumer.position(tp) >= ends[tp] for tp in assigned)


def run_handoff(settings: Settings, erp: ErpHandoff, once: bool) -> HandoffRun:
    """Hand off approved requests until stopped (or, with ``once``, until drained)."""
    link = connection(settings)
    requests_topic = settings.topic(PURCHASE_REQUESTS)
    actions_topic = settings.topic(PURCHASE_REQUEST_ACTIONS)
    with kafka_errors():
        require_topics(link, [requests_topic, actions_topic])
        consumer = open_consumer(
            link,
            group_id=handoff_group(settings.app_id),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=MAX_POLL_RECORDS,
            max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
        )
        with (
            closing(consumer),
            closing(open_producer(link, acks="all", enable_idempotence=True)) as producer,
        ):
            run = HandoffRun(
                consumer=consumer,
                producer=producer,
                erp=erp,
                actions_topic=actions_topic,
                say=lambda line: console.print(line, highlight=False, soft_wrap=True),
                warn=lambda line: err_console.print(
                    f"[yellow]warning:[/yellow] {line}", highlight=False, soft_wrap=True
                ),
            )
            consumer.subscribe([requests_topic])
            ends: dict[TopicPartition, int] = {}
            idle_s = 0.0
            while True:
                idle_s = 0.0 if run.poll() else idle_s + POLL_MS / 1000
                if once and (run.drained(ends) or idle_s >= ONCE_IDLE_S):
                    return run


def handoff(
    url: Annotated[
        str | None,
        typer.Option(
            help="The ERP's endpoint for purchase requisitions (default: "
            "STOCKLOOP_ERP_HANDOFF_URL).",
            show_default=False,
        ),
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option(
            help="Environment variable holding the ERP's bearer token (default: "
            "STOCKLOOP_ERP_HANDOFF_TOKEN).",
            show_default=False,
        ),
    ] = None,
    reference_field: Annotated[
        str | None,
        typer.Option(
            help="Field of the ERP's JSON answer that holds its reference, dotted for a nested "
            "one (default: STOCKLOOP_ERP_HANDOFF_REFERENCE_FIELD, else reference).",
            show_default=False,
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Hand off what is there, then exit (for cron).")
    ] = False,
) -> None:
    """Post approved purchase requests to the ERP and record the reference it answers with.

    Reads stockloop.purchase-requests in a consumer group of its own and posts
    every approved request without an ERP reference (Idempotency-Key: the
    request id; retried with backoff), then sends the reference to
    stockloop.purchase-request-actions; one line per hand-off. A request is
    done, and its offset committed, only once the broker has that reference:
    after a crash a request may be posted again, under the same key, never lost.

    A request the ERP refuses (4xx) is reported in one line and skipped: its
    record is committed, and it is not posted again unless it changes. An ERP
    still unavailable after the retries, or one that answers without a
    reference, stops the command with exit code 1; that request and the ones
    after it are posted on the next run. See docs/erp-handoff.md.
    """
    settings = Settings()
    endpoint = _endpoint(settings, url, token_env, reference_field)
    with ErpHandoff(endpoint) as erp:
        try:
            run = run_handoff(settings, erp, once)
        except HandoffStopped as error:
            raise fail(str(error)) from None
    console.print(
        f"handed off {len(run.handed_off)} purchase requests, {run.refused} refused by the ERP",
        highlight=False,
    )


def _endpoint(
    settings: Settings, url: str | None, token_env: str | None, reference_field: str | None
) -> ErpEndpoint:
    """The ERP endpoint from the options, else the settings; one line and exit 1 if unusable."""
    url = url or settings.erp_handoff_url
    if not url:
        raise fail(
            "--url: the ERP's endpoint for purchase requisitions is needed "
            "(or set STOCKLOOP_ERP_HANDOFF_URL)"
        )
    if token_env is not None:
        token = os.environ.get(token_env)
        if not token:
            raise fail(f"--token-env: environment variable {token_env} is not set or empty")
    else:
        secret = settings.erp_handoff_token
        token = secret.get_secret_value() if secret is not None else None
    try:
        return ErpEndpoint(
            url=url,
            token=token,
            reference_field=reference_field or settings.erp_handoff_reference_field,
        )
    except ValueError as error:
        raise fail(str(error)) from None
