"""Dead letters: records stockloop cannot use, kept with their bytes, origin and reason."""

import asyncio
import logging
from datetime import UTC, datetime

from models.events import DeadLetter, SourcePosition, encode
from streams.app import app, catalogue, dead_letter_topic
from streams.catalogue import DEAD_LETTER
from streams.metrics import DEAD_LETTER_FAILURES

log = logging.getLogger(__name__)

# The broker's default message.max.bytes, which a topic without max.message.bytes inherits.
KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
# Room for the record's key, headers and batch framing beside the letter itself.
_RECORD_OVERHEAD_BYTES = 1_024

MAX_LETTER_BYTES = (
    min(
        app.conf.producer_max_request_size,
        int(
            catalogue[DEAD_LETTER].config.get("max.message.bytes", KAFKA_DEFAULT_MAX_MESSAGE_BYTES)
        ),
    )
    - _RECORD_OVERHEAD_BYTES
)
"""The largest dead letter both our producer and the dead-letter topic take."""


async def dead_letter(
    source: SourcePosition,
    reason: str,
    key: bytes | None,
    value: bytes | None,
    timestamp: float | None = None,
) -> None:
    """Send a record stockloop cannot use to the dead-letter topic, with why and where from.

    Never raises: the record's outcome is decided (dead-lettered) whether or not
    the letter arrives, and an exception here would crash the calling agent. A
    letter the producer or broker refuses is counted and logged with what
    identifies the record in its source topic.
    """
    letter = DeadLetter.of_record(
        reason, source, _record_time(timestamp), key, value, MAX_LETTER_BYTES
    )
    try:
        sent = await dead_letter_topic.send(
            key=f"{source.topic}:{source.partition}:{source.offset}".encode(),
            value=encode(letter),
        )
    except Exception as error:  # whatever the producer raises, the agent must go on
        _lost(letter, error)
        return
    # The broker's answer comes later; a refusal then is lost as surely as one now.
    asyncio.ensure_future(sent).add_done_callback(lambda done: _check_delivery(letter, done))


def _record_time(timestamp: float | None) -> datetime | None:
    """The record's Kafka timestamp as a time; None when absent or beyond the calendar."""
    if not timestamp:
        return None
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):  # any producer may set any timestamp
        return None


def _check_delivery(letter: DeadLetter, delivery: asyncio.Future) -> None:
    if not delivery.cancelled() and delivery.exception() is not None:
        _lost(letter, delivery.exception())


def _lost(letter: DeadLetter, error: BaseException) -> None:
    DEAD_LETTER_FAILURES.inc()
    source = letter.source
    log.error(
        "dead letter of %s:%s:%s not delivered (%s: %s); value of %s bytes, sha256 %s; reason: %s",
        source.topic,
        source.partition,
        source.offset,
        type(error).__name__,
        error,
        letter.value_size,
        letter.value_sha256,
        letter.reason,
    )
