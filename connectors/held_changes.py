"""Changes held for a reference row, and the reference rows, as a worker's tables keep them.

A CDC change whose lookup names a reference row not read yet
(``connectors.cdc.MissingReference``) is held, never lost, and decoded again
once that row is known. A worker keeps the rows and the held changes in
global tables of bytes, so that any worker can look up any row and release
any change: this module says how a row and a held change are named and
written there, and which held changes a known row releases. Ingest and the
shortage agent hold their changes the same way, each in its own table,
since each decodes its topics' records into its own kind of record.
"""

import base64
from collections.abc import Container, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson

from connectors.cdc import (
    MissingReference,
    ReferenceChange,
    decode_reference_row,
    encode_reference_row,
)
from models.events import SourcePosition


def reference_name(table: str, key: str) -> str:
    """A reference row's key in a references table.

    >>> reference_name("mrp_bom", "3")
    'mrp_bom/3'
    """
    return f"{table}/{key}"


class TableReferences:
    """The reference rows a table of ``reference_name`` to encoded row holds (``References``)."""

    def __init__(self, table: Mapping[str, bytes]) -> None:
        self._table = table

    def row(self, table: str, key: str) -> Mapping[str, Any] | None:
        encoded = self._table.get(reference_name(table, key))
        return None if encoded is None else decode_reference_row(encoded)


def keep_reference(table: MutableMapping[str, bytes], change: ReferenceChange) -> str | None:
    """Keep the row's new version, or forget a deleted row; the name of a row now known."""
    name = reference_name(change.table, change.key)
    if change.row is None:
        table.pop(name, None)
        return None
    table[name] = encode_reference_row(change.row)
    return name


@dataclass(frozen=True)
class HeldChange:
    """A record as it was read, kept until the reference row it looks up is known."""

    source: SourcePosition
    key: bytes | None
    value: bytes | None
    timestamp: float | None


def held_key(missing: MissingReference, source: SourcePosition) -> str:
    """A held change's key: the row it waits for, then where it was read (one key per change).

    >>> source = SourcePosition(topic="erp.boms", partition=1, offset=7)
    >>> held_key(MissingReference("mrp_bom", "3", "mrp_bom_line.bom_id"), source)
    'mrp_bom/3/erp.boms/1/7'
    """
    where = f"{source.topic}/{source.partition}/{source.offset}"
    return f"{reference_name(missing.table, missing.key)}/{where}"


def encode_held(change: HeldChange) -> bytes:
    """A held change as JSON bytes for a table (key and value in base64)."""

    def text(raw: bytes | None) -> str | None:
        return None if raw is None else base64.b64encode(raw).decode()

    return orjson.dumps(
        {
            "source": change.source.model_dump(),
            "key": text(change.key),
            "value": text(change.value),
            "at": change.timestamp,
        }
    )


def decode_held(encoded: bytes) -> HeldChange:
    """The held change ``encode_held`` wrote."""
    record = orjson.loads(encoded)

    def raw(text: str | None) -> bytes | None:
        return None if text is None else base64.b64decode(text)

    return HeldChange(
        source=SourcePosition.model_validate(record["source"]),
        key=raw(record["key"]),
        value=raw(record["value"]),
        timestamp=record["at"],
    )


def releasable(
    held: Iterable[tuple[str, bytes]], known: Container[str], reference: str | None = None
) -> list[tuple[str, bytes]]:
    """The held changes whose reference row is now known: those waiting for ``reference``, else all.

    They come in the order they were read (topic, partition, offset), not in the
    table's: two versions of one row, both held for its header, must reach the
    material in the order the ERP wrote them, or the older replaces the newer.

    >>> held = [("mrp_bom/3/erp.boms/1/10", b"new"), ("mrp_bom/3/erp.boms/1/9", b"old"),
    ...         ("mrp_bom/4/erp.boms/0/2", b"b")]
    >>> releasable(held, {"mrp_bom/3"})
    [('mrp_bom/3/erp.boms/1/9', b'old'), ('mrp_bom/3/erp.boms/1/10', b'new')]
    >>> releasable(held, {"mrp_bom/3", "mrp_bom/4"}, reference="mrp_bom/4")
    [('mrp_bom/4/erp.boms/0/2', b'b')]
    """
    found = []
    for name, record in held:
        table, key, _ = name.split("/", 2)
        waits_for = reference_name(table, key)
        if reference is not None and waits_for != reference:
            continue
        if waits_for in known:
            found.append((name, record))
    return sorted(found, key=lambda held_change: _read_at(held_change[0]))


def _read_at(name: str) -> tuple[str, int, int]:
    """Where a held change was read, from its ``held_key``: (topic, partition, offset)."""
    _, topic, partition, offset = name.rsplit("/", 3)
    return topic, int(partition), int(offset)
