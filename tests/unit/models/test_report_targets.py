"""Reports made at the end of an input reach every material partition that waits for one."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from models.events import InputClock, Watermark
from models.watermark import InputProgress, PartitionClock, ReportTargets

INPUTS = ["erp.a:0", "erp.b:0"]
START = datetime(2026, 3, 1, tzinfo=UTC)

records = st.lists(
    st.tuples(st.sampled_from(INPUTS), st.integers(0, 3), st.integers(0, 48)),
    min_size=1,
    max_size=40,
)


@given(records)
def test_once_every_input_is_read_every_partition_sent_an_event_can_apply_it(
    stream: list[tuple[str, int, int]],
):
    """One ingest reads both inputs' records in the order given, each already on the broker."""
    highwaters = {position: 0 for position in INPUTS}
    for position, _, _ in stream:
        highwaters[position] += 1
    progress, targets = InputProgress(), ReportTargets()
    clocks = {partition: PartitionClock(INPUTS, timedelta(hours=1)) for partition in range(4)}
    newest: dict[int, datetime] = {}
    offsets = dict.fromkeys(INPUTS, 0)
    for position, partition, hour in stream:
        event_time = START + timedelta(hours=hour)
        offset, offsets[position] = offsets[position], offsets[position] + 1
        targets.sent(partition)
        newest[partition] = max(event_time, newest.get(partition, event_time))
        progress.record(position, offset, event_time)
        if offset + 1 == highwaters[position]:
            report = progress.watermark(highwaters, committed={})
            for target in targets.at_end_of_input(report, partition):
                clocks[target].update(report)

    for partition, event_time in newest.items():
        assert clocks[partition].caught_up
        assert clocks[partition].applicable() >= event_time


def test_a_report_with_an_input_still_busy_goes_only_where_the_last_event_went():
    targets = ReportTargets()
    targets.sent(0)
    targets.sent(2)
    busy = Watermark(inputs={"erp.a:0": InputClock(idle=True), "erp.b:0": InputClock()})
    assert targets.at_end_of_input(busy, last_sent_to=2) == [2]
    assert targets.at_end_of_input(busy, last_sent_to=None) == []
    idle = Watermark(inputs={"erp.a:0": InputClock(idle=True), "erp.b:0": InputClock(idle=True)})
    assert targets.at_end_of_input(idle, last_sent_to=None) == [0, 2]


def test_the_timers_report_to_every_partition_settles_them_when_every_input_is_read():
    targets = ReportTargets()
    targets.sent(1)
    busy = Watermark(inputs={"erp.a:0": InputClock()})
    targets.to_every_partition(busy)
    assert targets.at_end_of_input(busy, last_sent_to=None) == []
    idle = Watermark(inputs={"erp.a:0": InputClock(idle=True)})
    targets.to_every_partition(idle)
    assert targets.at_end_of_input(idle, last_sent_to=None) == []
