"""``stockloop transfers``: read transfers between warehouses, approve or reject the held ones.

A transfer is a sequence of transitions on ``stockloop.transfers``; the
transition with the highest sequence is its state. One the approval policy
did not approve on its own stays ``proposed`` with an ``approver``. A
decision is not applied here: it is a ``TransferAction`` sent to
``stockloop.transfer-actions``, keyed by the transfer id, and the worker that
owns the transfer's material applies it, as ``stockloop requests`` does for
purchase requests. Before sending, the command asks the core
(``models.transfers.apply_transfer_action``) whether the transfer, as last
published, would take the decision, so a decision the worker would refuse is
refused here in one line, and nothing is sent.
"""

import sys
from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime
from typing import Annotated, Literal

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from models.events import describe_validation_error, encode
from models.transfers import (
    Transfer,
    TransferAction,
    TransferStatus,
    TransferTransitionError,
    apply_transfer_action,
)
from streams.catalogue import TRANSFER_ACTIONS, TRANSFERS
from streams.cli.kafka import check_topics, fail, publish
from streams.cli.requests import By, ListFormat, quantity_text
from streams.cli.transitions import history_of, latest_by, read_transitions_of, unknown_id
from streams.settings import Settings

app = typer.Typer(
    help="Transfers between warehouses on stockloop.transfers, and decisions on held ones.",
    no_args_is_help=True,
)
console = Console()

ActionKind = Literal["approve", "reject"]
STATUS_STYLE = {
    TransferStatus.PROPOSED: "yellow",
    TransferStatus.APPROVED: "green",
    TransferStatus.SHIPPED: "cyan",
    TransferStatus.RECEIVED: "bold green",
    TransferStatus.REJECTED: "red",
    TransferStatus.CANCELLED: "dim",
}
LIST_COLUMNS = (
    "transfer",
    "material",
    "from",
    "to",
    "quantity",
    "value",
    "needed by",
    "status",
    "approver",
    "decided by",
)
_RIGHT = {"quantity", "value"}


# --- the pure part: fold, order, format, refuse ---------------------------------------------


def _transfer_id(transfer: Transfer) -> str:
    return transfer.transfer_id


def latest_by_transfer(transitions: Iterable[Transfer]) -> dict[str, Transfer]:
    """Each transfer's state: its transition with the highest sequence, by transfer id."""
    return latest_by(transitions, _transfer_id)


def history(transitions: Iterable[Transfer], transfer_id: str) -> list[Transfer]:
    """Every transition of one transfer, by sequence; a transition published twice shows once."""
    return history_of(transitions, _transfer_id, transfer_id)


def listing_order(transfers: Iterable[Transfer]) -> list[Transfer]:
    """Transfers by need date (the most urgent first, none last), then larger values first."""
    return sorted(
        transfers,
        key=lambda t: (t.needed_by is None, t.needed_by or date.max, -(t.amount or 0), t.id),
    )


def select(
    transfers: Iterable[Transfer],
    statuses: Collection[TransferStatus] = (),
    material_id: str | None = None,
    warehouse_id: str | None = None,
) -> list[Transfer]:
    """The transfers in one of ``statuses`` (any when empty), of a material, from or to a
    warehouse."""
    return [
        t
        for t in transfers
        if (not statuses or t.status in statuses)
        and (material_id is None or t.material_id == material_id)
        and (warehouse_id is None or warehouse_id in (t.from_warehouse, t.to_warehouse))
    ]


def value_text(transfer: Transfer) -> str:
    """The value a transfer moves, as the approval policy judged it; '-' on older records."""
    return "-" if transfer.amount is None else f"{transfer.amount:,.2f}"


def transfer_row(transfer: Transfer) -> tuple[str, ...]:
    """One transfer as a row of ``transfers list``, in the order of ``LIST_COLUMNS``."""
    return (
        transfer.transfer_id,
        transfer.material_id,
        transfer.from_warehouse,
        transfer.to_warehouse,
        f"{quantity_text(transfer.quantity)} {transfer.unit}",
        value_text(transfer),
        transfer.needed_by.isoformat() if transfer.needed_by else "-",
        transfer.status.value,
        transfer.approver or "-",
        transfer.by or "-",
    )


def transfers_table(transfers: Iterable[Transfer], title: str) -> Table:
    """The table ``transfers list`` prints, a row per transfer, status coloured."""
    table = Table(title=title)
    for column in LIST_COLUMNS:
        table.add_column(column, justify="right" if column in _RIGHT else "left")
    for transfer in transfers:
        *cells, status, approver, by = transfer_row(transfer)
        style = STATUS_STYLE.get(transfer.status, "")
        table.add_row(*cells, f"[{style}]{status}[/]", approver, by)
    return table


def history_table(transitions: Iterable[Transfer]) -> Table:
    """Every transition of a transfer: when, to which status, why, and who decided."""
    table = Table(title="transitions")
    for column in ("#", "status", "at", "reason", "by"):
        table.add_column(column, justify="right" if column == "#" else "left")
    for t in transitions:
        table.add_row(
            str(t.sequence), t.status.value, f"{t.at:%Y-%m-%d %H:%M}", t.reason, t.by or "-"
        )
    return table


def unknown_transfer(transfer_id: str, known: Collection[str]) -> str:
    """Why a transfer id is refused (``streams.cli.transitions.unknown_id``)."""
    return unknown_id("transfer", transfer_id, known, "stockloop transfers list")


def refusal(transfer: Transfer, action: TransferAction) -> str | None:
    """Why the worker would refuse ``action`` on ``transfer`` as last published; None if it takes
    it. The core decides, so the command and the worker cannot disagree."""
    try:
        apply_transfer_action(transfer, action)
    except TransferTransitionError as error:
        by = f" ({transfer.by})" if transfer.by else ""
        return f"{error}; it is {transfer.status.value} since {transfer.at:%Y-%m-%d %H:%M}{by}"
    return None


def sent_line(action: TransferAction, transfer: Transfer, topic: str) -> str:
    """What a decision command sent, in one line, for the person who typed it."""
    reason = f": {action.reason}" if action.reason else ""
    return (
        f"sent {action.action} of {action.transfer_id} ({quantity_text(transfer.quantity)} "
        f"{transfer.unit} of {transfer.material_id} from {transfer.from_warehouse} to "
        f"{transfer.to_warehouse}, value {value_text(transfer)}, {transfer.status.value}) "
        f"by {action.by}{reason} to {topic}"
    )


# --- Kafka ----------------------------------------------------------------------------------


def read_transfers(settings: Settings) -> list[Transfer]:
    """Every transfer transition on the topic so far; other records skipped with a warning."""
    return read_transitions_of(settings, settings.topic(TRANSFERS), Transfer, "transfers")


def _decide(kind: ActionKind, transfer_id: str, by: str, reason: str | None) -> None:
    """Send one decision on a transfer, unless the transfer is unknown or would refuse it."""
    settings = Settings()
    actions_topic = settings.topic(TRANSFER_ACTIONS)
    check_topics(settings, [settings.topic(TRANSFERS), actions_topic])
    latest = latest_by_transfer(read_transfers(settings))
    transfer = latest.get(transfer_id)
    if transfer is None:
        raise fail(unknown_transfer(transfer_id, latest))
    try:
        action = TransferAction(
            action=kind,
            transfer_id=transfer_id,
            material_id=transfer.material_id,
            by=by,
            reason=reason or None,
            at=datetime.now(UTC),
        )
    except ValidationError as error:
        raise fail(describe_validation_error(error)) from None
    refused = refusal(transfer, action)
    if refused:
        raise fail(refused)
    label = f"{kind}:{transfer_id}"
    summary = publish(settings, [(label, actions_topic, transfer_id.encode(), encode(action))])
    if summary.failed:
        raise fail(summary.failed[0])
    console.print(sent_line(action, transfer, actions_topic), highlight=False, soft_wrap=True)
    console.print(encode(action).decode(), highlight=False, soft_wrap=True, markup=False)


# --- commands -------------------------------------------------------------------------------

TransferId = Annotated[
    str, typer.Argument(help="Transfer id, as `transfers list` shows it.", show_default=False)
]


@app.command("list")
def list_transfers(
    status: Annotated[
        list[TransferStatus] | None,
        typer.Option(help="Only transfers in this status (repeatable).", show_default=False),
    ] = None,
    material: Annotated[
        str | None, typer.Option(help="Only transfers of this material id.", show_default=False)
    ] = None,
    warehouse: Annotated[
        str | None,
        typer.Option(help="Only transfers from or to this warehouse id.", show_default=False),
    ] = None,
    output_format: Annotated[
        ListFormat, typer.Option("--format", help="table for people, json for scripts.")
    ] = ListFormat.TABLE,
) -> None:
    """List transfers as they stand now, the most urgent first.

    One row per transfer: its latest transition on stockloop.transfers, sorted
    by the date the receiving warehouse needs it, then by value, largest first.
    "approver" is who must decide a transfer the approval policy held (it
    stays proposed until then); "decided by" who approved, rejected or
    cancelled it (stockloop when the policy did).
    """
    transfers = listing_order(
        select(
            latest_by_transfer(read_transfers(Settings())).values(),
            status or (),
            material,
            warehouse,
        )
    )
    if output_format is ListFormat.JSON:
        documents = [transfer.model_dump(mode="json") for transfer in transfers]
        sys.stdout.write(orjson.dumps(documents, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    console.print(transfers_table(transfers, f"{len(transfers)} transfers"))


@app.command()
def show(transfer_id: TransferId) -> None:
    """Show one transfer: what, why, and every transition with who decided and why."""
    transitions = read_transfers(Settings())
    steps = history(transitions, transfer_id)
    if not steps:
        raise fail(unknown_transfer(transfer_id, latest_by_transfer(transitions)))
    now = steps[-1]
    style = STATUS_STYLE.get(now.status, "")
    needed_by = now.needed_by.isoformat() if now.needed_by else "-"
    lines = [
        f"[bold]{now.transfer_id}[/bold] [{style}]{now.status.value}[/]: "
        f"{quantity_text(now.quantity)} {now.unit} of {now.material_id} from "
        f"{now.from_warehouse} to {now.to_warehouse}, value {value_text(now)}",
        f"needed by {needed_by}, lead time {now.lead_time_days:g} days",
        f"approver: {now.approver or '-'}, decided by: {now.by or '-'}",
        f"why: {now.explanation}",
        f"alerts: {', '.join(now.alert_ids) or '-'}",
    ]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
    console.print(history_table(steps))


@app.command()
def approve(
    transfer_id: TransferId,
    by: By,
    reason: Annotated[str, typer.Option(help="Why, for the others.")] = "",
) -> None:
    """Approve a proposed transfer: the source may ship it.

    Sends the decision to stockloop.transfer-actions; the worker applies it,
    and `transfers show` then lists the approval. A transfer already decided,
    shipped or closed is refused in one line, and nothing is sent.
    """
    _decide("approve", transfer_id, by, reason)


@app.command()
def reject(
    transfer_id: TransferId,
    by: By,
    reason: Annotated[str, typer.Option(help="Why it is rejected (required).", show_default=False)],
) -> None:
    """Reject a proposed transfer: the source keeps its stock, and the need is bought instead.

    Sends the decision to stockloop.transfer-actions; a transfer already
    decided, shipped or closed is refused in one line, and nothing is sent.
    """
    if not reason.strip():
        raise fail("--reason: say why the transfer is rejected")
    _decide("reject", transfer_id, by, reason)
