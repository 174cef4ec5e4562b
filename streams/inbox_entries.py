"""The router's inbox entries, kept until an offset commit starts, then sent a batch per recipient.

Each item or settlement the router made was a record of its own on
``stockloop.notification-inbox``: 2.9 per input event in a 20,000-event
drain, each produced, fetched, delivered and acknowledged through Faust at
its fixed cost, and the notifier's hops were most of what a worker did
after its material agent had caught up. Sent when the next commit starts
(``streams.commit_flush``), they are a few records per recipient per commit
interval. The offsets that commit covers are those of records routed
before the flush, and Faust flushes the producer before committing them, so
a committed record's entries are on the topic; a record routed after it is
read and routed again after a crash, and an inbox takes an entry twice
without a change (``models.notifying``). Nothing is dropped at a rebalance:
what was routed is sent at the next commit, at worst once more.
"""

import faust

from models.dispatch import RoutedItem, Settled, batches
from models.events import encode

BATCH_BYTES = 262_144
"""At most about this much per record: a quarter of Kafka's default limit of 1 MB."""


class InboxEntries:
    """Entries routed since the last commit, by recipient, in the order they were routed."""

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
