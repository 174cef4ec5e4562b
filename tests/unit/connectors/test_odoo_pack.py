"""The Odoo 17 mapping pack: a generated Odoo history gives the positions Odoo's own rows give."""

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

import connectors
from connectors.cdc import ChangeReader, Decoded, InvalidRecord
from connectors.mapping import CdcMapping, load_mapping
from models.events import InputEvent, MaterialEvent, StockMovement
from models.rules.spec import builtin_rules
from models.state import MaterialState
from models.step import StepContext, replay
from tests.odoo import OdooHistory, Position, expected_positions, odoo_history

ODOO = Path(connectors.__file__).parent / "mappings" / "odoo17.yaml"
CHANGES = 4_000


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
        self.refused: list[str] = []
        self.skipped: Counter[str] = Counter()
        self.released_late = 0
        for offset, change in enumerate(history.interleaved(seed)):
            tag = f"{change.topic}@{offset}"
            for got, outcome in reader.read(change.value, "movement", tag):
                self.released_late += got != tag
                if isinstance(outcome, InvalidRecord):
                    self.refused.append(f"{got}: {outcome}")
                elif isinstance(outcome, Decoded):
                    self.events.extend(outcome.events)
                    if outcome.skipped is not None:
                        self.skipped[f"{got.split('@')[0]}: {outcome.skipped}"] += 1
        self.held = reader.held

    def positions(self) -> dict[tuple[str, str], Position]:
        """Stockloop's on hand, committed and in transit after applying every event."""
        states: dict[str, MaterialState] = {}
        # Released and split changes carry no source offset: the event id deduplicates.
        replay(
            (MaterialEvent(event=event) for event in self.events),
            StepContext(rules=builtin_rules()),
            states,
        )
        return {
            (material_id, warehouse_id): Position(
                on_hand=_decimal(stock.on_hand),
                committed=_decimal(stock.committed),
                in_transit=_decimal(stock.in_transit),
            )
            for material_id, state in states.items()
            for warehouse_id, stock in state.warehouses.items()
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
