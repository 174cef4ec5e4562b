"""The ingest edge refuses event times outside a plausible window around the wall clock."""

from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest

import connectors
from connectors.cdc import EventTimeWindow, InvalidRecord, decode_record
from connectors.mapping import load_mapping
from tests.debezium import change, epoch_days, epoch_micros, inv_transaction, so_line

MAPPING = load_mapping(Path(connectors.__file__).parent / "mappings" / "example-erp.yaml")
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
WINDOW = EventTimeWindow(now=NOW, years=10)


def movement(event_time: str) -> bytes:
    return orjson.dumps(
        {
            "event_id": "mv-1",
            "event_time": event_time,
            "material_id": "M-1",
            "movement_type": "receipt",
            "warehouse_id": "W1",
            "quantity": 5,
        }
    )


def refusal(value: bytes, kind: str = "movement") -> str:
    with pytest.raises(InvalidRecord) as caught:
        decode_record(value, kind, MAPPING, 65_536, WINDOW)
    return str(caught.value)


def test_window_spans_its_years_either_side_of_the_clock() -> None:
    assert WINDOW.earliest.date().isoformat() == "2016-11-29"
    assert WINDOW.latest.date().isoformat() == "2036-11-29"


@pytest.mark.parametrize("event_time", ["2200-01-01T00:00:00Z", "0005-06-01T00:00:00Z"])
def test_event_time_centuries_off_is_refused_naming_field_value_and_window(
    event_time: str,
) -> None:
    assert refusal(movement(event_time)) == (
        f"event_time={event_time.replace('Z', '+00:00')}: outside the plausible window "
        "2016-11-29 to 2036-11-29 (clock 2026-11-29 +/- 10 years)"
    )


def test_event_time_inside_the_window_is_accepted() -> None:
    for event_time in ("2016-12-01T00:00:00Z", "2036-11-28T00:00:00Z"):
        event = decode_record(movement(event_time), "movement", MAPPING, 65_536, WINDOW)
        assert event is not None and event.event_id == "mv-1"


def test_change_committed_far_in_the_past_is_refused() -> None:
    line = so_line(promise_date=epoch_days(date(1971, 1, 15)))
    envelope = change("so_line", "d", before=line, committed=datetime(1971, 1, 1, tzinfo=UTC))

    assert refusal(orjson.dumps(envelope), "order_line").startswith(
        "event_time=1971-01-01T00:00:00+00:00: outside the plausible window"
    )


def test_movement_posted_far_in_the_future_is_refused() -> None:
    posted = epoch_micros(datetime(2099, 3, 1, 9, 30))
    envelope = change("inv_transaction", "c", after=inv_transaction(posted_at=posted))

    assert refusal(orjson.dumps(envelope)).startswith(
        "event_time=2099-03-01T01:30:00+00:00: outside"
    )


def test_change_with_a_commit_time_beyond_the_calendar_is_refused() -> None:
    envelope = change("so_line", "d", before=so_line())
    envelope["source"]["ts_ms"] = 2**62

    assert refusal(orjson.dumps(envelope), "order_line") == (
        f"source.ts_ms={2**62}: out of range (before year 1 or after 9999)"
    )


def test_tombstone_needs_no_event_time() -> None:
    assert decode_record(None, "movement", MAPPING, 65_536, WINDOW) is None
