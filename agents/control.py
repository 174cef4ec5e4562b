"""Control topics: rules, response policies and alert actions, mirrored into global tables.

``stockloop.rules``, ``stockloop.policies`` and ``stockloop.alert-actions``
are the public, compacted interface (the CLI writes them); one worker at a
time reads each and copies every record into a global table, which all
workers keep reading. A tombstone removes the entry (for a policy: the
shipped default is in force again).
"""

import faust
from faust.types import Message

from streams.app import (
    alert_actions_table,
    alert_actions_topic,
    app,
    policies_table,
    policies_topic,
    rules_table,
    rules_topic,
)
from streams.metrics import CONTROL_RECORDS


@app.agent(rules_topic)
async def mirror_rules(stream: faust.StreamT[bytes]) -> None:
    """Copy each published rule file into the rules table."""
    async for record in stream.events():
        _mirror(rules_table, record.message)


@app.agent(policies_topic)
async def mirror_policies(stream: faust.StreamT[bytes]) -> None:
    """Copy each published response policy into the policies table, by policy name."""
    async for record in stream.events():
        _mirror(policies_table, record.message)


@app.agent(alert_actions_topic)
async def mirror_alert_actions(stream: faust.StreamT[bytes]) -> None:
    """Copy each acknowledgement and silence into the alert-actions table."""
    async for record in stream.events():
        _mirror(alert_actions_table, record.message)


def _mirror(table: faust.Table, message: Message) -> None:
    if message.key is None:
        return
    if message.value is None:
        table.pop(message.key.decode(), None)
    else:
        table[message.key.decode()] = message.value
    CONTROL_RECORDS.labels(message.topic).inc()
