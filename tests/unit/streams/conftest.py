"""Global tables as a worker holds them, and records another worker wrote to their changelog."""

from collections.abc import Callable

import faust
import pytest
from faust.events import Event
from faust.types.tuples import Message

from streams import table_store
from streams.app import RawGlobalTable


@pytest.fixture
def global_table(tmp_path) -> Callable[[str], RawGlobalTable]:
    """A RocksDB global table of raw bytes, named as asked, of an app of its own."""
    table_store.register()
    app = faust.App("global-table-test", store="rocksdb://", datadir=str(tmp_path))
    return lambda name: RawGlobalTable(app, name=name, key_type=str, value_type=bytes, partitions=1)


@pytest.fixture
def from_changelog() -> Callable[[RawGlobalTable, bytes, bytes | None], None]:
    """Apply one changelog record, as a worker does with another worker's writes."""

    def apply(table: RawGlobalTable, key: bytes, value: bytes | None) -> None:
        message = Message(
            topic=table.changelog_topic.get_topic_name(),
            partition=0,
            offset=0,
            timestamp=0.0,
            timestamp_type=0,
            headers=[],
            key=key,
            value=value,
            checksum=None,
        )
        event = Event(table.app, key=key, value=value, headers={}, message=message)
        table.apply_changelog_batch([event])

    return apply
