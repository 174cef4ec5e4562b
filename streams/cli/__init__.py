"""The ``stockloop`` command line: one sub-command group per job."""

import typer
from pydantic import ValidationError
from rich.console import Console

from streams.cli import (
    alerts,
    backtest,
    broker,
    deliver,
    mapping,
    materials,
    notifications,
    policies,
    replay,
    requests,
    reviews,
    routes,
    rules,
    run,
    schemas,
    shortage,
    status,
    topics,
    transfers,
)
from streams.settings import Settings, refused_settings

app = typer.Typer(
    help="stockloop: ERP change events in, dynamic safety stock and actionable alerts out.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
err_console = Console(stderr=True)
app.add_typer(broker.app, name="broker")
app.add_typer(topics.app, name="topics")
app.add_typer(schemas.app, name="schemas")
app.add_typer(materials.app, name="materials")
app.add_typer(rules.app, name="rules")
app.add_typer(policies.app, name="policies")
app.add_typer(alerts.app, name="alerts")
app.add_typer(requests.app, name="requests")
app.add_typer(transfers.app, name="transfers")
app.add_typer(reviews.app, name="reviews")
app.add_typer(routes.app, name="routes")
app.add_typer(mapping.app, name="mapping")
app.command()(shortage.shortage)
app.command()(run.worker)
app.command("produce")(run.produce_file)
app.command()(run.simulate)
app.command()(backtest.backtest)
app.command()(replay.replay)
app.command()(deliver.deliver)
app.command()(notifications.notifications)
app.command()(status.status)
app.command("dead-letters")(status.dead_letters)


def main() -> None:
    """Entry point of the ``stockloop`` console script.

    Settings it refuses are one line each on stderr (exit code 1), not a traceback.
    """
    try:
        app()
    except ValidationError as error:
        if error.title != Settings.__name__:
            raise
        for line in refused_settings(error):
            err_console.print(f"[red]error:[/red] {line}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
