"""Reading a whole topic from the beginning: what the CLI shows of alerts, letters, state."""

from collections.abc import Iterator

from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord


def read_topic(topic: str, bootstrap_servers: str, idle_ms: int = 3000) -> Iterator[ConsumerRecord]:
    """Every record of ``topic`` so far, oldest first per partition.

    Without a consumer group: nothing is committed, and other readers are
    not disturbed. Stops once no record arrives for ``idle_ms``.
    """
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=idle_ms,
    )
    try:
        yield from consumer
    finally:
        consumer.close()
