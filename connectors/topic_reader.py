"""Reading a whole topic from the beginning: what the CLI shows of alerts, letters, state."""

from collections.abc import Iterator

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from connectors.kafka_client import KafkaConnection, open_consumer, partitions_of


def read_topic(
    topic: str, connection: KafkaConnection, idle_ms: int = 3000
) -> Iterator[ConsumerRecord]:
    """Every record of ``topic`` up to its end when the read starts, oldest first per partition.

    Without a consumer group: nothing is committed, and other readers are not
    disturbed. Partitions are assigned, not subscribed, so a missing topic is
    ``TopicMissingError`` at once instead of an empty read that created it.
    The read stops at the end offsets it saw first (no wait for more), or when
    nothing arrives for ``idle_ms`` (a partition whose leader went away).
    """
    consumer = open_consumer(connection, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(partitions_of(consumer, topic))]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        unread = {tp for tp in partitions if consumer.position(tp) < ends[tp]}
        while unread:
            batch = consumer.poll(timeout_ms=idle_ms)
            if not batch:
                return
            for partition in sorted(batch, key=lambda tp: tp.partition):
                yield from (r for r in batch[partition] if r.offset < ends[partition])
            unread = {tp for tp in unread if consumer.position(tp) < ends[tp]}
    finally:
        consumer.close()
