"""The inboxes table: a record per subject, written once per commit, read back as it was."""

from datetime import UTC, datetime, timedelta

from faust import current_event
from hypothesis import given, settings
from hypothesis import strategies as st

from models.notifications import Destination, NotificationItem, Person, RouteMatch
from models.notifying import Inbox, acknowledge, due, receive
from streams.inboxes import Inboxes, subject_key

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
LI = Person(id="li", name="Li", channels=(Destination(channel="email", address="li@x.example"),))
PEOPLE = {"li": LI}


class Record:
    """The record an inbox change belongs to (Faust's event, for the changelog partition)."""


class Table(dict[str, bytes]):
    """A plain mapping standing in for the Faust table; notes the record of every write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, object]] = []

    def __setitem__(self, key: str, value: bytes) -> None:
        self.writes.append((key, current_event()))
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.writes.append((key, current_event()))
        super().__delitem__(key)


def alert(number: int, at: datetime = T0, severity: str = "warning") -> NotificationItem:
    return NotificationItem(
        kind="alert",
        id=f"a{number}-{at:%H%M%S}-{severity}",
        subject_id=f"a{number}",
        at=at,
        severity=severity,
        material_id=f"M-{number}",
        rule_id="stockout_risk",
        summary=f"stock-out risk M-{number}",
    )


def take(inbox: Inbox, item: NotificationItem) -> Inbox:
    match = RouteMatch(route="root", recipients=("li",))
    return receive(inbox, item, {"rule_id": "stockout_risk"}, match, LI, item.at)[0]


def test_changes_between_two_flushes_are_written_once_as_part_of_the_last_record():
    table = Table()
    inboxes = Inboxes(table)
    records = [Record() for _ in range(3)]
    for number, record in enumerate(records):
        inboxes.store(take(inboxes.get("li"), alert(number)), record)
        assert len(inboxes.get("li").subjects) == number + 1
    assert table == {} and inboxes.recipients() == {"li"}
    inboxes.flush()
    assert table.writes == [
        ("li", records[-1]),
        (subject_key("li", "a0"), records[-1]),
        (subject_key("li", "a1"), records[-1]),
        (subject_key("li", "a2"), records[-1]),
    ]
    assert current_event() is None
    inboxes.flush()
    assert len(table.writes) == 4


def test_a_flush_writes_only_the_subjects_that_changed_and_no_record_grows_with_the_inbox():
    table = Table()
    inboxes = Inboxes(table)
    inbox = inboxes.get("li")
    for number in range(3000):
        inbox = take(inbox, alert(number))
    inboxes.store(inbox, Record())
    inboxes.flush()
    assert max(len(value) for value in table.values()) < 2_000
    # The group's message goes out: every subject is told, and written again once.
    inboxes.store(due(inboxes.get("li"), PEOPLE, T0 + timedelta(minutes=10))[0], Record())
    inboxes.flush()
    written = len(table.writes)
    later = alert(7, T0 + timedelta(minutes=20), "info")
    inboxes.store(take(inboxes.get("li"), later), Record())
    inboxes.flush()
    assert [key for key, _ in table.writes[written:]] == [subject_key("li", "a7")]


def test_an_inbox_that_nothing_fell_due_in_is_not_written_again():
    table = Table()
    inboxes = Inboxes(table)
    inboxes.store(take(inboxes.get("li"), alert(1)), Record())
    # The first tick of a day notes the digest day; the next, an hour later, finds nothing due.
    inboxes.store(due(inboxes.get("li"), PEOPLE, T0 + timedelta(minutes=10))[0], Record())
    inboxes.flush()
    quiet = inboxes.get("li")
    again, sent = due(quiet, PEOPLE, T0 + timedelta(minutes=70))
    assert sent == [] and again is quiet
    written = len(table.writes)
    inboxes.store(again, Record())
    inboxes.flush()
    assert len(table.writes) == written


def test_an_inbox_written_whole_before_is_read_and_then_written_a_subject_at_a_time():
    table = Table()
    whole = take(take(Inbox(recipient="li"), alert(1)), alert(2))
    table["li"] = whole.model_dump_json().encode()
    inboxes = Inboxes(table)
    assert inboxes.get("li") == whole
    changed = take(inboxes.get("li"), alert(3))
    inboxes.store(changed, Record())
    inboxes.flush()
    assert b"subjects" not in table["li"]
    assert sorted(table) == ["li", *(subject_key("li", f"a{n}") for n in (1, 2, 3))]
    assert Inboxes(table).get("li") == changed


def test_changes_not_flushed_before_a_rebalance_are_forgotten():
    table = Table()
    inboxes = Inboxes(table)
    inboxes.store(take(inboxes.get("li"), alert(1)), Record())
    inboxes.flush()
    inboxes.store(take(inboxes.get("li"), alert(2)), Record())
    inboxes.invalidate()
    inboxes.flush()
    assert set(inboxes.get("li").subjects) == {"a1"}


steps = st.lists(
    st.tuples(
        st.sampled_from(["receive", "tick", "acknowledge", "flush"]),
        st.integers(0, 5),  # subject
        st.integers(0, 60 * 24 * 40),  # minutes after T0: ticks reach the forget horizon
        st.sampled_from(["info", "warning", "critical"]),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(steps)
def test_what_is_flushed_reads_back_equal_from_the_table_alone(operations):
    table = Table()
    inboxes = Inboxes(table)
    now = T0
    for operation, number, minutes, severity in operations:
        now = max(now, T0 + timedelta(minutes=minutes))
        inbox = inboxes.get("li")
        match operation:
            case "receive":
                inbox = take(inbox, alert(number, now, severity))
            case "tick":
                inbox = due(inbox, PEOPLE, now)[0]
            case "acknowledge":
                inbox = acknowledge(inbox, f"a{number}", now)
            case "flush":
                inboxes.flush()
                assert Inboxes(table).get("li") == inboxes.get("li")
                continue
        inboxes.store(inbox, Record())
    inboxes.flush()
    assert Inboxes(table).get("li") == inboxes.get("li")
