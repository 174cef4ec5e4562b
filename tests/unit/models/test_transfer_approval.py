"""Transfers judged by the approval policy in the material step: below the material's limit they
approve themselves, from it on they wait for the approver of their value, who approves or
rejects them; a refused source is not proposed again while the need lasts."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.approval import ApprovalPolicy
from models.events import MaterialEvent, MaterialMaster, SalesOrderLine, StockMovement
from models.rules.spec import builtin_rules
from models.state import MaterialState
from models.step import AppliedEventIds, StepContext, StepResult, advance, decide_transfer, receive
from models.transfers import TransferAction, TransferStatus, TransferTransitionError

T0 = datetime(2026, 4, 6, 8, tzinfo=UTC)
CONTEXT = StepContext(rules=builtin_rules())
NEED = 50.0
"""W1 holds 100 and owes 150; W2 holds 500 with no need of its own: 50 move from W2 to W1."""


def master(unit_cost: float, category: str | None = None, abc_class: str | None = None):
    return MaterialMaster(
        event_id=f"m-{unit_cost}-{category}-{abc_class}",
        event_time=T0,
        material_id="M1",
        name="Hex bolt M8",
        unit_cost=unit_cost,
        category=category,
        abc_class=abc_class,
        moq=40,
        pack_size=10,
        preferred_supplier="S1",
    )


def movement(warehouse_id: str, kind: str, quantity: float, hours: float) -> StockMovement:
    return StockMovement(
        event_id=f"{kind}-{warehouse_id}-{hours}",
        event_time=T0 + timedelta(hours=hours),
        material_id="M1",
        movement_type=kind,
        warehouse_id=warehouse_id,
        quantity=quantity,
    )


def short_beside_a_surplus(unit_cost: float, **master_fields: str) -> list:
    return [
        master(unit_cost, **master_fields),
        movement("W1", "receipt", 100, 0.5),
        movement("W2", "receipt", 500, 0.75),
        SalesOrderLine(
            event_id="so1",
            event_time=T0 + timedelta(hours=1),
            material_id="M1",
            order_id="SO-1",
            line_id="1",
            warehouse_id="W1",
            quantity=150,
            due_date=(T0 + timedelta(days=5)).date(),
            status="confirmed",
        ),
    ]


def run(
    events: list,
    state: MaterialState,
    hours: float = 6,
    context: StepContext = CONTEXT,
) -> StepResult:
    applied = AppliedEventIds()
    for event in events:
        receive(state, MaterialEvent(event=event), applied)
    return advance(state, T0 + timedelta(hours=hours), context)


def held_transfer(unit_cost: float = 200.0) -> tuple[MaterialState, StepResult]:
    """A 50-unit transfer worth 10,000 EUR: at or above the default 5,000 limit, it waits."""
    state = MaterialState(material_id="M1")
    return state, run(short_beside_a_surplus(unit_cost), state)


def decision(transfer_id: str, action: str, hours: float, by: str = "ann") -> TransferAction:
    return TransferAction(
        action=action,
        transfer_id=transfer_id,
        material_id="M1",
        by=by,
        reason="W2 keeps it for the fair" if action == "reject" else None,
        at=T0 + timedelta(hours=hours),
    )


def test_a_transfer_worth_just_below_the_limit_is_approved_at_once():
    state = MaterialState(material_id="M1")
    result = run(short_beside_a_surplus(unit_cost=99.99), state)
    proposed, approved = result.transfers
    assert (proposed.status, approved.status) == ("proposed", "approved")
    assert (approved.quantity, approved.amount, approved.approver, approved.by) == (
        NEED,
        4999.5,
        None,
        "stockloop",
    )
    assert "below auto-approval limit 5,000.00 EUR (default)" in approved.reason
    assert result.requests == []


def test_a_transfer_worth_exactly_the_limit_stays_proposed_with_its_approver():
    state = MaterialState(material_id="M1")
    result = run(short_beside_a_surplus(unit_cost=100.0), state)
    (proposed,) = result.transfers
    assert (proposed.status, proposed.amount, proposed.approver) == ("proposed", 5000, "buyer")
    assert "not below auto-approval limit 5,000.00 EUR (default): needs buyer" in proposed.reason
    # Still supply on its way: the need raises no purchase while the transfer waits.
    assert result.requests == []
    assert list(state.transfers.open) == [proposed.transfer_id]


def test_a_transfer_of_a_material_nobody_priced_waits_for_the_first_approver():
    state = MaterialState(material_id="M1")
    (proposed,) = run(short_beside_a_surplus(unit_cost=0.0), state).transfers
    assert (proposed.status, proposed.amount, proposed.approver) == ("proposed", 0, "buyer")
    assert proposed.reason.endswith(
        "amount unknown: no unit cost in the material master or on the shelf: needs buyer"
    )


def test_without_a_master_cost_a_transfer_is_valued_at_the_shelfs_receipt_cost():
    priced = [
        event.model_copy(update={"unit_cost": 120.0 if event.warehouse_id == "W2" else 80.0})
        if isinstance(event, StockMovement)
        else event
        for event in short_beside_a_surplus(unit_cost=0.0)
    ]
    (proposed,) = run(priced, MaterialState(material_id="M1")).transfers
    # 100 at 80 and 500 at 120 on the shelves: 113.33 a unit, 50 units 5,666.67 EUR.
    assert (proposed.amount, proposed.approver) == (5666.67, "buyer")
    assert "amount 5,666.67 EUR not below auto-approval limit" in proposed.reason


def test_the_categorys_own_limit_wins_over_the_default_and_the_abc_class():
    policy = ApprovalPolicy(
        currency="EUR",
        categories={"fasteners": {"auto_approve_below": 8000}},
        abc_classes={"A": {"auto_approve_below": 1000}},
    )
    context = StepContext(rules=builtin_rules(), approval=policy)
    fasteners = short_beside_a_surplus(unit_cost=100.0, category="fasteners", abc_class="A")
    _, approved = run(fasteners, MaterialState(material_id="M1"), context=context).transfers
    assert approved.status == "approved"
    assert "(category fasteners)" in approved.reason
    class_a = short_beside_a_surplus(unit_cost=100.0, abc_class="A")
    (held,) = run(class_a, MaterialState(material_id="M1"), context=context).transfers
    assert (held.status, held.approver) == ("proposed", "buyer")
    assert "(ABC class A)" in held.reason


@pytest.mark.parametrize(
    ("unit_cost", "approver"),
    [(399.98, "buyer"), (400.0, "purchasing_manager"), (2000.0, "cfo")],
)
def test_a_held_transfer_waits_for_the_approver_of_its_value_band(unit_cost, approver):
    _, result = held_transfer(unit_cost)
    (proposed,) = result.transfers
    assert proposed.approver == approver


def test_a_person_approves_a_held_transfer_once_and_it_ships_on_the_transfer_out():
    state, result = held_transfer()
    (proposed,) = result.transfers
    approve = decision(proposed.transfer_id, "approve", hours=7)
    (approved,) = decide_transfer(state, approve).transfers
    assert (approved.status, approved.by, approved.approver, approved.sequence) == (
        "approved",
        "ann",
        "buyer",
        1,
    )
    assert decide_transfer(state, approve).transfers == []  # delivered again: nothing changes
    shipped = run([movement("W2", "transfer_out", NEED, 8)], state, hours=9).transfers
    assert [(t.transfer_id, t.status) for t in shipped] == [(proposed.transfer_id, "shipped")]


def test_a_rejected_transfer_is_not_proposed_again_and_the_need_is_bought():
    state, result = held_transfer()
    (proposed,) = result.transfers
    (rejected,) = decide_transfer(state, decision(proposed.transfer_id, "reject", 7)).transfers
    assert (rejected.status, rejected.by, rejected.reason) == (
        "rejected",
        "ann",
        "W2 keeps it for the fair",
    )
    assert state.transfers.open == {}
    # The next evaluation (midnight) buys what W2 was refused for, and proposes no transfer.
    later = advance(state, T0 + timedelta(days=1, hours=1), CONTEXT)
    assert later.transfers == []
    assert [r.status for r in later.requests][:1] == ["proposed"]
    assert later.requests[0].warehouse_id == "W1"


def test_a_decision_on_a_decided_or_unknown_transfer_is_refused_in_one_line():
    state, result = held_transfer()
    (proposed,) = result.transfers
    decide_transfer(state, decision(proposed.transfer_id, "approve", hours=7))
    with pytest.raises(TransferTransitionError, match="is approved: cannot be rejected") as error:
        decide_transfer(state, decision(proposed.transfer_id, "reject", hours=8))
    assert "\n" not in str(error.value)
    assert state.transfers.open[proposed.transfer_id].status == TransferStatus.APPROVED
    with pytest.raises(ValueError, match="transfer_id=0000000000000000: no open transfer of M1"):
        decide_transfer(state, decision("0000000000000000", "approve", hours=8))


@settings(max_examples=30, deadline=None)
@given(unit_cost=st.floats(min_value=0, max_value=1000, allow_nan=False))
def test_a_transfer_approves_itself_exactly_when_its_value_is_below_the_limit(unit_cost):
    transfers = run(short_beside_a_surplus(unit_cost), MaterialState(material_id="M1")).transfers
    value = transfers[0].amount
    assert value == round(NEED * unit_cost, 2)
    approves_itself = unit_cost > 0 and value < 5000
    assert (transfers[-1].status == "approved") == approves_itself
    assert (transfers[-1].approver is None) == approves_itself
