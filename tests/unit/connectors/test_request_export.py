"""Purchase requests exported for ERPs that import files: CSV columns and values, JSONL."""

import csv
import io
import re
from datetime import UTC, date, datetime
from enum import StrEnum

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from connectors.request_export import (
    CSV_COLUMNS,
    RequestDocumentError,
    export_requests,
    request_document,
)
from streams.settings import PROJECT_ROOT


class Status(StrEnum):
    APPROVED = "approved"
    PENDING_APPROVAL = "pending_approval"


class Requisition(BaseModel):
    """A purchase request as the export sees one: any model with a request id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str
    status: Status
    material_id: str
    warehouse_id: str
    supplier_id: str | None
    quantity: float
    unit: str
    unit_cost: float
    amount: float
    currency: str
    needed_by: date
    latest_order_date: date | None
    approved_at: datetime | None
    decided_by: str | None
    alert_ids: list[str]
    explanation: str
    created_at: datetime


def _requisition(**changes: object) -> Requisition:
    fields = {
        "request_id": "PR-M1-W1-0001",
        "status": Status.APPROVED,
        "material_id": "M1",
        "warehouse_id": "W1",
        "supplier_id": "S7",
        "quantity": 120.0,
        "unit": "pcs",
        "unit_cost": 15.25,
        "amount": 1830.0,
        "currency": "CNY",
        "needed_by": date(2026, 12, 7),
        "latest_order_date": date(2026, 11, 30),
        "approved_at": datetime(2026, 11, 29, 8, 20, tzinfo=UTC),
        "decided_by": "auto",
        "alert_ids": ["M1|W1|stockout_risk@2026-11-29", "M1|W1|supply_demand_gap@2026-11-28"],
        "explanation": "position 40 pcs, reorder point 95 pcs, order-up-to 160 pcs",
        "created_at": datetime(2026, 11, 29, 8, 15, tzinfo=UTC),
    }
    return Requisition.model_validate(fields | changes)


def _csv_rows(requests: list) -> list[list[str]]:
    out = io.StringIO(newline="")
    export_requests(requests, out, "csv")
    return list(csv.reader(io.StringIO(out.getvalue(), newline="")))


def test_csv_has_the_documented_header_and_one_row_per_request_in_column_order() -> None:
    rows = _csv_rows([_requisition(), _requisition(request_id="PR-M2-W1-0001", material_id="M2")])

    assert rows[0] == list(CSV_COLUMNS)
    assert rows[0][:3] == ["request_id", "status", "material_id"], "stable order, id first"
    assert [row[0] for row in rows[1:]] == ["PR-M1-W1-0001", "PR-M2-W1-0001"]
    assert dict(zip(rows[0], rows[1], strict=True)) == {
        "request_id": "PR-M1-W1-0001",
        "status": "approved",
        "material_id": "M1",
        "warehouse_id": "W1",
        "supplier_id": "S7",
        "quantity": "120.0",
        "unit": "pcs",
        "unit_cost": "15.25",
        "amount": "1830.0",
        "currency": "CNY",
        "needed_by": "2026-12-07",
        "latest_order_date": "2026-11-30",
        "approved_at": "2026-11-29T08:20:00Z",
        "decided_by": "auto",
        "alert_ids": '["M1|W1|stockout_risk@2026-11-29","M1|W1|supply_demand_gap@2026-11-28"]',
        "explanation": "position 40 pcs, reorder point 95 pcs, order-up-to 160 pcs",
    }


def test_csv_leaves_a_missing_or_null_field_empty_and_keeps_every_column() -> None:
    rows = _csv_rows([{"request_id": "PR-1", "supplier_id": None, "extra": "not exported"}])

    assert rows[1] == ["PR-1"] + [""] * (len(CSV_COLUMNS) - 1)


def test_csv_of_no_requests_is_the_header_alone() -> None:
    assert _csv_rows([]) == [list(CSV_COLUMNS)]


@given(st.text())
def test_any_explanation_survives_a_csv_round_trip(explanation: str) -> None:
    rows = _csv_rows([{"request_id": "PR-1", "explanation": explanation}])

    assert rows[1][CSV_COLUMNS.index("explanation")] == explanation


def test_jsonl_round_trips_every_field_of_every_request() -> None:
    unapproved = _requisition(request_id="PR-2", supplier_id=None, approved_at=None, alert_ids=[])
    requests = [_requisition(), unapproved]
    out = io.StringIO()

    written = export_requests(requests, out, "jsonl")

    lines = out.getvalue().splitlines()
    assert written == len(lines) == 2
    assert [Requisition.model_validate_json(line) for line in lines] == requests


@given(
    quantity=st.floats(0, 1e9, allow_nan=False),
    needed_by=st.dates(),
    explanation=st.text(),
)
def test_a_model_and_its_mapping_export_the_same_jsonl_line(
    quantity: float, needed_by: date, explanation: str
) -> None:
    request = _requisition(quantity=quantity, needed_by=needed_by, explanation=explanation)
    as_model, as_mapping = io.StringIO(), io.StringIO()

    export_requests([request], as_model, "jsonl")
    export_requests([dict(request)], as_mapping, "jsonl")

    assert as_model.getvalue() == as_mapping.getvalue()
    assert Requisition.model_validate(orjson.loads(as_model.getvalue())) == request


def test_a_request_without_a_request_id_is_refused_by_its_content() -> None:
    with pytest.raises(RequestDocumentError, match=r"without a request_id.*M1"):
        request_document({"material_id": "M1", "request_id": " "})


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="use csv or jsonl"):
        export_requests([], io.StringIO(), "xml")  # type: ignore[arg-type]


def test_the_hand_off_contract_lists_the_csv_columns_in_their_order() -> None:
    contract = (PROJECT_ROOT / "docs" / "erp-handoff.md").read_text().split("## Files", 1)[1]

    assert re.findall(r"^\| \d+ \| `(\w+)` \|", contract, re.MULTILINE) == list(CSV_COLUMNS)
