"""What a replay copies of one partition: the window clamped to what the partition holds."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from connectors.replay import ReplayWindow, partition_range

T = datetime(2026, 3, 1, tzinfo=UTC)
offsets = st.integers(min_value=0, max_value=1_000)


@given(
    offsets, offsets, st.none() | offsets, st.none() | offsets, st.none() | offsets, st.booleans()
)
def test_a_range_lies_within_the_partition_and_never_runs_backwards(
    beginning, length, start_offset, at_start, at_end, compacted
):
    end = beginning + length
    window = ReplayWindow(
        start_time=T if at_start is not None else None,
        start_offset=start_offset if at_start is None else None,
        end_time=T if at_end is not None else None,
    )
    copied = partition_range(
        "erp.shipments", 0, beginning, end, window, at_start, at_end, compacted
    )
    assert beginning <= copied.start <= copied.end <= end


def test_a_start_time_later_than_every_record_copies_nothing():
    copied = partition_range("erp.shipments", 2, 0, 40, ReplayWindow(start_time=T), None)
    assert copied.offsets == 0


def test_a_compacted_topic_is_copied_from_its_beginning_whatever_the_start():
    window = ReplayWindow(start_time=T)
    copied = partition_range("erp.materials", 0, 3, 40, window, start_at_time=30, compacted=True)
    assert (copied.start, copied.end) == (3, 40)


def test_an_end_time_stops_before_the_first_record_stamped_at_it():
    window = ReplayWindow(start_offset=10, end_time=T)
    copied = partition_range("erp.sales-orders", 1, 0, 100, window, end_at_time=25)
    assert (copied.start, copied.end, copied.offsets) == (10, 25, 15)


def test_an_end_time_after_every_record_copies_to_the_end():
    copied = partition_range("erp.sales-orders", 1, 0, 100, ReplayWindow(end_time=T), None, None)
    assert copied.end == 100
