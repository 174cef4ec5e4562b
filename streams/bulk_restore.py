"""Table recovery that restores a worker's active changelog partitions in bulk first.

A worker that started with an empty data directory restored its tables at
6,439 changelog records/s, 5.5 % of a raw aiokafka read of the same log into
RocksDB (117,664 records/s; 10,000 materials, 135,560 records; issue #13,
``benchmarks/recovery.py``). Faust hands every changelog record to its
recovery one at a time: a queue ``get`` under ``asyncio.wait_for`` per record
(a task and a timer each: 29 % of a py-spy profile), the hand-over of each
record from the consumer thread (26 %), the loop itself (11 %), and a recount
of the remaining partitions after every record (8 %); RocksDB took 2 %.

So, as Kafka Streams restores its stores, this recovery reads the changelog
of every active partition of a local RocksDB table itself, with a consumer
of its own, from the offset the store has persisted to the highwater Faust
has just measured, and writes each fetched batch into the partition's store
in one write batch together with the offset it reaches. Faust's recovery
then starts from that offset and finds nothing, or only what arrived after
the highwater, left to read.

A global table (``streams.app.RawGlobalTable``) has every partition both
active and standby on every worker: its active partitions are restored in
bulk like a local table's (they were a fifth of a 10,000-material cold
start, read record by record), and its standby reading, which goes on after
recovery, starts from the offset the bulk read reached instead of from where
the store stood at the rebalance (which read the whole log again).

Left to Faust: standby partitions of local tables, stores other than
rocksdict, and tables with an ``on_changelog_event`` callback, which must
see every record (no stockloop table has one).
"""

import time
from collections import Counter
from typing import cast

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.stores.rocksdb import Store as RocksDBStore
from faust.tables import TableManager as FaustTableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth, server_list
from faust.types import TP, CollectionT
from faust.types.transports import ConsumerT
from rocksdict import Rdict, WriteBatch

from streams.transport import Consumer

FETCH_BYTES = 8 * 1024 * 1024
"""Per partition and fetch: a few thousand of our records, so one write batch holds many."""
MAX_RECORDS = 10_000
SHARE_OF_REQUEST_TIMEOUT = 0.5
"""Faust gives ``_build_offsets`` ``broker_request_timeout`` (90 s) and stops its recovery
service if it runs out, so the bulk read stops at half of it and leaves the rest to Faust."""


def restorable_in_bulk(table: CollectionT) -> bool:
    """Whether writing ``table``'s changelog straight into its store is what Faust would do."""
    store = table.data
    return (
        isinstance(store, RocksDBStore)
        and store.use_rocksdict
        and not store.read_only
        and table._on_changelog_event is None
    )


async def restore(
    consumer: AIOKafkaConsumer,
    partitions: dict[TopicPartition, tuple[int, int, Rdict]],
    offset_key: bytes,
    deadline: float,
) -> dict[TopicPartition, int]:
    """Write each partition's changelog from its start to its end offset into its database.

    ``partitions`` maps each changelog partition to its start offset, its end
    offset (exclusive) and its RocksDB database; ``consumer`` is started and
    assigned nothing. Each fetched batch goes into its database in one write
    batch, with ``offset_key`` set to the last offset it covers, so a crash or
    a new rebalance in between leaves a store whose offset matches its content.
    A tombstone deletes its key. Returns the last offset covered per partition
    written to; those still short of their end at ``deadline`` are left there.
    """
    consumer.assign(list(partitions))
    for tp, (start, _end, _db) in partitions.items():
        consumer.seek(tp, start)
    restored: dict[TopicPartition, int] = {}
    remaining = set(partitions)
    while remaining and time.monotonic() < deadline:
        fetched = await consumer.getmany(*remaining, timeout_ms=200, max_records=MAX_RECORDS)
        for tp, records in fetched.items():
            _start, end, db = partitions[tp]
            batch = WriteBatch(raw_mode=True)
            for record in records:
                if record.offset >= end:
                    break
                if record.value is None:
                    batch.delete(record.key)
                else:
                    batch.put(record.key, record.value)
                restored[tp] = record.offset
            if await consumer.position(tp) >= end:
                # Also covers offsets up to the end that the log cleaner removed.
                restored[tp] = end - 1
            if tp in restored:
                batch.put(offset_key, str(restored[tp]).encode())
                db.write(batch)
        for tp in [tp for tp in remaining if await consumer.position(tp) >= partitions[tp][1]]:
            remaining.discard(tp)
            consumer.pause(tp)
    return restored


class BulkRestoringRecovery(Recovery):
    """Faust's table recovery, which first restores active RocksDB partitions in bulk, and
    whose offset lookups wait behind brief fetches only (``streams.transport``)."""

    async def _build_highwaters(
        self, consumer: ConsumerT, tps: set[TP], destination: Counter[TP], title: str
    ) -> None:
        if title == "active":  # the recovery's first lookup
            cast(Consumer, consumer).fetch_briefly(True)
        await super()._build_highwaters(consumer, tps, destination, title)

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        try:
            await super().on_recovery_completed(generation_id)
        finally:
            cast(Consumer, self.app.consumer).fetch_briefly(False)

    async def _build_offsets(
        self, consumer: ConsumerT, tps: set[TP], destination: Counter[TP], title: str
    ) -> None:
        # Called for the active partitions once their highwaters are known; Faust seeks to
        # the offsets it leaves in ``destination`` and reads from there.
        if title == "active":
            await self._restore_actives_in_bulk(tps, destination)
        elif title == "standby":
            # Built after the actives': a global table's partition reads on from what they hold.
            for tp in tps & self.active_tps:
                restored = self.active_offsets.get(tp)
                if self.tp_to_table[tp].is_global and restored is not None:
                    standing = destination.get(tp)
                    destination[tp] = restored if standing is None else max(standing, restored)
        await super()._build_offsets(consumer, tps, destination, title)

    async def _restore_actives_in_bulk(self, tps: set[TP], offsets: Counter[TP]) -> None:
        partitions: dict[TopicPartition, tuple[int, int, Rdict]] = {}
        for tp in tps:
            table = self.tp_to_table[tp]
            # Faust's highwater is the last offset, -1 for an empty partition.
            highwater = self.active_highwaters.get(tp)
            end = 0 if highwater is None else highwater + 1
            persisted = offsets.get(tp)
            start = 0 if persisted is None else persisted + 1
            if restorable_in_bulk(table) and start < end:
                db = table.data._db_for_partition(tp.partition)
                partitions[TopicPartition(tp.topic, tp.partition)] = (start, end, db)
        if not partitions:
            return
        conf = self.app.conf
        transport = self.app.transport
        consumer = AIOKafkaConsumer(
            bootstrap_servers=server_list(transport.url, transport.default_port),
            enable_auto_commit=False,
            # A start below the log's first offset (the cleaner removed it) reads from there.
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=FETCH_BYTES,
            fetch_max_bytes=4 * FETCH_BYTES,
            request_timeout_ms=int(conf.broker_request_timeout * 1000),
            **credentials_to_aiokafka_auth(conf.broker_credentials, conf.ssl_context),
        )
        started = time.monotonic()
        deadline = started + SHARE_OF_REQUEST_TIMEOUT * conf.broker_request_timeout
        await consumer.start()
        try:
            store_offset_key = RocksDBStore.offset_key
            restored = await restore(consumer, partitions, store_offset_key, deadline)
        finally:
            await consumer.stop()
        for tp, last in restored.items():
            offsets[TP(tp.topic, tp.partition)] = last
        records = sum(last - partitions[tp][0] + 1 for tp, last in restored.items())
        self.log.info(
            "Restored %d changelog offsets of %d partitions in bulk in %.1f s",
            records,
            len(partitions),
            time.monotonic() - started,
        )


class TableManager(FaustTableManager):
    """Faust's table manager, recovering through ``BulkRestoringRecovery``."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = BulkRestoringRecovery(
                self.app, self, beacon=self.beacon, loop=self.loop
            )
        return self._recovery
