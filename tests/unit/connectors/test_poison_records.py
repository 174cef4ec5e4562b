"""Poison records: whatever bytes arrive, decoding ends in an event, a tombstone or one reason.

Each trigger below once escaped ``decode_record`` as something other than
``InvalidRecord`` and crashed the ingest agent (issue 7); the property tests
feed arbitrary bytes and mutated valid records.
"""

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import connectors
from connectors.cdc import MAX_REASON_CHARS, InvalidRecord, decode_record
from connectors.mapping import load_mapping
from tests.debezium import (
    change,
    columns_of,
    decimal_column,
    inv_transaction,
    item_master,
    po_line,
    so_line,
    with_schema,
)
from tests.json_paths import paths, replaced

MAPPING = load_mapping(Path(connectors.__file__).parent / "mappings" / "example-erp.yaml")
MAX_BYTES = 65_536
MOVEMENT = {
    "event_id": "mv-1",
    "event_time": "2024-03-01T09:30:00+08:00",
    "material_id": "BRG-6204-2RS",
    "movement_type": "receipt",
    "warehouse_id": "SH01",
    "quantity": 40,
}


def refusal(value: bytes, kind: str = "movement", max_bytes: int = MAX_BYTES) -> str:
    with pytest.raises(InvalidRecord) as caught:
        decode_record(value, kind, MAPPING, max_bytes)
    return str(caught.value)


# Stands for a JSON array nested 1,000 deep, which orjson reads but will not write.
DEEP = "\x00deep\x00"


def nested(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


def dumps(document: Any) -> bytes:
    """JSON of ``document`` with every ``DEEP`` placeholder nested 1,000 levels deep."""
    return orjson.dumps(document).replace(orjson.dumps(DEEP), nested(1000))


@pytest.mark.parametrize(
    "moment",
    ["0001-01-01T00:30:00+05:00", "9999-12-31T23:30:00-05:00"],
    ids=["year-1", "year-9999"],
)
def test_event_time_whose_zone_offset_leaves_the_calendar_is_refused(moment: str) -> None:
    reason = refusal(orjson.dumps({**MOVEMENT, "event_time": moment}))

    assert reason.startswith(f"event_time='{moment}': ")
    assert "out of range" in reason


def test_order_time_whose_zone_offset_leaves_the_calendar_is_refused() -> None:
    line = {
        "event_id": "po-1",
        "event_time": "2024-03-01T09:30:00Z",
        "material_id": "M",
        "line_id": "PO-1/10",
        "supplier_id": "S",
        "warehouse_id": "W",
        "quantity": 5,
        "ordered_at": "0001-01-01T00:00:00+01:00",
        "eta": "2024-03-10",
        "status": "ordered",
    }

    assert refusal(orjson.dumps(line), kind="in_transit").startswith("ordered_at='0001-01-01")


def test_deeply_nested_field_value_is_refused_with_a_short_reason() -> None:
    reason = refusal(dumps({**MOVEMENT, "event_id": DEEP}))

    assert reason.startswith("event_id=[[")
    assert len(reason) < 200


def test_deeply_nested_debezium_source_is_refused_with_a_short_reason() -> None:
    envelope = change("no_such_table", "c", after={"a": 1})
    envelope["source"]["db"] = DEEP

    reason = refusal(dumps(envelope))

    assert reason.startswith("source.table='no_such_table': table not in the CDC mapping")
    assert len(reason) < 300


def test_deeply_nested_identifying_column_is_refused() -> None:
    reason = refusal(dumps(change("inv_transaction", "c", after=inv_transaction(trans_id=DEEP))))

    assert reason.startswith("inv_transaction.trans_id=[[")
    assert "identifying" in reason


def test_json_nested_beyond_the_parser_limit_is_refused_as_malformed() -> None:
    assert refusal(nested(5000)).startswith("value: malformed JSON")


def test_huge_unknown_field_name_gives_a_bounded_reason() -> None:
    value = orjson.dumps({**MOVEMENT, "x" * 60_000: 1})

    reason = refusal(value)

    assert reason.endswith("extra inputs are not permitted")
    assert len(reason) <= MAX_REASON_CHARS


def test_huge_field_value_gives_a_bounded_reason() -> None:
    value = orjson.dumps({**MOVEMENT, "quantity": "9" * 60_000})

    assert len(refusal(value)) <= MAX_REASON_CHARS


def test_value_of_almost_a_mebibyte_is_refused_by_size() -> None:
    value = orjson.dumps({**MOVEMENT, "batch_id": "B" * 900_000})

    assert refusal(value) == f"value: {len(value)} bytes exceeds the limit of {MAX_BYTES}"


def test_event_kind_of_huge_name_gives_a_bounded_reason() -> None:
    value = orjson.dumps({**MOVEMENT, "kind": "k" * 60_000})

    reason = refusal(value)

    assert reason.startswith("kind='kkk") and reason.endswith(": unknown event kind")
    assert len(reason) < 200


# --- properties ---------------------------------------------------------------------------------

SO_TYPES = {"qty_ordered": decimal_column("qty_ordered", 3)}
VALID_DOCUMENTS: list[tuple[str, dict[str, Any]]] = [
    ("movement", MOVEMENT),
    ("order_line", change("so_line", "c", after=so_line())),
    ("order_line", change("so_line", "d", before=so_line())),
    ("order_line", with_schema(change("so_line", "u", after=so_line()), columns_of(so_line()))),
    ("material", change("item_master", "r", after=item_master())),
    ("movement", change("inv_transaction", "c", after=inv_transaction())),
    ("in_transit", change("po_line", "u", after=po_line())),
]

EXTREME_TEXT = st.sampled_from(
    [
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
        "0005-01-01",
        "2200-01-01T00:00:00Z",
        "\u2028",
        "AAAA",
        "",
        "x" * 5000,
        DEEP,
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    EXTREME_TEXT,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def mutated_records(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid plain or Debezium record with one to three values replaced by anything."""
    kind, document = draw(st.sampled_from(VALID_DOCUMENTS))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(paths(document)))
        document = replaced(document, path, draw(JSON_VALUES))
    return kind, dumps(document)


def assert_decodes_or_gives_one_bounded_line(value: bytes, kind: str) -> None:
    try:
        decode_record(value, kind, MAPPING, MAX_BYTES)
    except InvalidRecord as refused:
        reason = str(refused)
        assert reason and len(reason) <= MAX_REASON_CHARS
        assert len(reason.splitlines()) == 1


KINDS = st.sampled_from(["material", "movement", "order_line", "in_transit", "promotion"])


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), KINDS)
def test_arbitrary_bytes_decode_or_give_one_bounded_line(value: bytes, kind: str) -> None:
    assert_decodes_or_gives_one_bounded_line(value, kind)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_records())
def test_mutated_records_decode_or_give_one_bounded_line(record: tuple[str, bytes]) -> None:
    kind, value = record
    assert_decodes_or_gives_one_bounded_line(value, kind)
