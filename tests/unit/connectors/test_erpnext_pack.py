"""The ERPNext 15 mapping pack: a generated ERPNext history gives the positions, bills of materials
and open work orders its rows give."""

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

import connectors
from connectors.cdc import ChangeReader, Decoded, InvalidRecord
from connectors.mapping import CdcMapping, load_mapping
from models.events import InputEvent, MaterialMaster, StockMovement
from models.production import BomLine, ProductionOrder, bom_from_lines, fold_order
from tests.erpnext import (
    CAPTURED,
    DATABASE,
    ErpnextHistory,
    OpenOrder,
    Position,
    cancelled_reconciliation,
    erpnext_history,
    expected_boms,
    expected_open_orders,
    expected_positions,
    topic_of,
)
from tests.replayed import replayed_positions

ERPNEXT = Path(connectors.__file__).parent / "mappings" / "erpnext15.yaml"
CHANGES = 4_000
SLE = "tabStock Ledger Entry"
# The production tables go to the production topics (docs/connect-your-erp.md).
KIND_OF_TOPIC = {
    topic_of("tabBOM Item"): "bom_line",
    topic_of("tabWork Order"): "production_order",
}


@pytest.fixture(scope="module")
def mapping() -> CdcMapping:
    return load_mapping(ERPNEXT)


@pytest.fixture(scope="module")
def history() -> ErpnextHistory:
    return erpnext_history(CHANGES, seed=15)


class Ingested:
    """A history read as ingest reads it: topics interleaved, early changes held."""

    def __init__(self, history: ErpnextHistory, mapping: CdcMapping, seed: int) -> None:
        reader: ChangeReader[str] = ChangeReader(mapping, 1 << 20)
        self.events: list[InputEvent] = []
        self.production: list[ProductionOrder | BomLine] = []
        self.refused: list[str] = []
        self.skipped: Counter[str] = Counter()
        for offset, change in enumerate(history.interleaved(seed)):
            tag = f"{change.topic}@{offset}"
            kind = KIND_OF_TOPIC.get(change.topic, "movement")
            for got, outcome in reader.read(change.value, kind, tag):
                if isinstance(outcome, InvalidRecord):
                    self.refused.append(f"{got}: {outcome}")
                elif isinstance(outcome, Decoded):
                    for event in outcome.events:
                        if isinstance(event, ProductionOrder | BomLine):
                            self.production.append(event)
                        else:
                            self.events.append(event)
                    if outcome.skipped is not None:
                        self.skipped[f"{got.split('@')[0]}: {outcome.skipped}"] += 1
        self.held = reader.held

    def positions(self) -> dict[tuple[str, str], Position]:
        """Stockloop's on hand, committed and in transit after applying every event."""
        return {
            key: Position(*(_decimal(figure) for figure in figures))
            for key, figures in replayed_positions(self.events).items()
        }

    def boms(self) -> dict[tuple[str, str], float]:
        """The current BOM lines from every line version read: per (parent, component)."""
        lines = [record for record in self.production if isinstance(record, BomLine)]
        return {
            (parent_id, line.component_id): line.quantity_per
            for parent_id, parent_lines in bom_from_lines(lines).items()
            for line in parent_lines
        }

    def open_orders(self) -> dict[str, OpenOrder]:
        """The work orders a table of open orders holds after every version read."""
        table: dict[str, ProductionOrder] = {}
        for record in self.production:
            if isinstance(record, ProductionOrder):
                folded = fold_order(table.get(record.order_id), record)
                if folded is None:
                    table.pop(record.order_id, None)
                else:
                    table[record.order_id] = folded
        return {
            order_id: OpenOrder(
                material_id=order.material_id,
                warehouse_id=order.warehouse_id,
                quantity=_decimal(order.quantity),
                need_date=order.need_date,
            )
            for order_id, order in table.items()
        }


def _decimal(quantity: float) -> Decimal:
    return Decimal(str(round(quantity, 6))).normalize()


def _same(expected: Position, got: Position) -> bool:
    return all(
        abs(getattr(expected, name) - getattr(got, name)) < 1e-6  # type: ignore[operator]
        for name in ("on_hand", "committed", "in_transit")
    )


@pytest.fixture(scope="module")
def ingested(history: ErpnextHistory, mapping: CdcMapping) -> Ingested:
    return Ingested(history, mapping, seed=5)


def test_generated_history_is_a_few_thousand_changes_of_every_kind(history: ErpnextHistory) -> None:
    ops = Counter(
        orjson.loads(change.value)["op"] if change.value else "tombstone"
        for change in history.changes
    )
    entries = history.rows[SLE].values()

    assert len(history.changes) >= CHANGES
    assert {"c", "u", "d", "r", "tombstone"} <= set(ops)
    assert any(entry["is_cancelled"] for entry in entries)
    assert {entry["voucher_type"] for entry in entries} >= {
        "Purchase Receipt",
        "Delivery Note",
        "Stock Entry",
        "Stock Reconciliation",
    }


def test_debezium_names_the_topics_prefix_database_table_with_blanks_made_underscores() -> None:
    assert topic_of(SLE) == "erpnext._5f3c9a1e07b24d68.tabStock_Ledger_Entry"


def test_every_change_is_an_event_a_reference_or_skipped_none_refused_none_held(
    ingested: Ingested,
) -> None:
    assert ingested.refused == []
    assert ingested.held == []


def test_a_submitted_order_item_before_its_order_is_held_then_released(
    history: ErpnextHistory, mapping: CdcMapping
) -> None:
    item_topic, order_topic = topic_of("tabSales Order Item"), topic_of("tabSales Order")
    submitted = next(
        change
        for change in history.changes
        if change.topic == item_topic
        and change.value is not None
        and (orjson.loads(change.value)["after"] or {}).get("docstatus") == 1
    )
    order_name = orjson.loads(submitted.value or b"")["after"]["parent"]
    order = next(
        change
        for change in history.changes
        if change.topic == order_topic and orjson.loads(change.key)["name"] == order_name
    )
    reader: ChangeReader[str] = ChangeReader(mapping, 1 << 20)

    early = reader.read(submitted.value, "order_line", "item")
    held = reader.held
    released = reader.read(order.value, "order_line", "order")

    assert early == []
    assert held == [("item", f"tabSales Order row {order_name!r} not known yet")]
    assert [tag for tag, _ in released] == ["order", "item"]
    line = released[1][1]
    assert isinstance(line, Decoded) and line.events[0].kind == "order_line"
    assert reader.held == []


def test_on_hand_committed_and_in_transit_per_item_and_warehouse_match_erpnext(
    history: ErpnextHistory, ingested: Ingested
) -> None:
    expected = expected_positions(history)
    got = ingested.positions()
    keys = set(expected) | set(got)

    mismatches = {
        key: (expected.get(key, Position()), got.get(key, Position()))
        for key in sorted(keys)
        if not _same(expected.get(key, Position()), got.get(key, Position()))
    }

    assert len({warehouse for _, warehouse in keys}) == 4
    assert len(keys) >= 35
    assert mismatches == {}


def test_the_bins_are_the_ledger_summed_where_no_reconciliation_resets_it(
    history: ErpnextHistory,
) -> None:
    """The ERP's own truth, checked on the generator: Bin.actual_qty = sum of actual_qty."""
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    counted: set[tuple[str, str]] = set()
    for entry in history.rows[SLE].values():
        key = (entry["item_code"], entry["warehouse"])
        sums[key] += entry["actual_qty"]
        if entry["voucher_type"] == "Stock Reconciliation":
            counted.add(key)
    bins = {(row["item_code"], row["warehouse"]): row for row in history.rows["tabBin"].values()}
    summed = [key for key in sums if key not in counted]

    assert len(summed) >= 5
    assert {key: sums[key] for key in summed} == {key: bins[key]["actual_qty"] for key in summed}
    expected = expected_positions(history)
    assert {key: expected.get(key, Position()).on_hand for key in bins} == {
        key: row["actual_qty"] for key, row in bins.items()
    }


def test_a_cancelled_document_counts_zero_its_entries_and_reversals_cancel_out(
    history: ErpnextHistory, ingested: Ingested
) -> None:
    by_voucher: dict[str, list[dict[str, object]]] = defaultdict(list)
    for entry in history.rows[SLE].values():
        if entry["is_cancelled"]:
            by_voucher[str(entry["voucher_no"])].append(entry)
    cancelled_entries = {str(entry["name"]) for entries in by_voucher.values() for entry in entries}
    net: dict[str, float] = defaultdict(float)
    once = {event.event_id: event for event in ingested.events}  # a re-snapshot sends them again
    for event in once.values():
        if isinstance(event, StockMovement):
            entry_name = event.event_id.split("#")[0].split(":", 1)[1]
            if entry_name in cancelled_entries:
                voucher = history.rows[SLE][entry_name]["voucher_no"]
                net[str(voucher)] += _delta(event)

    assert by_voucher
    assert set(net) == set(by_voucher)
    assert all(abs(total) < 1e-9 for total in net.values())


def test_an_entry_counts_once_however_often_it_is_reposted_cancelled_or_resnapshotted(
    history: ErpnextHistory, ingested: Ingested
) -> None:
    ids = Counter(
        event.event_id.split("#")[0] for event in ingested.events if event.kind == "movement"
    )
    entries = {f"{SLE}:{name}" for name in history.rows[SLE]}

    assert set(ids) <= entries
    assert max(ids.values()) >= 2  # sent again by the re-snapshot, deduplicated on apply
    reasons = " | ".join(ingested.skipped)
    assert "before this update: counted once" in reasons  # a repost or a cancellation mark


def _delta(movement: StockMovement) -> float:
    """What a movement does to on hand (adjustments are signed, the others by their type)."""
    if movement.movement_type == "adjustment":
        return movement.quantity
    return abs(movement.quantity) * (
        -1 if movement.movement_type in ("issue", "transfer_out") else 1
    )


def test_drafts_and_deleted_drafts_are_no_demand_and_no_supply(
    history: ErpnextHistory, ingested: Ingested
) -> None:
    reasons = " | ".join(ingested.skipped)
    submitted = {
        name
        for table in ("tabSales Order Item", "tabPurchase Order Item")
        for name, line in history.rows[table].items()
        if line["docstatus"] >= 1
    }
    lines = {
        event.line_id for event in ingested.events if event.kind in ("order_line", "in_transit")
    }

    assert "tabSales_Order_Item: when 'docstatus >= 1' does not hold" in reasons
    assert "tabPurchase_Order_Item: when 'docstatus >= 1' does not hold" in reasons
    assert "tabSales_Order_Item: tombstone" in reasons
    assert lines <= submitted


def test_order_lines_are_read_in_stock_units_through_the_conversion_factor(
    history: ErpnextHistory, ingested: Ingested
) -> None:
    boxed = {
        name: line
        for name, line in history.rows["tabPurchase Order Item"].items()
        if line["conversion_factor"] != 1 and line["docstatus"] == 1
    }
    quantities = {
        event.line_id: event.quantity for event in ingested.events if event.kind == "in_transit"
    }

    assert boxed
    for name, line in boxed.items():
        assert quantities[name] == float(line["qty"] * line["conversion_factor"])


def test_items_become_materials_in_their_item_group(ingested: Ingested) -> None:
    masters = {e.material_id: e for e in ingested.events if isinstance(e, MaterialMaster)}

    assert masters["BRG-6201"].category == "Seals"
    assert masters["BRG-6201"].unit == "Nos"
    assert all(master.active for master in masters.values())


def test_a_different_interleaving_of_the_topics_gives_the_same_positions(
    history: ErpnextHistory, mapping: CdcMapping, ingested: Ingested
) -> None:
    other = Ingested(history, mapping, seed=51)

    assert other.refused == [] and other.held == []
    assert other.positions() == ingested.positions()


def test_event_times_are_the_sites_posting_times(ingested: Ingested) -> None:
    assert all(event.event_time.tzinfo is not None for event in ingested.events)
    assert min(event.event_time for event in ingested.events) >= datetime(2026, 9, 1, tzinfo=UTC)


def test_a_cancelled_stock_reconciliation_is_refused_for_a_person_to_look_at(
    mapping: CdcMapping,
) -> None:
    history = cancelled_reconciliation()
    reader: ChangeReader[int] = ChangeReader(mapping, 1 << 20)
    ledger = [change for change in history.changes if change.topic == topic_of(SLE)]
    outcomes = [
        outcome
        for offset, change in enumerate(ledger)
        for _, outcome in reader.read(change.value, "movement", offset)
    ]
    refused = [str(outcome) for outcome in outcomes if isinstance(outcome, InvalidRecord)]
    skipped = [o.skipped for o in outcomes if isinstance(o, Decoded) and o.skipped is not None]

    assert len(refused) == 2
    assert all("left when" in reason and "after it counted" in reason for reason in refused)
    assert len(skipped) == 2  # the reversals: is_cancelled=1 from the start


def test_the_documented_connector_captures_every_table_and_routes_it_to_an_input_topic() -> None:
    guide = (Path(connectors.__file__).parent.parent / "docs" / "connect-your-erp.md").read_text()
    block = guide.split("## ERPNext", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    config = orjson.loads(block)["config"]
    routers = [
        (re.compile(config[f"transforms.{name}.regex"]), config[f"transforms.{name}.replacement"])
        for name in config["transforms"].split(",")
    ]
    included = [re.compile(pattern) for pattern in config["table.include.list"].split(",")]

    routes = {
        table: [target for regex, target in routers if regex.fullmatch(topic_of(table))]
        for table in CAPTURED
    }

    assert routes == {
        "tabItem": ["erp.materials"],
        "tabStock Ledger Entry": ["erp.stock-movements"],
        "tabSales Order": ["erp.sales-orders"],
        "tabSales Order Item": ["erp.sales-orders"],
        "tabPurchase Order": ["erp.shipments"],
        "tabPurchase Order Item": ["erp.shipments"],
        "tabBOM": ["erp.boms"],
        "tabBOM Item": ["erp.boms"],
        "tabWork Order": ["erp.production-orders"],
    }
    assert all(
        any(pattern.fullmatch(f"{DATABASE}.{table}") for pattern in included) for table in CAPTURED
    )


def test_bom_lines_are_the_submitted_boms_items_per_unit_of_the_assembly(
    history: ErpnextHistory, ingested: Ingested
) -> None:
    expected = {key: float(per) for key, per in expected_boms(history).items()}
    got = ingested.boms()

    assert len({parent for parent, _ in expected}) == 3
    assert got.keys() == expected.keys()
    assert all(abs(got[key] - expected[key]) < 1e-9 for key in expected)


def test_a_cancelled_and_amended_bom_replaces_its_lines_and_drafts_are_no_lines(
    ingested: Ingested,
) -> None:
    lines = [record for record in ingested.production if isinstance(record, BomLine)]
    quantities: dict[tuple[str, str], set[float]] = defaultdict(set)
    for line in lines:
        quantities[(line.parent_id, line.component_id)].add(line.quantity_per)
    reasons = " | ".join(ingested.skipped)

    assert any(line.deleted for line in lines)  # the cancelled BOM's items
    assert any(len(seen) > 1 for seen in quantities.values())  # an amended quantity
    assert any(":r@" in line.event_id for line in lines)  # the re-snapshot's versions
    assert "tabBOM_Item: when 'docstatus >= 1' does not hold" in reasons  # drafts
    assert "tabBOM_Item: tombstone" in reasons  # an item row deleted from a draft


def test_open_work_orders_are_erpnext_s_drafted_not_started_or_in_process(
    history: ErpnextHistory, ingested: Ingested
) -> None:
    expected = {
        name: OpenOrder(
            material_id=order.material_id,
            warehouse_id=order.warehouse_id,
            quantity=_decimal(float(order.quantity)),
            need_date=order.need_date,
        )
        for name, order in expected_open_orders(history).items()
    }

    assert len(expected) >= 5
    assert ingested.open_orders() == expected


def test_stopped_completed_cancelled_and_deleted_work_orders_are_read_as_such(
    ingested: Ingested,
) -> None:
    orders = [record for record in ingested.production if isinstance(record, ProductionOrder)]
    statuses = Counter(order.status.value for order in orders)
    deleted = [order for order in orders if order.event_id.split("@")[0].endswith(":d")]

    assert {"planned", "released", "closed", "cancelled"} <= set(statuses)
    assert deleted and all(order.status.value == "cancelled" for order in deleted)


def test_another_interleaving_gives_the_same_boms_and_open_work_orders(
    history: ErpnextHistory, mapping: CdcMapping, ingested: Ingested
) -> None:
    other = Ingested(history, mapping, seed=77)

    assert other.refused == [] and other.held == []
    assert other.boms() == ingested.boms()
    assert other.open_orders() == ingested.open_orders()


def test_a_submitted_bom_item_before_its_bom_is_held_then_released_as_a_bom_line(
    history: ErpnextHistory, mapping: CdcMapping
) -> None:
    item_topic, bom_topic = topic_of("tabBOM Item"), topic_of("tabBOM")
    submitted = next(
        change
        for change in history.changes
        if change.topic == item_topic
        and change.value is not None
        and (orjson.loads(change.value)["after"] or {}).get("docstatus") == 1
    )
    row = orjson.loads(submitted.value or b"")["after"]
    bom = next(
        change
        for change in history.changes
        if change.topic == bom_topic and orjson.loads(change.key)["name"] == row["parent"]
    )
    reader: ChangeReader[str] = ChangeReader(mapping, 1 << 20)

    early = reader.read(submitted.value, "bom_line", "item")
    held = reader.held
    released = reader.read(bom.value, "bom_line", "bom")

    assert early == []
    assert held == [("item", f"tabBOM row {row['parent']!r} not known yet")]
    assert [tag for tag, _ in released] == ["bom", "item"]
    decoded = released[1][1]
    assert isinstance(decoded, Decoded)
    (line,) = decoded.events
    header = history.rows["tabBOM"][row["parent"]]
    assert isinstance(line, BomLine)
    assert (line.parent_id, line.component_id) == (header["item"], row["item_code"])
