"""Writes kept in memory until an offset commit starts, then made before Faust commits.

Kafka Streams' record cache: a table value updated many times between two
commits reaches the store and its changelog once. What commits a record
must have its effect in the changelog first, so the writes are made as
every commit starts.
"""

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import faust
from faust.streams import _current_event
from faust.types import EventT


class FlushOnCommit(faust.Sensor):
    """Runs ``flush`` as every offset commit starts, before Faust picks the offsets to commit.

    Faust computes the offsets right after this call, with no await between,
    and flushes the producer (the changelog writes) before it commits them.
    """

    def __init__(self, flush: Callable[[], None]) -> None:
        super().__init__()
        self._flush = flush

    def on_commit_initiated(self, consumer: Any) -> None:
        self._flush()


@contextmanager
def as_part_of(cause: EventT) -> Iterator[None]:
    """Table writes made inside go to the changelog partition of ``cause``, a record processed
    earlier: a flush runs in Faust's commit task, outside any agent."""
    token = _current_event.set(weakref.ref(cause))
    try:
        yield
    finally:
        _current_event.reset(token)
