"""``stockloop materials show``: a material's state, read from a worker's API.

One request to ``GET /api/materials/{id}``, which any worker routes to the
material's owner: the state, its open alerts (from the material's alert
book), its flow figures and its last closed alerts; nothing is read from
the topics, so it answers as fast for a year-old deployment as for a new one.
"""

from datetime import date, datetime
from typing import Annotated, Any

import httpx
import orjson
import typer
from rich.console import Console
from rich.table import Table

from models.alerting import muted_by
from models.alerts import OpenAlert
from models.purchasing import PurchaseRequest
from models.transfers import Transfer
from streams.cli.alerts import SEVERITY_STYLE
from streams.cli.requests import STATUS_STYLE, listing_order, quantity_text
from streams.settings import Settings

app = typer.Typer(help="Read material state from a running worker.", no_args_is_help=True)
console = Console()


@app.command("show")
def show(
    material_id: Annotated[str, typer.Argument(help="Material id, e.g. M-1001.")],
    json: Annotated[bool, typer.Option("--json", help="Print the raw JSON state.")] = False,
) -> None:
    """Print one material's stock position per warehouse (GET /api/materials/ID), its open
    alerts, its flow (turnover, fill rate, stock-out rate), its last closed alerts, and its
    open purchase requests and transfers, if any.

    The stock is as of the last event the worker applied; an alert's numbers
    are as of its last update (a rule re-notifies only on a severity change
    or when a fact it lists in update_on moves more than 10 %), so the two
    are shown side by side, each with its time.
    """
    settings = Settings()
    url = f"http://{settings.web_host}:{settings.web_port}/api/materials/{material_id}"
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
    answer = response.json()
    state = answer["state"]
    if json:
        console.print_json(orjson.dumps(state).decode())
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
    console.print(open_alerts_table(material_id, state, as_of))
    console.print(flow_table(material_id, answer.get("warehouses") or {}))
    closed = answer.get("closed_alerts") or []
    if closed:
        console.print(closed_alerts_table(material_id, closed))
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


def open_alerts_table(material_id: str, state: dict[str, Any], as_of: str | None) -> Table | str:
    """The material's open alerts: the numbers each read, then and now, with their times."""
    held = (state.get("alerts") or {}).get("alerts") or {}
    still_open = sorted(
        (OpenAlert.model_validate(alert) for alert in held.values()),
        key=lambda a: (a.warehouse_id, a.rule_id),
    )
    if not still_open:
        return f"no open alerts for {material_id}"
    table = Table(title=f"{len(still_open)} open alerts of {material_id}")
    for column in ("warehouse", "rule", "severity", "alert's numbers", f"now ({_time(as_of)})"):
        table.add_column(column)
    for alert in still_open:
        stock = state["warehouses"].get(alert.warehouse_id, {})
        then = [f"as of {alert.updated_at:%Y-%m-%d %H:%M}"]
        now = [""]
        for fact, value in alert.values.items():
            then.append(f"{fact} {_number(value)}")
            now.append(f"{fact} {_number(_current(stock, fact))}")
        muted = muted_by(alert.silenced, alert.inhibited)
        severity = f"[{SEVERITY_STYLE.get(alert.severity, '')}]{alert.severity}[/]"
        table.add_row(
            alert.warehouse_id,
            alert.rule_id,
            f"{severity} {muted}".strip(),
            "\n".join(then),
            "\n".join(now),
        )
    return table


def flow_table(material_id: str, warehouses: dict[str, dict[str, Any]]) -> Table:
    """Per warehouse: turnover over 30, 90 and 365 days, fill rate and stock-out rate over the
    last 30 days, each beside the 30 days before (``GET /api/materials/ID``'s ``warehouses``)."""
    table = Table(title=f"flow of {material_id} (last 30 days, the 30 before in brackets)")
    columns = ("warehouse", "turnover 30 d", "90 d", "365 d", "a year", "fill rate", "stock-out")
    for column in columns:
        table.add_column(column, justify="left" if column == "warehouse" else "right")
    for warehouse_id, report in sorted(warehouses.items()):
        turnover = report["turnover"]
        table.add_row(
            warehouse_id,
            _beside(_turns(turnover["30d"]["turns"]), _turns(turnover["previous_30d"]["turns"])),
            _turns(turnover["90d"]["turns"]),
            _turns(turnover["365d"]["turns"]),
            _turns(turnover["365d"]["annualised"]),
            _beside(
                _share(report["fill_rate"]["last_30d"]),
                _share(report["fill_rate"]["previous_30d"]),
            ),
            _beside(
                _share(report["stockout_rate"]["last_30d"]),
                _share(report["stockout_rate"]["previous_30d"]),
            ),
        )
    return table


def closed_alerts_table(material_id: str, closed: list[dict[str, Any]]) -> Table:
    """The material's last closed alerts, newest first (every transition is on the topic)."""
    table = Table(title=f"last {len(closed)} closed alerts of {material_id}")
    for column in ("warehouse", "rule", "severity", "raised", "resolved", "why", "value at risk"):
        table.add_column(column, justify="right" if column == "value at risk" else "left")
    for alert in closed:
        severity = alert["severity"]
        table.add_row(
            alert["warehouse_id"],
            alert["rule_id"],
            f"[{SEVERITY_STYLE.get(severity, '')}]{severity}[/]",
            _time(alert["raised_at"]),
            _time(alert["resolved_at"]),
            alert["reason"].replace("_", " "),
            _number(alert.get("value_at_risk")),
        )
    return table


def _turns(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _beside(now: str, before: str) -> str:
    return f"{now} ({before})"


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
