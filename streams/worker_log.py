"""The worker's log: what the libraries under it report, kept only when someone can act on it.

Faust, mode and aiokafka log at WARNING or ERROR some things that are part of
normal operation. A log that warns all the time teaches people to ignore it,
so each such message is filtered at its own logger: dropped when it is flow
control working as designed, and rewritten with what to check when it means
something only because it persists.
"""

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

PRODUCER_LOGGER = "faust.transport.producer"
TIMERS_LOGGER = "mode.timers"
COORDINATOR_LOGGER = "aiokafka.consumer.group_coordinator"

COORDINATOR_GRACE_S = 60.0
"""How long a starting worker may wait for its group coordinator before that is worth a line.

A broker creates ``__consumer_offsets`` when the first consumer group asks
for a coordinator; until then every lookup fails with a retriable
GroupCoordinatorNotAvailableError, and aiokafka logs each retry at ERROR.
On a fresh local broker that takes a few seconds.
"""
COORDINATOR_DEAD = "Marking the coordinator dead"
REPEAT_AFTER_S = 300.0
"""A rewritten warning is repeated at most this often, with a count of what it stood for."""


class ProducerBufferFull(logging.Filter):
    """Drops Faust's "producer buffer full" warning: it is back-pressure, not a fault.

    Table writes go to a buffer that the stream waits on once it holds more
    than 100 records (``ProducerBuffer.wait_until_ebb``). With batches of
    STOCKLOOP_MAX_POLL_RECORDS events, each writing its material's changelog
    record, every busy batch fills it. The wait is measured where it
    matters, in ``stockloop_end_to_end_seconds``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("producer buffer full")


class _Throttled(logging.Filter, ABC):
    """Rewrites matching records into one actionable line, logged at most every REPEAT_AFTER_S."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.clock = clock
        self.last_logged: float | None = None
        self.suppressed = 0

    @abstractmethod
    def matches(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` is the library message this filter stands in for."""

    @abstractmethod
    def advice(self, record: logging.LogRecord, suppressed: int) -> str:
        """The line logged instead: what it means and what to check."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.matches(record):
            return True
        now = self.clock()
        if self.last_logged is not None and now - self.last_logged < REPEAT_AFTER_S:
            self.suppressed += 1
            return False
        record.msg, record.args = self.advice(record, self.suppressed), ()
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        self.last_logged, self.suppressed = now, 0
        return True


class SlowCommits(_Throttled):
    """Turns mode's "Timer commit is overlapping" into what it means and what to do.

    The commit timer fires every STOCKLOOP_COMMIT_INTERVAL_S, and a commit
    first waits for the table writes of what was processed; while a backlog
    is worked off (a replay, a restart) a commit takes longer than the
    interval, which is expected. Persisting on a live stream, it says the
    broker cannot keep up with the writes.
    """

    def __init__(self, commit_interval_s: float, clock: Callable[[], float] = time.monotonic):
        super().__init__(clock)
        self.commit_interval_s = commit_interval_s

    def matches(self, record: logging.LogRecord) -> bool:
        return (
            str(record.msg).startswith("Timer %s is overlapping")
            and bool(record.args)
            and record.args[0] == "commit"
        )

    def advice(self, record: logging.LogRecord, suppressed: int) -> str:
        runtime = record.args[2] if len(record.args) > 2 else float("nan")
        more = f" ({suppressed} more since the last such line)" if suppressed else ""
        return (
            f"an offset commit took {runtime:.1f} s, longer than STOCKLOOP_COMMIT_INTERVAL_S="
            f"{self.commit_interval_s:g}{more}: expected while a backlog is worked off; if it "
            "persists on a live stream, the broker is slow to take the table writes (check its "
            "disk and `stockloop status`), or raise STOCKLOOP_COMMIT_INTERVAL_S"
        )


class CoordinatorWait(_Throttled):
    """Hides aiokafka's retried coordinator lookups while a worker starts; explains them after.

    Only retriable lookup failures are touched (aiokafka retries those by
    itself), and "Marking the coordinator dead" while the worker starts (the
    coordinator it found first moves once ``__consumer_offsets`` is ready);
    anything else passes unchanged.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.started = clock()

    def matches(self, record: logging.LogRecord) -> bool:
        error = record.args[0] if isinstance(record.args, tuple) and record.args else None
        return str(record.msg).startswith("Group Coordinator Request failed") and bool(
            getattr(error, "retriable", False)
        )

    def filter(self, record: logging.LogRecord) -> bool:
        starting = self.clock() - self.started < COORDINATOR_GRACE_S
        if starting and (self.matches(record) or str(record.msg).startswith(COORDINATOR_DEAD)):
            return False
        return super().filter(record)

    def advice(self, record: logging.LogRecord, suppressed: int) -> str:
        error = type(record.args[0]).__name__
        return (
            f"no consumer group coordinator after {COORDINATOR_GRACE_S:g} s ({error}, retrying): "
            "the broker has not made __consumer_offsets available; check `stockloop broker "
            "status` and the broker's log"
        )


def install(commit_interval_s: float) -> None:
    """Attach the filters to the loggers that emit those messages (before the worker starts)."""
    logging.getLogger(PRODUCER_LOGGER).addFilter(ProducerBufferFull())
    logging.getLogger(TIMERS_LOGGER).addFilter(SlowCommits(commit_interval_s))
    logging.getLogger(COORDINATOR_LOGGER).addFilter(CoordinatorWait())
