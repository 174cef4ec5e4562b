"""``stockloop requests``, its pure part: folding transitions, order, rows, refusals, help."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from models.purchasing import (
    PurchaseRequest,
    PurchaseRequestAction,
    RequestStatus,
    apply_action,
    approve_automatically,
    await_approval,
    mark_ordered,
    propose,
)
from streams.cli import app
from streams.cli.requests import (
    LIST_COLUMNS,
    history,
    history_table,
    latest_by_request,
    listing_order,
    quantity_text,
    refusal,
    request_row,
    requests_table,
    select,
    sent_line,
    unknown_request,
)

T0 = datetime(2026, 4, 1, 9, tzinfo=UTC)
runner = CliRunner()


def proposal(
    material_id: str = "M1",
    warehouse_id: str = "W1",
    raised: int = 0,
    stockout: date | None = date(2026, 4, 20),
    unit_cost: float = 2.5,
) -> PurchaseRequest:
    return propose(
        material_id=material_id,
        warehouse_id=warehouse_id,
        unit="EA",
        unit_cost=unit_cost,
        moq=0.0,
        pack_size=10.0,
        supplier_id="S1",
        reorder_point=120.0,
        order_up_to=300.0,
        projected_stockout_date=stockout,
        lead_time_days=14.0,
        position=40.0,
        alert_ids=["A1", "A2"],
        now=T0,
        raised=raised,
        currency="EUR",
    )


def action(
    request: PurchaseRequest, kind: str = "approve", quantity: float | None = None
) -> PurchaseRequestAction:
    return PurchaseRequestAction(
        action=kind,
        request_id=request.request_id,
        material_id=request.material_id,
        by="lin",
        reason="budget ok",
        quantity=quantity,
        at=T0 + timedelta(hours=1),
    )


def lifecycle() -> list[PurchaseRequest]:
    """A request proposed, handed to its approver, approved by a person, then ordered."""
    proposed = proposal()
    pending = await_approval(proposed, "buyer-a", T0, "amount above 5000 EUR")
    approved = apply_action(pending, action(pending))
    ordered = mark_ordered(approved, 260, T0 + timedelta(days=1), "PO-4711/10")
    return [proposed, pending, approved, ordered]


@given(st.permutations([*lifecycle(), proposal(raised=1)]))
def test_the_state_of_a_request_is_its_highest_sequence_whatever_the_reading_order(
    transitions: list[PurchaseRequest],
):
    latest = latest_by_request(transitions)
    first, second = proposal(), proposal(raised=1)
    assert latest[first.request_id].status is RequestStatus.ORDERED
    assert latest[second.request_id] == second
    assert len(latest) == 2


@given(st.permutations([*lifecycle(), *lifecycle()[1:3]]))
def test_the_history_lists_each_transition_once_by_sequence(transitions: list[PurchaseRequest]):
    steps = history(transitions, proposal().request_id)
    assert [s.sequence for s in steps] == [0, 1, 2, 3]
    assert [s.status for s in steps] == [
        RequestStatus.PROPOSED,
        RequestStatus.PENDING_APPROVAL,
        RequestStatus.APPROVED,
        RequestStatus.ORDERED,
    ]


def test_the_history_of_an_unknown_request_is_empty():
    assert history(lifecycle(), "pr-0000000000000000") == []


def test_the_list_puts_the_earliest_latest_order_date_first_then_the_larger_amount():
    late = proposal(raised=0, stockout=date(2026, 5, 20))
    soon_small = proposal(raised=1, stockout=date(2026, 4, 20), unit_cost=1.0)
    soon_large = proposal(raised=2, stockout=date(2026, 4, 20), unit_cost=9.0)
    ordered = listing_order([late, soon_small, soon_large])
    assert [r.request_id for r in ordered] == [
        soon_large.request_id,
        soon_small.request_id,
        late.request_id,
    ]
    assert soon_large.amount > soon_small.amount


def test_select_filters_by_any_of_the_statuses_and_by_material_and_warehouse():
    m1 = approve_automatically(proposal("M1", "W1"), T0, "below the limit")
    m2 = proposal("M2", "W1")
    m1_w2 = proposal("M1", "W2")
    everything = [m1, m2, m1_w2]
    assert select(everything) == everything
    assert select(everything, [RequestStatus.APPROVED]) == [m1]
    assert select(everything, [RequestStatus.APPROVED, RequestStatus.PROPOSED]) == everything
    assert select(everything, material_id="M1") == [m1, m1_w2]
    assert select(everything, material_id="M1", warehouse_id="W2") == [m1_w2]


@pytest.mark.parametrize(
    ("value", "text"),
    [(260.0, "260"), (0.25, "0.25"), (1234567.0, "1,234,567"), (1e-6, "0.000001"), (-0.0, "0")],
)
def test_quantities_are_shown_without_trailing_zeros_or_exponents(value: float, text: str):
    assert quantity_text(value) == text


def test_a_row_shows_quantity_with_unit_amount_with_currency_dates_and_people():
    pending = await_approval(proposal(), "buyer-a", T0, "amount above 5000 EUR")
    row = dict(zip(LIST_COLUMNS, request_row(pending), strict=True))
    assert row == {
        "request": pending.request_id,
        "material": "M1",
        "warehouse": "W1",
        "supplier": "S1",
        "quantity": "260 EA",
        "amount": "650.00 EUR",
        "needed by": "2026-04-20",
        "latest order date": "2026-04-06",
        "status": "pending_approval",
        "approver": "buyer-a",
        "decided by": "-",
    }


def test_the_tables_render_every_request_and_every_transition():
    console = Console(record=True, width=250)
    console.print(requests_table([proposal(), proposal(raised=1)], "2 purchase requests"))
    console.print(history_table(lifecycle()))
    text = console.export_text()
    assert proposal().request_id in text and proposal(raised=1).request_id in text
    assert "approved by lin: budget ok" in text and "ordered 260 EA as PO-4711/10" in text


@pytest.mark.parametrize(
    ("request_index", "kind", "message"),
    [
        (2, "approve", "cannot approve an approved request; it is approved since"),
        (2, "reject", "cannot reject an approved request"),
        (3, "change_quantity", "cannot change the quantity of an ordered request"),
        (3, "approve", "cannot approve an ordered request"),
    ],
)
def test_a_decision_on_a_request_already_decided_or_closed_is_refused_in_one_line(
    request_index: int, kind: str, message: str
):
    request = lifecycle()[request_index]
    refused = refusal(request, action(request, kind, 100.0 if kind == "change_quantity" else None))
    assert refused is not None and message in refused
    assert request.request_id in refused and "\n" not in refused


def test_a_refusal_says_who_decided_the_request():
    approved = lifecycle()[2]
    assert refusal(approved, action(approved, "reject")).endswith("(lin)")


@pytest.mark.parametrize("index", [0, 1])
def test_an_undecided_request_takes_approve_reject_and_a_new_quantity(index: int):
    request = lifecycle()[index]
    for kind, quantity in (("approve", None), ("reject", None), ("change_quantity", 300.0)):
        assert refusal(request, action(request, kind, quantity)) is None


def test_an_approved_request_still_takes_a_new_quantity():
    approved = lifecycle()[2]
    assert refusal(approved, action(approved, "change_quantity", 300.0)) is None


def test_an_unknown_request_id_is_refused_with_the_closest_known_one():
    known = [proposal().request_id, proposal(raised=1).request_id]
    typo = known[0][:-1] + ("0" if known[0][-1] != "0" else "1")
    assert unknown_request(typo, known) == (
        f"no purchase request has id {typo!r}; did you mean {known[0]!r}?"
    )
    assert unknown_request("nothing-like-it", known) == (
        "no purchase request has id 'nothing-like-it' (see `stockloop requests list`)"
    )


def test_the_sent_line_names_the_decision_the_request_and_who():
    request = proposal()
    change = action(request, "change_quantity", 300.0)
    assert sent_line(change, request, "x.stockloop.purchase-request-actions") == (
        f"sent change quantity to 300 EA of {request.request_id} (M1 in W1, 260 EA, 650.00 EUR, "
        "proposed) by lin: budget ok to x.stockloop.purchase-request-actions"
    )


@pytest.mark.parametrize(
    "command", ["list", "show", "approve", "reject", "change-quantity", "export"]
)
def test_every_requests_command_says_what_it_does(command: str):
    result = runner.invoke(app, ["requests", command, "--help"])
    assert result.exit_code == 0, result.output
    summary = result.output.split("Usage:", 1)[1].splitlines()[2].strip()
    assert len(summary.split()) >= 5, result.output


def test_a_reject_without_a_reason_is_refused_before_anything_is_read():
    result = runner.invoke(app, ["requests", "reject", "pr-1", "--by", "lin", "--reason", " "])
    assert result.exit_code == 1
    assert "--reason: say why the request is rejected" in result.output
