"""Faust's RocksDB table store, without a full garbage collection per table at every rebalance.

Faust's store ends ``revoke_partitions`` with ``gc.collect()``, so that the
databases of revoked partitions are closed (their objects freed) before
another worker's store may open them. It does so for every table at every
rebalance, also when no partition was revoked: a cold start of a worker with
10,000 materials spent 15 collections of 0.14-0.2 s each on it, with the
event loop held (issue #13, ``docs/performance.md``). This store collects
only when a database was let go.
"""

import gc

from faust.stores import STORES
from faust.stores.rocksdb import Store as FaustRocksDBStore
from faust.types import TP, CollectionT


class Store(FaustRocksDBStore):
    """``rocksdb://``: Faust's RocksDB store, collecting garbage only for a revoked database."""

    def revoke_partitions(self, table: CollectionT, tps: set[TP]) -> None:
        closed = sum(
            self._dbs.pop(tp.partition, None) is not None
            for tp in tps
            if tp.topic in table.changelog_topic.topics
        )
        if closed:
            self.logger.info("closed the databases of %d revoked partitions", closed)
            gc.collect()


def register() -> None:
    """Make ``rocksdb://`` (the ``table_store`` setting's default) this store."""
    STORES.aliases["rocksdb"] = f"{__name__}:Store"
