"""Exact de-duplication by event id, kept in a table beside the materials.

A material's state stays small (it is written to the changelog on every
event); the ids it has received live here instead, one small record each,
and are dropped once they are older than the de-duplication horizon in event
time: older stock and demand events are refused before the look-up
(``models.step.receive``), so an id that old is never asked for.
"""

from collections.abc import Callable
from datetime import datetime

from streams.app import applied_events_table

_SEPARATOR = "\x1f"


def _key(material_id: str, event_id: str) -> str:
    return f"{material_id}{_SEPARATOR}{event_id}"


class TableAppliedEvents:
    """``models.step.AppliedEvents`` over the ``applied-events`` table.

    Used inside the material agent only, where the table reads and writes the
    partition of the record being processed: the same partition as the
    material's own state.
    """

    def seen(self, material_id: str, event_id: str) -> bool:
        return _key(material_id, event_id) in applied_events_table

    def remember(self, material_id: str, event_id: str, event_time: datetime) -> None:
        applied_events_table[_key(material_id, event_id)] = event_time.isoformat().encode()


def prune(before: datetime, in_partition: Callable[[str], bool]) -> int:
    """Drop the ids of events older than ``before`` whose material is in this partition."""
    expired = []
    for key, stored in list(applied_events_table.items()):
        text = key.decode() if isinstance(key, bytes) else key
        material_id = text.split(_SEPARATOR, 1)[0]
        if in_partition(material_id) and datetime.fromisoformat(stored.decode()) < before:
            expired.append(key)
    for key in expired:
        del applied_events_table[key]
    return len(expired)
