"""The bulk restore of a changelog partition into its RocksDB store (streams.bulk_restore).

``ChangelogConsumer`` stands in for aiokafka's consumer over one compacted
changelog partition: it hands out a few records per fetch from its position,
starts at the log's first record when asked for a removed offset (as
``auto_offset_reset="earliest"`` does), and skips offsets the cleaner removed.
"""

import asyncio
import time
from pathlib import Path
from typing import NamedTuple

from aiokafka import TopicPartition
from faust.stores.rocksdb import Store
from rocksdict import Options, Rdict

from streams.bulk_restore import restore

TP = TopicPartition("app-materials-changelog", 3)


class Record(NamedTuple):
    offset: int
    key: bytes
    value: bytes | None


class ChangelogConsumer:
    def __init__(self, log: list[Record], per_fetch: int = 2) -> None:
        self.log = log
        self.per_fetch = per_fetch
        self.next = 0

    def assign(self, partitions: list[TopicPartition]) -> None:
        assert partitions == [TP]

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.next = max(offset, self.log[0].offset)

    def pause(self, tp: TopicPartition) -> None:
        pass

    async def position(self, tp: TopicPartition) -> int:
        return self.next

    async def getmany(self, *tps: TopicPartition, **_: object) -> dict:
        records = [record for record in self.log if record.offset >= self.next][: self.per_fetch]
        if not records:
            return {}
        self.next = records[-1].offset + 1
        return {TP: records}


def store_at(path: Path) -> Rdict:
    return Rdict(str(path), Options(raw_mode=True))


def restored(db: Rdict, log: list[Record], start: int, end: int) -> dict[TopicPartition, int]:
    consumer = ChangelogConsumer(log)
    deadline = time.monotonic() + 10
    return asyncio.run(restore(consumer, {TP: (start, end, db)}, Store.offset_key, deadline))


def contents(db: Rdict) -> dict[bytes, bytes]:
    return {key: value for key, value in db.items() if key != Store.offset_key}


LOG = [
    Record(0, b"MAT-1", b"10"),
    Record(1, b"MAT-2", b"20"),
    Record(2, b"MAT-1", b"11"),
    Record(3, b"MAT-3", b"30"),
    Record(4, b"MAT-2", None),
    Record(5, b"MAT-3", b"31"),
]


def test_a_cold_store_ends_with_the_last_value_of_each_key_and_tombstones_delete(tmp_path):
    db = store_at(tmp_path / "db")
    assert restored(db, LOG, 0, 6) == {TP: 5}
    assert contents(db) == {b"MAT-1": b"11", b"MAT-3": b"31"}
    assert db[Store.offset_key] == b"5"


def test_records_past_the_highwater_are_left_for_fausts_recovery(tmp_path):
    db = store_at(tmp_path / "db")
    assert restored(db, LOG, 0, 4) == {TP: 3}
    assert contents(db) == {b"MAT-1": b"11", b"MAT-2": b"20", b"MAT-3": b"30"}
    assert db[Store.offset_key] == b"3"


def test_a_warm_store_applies_only_what_came_after_its_persisted_offset(tmp_path):
    db = store_at(tmp_path / "db")
    # Written after offset 3 was persisted: the records up to 3 must not overwrite it.
    db[b"MAT-1"] = b"local"
    db[Store.offset_key] = b"3"
    assert restored(db, LOG, 4, 6) == {TP: 5}
    assert contents(db) == {b"MAT-1": b"local", b"MAT-3": b"31"}
    assert db[Store.offset_key] == b"5"


def test_offsets_the_log_cleaner_removed_neither_stall_nor_shift_the_restore(tmp_path):
    compacted = [LOG[2], LOG[4], LOG[5]]
    db = store_at(tmp_path / "db")
    assert restored(db, compacted, 0, 6) == {TP: 5}
    assert contents(db) == {b"MAT-1": b"11", b"MAT-3": b"31"}


def test_a_restore_out_of_time_writes_nothing(tmp_path):
    db = store_at(tmp_path / "db")
    consumer = ChangelogConsumer(LOG)
    partitions = {TP: (0, 6, db)}
    assert asyncio.run(restore(consumer, partitions, Store.offset_key, time.monotonic())) == {}
    assert list(db.keys()) == []
