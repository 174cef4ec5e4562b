"""Purchase requests: position, suggested quantity, ids, proposal and every transition."""

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from models.events import encode
from models.purchasing import (
    AUTOMATIC_DECIDER,
    OPEN_STATUSES,
    PACK_TOLERANCE,
    PurchaseRequest,
    PurchaseRequestAction,
    RequestStatus,
    RequestTransitionError,
    apply_action,
    approve_automatically,
    await_approval,
    cancel,
    expire_if_due,
    inventory_position,
    is_open,
    mark_ordered,
    open_quantity,
    propose,
    request_amount,
    request_id,
    suggested_quantity,
)

T0 = datetime(2026, 4, 1, 9, tzinfo=UTC)
SHANGHAI = timezone(timedelta(hours=8))


def proposal(**overrides: object) -> PurchaseRequest:
    arguments: dict = {
        "material_id": "M1",
        "warehouse_id": "W1",
        "unit": "EA",
        "unit_cost": 2.5,
        "moq": 0.0,
        "pack_size": 10.0,
        "supplier_id": "S1",
        "reorder_point": 120.0,
        "order_up_to": 300.0,
        "projected_stockout_date": date(2026, 4, 20),
        "lead_time_days": 14.0,
        "position": 40.0,
        "alert_ids": ["A1"],
        "now": T0,
        "raised": 0,
        "currency": "EUR",
    }
    return propose(**(arguments | overrides))


def action(kind: str, at: datetime = T0, **fields: object) -> PurchaseRequestAction:
    request = fields.pop("request_id", proposal().request_id)
    return PurchaseRequestAction(
        action=kind, request_id=request, material_id="M1", by="alice", at=at, **fields
    )


def later(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


# --- inventory position ------------------------------------------------------------------


def test_inventory_position_adds_supply_and_open_requests_and_subtracts_committed():
    assert inventory_position(on_hand=60, in_transit=100, open_requested=50, committed=20) == 190


def test_inventory_position_is_negative_when_orders_exceed_all_supply():
    assert inventory_position(on_hand=10, in_transit=0, open_requested=0, committed=25) == -15


def test_inventory_position_is_rounded_to_micro_units():
    assert inventory_position(on_hand=0.1, in_transit=0.2, open_requested=0, committed=0) == 0.3


# --- suggested quantity ----------------------------------------------------------------


def test_the_gap_to_order_up_to_is_suggested_when_no_moq_or_pack_applies():
    assert suggested_quantity(order_up_to=300, position=40, moq=0, pack_size=1) == 260


def test_a_position_at_order_up_to_needs_nothing_even_with_an_moq():
    assert suggested_quantity(order_up_to=300, position=300, moq=500, pack_size=10) == 0


def test_a_position_above_order_up_to_needs_nothing():
    assert suggested_quantity(order_up_to=300, position=450, moq=0, pack_size=1) == 0


def test_a_gap_below_the_moq_is_raised_to_the_moq():
    assert suggested_quantity(order_up_to=300, position=280, moq=100, pack_size=1) == 100


def test_the_quantity_is_rounded_up_to_whole_packs():
    assert suggested_quantity(order_up_to=300, position=40, moq=0, pack_size=24) == 11 * 24


def test_an_moq_that_is_not_a_whole_number_of_packs_is_rounded_up_to_packs():
    assert suggested_quantity(order_up_to=300, position=280, moq=450, pack_size=100) == 500


def test_a_gap_of_exactly_whole_packs_is_not_rounded_to_one_more_pack():
    assert suggested_quantity(order_up_to=300, position=60, moq=0, pack_size=24) == 240


def test_float_noise_above_a_whole_pack_count_is_not_another_pack():
    # (0.1 + 0.2) / 0.1 is 3.0000000000000004 packs.
    assert suggested_quantity(order_up_to=0.1 + 0.2, position=0, moq=0, pack_size=0.1) == 0.3


def test_a_pack_count_just_below_a_whole_number_is_that_number():
    assert suggested_quantity(order_up_to=2.9999999 * 7, position=0, moq=0, pack_size=7) == 21


def test_a_gap_of_float_noise_needs_nothing_even_with_an_moq():
    assert suggested_quantity(order_up_to=0.1 + 0.2, position=0.3, moq=100, pack_size=1) == 0


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"pack_size": 0.0}, "pack_size=0.0"),
        ({"pack_size": -5.0}, "pack_size=-5.0"),
        ({"pack_size": math.nan}, "pack_size=nan"),
        ({"moq": -1.0}, "moq=-1.0"),
        ({"order_up_to": math.inf}, "order_up_to=inf"),
        ({"position": math.nan}, "position=nan"),
    ],
)
def test_suggested_quantity_refuses_impossible_numbers_naming_the_field(arguments, field):
    numbers = {"order_up_to": 300.0, "position": 40.0, "moq": 0.0, "pack_size": 10.0}
    with pytest.raises(ValueError, match=f"^{field}: must be"):
        suggested_quantity(**(numbers | arguments))


quantities = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
moqs = st.floats(min_value=0, max_value=1e5, allow_nan=False)
packs = st.sampled_from([0.001, 0.1, 0.25, 1.0, 6.0, 12.0, 24.0, 0.3, 1000.0])


@given(order_up_to=quantities, position=quantities, moq=moqs, pack_size=packs)
def test_suggested_quantity_is_whole_packs_at_least_the_moq_and_reaches_order_up_to(
    order_up_to: float, position: float, moq: float, pack_size: float
):
    quantity = suggested_quantity(order_up_to, position, moq, pack_size)
    tolerance = PACK_TOLERANCE * pack_size + 1e-6  # a millionth of a pack, plus micro-rounding
    assert quantity >= 0
    packs_ordered = quantity / pack_size
    assert abs(packs_ordered - round(packs_ordered)) * pack_size <= tolerance
    if quantity > 0:
        assert quantity >= moq - tolerance
        # Never a whole pack more than the gap or the MOQ needs.
        assert quantity - pack_size < max(order_up_to - position, moq) + tolerance
    assert position + quantity >= order_up_to - tolerance


@given(order_up_to=quantities, position=quantities, moq=moqs, pack_size=packs)
def test_nothing_is_suggested_exactly_when_the_position_reaches_order_up_to(
    order_up_to: float, position: float, moq: float, pack_size: float
):
    quantity = suggested_quantity(order_up_to, position, moq, pack_size)
    if position >= order_up_to:
        assert quantity == 0
    if order_up_to - position > pack_size * 1e-3:
        assert quantity > 0


# --- ids ---------------------------------------------------------------------------------


def test_request_ids_are_the_same_for_the_same_material_warehouse_and_count():
    assert request_id("M1", "W1", 3) == request_id("M1", "W1", 3)


def test_a_second_request_of_one_stock_gets_a_different_id():
    assert request_id("M1", "W1", 0) != request_id("M1", "W1", 1)


def test_ids_cannot_collide_by_moving_a_separator_between_material_and_warehouse():
    assert request_id("A|B", "C", 0) != request_id("A", "B|C", 0)


@pytest.mark.parametrize("raised", [-1, True, 1.0])
def test_request_id_refuses_a_count_that_is_not_a_natural_number(raised):
    with pytest.raises(ValueError, match=r"^raised=.*: must be an integer >= 0$"):
        request_id("M1", "W1", raised)


ids = st.text(min_size=1, max_size=12)


@given(material=ids, warehouse=ids, raised=st.integers(0, 10_000), other=st.integers(0, 10_000))
def test_ids_are_deterministic_and_differ_by_raised_count(
    material: str, warehouse: str, raised: int, other: int
):
    assert request_id(material, warehouse, raised) == request_id(material, warehouse, raised)
    assert (request_id(material, warehouse, raised) == request_id(material, warehouse, other)) == (
        raised == other
    )


@given(a=st.tuples(ids, ids), b=st.tuples(ids, ids), raised=st.integers(0, 100))
def test_different_stocks_get_different_ids(a: tuple[str, str], b: tuple[str, str], raised: int):
    assert (request_id(*a, raised) == request_id(*b, raised)) == (a == b)


# --- propose -----------------------------------------------------------------------------


def test_a_proposal_carries_the_stock_quantity_amount_dates_and_alerts():
    request = proposal()
    assert request.id == f"{request.request_id}-0"
    assert request.request_id == request_id("M1", "W1", 0)
    assert (request.sequence, request.status) == (0, RequestStatus.PROPOSED)
    assert (request.material_id, request.warehouse_id, request.supplier_id) == ("M1", "W1", "S1")
    assert (request.quantity, request.unit, request.unit_cost) == (260, "EA", 2.5)
    assert (request.amount, request.currency) == (650, "EUR")
    assert request.needed_by == date(2026, 4, 20)
    assert request.latest_order_date == date(2026, 4, 6)
    assert request.created_at == request.at == T0
    assert request.alert_ids == ("A1",)
    assert (request.approver, request.decided_by, request.reason) == (None, None, None)
    assert (request.ordered_quantity, request.erp_reference, request.approved_at) == (0, None, None)


def test_the_explanation_gives_the_numbers_that_made_the_request():
    assert proposal().explanation == (
        "inventory position 40 EA <= reorder point 120 EA; order up to 300 EA; "
        "stock-out 2026-04-20, lead time 14 d; order by 2026-04-06"
    )


def test_a_proposal_raised_by_an_alert_above_the_reorder_point_says_so():
    request = proposal(position=150.0)
    assert request.explanation.startswith("inventory position 150 EA > reorder point 120 EA;")
    assert request.quantity == 150


def test_the_explanation_says_when_the_moq_or_packs_raised_the_quantity():
    request = proposal(moq=500.0, pack_size=100.0)
    assert request.quantity == 500
    assert "; need 260 EA raised to 500 EA (MOQ 500, pack 100);" in request.explanation


def test_without_a_projected_stock_out_the_supply_is_needed_one_lead_time_from_now():
    request = proposal(projected_stockout_date=None)
    assert request.needed_by == date(2026, 4, 15)
    assert request.latest_order_date == date(2026, 4, 1)
    assert "no stock-out projected, lead time 14 d; order by 2026-04-01" in request.explanation


def test_a_fractional_lead_time_is_counted_in_whole_days_rounded_up():
    request = proposal(lead_time_days=13.2)
    assert request.latest_order_date == date(2026, 4, 6)
    assert "lead time 13.2 d" in request.explanation


def test_a_latest_order_date_in_the_past_is_kept_and_explained():
    request = proposal(projected_stockout_date=date(2026, 4, 10))
    assert request.latest_order_date == date(2026, 3, 27)
    assert request.explanation.endswith(
        "latest order date 2026-03-27 passed 5 d ago: supply will arrive after the need"
    )


def test_dates_follow_the_utc_day_of_the_event_time():
    # 2026-04-01 20:00 in Shanghai is 12:00 UTC on the same day; 2026-04-02 02:00 is 04-01 UTC.
    request = proposal(projected_stockout_date=None, now=datetime(2026, 4, 2, 2, tzinfo=SHANGHAI))
    assert request.created_at == datetime(2026, 4, 1, 18, tzinfo=UTC)
    assert request.needed_by == date(2026, 4, 15)


def test_repeated_alert_ids_are_kept_once_in_order():
    assert proposal(alert_ids=["A2", "A1", "A2"]).alert_ids == ("A2", "A1")


def test_a_proposal_without_a_preferred_supplier_leaves_the_choice_to_a_buyer():
    assert proposal(supplier_id=None).supplier_id is None


def test_the_nth_proposal_of_a_stock_gets_the_nth_id():
    assert proposal(raised=4).request_id == request_id("M1", "W1", 4)


def test_a_proposal_with_nothing_to_order_is_refused():
    with pytest.raises(ValueError, match=r"^position=300.0: at or above order_up_to=300.0"):
        proposal(position=300.0)


def test_a_proposal_needs_an_aware_event_time():
    with pytest.raises(ValueError, match=r"^now=2026-04-01T09:00:00: event time has no timezone"):
        proposal(now=datetime(2026, 4, 1, 9))


def test_a_proposal_refuses_a_negative_lead_time():
    with pytest.raises(ValueError, match=r"^lead_time_days=-1.0: must be"):
        proposal(lead_time_days=-1.0)


@pytest.mark.parametrize("currency", ["eur", "EURO", ""])
def test_a_proposal_needs_an_iso_currency_code(currency):
    with pytest.raises(ValidationError, match="currency"):
        proposal(currency=currency)


def test_a_request_survives_the_wire_unchanged():
    request = approve_automatically(proposal(), later(1), "below the limit")
    assert PurchaseRequest.model_validate_json(encode(request)) == request


def test_a_request_whose_id_does_not_match_its_sequence_is_refused():
    fields = proposal().model_dump() | {"sequence": 1}
    with pytest.raises(ValidationError, match=r"id='pr-[0-9a-f]+-0': must be 'pr-[0-9a-f]+-1'"):
        PurchaseRequest.model_validate(fields)


def test_a_request_whose_amount_is_not_quantity_times_cost_is_refused():
    fields = proposal().model_dump() | {"amount": 649.0}
    with pytest.raises(ValidationError, match=r"amount=649.0: must be quantity × unit_cost"):
        PurchaseRequest.model_validate(fields)


def test_a_request_refuses_unknown_fields():
    with pytest.raises(ValidationError, match="extra"):
        PurchaseRequest.model_validate(proposal().model_dump() | {"priority": 1})


def test_amounts_are_rounded_to_cents():
    assert request_amount(3, 0.1) == 0.3
    assert request_amount(1, 0.005001) == 0.01


# --- actions -----------------------------------------------------------------------------


def test_a_change_of_quantity_needs_a_quantity():
    with pytest.raises(ValidationError, match=r"quantity=None: required \(> 0\) for change_q"):
        action("change_quantity")


def test_an_approval_refuses_a_quantity():
    with pytest.raises(ValidationError, match=r"quantity=5.0: only allowed for change_quantity"):
        action("approve", quantity=5.0)


@pytest.mark.parametrize("quantity", [0.0, -1.0, math.inf])
def test_a_change_of_quantity_needs_a_positive_finite_quantity(quantity):
    with pytest.raises(ValidationError, match="quantity"):
        action("change_quantity", quantity=quantity)


def test_an_action_names_who_took_it():
    with pytest.raises(ValidationError, match="by"):
        PurchaseRequestAction(action="approve", request_id="pr-1", material_id="M1", by="  ", at=T0)


def test_an_action_needs_an_aware_event_time():
    with pytest.raises(ValidationError, match="timezone"):
        action("approve", at=datetime(2026, 4, 1, 10))


def test_an_action_of_an_unknown_kind_is_refused():
    with pytest.raises(ValidationError, match="action"):
        action("order")


@pytest.mark.parametrize("reference", [None, "", "   "])
def test_recording_a_reference_needs_one(reference):
    with pytest.raises(ValidationError) as refused:
        action("record_reference", erp_reference=reference)
    [problem] = refused.value.errors()
    assert problem["msg"].endswith(": required (not empty) for record_reference")


@pytest.mark.parametrize("kind", ["approve", "reject"])
def test_a_decision_refuses_an_erp_reference(kind):
    expected = f"erp_reference='REQ-1': only allowed for record_reference, not {kind}"
    with pytest.raises(ValidationError, match=expected):
        action(kind, erp_reference="REQ-1")


def test_recording_a_reference_refuses_a_quantity():
    with pytest.raises(ValidationError, match="only allowed for change_quantity, not record_ref"):
        action("record_reference", erp_reference="REQ-1", quantity=5.0)


def test_a_recorded_reference_survives_the_wire_unchanged():
    recorded = action("record_reference", erp_reference="REQ-00017")
    assert PurchaseRequestAction.model_validate_json(encode(recorded)) == recorded


# --- transitions -------------------------------------------------------------------------


def proposed() -> PurchaseRequest:
    return proposal()


def pending() -> PurchaseRequest:
    return await_approval(proposal(), "bob", later(1), "amount above 5000 EUR")


def approved() -> PurchaseRequest:
    return approve_automatically(proposal(), later(1), "amount below 5000 EUR")


def rejected() -> PurchaseRequest:
    return apply_action(pending(), action("reject", later(2)))


def ordered() -> PurchaseRequest:
    return mark_ordered(approved(), 260.0, later(2), "PO-1/10")


def cancelled() -> PurchaseRequest:
    return cancel(proposal(), later(2), "need gone")


def expired() -> PurchaseRequest:
    request = expire_if_due(approved(), later(1 + 24 * 7), 7)
    assert request is not None
    return request


STATES: dict[RequestStatus, Callable[[], PurchaseRequest]] = {
    RequestStatus.PROPOSED: proposed,
    RequestStatus.PENDING_APPROVAL: pending,
    RequestStatus.APPROVED: approved,
    RequestStatus.REJECTED: rejected,
    RequestStatus.ORDERED: ordered,
    RequestStatus.CANCELLED: cancelled,
    RequestStatus.EXPIRED: expired,
}

AT = later(500)
UNDECIDED = {RequestStatus.PROPOSED, RequestStatus.PENDING_APPROVAL}

TRANSITIONS: dict[str, tuple[Callable[[PurchaseRequest], PurchaseRequest], str, set]] = {
    "approve": (lambda r: apply_action(r, action("approve", AT)), "approve", UNDECIDED),
    "reject": (lambda r: apply_action(r, action("reject", AT)), "reject", UNDECIDED),
    "change_quantity": (
        lambda r: apply_action(r, action("change_quantity", AT, quantity=100.0)),
        "change the quantity of",
        set(OPEN_STATUSES),
    ),
    "record_reference": (
        lambda r: apply_action(
            r, action("record_reference", AT, erp_reference=f"REQ-{r.sequence}")
        ),
        "record the ERP reference of",
        {RequestStatus.APPROVED, RequestStatus.ORDERED},
    ),
    "approve_automatically": (
        lambda r: approve_automatically(r, AT, "small"),
        "approve automatically",
        {RequestStatus.PROPOSED},
    ),
    "await_approval": (
        lambda r: await_approval(r, "bob", AT, "large"),
        "await approval of",
        {RequestStatus.PROPOSED},
    ),
    "mark_ordered": (
        lambda r: mark_ordered(r, 260.0, AT, "PO-1/10"),
        "mark ordered",
        set(OPEN_STATUSES),
    ),
    "cancel": (lambda r: cancel(r, AT, "need gone"), "cancel", set(OPEN_STATUSES)),
}


@pytest.mark.parametrize("status", list(STATES))
@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_each_transition_is_allowed_exactly_from_its_statuses(name: str, status: RequestStatus):
    transition, verb, allowed = TRANSITIONS[name]
    request = STATES[status]()
    assert request.status is status
    if status in allowed:
        after = transition(request)
        assert after.sequence == request.sequence + 1
        assert after.id == f"{request.request_id}-{after.sequence}"
        assert after.at == AT
        assert after.reason
        assert after.created_at == request.created_at
    else:
        article = "an" if status.value[0] in "aeiou" else "a"
        message = f"request_id={request.request_id}: cannot {verb} {article} {status} request"
        with pytest.raises(RequestTransitionError, match=f"^{message}$"):
            transition(request)


def test_a_person_approves_a_pending_request():
    request = apply_action(pending(), action("approve", later(3), reason="urgent"))
    assert request.status is RequestStatus.APPROVED
    assert (request.decided_by, request.approved_at) == ("alice", later(3))
    assert request.approver == "bob"
    assert request.reason == "approved by alice: urgent"


def test_a_person_rejects_a_pending_request():
    request = apply_action(pending(), action("reject", later(3)))
    assert request.status is RequestStatus.REJECTED
    assert (request.decided_by, request.reason) == ("alice", "rejected by alice")
    assert not is_open(request)


def test_approving_a_rejected_request_is_refused_with_one_line():
    request = rejected()
    with pytest.raises(RequestTransitionError) as refused:
        apply_action(request, action("approve", later(3)))
    expected = f"request_id={request.request_id}: cannot approve a rejected request"
    assert str(refused.value) == expected


def test_a_change_of_quantity_recomputes_the_amount_and_keeps_the_status():
    request = apply_action(approved(), action("change_quantity", later(3), quantity=400.0))
    assert request.status is RequestStatus.APPROVED
    assert (request.quantity, request.amount) == (400, 1000)
    assert request.reason == "quantity 260 -> 400 EA by alice"
    assert request.decided_by == AUTOMATIC_DECIDER


def test_the_erp_reference_of_an_approved_request_is_recorded_and_it_stays_approved():
    before = approved()
    request = apply_action(before, action("record_reference", later(3), erp_reference="REQ-17"))
    assert (request.status, request.erp_reference) == (RequestStatus.APPROVED, "REQ-17")
    assert request.reason == "handed off to the ERP: REQ-17"
    assert (request.sequence, request.at) == (before.sequence + 1, later(3))
    assert (request.decided_by, request.approved_at) == (before.decided_by, before.approved_at)
    assert open_quantity(request) == before.quantity


def test_the_erp_reference_of_an_ordered_request_is_recorded_and_it_stays_ordered():
    request = apply_action(ordered(), action("record_reference", later(3), erp_reference="REQ-9"))
    assert (request.status, request.erp_reference) == (RequestStatus.ORDERED, "REQ-9")
    assert open_quantity(request) == 0


def test_recording_the_same_reference_again_is_refused_with_one_line():
    request = apply_action(approved(), action("record_reference", later(3), erp_reference="REQ-17"))
    with pytest.raises(RequestTransitionError) as refused:
        apply_action(request, action("record_reference", later(4), erp_reference="REQ-17"))
    expected = f"request_id={request.request_id}: erp_reference='REQ-17' is already recorded"
    assert str(refused.value) == expected


@given(reference=st.text(min_size=1, max_size=256).map(str.strip).filter(bool))
def test_recording_a_reference_changes_nothing_but_the_reference_and_the_transition(
    reference: str,
):
    before = approved()
    after = apply_action(before, action("record_reference", later(3), erp_reference=reference))
    transition = {"id", "sequence", "at", "reason", "erp_reference"}
    assert after.erp_reference == reference
    assert after.model_dump(exclude=transition) == before.model_dump(exclude=transition)


def test_an_action_for_another_request_is_refused():
    other = action("approve", request_id="pr-other")
    with pytest.raises(RequestTransitionError, match=r"^request_id=pr-other: action for another"):
        apply_action(proposal(), other)


def test_an_automatic_approval_is_decided_by_stockloop_with_the_policy_reason():
    request = approved()
    assert request.status is RequestStatus.APPROVED
    assert (request.decided_by, request.approved_at) == (AUTOMATIC_DECIDER, later(1))
    assert request.reason == "amount below 5000 EUR"


def test_a_request_pending_approval_names_its_approver():
    request = pending()
    assert (request.status, request.approver) == (RequestStatus.PENDING_APPROVAL, "bob")
    assert request.reason == "amount above 5000 EUR"
    assert request.decided_by is None


def test_a_request_cannot_await_an_approver_without_a_name():
    with pytest.raises(RequestTransitionError, match=r"approver='  ' must name a person$"):
        await_approval(proposal(), "  ", later(1), "large")


def test_an_ordered_request_records_the_po_line_and_stops_counting():
    request = mark_ordered(approved(), 250.0, later(2), "PO-1/10")
    assert (request.ordered_quantity, request.erp_reference) == (250, "PO-1/10")
    assert request.quantity == 260
    assert request.reason == "ordered 250 EA as PO-1/10"
    assert open_quantity(request) == 0


def test_a_po_placed_before_approval_takes_the_request_over():
    assert mark_ordered(pending(), 260.0, later(2), None).status is RequestStatus.ORDERED


@pytest.mark.parametrize("quantity", [0.0, -5.0, math.nan])
def test_an_order_needs_a_positive_quantity(quantity):
    with pytest.raises(RequestTransitionError, match=r"ordered_quantity=.* must be > 0$"):
        mark_ordered(approved(), quantity, later(2), "PO-1/10")


def test_a_cancelled_request_keeps_why():
    request = cancelled()
    assert (request.status, request.reason) == (RequestStatus.CANCELLED, "need gone")
    assert open_quantity(request) == 0


def test_a_transition_must_say_why():
    with pytest.raises(RequestTransitionError, match=r"reason='' must say why$"):
        cancel(proposal(), later(1), "")


def test_a_transition_before_the_request_existed_is_refused():
    with pytest.raises(RequestTransitionError, match=r"is before the request was created at"):
        cancel(proposal(), T0 - timedelta(seconds=1), "need gone")


def test_a_transition_needs_an_aware_event_time():
    with pytest.raises(RequestTransitionError, match=r"event time has no timezone"):
        cancel(proposal(), datetime(2026, 4, 2), "need gone")


def test_a_transition_leaves_the_request_it_was_given_unchanged():
    request = proposal()
    approve_automatically(request, later(1), "small")
    assert request == proposal()


# --- expiry ------------------------------------------------------------------------------


def test_an_approved_request_not_ordered_within_the_period_expires():
    request = expire_if_due(approved(), later(1 + 24 * 7), 7)
    assert request is not None
    assert request.status is RequestStatus.EXPIRED
    assert request.reason == "approved 2026-04-01 and not ordered within 7 d"
    assert open_quantity(request) == 0


def test_an_approved_request_within_the_period_does_not_expire():
    assert expire_if_due(approved(), later(24 * 7), 7) is None


def test_a_change_of_quantity_does_not_restart_the_expiry_period():
    changed = apply_action(approved(), action("change_quantity", later(100), quantity=400.0))
    assert expire_if_due(changed, later(1 + 24 * 7), 7) is not None


@pytest.mark.parametrize("status", [s for s in STATES if s is not RequestStatus.APPROVED])
def test_only_approved_requests_expire(status: RequestStatus):
    assert expire_if_due(STATES[status](), later(24 * 365), 7) is None


@pytest.mark.parametrize("days", [0.0, -1.0, math.inf])
def test_the_expiry_period_must_be_positive(days):
    with pytest.raises(ValueError, match=r"^expiry_days=.*: must be a finite number > 0$"):
        expire_if_due(approved(), later(2), days)


# --- open quantity -----------------------------------------------------------------------


@pytest.mark.parametrize("status", list(STATES))
def test_only_proposed_pending_and_approved_requests_count_in_the_position(status):
    request = STATES[status]()
    counts = status in {
        RequestStatus.PROPOSED,
        RequestStatus.PENDING_APPROVAL,
        RequestStatus.APPROVED,
    }
    assert is_open(request) is counts
    assert open_quantity(request) == (request.quantity if counts else 0.0)


def test_an_open_request_keeps_a_second_request_from_being_suggested():
    request = proposal()
    position = inventory_position(
        on_hand=60, in_transit=0, open_requested=open_quantity(request), committed=20
    )
    assert suggested_quantity(300, position, moq=0, pack_size=10) == 0


# --- sequences ---------------------------------------------------------------------------


steps = st.lists(st.sampled_from(sorted(TRANSITIONS)), max_size=8)


@given(names=steps)
def test_every_transition_adds_one_to_the_sequence_and_a_refusal_changes_nothing(
    names: list[str],
):
    request = proposal()
    for name in names:
        transition, _, allowed = TRANSITIONS[name]
        try:
            after = transition(request)
        except RequestTransitionError:
            assert request.status not in allowed
            continue
        assert after.sequence == request.sequence + 1
        assert after.id == f"{after.request_id}-{after.sequence}"
        assert after.request_id == request.request_id
        request = after
