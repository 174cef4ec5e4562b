"""Exact de-duplication by event id, kept in a table beside the materials.

A material's state stays small (it is written to the changelog on every
event); the ids it has received live here instead, one small record each,
and are dropped once they are older than the de-duplication horizon before
their material's newest event: older stock and demand events are refused
before the look-up (``models.step.receive``), so an id that old is never
asked for.
"""

import time
from collections.abc import Callable, MutableMapping
from datetime import datetime, timedelta
from typing import Any

from streams.app import applied_events_table
from streams.loop_share import SLICE_S, give_way

_SEPARATOR = "\x1f"


def _key(material_id: str, event_id: str) -> str:
    return f"{material_id}{_SEPARATOR}{event_id}"


class TableAppliedEvents:
    """``models.step.AppliedEvents`` over the ``applied-events`` table: event time and source.

    Used inside the material agent only, where the table reads and writes the
    partition of the record being processed: the same partition as the
    material's own state.
    """

    def received_from(self, material_id: str, event_id: str) -> str | None:
        stored = applied_events_table.get(_key(material_id, event_id))
        return None if stored is None else stored.decode().split(_SEPARATOR, 1)[1]

    def remember(self, material_id: str, event_id: str, event_time: datetime, source: str) -> None:
        stored = f"{event_time.isoformat()}{_SEPARATOR}{source}"
        applied_events_table[_key(material_id, event_id)] = stored.encode()


async def prune(
    table: MutableMapping[Any, bytes],
    horizon: timedelta,
    newest_event: Callable[[str], datetime | None],
    go_on: Callable[[], bool],
) -> int:
    """Drop the ids of events older than ``horizon`` before their material's newest event; how
    many were dropped.

    ``newest_event`` gives a material's newest event time, or None for a
    material of another partition (left alone: its ids belong to another
    partition's changelog). In one piece, each partition's first prune over
    10,000 materials held the event loop for 120-290 ms, most of it reading
    the whole table (issue #13). So the table is read, and then the expired
    ids deleted, in slices of ``SLICE_S`` that give way. Records processed
    between slices only add ids and move newest events later, so an id found
    expired stays expired. Stops when ``go_on`` says so (a rebalance): what
    is left waits for the next prune.
    """
    newest: dict[str, datetime | None] = {}
    expired: list[Any] = []
    entries = iter(table.items())
    read = False
    while not read and go_on():
        started = time.perf_counter()
        for key, stored in entries:
            text = key.decode() if isinstance(key, bytes) else key
            material_id = text.split(_SEPARATOR, 1)[0]
            if material_id not in newest:
                newest[material_id] = newest_event(material_id)
            clock = newest[material_id]
            event_time = datetime.fromisoformat(stored.decode().split(_SEPARATOR, 1)[0])
            if clock is not None and event_time < clock - horizon:
                expired.append(key)
            if time.perf_counter() - started >= SLICE_S:
                break
        else:
            read = True
        await give_way(time.perf_counter() - started)
    dropped = 0
    while read and dropped < len(expired) and go_on():
        started = time.perf_counter()
        while dropped < len(expired) and time.perf_counter() - started < SLICE_S:
            del table[expired[dropped]]
            dropped += 1
        await give_way(time.perf_counter() - started)
    return dropped
