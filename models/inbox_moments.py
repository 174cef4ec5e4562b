"""An inbox's subjects indexed by the moments ``due`` waits for (``models.notifying``).

A buyer's inbox holds thousands of subjects, and event time reaches one of
their moments (an escalation, a reminder, a group's flush) every few records.
Each time, ``due`` looked for what fell due and computed the next quiet bound
by passes over every subject: two thirds of the notifier's CPU in a
``make bench`` drain. This index keeps each moment in a heap, so a step
visits only the subjects whose moment came, and the bound is read off the
heaps' tops.

A heap is never searched for the entry of a subject that changed: the new
version's entries are pushed, and an entry whose subject is no longer the
very object in the inbox is dropped when it comes to the top. The index
describes one inbox, its *owner*; an inbox derived from its owner (a subject
changed) takes it over with the changed subjects' entries added, so an index
serves a chain of versions as the worker uses them, one after the other. An
older version that finds its index taken over builds one again.
"""

import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from models.notifying import Subject

AT_ONCE = datetime.min.replace(tzinfo=UTC)
"""A moment that has always come."""

NEVER = datetime.max.replace(tzinfo=UTC)
"""No moment: a subject that waits for nothing on its own."""

Entry = tuple[datetime, int, str, "Subject"]
"""A subject's moment in a heap: (moment, order pushed, subject id, the version it is of)."""

Kind = Literal["escalations", "reminders", "arrivals"]
"""A step's moments: ``take`` and ``put_back`` name the heaps by it."""

_pushed = itertools.count()


def last_news(subject: "Subject") -> datetime:
    """A subject's last news: its latest version's time, or its episode's start if later."""
    at, since = subject.item.at, subject.since
    return at if at > since else since


def escalation_at(subject: "Subject", chain: int) -> datetime:
    """When an open subject goes one level up a chain of ``chain`` people."""
    after = subject.escalate_after
    if after is None or subject.escalations >= chain or subject.acknowledged or subject.closed:
        return NEVER
    return subject.since + (subject.escalations + 1) * after


def reminder_at(subject: "Subject") -> datetime:
    """When an open subject is told again; a reminder interval below zero repeats at no later
    moment: at once."""
    every = subject.repeat_interval
    told, settled = subject.told_at, subject.acknowledged or subject.closed
    if told is None or subject.queued or not every or settled:
        return NEVER
    return told + every if every > timedelta(0) else AT_ONCE


@dataclass(eq=False)
class Moments:
    """The moments of every subject of ``owner`` (an ``Inbox``), for a chain of ``chain`` people.

    ``news``: every subject's last news; ``idle``: that of the subjects not
    queued (what can be forgotten); ``arrivals``: per group key, the arrival
    of each subject queued for the group. ``members`` and ``queued_for``
    count the subjects per group key and those queued for it, and
    ``unplaced`` those queued for a group without an arrival time: what the
    bound cannot account for (``accounts_for``).
    """

    owner: object
    chain: int
    escalations: list[Entry] = field(default_factory=list)
    reminders: list[Entry] = field(default_factory=list)
    news: list[Entry] = field(default_factory=list)
    idle: list[Entry] = field(default_factory=list)
    arrivals: dict[str, list[Entry]] = field(default_factory=dict)
    members: Counter[str] = field(default_factory=Counter)
    queued_for: Counter[str] = field(default_factory=Counter)
    unplaced: int = 0

    @classmethod
    def of(cls, owner: object, subjects: Mapping[str, "Subject"], chain: int) -> "Moments":
        """The index of ``subjects``, the subjects of ``owner``, built in one pass."""
        moments = cls(owner, chain)
        for subject_id, subject in subjects.items():
            moments._count(subject, 1)
            moments._push(subject_id, subject, heapify=False)
        for heap in moments._heaps():
            heapq.heapify(heap)
        return moments

    def hand_over(
        self,
        owner: object,
        before: Mapping[str, "Subject"],
        after: Mapping[str, "Subject"],
        changed: Iterable[str],
    ) -> None:
        """Describe ``owner`` instead, whose subjects ``after`` differ from ``before`` at most in
        ``changed`` (added, replaced or removed)."""
        for subject_id in changed:
            old, new = before.get(subject_id), after.get(subject_id)
            if old is new:
                continue
            if old is not None:
                self._count(old, -1)
            if new is not None:
                self._count(new, 1)
                self._push(subject_id, new, heapify=True)
        self.owner = owner

    def outgrown(self, subjects: Mapping[str, "Subject"]) -> bool:
        """Whether the entries of replaced versions outnumber the subjects: time to build anew."""
        return len(self.news) > 2 * len(subjects) + 64

    def accounts_for(self, groups: Iterable[str]) -> bool:
        """Whether every group has a subject and every queued subject its group and arrival."""
        keys = set(groups)
        return (
            self.unplaced == 0
            and all(self.members[key] > 0 for key in keys)
            and all(key in keys for key, count in self.queued_for.items() if count > 0)
        )

    def first(self, heap: list[Entry], subjects: Mapping[str, "Subject"]) -> datetime:
        """The earliest moment in ``heap`` of a subject still in ``subjects``, else ``NEVER``."""
        while heap:
            moment, _, subject_id, subject = heap[0]
            if subjects.get(subject_id) is subject:
                return moment
            heapq.heappop(heap)
        return NEVER

    def first_arrivals(self, subjects: Mapping[str, "Subject"]) -> Iterator[tuple[str, datetime]]:
        """Each group key with a subject queued for it, and the earliest such arrival."""
        for key, heap in self.arrivals.items():
            if (arrival := self.first(heap, subjects)) < NEVER:
                yield key, arrival

    def take(
        self,
        kind: Kind,
        now: datetime,
        subjects: Mapping[str, "Subject"],
        flush_at: Callable[[str, datetime], datetime],
    ) -> list[Entry]:
        """Take out the entries of ``kind`` whose moment came by ``now`` (current versions only).

        The step they are taken for changes most of their subjects, which
        pushes new entries; ``put_back`` returns those it left as they were.
        Arrivals are taken only from the groups whose flush came by ``now``
        (``flush_at``: a group's flush for its earliest arrival): a group
        still waiting keeps its queue, which holds every alert of a wave
        that came at once (10,000 gaps opened at one event time were taken
        and put back at each of the 10,000 items, 70 s of a worker's loop).
        """
        if kind == "arrivals":
            heaps = [
                heap
                for key, heap in self.arrivals.items()
                if (first := self.first(heap, subjects)) <= now and flush_at(key, first) <= now
            ]
        else:
            heaps = [getattr(self, kind)]
        taken: list[Entry] = []
        for heap in heaps:
            while heap and heap[0][0] <= now:
                entry = heapq.heappop(heap)
                if subjects.get(entry[2]) is entry[3]:
                    taken.append(entry)
        return taken

    def put_back(
        self, kind: Kind, taken: Iterable[Entry], subjects: Mapping[str, "Subject"]
    ) -> None:
        """Return the entries ``take`` gave whose subjects are still the versions they are of."""
        for entry in taken:
            if subjects.get(entry[2]) is entry[3]:
                if kind == "arrivals":
                    heap = self.arrivals[entry[3].group_key]
                else:
                    heap = getattr(self, kind)
                heapq.heappush(heap, entry)

    def _heaps(self) -> Iterator[list[Entry]]:
        yield from (self.escalations, self.reminders, self.news, self.idle)
        yield from self.arrivals.values()

    def _count(self, subject: "Subject", by: int) -> None:
        self.members[subject.group_key] += by
        if subject.queued == "group":
            if subject.queued_at is None:
                self.unplaced += by
            else:
                self.queued_for[subject.group_key] += by

    def _push(self, subject_id: str, subject: "Subject", *, heapify: bool) -> None:
        add = heapq.heappush if heapify else list.append
        order = next(_pushed)
        news = last_news(subject)
        add(self.news, (news, order, subject_id, subject))
        if not subject.queued:
            add(self.idle, (news, order, subject_id, subject))
        elif subject.queued == "group" and subject.queued_at is not None:
            heap = self.arrivals.setdefault(subject.group_key, [])
            add(heap, (subject.queued_at, order, subject_id, subject))
        if (escalation := escalation_at(subject, self.chain)) < NEVER:
            add(self.escalations, (escalation, order, subject_id, subject))
        if (reminder := reminder_at(subject)) < NEVER:
            add(self.reminders, (reminder, order, subject_id, subject))
