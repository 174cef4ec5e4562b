"""Purchase requests as documents: the JSON an ERP receives, and CSV or JSONL files of them.

An approved purchase request is the ERP's purchase requisition. ERPs that take
it over HTTP get one JSON document per request (``connectors.erp_handoff``);
ERPs that import files get the same documents as JSONL, one per line, or as CSV
(``stockloop requests export --format csv|jsonl``). The contract for ERP
engineers is ``docs/erp-handoff.md``.

What counts as a request here is deliberately small (``RequestLike``): a
pydantic model with a ``request_id`` (``models.purchasing.PurchaseRequest``
fits), or a plain mapping with a ``"request_id"`` key. A model is turned into
its JSON form by ``model_dump(mode="json")``; a mapping by pydantic's same
rules (dates and date-times as ISO 8601 text, enums as their values), so both
give the ERP the same document.
"""

import csv
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Protocol, TextIO, TypeAlias

import orjson
from pydantic import TypeAdapter


class RequestModel(Protocol):
    """A purchase request as a pydantic model: it has a request id and a JSON form."""

    @property
    def request_id(self) -> str:
        """The request's deterministic id: the ERP's idempotency key."""
        ...

    def model_dump(self, *, mode: str = ...) -> dict[str, Any]:
        """The request's fields; ``mode="json"`` gives JSON-ready values."""
        ...


RequestLike: TypeAlias = RequestModel | Mapping[str, Any]
"""A purchase request as the connectors accept it: a model or a mapping with ``request_id``."""

CSV_COLUMNS = (
    "request_id",
    "status",
    "material_id",
    "warehouse_id",
    "supplier_id",
    "quantity",
    "unit",
    "unit_cost",
    "amount",
    "currency",
    "needed_by",
    "latest_order_date",
    "approved_at",
    "decided_by",
    "alert_ids",
    "explanation",
)
"""The CSV columns, in this order, always all of them.

An ERP import maps columns by position as often as by name, so the header never
depends on which fields the requests carry: a field a request lacks (or that is
null) is an empty cell, and fields not listed here are left out of the CSV (the
JSONL export carries every field). Append new columns at the end, never between.
"""


_JSON_VALUES = TypeAdapter(dict[str, Any])
"""Turns a mapping's values into their JSON form by the rules ``model_dump(mode="json")`` uses."""


class RequestDocumentError(ValueError):
    """A request cannot be handed to the ERP: it has no usable request id."""


def request_document(request: RequestLike) -> dict[str, Any]:
    """The JSON form of one purchase request, as the ERP receives it.

    >>> from datetime import date
    >>> request_document({"request_id": "PR-1", "needed_by": date(2026, 12, 7)})
    {'request_id': 'PR-1', 'needed_by': '2026-12-07'}
    >>> request_document({"material_id": "M1"})
    Traceback (most recent call last):
    ...
    connectors.request_export.RequestDocumentError: purchase request without a request_id: ...
    """
    if isinstance(request, Mapping):
        document = _JSON_VALUES.dump_python(dict(request), mode="json")
    else:
        document = request.model_dump(mode="json")
    request_id = document.get("request_id")
    if not isinstance(request_id, str) or not request_id.strip():
        shown = orjson.dumps(document, default=str).decode()[:120]
        raise RequestDocumentError(f"purchase request without a request_id: {shown}")
    return document


def export_requests(
    requests: Iterable[RequestLike], out: TextIO, format: Literal["csv", "jsonl"]
) -> int:
    """Write purchase requests to ``out`` as CSV or JSONL; returns how many were written.

    CSV: a header row of ``CSV_COLUMNS``, then one row per request. Dates are ISO
    8601 text (``2026-12-07``), numbers as in JSON, lists and objects (alert ids,
    explanation) as compact JSON text. JSONL: one JSON document per line, exactly
    the body the HTTP hand-off posts. Open ``out`` with ``newline=""`` for CSV, as
    the ``csv`` module asks, so rows end in CRLF and nothing else.

    >>> import io
    >>> out = io.StringIO()
    >>> export_requests([{"request_id": "PR-1", "quantity": 120.0}], out, "jsonl")
    1
    >>> out.getvalue()
    '{"request_id":"PR-1","quantity":120.0}\\n'
    """
    documents = map(request_document, requests)
    if format == "jsonl":
        return _write_jsonl(documents, out)
    if format == "csv":
        return _write_csv(documents, out)
    raise ValueError(f"unknown export format {format!r}; use csv or jsonl")


def _write_jsonl(documents: Iterable[dict[str, Any]], out: TextIO) -> int:
    written = 0
    for document in documents:
        out.write(orjson.dumps(document).decode())
        out.write("\n")
        written += 1
    return written


def _write_csv(documents: Iterable[dict[str, Any]], out: TextIO) -> int:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    written = 0
    for document in documents:
        writer.writerow(_cell(document.get(column)) for column in CSV_COLUMNS)
        written += 1
    return written


def _cell(value: Any) -> str:
    """One CSV cell: empty for a missing value, JSON text for anything but a plain string."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()
