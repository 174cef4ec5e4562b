"""Copying recorded input topics from one deployment's prefix into another's, for a replay.

A replay runs a fresh worker over history that is already on the broker: the
ERP topics of a deployment (``erp.*`` under its prefix), from a time or an
offset to an end, copied into the same topics under a new prefix, where a
worker with its own app id reads them as a backlog. Each record keeps its
partition, key, value, headers and timestamp, so the copy is the recorded
input as it was: the same records in the same order per partition.

Compacted topics (material masters, BOM lines, promotions) are copied from
their beginning whatever the start: they hold the latest record of each key,
the reference data the history needs, not history of their own.
"""

from collections.abc import Callable, Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from connectors.kafka_client import KafkaConnection, open_consumer, open_producer, partitions_of

IDLE_MS = 10_000
"""How long a copy waits for more records of a partition it has not read to its end."""
BATCH_BYTES = 1 << 20


class ReplayError(Exception):
    """A copy that cannot be made; the message is one line saying which topic and why."""


@dataclass(frozen=True)
class ReplayWindow:
    """Which records to copy: from a time or an offset (else the beginning) to a time or the end.

    Times are Kafka record timestamps: ``start_time`` is the first record
    stamped at or after it, ``end_time`` the first one not copied. Without
    ``end_time`` a copy ends at each partition's end when it starts, so
    records written meanwhile are left out.
    """

    start_time: datetime | None = None
    start_offset: int | None = None
    end_time: datetime | None = None


@dataclass(frozen=True)
class PartitionRange:
    """The offsets ``[start, end)`` of one partition of catalogue topic ``topic`` to copy."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def offsets(self) -> int:
        """Offsets in the range: its records, unless compaction left gaps."""
        return max(self.end - self.start, 0)


@dataclass
class CopySummary:
    """Records copied, per catalogue topic."""

    records: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.records.values())


def partition_range(
    topic: str,
    partition: int,
    beginning: int,
    end: int,
    window: ReplayWindow,
    start_at_time: int | None = None,
    end_at_time: int | None = None,
    compacted: bool = False,
) -> PartitionRange:
    """The range of one partition: ``window`` clamped to what the partition holds.

    ``start_at_time`` / ``end_at_time`` are the broker's answers for the
    window's times (the first offset stamped at or after it, None if none is).

    >>> window = ReplayWindow(start_offset=5)
    >>> partition_range("erp.shipments", 0, beginning=2, end=9, window=window)
    PartitionRange(topic='erp.shipments', partition=0, start=5, end=9)
    >>> partition_range("erp.materials", 0, 2, 9, window, compacted=True).start
    2
    >>> partition_range("erp.shipments", 1, 0, 4, ReplayWindow(start_offset=7)).offsets
    0
    """
    start = beginning
    if not compacted:
        if window.start_time is not None:
            start = end if start_at_time is None else start_at_time
        elif window.start_offset is not None:
            start = window.start_offset
    stop = end
    if window.end_time is not None and end_at_time is not None:
        stop = end_at_time
    start = min(max(start, beginning), end)
    return PartitionRange(topic, partition, start, max(min(stop, end), start))


def plan_copy(
    connection: KafkaConnection,
    source_prefix: str,
    topics: Mapping[str, bool],
    window: ReplayWindow,
) -> list[PartitionRange]:
    """The ranges to copy of each of ``topics`` (catalogue name: whether it is compacted).

    Raises ``TopicMissingError`` for a topic the source deployment does not have.
    """
    with closing(open_consumer(connection, enable_auto_commit=False)) as consumer:
        partitions = [
            TopicPartition(f"{source_prefix}{topic}", partition)
            for topic in topics
            for partition in sorted(partitions_of(consumer, f"{source_prefix}{topic}"))
        ]
        beginnings = consumer.beginning_offsets(partitions)
        ends = consumer.end_offsets(partitions)
        starts = _offsets_at(consumer, partitions, window.start_time)
        stops = _offsets_at(consumer, partitions, window.end_time)
    return [
        partition_range(
            tp.topic.removeprefix(source_prefix),
            tp.partition,
            beginnings[tp],
            ends[tp],
            window,
            starts.get(tp),
            stops.get(tp),
            topics[tp.topic.removeprefix(source_prefix)],
        )
        for tp in partitions
    ]


def _offsets_at(
    consumer: KafkaConsumer, partitions: list[TopicPartition], moment: datetime | None
) -> dict[TopicPartition, int]:
    """The first offset stamped at or after ``moment`` per partition (absent: none is)."""
    if moment is None:
        return {}
    millis = int(moment.timestamp() * 1000)
    found = consumer.offsets_for_times(dict.fromkeys(partitions, millis))
    return {tp: answer.offset for tp, answer in found.items() if answer is not None}


def check_partitions(
    connection: KafkaConnection, ranges: Iterable[PartitionRange], target_prefix: str
) -> None:
    """Each copied partition exists in the target topic (a record keeps its partition)."""
    by_topic: dict[str, int] = {}
    for copied in ranges:
        by_topic[copied.topic] = max(by_topic.get(copied.topic, 0), copied.partition + 1)
    with closing(open_consumer(connection)) as consumer:
        for topic, needed in sorted(by_topic.items()):
            have = len(partitions_of(consumer, f"{target_prefix}{topic}"))
            if have < needed:
                raise ReplayError(
                    f"{target_prefix}{topic}: {have} partitions, the source has {needed}; "
                    "a record keeps its partition, so the target needs as many"
                )


def copy_ranges(
    connection: KafkaConnection,
    ranges: list[PartitionRange],
    source_prefix: str,
    target_prefix: str,
    on_progress: Callable[[int], None] = lambda offsets: None,
) -> CopySummary:
    """Copy every range into the same partition of ``target_prefix``'s topic, in offset order.

    Key, value, headers and timestamp are kept. ``on_progress`` is told how
    many offsets each batch covered (gaps of a compacted topic included), so
    that it adds up to the ranges' ``offsets``. Returns once the broker has
    acknowledged every record; a record it refused raises ``ReplayError``.
    """
    wanted = {TopicPartition(f"{source_prefix}{r.topic}", r.partition): r for r in ranges}
    wanted = {tp: r for tp, r in wanted.items() if r.offsets}
    summary = CopySummary(records={r.topic: 0 for r in ranges})
    if not wanted:
        return summary
    failures: list[str] = []
    with (
        closing(open_consumer(connection, enable_auto_commit=False)) as consumer,
        closing(
            open_producer(
                connection,
                acks="all",
                enable_idempotence=True,
                linger_ms=20,
                batch_size=BATCH_BYTES,
            )
        ) as producer,
    ):
        consumer.assign(list(wanted))
        for tp, copied in wanted.items():
            consumer.seek(tp, copied.start)
        done = {tp: copied.start for tp, copied in wanted.items()}
        while any(done[tp] < copied.end for tp, copied in wanted.items()):
            batch = consumer.poll(timeout_ms=IDLE_MS)
            if not batch:
                behind = [
                    f"{tp.topic}[{tp.partition}] at {done[tp]} of {wanted[tp].end}"
                    for tp in wanted
                    if done[tp] < wanted[tp].end
                ]
                raise ReplayError(
                    f"nothing arrived for {IDLE_MS / 1000:.0f} s while copying: {', '.join(behind)}"
                )
            for tp, records in batch.items():
                copied = wanted[tp]
                for record in records:
                    if record.offset < copied.end:
                        _send(producer, target_prefix, copied, record, failures)
                        summary.records[copied.topic] += 1
                position = max(consumer.position(tp), done[tp])
                on_progress(min(position, copied.end) - min(done[tp], copied.end))
                done[tp] = position
                if position >= copied.end:
                    consumer.pause(tp)
        producer.flush()
    if failures:
        raise ReplayError(
            f"the broker refused {len(failures)} copied records; first: {failures[0]}"
        )
    return summary


def _send(
    producer: KafkaProducer,
    target_prefix: str,
    copied: PartitionRange,
    record: ConsumerRecord,
    failures: list[str],
) -> None:
    future = producer.send(
        f"{target_prefix}{copied.topic}",
        key=record.key,
        value=record.value,
        headers=list(record.headers or []),
        partition=copied.partition,
        timestamp_ms=record.timestamp,
    )
    where = f"{copied.topic}[{copied.partition}] offset {record.offset}"
    future.add_errback(lambda error: failures.append(f"{where}: {error}"))


def end_offsets(connection: KafkaConnection, topics: Iterable[str]) -> dict[str, int]:
    """The sum of the end offsets of each physical topic: records written to a fresh topic."""
    with closing(open_consumer(connection)) as consumer:
        totals = {}
        for topic in topics:
            partitions = [TopicPartition(topic, p) for p in sorted(partitions_of(consumer, topic))]
            totals[topic] = sum(consumer.end_offsets(partitions).values())
        return totals


def topics_starting(connection: KafkaConnection, prefix: str) -> list[str]:
    """The broker's topics whose names start with ``prefix`` (an app's changelogs, say)."""
    with closing(open_consumer(connection)) as consumer:
        return sorted(topic for topic in consumer.topics() if topic.startswith(prefix))
