"""The materials table, read through a cache of parsed states.

Every event touches its material at least twice (received into ``pending``,
then applied once event time has passed it), and a day change touches every
material of a partition. Parsing a stored state costs more than applying an
event to it (``make bench``: 365 µs for a 5.4 KB state), so the worker keeps
the states it parsed last, each beside the exact bytes it was parsed from.
A cached state is used only while the table still holds those bytes: a
restore, a rebalance or another writer can never make it serve a stale state.

A changed state is written to the table when the next offset commit starts,
not at every step (Kafka Streams' record cache): an event touches its
material twice, and a backlog touches it again and again within a commit,
each time writing the whole state (8-20 KB in ``make bench``) to RocksDB
and to the changelog. Faust flushes this first and then picks the offsets
it commits (``streams.commit_flush``), so a committed record's
effect is always in the changelog. An event whose state a crash cut off is
read again and taken in once: the state and ``applied-events`` each tell
what the other lacks (``models.step.receive``).

Every stored state also sets what the material adds to the inventory-health
summary of its partition (``streams.health``), and that too once per commit:
working it out and writing it at every step cost a material agent as much
as writing the state (``PartitionHealth.record``, 7.5 % of the worker in a
drain), and filled the two health changelogs with a record per step, the
cells' with two.
"""

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from faust import current_event
from faust.types import EventT

from models.state import MaterialState
from streams.app import (
    app,
    catalogue,
    health_cells_table,
    health_materials_table,
    materials_table,
)
from streams.catalogue import MATERIAL_EVENTS
from streams.commit_flush import as_part_of
from streams.health import PartitionHealth, partition_of


def material_partition(material_id: str) -> int:
    """The partition of stockloop.material-events (and of the materials table) of a material."""
    return partition_of(material_id, catalogue[MATERIAL_EVENTS].partitions)


def stored_form(state: MaterialState) -> bytes:
    """A material's state as the table holds it: derived fields are left out, recomputed on read."""
    return state.__pydantic_serializer__.to_json(state, exclude_computed_fields=True)


@dataclass(frozen=True)
class Pending:
    """A state stored since the last commit: its stored form, the record that stored it last,
    and whether it differs from what the table holds (else only its health is set)."""

    state: MaterialState
    stored: bytes
    cause: EventT
    changed: bool


class MaterialStates:
    """Material states by id: parsed once, written at most once per commit, if they changed.

    ``size`` bounds the cache: a parsed state takes several times the memory
    of its JSON, and the cache only has to span the time between an event's
    arrival and its application.
    """

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._parsed: OrderedDict[str, tuple[bytes, MaterialState]] = OrderedDict()
        self._pending: dict[str, Pending] = {}
        self.health = PartitionHealth(
            health_materials_table, health_cells_table, material_partition
        )
        app.on_partitions_revoked.connect(self._on_partitions_revoked)
        app.on_partitions_assigned.connect(self._on_partitions_assigned)

    def stored(self, material_id: str) -> bytes | None:
        """A material's state as stored: waiting for the next commit, or in the table."""
        pending = self._pending.get(material_id)
        return pending.stored if pending is not None else materials_table.get(material_id)

    def get(self, material_id: str) -> MaterialState | None:
        """The stored state of a material, or None if it has none."""
        stored = self.stored(material_id)
        if stored is None:
            self._parsed.pop(material_id, None)
            return None
        cached = self._parsed.get(material_id)
        if cached is not None and cached[0] == stored:
            self._parsed.move_to_end(material_id)
            return cached[1]
        state = MaterialState.model_validate_json(stored)
        self._remember(material_id, stored, state)
        return state

    def get_or_new(self, material_id: str) -> MaterialState:
        """The stored state of a material, or a fresh one for a material not seen before."""
        return self.get(material_id) or MaterialState(material_id=material_id)

    def store(self, state: MaterialState) -> bool:
        """Write a state if it differs from the stored one; whether it was written.

        Quiet materials brought to a new time often do not change, and
        writing them anyway would fill the changelog with copies.
        """
        material_id = state.material_id
        stored = stored_form(state)
        cached = self._parsed.get(material_id)
        previous = cached[0] if cached and cached[1] is state else self.stored(material_id)
        # Written as part of the record being processed, which names the changelog partition.
        cause = current_event()
        self._remember(material_id, stored, state)
        # Its health also when the state is unchanged: the first time after a restart, that
        # repairs a contribution a crash lost.
        earlier = self._pending.pop(material_id, None)
        changed = stored != previous or (earlier is not None and earlier.changed)
        if cause is None:
            if changed:
                materials_table[material_id] = stored
            self.health.record(state, stored)
            self.health.publish(material_partition(material_id))
        else:
            self._pending[material_id] = Pending(state, stored, cause, changed)
        return stored != previous

    def forget(self, material_id: str) -> None:
        """Drop a parsed state that may have been changed without being stored (a failed step).

        Its health is then set from the state as stored, not from the object the step changed.
        """
        self._parsed.pop(material_id, None)
        pending = self._pending.get(material_id)
        if pending is not None:
            as_stored = MaterialState.model_validate_json(pending.stored)
            self._pending[material_id] = Pending(
                as_stored, pending.stored, pending.cause, pending.changed
            )

    def flush(self) -> None:
        """Write every state changed since the last flush, and set the health contribution of
        every state stored since then; called as a commit starts."""
        causes: dict[int, EventT] = {}
        while self._pending:
            material_id, pending = next(iter(self._pending.items()))
            with as_part_of(pending.cause):
                if pending.changed:
                    materials_table[material_id] = pending.stored
                self.health.record(pending.state, pending.stored)
            causes[material_partition(material_id)] = pending.cause
            del self._pending[material_id]
        for partition, cause in causes.items():
            with as_part_of(cause):
                self.health.publish(partition)

    def _on_partitions_revoked(self, sender: object, revoked: object, **kwargs: Any) -> None:
        # After the commit Faust makes on revocation: what is left is read again.
        self._pending.clear()
        self.health.forget()

    def _on_partitions_assigned(self, sender: object, assigned: object, **kwargs: Any) -> None:
        self._pending.clear()

    def _remember(self, material_id: str, stored: bytes, state: MaterialState) -> None:
        self._parsed[material_id] = (stored, state)
        self._parsed.move_to_end(material_id)
        while len(self._parsed) > self._size:
            self._parsed.popitem(last=False)
