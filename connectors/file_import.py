"""ERP export import: JSONL or CSV rows into a Kafka topic, one record per row, keyed.

The key decides the partition, and Kafka keeps order only within a partition,
so every version of one thing (an order line's create, updates and delete)
must carry the same key, or a delete can overtake its create. A compacted
topic refuses records without a key altogether. So a row's key comes from:

1. the row itself, written as ``{"key": ..., "value": ...}`` (how a Debezium
   record with its key is exported); a ``null`` value is a tombstone;
2. else ``key_field``: a field of the value, dotted for a nested one
   (``supplier.id``). For a Debezium change event (with or without the
   ``schema``/``payload`` wrapper) it names a column of the changed row, read
   from ``after``, or from ``before`` for a delete, so a row's delete is keyed
   like its create (``payload.after.id`` would be missing on the delete);
3. else the value's ``material_id``, if it has one.

A string key is sent as its UTF-8 text, a number as its JSON text, and an
object (a Debezium key struct) as JSON with sorted keys, so that the same key
is always the same bytes, whichever order the export wrote its fields in.
"""

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from connectors.kafka_client import KafkaConnection
from connectors.producer import ProduceSummary, produce

DEFAULT_KEY_FIELD = "material_id"
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}


class ImportFileError(ValueError):
    """The file cannot be read as JSONL or CSV."""


class RowKeyError(ImportFileError):
    """A row cannot be keyed as asked; ``where`` is its line, ``reason`` why."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass(frozen=True)
class Row:
    """One record to send: its line in the file, its key, and its value (None: a tombstone)."""

    where: str
    key: bytes | None
    value: bytes | None


def read_rows(
    path: Path, key_field: str | None = None, require_keys: bool = False
) -> Iterator[Row]:
    """Every row of ``path`` as a record, keyed as the module docstring says.

    With ``key_field`` or ``require_keys``, a row that cannot be keyed raises
    ``RowKeyError``; without, it is sent unkeyed (malformed JSON too, which the
    worker then dead-letters with the reason). CSV cells arrive as strings
    (pydantic converts them later); empty cells are left out so that optional
    fields take their defaults.
    """
    suffix = path.suffix.lower()
    if suffix not in JSONL_SUFFIXES | {".csv"}:
        raise ImportFileError(f"{path}: unknown format {suffix!r}; expected .jsonl or .csv")
    required = key_field is not None or require_keys
    with path.open(newline="") as handle:
        if suffix == ".csv":
            for number, cells in enumerate(csv.DictReader(handle), start=2):
                fields = {k: v for k, v in cells.items() if k and v not in (None, "")}
                where = f"line {number}"
                key = _csv_key(fields, key_field or DEFAULT_KEY_FIELD, required, where)
                yield Row(where, key, orjson.dumps(fields))
        else:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield _json_row(line.strip(), key_field, required, f"line {number}")


def check_rows(path: Path, key_field: str | None = None, require_keys: bool = False) -> int:
    """Key every row without sending it: the number of rows, or the first problem raised.

    A load then sends all of a file or nothing of it, never the versions of
    an order line before the one that cannot be keyed.
    """
    return sum(1 for _ in read_rows(path, key_field, require_keys))


def import_file(
    path: Path,
    topic: str,
    connection: KafkaConnection,
    key_field: str | None = None,
    require_keys: bool = False,
    on_row: Callable[[], None] = lambda: None,
) -> ProduceSummary:
    """Send every row of ``path`` to ``topic``, in file order; wait until the broker has them."""
    rows = (
        (row.where, topic, row.key, row.value) for row in read_rows(path, key_field, require_keys)
    )
    return produce(rows, connection, on_row)


def encode_key(key: Any) -> bytes:
    """The bytes of a key: a string's UTF-8, a number's JSON, an object's sorted JSON.

    Raises ``ValueError`` for anything else (null, true/false).
    """
    if isinstance(key, str):
        return key.encode()
    if isinstance(key, dict | list):
        return orjson.dumps(key, option=orjson.OPT_SORT_KEYS)
    if isinstance(key, int | float) and not isinstance(key, bool):
        return orjson.dumps(key)
    raise ValueError(f"a key is a string, a number or a JSON object, not {orjson.dumps(key)!r}")


def _json_row(line: str, key_field: str | None, required: bool, where: str) -> Row:
    try:
        document = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        if required:
            raise RowKeyError(where, f"malformed JSON, so no key: {error}") from None
        return Row(where, None, line.encode())
    if isinstance(document, dict) and document.keys() == {"key", "value"}:
        key, value = document["key"], document["value"]
        if key is not None:
            return Row(where, _encoded(key, where, "key"), _value_bytes(value))
        if value is None:
            raise RowKeyError(where, 'a tombstone ("value": null) needs a "key"')
        return Row(where, _key_of(value, key_field, required, where), _value_bytes(value))
    return Row(where, _key_of(document, key_field, required, where), line.encode())


def _value_bytes(value: Any) -> bytes | None:
    return None if value is None else orjson.dumps(value)


def _key_of(document: Any, key_field: str | None, required: bool, where: str) -> bytes | None:
    """The key of a record value without one: ``key_field``, else its material id."""
    if key_field is None:
        material_id = document.get(DEFAULT_KEY_FIELD) if isinstance(document, dict) else None
        if material_id is not None:
            return _encoded(material_id, where, DEFAULT_KEY_FIELD)
        if required:
            raise RowKeyError(
                where,
                f'no key: no "key" beside the value and no {DEFAULT_KEY_FIELD}; '
                "give --key-field NAME",
            )
        return None
    row = _changed_row(document)
    target, container = (row, "the changed row") if row is not None else (document, "the value")
    for name in key_field.split("."):
        if not isinstance(target, dict) or name not in target:
            raise RowKeyError(where, f"no key: {container} has no field {key_field!r}")
        target = target[name]
    if target is None:
        raise RowKeyError(where, f"no key: field {key_field!r} is null")
    return _encoded(target, where, key_field)


def _changed_row(document: Any) -> dict[str, Any] | None:
    """The row image of a Debezium change event (``before`` for a delete); None if not one.

    The shapes are those ``connectors.cdc`` decodes; a change event without
    the image it needs yields an empty row, so that the key is reported missing.
    """
    if isinstance(document, dict) and "schema" in document and "payload" in document:
        document = document["payload"]
    if not (
        isinstance(document, dict)
        and "op" in document
        and "source" in document
        and ("before" in document or "after" in document)
    ):
        return None
    image = document.get("before" if document["op"] == "d" else "after")
    return image if isinstance(image, dict) else {}


def _csv_key(fields: dict[str, str], column: str, required: bool, where: str) -> bytes | None:
    if column in fields:
        return fields[column].encode()
    if required:
        raise RowKeyError(where, f"no key: column {column!r} is missing or empty")
    return None


def _encoded(key: Any, where: str, name: str) -> bytes:
    try:
        return encode_key(key)
    except ValueError as error:
        raise RowKeyError(where, f"{name}: {error}") from None
