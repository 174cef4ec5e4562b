"""The Odoo 17 mapping pack: a generated Odoo history gives the positions, bills of materials and
open manufacturing orders Odoo's own rows give."""

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

import connectors
from connectors.cdc import ChangeReader, Decoded, InvalidRecord
from connectors.mapping import CdcMapping, load_mapping
from models.events import InputEvent, StockMovement
from models.production import BomLine, ProductionOrder, bom_from_lines, fold_order
from tests.odoo import (
    OdooHistory,
    OpenOrder,
    Position,
    expected_boms,
    expected_open_orders,
    expected_positions,
    odoo_history,
)
from tests.replayed import replayed_positions

ODOO = Path(connectors.__file__).parent / "mappings" / "odoo17.yaml"
CHANGES = 4_000
# The production tables go to the production topics (docs/connect-your-erp.md).
KIND_OF_TABLE = {"mrp_bom_line": "bom_line", "mrp_production": "production_order"}


@pytest.fixture(scope="module")
def mapping() -> CdcMapping:
    return load_mapping(ODOO)


@pytest.fixture(scope="module")
def history() -> OdooHistory:
    return odoo_history(CHANGES, seed=17)


class Ingested:
    """A history read as ingest reads it: topics interleaved, early changes held."""

    def __init__(self, history: OdooHistory, mapping: CdcMapping, seed: int) -> None:
        reader: ChangeReader[str] = ChangeReader(mapping, 1 << 20)
        self.events: list[InputEvent] = []
        self.production: list[ProductionOrder | BomLine] = []
        self.refused: list[str] = []
        self.skipped: Counter[str] = Counter()
        self.released_late = 0
        for offset, change in enumerate(history.interleaved(seed)):
            tag = f"{change.topic}@{offset}"
            kind = KIND_OF_TABLE.get(change.topic.rsplit(".", 1)[-1], "movement")
            for got, outcome in reader.read(change.value, kind, tag):
                self.released_late += got != tag
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
        """The production orders a table of open orders holds after every version read."""
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
                rush=order.rush,
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
def ingested(history: OdooHistory, mapping: CdcMapping) -> Ingested:
    return Ingested(history, mapping, seed=3)


def test_generated_history_is_a_few_thousand_changes_of_every_kind(history: OdooHistory) -> None:
    ops = Counter(
        orjson.loads(change.value)["op"] if change.value else "tombstone"
        for change in history.changes
    )

    assert len(history.changes) >= CHANGES
    assert {"c", "u", "d", "r", "tombstone"} <= set(ops)


def test_every_change_is_an_event_a_reference_or_skipped_none_refused_none_held(
    ingested: Ingested,
) -> None:
    assert ingested.refused == []
    assert ingested.held == []
    assert ingested.released_late > 0  # some changes did come before their reference


def test_on_hand_committed_and_in_transit_per_product_and_warehouse_match_odoo(
    history: OdooHistory, ingested: Ingested
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
    assert len(keys) >= 40
    assert mismatches == {}


def test_a_done_move_counts_once_however_often_it_is_written_or_resnapshotted(
    history: OdooHistory, ingested: Ingested
) -> None:
    ids = Counter(
        event.event_id.split("#")[0] for event in ingested.events if event.kind == "movement"
    )
    done = {
        f"stock_move:{move_id}"
        for move_id, move in history.rows["stock_move"].items()
        if move["state"] == "done"
    }

    assert set(ids) <= done
    # Every done move's event again in the re-snapshot, deduplicated by id on apply.
    assert max(ids.values()) >= 2


def test_an_interwarehouse_move_is_a_transfer_out_and_a_transfer_in_with_distinct_ids(
    ingested: Ingested,
) -> None:
    by_move: dict[str, list[StockMovement]] = {}
    for event in ingested.events:
        if isinstance(event, StockMovement):
            by_move.setdefault(event.event_id.split("#")[0], []).append(event)
    pairs = [
        events
        for events in by_move.values()
        if {event.movement_type for event in events} == {"transfer_out", "transfer_in"}
    ]

    assert pairs
    for events in pairs:
        out = next(event for event in events if event.movement_type == "transfer_out")
        into = next(event for event in events if event.movement_type == "transfer_in")
        assert out.event_id != into.event_id
        assert out.warehouse_id == into.counterpart_warehouse_id
        assert into.warehouse_id == out.counterpart_warehouse_id


def test_drafts_cancellations_and_edits_of_done_moves_are_skipped_not_refused(
    ingested: Ingested,
) -> None:
    reasons = " | ".join(ingested.skipped)

    assert "already in when 'done == 1' before this update: counted once" in reasons
    assert "when 'done == 1' does not hold" in reasons
    assert "no emit case holds" in reasons  # put away within one warehouse
    assert "tombstone" in reasons


def test_a_different_interleaving_of_the_topics_gives_the_same_positions(
    history: OdooHistory, mapping: CdcMapping, ingested: Ingested
) -> None:
    other = Ingested(history, mapping, seed=99)

    assert other.refused == [] and other.held == []
    assert other.positions() == ingested.positions()


def test_event_times_are_odoo_utc_timestamps(ingested: Ingested) -> None:
    assert all(event.event_time.tzinfo is not None for event in ingested.events)
    assert min(event.event_time for event in ingested.events) >= datetime(2026, 9, 1, tzinfo=UTC)


def test_bom_lines_are_odoo_s_lines_per_unit_of_the_bom_s_variant(
    history: OdooHistory, ingested: Ingested
) -> None:
    expected = {key: float(per) for key, per in expected_boms(history).items()}
    got = ingested.boms()

    assert len({parent for parent, _ in expected}) == 3
    assert got.keys() == expected.keys()
    assert all(abs(got[key] - expected[key]) < 1e-9 for key in expected)


def test_edited_deleted_and_resnapshotted_bom_lines_are_all_read(ingested: Ingested) -> None:
    lines = [record for record in ingested.production if isinstance(record, BomLine)]
    versions = Counter((line.parent_id, line.component_id) for line in lines)
    quantities: dict[tuple[str, str], set[float]] = {}
    for line in lines:
        quantities.setdefault((line.parent_id, line.component_id), set()).add(line.quantity_per)

    assert any(line.deleted for line in lines)
    assert any(len(seen) > 1 for seen in quantities.values())  # an edited quantity
    assert any(":r@" in line.event_id for line in lines)  # the re-snapshot's versions
    assert max(versions.values()) >= 2


def test_lines_of_a_template_level_bom_are_skipped_not_refused(
    history: OdooHistory, ingested: Ingested
) -> None:
    template_boms = [bom for bom in history.rows["mrp_bom"].values() if bom["product_id"] is None]

    assert template_boms
    assert ingested.skipped["odoo.public.mrp_bom_line: when 'variant > 0' does not hold"] > 0


def test_open_manufacturing_orders_are_odoo_s_not_done_cancelled_or_deleted(
    history: OdooHistory, ingested: Ingested
) -> None:
    expected = {
        order_id: OpenOrder(
            material_id=order.material_id,
            warehouse_id=order.warehouse_id,
            quantity=_decimal(float(order.quantity)),
            need_date=order.need_date,
            rush=order.rush,
        )
        for order_id, order in expected_open_orders(history).items()
    }

    assert len(expected) >= 5
    assert ingested.open_orders() == expected


def test_cancelled_done_and_deleted_orders_are_read_as_such(ingested: Ingested) -> None:
    orders = [record for record in ingested.production if isinstance(record, ProductionOrder)]
    statuses = Counter(order.status.value for order in orders)
    deleted = [order for order in orders if order.event_id.split("@")[0].endswith(":d")]

    assert {"planned", "released", "closed", "cancelled"} <= set(statuses)
    assert deleted and all(order.status.value == "cancelled" for order in deleted)
    assert any(order.rush for order in orders)


def test_another_interleaving_gives_the_same_boms_and_open_orders(
    history: OdooHistory, mapping: CdcMapping, ingested: Ingested
) -> None:
    other = Ingested(history, mapping, seed=99)

    assert other.boms() == ingested.boms()
    assert other.open_orders() == ingested.open_orders()
