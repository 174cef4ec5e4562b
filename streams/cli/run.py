"""``stockloop worker`` and ``stockloop produce``: run the pipeline and feed it."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from connectors.file_import import ImportFileError, count_rows, import_file
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


def produce(
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
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task(f"{file.name} -> {physical}", total=total)
            summary = import_file(
                file, physical, settings.bootstrap_servers, lambda: progress.advance(task)
            )
    except ImportFileError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    console.print(f"sent {summary.sent}, failed {len(summary.failed)}")
    for failure in summary.failed[:20]:
        console.print(f"  [red]{failure}[/red]")
    if summary.failed:
        raise typer.Exit(1)
