"""The simulated ERP: seeded records in each topic's event-time order, and the response scenarios.

The scenarios are checked as the worker would see them: the history replayed
through the pure material step, the production order netted against the
availability the materials end with.
"""

from collections import defaultdict
from datetime import date, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.cdc import InvalidRecord, decode_production_record, decode_record
from connectors.mapping import load_mapping
from connectors.simulator import (
    ASSEMBLY_WAREHOUSE,
    BOM,
    FAN_ORDER_ID,
    SURPLUS_WAREHOUSE,
    WAREHOUSES,
    ErpSimulator,
    Record,
)
from models.availability import availability_of
from models.bom import ShortageResult, analyse_shortage
from models.events import MaterialEvent, PromotionEvent, SourcePosition
from models.expedite import expedite_notices
from models.production import BomLine, ProductionOrder, bom_from_lines
from models.purchasing import RequestStatus
from models.rules.spec import builtin_rules
from models.state import MaterialState
from models.step import StepContext, expedite_request, replay
from models.transfers import TransferStatus
from streams.catalogue import INPUT_KINDS
from streams.settings import Settings

MAPPING = load_mapping(Settings().mapping_file)
MAX_BYTES = 65_536
PRODUCTION_KINDS = {"erp.boms": "bom_line", "erp.production-orders": "production_order"}
DEMO_DAYS = 60  # scripts/demo.sh: simulate --days 60 --materials 6, seed 42


def decoded(record: Record) -> object:
    """The record as the worker decodes it; raises InvalidRecord for a dead letter."""
    if record.topic in PRODUCTION_KINDS:
        return decode_production_record(
            record.value, PRODUCTION_KINDS[record.topic], MAPPING, MAX_BYTES
        )
    return decode_record(record.value, INPUT_KINDS[record.topic], MAPPING, MAX_BYTES)


def outcomes(records: list[Record]) -> tuple[dict[str, list[datetime]], list[Record]]:
    """Event times by topic in record order, and the records refused."""
    times: dict[str, list[datetime]] = defaultdict(list)
    refused = []
    for record in records:
        try:
            event = decoded(record)
        except InvalidRecord:
            refused.append(record)
            continue
        times[record.topic].append(event.event_time)
    return times, refused


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    materials=st.integers(1, 8),
    days=st.integers(1, 20),
)
def test_every_record_decodes_in_its_topics_event_time_order_but_the_three_broken_ones(
    seed: int, materials: int, days: int
):
    records = list(ErpSimulator(materials, seed).run(days))
    times, refused = outcomes(records)
    assert refused == records[-3:]
    assert [r.topic for r in refused] == ["erp.stock-movements"] * 2 + ["erp.sales-orders"]
    for topic, event_times in times.items():
        assert event_times == sorted(event_times), topic
    assert len(times["erp.boms"]) == len(BOM)


def test_the_same_arguments_give_the_same_records():
    first = list(ErpSimulator(materials=4, seed=7).run(days=12))
    again = list(ErpSimulator(materials=4, seed=7).run(days=12))
    other_seed = list(ErpSimulator(materials=4, seed=8).run(days=12))
    assert first == again
    assert first != other_seed


def test_the_scenarios_draw_no_random_numbers_so_a_longer_history_begins_with_the_same_demand():
    """The scenarios fall on days counted from the end; were they random, the days after them
    would draw other numbers than in a longer history, where they fall later."""

    def issues(days: int) -> list[tuple[str, str, float, datetime]]:
        records = ErpSimulator(materials=6, seed=3).run(days)
        events = [
            decoded(r) for r in records if r.topic == "erp.stock-movements" and r.at is not None
        ]
        return [
            (e.material_id, e.warehouse_id, e.quantity, e.event_time)
            for e in events
            if e.movement_type == "issue" and e.event_time.date() < date(2026, 9, 21)
        ]

    assert len(issues(20)) > 100
    assert issues(20) == issues(30)


def test_the_production_order_is_released_at_the_end_of_the_history_for_the_fan():
    order = decoded(ErpSimulator(materials=2, seed=1).production_order(days=DEMO_DAYS))
    assert isinstance(order, ProductionOrder)
    assert order == decoded(ErpSimulator(materials=6, seed=42).production_order(days=DEMO_DAYS))
    assert order.order_id == FAN_ORDER_ID and order.is_open
    assert order.event_time.date() == date(2026, 9, 1) + timedelta(days=DEMO_DAYS - 1)
    assert order.need_date > order.event_time.date()
    assert order.warehouse_id == ASSEMBLY_WAREHOUSE


# --- the demo's history, replayed through the material step -------------------------------


class Demo:
    """The demo's simulated history applied as the worker applies it, and its production order."""

    def __init__(self) -> None:
        simulator = ErpSimulator(materials=6, seed=42)
        records = list(simulator.run(DEMO_DAYS))
        promotions: dict[str, list[PromotionEvent]] = defaultdict(list)
        events: list[MaterialEvent] = []
        self.bom_lines: list[BomLine] = []
        for offset, record in enumerate(records):
            try:
                event = decoded(record)
            except InvalidRecord:
                continue
            if isinstance(event, BomLine):
                self.bom_lines.append(event)
            elif isinstance(event, PromotionEvent) and event.category:
                promotions[event.category].append(event)
            else:
                source = SourcePosition(topic=record.topic, partition=0, offset=offset)
                events.append(MaterialEvent(event=event, source=source))
        self.context = StepContext(rules=builtin_rules(), category_promotions=dict(promotions))
        self.states: dict[str, MaterialState] = {}
        replay(events, self.context, self.states)
        self.order = decoded(simulator.production_order(DEMO_DAYS))
        self.pcb_eta = next(
            orjson.loads(r.value)["eta"]
            for r in records
            if r.topic == "erp.shipments" and r.key == b"PCB-DRV"
        )

    def shortage(self) -> ShortageResult:
        availability = {
            material_id: row
            for material_id, state in self.states.items()
            if (row := availability_of(state).in_warehouse(self.order.warehouse_id)) is not None
        }
        return analyse_shortage(self.order, bom_from_lines(self.bom_lines), availability)


@pytest.fixture(scope="module")
def demo() -> Demo:
    return Demo()


def test_the_surplus_warehouse_gives_the_short_main_warehouse_a_transfer_open_at_the_end(
    demo: Demo,
):
    headphones = demo.states["HP-200"]
    assert headphones.warehouses[SURPLUS_WAREHOUSE].committed == 0
    open_transfers = list(headphones.transfers.open.values())
    assert open_transfers
    assert {(t.from_warehouse, t.to_warehouse) for t in open_transfers} == {
        (SURPLUS_WAREHOUSE, WAREHOUSES[0])
    }
    # 320 headphones at 42 EUR are worth 13,440: above the auto-approval limit, the buyer decides.
    limit, _ = demo.context.approval.auto_approval_limit("ELECTRONICS", "A")
    assert all(
        (t.status, t.approver) == (TransferStatus.PROPOSED, "buyer") and t.amount >= limit
        for t in open_transfers
    )


def test_the_surplus_warehouses_old_stock_gets_a_dead_stock_review(demo: Demo):
    reviews = demo.states["HP-200"].reviews.open.values()
    assert [r.warehouse_id for r in reviews] == [SURPLUS_WAREHOUSE]


def test_the_production_order_lacks_only_the_pcb_until_its_purchase_order_arrives(demo: Demo):
    result = demo.shortage()
    assert result.missing_components == ("PCB-DRV",)
    pcb = next(line for line in result.components if line.component_id == "PCB-DRV")
    assert pcb.level == 2 and pcb.missing > 0
    assert pcb.covered_by == date.fromisoformat(demo.pcb_eta) > result.need_date
    board = next(line for line in result.components if line.component_id == "DRV-24V")
    assert board.assembly and 0 < board.to_build < result.quantity
    assert len([line for line in result.components if not line.assembly]) == 5
    assert result.earliest_feasible_start == pcb.covered_by


def test_the_missing_pcb_is_expedited_with_a_purchase_request_for_what_is_missing(demo: Demo):
    result = demo.shortage()
    [notice] = expedite_notices(result)
    pcb = demo.states["PCB-DRV"]
    requests = expedite_request(pcb, notice, demo.context).requests
    assert requests
    latest = requests[-1]
    assert latest.material_id == "PCB-DRV" and latest.warehouse_id == ASSEMBLY_WAREHOUSE
    assert latest.quantity >= notice.quantity
    assert latest.status in {RequestStatus.APPROVED, RequestStatus.PENDING_APPROVAL}
    assert FAN_ORDER_ID in latest.explanation
