"""What is derived from a global table is made again once per change of it, and always current:
the bills of materials from the BOM lines, as the shortage agent derives them."""

from datetime import UTC, datetime

from models.production import BomLine, bom_from_lines, bom_line_key
from streams.table_derived import Derived


def _line(event_id: str, component_id: str, quantity_per: float, deleted: bool = False) -> BomLine:
    return BomLine(
        event_id=event_id,
        event_time=datetime(2026, 12, 3, 8, tzinfo=UTC),
        parent_id="PUMP-1",
        component_id=component_id,
        quantity_per=quantity_per,
        deleted=deleted,
    )


def _components(bom) -> list[tuple[str, float]]:
    return [(line.component_id, line.quantity_per) for line in bom.get("PUMP-1", ())]


def test_a_bom_is_parsed_again_only_after_its_table_changed(global_table, from_changelog):
    table = global_table("bom-lines")
    reader = Derived(
        lambda: bom_from_lines(BomLine.model_validate_json(raw) for raw in table.values()), table
    )
    assert reader.current() == {}
    shaft = _line("b1", "SHAFT", 1)
    from_changelog(table, bom_line_key(shaft).encode(), shaft.model_dump_json().encode())
    first = reader.current()
    assert _components(first) == [("SHAFT", 1)]
    assert reader.current() is first  # unchanged table: not parsed again

    seal = _line("b2", "SEAL", 2)
    from_changelog(table, bom_line_key(seal).encode(), seal.model_dump_json().encode())
    assert _components(reader.current()) == [("SEAL", 2), ("SHAFT", 1)]

    from_changelog(table, bom_line_key(shaft).encode(), None)
    assert _components(reader.current()) == [("SEAL", 2)]
