"""Producing records to Kafka with kafka-python, reporting per record what failed."""

from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field

from connectors.kafka_client import KafkaConnection, open_consumer, open_producer, partitions_of

OutgoingRecord = tuple[str, str, bytes | None, bytes | None]
"""(label, topic, key, value): the label names the record in a failure; value None is a
tombstone."""


@dataclass
class ProduceSummary:
    """How a load went: records the broker acknowledged, by kind, and each failure's reason."""

    keyed: int = 0
    unkeyed: int = 0
    tombstones: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        """Records the broker acknowledged."""
        return self.keyed + self.unkeyed + self.tombstones

    def count(self, key: bytes | None, value: bytes | None) -> None:
        """Count one acknowledged record: a tombstone, else keyed or unkeyed."""
        if value is None:
            self.tombstones += 1
        elif key is None:
            self.unkeyed += 1
        else:
            self.keyed += 1


def produce(
    records: Iterable[OutgoingRecord],
    connection: KafkaConnection,
    on_record: Callable[[], None] = lambda: None,
) -> ProduceSummary:
    """Send (label, topic, key, value) records; return once the broker acknowledged each.

    ``acks=all`` so that "sent" means stored, and idempotence so that retries
    never reorder the records of one partition: records of one key go to one
    partition, in the order given. A topic that does not exist raises
    ``TopicMissingError`` before its first record is sent (the producer would
    wait a minute for it to appear); any other failed record is reported with
    its label and never aborts the rest.
    """
    summary = ProduceSummary()
    with (
        closing(open_consumer(connection)) as metadata,
        closing(
            open_producer(connection, acks="all", enable_idempotence=True, linger_ms=5)
        ) as producer,
    ):
        known_topics: set[str] = set()
        pending = []
        for label, topic, key, value in records:
            if topic not in known_topics:
                partitions_of(metadata, topic)
                known_topics.add(topic)
            pending.append((label, key, value, producer.send(topic, key=key, value=value)))
            on_record()
        producer.flush()
        for label, key, value, future in pending:
            try:
                future.get(timeout=30)
                summary.count(key, value)
            except Exception as error:  # any send error is reported per record, never raised
                summary.failed.append(f"{label}: {error}")
    return summary
