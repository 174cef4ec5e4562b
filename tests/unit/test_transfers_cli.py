"""``stockloop transfers``, its pure part: folding transitions, order, rows, refusals, help."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from models.transfers import (
    Transfer,
    TransferAction,
    TransferSuggestion,
    approve,
    propose_transfer,
    reject,
    ship,
)
from streams.cli.transfers import (
    LIST_COLUMNS,
    app,
    history,
    history_table,
    latest_by_transfer,
    listing_order,
    refusal,
    select,
    sent_line,
    transfer_row,
    transfers_table,
    unknown_transfer,
)

T0 = datetime(2026, 4, 1, 9, tzinfo=UTC)
runner = CliRunner()


def held(
    material_id: str = "M1",
    to_warehouse: str = "W1",
    raised: int = 0,
    amount: float | None = 10_000.0,
    needed_by: date | None = date(2026, 4, 10),
) -> Transfer:
    """A 50 EA transfer from W2 that the policy held for the buyer."""
    return propose_transfer(
        material_id,
        TransferSuggestion("W2", to_warehouse, 50.0, 1.0, 400.0),
        now=T0,
        raised=raised,
        needed_by=needed_by,
        amount=amount,
        approver="buyer" if amount else None,
        held="amount 10,000.00 EUR not below auto-approval limit 5,000.00 EUR (default)",
    )


def lifecycle() -> list[Transfer]:
    """A held transfer, approved by a person, then shipped."""
    proposed = held()
    approved = approve(proposed, by="ann", at=T0 + timedelta(hours=1), reason="W2 can spare it")
    return [proposed, approved, ship(approved, quantity=50.0, at=T0 + timedelta(hours=5))]


def action(transfer: Transfer, kind: str, by: str = "lin") -> TransferAction:
    return TransferAction(
        action=kind,
        transfer_id=transfer.transfer_id,
        material_id=transfer.material_id,
        by=by,
        reason="fair stock" if kind == "reject" else None,
        at=transfer.at + timedelta(hours=1),
    )


@given(st.permutations(range(3)))
def test_the_state_of_a_transfer_is_its_highest_sequence_whatever_the_reading_order(order):
    steps = lifecycle()
    latest = latest_by_transfer([steps[i] for i in order] + [steps[1]])
    assert latest == {steps[0].transfer_id: steps[2]}


def test_the_history_lists_each_transition_once_by_sequence():
    steps = lifecycle()
    assert history([steps[2], steps[0], steps[1], steps[0]], steps[0].transfer_id) == steps
    assert history(steps, "0000000000000000") == []


def test_the_list_puts_the_earliest_need_first_then_the_larger_value():
    late = held(raised=1, needed_by=date(2026, 4, 20))
    small = held(raised=2, amount=10.0)
    undated = held(raised=3, needed_by=None)
    ordered = listing_order([undated, small, late, held()])
    assert [t.transfer_id for t in ordered] == [
        held().transfer_id,
        small.transfer_id,
        late.transfer_id,
        undated.transfer_id,
    ]


def test_select_filters_by_status_material_and_either_warehouse():
    steps = lifecycle()
    other = held(material_id="M2", to_warehouse="W3")
    everything = [steps[1], other]
    assert select(everything, ["approved"]) == [steps[1]]
    assert select(everything, material_id="M2") == [other]
    assert select(everything, warehouse_id="W3") == [other]
    assert select(everything, warehouse_id="W2") == everything
    assert select(everything) == everything


def test_a_row_shows_quantity_with_unit_value_need_date_and_people():
    proposed = held()
    assert dict(zip(LIST_COLUMNS, transfer_row(proposed), strict=True)) == {
        "transfer": proposed.transfer_id,
        "material": "M1",
        "from": "W2",
        "to": "W1",
        "quantity": "50 EA",
        "value": "10,000.00",
        "needed by": "2026-04-10",
        "status": "proposed",
        "approver": "buyer",
        "decided by": "-",
    }
    assert transfer_row(held(amount=None))[5] == "-"  # a record from before values were kept


def test_the_tables_render_every_transfer_and_every_transition():
    console = Console(width=250, record=True)
    steps = lifecycle()
    console.print(transfers_table([steps[-1]], "1 transfers"))
    console.print(history_table(steps))
    text = console.export_text()
    assert steps[0].transfer_id in text and "shipped" in text
    assert "W2 can spare it" in text and "transfer_out of 50 EA" in text


def test_a_held_transfer_takes_approve_and_reject():
    for kind in ("approve", "reject"):
        assert refusal(held(), action(held(), kind)) is None


@pytest.mark.parametrize(("index", "kind"), [(1, "reject"), (1, "approve"), (2, "approve")])
def test_a_decision_on_a_transfer_already_decided_or_shipped_is_refused_in_one_line(index, kind):
    transfer = lifecycle()[index]
    refused = refusal(transfer, action(transfer, kind))
    assert refused is not None and "\n" not in refused
    assert f"is {transfer.status.value}: cannot be" in refused
    assert refused.endswith(f"since {transfer.at:%Y-%m-%d %H:%M} (ann)")


def test_a_rejected_transfer_takes_no_decision():
    rejected = reject(held(), by="ann", at=T0 + timedelta(hours=1), reason="fair stock")
    assert "is rejected: cannot be approved (it is final)" in refusal(
        rejected, action(rejected, "approve")
    )


def test_an_unknown_transfer_id_is_refused_with_the_closest_known_one():
    known = [held().transfer_id, held(raised=1).transfer_id]
    typo = known[0][:-1] + ("0" if known[0][-1] != "0" else "1")
    assert (
        unknown_transfer(typo, known) == f"no transfer has id {typo!r}; did you mean {known[0]!r}?"
    )
    assert unknown_transfer("nothing-like-it", known) == (
        "no transfer has id 'nothing-like-it' (see `stockloop transfers list`)"
    )


def test_the_sent_line_names_the_decision_the_transfer_and_who():
    transfer = held()
    assert sent_line(action(transfer, "reject"), transfer, "x.stockloop.transfer-actions") == (
        f"sent reject of {transfer.transfer_id} (50 EA of M1 from W2 to W1, value 10,000.00, "
        "proposed) by lin: fair stock to x.stockloop.transfer-actions"
    )


@pytest.mark.parametrize("command", ["list", "show", "approve", "reject"])
def test_every_transfers_command_says_what_it_does(command: str):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    summary = result.output.split("Usage:", 1)[1].splitlines()[2].strip()
    assert len(summary.split()) >= 5, result.output


def test_a_reject_without_a_reason_is_refused_before_anything_is_read():
    result = runner.invoke(app, ["reject", "94fc1834fc404f5b", "--by", "lin", "--reason", " "])
    assert result.exit_code == 1
    assert "--reason: say why the transfer is rejected" in result.output
