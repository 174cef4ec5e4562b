"""The notification router's core: grouping windows, repeats, digests, quiet hours, escalation."""

import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.notifications import (
    Destination,
    Notification,
    NotificationAction,
    NotificationItem,
    Person,
    QuietHours,
    RouteMatch,
    Urgency,
)
from models.notifying import Inbox, acknowledge, due, next_due, notification_id, receive

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday, 10:00 in Berlin, 17:00 in Shanghai
EMAIL = Destination(channel="email", address="li@example.com")
SMS = Destination(channel="sms", address="+8613800000000")


def person(pid: str = "li", **changes: object) -> Person:
    fields: dict[str, object] = {
        "id": pid,
        "name": pid.title(),
        "channels": (Destination(channel="email", address=f"{pid}@example.com"),),
        "critical_channels": (Destination(channel="sms", address=f"+86-{pid}"),),
    }
    return Person(**(fields | changes))


LI = person()


def route(**changes: object) -> RouteMatch:
    return RouteMatch(route="root/buyers", recipients=("li",), **changes)


def item(
    subject: str,
    at: datetime,
    severity: str = "warning",
    version: int = 0,
    warehouse: str = "W1",
    closes: bool = False,
) -> NotificationItem:
    return NotificationItem(
        kind="alert",
        id=f"{subject}-{version}",
        subject_id=subject,
        at=at,
        severity=severity,
        material_id=f"M-{subject}",
        warehouse_id=warehouse,
        rule_id="stockout_risk",
        summary=f"stock-out risk M-{subject} @ {warehouse} v{version}",
        closes=closes,
    )


def labels_of(it: NotificationItem) -> dict[str, str]:
    return {"rule_id": it.rule_id or "", "warehouse_id": it.warehouse_id or "", "event": "alert"}


def take(
    inbox: Inbox,
    it: NotificationItem,
    now: datetime,
    match: RouteMatch | None = None,
    who: Person = LI,
) -> tuple[Inbox, list[Notification]]:
    return receive(inbox, it, labels_of(it), match or route(), who, now)


def tick(
    inbox: Inbox,
    start: datetime,
    end: datetime,
    step: timedelta,
    people: dict[str, Person] | None = None,
) -> tuple[Inbox, list[Notification]]:
    """Ticks every ``step`` from ``start`` to ``end`` inclusive; all that was sent."""
    people = people or {LI.id: LI}
    sent: list[Notification] = []
    now = start
    while now <= end:
        inbox, out = due(inbox, people, now)
        sent += out
        now += step
    return inbox, sent


# --- grouping windows -------------------------------------------------------------------------


def test_a_new_group_waits_group_wait_then_sends_everything_that_arrived_in_one_message():
    inbox = Inbox(recipient="li")
    for seconds, subject in [(0, "a"), (10, "b"), (20, "c")]:
        now = T0 + timedelta(seconds=seconds)
        inbox, sent = take(inbox, item(subject, now), now)
        assert sent == []
    assert due(inbox, {"li": LI}, T0 + timedelta(seconds=29))[1] == []
    inbox, sent = due(inbox, {"li": LI}, T0 + timedelta(seconds=30))
    assert len(sent) == 1
    message = sent[0]
    assert message.urgency is Urgency.IMMEDIATE
    assert message.at == T0 + timedelta(seconds=30)
    assert [i.subject_id for i in message.items] == ["a", "b", "c"]
    assert message.recipient == "li"
    assert message.destinations == LI.channels
    assert due(inbox, {"li": LI}, T0 + timedelta(minutes=1))[1] == []


def test_a_message_of_thousands_lists_the_first_hundred_and_counts_every_item():
    """A buyer's group of 2,500 subjects at once: one message, far below Kafka's 1 MB."""
    inbox = Inbox(recipient="li")
    for number in range(2500):
        severity = "critical" if number % 10 == 0 else "warning"
        inbox, _ = take(inbox, item(f"s{number:04d}", T0, severity), T0)
    inbox, (message,) = due(inbox, {"li": LI}, T0 + timedelta(seconds=30))
    assert (len(message.items), message.unlisted) == (100, 2400)
    assert {i.severity for i in message.items} == {"critical"}  # the most severe first
    assert message.id == notification_id(
        "li", message.group_key, [f"s{n:04d}-0" for n in range(2500)], message.at
    )
    assert "2500 new items" in message.body
    assert "Critical (250)" in message.body and "Warning (2250)" in message.body
    assert message.body.count("\n- ") == 100
    assert message.body.rstrip().endswith("... and 2400 more, not listed here.")
    assert len(message.model_dump_json()) < 100_000
    assert all(subject.told_at is not None for subject in inbox.subjects.values())


def test_a_late_tick_forms_the_message_at_the_flush_time_not_at_the_tick():
    inbox, _ = take(Inbox(recipient="li"), item("a", T0), T0)
    _, sent = due(inbox, {"li": LI}, T0 + timedelta(minutes=3))
    assert [m.at for m in sent] == [T0 + timedelta(seconds=30)]


def test_new_items_of_a_group_that_sent_wait_for_its_group_interval():
    inbox, _ = take(Inbox(recipient="li"), item("a", T0), T0)
    inbox, first = due(inbox, {"li": LI}, T0 + timedelta(seconds=30))
    assert len(first) == 1
    later = T0 + timedelta(minutes=1)
    inbox, sent = take(inbox, item("b", later), later)
    assert sent == []
    tick_at = T0 + timedelta(seconds=30) + timedelta(minutes=5)
    assert due(inbox, {"li": LI}, tick_at - timedelta(seconds=1))[1] == []
    inbox, sent = due(inbox, {"li": LI}, tick_at)
    assert [(m.at, [i.subject_id for i in m.items]) for m in sent] == [(tick_at, ["b"])]


def test_an_item_after_a_quiet_spell_goes_out_on_the_groups_next_tick():
    inbox, _ = take(Inbox(recipient="li"), item("a", T0), T0)
    inbox, _ = due(inbox, {"li": LI}, T0 + timedelta(seconds=30))
    late = T0 + timedelta(minutes=12)  # ticks at 5:30, 10:30, 15:30 after T0
    inbox, _ = take(inbox, item("b", late), late)
    _, sent = tick(inbox, late, late + timedelta(minutes=10), timedelta(minutes=1))
    assert [m.at for m in sent] == [T0 + timedelta(minutes=15, seconds=30)]


def test_a_group_wait_of_zero_sends_on_receipt():
    inbox, sent = take(Inbox(recipient="li"), item("a", T0), T0, route(group_wait=timedelta(0)))
    assert [(m.at, m.urgency) for m in sent] == [(T0, Urgency.IMMEDIATE)]
    assert inbox.subjects["a"].told_at == T0


def test_items_with_different_group_by_labels_go_in_different_messages():
    inbox = Inbox(recipient="li")
    inbox, _ = take(inbox, item("a", T0, warehouse="W1"), T0)
    inbox, _ = take(inbox, item("b", T0, warehouse="W2"), T0)
    _, sent = due(inbox, {"li": LI}, T0 + timedelta(seconds=30))
    assert sorted(m.group_key for m in sent) == [
        "li|rule_id=stockout_risk,warehouse_id=W1",
        "li|rule_id=stockout_risk,warehouse_id=W2",
    ]
    assert len({m.id for m in sent}) == 2


def test_an_update_of_a_queued_subject_replaces_it():
    inbox = Inbox(recipient="li")
    inbox, _ = take(inbox, item("a", T0, version=0), T0)
    later = T0 + timedelta(seconds=5)
    inbox, _ = take(inbox, item("a", later, version=1), later)
    _, sent = due(inbox, {"li": LI}, T0 + timedelta(seconds=30))
    assert [i.id for m in sent for i in m.items] == ["a-1"]


def test_a_duplicate_item_changes_nothing():
    inbox, _ = take(Inbox(recipient="li"), item("a", T0), T0)
    again, sent = take(inbox, item("a", T0), T0 + timedelta(seconds=3))
    assert (again, sent) == (inbox, [])


# --- repeats, news and closing ----------------------------------------------------------------


def test_an_open_subject_is_told_again_only_after_repeat_interval_with_its_latest_content():
    match = route(repeat_interval=timedelta(hours=4))
    inbox, _ = take(Inbox(recipient="li"), item("a", T0), T0, match)
    inbox, _ = due(inbox, {"li": LI}, T0 + timedelta(seconds=30))
    update_at = T0 + timedelta(hours=1)
    inbox, sent = take(inbox, item("a", update_at, version=1), update_at, match)
    assert sent == []
    told = T0 + timedelta(seconds=30)
    inbox, sent = tick(inbox, update_at, told + timedelta(hours=9), timedelta(minutes=10))
    assert [(m.urgency, m.at) for m in sent] == [
        (Urgency.REMINDER, told + timedelta(hours=4)),
        (Urgency.REMINDER, told + timedelta(hours=8)),
    ]
    assert [i.id for i in sent[0].items] == ["a-1"]
    assert sent[0].id != sent[1].id


def test_a_rise_in_severity_is_news_and_reaches_the_critical_channels():
    inbox, _ = take(Inbox(recipient="li"), item("a", T0), T0)
    inbox, _ = due(inbox, {"li": LI}, T0 + timedelta(seconds=30))
    worse = T0 + timedelta(minutes=2)
    inbox, _ = take(inbox, item("a", worse, "critical", version=1), worse)
    _, sent = due(inbox, {"li": LI}, T0 + timedelta(minutes=5, seconds=30))
    assert [(m.urgency, m.severity) for m in sent] == [(Urgency.IMMEDIATE, "critical")]
    assert set(sent[0].destinations) == {*LI.channels, *LI.critical_channels}


def test_a_resolved_subject_is_not_reminded_and_its_resolution_comes_with_the_digest():
    inbox, _ = take(Inbox(recipient="li"), item("a", T0), T0)
    inbox, _ = due(inbox, {"li": LI}, T0 + timedelta(seconds=30))
    end = T0 + timedelta(hours=1)
    inbox, sent = take(inbox, item("a", end, version=1, closes=True), end)
    assert sent == []
    inbox, sent = tick(inbox, end, T0 + timedelta(days=1, hours=2), timedelta(minutes=15))
    assert [(m.urgency, [i.id for i in m.items]) for m in sent] == [(Urgency.DIGEST, ["a-1"])]
    assert sent[0].at == datetime(2026, 3, 3, 8, 30, tzinfo=UTC)
    assert not inbox.subjects


@pytest.mark.parametrize("closing_first", [False, True])
def test_a_subject_that_came_and_went_before_its_group_sent_is_never_told(closing_first):
    opened, closed = item("a", T0), item("a", T0 + timedelta(seconds=5), version=1, closes=True)
    order = [closed, opened] if closing_first else [opened, closed]
    inbox = Inbox(recipient="li")
    for it in order:
        inbox, sent = take(inbox, it, T0 + timedelta(seconds=10))
        assert sent == []
    _, sent = tick(inbox, T0, T0 + timedelta(days=2), timedelta(minutes=30))
    assert sent == []


# --- digests ----------------------------------------------------------------------------------


def digest_times(sent: list[Notification]) -> list[datetime]:
    return [m.at for m in sent if m.urgency is Urgency.DIGEST]


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Asia/Shanghai", [datetime(2026, 1, 6, 0, 30, tzinfo=UTC)]),
        ("America/New_York", [datetime(2026, 1, 5, 13, 30, tzinfo=UTC)]),
        ("Europe/Berlin", [datetime(2026, 1, 6, 7, 30, tzinfo=UTC)]),
    ],
)
def test_a_digest_route_waits_for_the_recipients_local_digest_time(zone, expected):
    who = person(timezone=zone)
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    inbox = Inbox(recipient="li")
    for n in range(10):
        now = start + timedelta(minutes=n)
        inbox, sent = take(inbox, item(f"s{n}", now), now, route(digest=True), who)
        assert sent == []
    _, sent = tick(inbox, start, start + timedelta(days=1), timedelta(minutes=5), {"li": who})
    assert digest_times(sent) == expected
    assert len(sent) == 1 and len(sent[0].items) == 10
    assert sent[0].destinations == who.channels  # a digest never goes by SMS


def test_the_digest_stays_at_local_time_across_the_spring_dst_change():
    # Spring forward on 2026-03-29: 08:30 CET is 07:30 UTC, 08:30 CEST 06:30 UTC.
    expected = ["03-28 07:30", "03-29 06:30", "03-30 06:30", "03-31 06:30"]
    check_digests_across(datetime(2026, 3, 27, 12, tzinfo=UTC), 4, expected)


def test_the_digest_stays_at_local_time_across_the_autumn_dst_change():
    # Fall back on 2026-10-25: 08:30 CEST is 06:30 UTC, 08:30 CET 07:30 UTC.
    expected = ["10-24 06:30", "10-25 07:30", "10-26 07:30"]
    check_digests_across(datetime(2026, 10, 23, 12, tzinfo=UTC), 3, expected)


def check_digests_across(start: datetime, days: int, expected: list[str]) -> None:
    who = person(timezone="Europe/Berlin")
    inbox = Inbox(recipient="li")
    sent: list[Notification] = []
    for day in range(days):
        now = start + timedelta(days=day)
        inbox, out = take(inbox, item(f"s{day}", now), now, route(digest=True), who)
        sent += out
        inbox, out = tick(inbox, now, now + timedelta(days=1), timedelta(minutes=10), {"li": who})
        sent += out
    assert [m.at.strftime("%m-%d %H:%M") for m in sent] == expected
    assert all(m.urgency is Urgency.DIGEST for m in sent)
    # Each day's new item, and the open ones again: their repeat interval (4 h) has passed.
    assert [len(m.items) for m in sent] == list(range(1, days + 1))


def test_a_digest_time_that_a_spring_dst_change_skips_comes_an_hour_later_once():
    who = person(timezone="Europe/Berlin", digest_at=time(2, 30))
    start = datetime(2026, 3, 28, 12, tzinfo=UTC)
    inbox, _ = take(Inbox(recipient="li"), item("a", start), start, route(digest=True), who)
    _, sent = tick(inbox, start, start + timedelta(days=1), timedelta(minutes=5), {"li": who})
    assert digest_times(sent) == [datetime(2026, 3, 29, 1, 30, tzinfo=UTC)]  # 03:30 CEST


def test_one_digest_per_local_day_and_none_when_empty():
    who = person(timezone="Asia/Shanghai")
    start = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    inbox, sent = tick(
        Inbox(recipient="li"), start, start + timedelta(hours=2), timedelta(minutes=5), {"li": who}
    )
    assert sent == []
    after = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # 09:00, the day's digest time has passed
    inbox, _ = take(inbox, item("a", after), after, route(digest=True), who)
    inbox, sent = tick(inbox, after, after + timedelta(hours=12), timedelta(minutes=5), {"li": who})
    assert sent == []
    _, sent = tick(
        inbox,
        after + timedelta(hours=12),
        after + timedelta(hours=36),
        timedelta(minutes=5),
        {"li": who},
    )
    assert digest_times(sent) == [datetime(2026, 1, 6, 0, 30, tzinfo=UTC)]


# --- quiet hours ------------------------------------------------------------------------------

NIGHT_OWL = person(timezone="Asia/Shanghai", quiet_hours=QuietHours(start=time(22), end=time(7)))


@pytest.mark.parametrize(
    ("local_hour", "quiet"), [(21, False), (22, True), (23, True), (2, True), (6, True), (7, False)]
)
def test_quiet_hours_spanning_midnight_hold_back_warnings_until_the_digest(local_hour, quiet):
    now = datetime(2026, 1, 5, local_hour, tzinfo=UTC) - timedelta(hours=8)  # Shanghai is +8
    now += timedelta(days=1) if local_hour < 12 else timedelta(0)
    match = route(group_wait=timedelta(0))
    inbox, sent = take(Inbox(recipient="li"), item("a", now), now, match, NIGHT_OWL)
    if quiet:
        assert sent == []
        assert inbox.subjects["a"].queued == "digest"
    else:
        assert [m.urgency for m in sent] == [Urgency.IMMEDIATE]


def test_a_critical_item_breaks_through_quiet_hours_on_the_critical_channels():
    now = datetime(2026, 1, 5, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    inbox, _ = take(Inbox(recipient="li"), item("a", now, "critical"), now, who=NIGHT_OWL)
    inbox, _ = take(inbox, item("b", now), now, who=NIGHT_OWL)
    inbox, sent = due(inbox, {"li": NIGHT_OWL}, now + timedelta(seconds=30))
    assert [(m.urgency, [i.subject_id for i in m.items]) for m in sent] == [
        (Urgency.IMMEDIATE, ["a"])
    ]
    assert set(sent[0].destinations) == {*NIGHT_OWL.channels, *NIGHT_OWL.critical_channels}
    _, sent = tick(inbox, now, now + timedelta(hours=10), timedelta(minutes=10), {"li": NIGHT_OWL})
    digests = [m for m in sent if m.urgency is Urgency.DIGEST]
    assert [[i.subject_id for i in m.items] for m in digests] == [["b"]]
    assert digests[0].at == datetime(2026, 1, 6, 0, 30, tzinfo=UTC)  # 08:30 next morning


def test_a_reminder_falling_in_quiet_hours_goes_to_the_digest():
    told = datetime(2026, 1, 5, 11, tzinfo=UTC)  # 19:00 in Shanghai
    match = route(group_wait=timedelta(0), repeat_interval=timedelta(hours=4))
    inbox, _ = take(Inbox(recipient="li"), item("a", told), told, match, NIGHT_OWL)
    _, sent = tick(
        inbox, told, told + timedelta(hours=14), timedelta(minutes=10), {"li": NIGHT_OWL}
    )
    assert [m.urgency for m in sent] == [Urgency.DIGEST]  # 23:00 reminder, 08:30 digest


# --- escalation and acknowledgement -----------------------------------------------------------

BOSS = person("wang", language="zh-CN", timezone="Asia/Shanghai")
LEAD = person(escalate_to="wang")
PEOPLE = {"li": LEAD, "wang": BOSS}
CRITICAL_ROUTE = route(escalate_after=timedelta(minutes=15), group_wait=timedelta(0))


def test_an_unacknowledged_critical_item_escalates_once_to_the_next_person_in_their_language():
    inbox, sent = take(Inbox(recipient="li"), item("a", T0, "critical"), T0, CRITICAL_ROUTE, LEAD)
    assert [m.recipient for m in sent] == ["li"]
    assert due(inbox, PEOPLE, T0 + timedelta(minutes=14, seconds=59))[1] == []
    inbox, sent = tick(
        inbox, T0 + timedelta(minutes=15), T0 + timedelta(hours=3), timedelta(minutes=5), PEOPLE
    )
    escalations = [m for m in sent if m.urgency is Urgency.ESCALATION]
    assert len(escalations) == 1
    up = escalations[0]
    assert (up.recipient, up.language, up.at) == ("wang", "zh-CN", T0 + timedelta(minutes=15))
    assert set(up.destinations) == {*BOSS.channels, *BOSS.critical_channels}
    assert "Li" in up.body and "升级" in up.title


def test_an_escalation_left_unacknowledged_climbs_the_chain_one_level_per_wait():
    chief = person("chen", language="zh-CN", timezone="Asia/Shanghai")
    people = {"li": LEAD, "wang": person("wang", escalate_to="chen"), "chen": chief}
    inbox, _ = take(Inbox(recipient="li"), item("a", T0, "critical"), T0, CRITICAL_ROUTE, LEAD)
    inbox, sent = tick(inbox, T0, T0 + timedelta(hours=3), timedelta(minutes=5), people)
    ups = [(m.recipient, m.at) for m in sent if m.urgency is Urgency.ESCALATION]
    assert ups == [("wang", T0 + timedelta(minutes=15)), ("chen", T0 + timedelta(minutes=30))]


def test_one_late_tick_sends_every_level_of_the_chain_that_fell_due_in_order():
    people = {"li": LEAD, "wang": person("wang", escalate_to="chen"), "chen": person("chen")}
    inbox, _ = take(Inbox(recipient="li"), item("a", T0, "critical"), T0, CRITICAL_ROUTE, LEAD)
    inbox, sent = due(inbox, people, T0 + timedelta(hours=1))
    ups = [(m.recipient, m.at) for m in sent if m.urgency is Urgency.ESCALATION]
    assert ups == [("wang", T0 + timedelta(minutes=15)), ("chen", T0 + timedelta(minutes=30))]
    assert [
        m for m in due(inbox, people, T0 + timedelta(hours=2))[1] if m.urgency is Urgency.ESCALATION
    ] == []


def test_an_acknowledgement_after_the_first_escalation_stops_the_climb():
    people = {"li": LEAD, "wang": person("wang", escalate_to="chen"), "chen": person("chen")}
    inbox, _ = take(Inbox(recipient="li"), item("a", T0, "critical"), T0, CRITICAL_ROUTE, LEAD)
    inbox, sent = due(inbox, people, T0 + timedelta(minutes=20))
    assert [m.recipient for m in sent if m.urgency is Urgency.ESCALATION] == ["wang"]
    inbox = acknowledge(inbox, "a", T0 + timedelta(minutes=25))
    _, sent = tick(inbox, T0, T0 + timedelta(hours=3), timedelta(minutes=5), people)
    assert [m for m in sent if m.urgency is Urgency.ESCALATION] == []


def test_a_pending_approval_escalates_unless_approved_in_time():
    approve = NotificationAction(label="Approve", url="https://stockloop.example/a?sig=x")
    approval = NotificationItem(
        kind="purchase_request",
        id="pr-1-1",
        subject_id="pr-1",
        at=T0,
        severity="warning",
        material_id="M1",
        warehouse_id="W1",
        summary="Purchase request pr-1 pending approval",
        actions=(approve,),
    )
    match = route(escalate_after=timedelta(hours=8), repeat_interval=timedelta(days=1))
    inbox, _ = receive(Inbox(recipient="li"), approval, {}, match, LEAD, T0)
    _, sent = tick(inbox, T0, T0 + timedelta(hours=9), timedelta(minutes=30), PEOPLE)
    ups = [m for m in sent if m.urgency is Urgency.ESCALATION]
    assert [(m.recipient, m.at) for m in ups] == [("wang", T0 + timedelta(hours=8))]
    assert ups[0].actions == (approve,)
    inbox, sent = tick(inbox, T0, T0 + timedelta(hours=2), timedelta(minutes=30), PEOPLE)
    assert [m.urgency for m in sent] == [Urgency.IMMEDIATE]
    approved = acknowledge(inbox, "pr-1", T0 + timedelta(hours=2))
    _, sent = tick(
        approved, T0 + timedelta(hours=2), T0 + timedelta(hours=30), timedelta(hours=1), PEOPLE
    )
    assert sent == []


def test_acknowledging_stops_reminders_and_escalation_until_the_severity_rises():
    match = route(
        escalate_after=timedelta(minutes=15),
        group_wait=timedelta(0),
        repeat_interval=timedelta(hours=1),
    )
    inbox, _ = take(Inbox(recipient="li"), item("a", T0), T0, match, LEAD)
    inbox = acknowledge(inbox, "a", T0 + timedelta(minutes=10))
    inbox, sent = tick(inbox, T0, T0 + timedelta(hours=6), timedelta(minutes=5), PEOPLE)
    assert [m for m in sent if m.urgency is not Urgency.DIGEST] == []
    worse = T0 + timedelta(hours=6)
    inbox, sent = take(inbox, item("a", worse, "critical", version=1), worse, match, LEAD)
    assert [m.urgency for m in sent] == [Urgency.IMMEDIATE]
    _, sent = tick(inbox, worse, worse + timedelta(minutes=20), timedelta(minutes=5), PEOPLE)
    assert [m.urgency for m in sent] == [Urgency.ESCALATION]


def test_an_acknowledged_critical_item_that_fell_and_rose_back_is_news_again():
    inbox, sent = take(Inbox(recipient="li"), item("a", T0, "critical"), T0, CRITICAL_ROUTE, LEAD)
    assert [m.urgency for m in sent] == [Urgency.IMMEDIATE]
    inbox = acknowledge(inbox, "a", T0 + timedelta(minutes=5))
    later = T0 + timedelta(hours=2)
    inbox, sent = take(inbox, item("a", later, "warning", 1), later, CRITICAL_ROUTE, LEAD)
    assert sent == []
    again = later + timedelta(hours=1)
    inbox, sent = take(inbox, item("a", again, "critical", 2), again, CRITICAL_ROUTE, LEAD)
    assert [(m.urgency, m.items[0].id) for m in sent] == [(Urgency.IMMEDIATE, "a-2")]
    _, sent = due(inbox, PEOPLE, again + timedelta(minutes=15))
    assert [m.urgency for m in sent] == [Urgency.ESCALATION]


def test_acknowledging_an_unknown_subject_changes_nothing():
    inbox, _ = take(Inbox(recipient="li"), item("a", T0), T0)
    assert acknowledge(inbox, "zzz", T0) == inbox


def test_a_recipient_missing_from_the_directory_is_told_nothing_and_keeps_the_inbox():
    inbox, _ = take(Inbox(recipient="li"), item("a", T0), T0)
    assert due(inbox, {"wang": BOSS}, T0 + timedelta(hours=1)) == (inbox, [])


def test_receiving_for_another_person_is_refused():
    with pytest.raises(ValueError, match="person 'wang' is not the inbox's 'li'"):
        take(Inbox(recipient="li"), item("a", T0), T0, who=BOSS)


def test_a_naive_now_is_refused():
    with pytest.raises(ValueError, match="must be timezone-aware"):
        due(Inbox(recipient="li"), {"li": LI}, datetime(2026, 3, 2, 9))


# --- determinism and storage ------------------------------------------------------------------

arrivals = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),  # subject
        st.integers(0, 2),  # version
        st.sampled_from(["info", "warning", "critical"]),
        st.sampled_from(["W1", "W2"]),
        st.integers(0, 29),  # seconds after T0 it arrives
    ),
    min_size=1,
    max_size=12,
    unique_by=lambda a: (a[0], a[1]),
)


def run(order: list[tuple[str, int, str, str, int]]) -> tuple[list[dict], Inbox]:
    inbox = Inbox(recipient="li")
    for subject, version, severity, warehouse, second in order:
        now = T0 + timedelta(seconds=second)
        at = T0 + timedelta(seconds=version)
        it = item(subject, at, severity, version, warehouse)
        inbox, sent = take(inbox, it, now)
        assert sent == []
    inbox, sent = tick(
        inbox, T0 + timedelta(seconds=30), T0 + timedelta(hours=10), timedelta(minutes=7)
    )
    return sorted((m.model_dump() for m in sent), key=lambda m: (m["at"], m["id"])), inbox


@settings(max_examples=60, deadline=None)
@given(arrivals, st.randoms(use_true_random=False))
def test_items_received_in_any_order_before_a_flush_give_the_same_notifications(items, random):
    # Versions of one subject carry one warehouse, as one alert carries one location.
    where = {subject: warehouse for subject, _, _, warehouse, _ in items}
    items = [(s, v, sev, where[s], sec) for s, v, sev, _, sec in items]
    shuffled = list(items)
    random.shuffle(shuffled)
    first, _ = run(items)
    second, _ = run(shuffled)
    assert first == second
    assert first, "every subject is told"
    assert len({m["id"] for m in first}) == len(first)


def test_the_notification_id_depends_on_recipient_group_items_and_time_not_item_order():
    base = notification_id("li", "g", ["x", "y"], T0)
    assert base == notification_id("li", "g", ["y", "x"], T0)
    assert len(base) == 16 and int(base, 16) >= 0
    assert (
        len(
            {
                base,
                notification_id("wang", "g", ["x", "y"], T0),
                notification_id("li", "h", ["x", "y"], T0),
                notification_id("li", "g", ["x"], T0),
                notification_id("li", "g", ["x", "y"], T0 + timedelta(seconds=1)),
            }
        )
        == 5
    )


changes = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),  # subject
        st.sampled_from(["warning", "critical", None]),  # None: the alert resolved
        st.integers(0, 40),  # minutes after the change before it
    ),
    min_size=2,
    max_size=24,
)


def feed(
    inbox: Inbox, stream: list[NotificationItem], match: RouteMatch, sent: list[Notification]
) -> Inbox:
    """Each item taken at its event time and what fell due by then told, as the worker does."""
    for it in stream:
        inbox, told = take(inbox, it, it.at, match)
        inbox, fallen_due = due(inbox, {"li": LI}, it.at)
        sent += told + fallen_due
    return inbox


@settings(max_examples=200, deadline=None)
@given(
    changes,
    st.sampled_from(
        [
            route(group_wait=timedelta(minutes=5), group_interval=timedelta(minutes=10)),
            route(repeat_interval=timedelta(hours=1)),
            route(digest=True),
        ]
    ),
    st.data(),
)
def test_records_read_again_after_a_crash_tell_what_a_clean_run_tells(changes, match, data):
    """After a crash the worker goes on from its last stored inbox and reads again what it
    took since its last commit, and what the router sent again since its own: every message
    has the clean run's id and content (``tests/integration/test_inbox_crash.py``)."""
    now, versions, stream = T0, {"a": 0, "b": 0, "c": 0}, []
    for subject, severity, minutes in changes:
        now += timedelta(minutes=minutes)
        versions[subject] += 1
        closes = severity is None
        stream.append(item(subject, now, severity or "warning", versions[subject], closes=closes))
    end = now + timedelta(days=1)
    clean: list[Notification] = []
    inbox = feed(Inbox(recipient="li"), stream, match, clean)
    clean += due(inbox, {"li": LI}, end)[1]

    committed = data.draw(st.integers(0, len(stream) - 1), "notifier's commit")
    stored = data.draw(st.integers(committed, len(stream)), "inbox stored")
    killed = data.draw(st.integers(stored, len(stream)), "killed")
    routed_from = data.draw(st.integers(committed, killed), "router's commit")
    crashed: list[Notification] = []
    inbox = feed(Inbox(recipient="li"), stream[:stored], match, crashed)
    inbox = feed(inbox, stream[committed:killed] + stream[routed_from:], match, crashed)
    crashed += due(inbox, {"li": LI}, end)[1]

    by_id = {n.id: n for n in crashed}
    assert by_id == {n.id: n for n in clean}


@settings(max_examples=30, deadline=None)
@given(arrivals)
def test_an_inbox_survives_its_json_round_trip_and_stays_small(items):
    inbox = Inbox(recipient="li")
    for subject, version, severity, warehouse, second in items:
        now = T0 + timedelta(seconds=second)
        inbox, _ = take(
            inbox, item(subject, T0 + timedelta(seconds=version), severity, version, warehouse), now
        )
    inbox, _ = due(inbox, {"li": LI}, T0 + timedelta(minutes=1))
    stored = inbox.model_dump_json()
    assert Inbox.model_validate_json(stored) == inbox
    assert len(stored) < 700 * max(1, len(inbox.subjects))
    assert Inbox.model_validate_json(Inbox(recipient="li").model_dump_json()) == Inbox(
        recipient="li"
    )


HISTORY_UNDER_A_HASH_SEED = """
import hashlib
from datetime import UTC, datetime, timedelta
from models.notifications import Destination, NotificationItem, Person, RouteMatch
from models.notifying import Inbox, acknowledge, due, receive

t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
mail = (Destination(channel="email", address="x@example.com"),)
people = {
    "li": Person(id="li", name="Li", channels=mail, escalate_to="wang"),
    "wang": Person(id="wang", name="Wang", channels=mail),
}
routes = [
    RouteMatch(route="r/w", recipients=("li",), group_by=("warehouse_id",),
               repeat_interval=timedelta(hours=1)),
    RouteMatch(route="r/c", recipients=("li",), escalate_after=timedelta(minutes=20)),
    RouteMatch(route="r/d", recipients=("li",), digest=True),
]
inbox, told = Inbox(recipient="li"), hashlib.sha256()
for n in range(600):
    now = t0 + timedelta(seconds=150 * n)
    subject = f"s{n * 7919 % 150}"
    match = routes[n % 3]
    it = NotificationItem(kind="alert", id=f"{subject}-{n}", subject_id=subject, at=now,
        severity=["info", "warning", "critical"][n % 3], warehouse_id=f"W{n % 4}",
        rule_id="stockout_risk", summary=subject, closes=n % 11 == 0)
    inbox, sent = receive(inbox, it, {"warehouse_id": f"W{n % 4}"}, match, people["li"], now)
    inbox, fallen_due = due(inbox, people, now)
    if n % 13 == 0:
        inbox = acknowledge(inbox, subject, now)
    for message in sent + fallen_due:
        told.update(message.model_dump_json().encode())
told.update(inbox.model_dump_json().encode())
print(told.hexdigest())
"""


@pytest.mark.parametrize("seeds", [("0", "1"), ("2", "3")])
def test_a_history_gives_the_same_messages_and_inbox_bytes_whatever_the_hash_seed(seeds):
    """An inbox's subjects are a map in hash order: nothing told or stored may follow it."""
    digests = {
        subprocess.run(
            [sys.executable, "-c", HISTORY_UNDER_A_HASH_SEED],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in seeds
    }
    assert len(digests) == 1


def test_an_inbox_lists_its_subjects_in_id_order():
    inbox = Inbox(recipient="li")
    for subject in ["b", "c", "a"]:
        inbox, _ = take(inbox, item(subject, T0), T0)
    assert list(orjson.loads(inbox.model_dump_json())["subjects"]) == ["a", "b", "c"]


# --- next_due -------------------------------------------------------------------------------

QUIET_LEAD = person(
    escalate_to="wang",
    timezone="Asia/Shanghai",
    quiet_hours=QuietHours(start=time(22), end=time(7)),
    digest_at=time(8, 30),
)


@settings(max_examples=40, deadline=None)
@given(
    arrivals,
    st.sampled_from(
        [route(), CRITICAL_ROUTE, route(digest=True), route(repeat_interval=timedelta(hours=1))]
    ),
    st.lists(st.integers(min_value=0, max_value=3 * 86_400), max_size=4),
)
def test_due_before_next_due_sends_nothing_and_at_it_moves_the_inbox_on(items, match, probes):
    people = {"li": QUIET_LEAD, "wang": BOSS}
    inbox = Inbox(recipient="li")
    last = T0
    for subject, version, severity, warehouse, second in items:
        last = max(last, T0 + timedelta(seconds=second))
        it = item(subject, T0 + timedelta(seconds=version), severity, version, warehouse)
        inbox, _ = receive(inbox, it, labels_of(it), match, QUIET_LEAD, last)
    for _ in range(6):
        moment = next_due(inbox, people, last)
        if moment is None:
            assert due(inbox, people, last + timedelta(days=40))[1] == []
            return
        for probe in probes:
            before = min(moment - timedelta(microseconds=1), last + timedelta(seconds=probe))
            if before >= last:
                assert due(inbox, people, before)[1] == []
        at = max(moment, last)
        after, _ = due(inbox, people, at)
        assert after != inbox
        inbox, last = after, at
