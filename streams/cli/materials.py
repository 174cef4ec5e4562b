"""``stockloop materials show``: a material's state, read from a worker's API."""

from datetime import date, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from models.alerting import Alert
from models.purchasing import PurchaseRequest
from models.transfers import Transfer
from streams.cli.alerts import SEVERITY_STYLE, read_alerts
from streams.cli.requests import STATUS_STYLE, listing_order, quantity_text
from streams.settings import Settings

app = typer.Typer(help="Read material state from a running worker.", no_args_is_help=True)
console = Console()


@app.command("show")
def show(
    material_id: Annotated[str, typer.Argument(help="Material id, e.g. M-1001.")],
    json: Annotated[bool, typer.Option("--json", help="Print the raw JSON state.")] = False,
) -> None:
    """Print one material's stock position per warehouse (GET /materials/ID), its open alerts,
    and its open purchase requests and transfers, if any.

    The stock is as of the last event the worker applied; an alert's numbers
    are as of its last transition (a rule re-notifies only on a severity
    change or when a fact it lists in update_on moves more than 10 %), so the
    two are shown side by side, each with its time.
    """
    settings = Settings()
    url = f"http://{settings.web_host}:{settings.web_port}/materials/{material_id}"
    try:
        response = httpx.get(url, timeout=10)
    except httpx.HTTPError as error:
        console.print(f"[red]error:[/red] no worker answers at {url}: {error}")
        raise typer.Exit(1) from None
    if response.status_code == 404:
        console.print(f"[yellow]unknown material {material_id!r}[/yellow]")
        raise typer.Exit(1)
    if response.status_code == 503:
        console.print(f"[yellow]the worker at {url} is starting; try again in a moment[/yellow]")
        raise typer.Exit(1)
    response.raise_for_status()
    state = response.json()
    if json:
        console.print_json(response.text)
        return
    master = state.get("master") or {}
    as_of = state.get("applied_through") or state.get("last_event_time")
    title = (
        f"{material_id} {master.get('name', '')} ({state['events_applied']} events, "
        f"as of {_time(as_of)})"
    )
    table = Table(title=title)
    for column in (
        "warehouse",
        "on hand",
        "committed",
        "available",
        "in transit",
        "value",
        "batches",
        "last issue",
    ):
        table.add_column(column, justify="left" if column == "warehouse" else "right")
    for warehouse_id, stock in sorted(state["warehouses"].items()):
        table.add_row(
            warehouse_id,
            f"{stock['on_hand']:g}",
            f"{stock['committed']:g}",
            f"{stock['available']:g}",
            f"{stock['in_transit']:g}",
            f"{stock['inventory_value']:,.2f}",
            str(len(stock["batches"])),
            (stock["last_issue_at"] or "-")[:10],
        )
    console.print(table)
    _print_open_alerts(material_id, state, as_of, settings)
    requests = open_requests(state)
    if requests:
        console.print(requests_table(material_id, requests, expedited_orders(state)))
    transfers = open_transfers(state)
    if transfers:
        console.print(transfers_table(material_id, transfers))


def open_requests(state: dict[str, Any]) -> list[PurchaseRequest]:
    """The material's open purchase requests in the worker's state, the most urgent first."""
    held = (state.get("requests") or {}).get("open") or {}
    return listing_order(PurchaseRequest.model_validate(request) for request in held.values())


def expedited_orders(state: dict[str, Any]) -> dict[str, str]:
    """Production order id by request id, for the requests raised for an order's missing part."""
    expedited = (state.get("requests") or {}).get("expedited") or {}
    return {
        request_id: need.split("|", 1)[0]
        for need, request_ids in expedited.items()
        for request_id in request_ids
    }


def open_transfers(state: dict[str, Any]) -> list[Transfer]:
    """The material's transfers not yet received, cancelled or rejected, oldest first."""
    held = (state.get("transfers") or {}).get("open") or {}
    transfers = (Transfer.model_validate(transfer) for transfer in held.values())
    return sorted(transfers, key=lambda t: (t.created_at, t.transfer_id))


def requests_table(
    material_id: str, requests: list[PurchaseRequest], expedited: dict[str, str]
) -> Table:
    """Open purchase requests: what, for when, where they stand, and what raised them."""
    table = Table(title=f"{len(requests)} open purchase requests of {material_id}")
    for column in (
        "request",
        "warehouse",
        "quantity",
        "amount",
        "needed by",
        "latest order date",
        "status",
        "raised for",
    ):
        table.add_column(column, justify="right" if column in {"quantity", "amount"} else "left")
    for request in requests:
        style = STATUS_STYLE.get(request.status, "")
        table.add_row(
            request.request_id,
            request.warehouse_id,
            f"{quantity_text(request.quantity)} {request.unit}",
            f"{request.amount:,.2f} {request.currency}",
            _day(request.needed_by),
            _day(request.latest_order_date),
            f"[{style}]{request.status.value}[/]",
            _raised_for(request, expedited),
        )
    return table


def _raised_for(request: PurchaseRequest, expedited: dict[str, str]) -> str:
    """What raised a request: a production order's missing part, a supply alert, or the reorder
    point (without an alert, a request is raised only at or below it)."""
    if request.request_id in expedited:
        return f"order {expedited[request.request_id]}"
    return "supply alert" if request.alert_ids else "reorder point"


def transfers_table(material_id: str, transfers: list[Transfer]) -> Table:
    """Open transfers between the material's warehouses: from where, how much, by when."""
    table = Table(title=f"{len(transfers)} open transfers of {material_id}")
    columns = ("transfer", "from", "to", "quantity", "lead time", "needed by", "status", "since")
    for column in columns:
        table.add_column(column, justify="right" if column in {"quantity", "lead time"} else "left")
    for transfer in transfers:
        table.add_row(
            transfer.transfer_id,
            transfer.from_warehouse,
            transfer.to_warehouse,
            f"{quantity_text(transfer.quantity)} {transfer.unit}",
            f"{transfer.lead_time_days:g} d",
            _day(transfer.needed_by),
            transfer.status.value,
            f"{transfer.at:%Y-%m-%d %H:%M}",
        )
    return table


def _print_open_alerts(
    material_id: str, state: dict[str, Any], as_of: str | None, settings: Settings
) -> None:
    """The material's open alerts: the numbers each read, then and now, with their times."""
    latest: dict[str, Alert] = {}
    for alert in read_alerts(settings):
        if alert.material_id == material_id:
            latest[alert.key] = alert
    still_open = [alert for alert in latest.values() if alert.status != "resolved"]
    if not still_open:
        console.print(f"no open alerts for {material_id}")
        return
    table = Table(title=f"{len(still_open)} open alerts of {material_id}")
    for column in ("warehouse", "rule", "severity", "alert's numbers", f"now ({_time(as_of)})"):
        table.add_column(column)
    for alert in sorted(still_open, key=lambda a: (a.warehouse_id, a.rule_id)):
        stock = state["warehouses"].get(alert.warehouse_id, {})
        then = [f"as of {alert.at:%Y-%m-%d %H:%M}"]
        now = [""]
        for fact, value in alert.explanation.values.items():
            then.append(f"{fact} {_number(value)}")
            now.append(f"{fact} {_number(_current(stock, fact))}")
        severity = alert.severity or "-"
        table.add_row(
            alert.warehouse_id,
            alert.rule_id,
            f"[{SEVERITY_STYLE.get(severity, '')}]{severity}[/]",
            "\n".join(then),
            "\n".join(now),
        )
    console.print(table)


def _current(stock: dict[str, Any], fact: str) -> object:
    """A fact's value in the worker's current state, where the state holds it (else None)."""
    if fact in stock:
        return stock[fact]
    return (stock.get("policy") or {}).get(fact)


def _number(value: object) -> str:
    return f"{value:,.6g}" if isinstance(value, int | float) else "-"


def _day(day: date | None) -> str:
    return day.isoformat() if day else "-"


def _time(value: str | None) -> str:
    return f"{datetime.fromisoformat(value):%Y-%m-%d %H:%M}" if value else "-"
