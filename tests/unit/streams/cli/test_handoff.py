"""The ERP hand-off command's own part: what it posts, what it records, and its refusals."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from typer.testing import CliRunner

from models.purchasing import (
    PurchaseRequest,
    RequestStatus,
    apply_action,
    approve_automatically,
    await_approval,
    cancel,
    mark_ordered,
    propose,
)
from streams.cli import app
from streams.cli.handoff import (
    HANDOFF_ACTOR,
    awaits_handoff,
    handed_off_line,
    handoff_group,
    reference_action,
)
from streams.settings import Settings

T0 = datetime(2026, 4, 1, 9, tzinfo=UTC)
LATER = T0 + timedelta(hours=2)
runner = CliRunner()


def proposal() -> PurchaseRequest:
    return propose(
        material_id="M1",
        warehouse_id="W1",
        unit="EA",
        unit_cost=2.5,
        moq=0.0,
        pack_size=10.0,
        supplier_id="S1",
        reorder_point=120.0,
        order_up_to=300.0,
        projected_stockout_date=date(2026, 4, 20),
        lead_time_days=14.0,
        position=40.0,
        alert_ids=["A1"],
        now=T0,
        raised=0,
        currency="EUR",
    )


def approved() -> PurchaseRequest:
    return approve_automatically(proposal(), T0, "amount 650 EUR below 5000 EUR")


def handed_off() -> PurchaseRequest:
    return apply_action(approved(), reference_action(approved(), "REQ-17", LATER))


REQUESTS: dict[str, Callable[[], PurchaseRequest]] = {
    "proposed": proposal,
    "pending": lambda: await_approval(proposal(), "bob", T0, "large"),
    "approved": approved,
    "approved and handed off": handed_off,
    "ordered": lambda: mark_ordered(approved(), 260.0, LATER, "PO-1/10"),
    "cancelled": lambda: cancel(approved(), LATER, "need gone"),
}


@pytest.mark.parametrize("name", list(REQUESTS))
def test_only_an_approved_request_without_an_erp_reference_is_posted(name: str):
    assert awaits_handoff(REQUESTS[name]()) is (name == "approved")


def test_the_reference_action_records_the_erp_reference_on_the_request():
    request = approved()
    action = reference_action(request, "REQ-17", LATER)
    assert (action.action, action.by, action.material_id) == (
        "record_reference",
        HANDOFF_ACTOR,
        "M1",
    )
    recorded = apply_action(request, action)
    assert (recorded.status, recorded.erp_reference) == (RequestStatus.APPROVED, "REQ-17")
    assert recorded.reason == "handed off to the ERP: REQ-17"


def test_a_hand_off_is_one_line_with_the_request_its_amount_and_the_reference():
    request = approved()
    assert handed_off_line(request, "REQ-17") == (
        f"handed off {request.request_id} (M1 in W1, 650.00 EUR) as REQ-17"
    )


def test_the_hand_off_reads_in_a_consumer_group_apart_from_the_worker():
    assert handoff_group("it-1") == "it-1-erp-handoff" != Settings(app_id="it-1").app_id


def test_the_erp_settings_come_from_stockloop_erp_handoff_variables(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("STOCKLOOP_ERP_HANDOFF_URL", "https://erp.example/requisitions")
    monkeypatch.setenv("STOCKLOOP_ERP_HANDOFF_TOKEN", "s3cret")
    monkeypatch.setenv("STOCKLOOP_ERP_HANDOFF_REFERENCE_FIELD", "data.requisition_no")
    settings = Settings()
    assert settings.erp_handoff_url == "https://erp.example/requisitions"
    assert settings.erp_handoff_token is not None
    assert settings.erp_handoff_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.erp_handoff_reference_field == "data.requisition_no"


def test_without_a_url_the_hand_off_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("STOCKLOOP_ERP_HANDOFF_URL", raising=False)
    result = runner.invoke(app, ["requests", "handoff", "--once"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "error: --url: the ERP's endpoint for purchase requisitions is needed "
        "(or set STOCKLOOP_ERP_HANDOFF_URL)"
    ]


def test_a_token_variable_that_is_not_set_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ERP_TOKEN_FOR_TEST", raising=False)
    arguments = ["--url", "http://127.0.0.1:9/r", "--token-env", "ERP_TOKEN_FOR_TEST", "--once"]
    result = runner.invoke(app, ["requests", "handoff", *arguments])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "error: --token-env: environment variable ERP_TOKEN_FOR_TEST is not set or empty"
    ]


def test_a_url_that_is_not_http_is_refused_in_one_line():
    result = runner.invoke(app, ["requests", "handoff", "--url", "ftp://erp/r", "--once"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "error: ERP endpoint 'ftp://erp/r' is not an http:// or https:// URL"
    ]
