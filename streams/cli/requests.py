"""``stockloop requests``: read purchase requests, decide on them, export the approved ones.

A request is a sequence of transitions on ``stockloop.purchase-requests``; the
transition with the highest sequence is its state (``latest_by_request``). A
decision (approve, reject, change the quantity) is not applied here: it is a
``PurchaseRequestAction`` sent to ``stockloop.purchase-request-actions``,
keyed by the request id, and the worker that owns the request's material
applies it and publishes the next transition. Before sending, the command
asks the core (``models.purchasing.apply_action``) whether the request, as
last published, would take the decision, so a decision the worker would refuse
(a request already decided or closed) is refused here in one line, and
nothing is sent.
"""

import sys
from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from connectors.request_export import export_requests
from models.events import describe_validation_error, encode
from models.purchasing import (
    PurchaseRequest,
    PurchaseRequestAction,
    RequestStatus,
    RequestTransitionError,
    apply_action,
)
from streams.catalogue import PURCHASE_REQUEST_ACTIONS, PURCHASE_REQUESTS
from streams.cli.handoff import handoff
from streams.cli.kafka import check_topics, fail, publish
from streams.cli.transitions import history_of, latest_by, read_transitions_of, unknown_id
from streams.settings import Settings

app = typer.Typer(
    help="Purchase requests on stockloop.purchase-requests, and decisions on them.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

ActionKind = Literal["approve", "reject", "change_quantity"]
STATUS_STYLE = {
    RequestStatus.PROPOSED: "cyan",
    RequestStatus.PENDING_APPROVAL: "yellow",
    RequestStatus.APPROVED: "green",
    RequestStatus.REJECTED: "red",
    RequestStatus.ORDERED: "bold green",
    RequestStatus.CANCELLED: "dim",
    RequestStatus.EXPIRED: "dim",
}


class ListFormat(StrEnum):
    """How ``requests list`` prints: a table for people, JSON for scripts."""

    TABLE = "table"
    JSON = "json"


class ExportFormat(StrEnum):
    """File formats an ERP imports (see ``connectors.request_export``)."""

    CSV = "csv"
    JSONL = "jsonl"


# --- the pure part: fold, order, format, refuse ---------------------------------------------


def latest_by_request(transitions: Iterable[PurchaseRequest]) -> dict[str, PurchaseRequest]:
    """Each request's state: its transition with the highest sequence, by request id."""
    return latest_by(transitions, _request_id)


def history(transitions: Iterable[PurchaseRequest], request_id: str) -> list[PurchaseRequest]:
    """Every transition of one request, by sequence; a transition published twice shows once."""
    return history_of(transitions, _request_id, request_id)


def _request_id(request: PurchaseRequest) -> str:
    return request.request_id


def listing_order(requests: Iterable[PurchaseRequest]) -> list[PurchaseRequest]:
    """Requests by latest order date (the most urgent first, none last), then larger amounts."""
    return sorted(
        requests,
        key=lambda r: (
            r.latest_order_date is None,
            r.latest_order_date or date.max,
            -r.amount,
            r.request_id,
        ),
    )


def select(
    requests: Iterable[PurchaseRequest],
    statuses: Collection[RequestStatus] = (),
    material_id: str | None = None,
    warehouse_id: str | None = None,
) -> list[PurchaseRequest]:
    """The requests in one of ``statuses`` (any when empty), of a material and of a warehouse."""
    return [
        r
        for r in requests
        if (not statuses or r.status in statuses)
        and (material_id is None or r.material_id == material_id)
        and (warehouse_id is None or r.warehouse_id == warehouse_id)
    ]


def quantity_text(value: float) -> str:
    """A quantity for people: thousands separated, up to six decimals, no trailing zeros.

    >>> quantity_text(1234567.0), quantity_text(0.25), quantity_text(260.0)
    ('1,234,567', '0.25', '260')
    """
    return f"{round(value, 6) + 0.0:,.6f}".rstrip("0").rstrip(".")


def request_row(request: PurchaseRequest) -> tuple[str, ...]:
    """One request as a row of ``requests list``, in the order of ``LIST_COLUMNS``."""
    return (
        request.request_id,
        request.material_id,
        request.warehouse_id,
        request.supplier_id or "-",
        f"{quantity_text(request.quantity)} {request.unit}",
        f"{request.amount:,.2f} {request.currency}",
        _day(request.needed_by),
        _day(request.latest_order_date),
        request.status.value,
        request.approver or "-",
        request.decided_by or "-",
    )


LIST_COLUMNS = (
    "request",
    "material",
    "warehouse",
    "supplier",
    "quantity",
    "amount",
    "needed by",
    "latest order date",
    "status",
    "approver",
    "decided by",
)
_RIGHT = {"quantity", "amount"}


def requests_table(requests: Iterable[PurchaseRequest], title: str) -> Table:
    """The table ``requests list`` prints, a row per request, status coloured."""
    table = Table(title=title)
    for column in LIST_COLUMNS:
        table.add_column(column, justify="right" if column in _RIGHT else "left")
    for request in requests:
        *cells, status, approver, decided_by = request_row(request)
        style = STATUS_STYLE.get(request.status, "")
        table.add_row(*cells, f"[{style}]{status}[/]", approver, decided_by)
    return table


def history_table(transitions: Iterable[PurchaseRequest]) -> Table:
    """Every transition of a request: when, to which status, why, and who decided."""
    table = Table(title="transitions")
    for column in ("#", "status", "at", "quantity", "reason", "decided by"):
        table.add_column(column, justify="right" if column in {"#", "quantity"} else "left")
    for t in transitions:
        table.add_row(
            str(t.sequence),
            t.status.value,
            f"{t.at:%Y-%m-%d %H:%M}",
            f"{quantity_text(t.quantity)} {t.unit}",
            t.reason or "proposed",
            t.decided_by or "-",
        )
    return table


def unknown_request(request_id: str, known: Collection[str]) -> str:
    """Why a purchase request id is refused (``streams.cli.transitions.unknown_id``)."""
    return unknown_id("purchase request", request_id, known, "stockloop requests list")


def refusal(request: PurchaseRequest, action: PurchaseRequestAction) -> str | None:
    """Why the worker would refuse ``action`` on ``request`` as last published; None if it takes it.

    The core decides (``apply_action``), so the command and the worker cannot
    disagree on which decisions a request takes.
    """
    try:
        apply_action(request, action)
    except RequestTransitionError as error:
        since = f"; it is {request.status.value} since {request.at:%Y-%m-%d %H:%M}"
        by = f" ({request.decided_by})" if request.decided_by else ""
        return f"{error}{since}{by}"
    return None


def sent_line(action: PurchaseRequestAction, request: PurchaseRequest, topic: str) -> str:
    """What a decision command sent, in one line, for the person who typed it."""
    what = action.action.replace("_", " ")
    if action.quantity is not None:
        what += f" to {quantity_text(action.quantity)} {request.unit}"
    reason = f": {action.reason}" if action.reason else ""
    return (
        f"sent {what} of {action.request_id} ({request.material_id} in {request.warehouse_id}, "
        f"{quantity_text(request.quantity)} {request.unit}, {request.amount:,.2f} "
        f"{request.currency}, {request.status.value}) by {action.by}{reason} to {topic}"
    )


def _day(day: date | None) -> str:
    return day.isoformat() if day else "-"


# --- Kafka ----------------------------------------------------------------------------------


def read_transitions(settings: Settings) -> list[PurchaseRequest]:
    """Every purchase request transition on the topic so far; others skipped with a warning."""
    topic = settings.topic(PURCHASE_REQUESTS)
    return read_transitions_of(settings, topic, PurchaseRequest, "purchase requests")


def _decide(
    kind: ActionKind, request_id: str, by: str, reason: str | None, quantity: float | None = None
) -> None:
    """Send one decision on a request, unless the request is unknown or would refuse it."""
    settings = Settings()
    actions_topic = settings.topic(PURCHASE_REQUEST_ACTIONS)
    check_topics(settings, [settings.topic(PURCHASE_REQUESTS), actions_topic])
    latest = latest_by_request(read_transitions(settings))
    request = latest.get(request_id)
    if request is None:
        raise fail(unknown_request(request_id, latest))
    try:
        action = PurchaseRequestAction(
            action=kind,
            request_id=request_id,
            material_id=request.material_id,
            by=by,
            reason=reason or None,
            quantity=quantity,
            at=datetime.now(UTC),
        )
    except ValidationError as error:
        raise fail(describe_validation_error(error)) from None
    refused = refusal(request, action)
    if refused:
        raise fail(refused)
    label = f"{kind}:{request_id}"
    summary = publish(settings, [(label, actions_topic, request_id.encode(), encode(action))])
    if summary.failed:
        raise fail(summary.failed[0])
    console.print(sent_line(action, request, actions_topic), highlight=False, soft_wrap=True)
    console.print(encode(action).decode(), highlight=False, soft_wrap=True, markup=False)


# --- commands -------------------------------------------------------------------------------

RequestId = Annotated[
    str,
    typer.Argument(help="Request id, as `requests list` shows it (pr-...).", show_default=False),
]
By = Annotated[str, typer.Option(help="Who decides (user name or e-mail).", show_default=False)]


@app.command("list")
def list_requests(
    status: Annotated[
        list[RequestStatus] | None,
        typer.Option(help="Only requests in this status (repeatable).", show_default=False),
    ] = None,
    material: Annotated[
        str | None, typer.Option(help="Only requests of this material id.", show_default=False)
    ] = None,
    warehouse: Annotated[
        str | None, typer.Option(help="Only requests of this warehouse id.", show_default=False)
    ] = None,
    output_format: Annotated[
        ListFormat, typer.Option("--format", help="table for people, json for scripts.")
    ] = ListFormat.TABLE,
) -> None:
    """List purchase requests as they stand now, the most urgent first.

    One row per request: its latest transition on stockloop.purchase-requests.
    Sorted by latest order date (order by then, or the supply arrives late),
    then by amount, largest first. "approver" is who must decide a request
    pending approval; "decided by" who approved or rejected it (stockloop when
    the approval policy approved it on its own).
    """
    requests = listing_order(
        select(
            latest_by_request(read_transitions(Settings())).values(),
            status or (),
            material,
            warehouse,
        )
    )
    if output_format is ListFormat.JSON:
        documents = [request.model_dump(mode="json") for request in requests]
        sys.stdout.write(orjson.dumps(documents, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    console.print(requests_table(requests, f"{len(requests)} purchase requests"))


@app.command()
def show(request_id: RequestId) -> None:
    """Show one purchase request: what, why, and every transition with who decided and why."""
    transitions = read_transitions(Settings())
    steps = history(transitions, request_id)
    if not steps:
        raise fail(unknown_request(request_id, latest_by_request(transitions)))
    now = steps[-1]
    style = STATUS_STYLE.get(now.status, "")
    lines = [
        f"[bold]{now.request_id}[/bold] [{style}]{now.status.value}[/]: "
        f"{quantity_text(now.quantity)} {now.unit} of {now.material_id} for {now.warehouse_id}, "
        f"{now.amount:,.2f} {now.currency} from {now.supplier_id or 'no supplier named'}",
        f"needed by {_day(now.needed_by)}, latest order date {_day(now.latest_order_date)}",
        f"approver: {now.approver or '-'}, decided by: {now.decided_by or '-'}",
        f"why: {now.explanation}",
        f"alerts: {', '.join(now.alert_ids) or '-'}",
    ]
    if now.erp_reference:
        lines.append(f"ERP reference: {now.erp_reference}")
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
    console.print(history_table(steps))


@app.command()
def approve(
    request_id: RequestId,
    by: By,
    reason: Annotated[str, typer.Option(help="Why, for the others.")] = "",
) -> None:
    """Approve a proposed or pending request: it becomes the ERP's purchase requisition.

    Sends the decision to stockloop.purchase-request-actions; the worker
    applies it, and `requests show` then lists the approval. A request already
    decided or closed is refused in one line, and nothing is sent.
    """
    _decide("approve", request_id, by, reason)


@app.command()
def reject(
    request_id: RequestId,
    by: By,
    reason: Annotated[str, typer.Option(help="Why it is rejected (required).", show_default=False)],
) -> None:
    """Reject a proposed or pending request: it stops counting as supply on its way.

    Sends the decision to stockloop.purchase-request-actions; a request
    already decided or closed is refused in one line, and nothing is sent.
    """
    if not reason.strip():
        raise fail("--reason: say why the request is rejected")
    _decide("reject", request_id, by, reason)


@app.command("change-quantity")
def change_quantity(
    request_id: RequestId,
    quantity: Annotated[
        float, typer.Argument(help="New quantity, in the request's unit.", show_default=False)
    ],
    by: By,
    reason: Annotated[str, typer.Option(help="Why, for the others.")] = "",
) -> None:
    """Change the quantity of a request not yet ordered; its status stays as it is.

    Sends the change to stockloop.purchase-request-actions; a request ordered,
    rejected, cancelled or expired is refused in one line, and nothing is sent.
    """
    _decide("change_quantity", request_id, by, reason, quantity)


@app.command()
def export(
    output_format: Annotated[
        ExportFormat,
        typer.Option("--format", help="csv or jsonl, as the ERP imports.", show_default=False),
    ],
    status: Annotated[
        list[RequestStatus] | None,
        typer.Option(help="Export requests in this status (repeatable); approved if none."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="Write to this file (UTF-8) instead of stdout."),
    ] = None,
) -> None:
    """Export purchase requests (by default the approved ones) as CSV or JSONL for an ERP import.

    One line per request as it stands now, the most urgent first; the columns
    and documents are those of docs/erp-handoff.md. The approved requests are
    the ERP's purchase requisitions, the same documents the HTTP hand-off posts.
    """
    latest = latest_by_request(read_transitions(Settings())).values()
    requests = listing_order(select(latest, status or (RequestStatus.APPROVED,)))
    if output is None:
        written = export_requests(requests, sys.stdout, output_format.value)
        err_console.print(f"exported {written} purchase requests", highlight=False)
        return
    try:
        with output.open("w", newline="", encoding="utf-8") as out:
            written = export_requests(requests, out, output_format.value)
    except OSError as error:
        raise fail(f"cannot write {output}: {error.strerror or error}") from None
    console.print(f"wrote {written} purchase requests to {output}", highlight=False, soft_wrap=True)


app.command()(handoff)
