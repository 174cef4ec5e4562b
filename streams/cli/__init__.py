"""The ``stockloop`` command line: one sub-command group per job."""

import typer

from streams.cli import alerts, broker, materials, rules, run, schemas, status, topics

app = typer.Typer(
    help="stockloop: ERP change events in, dynamic safety stock and actionable alerts out.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(broker.app, name="broker")
app.add_typer(topics.app, name="topics")
app.add_typer(schemas.app, name="schemas")
app.add_typer(materials.app, name="materials")
app.add_typer(rules.app, name="rules")
app.add_typer(alerts.app, name="alerts")
app.command()(run.worker)
app.command("produce")(run.produce_file)
app.command()(run.simulate)
app.command()(status.status)
app.command("dead-letters")(status.dead_letters)


def main() -> None:
    """Entry point of the ``stockloop`` console script."""
    app()
