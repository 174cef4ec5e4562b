"""The writes kept for a commit: late in each interval in slices that give way, then by the commit
itself."""

import asyncio
import math
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

from faust import current_event

from models.notifications import Destination, Person, RouteMatch
from models.notifying import receive
from streams.commit_flush import WRITE_AHEAD_SHARE, FlushOnCommit
from streams.inboxes import Inboxes
from tests.unit.streams.test_inboxes import Record, Table, alert


def inboxes_with_changes(count: int) -> tuple[Table, Inboxes]:
    table = Table()
    inboxes = Inboxes(table)
    for number in range(count):
        person = Person(
            id=f"r{number}",
            name=f"R{number}",
            channels=(Destination(channel="email", address=f"r{number}@x.example"),),
        )
        item = alert(number)
        match = RouteMatch(route="root", recipients=(person.id,))
        inbox = receive(inboxes.get(person.id), item, {}, match, person, item.at)[0]
        inboxes.store(inbox, Record())
    return table, inboxes


def test_a_flush_with_its_deadline_passed_writes_nothing_and_says_what_is_left():
    table, inboxes = inboxes_with_changes(3)
    assert inboxes.flush(time.perf_counter() - 1) is True
    assert table == {}
    assert inboxes.flush(math.inf) is False
    assert {key for key, _ in table.writes} >= {"r0", "r1", "r2"}


@dataclass
class Worker:
    """What ``write_ahead`` reads of a Faust app: its commit interval and whether it
    rebalances or stops."""

    conf: SimpleNamespace = field(
        default_factory=lambda: SimpleNamespace(broker_commit_interval=0.5)
    )
    rebalancing: bool = False
    should_stop: bool = False


def test_write_ahead_waits_for_the_end_of_the_interval_then_writes_in_slices_that_give_way():
    table, inboxes = inboxes_with_changes(2_000)
    on_commit = FlushOnCommit(inboxes.flush)
    worker = Worker()
    seen_by_the_other_task: list[tuple[float, int]] = []

    async def scenario() -> float:
        done = asyncio.Event()

        async def other() -> None:
            while not done.is_set():
                seen_by_the_other_task.append((time.perf_counter(), len(table.writes)))
                await asyncio.sleep(0)

        started = time.perf_counter()
        running = asyncio.create_task(other())
        writing = asyncio.create_task(on_commit.write_ahead(worker))
        while inboxes.flush(time.perf_counter() - 1):
            await asyncio.sleep(0.01)
        worker.should_stop = True
        on_commit.on_commit_completed(consumer=None, state=None)
        await writing
        done.set()
        await running
        return started

    started = asyncio.run(scenario())
    first_write = min(at for at, writes in seen_by_the_other_task if writes)
    assert first_write - started >= 0.5 * (1 - WRITE_AHEAD_SHARE) - 0.05
    assert len({key for key, _ in table.writes}) == 4_000  # a header and a subject each
    between = [n for _, n in seen_by_the_other_task if 0 < n < len(table.writes)]
    assert between, "the other task never ran while the writes were under way"
    assert current_event() is None


def test_write_ahead_writes_nothing_while_the_group_rebalances():
    table, inboxes = inboxes_with_changes(5)
    on_commit = FlushOnCommit(inboxes.flush)
    worker = Worker(rebalancing=True)

    async def scenario() -> None:
        writing = asyncio.create_task(on_commit.write_ahead(worker))
        await asyncio.sleep(0.5)
        worker.should_stop = True
        on_commit.on_commit_completed(consumer=None, state=None)
        await writing

    asyncio.run(scenario())
    assert table == {}
    assert inboxes.flush(math.inf) is False


def test_the_commits_own_flush_writes_whatever_is_left():
    table, inboxes = inboxes_with_changes(5)
    FlushOnCommit(inboxes.flush).on_commit_initiated(consumer=None)
    assert inboxes.flush(math.inf) is False
    assert len({key for key, _ in table.writes}) == 10
