from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import connectors
from connectors.cdc import MissingReference, ReferenceChange, decode_production_changes
from connectors.held_changes import (
    HeldChange,
    TableReferences,
    decode_held,
    encode_held,
    held_key,
    keep_reference,
    reference_name,
    releasable,
)
from connectors.mapping import load_mapping
from models.events import SourcePosition
from models.production import BomLine
from tests.odoo import _Company, expected_boms

ODOO = load_mapping(Path(connectors.__file__).parent / "mappings" / "odoo17.yaml")

sources = st.builds(
    SourcePosition,
    topic=st.sampled_from(["erp.boms", "erp.production-orders"]),
    partition=st.integers(0, 63),
    offset=st.integers(0, 2**40),
)
row_keys = st.text("0123456789:", min_size=1, max_size=6)


@given(
    source=sources,
    key=st.none() | st.binary(max_size=40),
    value=st.none() | st.binary(max_size=200),
    timestamp=st.none() | st.floats(0, 2e9, allow_nan=False),
)
def test_a_held_change_reads_back_as_it_was_read(
    source: SourcePosition, key: bytes | None, value: bytes | None, timestamp: float | None
) -> None:
    change = HeldChange(source, key, value, timestamp)
    assert decode_held(encode_held(change)) == change


@given(
    waiting=st.lists(st.tuples(st.sampled_from(["mrp_bom", "tabBOM"]), row_keys, sources)),
    known=st.sets(st.tuples(st.sampled_from(["mrp_bom", "tabBOM"]), row_keys)),
)
def test_a_known_row_releases_exactly_the_changes_waiting_for_it(
    waiting: list[tuple[str, str, SourcePosition]], known: set[tuple[str, str]]
) -> None:
    held = [
        (held_key(MissingReference(table, key, "line.bom"), source), f"{table}/{key}".encode())
        for table, key, source in waiting
    ]
    names = {reference_name(table, key) for table, key in known}
    in_read_order = sorted(waiting, key=lambda w: (w[2].topic, w[2].partition, w[2].offset))
    assert [record for _, record in releasable(held, names)] == [
        f"{table}/{key}".encode() for table, key, _ in in_read_order if (table, key) in known
    ]
    for name in names:
        assert [record for _, record in releasable(held, names, name)] == [
            f"{table}/{key}".encode() for table, key, _ in in_read_order if f"{table}/{key}" == name
        ]


@given(versions=st.permutations(range(12)))
def test_versions_of_a_row_held_for_one_header_are_released_in_the_order_they_were_read(
    versions: list[int],
) -> None:
    """The table hands its held changes out in its own order (a RocksDB store sorts the key's
    offset as text, and spreads keys over partitions); a newer version of a sales order
    line released before an older one left the older one's quantity committed."""
    missing = MissingReference("tabSales Order", "SO-1", "tabSales Order Item.parent")
    held = [
        (
            held_key(missing, SourcePosition(topic="erp.sales-orders", partition=2, offset=98 + v)),
            f"version {v}".encode(),
        )
        for v in versions
    ]
    released = releasable(held, {"tabSales Order/SO-1"}, "tabSales Order/SO-1")
    assert [record for _, record in released] == [f"version {v}".encode() for v in range(12)]


def test_a_deleted_reference_row_is_forgotten_and_releases_nothing() -> None:
    table: dict[str, bytes] = {}
    assert keep_reference(table, ReferenceChange("mrp_bom", "3", {"product_qty": 2})) == "mrp_bom/3"
    assert TableReferences(table).row("mrp_bom", "3") == {"product_qty": 2}
    assert keep_reference(table, ReferenceChange("mrp_bom", "3", None)) is None
    assert TableReferences(table).row("mrp_bom", "3") is None


def test_an_odoo_bom_line_read_before_its_header_is_held_then_decoded_from_the_kept_header() -> (
    None
):
    company = _Company(seed=2)
    company.setup()
    history = company.history
    rows: dict[str, bytes] = {}
    held: dict[str, bytes] = {}
    lines = [c for c in history.changes if c.topic.endswith(".mrp_bom_line")]
    headers = [c for c in history.changes if c.topic.endswith(".mrp_bom")]
    for offset, change in enumerate(lines):
        source = SourcePosition(topic="erp.boms", partition=0, offset=offset)
        with pytest.raises(MissingReference) as missing:
            decode_production_changes(
                change.value, "bom_line", ODOO, 100_000, TableReferences(rows)
            )
        held[held_key(missing.value, source)] = encode_held(
            HeldChange(source, change.key, change.value, None)
        )

    decoded_lines: list[BomLine] = []
    for change in headers:
        header = decode_production_changes(
            change.value, "bom_line", ODOO, 100_000, TableReferences(rows)
        ).reference
        assert header is not None
        known = keep_reference(rows, header)
        assert known is not None
        for name, encoded in releasable(list(held.items()), rows, known):
            del held[name]
            released = decode_held(encoded)
            decoded = decode_production_changes(
                released.value, "bom_line", ODOO, 100_000, TableReferences(rows)
            )
            decoded_lines.extend(r for r in decoded.events if isinstance(r, BomLine))

    assert held == {}
    assert {(line.parent_id, line.component_id): line.quantity_per for line in decoded_lines} == {
        key: float(quantity) for key, quantity in expected_boms(history).items()
    }
