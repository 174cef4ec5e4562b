"""Keys of an ERP export's rows: from the line, from a field, from a Debezium row image."""

from pathlib import Path

import orjson
import pytest

from connectors.file_import import Row, RowKeyError, check_rows, read_rows
from tests.debezium import change, columns_of, item_master, so_line, with_schema


def _jsonl(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "export.jsonl"
    text = (line if isinstance(line, str) else orjson.dumps(line).decode() for line in lines)
    path.write_text("\n".join(text) + "\n")
    return path


def _rows(path: Path, key_field: str | None = None, require_keys: bool = False) -> list[Row]:
    return list(read_rows(path, key_field, require_keys))


def _jsonl_rows(tmp_path: Path, *lines: object, key_field: str | None = None) -> list[Row]:
    return _rows(_jsonl(tmp_path, *lines), key_field)


def test_a_key_value_line_keeps_its_key_and_sends_its_value(tmp_path: Path) -> None:
    event = {"event_id": "e1", "material_id": "M-1"}
    rows = _jsonl_rows(tmp_path, {"key": "L-7", "value": event})

    assert [(row.key, orjson.loads(row.value)) for row in rows] == [(b"L-7", event)]


def test_an_object_key_is_the_same_bytes_whatever_its_field_order(tmp_path: Path) -> None:
    value = change("so_line", "c", after=so_line())
    rows = _jsonl_rows(
        tmp_path,
        {"key": {"so_no": "SO-1", "line_no": 10}, "value": value},
        {"key": {"line_no": 10, "so_no": "SO-1"}, "value": value},
    )

    assert rows[0].key == rows[1].key == b'{"line_no":10,"so_no":"SO-1"}'


def test_a_null_value_is_a_tombstone_with_its_key(tmp_path: Path) -> None:
    rows = _jsonl_rows(tmp_path, {"key": {"item_no": "BRG-6204-2RS"}, "value": None})

    assert rows == [Row("line 1", b'{"item_no":"BRG-6204-2RS"}', None)]


def test_a_tombstone_without_a_key_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, {"material_id": "M-1"}, {"key": None, "value": None})

    with pytest.raises(RowKeyError, match=r'^line 2: a tombstone \("value": null\) needs a "key"'):
        _rows(path)


def test_key_field_reads_a_nested_field_of_a_plain_event(tmp_path: Path) -> None:
    rows = _jsonl_rows(
        tmp_path, {"material_id": "M-1", "line": {"id": "SO-1/10"}}, key_field="line.id"
    )

    assert rows[0].key == b"SO-1/10"


def test_key_field_keys_a_debezium_delete_like_its_create(tmp_path: Path) -> None:
    """A delete has no ``after``: its key comes from ``before``, so it follows its create."""
    created = change("so_line", "c", after=so_line(so_no="SO-9"))
    updated = change("so_line", "u", before=so_line(so_no="SO-9"), after=so_line(so_no="SO-9"))
    deleted = change("so_line", "d", before=so_line(so_no="SO-9"))
    schema_wrapped = with_schema(deleted, columns_of(so_line()))

    rows = _jsonl_rows(tmp_path, created, updated, deleted, schema_wrapped, key_field="so_no")

    assert [row.key for row in rows] == [b"SO-9"] * 4


def test_a_line_s_own_key_wins_over_key_field(tmp_path: Path) -> None:
    value = change("item_master", "c", after=item_master())
    rows = _jsonl_rows(tmp_path, {"key": "own", "value": value}, key_field="item_no")

    assert rows[0].key == b"own"


def test_a_row_without_the_key_field_is_refused_naming_line_and_field(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, {"order_line_id": "L1"}, {"material_id": "M-1"})

    with pytest.raises(
        RowKeyError, match=r"^line 2: no key: the value has no field 'order_line_id'$"
    ):
        _rows(path, key_field="order_line_id")


def test_a_debezium_row_without_the_column_is_refused_naming_the_row(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, change("item_master", "c", after=item_master()))

    with pytest.raises(RowKeyError, match=r"the changed row has no field 'payload\.after\.id'"):
        _rows(path, key_field="payload.after.id")


def test_without_key_field_a_plain_event_is_keyed_by_material_id(tmp_path: Path) -> None:
    rows = _jsonl_rows(
        tmp_path, {"material_id": "M-1"}, change("item_master", "c", after=item_master())
    )

    assert [row.key for row in rows] == [b"M-1", None]


def test_malformed_json_is_sent_unkeyed_as_it_is_for_the_dead_letter_topic(tmp_path: Path) -> None:
    rows = _jsonl_rows(tmp_path, '{"material_id": "M-1", "quantity": ')

    assert rows == [Row("line 1", None, b'{"material_id": "M-1", "quantity":')]


def test_when_keys_are_required_an_unkeyable_row_is_refused(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, {"key": "M-1", "value": {}}, change("item_master", "r", after={}))

    with pytest.raises(RowKeyError, match=r"^line 2: no key: no \"key\" beside the value"):
        _rows(path, require_keys=True)


def test_when_keys_are_required_malformed_json_is_refused(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, "{not json")

    with pytest.raises(RowKeyError, match=r"^line 1: malformed JSON, so no key"):
        _rows(path, key_field="material_id")


@pytest.mark.parametrize("key", [True, None], ids=["boolean", "null"])
def test_a_key_field_that_is_not_a_string_number_or_object_is_refused(
    tmp_path: Path, key: object
) -> None:
    path = _jsonl(tmp_path, {"material_id": "M-1", "line_id": key})

    with pytest.raises(RowKeyError, match=r"^line 1: "):
        _rows(path, key_field="line_id")


def test_a_number_key_is_its_json_text(tmp_path: Path) -> None:
    rows = _jsonl_rows(tmp_path, {"trans_id": 884_211}, key_field="trans_id")

    assert rows[0].key == b"884211"


def test_csv_rows_are_keyed_by_the_key_field_column(tmp_path: Path) -> None:
    path = tmp_path / "lines.csv"
    path.write_text("order_line_id,material_id,quantity\nL1,M-1,5\nL2,M-1,\n")

    rows = _rows(path, key_field="order_line_id")

    assert [(row.where, row.key) for row in rows] == [("line 2", b"L1"), ("line 3", b"L2")]
    assert orjson.loads(rows[1].value) == {"order_line_id": "L2", "material_id": "M-1"}


def test_a_csv_row_with_an_empty_key_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lines.csv"
    path.write_text("order_line_id,material_id\nL1,M-1\n,M-2\n")

    with pytest.raises(RowKeyError, match=r"^line 3: no key: column 'order_line_id'"):
        _rows(path, key_field="order_line_id")


def test_check_rows_keys_every_row_and_counts_them(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, {"material_id": "M-1"}, "", {"key": "M-2", "value": None})

    assert check_rows(path, require_keys=True) == 2
