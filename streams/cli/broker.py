"""``stockloop broker``: start, stop and inspect the local single-node Kafka broker."""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.status import Status
from rich.table import Table

from connectors.broker import (
    SCRAM_MECHANISMS,
    BrokerConfigError,
    BrokerError,
    LocalBroker,
    SaslSslListener,
    ScramUser,
)
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
    sasl_ssl_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Also listen here for clients that log in with SCRAM over TLS "
            "(STOCKLOOP_SECURITY_PROTOCOL=SASL_SSL); needs --keystore and --scram-user.",
        ),
    ] = None,
    keystore: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="PKCS12 keystore (password STOCKLOOP_BROKER_KEYSTORE_PASSWORD): the "
            "broker's key and a certificate naming its host.",
        ),
    ] = None,
    scram_user: Annotated[
        str | None,
        typer.Option(
            help="SCRAM user (SHA-256 and SHA-512) created on the first start, with "
            "password STOCKLOOP_BROKER_SCRAM_PASSWORD."
        ),
    ] = None,
) -> None:
    """Start the broker in the background and wait until it answers.

    The first start fetches the Kafka jars with Maven (about a minute).
    Later starts reuse the jars and the data dir, so topics survive a restart.
    Does nothing if the broker already runs.
    """
    settings = Settings()
    if port is not None:
        settings = settings.model_copy(update={"broker_port": port})
    listener = _run(lambda: _sasl_ssl_listener(settings, sasl_ssl_port, keystore, scram_user))
    with console.status("starting the broker") as spinner:
        launched = _run(
            lambda: LocalBroker(settings, progress=_progress(spinner), sasl_ssl=listener).start(
                timeout
            )
        )
    state = "started" if launched else "already running"
    console.print(f"[green]broker {state}[/green] on {settings.bootstrap_servers}", highlight=False)
    if listener is not None:
        console.print(f"SASL_SSL on {settings.broker_host}:{listener.port}", highlight=False)


def _sasl_ssl_listener(
    settings: Settings, port: int | None, keystore: Path | None, user: str | None
) -> SaslSslListener | None:
    """The SASL_SSL listener the options ask for, or None; one line naming what is missing.

    The passwords come from settings (the environment), never from a command line
    that ``ps`` would show.
    """
    if port is None:
        return None
    keystore_password = settings.broker_keystore_password
    scram_password = settings.broker_scram_password
    required = {
        "--keystore": keystore,
        "--scram-user": user,
        "STOCKLOOP_BROKER_KEYSTORE_PASSWORD": keystore_password,
        "STOCKLOOP_BROKER_SCRAM_PASSWORD": scram_password,
    }
    missing = [name for name, value in required.items() if value is None]
    if keystore is None or user is None or keystore_password is None or scram_password is None:
        raise BrokerConfigError(f"--sasl-ssl-port needs {', '.join(missing)} too")
    users = tuple(
        ScramUser(user, scram_password.get_secret_value(), mechanism)
        for mechanism in SCRAM_MECHANISMS
    )
    return SaslSslListener(port, keystore.resolve(), keystore_password.get_secret_value(), users)


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
