"""``stockloop worker``, ``produce`` and ``simulate``: run the pipeline and feed it."""

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from connectors.file_import import ImportFileError, count_rows, import_file
from connectors.producer import ProduceSummary, produce
from connectors.simulator import ErpSimulator
from streams.settings import Settings

console = Console()


def worker(
    loglevel: Annotated[str, typer.Option(help="Log level: debug, info, warning, error.")] = "info",
) -> None:
    """Run a worker: ingest, material state, and the web API (/health, /materials/ID, /metrics).

    Configured by STOCKLOOP_* environment variables (see README); start the
    broker and apply the topics first.
    """
    from streams.worker import run  # building the Faust app is only worth it here

    run(loglevel)


def produce_file(
    topic: Annotated[str, typer.Argument(help="Catalogue topic name, e.g. erp.stock-movements.")],
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A .jsonl or .csv ERP export.")
    ],
) -> None:
    """Load an ERP export (JSONL or CSV, one event per row) into a topic.

    Rows are sent as they are; the worker validates them and dead-letters
    the bad ones with a reason. Exit code 1 if any row could not be sent.
    """
    settings = Settings()
    physical = settings.topic(topic)
    try:
        total = count_rows(file)
        with _progress() as progress:
            task = progress.add_task(f"{file.name} -> {physical}", total=total)
            summary = import_file(
                file, physical, settings.bootstrap_servers, lambda: progress.advance(task)
            )
    except ImportFileError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    _report(summary)


def simulate(
    materials: Annotated[int, typer.Option(min=1, help="Number of materials.")] = 6,
    days: Annotated[int, typer.Option(min=1, help="Days of ERP business to simulate.")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same records.")] = 42,
    start: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="First simulated day.")
    ] = datetime(2026, 9, 1),
) -> None:
    """Produce simulated ERP traffic for the demo and backtests.

    Material masters and PO lines as plain JSON, stock transactions and sales
    order lines as Debezium change events (example mapping), and three broken
    records that must end in the dead-letter topic.
    """
    settings = Settings()
    simulator = ErpSimulator(materials=materials, seed=seed, start=start.date())
    records = [
        (f"record {n}", settings.topic(r.topic), r.key, r.value)
        for n, r in enumerate(simulator.run(days), start=1)
    ]
    with _progress() as progress:
        task = progress.add_task(f"{days} days, {materials} materials", total=len(records))
        summary = produce(records, settings.bootstrap_servers, lambda: progress.advance(task))
    _report(summary)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _report(summary: ProduceSummary) -> None:
    """Print sent/failed; exit 1 if anything failed."""
    console.print(f"sent {summary.sent}, failed {len(summary.failed)}")
    for failure in summary.failed[:20]:
        console.print(f"  [red]{failure}[/red]")
    if summary.failed:
        raise typer.Exit(1)
