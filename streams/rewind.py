"""Rewind never-committed input partitions once table recovery is done.

Faust (0.15.3 with aiokafka 0.14) can drop records while it recovers tables:
when restoring the active changelog partitions ends, its set of active
partitions is briefly empty, aiokafka reads an empty set as "every
partition", and the fetch in flight returns records of the still-paused input
partitions, which Faust discards. aiokafka has already moved their
positions past those records. Faust then seeks every input partition back to
its committed offset, but aiokafka only seeks when that offset is above zero.
A partition with no committed offset yet, such as after a crash before the
first commit, therefore stays past records that were never processed, and
the worker looks healthy while it idles.

Seeking such partitions to the beginning after every recovery keeps the
at-least-once promise. Replayed records are harmless: the material state
drops them by source offset, and the global tables are written with the same
key and value again.
"""

import logging
from typing import Any

from streams.app import app

log = logging.getLogger(__name__)


@app.on_rebalance_complete.connect
async def rewind_uncommitted(sender: Any, **kwargs: Any) -> None:
    """Seek assigned input partitions without a committed offset to their beginning.

    The signal fires when recovery is done and before Faust resumes the input
    partitions, so no record of them has reached an agent yet.
    """
    consumer = app.consumer
    changelogs = app.tables.changelog_topics
    committed = await consumer.seek_to_committed()
    uncommitted = [
        tp for tp, offset in committed.items() if not offset and tp.topic not in changelogs
    ]
    if uncommitted:
        log.info("rewinding %d never-committed partitions to the beginning", len(uncommitted))
    for tp in uncommitted:
        # Offset 0 also serves topics whose head retention deleted: aiokafka
        # resets an out-of-range position to the earliest offset.
        await consumer.seek(tp, 0)
