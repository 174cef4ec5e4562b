"""``stockloop broker``: start, stop and inspect the local single-node Kafka broker."""

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.status import Status
from rich.table import Table

from connectors.broker import BrokerError, LocalBroker
from streams.settings import Settings

app = typer.Typer(
    help=(
        "The local Kafka broker (one KRaft node from Maven Central jars) that tests and "
        "demos run against. Its files live in STOCKLOOP_BROKER_DIR."
    ),
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

T = TypeVar("T")


def _run(action: Callable[[], T]) -> T:
    """Run a broker action; a BrokerError becomes one red line (plus any log tail), exit 1."""
    try:
        return action()
    except BrokerError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}", highlight=False, soft_wrap=True)
        if exc.detail:
            err_console.print(
                exc.detail, style="dim", highlight=False, markup=False, soft_wrap=True
            )
        raise typer.Exit(1) from exc


def _progress(spinner: Status) -> Callable[[str], None]:
    """Steps are printed (so CI logs keep them) and shown beside the spinner."""

    def show(message: str) -> None:
        console.print(message, style="dim", highlight=False)
        spinner.update(message)

    return show


@app.command()
def start(
    port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Kafka listener port.",
            show_default="STOCKLOOP_BROKER_PORT or 9092",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the broker to answer.")
    ] = 60.0,
) -> None:
    """Start the broker in the background and wait until it answers.

    The first start fetches the Kafka jars with Maven (about a minute).
    Later starts reuse the jars and the data dir, so topics survive a restart.
    Does nothing if the broker already runs.
    """
    settings = Settings()
    if port is not None:
        settings = settings.model_copy(update={"broker_port": port})
    with console.status("starting the broker") as spinner:
        launched = _run(lambda: LocalBroker(settings, progress=_progress(spinner)).start(timeout))
    state = "started" if launched else "already running"
    console.print(f"[green]broker {state}[/green] on {settings.bootstrap_servers}", highlight=False)


@app.command()
def stop(
    timeout: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for a clean shutdown before SIGKILL.")
    ] = 30.0,
) -> None:
    """Stop the broker (clean shutdown, then kill); its data is kept for the next start."""
    with console.status("stopping the broker") as spinner:
        stopped = _run(lambda: LocalBroker(Settings(), progress=_progress(spinner)).stop(timeout))
    console.print("[green]broker stopped[/green]" if stopped else "broker was not running")


@app.command()
def status() -> None:
    """Show whether the broker runs, its pid and port, and whether it answers Kafka requests."""
    report = _run(lambda: LocalBroker(Settings()).status())
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("running", "[green]yes[/green]" if report.running else "[yellow]no[/yellow]")
    table.add_row("pid", str(report.pid) if report.pid is not None else "-")
    table.add_row("address", f"{report.host}:{report.port}")
    table.add_row("answering", "[green]yes[/green]" if report.answering else "[yellow]no[/yellow]")
    table.add_row("data dir", str(report.data_dir))
    table.add_row("kafka", report.kafka_version)
    console.print(table)
