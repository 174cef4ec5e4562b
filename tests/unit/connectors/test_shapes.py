"""ERP shapes: the simulator's traffic written as Odoo or ERPNext tables, read back by the pack,
gives the stock, demand and supply the plain traffic gives."""

from collections import Counter
from pathlib import Path

import pytest

import connectors
from connectors.cdc import ChangeReader, Decoded, InvalidRecord
from connectors.mapping import CdcMapping, load_mapping
from connectors.shapes import KINDS, PACKS, SHAPES, UnknownShape, shaped, writer
from connectors.shapes.debezium import Change
from connectors.shapes.shape import ErpShape
from connectors.simulator import ErpSimulator, Record
from models.events import InputEvent, PromotionEvent
from models.production import BomLine, ProductionOrder
from tests.replayed import replayed_positions

EXAMPLE = Path(connectors.__file__).parent / "mappings" / "example-erp.yaml"
DAYS = 45


@pytest.fixture(scope="module")
def records() -> list[Record]:
    simulator = ErpSimulator(materials=6, seed=7)
    return [*simulator.run(DAYS), simulator.production_order(DAYS)]


class Read:
    """Records read as ingest reads them with a mapping: events, production records, refusals."""

    def __init__(self, changes: list[Change], mapping: CdcMapping) -> None:
        reader: ChangeReader[int] = ChangeReader(mapping, 1 << 20)
        self.events: list[InputEvent] = []
        self.production: list[ProductionOrder | BomLine] = []
        self.refused: list[str] = []
        self.promotions: list[PromotionEvent] = []
        for offset, change in enumerate(changes):
            for _, outcome in reader.read(change.value, KINDS[change.topic], offset):
                if isinstance(outcome, InvalidRecord):
                    self.refused.append(str(outcome))
                    continue
                assert isinstance(outcome, Decoded)
                for event in outcome.events:
                    if isinstance(event, ProductionOrder | BomLine):
                        self.production.append(event)
                    elif isinstance(event, PromotionEvent):
                        self.promotions.append(event)
                    else:
                        self.events.append(event)
        self.held = reader.held

    def positions(self, material_ids: dict[str, str]) -> dict[tuple[str, str], tuple[float, ...]]:
        """On hand, committed and in transit per (plain material id, warehouse)."""
        plain_of = {erp_id: plain_id for plain_id, erp_id in material_ids.items()}
        return {
            (plain_of.get(material_id, material_id), warehouse_id): tuple(
                round(figure, 6) for figure in figures
            )
            for (material_id, warehouse_id), figures in replayed_positions(self.events).items()
        }


def as_changes(records: list[Record]) -> list[Change]:
    return [Change(record.topic, record.key, record.value) for record in records]


@pytest.fixture(scope="module")
def plain(records: list[Record]) -> Read:
    """The simulator's records read with the example mapping."""
    return Read(as_changes(records), load_mapping(EXAMPLE))


@pytest.fixture(scope="module", params=["odoo", "erpnext"])
def shape(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def erp(shape: str) -> ErpShape:
    shape_writer = writer(shape, seed=1)
    assert shape_writer is not None
    return shape_writer


@pytest.fixture(scope="module")
def read(records: list[Record], erp: ErpShape, shape: str) -> Read:
    """The records written in the shape, read with its pack."""
    changes = list(shaped(records, erp, load_mapping(EXAMPLE)))
    return Read(changes, load_mapping(PACKS[shape]))


def test_simulated_traffic_in_an_erp_shape_gives_the_plain_positions_per_warehouse(
    plain: Read, read: Read, erp: ErpShape
) -> None:
    expected = plain.positions({})
    got = read.positions(erp.material_ids)
    assert got == expected
    assert len(expected) >= 12
    assert read.held == []
    assert sorted(read.refused) == sorted(plain.refused)  # the simulator's broken records


def test_simulated_bom_and_production_order_read_back_in_an_erp_shape(
    plain: Read, read: Read, erp: ErpShape
) -> None:
    ids = erp.material_ids

    def lines(production: list[ProductionOrder | BomLine], translate: bool) -> set[tuple]:
        name = (lambda m: ids[m]) if translate else (lambda m: m)
        return {
            (name(r.parent_id), name(r.component_id), r.quantity_per)
            for r in production
            if isinstance(r, BomLine)
        }

    assert lines(read.production, False) == lines(plain.production, True)
    orders = [
        (r.material_id, r.warehouse_id, r.quantity, r.need_date, r.status)
        for r in read.production
        if isinstance(r, ProductionOrder)
    ]
    assert orders == [
        (ids[r.material_id], r.warehouse_id, r.quantity, r.need_date, r.status)
        for r in plain.production
        if isinstance(r, ProductionOrder)
    ]


def test_materials_take_the_erps_ids_and_the_promotion_category_follows_them(
    plain: Read, read: Read, erp: ErpShape, shape: str
) -> None:
    if shape != "odoo":
        assert erp.material_ids == {m: m for m in erp.material_ids}  # ERPNext: item codes
        return
    masters = {e.material_id: e for e in read.events if e.kind == "material"}
    assert set(masters) == set(erp.material_ids.values())
    assert all(m.isdigit() for m in masters)
    (promotion,) = read.promotions
    electronics = {m for m, master in masters.items() if master.category == promotion.category}
    assert electronics == {
        erp.material_ids[e.material_id]
        for e in plain.events
        if e.kind == "material" and e.category == "ELECTRONICS"
    }
    assert len(electronics) == 3


def test_the_same_seed_writes_the_same_changes(records: list[Record]) -> None:
    example = load_mapping(EXAMPLE)
    first = list(shaped(records, writer("erpnext", seed=3), example))
    again = list(shaped(records, writer("erpnext", seed=3), example))
    assert first == again
    assert Counter(c.topic for c in first)["erp.stock-movements"] > 100


def test_plain_shape_writes_the_records_as_they_are(records: list[Record]) -> None:
    assert list(shaped(records, writer("plain"), load_mapping(EXAMPLE))) == as_changes(records)


def test_an_unknown_shape_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UnknownShape, match="--shape 'sap': unknown; known: plain, odoo, erpnext"):
        writer("sap")
    assert SHAPES == ("plain", "odoo", "erpnext")


def test_a_second_run_names_materials_warehouses_and_moves_as_the_first(
    records: list[Record], shape: str
) -> None:
    """``simulate --shape``, then ``produce --shape`` of the production order: one history."""
    example = load_mapping(EXAMPLE)
    order = records[-1]
    first, second = writer(shape, seed=1), writer(shape, seed=2)
    assert first is not None and second is not None
    changes = list(shaped(records[:-1], first, example))
    changes += list(shaped([order, *records[:1]], second, example))
    read = Read(changes, load_mapping(PACKS[shape]))

    assert second.material_ids.items() <= first.material_ids.items()
    (production,) = [r for r in read.production if isinstance(r, ProductionOrder)]
    assert production.material_id == first.material_ids["FAN-24V"]
    assert production.material_id == writer(shape).material_id_of("FAN-24V")
    assert production.order_id == writer(shape).order_id_of("MO-240017")
    assert production.warehouse_id == "SZ02"
    assert read.held == []
    # The first record again, from the second run: the same move, a duplicate by its event id.
    ids = Counter(e.event_id for e in read.events if e.kind == "movement")
    assert ids.most_common(1)[0][1] == 2
