"""Watermarks across a restart: what a new ingest does not know yet must hold time back."""

from datetime import UTC, datetime

from models.watermark import InputProgress, PartitionClock


def day(number: int) -> datetime:
    return datetime(2026, 3, number, tzinfo=UTC)


def test_after_a_restart_a_stale_idle_report_does_not_let_time_pass_a_backlog():
    """Seen in a crash test: 488 demand events counted late, all from one input partition."""
    clock = PartitionClock(["s:0", "o:0"])
    before_the_crash = InputProgress()
    before_the_crash.record("s:0", offset=9, event_time=day(5))
    before_the_crash.record("o:0", offset=9, event_time=day(5))
    clock.update(before_the_crash.watermark({"s:0": 10, "o:0": 10}, committed={}))
    assert clock.caught_up

    # Ten more records on each while the worker was down; the new ingest has read o:0 only.
    restarted = InputProgress()
    restarted.record("o:0", offset=19, event_time=day(9))
    report = restarted.watermark({"s:0": 20, "o:0": 20}, committed={"s:0": 10, "o:0": 10})
    clock.update(report)

    assert report.inputs["s:0"].time is None and not report.inputs["s:0"].idle
    assert not clock.caught_up
    assert clock.applicable() == day(5)  # where s:0 was, not day 9
    assert restarted.unstarted(report, ["s:0", "o:0"])


def test_a_partition_read_to_its_end_after_a_restart_is_idle_without_a_time():
    restarted = InputProgress()
    report = restarted.watermark({"s:0": 10}, committed={"s:0": 10})
    assert report.inputs["s:0"].idle and report.inputs["s:0"].time is None
    assert not restarted.unstarted(report, ["s:0"])
