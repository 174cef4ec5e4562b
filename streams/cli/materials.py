"""``stockloop materials show``: a material's state, read from a worker's API."""

from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from streams.settings import Settings

app = typer.Typer(help="Read material state from a running worker.", no_args_is_help=True)
console = Console()


@app.command("show")
def show(
    material_id: Annotated[str, typer.Argument(help="Material id, e.g. M-1001.")],
    json: Annotated[bool, typer.Option("--json", help="Print the raw JSON state.")] = False,
) -> None:
    """Print one material's stock position per warehouse (GET /materials/ID)."""
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
    title = f"{material_id} {master.get('name', '')} ({state['events_applied']} events)"
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
