"""The moments index of an inbox: what its heaps say is what a pass over the subjects finds.

The index is built once and then handed from each inbox to the next as
subjects change (``models.notifying._derived``); these tests drive an inbox
through ``receive``, ``due`` and ``acknowledge`` and compare, after every
step, the index's earliest moments with those of a pass over the current
subjects, and check that an inbox whose index was taken over still answers
right.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.inbox_moments import NEVER, Moments, escalation_at, last_news, reminder_at
from models.notifications import NotificationItem, Person, RouteMatch
from models.notifying import Inbox, Subject, _moments_for, acknowledge, due, receive
from tests.unit.models.test_inbox_due_index import T0, leads, person, routes

CHAIN = 2


def passed(subjects: Mapping[str, Subject]) -> dict[str, datetime]:
    """The earliest of each moment by a pass over ``subjects``: what the index must say."""
    values = list(subjects.values())
    idle = [last_news(s) for s in values if not s.queued]
    return {
        "news": min((last_news(s) for s in values), default=NEVER),
        "idle": min(idle, default=NEVER),
        "escalations": min((escalation_at(s, CHAIN) for s in values), default=NEVER),
        "reminders": min((reminder_at(s) for s in values), default=NEVER),
    }


def indexed(moments: Moments, subjects: Mapping[str, Subject]) -> dict[str, datetime]:
    return {
        "news": moments.first(moments.news, subjects),
        "idle": moments.first(moments.idle, subjects),
        "escalations": moments.first(moments.escalations, subjects),
        "reminders": moments.first(moments.reminders, subjects),
    }


def arrivals(subjects: Mapping[str, Subject]) -> dict[str, datetime]:
    """Per group key, the earliest arrival of a subject queued for it, by a pass."""
    earliest: dict[str, datetime] = {}
    for s in subjects.values():
        if s.queued == "group" and s.queued_at is not None:
            earliest[s.group_key] = min(earliest.get(s.group_key, NEVER), s.queued_at)
    return earliest


def alert(subject_id: str, item_id: str, at: datetime, **changes: object) -> NotificationItem:
    """A version of a stock-out alert about ``subject_id``, critical unless ``changes`` say."""
    fields: dict[str, object] = {
        "kind": "alert",
        "id": item_id,
        "subject_id": subject_id,
        "at": at,
        "severity": "critical",
        "rule_id": "stockout_risk",
        "summary": subject_id,
    }
    return NotificationItem(**(fields | changes))


actions = st.one_of(
    st.tuples(
        st.just("receive"),
        st.integers(0, 4 * 3600),
        st.sampled_from("abcdefgh"),
        st.sampled_from(["info", "warning", "critical"]),
        st.booleans(),
        st.sampled_from(["W1", "W2"]),
        routes,
    ),
    st.tuples(st.just("acknowledge"), st.integers(0, 3600), st.sampled_from("abcdefgh")),
    st.tuples(st.just("due"), st.integers(0, 3 * 24 * 3600)),
)


@settings(max_examples=300, deadline=None)
@given(leads, st.lists(actions, min_size=1, max_size=60))
def test_the_index_handed_along_says_what_a_pass_finds(lead: Person, plan: list[tuple]) -> None:
    lead = lead.model_copy(update={"escalate_to": "wang"})  # a chain of CHAIN people above
    people = {"li": lead, "wang": person("wang", escalate_to="chen"), "chen": person("chen")}
    inbox, _ = due(Inbox(recipient="li"), people, T0)
    now = T0
    for version, (action, seconds, *rest) in enumerate(plan):
        now += timedelta(seconds=seconds)
        if action == "receive":
            subject, severity, closes, warehouse, match = rest
            item = alert(
                subject,
                f"{subject}-{version}",
                now,
                severity=severity,
                warehouse_id=warehouse,
                closes=closes,
            )
            labels = {"rule_id": "stockout_risk", "warehouse_id": warehouse}
            inbox, _ = receive(inbox, item, labels, match, lead, now)
        elif action == "acknowledge":
            inbox = acknowledge(inbox, rest[0], now)
        else:
            inbox, _ = due(inbox, people, now)
        moments = _moments_for(inbox, CHAIN)
        assert indexed(moments, inbox.subjects) == passed(inbox.subjects)
        assert dict(moments.first_arrivals(inbox.subjects)) == arrivals(inbox.subjects)
        assert moments.accounts_for(inbox.groups)


def subject(subject_id: str, at: datetime, **changes: object) -> Subject:
    fields: dict[str, object] = {
        "item": alert(subject_id, subject_id, at),
        "group_key": "li|",
        "repeat_interval": timedelta(hours=4),
        "escalate_after": timedelta(minutes=30),
        "since": at,
    }
    return Subject(**(fields | changes))


def test_an_inbox_whose_index_was_taken_over_builds_its_own() -> None:
    lead = person("li", escalate_to="wang")
    people = {"li": lead, "wang": person("wang")}
    a = subject("a", T0, told_at=T0)
    older = Inbox(recipient="li", subjects={"a": a})
    moments = _moments_for(older, 1)
    newer = acknowledge(older, "a", T0)
    assert newer._moments is moments and moments.owner is newer
    assert moments.first(moments.escalations, newer.subjects) == NEVER
    # The older inbox still escalates "a" half an hour on: its own index, built again.
    escalated, sent = due(older, people, T0 + timedelta(minutes=30))
    assert [n.recipient for n in sent] == ["wang"]
    assert escalated.subjects["a"].escalations == 1
    assert _moments_for(older, 1) is not moments


def test_entries_taken_for_a_step_that_left_them_go_back() -> None:
    early, late = subject("a", T0, told_at=T0), subject("b", T0 + timedelta(hours=1), told_at=T0)
    inbox = Inbox(recipient="li", subjects={"a": early, "b": late})
    moments = _moments_for(inbox, 1)
    taken = moments.take("reminders", T0 + timedelta(hours=4), inbox.subjects, flushed_at_once)
    assert sorted(entry[2] for entry in taken) == ["a", "b"]
    moments.put_back("reminders", taken, inbox.subjects)
    assert moments.first(moments.reminders, inbox.subjects) == T0 + timedelta(hours=4)
    assert len(moments.reminders) == 2


def flushed_at_once(group_key: str, earliest: datetime) -> datetime:
    return earliest


def test_a_group_still_waiting_keeps_its_queue_and_a_due_one_gives_it() -> None:
    lead = person("li")
    match = RouteMatch(route="root", recipients=("li",), group_wait=timedelta(seconds=30))
    inbox = Inbox(recipient="li")
    for name in "abc":
        item = alert(name, f"{name}1", T0, warehouse_id="W1")
        inbox, _ = receive(inbox, item, {"rule_id": "stockout_risk"}, match, lead, T0)
    [key] = inbox.groups
    moments = _moments_for(inbox, CHAIN)

    def flush_at(group_key: str, earliest: datetime) -> datetime:
        return earliest + inbox.groups[group_key].wait

    assert moments.take("arrivals", T0 + timedelta(seconds=29), inbox.subjects, flush_at) == []
    assert len(moments.arrivals[key]) == 3
    taken = moments.take("arrivals", T0 + timedelta(seconds=30), inbox.subjects, flush_at)
    assert sorted(entry[2] for entry in taken) == ["a", "b", "c"]


def test_replaced_versions_make_the_index_outgrown_and_it_is_built_again() -> None:
    lead = person("li")
    inbox = Inbox(recipient="li", subjects={"a": subject("a", T0)})
    moments = _moments_for(inbox, 1)
    match = RouteMatch(route="r", recipients=("li",))
    for minute in range(1, 80):
        at = T0 + timedelta(minutes=minute)
        inbox, _ = receive(inbox, alert("a", f"a-{minute}", at), {}, match, lead, at)
    assert inbox._moments is moments and moments.outgrown(inbox.subjects)
    rebuilt = _moments_for(inbox, 1)
    assert rebuilt is not moments and len(rebuilt.news) == 1
