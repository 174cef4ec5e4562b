"""Dead letters: records stockloop cannot use, kept with their bytes, origin and reason."""

from datetime import UTC, datetime

from models.events import DeadLetter, SourcePosition, encode
from streams.app import dead_letter_topic


async def dead_letter(
    source: SourcePosition,
    reason: str,
    key: bytes | None,
    value: bytes | None,
    timestamp: float | None = None,
) -> None:
    """Send a record stockloop cannot use to the dead-letter topic, with why and where from."""
    letter = DeadLetter(
        reason=reason,
        source=source,
        record_time=datetime.fromtimestamp(timestamp, UTC) if timestamp else None,
        key=key,
        value=value,
    )
    await dead_letter_topic.send(
        key=f"{source.topic}:{source.partition}:{source.offset}".encode(), value=encode(letter)
    )
