"""The router's inbox entries: kept until a commit starts, then a batch per recipient, in order."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from models.dispatch import InboxInput, RoutedBatch, Settled
from streams.inbox_entries import InboxEntries

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


class Topic:
    """Stands in for the Faust topic: notes what was handed to its producer buffer."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []

    def send_soon(self, *, key: bytes, value: bytes) -> None:
        self.sent.append((key, value))


@given(
    routed=st.lists(
        st.tuples(st.sampled_from(["li.na", "anna", "ops"]), st.integers(0, 10**6)), max_size=60
    ),
    limit=st.integers(min_value=1, max_value=2_000),
)
def test_a_flush_sends_each_recipient_what_was_routed_to_them_in_order_and_then_nothing(
    routed, limit
):
    topic = Topic()
    entries = InboxEntries(topic, limit)  # type: ignore[arg-type]
    settlements = [Settled(recipient=r, subject_id=f"s{n}", at=T0) for r, n in routed]
    for settlement in settlements:
        entries.add(settlement)
    assert topic.sent == []
    entries.flush()
    received: dict[str, list[Settled]] = {}
    for key, value in topic.sent:
        batch = InboxInput.validate_json(value)
        assert isinstance(batch, RoutedBatch) and key == batch.recipient.encode()
        received.setdefault(batch.recipient, []).extend(batch.entries)
    for recipient in {"li.na", "anna", "ops"}:
        own = [s for s in settlements if s.recipient == recipient]
        assert received.get(recipient, []) == own
    sent = len(topic.sent)
    entries.flush()
    assert len(topic.sent) == sent
