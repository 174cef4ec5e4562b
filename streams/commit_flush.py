"""Writes kept in memory until an offset commit starts, then made before Faust commits.

Kafka Streams' record cache: a table value updated many times between two
commits reaches the store and its changelog once. What commits a record
must have its effect in the changelog first, so the writes are made as
every commit starts.

Made all at once, they held the event loop: a commit that wrote a second's
worth of material states stalled records and the web API for 100-750 ms at
a time (issue #13). So in the last ``WRITE_AHEAD_SHARE`` of each commit
interval a task writes what waits in slices that give way, and then what
comes in as it comes (``FlushOnCommit.write_ahead``); the commit writes
what is left, about a slice's worth. The task writes as every step once
did, outside the commit: Faust's commit itself neither waits for it nor
changes.
"""

import asyncio
import math
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import faust
from faust.streams import _current_event
from faust.types import EventT

from streams.loop_share import SLICE_S, give_way

WRITE_AHEAD_SHARE = 0.3
"""The last part of each commit interval in which waiting writes are made ahead of the commit.
A value updated again after it was written ahead reaches the changelog twice in that commit."""

Flush = Callable[[float], bool]
"""Writes what waits until ``time.perf_counter()`` passes the given deadline; whether any is
left."""


class FlushOnCommit(faust.Sensor):
    """Runs ``flush`` as every offset commit starts, before Faust picks the offsets to commit.

    Faust computes the offsets right after this call, with no await between,
    and flushes the producer (the changelog writes) before it commits them.
    """

    def __init__(self, flush: Flush) -> None:
        super().__init__()
        self._flush = flush
        self._committed = asyncio.Event()
        self._last_commit_at = time.perf_counter()

    def on_commit_initiated(self, consumer: Any) -> None:
        self._flush(math.inf)

    def on_commit_completed(self, consumer: Any, state: Any) -> None:
        self._last_commit_at = time.perf_counter()
        self._committed.set()

    async def write_ahead(self, app: faust.App) -> None:
        """Until the worker stops: late in each commit interval, write what waits in slices,
        and then what comes in, until the commit.

        Not while the group rebalances: the partitions those writes belong
        to may be leaving, and what is left of them is read again.
        """
        interval = app.conf.broker_commit_interval
        while not app.should_stop:
            self._committed.clear()
            due = self._last_commit_at + interval * (1 - WRITE_AHEAD_SHARE)
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            while not self._committed.is_set() and not app.rebalancing:
                started = time.perf_counter()
                if self._flush(started + SLICE_S):
                    await give_way(time.perf_counter() - started)
                else:
                    # What comes in until the commit is written as it comes: the commit's own
                    # flush is then about one slice.
                    await asyncio.sleep(SLICE_S)
            await self._committed.wait()


@contextmanager
def as_part_of(cause: EventT) -> Iterator[None]:
    """Table writes made inside go to the changelog partition of ``cause``, a record processed
    earlier: a flush runs in Faust's commit task, outside any agent."""
    token = _current_event.set(weakref.ref(cause))
    try:
        yield
    finally:
        _current_event.reset(token)
