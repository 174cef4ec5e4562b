"""``stockloop notifications``: each notification once, with where its delivery stands."""

from datetime import UTC, datetime, timedelta

from models.notifications import Delivery, Destination, Notification
from streams.cli.notifications import delivery_state, unique

AT = datetime(2026, 11, 30, 8, tzinfo=UTC)


def notification(number: int, minutes: int = 0) -> Notification:
    return Notification(
        id=f"n{number}",
        recipient="li",
        group_key="g",
        urgency="immediate",
        severity="critical",
        at=AT + timedelta(minutes=minutes),
        language="en",
        destinations=(Destination(channel="webhook", address="li-hook"),),
        title="Stock-out HP-200",
        body="HP-200 runs out in SH01.",
        short="HP-200 out",
        items=(),
    )


def attempt(number: int, status: str, channel: str = "webhook") -> Delivery:
    return Delivery(
        id=f"n1-{channel}-{number}",
        notification_id="n1",
        recipient="li",
        channel=channel,
        address="li-hook",
        attempt=number,
        status=status,
        at=AT,
    )


def test_a_notification_published_twice_is_listed_once_in_event_time_order():
    listed = unique([notification(2, minutes=5), notification(1), notification(2, minutes=5)])
    assert [n.id for n in listed] == ["n1", "n2"]


def test_the_delivery_shows_each_channels_last_attempt_whatever_the_read_order():
    attempts = [attempt(2, "delivered"), attempt(1, "retrying"), attempt(1, "failed", "email")]
    assert delivery_state(notification(1), attempts) == "email failed, webhook ok"
    assert delivery_state(notification(1), []) == "not sent yet"
