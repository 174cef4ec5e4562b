"""The worker's log keeps only what someone can act on (``streams.worker_log``)."""

import logging

import pytest
from aiokafka.errors import GroupAuthorizationFailedError, GroupCoordinatorNotAvailableError

from streams import worker_log


class Clock:
    """Monotonic seconds that a test moves forward."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def record(name: str, msg: str, *args: object, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def overlap(runtime: float, timer: str = "commit") -> logging.LogRecord:
    return record(
        worker_log.TIMERS_LOGGER,
        "Timer %s is overlapping (interval=%r runtime=%r)",
        timer,
        1.0,
        runtime,
    )


def test_producer_buffer_full_is_dropped_and_other_producer_warnings_kept():
    buffer_full = worker_log.ProducerBufferFull()
    assert not buffer_full.filter(
        record(worker_log.PRODUCER_LOGGER, "producer buffer full size 102")
    )
    assert buffer_full.filter(record(worker_log.PRODUCER_LOGGER, "Cannot flush: producer stopped"))


def test_a_slow_commit_says_what_to_check_once_per_interval(clock: Clock):
    slow = worker_log.SlowCommits(commit_interval_s=1.0, clock=clock)
    first = overlap(3.79)
    assert slow.filter(first)
    message = first.getMessage()
    assert "an offset commit took 3.8 s, longer than STOCKLOOP_COMMIT_INTERVAL_S=1" in message
    assert "raise STOCKLOOP_COMMIT_INTERVAL_S" in message
    clock.now += 10
    assert not slow.filter(overlap(1.7))
    assert not slow.filter(overlap(1.2))
    clock.now += worker_log.REPEAT_AFTER_S
    again = overlap(2.0)
    assert slow.filter(again)
    assert "(2 more since the last such line)" in again.getMessage()


def test_other_timers_overlapping_are_left_alone(clock: Clock):
    slow = worker_log.SlowCommits(commit_interval_s=1.0, clock=clock)
    lag = overlap(6.0, timer="measure_consumer_lag")
    assert slow.filter(lag)
    assert lag.getMessage().startswith("Timer measure_consumer_lag is overlapping")


def coordinator_failure(error: Exception) -> logging.LogRecord:
    return record(
        worker_log.COORDINATOR_LOGGER,
        "Group Coordinator Request failed: %s",
        error,
        level=logging.ERROR,
    )


def test_coordinator_lookups_retried_at_start_are_quiet_then_explained(clock: Clock):
    wait = worker_log.CoordinatorWait(clock=clock)
    assert not wait.filter(coordinator_failure(GroupCoordinatorNotAvailableError()))
    clock.now += worker_log.COORDINATOR_GRACE_S
    late = coordinator_failure(GroupCoordinatorNotAvailableError())
    assert wait.filter(late)
    assert late.levelname == "WARNING"
    assert "no consumer group coordinator after 60 s (GroupCoordinatorNotAvailableError" in (
        late.getMessage()
    )
    assert "stockloop broker status" in late.getMessage()


def test_a_coordinator_error_that_is_not_retried_passes_unchanged(clock: Clock):
    wait = worker_log.CoordinatorWait(clock=clock)
    fatal = coordinator_failure(GroupAuthorizationFailedError())
    assert wait.filter(fatal)
    assert fatal.levelname == "ERROR"
    assert fatal.getMessage().startswith("Group Coordinator Request failed")


def test_a_coordinator_lost_while_starting_is_quiet_and_later_reported(clock: Clock):
    wait = worker_log.CoordinatorWait(clock=clock)
    message = "Marking the coordinator dead (node %s)for group %s."
    assert not wait.filter(record(worker_log.COORDINATOR_LOGGER, message, 1, "stockloop"))
    clock.now += worker_log.COORDINATOR_GRACE_S
    assert wait.filter(record(worker_log.COORDINATOR_LOGGER, message, 1, "stockloop"))
