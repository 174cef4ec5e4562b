"""Producing records to Kafka with kafka-python, reporting per record what failed."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kafka import KafkaProducer


@dataclass
class ProduceSummary:
    """How a load went: records the broker acknowledged, and each failure with its reason."""

    sent: int = 0
    failed: list[str] = field(default_factory=list)


def produce(
    records: Iterable[tuple[str, str, bytes | None, bytes]],
    bootstrap_servers: str,
    on_record: Callable[[], None] = lambda: None,
) -> ProduceSummary:
    """Send (label, topic, key, value) records; return once the broker acknowledged each.

    ``acks=all`` so that "sent" means stored; a failed record is reported with
    its label and never aborts the rest.
    """
    summary = ProduceSummary()
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", linger_ms=5)
    try:
        pending = []
        for label, topic, key, value in records:
            pending.append((label, producer.send(topic, key=key, value=value)))
            on_record()
        producer.flush()
        for label, future in pending:
            try:
                future.get(timeout=30)
                summary.sent += 1
            except Exception as error:  # any send error is reported per record, never raised
                summary.failed.append(f"{label}: {error}")
    finally:
        producer.close()
    return summary
