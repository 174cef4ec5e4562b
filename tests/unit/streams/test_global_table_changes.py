"""A global table's ``changes`` moves whenever its content may have moved on this worker.

``agents.material.AlertContext`` parses the alert actions and promotions
again only when it moved: a way in that left it still would leave a
silence or an acknowledgement unseen. A write made here is covered by
``tests/integration/test_alert_pipeline.py`` (it needs a running producer).
"""

import asyncio

import faust
import pytest
from faust.events import Event
from faust.types.tuples import Message

from streams import table_store
from streams.app import RawGlobalTable


@pytest.fixture
def table(tmp_path) -> RawGlobalTable:
    table_store.register()
    app = faust.App("global-table-test", store="rocksdb://", datadir=str(tmp_path))
    return RawGlobalTable(app, name="alert-actions", key_type=str, value_type=bytes, partitions=1)


def _changelog_record(table: RawGlobalTable, key: bytes, value: bytes | None) -> Event:
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
    return Event(table.app, key=key, value=value, headers={}, message=message)


def test_records_another_worker_wrote_move_it(table):
    before = table.changes
    table.apply_changelog_batch([_changelog_record(table, b"ack|a-1", b'{"by": "lin"}')])
    assert table.changes > before
    assert table["ack|a-1"] == b'{"by": "lin"}'
    written = table.changes
    table.apply_changelog_batch([_changelog_record(table, b"ack|a-1", None)])
    assert table.changes > written
    assert "ack|a-1" not in table


def test_a_recovery_and_a_rebalance_move_it(table):
    before = table.changes
    asyncio.run(table.on_recovery_completed(set(), set()))
    recovered = table.changes
    asyncio.run(table.on_rebalance(set(), set(), set()))
    assert before < recovered < table.changes
