"""Event time across inputs: how far every input partition has come.

The ERP topics are read at different speeds: during a backlog, a replay or a
new worker's catch-up, a sparse topic (shipments) runs weeks ahead of a busy
one (movements) in event time. A material that moved its clock on whichever
event arrived first closed demand days before their issues came in, and its
forecasts and alerts depended on the interleaving. So time advances only as
far as *every* input has come, as Flink and Kafka Streams do it:

- ingest counts, per input partition it reads, the newest event time it has
  forwarded and whether it has processed all the partition holds
  (``InputProgress``), and sends that as a ``Watermark`` record after the
  events it covers, to every material partition;
- each material partition combines the reports (``PartitionClock``): the
  oldest event time among the inputs still being read, or, once every input
  is read to its end, the newest time seen. A material applies its buffered
  events up to that time, in event-time order (``models.step``).

A partition that has been read to its end is idle: nothing older can still be
on its way from it, so it does not hold time back (Flink's idleness).
"""

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from models.events import InputClock, Watermark
from models.state import MaterialState


def input_position(topic: str, partition: int) -> str:
    """The name of one input partition in a ``Watermark``."""
    return f"{topic}:{partition}"


class InputProgress:
    """Ingest's side: per input partition, the next offset processed and the newest event time.

    >>> from datetime import UTC
    >>> progress = InputProgress()
    >>> progress.record("erp.a:0", offset=4, event_time=datetime(2026, 3, 1, tzinfo=UTC))
    >>> report = progress.watermark({"erp.a:0": 5, "erp.b:0": 0}, committed={})
    >>> report.inputs["erp.a:0"].idle, report.inputs["erp.b:0"].idle
    (True, True)
    >>> progress.watermark({"erp.a:0": 9}, committed={}).inputs["erp.a:0"].idle
    False
    """

    def __init__(self) -> None:
        self._newest: dict[str, datetime] = {}
        self._next_offset: dict[str, int] = {}

    def record(self, position: str, offset: int, event_time: datetime | None) -> None:
        """A record of ``position`` was processed (forwarded, dead-lettered or skipped)."""
        self._next_offset[position] = max(offset + 1, self._next_offset.get(position, 0))
        newest = self._newest.get(position)
        if event_time is not None and (newest is None or event_time > newest):
            self._newest[position] = event_time

    def watermark(
        self, highwaters: Mapping[str, int | None], committed: Mapping[str, int | None]
    ) -> Watermark:
        """Where the partitions in ``highwaters`` (the assigned inputs) stand now.

        A partition is idle once the next offset to process reaches its high
        watermark; before the first record, the committed offset stands in.
        A partition with records but none processed yet is reported busy at
        an unknown time: it holds the receivers' clocks where they are. Left
        out, it let them keep what an earlier reader had said of it, and
        after a restart a stale "idle" from the previous process let time run
        past the partition's whole backlog (its demand all counted as late).
        """
        inputs: dict[str, InputClock] = {}
        for position, highwater in highwaters.items():
            next_offset = self._next_offset.get(position, committed.get(position))
            idle = highwater is not None and (highwater == 0 or (next_offset or 0) >= highwater)
            inputs[position] = InputClock(time=self._newest.get(position), idle=idle)
        return Watermark(inputs=inputs)

    def unstarted(self, report: Watermark, assigned: Collection[str]) -> bool:
        """Some assigned input has records but none processed yet: its time is unknown."""
        return any(
            (clock := report.inputs.get(position)) is None
            or (clock.time is None and not clock.idle)
            for position in assigned
        )


class ReportTargets:
    """The material partitions a report made at once, at the end of an input partition, goes to.

    A material partition that was sent an event can apply it live only once a
    report finds every input read to its end (``PartitionClock.caught_up``);
    until then lateness holds it back. Sent only to the partition of the
    input's last event, such a report left every partition that had been sent
    an event while another input was still busy waiting for the timer
    (``tests/integration/test_live_watermarks.py``: still unapplied after 60 s
    with the timer at 600 s). So every partition sent an event since the last
    such report gets it.

    >>> idle = Watermark(inputs={"a:0": InputClock(idle=True), "b:0": InputClock(idle=True)})
    >>> busy = Watermark(inputs={"a:0": InputClock(idle=True), "b:0": InputClock()})
    >>> targets = ReportTargets()
    >>> targets.sent(3), targets.sent(1)
    (None, None)
    >>> targets.at_end_of_input(busy, last_sent_to=1)
    [1]
    >>> targets.at_end_of_input(idle, last_sent_to=None), targets.at_end_of_input(idle, None)
    ([1, 3], [])
    """

    def __init__(self) -> None:
        self._waiting: set[int] = set()

    def sent(self, partition: int) -> None:
        """An event went to ``partition``: it waits for a report with every input read."""
        self._waiting.add(partition)

    def at_end_of_input(self, report: Watermark, last_sent_to: int | None) -> list[int]:
        """Where ``report`` goes, made once an input partition's last record was processed.

        Every waiting partition when the report finds every input read to its
        end; otherwise the partition the input's last event went to, whose
        clock may move with the input's time (a backlog read in event time).
        """
        if _everything_read(report):
            return self._reported()
        return [] if last_sent_to is None else [last_sent_to]

    def to_every_partition(self, report: Watermark) -> None:
        """``report`` went to every partition (the timer's)."""
        if _everything_read(report):
            self._reported()

    def _reported(self) -> list[int]:
        waiting = sorted(self._waiting)
        self._waiting.clear()
        return waiting


def _everything_read(report: Watermark) -> bool:
    return all(clock.idle for clock in report.inputs.values())


def ahead(report: Watermark, lead: timedelta, unstarted: bool = False) -> set[str]:
    """Input partitions more than ``lead`` ahead of the slowest one still being read.

    Ingest holds them back, as Kafka Streams picks the record with the lowest
    timestamp: topics are read at very different speeds in a backlog (a
    busy partition was seen 20 hours behind the rest), and events that
    time has not yet passed wait in their material's state meanwhile.
    While an input has not delivered its first record (``unstarted``), its
    time is unknown and every other busy input waits for it.

    >>> from datetime import UTC
    >>> at = lambda h: InputClock(time=datetime(2026, 3, 1, h, tzinfo=UTC))
    >>> report = Watermark(inputs={"a:0": at(1), "b:0": at(9), "c:0": at(2)})
    >>> sorted(ahead(report, timedelta(hours=2)))
    ['b:0']
    >>> sorted(ahead(report, timedelta(hours=2), unstarted=True))
    ['a:0', 'b:0', 'c:0']
    """
    busy = {p: c.time for p, c in report.inputs.items() if not c.idle and c.time is not None}
    if not busy:
        return set()
    if unstarted:
        return set(busy)
    slowest = min(busy.values())
    return {position for position, time in busy.items() if time > slowest + lead}


class PartitionClock:
    """A material partition's side: the event time all of its inputs have passed.

    ``value`` only moves forward. It is None until every expected input has
    reported, so a worker that just started applies nothing it might have to
    reorder.

    >>> from datetime import UTC
    >>> day = lambda d: datetime(2026, 3, d, tzinfo=UTC)
    >>> clock = PartitionClock(["a:0", "b:0"])
    >>> clock.update(Watermark(inputs={"a:0": InputClock(time=day(9))})), clock.value
    (False, None)
    >>> clock.update(Watermark(inputs={"b:0": InputClock(time=day(3))})), clock.value.day
    (True, 3)
    >>> clock.held_by()
    'b:0'
    >>> _ = clock.update(Watermark(inputs={"b:0": InputClock(time=day(4), idle=True)}))
    >>> clock.value.day
    9
    """

    def __init__(self, inputs: Collection[str], lateness: timedelta = timedelta(0)) -> None:
        self._expected = frozenset(inputs)
        self._lateness = lateness
        self._clocks: dict[str, InputClock] = {}
        self.value: datetime | None = None
        self._applicable: datetime | None = None

    def update(self, report: Watermark) -> bool:
        """Take one ingest report; True when ``applicable`` moved forward."""
        for position, clock in report.inputs.items():
            if position not in self._expected:
                continue
            previous = self._clocks.get(position)
            newest = clock.time
            if previous is not None and previous.time is not None:
                newest = previous.time if newest is None else max(newest, previous.time)
            self._clocks[position] = InputClock(time=newest, idle=clock.idle)
        combined = self._combined()
        if combined is not None and (self.value is None or combined > self.value):
            self.value = combined
        applicable = self.applicable()
        if applicable is not None and (self._applicable is None or applicable > self._applicable):
            self._applicable = applicable
            return True
        return False

    def held_by(self) -> str | None:
        """The input that keeps time from moving on: not reported yet, or the slowest busy one."""
        missing = sorted(self._expected - self._clocks.keys())
        if missing:
            return missing[0]
        busy = {p: c.time for p, c in self._clocks.items() if not c.idle and c.time is not None}
        return min(busy, key=busy.__getitem__) if busy else None

    def applicable(self) -> datetime | None:
        """Up to when events may be applied.

        While an input is still being read (a backlog, a replay), ``lateness``
        less than the watermark: an input partition may deliver its events that
        much out of event-time order. Once every input is read to its end,
        everything received may be applied: live, lateness costs no latency.
        """
        if self.value is None or self.caught_up:
            return self.value
        return max(self.value - self._lateness, self._applicable or self.value - self._lateness)

    @property
    def caught_up(self) -> bool:
        """Every input has been read to its end: event time is as far as the data goes."""
        return self._expected <= self._clocks.keys() and all(c.idle for c in self._clocks.values())

    def _combined(self) -> datetime | None:
        if not self._expected <= self._clocks.keys():
            return None
        busy = [c.time for c in self._clocks.values() if not c.idle]
        if busy:
            return None if None in busy else min(busy)
        return max((c.time for c in self._clocks.values() if c.time is not None), default=None)


class WaitingMaterials:
    """The materials of one partition with events that event time has not passed yet.

    Each is kept with the time of its oldest waiting event, so that a report
    advances only the materials it releases (``due``), and a report that
    does not move time still releases a material noted after the last one
    that did: a tick that reached it late, or a retry after a failure.

    >>> from datetime import UTC
    >>> waiting = WaitingMaterials()
    >>> waiting.retry("M2", datetime(2026, 3, 2, tzinfo=UTC))
    >>> waiting.retry("M1", datetime(2026, 3, 1, tzinfo=UTC))
    >>> waiting.due(datetime(2026, 3, 1, 12, tzinfo=UTC)), len(waiting)
    (['M1'], 2)
    """

    def __init__(self) -> None:
        self._oldest: dict[str, datetime] = {}

    def __len__(self) -> int:
        return len(self._oldest)

    def note(self, state: MaterialState) -> None:
        """A material just received an event or was advanced: waiting still, and since when."""
        if state.pending:
            self._oldest[state.material_id] = state.pending[0].event.event_time
        else:
            self._oldest.pop(state.material_id, None)

    def retry(self, material_id: str, at: datetime) -> None:
        """Advancing the material to ``at`` failed: a release that passes ``at`` tries again."""
        self._oldest[material_id] = min(at, self._oldest.get(material_id, at))

    def forget(self, material_id: str) -> None:
        """The material is not stored here (any more): nothing of it waits."""
        self._oldest.pop(material_id, None)

    def any_due(self, to: datetime) -> bool:
        """Whether ``to`` has passed a waiting event: asked of every report, so no list is built."""
        return any(oldest <= to for oldest in self._oldest.values())

    def due(self, to: datetime) -> list[str]:
        """The materials with a waiting event that ``to`` has passed, in id order."""
        return sorted(m for m, oldest in self._oldest.items() if oldest <= to)
