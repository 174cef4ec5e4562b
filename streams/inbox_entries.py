"""The router's inbox entries, sent a batch per recipient a few times a second.

Each item or settlement the router made was a record of its own on
``stockloop.notification-inbox``: 2.9 per input event in a 20,000-event
drain, each produced, fetched, delivered and acknowledged through Faust at
its fixed cost. Kept by recipient and sent every ``SEND_EVERY_S``, they are
a few records per recipient per tenth of a second.

They are also sent when an offset commit starts (``streams.commit_flush``).
The offsets a commit covers are those of records routed before that flush,
and Faust flushes the producer before committing them, so a committed
record's entries are on the topic; a record routed after it is read and
routed again after a crash, and an inbox takes an entry twice without a
change (``models.notifying``). Nothing is dropped at a rebalance: what was
routed is sent at the next flush, at worst once more.
"""

import faust

from models.dispatch import RoutedItem, Settled, batches
from models.events import encode

SEND_EVERY_S = 0.1
"""How long an entry may wait for others. Sent whenever the router had nothing queued
behind a record, they were nearly as many records as before (measured: no gain)."""
BATCH_BYTES = 262_144
"""At most about this much per record: a quarter of Kafka's default limit of 1 MB."""


class InboxEntries:
    """Entries routed since the last flush, by recipient, in the order they were routed."""

    def __init__(self, topic: faust.TopicT, limit: int = BATCH_BYTES) -> None:
        self._topic = topic
        self._limit = limit
        self._pending: dict[str, list[bytes]] = {}

    def add(self, entry: RoutedItem | Settled) -> None:
        """Keep ``entry`` for the next flush."""
        self._pending.setdefault(entry.recipient, []).append(encode(entry))

    def flush(self) -> None:
        """Hand every recipient's entries to the producer, which Faust flushes before it commits."""
        pending, self._pending = self._pending, {}
        for recipient, entries in pending.items():
            for value in batches(recipient, entries, self._limit):
                self._topic.send_soon(key=recipient.encode(), value=value)
