"""Faust's Kafka transport: a consumer that only hands out records of active partitions, and
a producer whose flush before each offset commit waits for every buffered write.

Faust (0.15.3 with aiokafka 0.14) passes its live set of active partitions to
the consumer thread, which fetches later. When the set changes in between,
records of partitions that are no longer active come back: an emptied set
means "every partition" to aiokafka. Faust discards those records, but
aiokafka has already moved the partitions' positions past them, so they are
never processed; only a seek to a committed offset above zero brings them
back. Workers lost records this way while tables recovered, after a crash
(see ``tests/integration/test_crash_recovery.py``).

This consumer fetches for the partitions active when the fetch runs, and seeks
back any partition that stopped being active while the fetch waited, so its
records are fetched again once it resumes.

It also hands out no record of a stream partition (anything but a changelog)
until a rebalance has ended. Faust resumes the stream partitions and then
seeks them to their committed offsets, and only after that clears the agents'
buffers (``flow_control.resume``); records fetched in between reached the
ingest agent's buffer, were counted as read, and were cleared from it: their
copies read again after the seek were older than what Faust had read, so it
dropped them, and the next commit went past the one record left out (Faust
lets a commit pass a gap of one at the head). A worker's cold start lost
records this way under load (``tests/integration/test_bulk_restore_broker.py``,
6 runs in 10 at load 3-4). Fetched after the rebalance has ended, the records
come from the committed offsets, once.

It also leaves out the partitions ingest holds back for being ahead in event
time (``hold_back``). That is done here, not with Faust's
``pause_partitions``: Faust filters the records of a fetched batch by its live
set of active partitions while it hands them out one by one, so a partition
paused in the middle of a batch lost the rest of it (450 of 50,000 records in
a benchmark). Records aiokafka has already fetched for a partition left out
stay in its buffer until the partition is asked for again.

While a table recovery looks up offsets, its fetches wait at most
``RECOVERY_FETCH_WAIT_MS`` for records, not Faust's 1.5 s. The broker
answers a connection's requests in order, and the recovery's offset
lookups (earliest offsets, highwaters) share the fetches' connection: each
waited behind a fetch waiting for records that were not coming, 1.3-1.5 s
apiece, two or three of them in every cold start. Outside recoveries the
wait stays Faust's: at 0.1 s all the time, an idle worker spent 4.4 % of a
core instead of 2.8 %.

Table writes (and ``send_soon``) go to Faust's producer buffer, which hands
them to aiokafka one at a time. Before committing offsets Faust flushes the
producer, but the buffer's flush gave up after 0.1 s in which no message
left it, and the commit went ahead: on a loaded event loop a commit could
cover records whose changelog writes were still in the buffer, and a crash
right after lost them for good (an event applied, its offset committed, its
state never in the changelog). This producer's buffer flushes until it is
empty and nothing is still being handed over.
"""

import asyncio
import contextlib
from collections.abc import Iterable, Set
from typing import Any

from aiokafka import AIOKafkaConsumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.transport.producer import ProducerBuffer
from faust.types import TP, FutureMessage

_held_back: frozenset[TP] = frozenset()


def hold_back(partitions: frozenset[TP]) -> None:
    """Fetch nothing from ``partitions`` until the next call (replaced whole: thread-safe)."""
    global _held_back
    _held_back = partitions


def withheld(fetched: Iterable[TP], active: Set[TP], changelogs: Set[str] | None) -> list[TP]:
    """The partitions among ``fetched`` whose records go back to be fetched again: those no
    longer active, and, while a rebalance is under way (``changelogs`` given), every one
    that is not a changelog.

    >>> orders, changelog = TP("erp.sales-orders", 0), TP("app-materials-changelog", 0)
    >>> withheld([orders, changelog], {orders, changelog}, {"app-materials-changelog"})
    [TP(topic='erp.sales-orders', partition=0)]
    >>> withheld([orders, changelog], {changelog}, None)
    [TP(topic='erp.sales-orders', partition=0)]
    """
    return [
        tp
        for tp in fetched
        if tp not in active or (changelogs is not None and tp.topic not in changelogs)
    ]


RECOVERY_FETCH_WAIT_MS = 100
"""How long the broker holds a fetch for records while a recovery looks up offsets: what
each lookup can wait behind it."""


class ActivePartitionsConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Fetches records of the active partitions only, and loses none of the others."""

    def fetch_briefly(self, briefly: bool) -> None:
        """Whether the fetches from now on wait ``RECOVERY_FETCH_WAIT_MS`` at most for records,
        or as long as Faust set (aiokafka reads the wait as it builds each fetch)."""
        consumer = self._ensure_consumer()
        wait = RECOVERY_FETCH_WAIT_MS if briefly else consumer._fetch_max_wait_ms
        consumer._fetcher._fetch_max_wait_ms = wait

    async def _fetch_records(
        self,
        consumer: AIOKafkaConsumer,
        active_partitions: set[TP],
        timeout: float | None = None,
        max_records: int | None = None,
    ) -> dict[Any, list[Any]]:
        active_now = frozenset(active_partitions.copy()) - _held_back
        if not active_now:
            return {}
        records = await super()._fetch_records(
            consumer, active_now, timeout=timeout, max_records=max_records
        )
        assigned = consumer.assignment()
        app = self.app
        changelogs = app.tables.changelog_topics if app.rebalancing else None
        for tp in withheld(records, active_partitions, changelogs):
            first = records.pop(tp)[0]
            if tp in assigned:
                consumer.seek(tp, first.offset)
        return records


class Consumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer, fetching through ``ActivePartitionsConsumerThread``."""

    _thread: ActivePartitionsConsumerThread

    def _new_consumer_thread(self) -> ActivePartitionsConsumerThread:
        return ActivePartitionsConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def fetch_briefly(self, briefly: bool) -> None:
        """See ``ActivePartitionsConsumerThread.fetch_briefly``."""
        self._thread.fetch_briefly(briefly)


class DrainingProducerBuffer(ProducerBuffer):
    """Faust's producer buffer, with a flush that returns only once every message left it."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.handing_over = 0

    async def _send_pending(self, fut: FutureMessage) -> None:
        # Taken off the queue but not yet in aiokafka's batches: ``size`` no longer counts it.
        self.handing_over += 1
        try:
            await super()._send_pending(fut)
        finally:
            self.handing_over -= 1

    async def flush(self) -> None:
        while self.size or self.handing_over:
            if self.state != "running":
                raise RuntimeError("Cannot flush: Producer not Running")
            self.message_sent.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.message_sent.wait(), timeout=0.1)


class Producer(faust_aiokafka.Producer):
    """Faust's aiokafka producer, buffering through ``DrainingProducerBuffer``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        buffer = DrainingProducerBuffer(loop=self.loop, beacon=self.beacon)
        buffer.app = self.app
        buffer.threaded_producer = getattr(self.buffer, "threaded_producer", None)
        self.buffer = buffer


class Transport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with the consumer and producer above."""

    Consumer = Consumer
    Producer = Producer
