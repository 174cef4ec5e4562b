"""Purchase requests raised by the material step: one per need, approved or waiting, ordered,
cancelled or expired, and the same whatever order the events arrive in."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.events import (
    InTransitLine,
    MaterialEvent,
    MaterialMaster,
    SalesOrderLine,
    StockMovement,
)
from models.expedite import ExpediteNotice
from models.purchasing import PurchaseRequestAction, RequestStatus
from models.replenishment import SUPPLY_ALERTS, replenish
from models.rules.spec import builtin_rules
from models.state import MaterialState
from models.step import (
    AppliedEventIds,
    StepContext,
    StepResult,
    advance,
    decide_request,
    expedite_request,
    receive,
)

T0 = datetime(2026, 4, 6, 8, tzinfo=UTC)
CONTEXT = StepContext(rules=builtin_rules())


def master(unit_cost: float = 12.5) -> MaterialMaster:
    return MaterialMaster(
        event_id=f"m-{unit_cost}",
        event_time=T0,
        material_id="M1",
        name="Hex bolt M8",
        unit_cost=unit_cost,
        moq=40,
        pack_size=10,
        preferred_supplier="S1",
    )


def movement(event_id: str, kind: str, quantity: float, hours: float) -> StockMovement:
    return StockMovement(
        event_id=event_id,
        event_time=T0 + timedelta(hours=hours),
        material_id="M1",
        movement_type=kind,
        warehouse_id="W1",
        quantity=quantity,
    )


def order(event_id: str, quantity: float, hours: float) -> SalesOrderLine:
    return SalesOrderLine(
        event_id=event_id,
        event_time=T0 + timedelta(hours=hours),
        material_id="M1",
        order_id="SO-1",
        line_id="1",
        warehouse_id="W1",
        quantity=quantity,
        due_date=(T0 + timedelta(days=5)).date(),
        status="confirmed",
    )


def po_line(quantity: float, hours: float, request_id: str | None) -> InTransitLine:
    return InTransitLine(
        event_id=f"po-{hours}",
        event_time=T0 + timedelta(hours=hours),
        material_id="M1",
        line_id="PO-1/1",
        supplier_id="S1",
        warehouse_id="W1",
        quantity=quantity,
        ordered_at=T0 + timedelta(hours=hours),
        eta=(T0 + timedelta(days=14)).date(),
        status="ordered",
        purchase_request_id=request_id,
    )


def short_by_50(unit_cost: float = 12.5) -> list:
    """100 on hand, 150 confirmed: the position is -50 at 09:00."""
    return [master(unit_cost), movement("r1", "receipt", 100, 0.5), order("so1", 150, 1)]


def run(events: list, state: MaterialState | None = None, hours: float = 6) -> StepResult:
    state = state if state is not None else MaterialState(material_id="M1")
    applied = AppliedEventIds()
    for event in events:
        receive(state, MaterialEvent(event=event), applied)
    return advance(state, T0 + timedelta(hours=hours), CONTEXT)


def statuses(result: StepResult) -> list[tuple[str, str]]:
    return [(r.request_id, r.status) for r in result.requests]


def test_a_shortage_raises_one_request_up_to_order_up_to_in_whole_packs():
    state = MaterialState(material_id="M1")
    result = run(short_by_50(), state)
    proposed, approved = result.requests
    assert [proposed.status, approved.status] == [RequestStatus.PROPOSED, RequestStatus.APPROVED]
    assert proposed.request_id == approved.request_id
    # order-up-to 0 (no demand history yet) minus position -50 = 50: five packs, above the MOQ.
    assert (approved.quantity, approved.amount, approved.currency) == (50, 625, "EUR")
    assert approved.supplier_id == "S1" and approved.warehouse_id == "W1"
    assert approved.created_at == T0 + timedelta(hours=1)
    assert approved.alert_ids and all(a in _open_alert_ids(state) for a in approved.alert_ids)
    assert "below auto-approval limit 5,000.00 EUR" in (approved.reason or "")
    assert list(state.requests.open) == [approved.request_id]


def test_updates_of_the_alert_do_not_raise_a_second_request():
    """The order shrinks twice: the alert's numbers move, the open request still covers it."""
    result = run([*short_by_50(), order("so1-v2", 140, 2), order("so1-v3", 120, 3)])
    assert any(alert.status == "updated" for alert in result.alerts)
    assert len({request_id for request_id, _ in statuses(result)}) == 1


def test_a_second_request_comes_only_when_the_first_is_not_enough():
    """An issue of 30 outside the order: position 100 - 30 + 50 - 150 = -30; MOQ makes it 40."""
    result = run([*short_by_50(), movement("i1", "issue", 30, 2)])
    ids = list(dict.fromkeys(request_id for request_id, _ in statuses(result)))
    assert len(ids) == 2
    second = [r for r in result.requests if r.request_id == ids[1]]
    assert second[-1].quantity == 40 and second[-1].status == RequestStatus.APPROVED


def test_above_the_amount_the_request_waits_for_the_approver_of_its_band():
    result = run(short_by_50(unit_cost=200))
    _, pending = result.requests
    assert pending.status == RequestStatus.PENDING_APPROVAL
    assert (pending.amount, pending.approver) == (10_000, "buyer")


def test_a_request_nobody_priced_waits_for_the_first_band_whatever_its_amount_of_0():
    result = run([master(unit_cost=0), movement("r1", "receipt", 100, 0.5), order("so1", 150, 1)])
    _, pending = result.requests
    assert pending.status == RequestStatus.PENDING_APPROVAL
    assert (pending.unit_cost, pending.amount, pending.approver) == (0, 0, "buyer")
    assert "amount unknown" in (pending.reason or "")


def test_without_a_master_cost_a_request_is_valued_at_the_shelfs_receipt_cost():
    priced = movement("r1", "receipt", 100, 0.5).model_copy(update={"unit_cost": 4.0})
    result = run([master(unit_cost=0), priced, order("so1", 150, 1)])
    _, approved = result.requests
    assert (approved.status, approved.unit_cost, approved.amount) == ("approved", 4.0, 200)


def test_a_person_approves_a_pending_request_once_and_an_unknown_one_is_refused():
    state = MaterialState(material_id="M1")
    request = run(short_by_50(unit_cost=200), state).requests[-1]
    decision = PurchaseRequestAction(
        action="approve",
        request_id=request.request_id,
        material_id="M1",
        by="alice",
        at=T0 + timedelta(hours=7),
    )
    (approved,) = decide_request(state, decision).requests
    assert (approved.status, approved.decided_by) == (RequestStatus.APPROVED, "alice")
    assert decide_request(state, decision).requests == []  # delivered again: nothing changes
    unknown = decision.model_copy(update={"request_id": "pr-0000000000000000"})
    with pytest.raises(ValueError, match="request_id=pr-0000000000000000: no open request"):
        decide_request(state, unknown)


def test_a_po_line_naming_the_request_orders_it_and_is_counted_once():
    state = MaterialState(material_id="M1")
    request = run(short_by_50(), state).requests[-1]
    result = run([po_line(50, 7, request.request_id)], state, hours=8)
    assert statuses(result) == [(request.request_id, RequestStatus.ORDERED)]
    ordered = result.requests[0]
    assert (ordered.ordered_quantity, ordered.erp_reference) == (50, "PO-1/1")
    assert state.requests.open == {}


def test_a_po_line_of_the_same_supplier_takes_over_an_open_request_it_does_not_name():
    state = MaterialState(material_id="M1")
    request = run(short_by_50(), state).requests[-1]
    result = run([po_line(60, 7, None)], state, hours=8)
    assert statuses(result) == [(request.request_id, RequestStatus.ORDERED)]


def test_an_undecided_request_is_cancelled_when_the_need_goes():
    state = MaterialState(material_id="M1")
    request = run(short_by_50(unit_cost=200), state).requests[-1]
    result = run([movement("r2", "receipt", 500, 7)], state, hours=8)
    assert statuses(result) == [(request.request_id, RequestStatus.CANCELLED)]
    assert "need gone" in (result.requests[0].reason or "")


def test_an_approved_request_not_ordered_in_time_expires_and_the_need_raises_a_new_one():
    state = MaterialState(material_id="M1")
    request = run(short_by_50(), state).requests[-1]
    result = advance(state, T0 + timedelta(days=15), CONTEXT)
    expired = [r for r in result.requests if r.request_id == request.request_id]
    assert [r.status for r in expired] == [RequestStatus.EXPIRED]
    assert expired[0].at == datetime(2026, 4, 21, tzinfo=UTC)  # first midnight after 14 days
    assert any(r.request_id != request.request_id for r in result.requests)


def test_midnights_alone_raise_requests_when_the_plan_grows():
    """30 issued on a quiet day: once the day has closed (one grace day), the forecast, and
    the reorder point with it, rise at midnight, and the 10 left on hand are short."""
    state = MaterialState(material_id="M1")
    run([master(), movement("r1", "receipt", 40, 0.5), movement("i1", "issue", 30, 1)], state)
    assert advance(state, T0 + timedelta(days=1, hours=1), CONTEXT).requests == []
    result = advance(state, T0 + timedelta(days=2, hours=1), CONTEXT)
    assert [r.status for r in result.requests] == ["proposed", "pending_approval"]
    assert result.requests[0].created_at == datetime(2026, 4, 8, tzinfo=UTC)


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False))
def test_requests_do_not_depend_on_the_order_events_arrive_in(rng: random.Random):
    events = [
        *short_by_50(),
        movement("i1", "issue", 30, 2),
        order("so1-v2", 170, 3),
        movement("i2", "issue", 10, 4),
    ]
    reference = run(events).requests
    shuffled = list(events)
    rng.shuffle(shuffled)
    assert run(shuffled).requests == reference


def _open_alert_ids(state: MaterialState) -> set[str]:
    return {alert.id for alert in state.alerts.alerts.values()}


def receipt_at(warehouse_id: str, quantity: float, hours: float) -> StockMovement:
    return movement(f"r-{warehouse_id}-{hours}", "receipt", quantity, hours).model_copy(
        update={"warehouse_id": warehouse_id}
    )


def transfer_movement(kind: str, warehouse_id: str, quantity: float, hours: float):
    return movement(f"{kind}-{hours}", kind, quantity, hours).model_copy(
        update={"warehouse_id": warehouse_id}
    )


def test_a_surplus_in_another_warehouse_is_moved_before_anything_is_bought():
    state = MaterialState(material_id="M1")
    result = run([*short_by_50(), receipt_at("W2", 500, 0.75)], state)
    proposed, approved = result.transfers
    assert [proposed.status, approved.status] == ["proposed", "approved"]
    assert (approved.from_warehouse, approved.to_warehouse, approved.quantity) == ("W2", "W1", 50)
    assert result.requests == []


def test_a_transfer_is_shipped_and_received_by_the_erps_transfer_movements():
    state = MaterialState(material_id="M1")
    transfer = run([*short_by_50(), receipt_at("W2", 500, 0.75)], state).transfers[-1]
    result = run(
        [
            transfer_movement("transfer_out", "W2", 50, 7),
            transfer_movement("transfer_in", "W1", 50, 9),
        ],
        state,
        hours=10,
    )
    assert [(t.transfer_id, t.status) for t in result.transfers] == [
        (transfer.transfer_id, "shipped"),
        (transfer.transfer_id, "received"),
    ]
    assert state.transfers.open == {} and result.requests == []


def test_what_the_surplus_cannot_give_is_requested_from_the_supplier():
    """W2 holds 20 with no need of its own: 20 move, the other 30 (raised to the MOQ) are bought."""
    state = MaterialState(material_id="M1")
    result = run([*short_by_50(), receipt_at("W2", 20, 0.75)], state)
    assert [t.quantity for t in result.transfers] == [20, 20]
    assert [r.quantity for r in result.requests] == [40, 40]


def shortage(quantity: float) -> ExpediteNotice:
    return ExpediteNotice(
        material_id="M1",
        warehouse_id="W1",
        quantity=quantity,
        needed_by=(T0 + timedelta(days=4)).date(),
        order_id="MO-1",
        shortage_id="s1",
        at=T0 + timedelta(hours=2),
    )


def test_a_production_orders_missing_part_raises_an_expedited_request_once_per_need():
    state = MaterialState(material_id="M1")
    run([master(), movement("r1", "receipt", 10, 0.5)], state)
    _, approved = expedite_request(state, shortage(25), CONTEXT).requests
    assert (approved.status, approved.quantity) == ("approved", 40)  # raised to the MOQ
    assert approved.explanation.startswith("expedite: order MO-1 lacks 25 EA by")
    assert approved.needed_by == (T0 + timedelta(days=4)).date()
    # A later analysis of the same order: what the open request covers is not asked again.
    assert expedite_request(state, shortage(30), CONTEXT).requests == []
    more = expedite_request(state, shortage(60), CONTEXT).requests
    assert [r.quantity for r in more] == [40, 40]  # 20 more, raised to the MOQ


def test_a_withdrawn_production_order_cancels_its_undecided_expedites_and_keeps_approved_ones():
    state = MaterialState(material_id="M1")
    run([master(unit_cost=200), movement("r1", "receipt", 10, 0.5)], state)
    _, pending = expedite_request(state, shortage(25), CONTEXT).requests
    assert pending.status == "pending_approval"
    cheap = shortage(5).model_copy(update={"order_id": "MO-2"})
    state.master = state.master.model_copy(update={"unit_cost": 1.0})
    _, approved = expedite_request(state, cheap, CONTEXT).requests
    assert approved.status == "approved"

    (cancelled,) = expedite_request(state, shortage(0), CONTEXT).requests
    assert (cancelled.request_id, cancelled.status) == (pending.request_id, "cancelled")
    assert cancelled.reason == "need gone: order MO-1 withdrawn"
    assert expedite_request(state, shortage(0), CONTEXT).requests == []  # delivered again
    withdrawn_cheap = cheap.model_copy(update={"quantity": 0.0})
    assert expedite_request(state, withdrawn_cheap, CONTEXT).requests == []
    assert list(state.requests.open) == [approved.request_id]
    assert "MO-1|M1" not in state.requests.expedited


def _open_supply_alert_ids(state: MaterialState) -> list[str]:
    return sorted(a.id for a in state.alerts.alerts.values() if a.rule_id in SUPPLY_ALERTS)


def _planned_between(state: MaterialState, reorder_point: float, order_up_to: float) -> None:
    """Set W1's plan so that its position lies between the reorder point and order-up-to."""
    stock = state.warehouses["W1"]
    stock.policy = stock.policy.model_copy(
        update={"reorder_point": reorder_point, "order_up_to": order_up_to}
    )


def test_an_open_supply_alert_raises_one_request_per_episode_not_a_top_up_per_issue():
    """The request for the gap answers the alerts that are open. Above the reorder point and
    below order-up-to, the issues that follow while they stay open raise nothing more (each
    raised a top-up of the MOQ before)."""
    state = MaterialState(material_id="M1")
    first = run(short_by_50(), state).requests[-1]
    assert state.requests.answered["W1"] == _open_supply_alert_ids(state)
    _planned_between(state, reorder_point=-100, order_up_to=200)
    for hour in range(7, 13):
        state.warehouses["W1"].issue(3)
        at = T0 + timedelta(hours=hour)
        assert replenish(state, at, CONTEXT.approval, CONTEXT.lanes, ["W1"]).requests == []
    assert list(state.requests.open) == [first.request_id]


def test_below_the_reorder_point_a_warehouse_is_short_even_while_its_alerts_are_answered():
    state = MaterialState(material_id="M1")
    run(short_by_50(), state)  # position 0 with the first request
    _planned_between(state, reorder_point=-100, order_up_to=200)
    state.warehouses["W1"].issue(110)  # position -110
    again = replenish(state, T0 + timedelta(hours=8), CONTEXT.approval, CONTEXT.lanes, ["W1"])
    assert [r.status for r in again.requests] == ["proposed", "approved"]
    assert again.requests[-1].quantity == 310  # back up to 200


def test_a_new_alert_episode_may_lift_the_position_to_order_up_to_again():
    state = MaterialState(material_id="M1")
    run(short_by_50(), state)
    _planned_between(state, reorder_point=-100, order_up_to=200)
    alerts = state.alerts.alerts
    for key, alert in alerts.items():  # every episode closes and a new one opens
        alerts[key] = alert.model_copy(update={"id": f"{alert.id}-next"})
    lifted = replenish(state, T0 + timedelta(hours=9), CONTEXT.approval, CONTEXT.lanes, ["W1"])
    assert [r.status for r in lifted.requests] == ["proposed", "approved"]
    assert lifted.requests[-1].quantity == 200  # from 0 up to 200
    assert state.requests.answered["W1"] == _open_supply_alert_ids(state)


def test_a_shipment_and_its_issue_at_one_instant_neither_resolve_nor_raise_an_alert_again():
    """The line's update frees 100 of the 150 committed and the issue takes the 100 from the
    shelf: the position does not move. Evaluated between the two, the gap alert resolved on
    the line and was raised again on the issue, both at 02:00."""
    state = MaterialState(material_id="M1")
    run(short_by_50(), state, hours=1.5)
    gap = {a.id for a in state.alerts.alerts.values() if a.rule_id == "supply_demand_gap"}
    assert gap
    shipped = order("so1-v2", 150, 2).model_copy(
        update={"shipped_quantity": 100, "status": "partially_shipped"}
    )
    result = run([shipped, movement("i1", "issue", 100, 2)], state, hours=3)
    assert [(a.rule_id, a.status) for a in result.alerts if a.rule_id == "supply_demand_gap"] in (
        [],
        [("supply_demand_gap", "updated")],
    )
    assert gap <= {a.id for a in state.alerts.alerts.values()}


def test_an_undecided_expedite_is_not_cancelled_when_the_reorder_point_is_met():
    """Its need is the production order's: a receipt that lifts the position does not end it."""
    state = MaterialState(material_id="M1")
    run([master(unit_cost=200), movement("r1", "receipt", 10, 0.5)], state)
    _, pending = expedite_request(state, shortage(25), CONTEXT).requests
    result = run([movement("r2", "receipt", 500, 3)], state, hours=4)
    assert result.requests == []
    assert state.requests.open[pending.request_id].status == "pending_approval"
