"""Transfer before purchase: which warehouses give how much, and the transfer's life cycle."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from models.planning import PolicySnapshot
from models.state import WarehouseStock
from models.transfers import (
    Transfer,
    TransferAction,
    TransferLanes,
    TransferLanesError,
    TransferStatus,
    TransferSuggestion,
    TransferTransitionError,
    WarehouseSupply,
    apply_transfer_action,
    approve,
    cancel,
    choose_transfers,
    default_transfer_lanes,
    load_transfer_lanes,
    propose_transfer,
    receive,
    reject,
    ship,
    supply_of,
    transfer_id,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
LANES = TransferLanes(default_days=2.0)


def supply(
    warehouse_id: str,
    available: float,
    *,
    in_transit: float = 0.0,
    safety_stock: float = 10.0,
    reorder_point: float = 30.0,
    order_up_to: float = 50.0,
) -> WarehouseSupply:
    return WarehouseSupply(
        warehouse_id=warehouse_id,
        available=available,
        in_transit=in_transit,
        safety_stock=safety_stock,
        reorder_point=reorder_point,
        order_up_to=order_up_to,
    )


def moved(plan) -> list[tuple[str, float]]:
    return [(t.from_warehouse, t.quantity) for t in plan.transfers]


# --- surplus ----------------------------------------------------------------------------


def test_surplus_is_what_the_position_holds_above_order_up_to():
    assert supply("W2", 80.0, in_transit=5.0, order_up_to=50.0).surplus == 35.0


def test_surplus_never_takes_the_shelf_below_safety_stock():
    # In-transit supply lifts the position far above order-up-to, but cannot be shipped on.
    assert supply("W2", 30.0, in_transit=500.0, safety_stock=12.0).surplus == 18.0


def test_a_warehouse_at_or_below_its_order_up_to_has_no_surplus():
    assert supply("W2", 50.0).surplus == 0.0
    assert supply("W2", -5.0).surplus == 0.0


# --- choice among several warehouses -------------------------------------------------------


def test_the_larger_surplus_gives_first_and_the_rest_is_left_for_purchase():
    sources = [supply("W2", 70.0), supply("W3", 110.0), supply("W4", 55.0)]
    plan = choose_transfers("W1", 100.0, sources, LANES)
    assert moved(plan) == [("W3", 60.0), ("W2", 20.0), ("W4", 5.0)]
    assert plan.remaining == 15.0


def test_a_need_that_one_surplus_covers_takes_one_transfer_and_leaves_nothing():
    plan = choose_transfers("W1", 25.0, [supply("W2", 70.0), supply("W3", 110.0)], LANES)
    assert moved(plan) == [("W3", 25.0)]
    assert plan.remaining == 0.0


def test_a_lane_slower_than_the_need_is_not_used():
    lanes = TransferLanes(default_days=1.0, lanes={"W3": {"W1": 6.0}})
    plan = choose_transfers(
        "W1", 100.0, [supply("W2", 70.0), supply("W3", 110.0)], lanes, needed_by_days=5.0
    )
    assert moved(plan) == [("W2", 20.0)]
    assert plan.remaining == 80.0


def test_a_lane_exactly_as_long_as_the_need_allows_is_used():
    lanes = TransferLanes(default_days=1.0, lanes={"W3": {"W1": 5.0}})
    plan = choose_transfers("W1", 10.0, [supply("W3", 110.0)], lanes, needed_by_days=5.0)
    assert moved(plan) == [("W3", 10.0)]
    assert plan.transfers[0].lead_time_days == 5.0


def test_without_a_need_by_date_every_lane_is_used():
    lanes = TransferLanes(default_days=30.0)
    assert moved(choose_transfers("W1", 10.0, [supply("W3", 110.0)], lanes)) == [("W3", 10.0)]


def test_between_equal_surpluses_the_shorter_lane_then_the_warehouse_id_wins():
    lanes = TransferLanes(default_days=3.0, lanes={"W4": {"W1": 1.0}})
    sources = [supply("W3", 60.0), supply("W2", 60.0), supply("W4", 60.0)]
    plan = choose_transfers("W1", 30.0, sources, lanes)
    assert moved(plan) == [("W4", 10.0), ("W2", 10.0), ("W3", 10.0)]


def test_lanes_are_directed_and_fall_back_to_the_default():
    lanes = TransferLanes.from_mapping({"default_days": 4, "lanes": {"W2": {"W1": 1.5}}})
    assert lanes.lead_time_days("W2", "W1") == 1.5
    assert lanes.lead_time_days("W1", "W2") == 4.0


def test_a_negative_lane_lead_time_is_refused():
    with pytest.raises(ValidationError, match=re.escape("lanes.W2.W1")):
        TransferLanes.from_mapping({"lanes": {"W2": {"W1": -1}}})


def test_the_needing_warehouse_and_sources_without_surplus_give_nothing():
    plan = choose_transfers("W1", 40.0, [supply("W1", 500.0), supply("W2", 40.0)], LANES)
    assert plan.transfers == []
    assert plan.remaining == 40.0


def test_no_need_gives_no_transfer():
    plan = choose_transfers("W1", 0.0, [supply("W2", 500.0)], LANES)
    assert (plan.transfers, plan.remaining) == ([], 0.0)


def test_a_warehouse_listed_twice_is_refused():
    with pytest.raises(ValueError, match="'W2' is listed twice"):
        choose_transfers("W1", 10.0, [supply("W2", 60.0), supply("W2", 90.0)], LANES)


# Few round values besides arbitrary ones, so that equal surpluses and lanes (ties) are common.
def amounts(low: float, high: float) -> st.SearchStrategy[float]:
    round_values = st.sampled_from([0.0, 10.0, 40.0])
    return round_values | round_values | st.floats(low, high).map(lambda x: round(x, 3))


@st.composite
def sources_and_lanes(draw):
    ids = draw(st.lists(st.sampled_from([f"W{i}" for i in range(2, 9)]), unique=True))
    sources = []
    for warehouse_id in ids:
        safety = draw(amounts(0.0, 200.0))
        up_to = safety + draw(amounts(0.0, 300.0))
        sources.append(
            supply(
                warehouse_id,
                draw(amounts(-100.0, 1_000.0)) + up_to,
                in_transit=draw(amounts(0.0, 300.0)),
                safety_stock=safety,
                reorder_point=safety,
                order_up_to=up_to,
            )
        )
    days = st.sampled_from([0.5, 1.0, 2.0, 3.0, 7.0])
    lanes = TransferLanes(
        default_days=draw(days),
        lanes={w: {"W1": draw(days)} for w in draw(st.sets(st.sampled_from(ids)))} if ids else {},
    )
    return sources, lanes


@given(
    sources_and_lanes(),
    st.floats(0.0, 2_000.0).map(lambda x: round(x, 3)),
    st.none() | st.sampled_from([0.5, 1.0, 2.0, 5.0]),
    st.randoms(use_true_random=False),
)
def test_the_plan_does_not_depend_on_the_order_of_sources(drawn, need, needed_by, random):
    sources, lanes = drawn
    shuffled = list(sources)
    random.shuffle(shuffled)
    assert choose_transfers("W1", need, shuffled, lanes, needed_by) == choose_transfers(
        "W1", need, sources, lanes, needed_by
    )


@given(
    sources_and_lanes(),
    st.floats(0.0, 2_000.0).map(lambda x: round(x, 3)),
    st.none() | st.sampled_from([0.5, 1.0, 2.0, 5.0]),
)
def test_transfers_keep_every_source_at_its_safety_stock_and_order_up_to(drawn, need, needed_by):
    sources, lanes = drawn
    plan = choose_transfers("W1", need, sources, lanes, needed_by)
    by_id = {s.warehouse_id: s for s in sources}
    for transfer in plan.transfers:
        source = by_id[transfer.from_warehouse]
        assert transfer.quantity > 0
        assert source.available - transfer.quantity >= source.safety_stock - 1e-6
        assert source.available + source.in_transit - transfer.quantity >= source.order_up_to - 1e-6
        if needed_by is not None:
            assert transfer.lead_time_days <= needed_by
    assert len({t.from_warehouse for t in plan.transfers}) == len(plan.transfers)
    assert plan.remaining >= 0
    assert plan.remaining + sum(t.quantity for t in plan.transfers) == pytest.approx(need)


@given(sources_and_lanes(), st.floats(0.0, 2_000.0).map(lambda x: round(x, 3)))
def test_something_is_left_for_purchase_only_when_every_usable_surplus_is_spent(drawn, need):
    sources, lanes = drawn
    plan = choose_transfers("W1", need, sources, lanes)
    if plan.remaining > 0:
        given_by = {t.from_warehouse: t.quantity for t in plan.transfers}
        for source in sources:
            assert given_by.get(source.warehouse_id, 0.0) == source.surplus


# --- from the material state ---------------------------------------------------------------


def policy(safety_stock: float, reorder_point: float, order_up_to: float) -> PolicySnapshot:
    return PolicySnapshot(
        as_of=date(2026, 3, 1),
        demand_class="smooth",
        forecast_method="ses",
        daily_demand=2.0,
        sigma_daily_demand=1.0,
        supplier_id=None,
        lead_time_days=10.0,
        sigma_lead_time_days=1.0,
        service_level=0.95,
        z=1.645,
        safety_stock=safety_stock,
        reorder_point=reorder_point,
        order_up_to=order_up_to,
        days_of_cover=None,
        projected_stockout_date=None,
        projected_stockout_days=None,
    )


def test_a_planned_warehouse_is_a_source_with_its_own_policy():
    stock = WarehouseStock(on_hand=120.0, policy=policy(15.0, 35.0, 70.0))
    source = supply_of("W2", stock)
    assert source is not None
    assert (source.available, source.safety_stock, source.order_up_to) == (120.0, 15.0, 70.0)
    assert source.surplus == 50.0


def test_a_warehouse_without_a_policy_is_no_source():
    assert supply_of("W2", WarehouseStock(on_hand=500.0)) is None


# --- the transfer record and its life cycle ------------------------------------------------

SUGGESTION = TransferSuggestion("W2", "W1", 30.0, 2.0, 45.0)


def proposed(raised: int = 0) -> Transfer:
    return propose_transfer(
        "M1",
        SUGGESTION,
        now=T0,
        raised=raised,
        unit="KG",
        needed_by=date(2026, 3, 5),
        alert_ids=("a1",),
    )


def later(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_a_proposed_transfer_has_a_deterministic_id_and_explains_itself():
    transfer = proposed()
    assert transfer.transfer_id == transfer_id("M1", "W2", "W1", 0)
    assert transfer.id == f"{transfer.transfer_id}-0"
    assert proposed() == transfer
    assert proposed(raised=1).transfer_id != transfer.transfer_id
    assert transfer.status is TransferStatus.PROPOSED
    assert "W2 holds 45 KG" in transfer.explanation
    assert "30 KG to W1 in 2 days" in transfer.explanation


def test_transfer_ids_differ_by_material_lane_and_count():
    ids = {
        transfer_id(m, f, t, n)
        for m in ("M1", "M2")
        for f, t in (("W1", "W2"), ("W2", "W1"))
        for n in (0, 1)
    }
    assert len(ids) == 8


def test_a_transfer_goes_approved_shipped_received_with_one_record_each():
    approved = approve(proposed(), by="lead", at=later(1))
    shipped = ship(approved, quantity=28.0, at=later(5))
    received = receive(shipped, quantity=28.0, at=later(50))
    assert [t.status for t in (approved, shipped, received)] == ["approved", "shipped", "received"]
    assert [t.sequence for t in (approved, shipped, received)] == [1, 2, 3]
    assert len({t.id for t in (proposed(), approved, shipped, received)}) == 4
    assert (received.shipped_quantity, received.received_quantity) == (28.0, 28.0)
    assert received.by == "lead"
    assert received.created_at == T0
    assert received.at == later(50)


def test_a_transfer_shipped_before_its_approval_is_shipped_all_the_same():
    assert ship(proposed(), quantity=30.0, at=later(1)).status is TransferStatus.SHIPPED


def test_a_proposed_or_approved_transfer_can_be_rejected_or_cancelled():
    assert reject(proposed(), by="lead", at=later(1), reason="W2 keeps it").status == "rejected"
    approved = approve(proposed(), by="lead", at=later(1))
    cancelled = cancel(approved, by="planner", at=later(2), reason="need gone")
    assert (cancelled.status, cancelled.by, cancelled.reason) == (
        "cancelled",
        "planner",
        "need gone",
    )


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (lambda t: approve(approve(t, by="a", at=later(1)), by="a", at=later(2)), "already"),
        (lambda t: receive(t, quantity=1.0, at=later(1)), "is proposed: cannot be received"),
        (
            lambda t: cancel(ship(t, quantity=30.0, at=later(1)), by="a", at=later(2)),
            "is shipped: cannot be cancelled (goods on the road can only be received)",
        ),
        (
            lambda t: approve(reject(t, by="a", at=later(1)), by="a", at=later(2)),
            "is rejected: cannot be approved (it is final)",
        ),
        (
            lambda t: ship(cancel(t, by="a", at=later(1)), quantity=3.0, at=later(2)),
            "is cancelled: cannot be shipped",
        ),
        (
            lambda t: reject(approve(t, by="a", at=later(1)), by="a", at=later(2)),
            "is approved: cannot be rejected",
        ),
    ],
)
def test_a_transition_its_status_does_not_allow_is_refused_in_one_line(steps, message):
    with pytest.raises(TransferTransitionError, match=re.escape(message)) as refused:
        steps(proposed())
    assert "\n" not in str(refused.value)


def test_a_transition_before_the_transfer_was_proposed_is_refused():
    with pytest.raises(TransferTransitionError, match="is before it was proposed at"):
        approve(proposed(), by="lead", at=later(-1))


def test_a_shipment_posted_before_a_persons_approval_reached_the_worker_still_ships():
    """The approval carries the wall clock, the transfer_out the ERP's event time."""
    approved = approve(proposed(), by="lead", at=later(3))
    shipped = ship(approved, quantity=30.0, at=later(2))
    assert (shipped.status, shipped.sequence, shipped.at) == ("shipped", 2, later(2))


def test_a_shipment_of_nothing_is_refused():
    with pytest.raises(
        TransferTransitionError, match=re.escape("shipped quantity 0.0 must be > 0")
    ):
        ship(proposed(), quantity=0.0, at=later(1))


def test_an_invalid_approver_is_refused_in_one_line():
    with pytest.raises(TransferTransitionError, match="by=") as refused:
        approve(proposed(), by=" ", at=later(1))
    assert "\n" not in str(refused.value)


def test_a_transfer_from_a_warehouse_to_itself_is_invalid():
    data = proposed().model_dump() | {"to_warehouse": "W2"}
    with pytest.raises(ValidationError, match="both 'W2'"):
        Transfer.model_validate(data)


def test_a_transfer_record_refuses_unknown_fields_and_survives_json():
    transfer = ship(approve(proposed(), by="lead", at=later(1)), quantity=30.0, at=later(2))
    assert Transfer.model_validate_json(transfer.model_dump_json()) == transfer
    with pytest.raises(ValidationError, match="extra"):
        Transfer.model_validate(transfer.model_dump() | {"colour": "red"})


# --- transfer lanes from YAML -------------------------------------------------------------


def _refusal(text: str) -> list[str]:
    with pytest.raises(TransferLanesError) as refused:
        load_transfer_lanes(text, "lanes.yaml")
    assert str(refused.value) == "\n".join(refused.value.problems)
    return list(refused.value.problems)


def test_lanes_from_yaml_give_each_directed_lane_its_days_and_the_rest_the_default():
    lanes = load_transfer_lanes("default_days: 4\nlanes: {W1: {W2: 1.5}, W2: {W1: 3}}")
    assert lanes.lead_time_days("W1", "W2") == 1.5
    assert lanes.lead_time_days("W2", "W1") == 3.0
    assert lanes.lead_time_days("W1", "W3") == 4.0


def test_the_shipped_lanes_file_is_the_default_lanes():
    assert default_transfer_lanes() == TransferLanes()


def test_an_empty_lanes_file_is_the_default_lanes():
    assert load_transfer_lanes("# every line commented out\n") == TransferLanes()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "default_dayz: 3",
            "lanes.yaml: default_dayz: unknown field (did you mean 'default_days'",
        ),
        ("lanes: {W1: {W2: 1}}\ncolour: red", "lanes.yaml: colour: unknown field (allowed: "),
        ("default_days: -1", "lanes.yaml: default_days: days must not be negative, got -1"),
        ("lanes: {W1: {W2: -0.5}}", "lanes.yaml: lanes.W1.W2: days must not be negative, got -0.5"),
        ("lanes: {W1: {W1: 1.5}}", "lanes.yaml: lanes.W1.W1: a lane goes from a warehouse to"),
        ("default_days: yes", "lanes.yaml: default_days: days must be a plain, finite number"),
        ("lanes: {W1: {W2: two}}", "lanes.yaml: lanes.W1.W2: days must be a plain, finite number"),
        ("default_days: 5000", "lanes.yaml: default_days: days must be at most 3650"),
        ("lanes: {1001: {W2: 1}}", "lanes.yaml: lanes.1001: a warehouse id is text; quote it"),
        ("lanes: {W1: 2}", "lanes.yaml: lanes.W1: expected a mapping, e.g. {W2: 1.5}, got 2"),
        ("lanes: [W1, W2]", "lanes.yaml: lanes: expected a mapping, e.g. {W1: {W2: 1.5}}"),
        ("- W1\n- W2", "lanes.yaml: transfer lanes are a mapping with default_days and lanes"),
        ("lanes: {W1: {W2: 1}\n", "lanes.yaml: not valid YAML: line "),
        ("lanes: {W1: {W2: 1}, W1: {W3: 2}}", "lanes.yaml: not valid YAML: "),
    ],
)
def test_a_wrong_lanes_file_is_refused_naming_the_field_and_the_value(text, problem):
    problems = _refusal(text)
    assert len(problems) == 1
    assert problems[0].startswith(problem), problems


def test_every_problem_of_a_lanes_file_is_one_line_of_its_own():
    problems = _refusal("default_days: -1\nlanes: {W1: {W2: -2, W3: 1}, W4: {W5: x}}")
    assert problems == [
        "lanes.yaml: default_days: days must not be negative, got -1",
        "lanes.yaml: lanes.W1.W2: days must not be negative, got -2",
        "lanes.yaml: lanes.W4.W5: days must be a plain, finite number (e.g. 1.5), got 'x'",
    ]


def test_a_lane_to_itself_is_refused_also_from_a_mapping():
    with pytest.raises(ValidationError, match=re.escape("lanes.W2.W2: a lane goes from")):
        TransferLanes.from_mapping({"lanes": {"W2": {"W1": 1, "W2": 0}}})


@given(
    default_days=st.floats(min_value=0, max_value=3650),
    days=st.dictionaries(
        st.sampled_from(["W1", "W2", "W3"]),
        st.dictionaries(st.sampled_from(["W4", "W5"]), st.floats(min_value=0, max_value=3650)),
    ),
)
def test_lanes_written_as_yaml_load_back_equal(default_days, days):
    lanes = TransferLanes(default_days=default_days, lanes=days)
    text = yaml.safe_dump(lanes.model_dump())
    assert load_transfer_lanes(text) == lanes


# --- a person's decision ------------------------------------------------------------------


def test_a_transfer_record_written_before_approval_by_value_still_loads():
    old = proposed().model_dump(mode="json")
    del old["amount"], old["approver"]
    assert Transfer.model_validate(old) == proposed()


def test_a_held_transfer_keeps_its_value_and_approver_through_its_transitions():
    held = proposed().model_copy(update={"amount": 9000.0, "approver": "buyer"})
    action = TransferAction(
        action="approve", transfer_id=held.transfer_id, material_id="M1", by=" ann ", at=later(1)
    )
    approved = apply_transfer_action(held, action)
    assert (approved.status, approved.by, approved.amount, approved.approver) == (
        "approved",
        "ann",
        9000.0,
        "buyer",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"action": "change_quantity"}, "action"),
        ({"by": ""}, "by"),
        ({"colour": "red"}, "colour"),
        ({"at": "2026-03-01T09:00:00"}, "at"),
    ],
)
def test_a_transfer_action_that_is_not_a_decision_is_refused(change, message):
    valid = {
        "action": "reject",
        "transfer_id": "94fc1834fc404f5b",
        "material_id": "M1",
        "by": "ann",
        "at": "2026-03-01T09:00:00Z",
    }
    with pytest.raises(ValidationError, match=message):
        TransferAction.model_validate(valid | change)


def test_a_decision_for_another_transfer_is_refused():
    action = TransferAction(
        action="approve", transfer_id="0000000000000000", material_id="M1", by="ann", at=later(1)
    )
    with pytest.raises(TransferTransitionError, match="not for transfer"):
        apply_transfer_action(proposed(), action)
