"""The transport's consumer and producer: which fetched records are handed out, and the
producer buffer's flush, which Faust awaits before it commits offsets.

A commit must not cover a record whose table writes are still in the
buffer. The channel below takes longer to publish each message than
Faust's flush waits for one (what a loaded event loop does); it stands in
for Faust's topic, not for any code of ours.
"""

import asyncio
from types import SimpleNamespace

from faust.transport.producer import ProducerBuffer
from faust.types import TP
from hypothesis import given
from hypothesis import strategies as st

from streams.transport import DrainingProducerBuffer, withheld


class SlowTopic:
    def __init__(self) -> None:
        self.published: list[object] = []

    async def publish_message(self, fut: object, wait: bool = False) -> None:
        await asyncio.sleep(0.25)
        self.published.append(fut)


async def published_when_flush_returns(buffer: ProducerBuffer, messages: int = 3) -> int:
    topic = SlowTopic()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    await buffer.start()
    try:
        for _ in range(messages):
            buffer.put(SimpleNamespace(message=SimpleNamespace(channel=topic)))
        await buffer.flush()
        published = len(topic.published)
        while len(topic.published) < messages:
            await asyncio.sleep(0.05)
        return published
    finally:
        await buffer.stop()


def test_fausts_own_flush_returns_with_writes_still_buffered():
    assert asyncio.run(published_when_flush_returns(ProducerBuffer())) < 3


def test_the_flush_returns_only_once_every_message_is_handed_over():
    assert asyncio.run(published_when_flush_returns(DrainingProducerBuffer())) == 3


topics = st.sampled_from(["erp.sales-orders", "erp.stock-movements", "app-materials-changelog"])
partitions = st.builds(TP, topics, st.integers(0, 3))


@given(st.sets(partitions), st.sets(partitions), st.booleans())
def test_during_a_rebalance_only_changelog_records_are_handed_out(fetched, active, rebalancing):
    """Stream records fetched before Faust seeks to the committed offsets and clears the agents'
    buffers must be fetched again after it; a changelog's records feed the recovery."""
    changelogs = {"app-materials-changelog"} if rebalancing else None
    kept_back = set(withheld(fetched, active, changelogs))
    handed_out = fetched - kept_back
    assert handed_out <= active
    if rebalancing:
        assert all(tp.topic == "app-materials-changelog" for tp in handed_out)
    else:
        assert handed_out == fetched & active
