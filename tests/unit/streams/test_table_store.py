"""``rocksdb://`` tables keep Faust's RocksDB store but collect garbage only for a revoked
database."""

import gc

import faust
import pytest
from faust.types import TP

from streams import table_store


@pytest.fixture
def table(tmp_path) -> faust.Table:
    table_store.register()
    app = faust.App("table-store-test", store="rocksdb://", datadir=str(tmp_path))
    return app.Table("materials", key_type=bytes, value_type=bytes)


@pytest.fixture
def collections(monkeypatch) -> list[int]:
    """One entry per ``gc.collect()`` call."""
    calls: list[int] = []
    collect = gc.collect

    def counted(*args: int) -> int:
        calls.append(1)
        return collect(*args)

    monkeypatch.setattr(gc, "collect", counted)
    return calls


def test_rocksdb_tables_get_this_store(table):
    assert type(table.data) is table_store.Store


def test_a_rebalance_that_revokes_nothing_collects_nothing(table, collections):
    table.data._db_for_partition(0)
    table.data.revoke_partitions(table, set())
    table.data.revoke_partitions(table, {TP("another-topic", 0)})
    assert collections == []
    assert 0 in table.data._dbs


def test_a_revoked_database_is_let_go_and_collected(table, collections):
    table.data._db_for_partition(0)
    table.data._db_for_partition(1)
    changelog = next(iter(table.changelog_topic.topics))
    table.data.revoke_partitions(table, {TP(changelog, 1), TP(changelog, 2)})
    assert collections == [1]
    assert set(table.data._dbs) == {0}
