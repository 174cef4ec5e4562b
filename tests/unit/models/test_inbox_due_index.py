"""The inbox's quiet bound: ``due`` and ``receive`` skip their passes, and nothing else changes.

The reference does the whole work on every call: ``due`` as its steps in a
row, ``receive`` and ``acknowledge`` on a copy of the inbox, which carries no
bound. Both are run side by side over random days of items, acknowledgements,
ticks and routing-file changes; the inboxes and the notifications must be the
same, and so must be whether an inbox came back as the very object given.
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from functools import partial

from hypothesis import given, settings
from hypothesis import strategies as st

from models.notifications import Notification, NotificationItem, Person, QuietHours, RouteMatch
from models.notifying import (
    Inbox,
    _digest,
    _escalations,
    _flush_groups,
    _reminders,
    _tidy,
    acknowledge,
    due,
    receive,
)

T0 = datetime(2026, 3, 27, 20, tzinfo=UTC)  # the Friday before Berlin's spring DST change


def person(pid: str, **changes: object) -> Person:
    fields: dict[str, object] = {"id": pid, "name": pid.title(), "channels": ()}
    return Person(**(fields | changes))


def reference_due(
    inbox: Inbox, people: Mapping[str, Person], now: datetime
) -> tuple[Inbox, list[Notification]]:
    """``due`` doing every pass, whatever the inbox holds."""
    lead = people.get(inbox.recipient)
    if lead is None:
        return inbox, []
    inbox, sent = _flush_groups(inbox, lead, now)
    inbox, escalated = _escalations(inbox, lead, people, now)
    inbox, reminded = _reminders(inbox, lead, now)
    inbox, digested = _digest(inbox, lead, now)
    return _tidy(inbox, now), [*sent, *escalated, *reminded, *digested]


def acknowledged(inbox: Inbox, subject_id: str, now: datetime) -> tuple[Inbox, list[Notification]]:
    """``acknowledge`` as a step that tells nothing."""
    return acknowledge(inbox, subject_id, now), []


def without_bound(inbox: Inbox) -> Inbox:
    return Inbox.model_validate(inbox.model_dump())


def next_change(inbox: Inbox, people: Mapping[str, Person], now: datetime) -> datetime | None:
    """The first event time, to the microsecond, at which the reference's ``due`` changes ``inbox``.

    Within 40 days of ``now`` (forgetting takes 30); found by halving, since
    once something falls due it stays due until ``due`` is called.
    """

    def changes(at: datetime) -> bool:
        return reference_due(inbox, people, at)[0] is not inbox

    low, high = now, now + timedelta(days=40)
    if changes(low):
        return low
    if not changes(high):
        return None
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) / 2
        low, high = (low, middle) if changes(middle) else (middle, high)
    return high


leads = st.builds(
    lambda zone, digest_at, quiet, chain: person(
        "li",
        timezone=zone,
        digest_at=digest_at,
        quiet_hours=quiet,
        escalate_to=("wang" if chain else None),
    ),
    st.sampled_from(["Europe/Berlin", "Asia/Shanghai", "America/New_York", "UTC"]),
    st.sampled_from([time(8, 30), time(2, 30), time(0), time(23, 45)]),
    st.sampled_from(
        [None, QuietHours(start=time(22), end=time(7)), QuietHours(start=time(12), end=time(14))]
    ),
    st.booleans(),
)

routes = st.builds(
    lambda group_by, wait, interval, repeat, escalate, digest: RouteMatch(
        route="root/buyers",
        recipients=("li",),
        group_by=group_by,
        group_wait=wait,
        group_interval=interval,
        repeat_interval=repeat,
        escalate_after=escalate,
        digest=digest,
    ),
    st.sampled_from([("rule_id", "warehouse_id"), ("rule_id",)]),
    st.sampled_from([timedelta(0), timedelta(minutes=1), timedelta(minutes=5)]),
    st.sampled_from([timedelta(minutes=5), timedelta(minutes=1), timedelta(0)]),
    st.sampled_from([timedelta(hours=1), timedelta(hours=4), timedelta(0)]),
    st.sampled_from([None, timedelta(minutes=30)]),
    st.booleans(),
)

advances = st.one_of(
    st.just(timedelta(0)),
    st.integers(1, 600).map(lambda s: timedelta(seconds=s)),
    st.integers(1, 8 * 3600).map(lambda s: timedelta(seconds=s)),
    st.integers(1, 32).map(lambda d: timedelta(days=d)),
)

steps = st.one_of(
    st.tuples(
        st.just("receive"),
        advances,
        st.sampled_from("abcde"),  # subject
        st.sampled_from(["info", "warning", "critical"]),
        st.booleans(),  # closes
        st.sampled_from(["W1", "W2"]),
        st.integers(0, 7200),  # seconds the item is older than its arrival
        routes,
        st.booleans(),  # then due at the same time, as the notifier does
    ),
    st.tuples(st.just("acknowledge"), advances, st.sampled_from("abcde")),
    st.tuples(st.just("due"), advances),
    # Just before and at the moments things fall due: where a wrong bound shows.
    st.tuples(st.just("edges"), st.integers(1, 4)),
    # A new routing file: the same person or a changed one, and a chain above them.
    st.tuples(st.just("routing"), advances, st.none() | leads, st.booleans()),
)


@settings(max_examples=600, deadline=None)
@given(leads, st.booleans(), st.lists(steps, min_size=1, max_size=40))
def test_the_bound_changes_no_inbox_and_no_notification(lead, longer_chain, plan):
    wang = person("wang", escalate_to="chen" if longer_chain else None)
    people = {"li": lead, "wang": wang, "chen": person("chen")}
    now = T0
    inbox, reference = side_by_side(
        Inbox(recipient="li"),
        Inbox(recipient="li"),
        partial(due, people=people, now=now),
        partial(reference_due, people=people, now=now),
    )
    for version, (action, *rest) in enumerate(plan):
        if action == "edges":
            inbox, reference, now = at_edges(inbox, reference, people, now, *rest)
            continue
        advance, *rest = rest
        now += advance
        if action == "receive":
            subject, severity, closes, warehouse, age, match, then_due = rest
            it = NotificationItem(
                kind="alert",
                id=f"{subject}-{version}",
                subject_id=subject,
                at=now - timedelta(seconds=age),
                severity=severity,
                warehouse_id=warehouse,
                rule_id="stockout_risk",
                summary=f"{subject} v{version}",
                closes=closes,
            )
            labels = {"rule_id": "stockout_risk", "warehouse_id": warehouse}
            taken = partial(
                receive, item=it, labels=labels, match=match, person=people["li"], now=now
            )
            inbox, reference = side_by_side(inbox, reference, taken)
            if not then_due:
                continue
        elif action == "acknowledge":
            (subject,) = rest
            settled = partial(acknowledged, subject_id=subject, now=now)
            inbox, reference = side_by_side(inbox, reference, settled)
            continue
        elif action == "routing":
            changed, longer_chain = rest
            wang = person("wang", escalate_to="chen" if longer_chain else None)
            people = people | {"li": changed or people["li"], "wang": wang}
        inbox, reference = side_by_side(
            inbox,
            reference,
            partial(due, people=people, now=now),
            partial(reference_due, people=people, now=now),
        )


def at_edges(
    inbox: Inbox, reference: Inbox, people: Mapping[str, Person], now: datetime, times: int
) -> tuple[Inbox, Inbox, datetime]:
    """``due`` just before and at each of the next ``times`` moments something falls due."""
    for _ in range(times):
        edge = next_change(reference, people, now)
        if edge is None:
            break
        for at in (edge - timedelta(microseconds=1), edge):
            if at < now:
                continue
            now = at
            inbox, reference = side_by_side(
                inbox,
                reference,
                partial(due, people=people, now=at),
                partial(reference_due, people=people, now=at),
            )
    return inbox, reference, now


Step = Callable[[Inbox], tuple[Inbox, list[Notification]]]


def side_by_side(
    inbox: Inbox, reference: Inbox, step: Step, reference_step: Step | None = None
) -> tuple[Inbox, Inbox]:
    """One step on both; the same inbox, notifications, and inbox object kept or not."""
    given_reference = without_bound(reference)
    after, sent = step(inbox)
    reference_after, expected = (reference_step or step)(given_reference)
    assert sent == expected
    assert after.model_dump() == reference_after.model_dump()
    assert (after is inbox) == (reference_after is given_reference)
    return after, reference_after


def test_a_copy_carries_no_bound_and_the_bound_is_not_part_of_equality():
    lead = person("li")
    inbox, _ = due(Inbox(recipient="li"), {"li": lead}, T0)
    assert due(inbox, {"li": lead}, T0 + timedelta(hours=1))[0] is inbox
    assert inbox._quiet is not None
    assert inbox == without_bound(inbox)
    assert inbox.model_copy()._quiet is None
    assert inbox.model_copy(update={"digest_day": None})._quiet is None


def test_due_before_the_bound_gives_back_the_very_inbox_and_at_it_moves_on():
    lead = person("li", digest_at=time(8, 30))
    people = {"li": lead}
    inbox, _ = due(Inbox(recipient="li"), people, T0)  # 20:00 UTC: the day's digest is past
    assert inbox._quiet is not None
    next_digest = datetime(2026, 3, 28, 8, 30, tzinfo=UTC)
    assert inbox._quiet.until == next_digest
    assert due(inbox, people, next_digest - timedelta(microseconds=1))[0] is inbox
    assert due(inbox, people, next_digest)[0].digest_day == next_digest.date()


def test_a_new_routing_file_computes_the_bound_again():
    early, late = person("li", digest_at=time(6)), person("li", digest_at=time(9))
    inbox, _ = due(Inbox(recipient="li"), {"li": late}, T0)
    assert due(inbox, {"li": late}, datetime(2026, 3, 28, 7, tzinfo=UTC))[0] is inbox
    moved, _ = due(inbox, {"li": early}, datetime(2026, 3, 28, 7, tzinfo=UTC))
    assert moved.digest_day == datetime(2026, 3, 28).date()


def test_a_group_whose_wait_shortens_sends_at_once_what_waited_for_the_longer_one():
    lead = person("li")
    labels = {"rule_id": "stockout_risk", "warehouse_id": "W1"}
    inbox, _ = due(Inbox(recipient="li"), {"li": lead}, T0)
    for subject, wait, at in (("a", 5, T0), ("b", 1, T0 + timedelta(minutes=2))):
        it = NotificationItem(
            kind="alert",
            id=subject,
            subject_id=subject,
            at=at,
            severity="warning",
            rule_id="stockout_risk",
            warehouse_id="W1",
            summary=subject,
        )
        match = RouteMatch(route="r", recipients=("li",), group_wait=timedelta(minutes=wait))
        expected = receive(without_bound(inbox), it, labels, match, lead, at)
        inbox, sent = receive(inbox, it, labels, match, lead, at)
        assert (inbox, sent) == expected
    assert [(n.at, [i.id for i in n.items]) for n in sent] == [(T0 + timedelta(minutes=1), ["a"])]
