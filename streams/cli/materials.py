"""``stockloop materials show``: a material's state, read from a worker's API."""

from datetime import datetime
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from models.alerting import Alert
from streams.cli.alerts import SEVERITY_STYLE, read_alerts
from streams.settings import Settings

app = typer.Typer(help="Read material state from a running worker.", no_args_is_help=True)
console = Console()


@app.command("show")
def show(
    material_id: Annotated[str, typer.Argument(help="Material id, e.g. M-1001.")],
    json: Annotated[bool, typer.Option("--json", help="Print the raw JSON state.")] = False,
) -> None:
    """Print one material's stock position per warehouse (GET /materials/ID), and its open alerts.

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


def _time(value: str | None) -> str:
    return f"{datetime.fromisoformat(value):%Y-%m-%d %H:%M}" if value else "-"
