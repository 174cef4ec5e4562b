"""Writing a replay's transition topics again in one order: event time, then key.

A worker works on each material as its partition's records reach it, so two
materials whose outputs share an output partition can alternate differently
from one run to the next: two replays of one input give every key the same
records in the same order, but not the same topics byte for byte. Kafka only
promises order per partition, and a worker reading several partitions at
once interleaves them as they come. So the replay's worker writes its
transitions under a prefix of its own (``Settings.output_prefix``), and once
it has caught up they are written again, partition by partition, in the
order their content gives: the event time of each transition (``at``), then
its key. A key's records keep their order, and a record the worker sent
twice (its outbox sent again after a rebalance) is written once. Each copy is
stamped with its event time, so timestamps are reproducible too.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime

import orjson
from kafka import TopicPartition

from connectors.kafka_client import KafkaConnection, open_consumer, open_producer, partitions_of
from connectors.replay import BATCH_BYTES, IDLE_MS, ReplayError


@dataclass(frozen=True)
class Transition:
    """One record of a transition topic as the worker wrote it."""

    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


def event_time_ms(value: bytes) -> int:
    """The transition's event time (its ``at``) in epoch milliseconds; ValueError if it has none.

    >>> event_time_ms(b'{"at": "2026-03-01T08:00:00Z", "status": "raised"}')
    1772352000000
    """
    try:
        at = orjson.loads(value)["at"]
        return int(datetime.fromisoformat(at).timestamp() * 1000)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"no event time: {type(error).__name__}: {error}") from None


def in_event_time_order(transitions: Iterable[Transition]) -> list[tuple[int, Transition]]:
    """One partition's transitions by event time, then key, each key's in its own order.

    The order depends on the records of each key, not on how the keys were
    interleaved: any interleaving of the same keys' sequences gives the same
    list. A key's event time never goes back in the result (a record earlier
    in its key's sequence but later in time holds back the ones after it).
    Returns each transition with the event time it is stamped with.
    """
    seen: set[tuple[bytes, bytes]] = set()
    newest: dict[bytes, int] = {}
    counts: defaultdict[bytes, int] = defaultdict(int)
    placed: list[tuple[int, bytes, int, Transition]] = []
    for transition in transitions:
        identity = (transition.key, transition.value)
        if identity in seen:
            continue
        seen.add(identity)
        key = transition.key
        at = event_time_ms(transition.value)
        at = max(at, newest.get(key, at))
        newest[key] = at
        placed.append((at, key, counts[key], transition))
        counts[key] += 1
    placed.sort(key=lambda entry: entry[:3])
    return [(at, transition) for at, _, _, transition in placed]


def read_partitions(connection: KafkaConnection, topic: str) -> dict[int, list[Transition]]:
    """Every record of ``topic`` up to its end now, per partition in offset order.

    Raises ``ReplayError`` if a partition stops short of its end: the order
    of a partial partition would be wrong, not merely incomplete.
    """
    with closing(open_consumer(connection, enable_auto_commit=False)) as consumer:
        partitions = [TopicPartition(topic, p) for p in sorted(partitions_of(consumer, topic))]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        read: dict[int, list[Transition]] = {tp.partition: [] for tp in partitions}
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            batch = consumer.poll(timeout_ms=IDLE_MS)
            if not batch:
                behind = [f"{tp.partition} at {consumer.position(tp)} of {ends[tp]}" for tp in ends]
                raise ReplayError(f"{topic}: nothing arrived for {IDLE_MS / 1000:.0f} s: {behind}")
            for tp, records in batch.items():
                read[tp.partition] += [
                    Transition(r.key, r.value, tuple(r.headers or ()))
                    for r in records
                    if r.offset < ends[tp]
                ]
    return read


def write_in_order(
    connection: KafkaConnection,
    source: str,
    target: str,
    on_progress: Callable[[int], None] = lambda records: None,
) -> int:
    """Write ``source``'s records into the same partitions of ``target`` in event-time order.

    Returns how many were written (repeats dropped); ``on_progress`` is told
    of each partition's records read. A record without an event time, or one
    the broker refused, raises ``ReplayError`` naming it.
    """
    failures: list[str] = []
    written = 0
    with closing(
        open_producer(
            connection, acks="all", enable_idempotence=True, linger_ms=20, batch_size=BATCH_BYTES
        )
    ) as producer:
        for partition, transitions in read_partitions(connection, source).items():
            try:
                ordered = in_event_time_order(transitions)
            except ValueError as error:
                raise ReplayError(f"{source}[{partition}]: {error}") from None
            for at, transition in ordered:
                future = producer.send(
                    target,
                    key=transition.key,
                    value=transition.value,
                    headers=list(transition.headers),
                    partition=partition,
                    timestamp_ms=at,
                )
                where = f"{target}[{partition}] key {transition.key!r}"
                future.add_errback(lambda error, where=where: failures.append(f"{where}: {error}"))
            written += len(ordered)
            on_progress(len(transitions))
        producer.flush()
    if failures:
        refused = len(failures)
        raise ReplayError(f"the broker refused {refused} ordered records; first: {failures[0]}")
    return written
