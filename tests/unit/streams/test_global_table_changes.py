"""A global table's ``changes`` moves whenever its content may have moved on this worker.

``agents.material.AlertContext`` parses the alert actions and promotions
again only when it moved (``streams.table_derived``), the shortage agent the BOM lines: a way in
that left it still would leave a silence, an acknowledgement or a BOM line
unseen. A write made here is covered by
``tests/integration/test_alert_pipeline.py`` (it needs a running producer).
"""

import asyncio


def test_records_another_worker_wrote_move_it(global_table, from_changelog):
    table = global_table("alert-actions")
    before = table.changes
    from_changelog(table, b"ack|a-1", b'{"by": "lin"}')
    assert table.changes > before
    assert table["ack|a-1"] == b'{"by": "lin"}'
    written = table.changes
    from_changelog(table, b"ack|a-1", None)
    assert table.changes > written
    assert "ack|a-1" not in table


def test_a_recovery_and_a_rebalance_move_it(global_table):
    table = global_table("alert-actions")
    before = table.changes
    asyncio.run(table.on_recovery_completed(set(), set()))
    recovered = table.changes
    asyncio.run(table.on_rebalance(set(), set(), set()))
    assert before < recovered < table.changes
