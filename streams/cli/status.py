"""``stockloop status`` and ``stockloop dead-letters``: what a worker has done with its input."""

import itertools
import time
from typing import Annotated

import httpx
import typer
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from models.events import DeadLetter
from streams.catalogue import DEAD_LETTER
from streams.cli.kafka import read
from streams.settings import Settings

console = Console()
OUTCOMES = ("applied", "duplicate", "dead_lettered", "tombstone")


def read_counters(settings: Settings) -> dict[str, dict[str, float]]:
    """``stockloop_events_total`` of the worker, as {topic: {outcome: count}}."""
    url = f"http://{settings.web_host}:{settings.web_port}/metrics"
    text = httpx.get(url, timeout=10).text
    counters: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "stockloop_events_total":
                topic = counters.setdefault(sample.labels["topic"], {})
                topic[sample.labels["outcome"]] = sample.value
    return counters


def status(
    wait_for: Annotated[
        int, typer.Option(help="Wait until this many input records are accounted for.")
    ] = 0,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait-for.")] = 120.0,
) -> None:
    """Per input topic: records received, applied, duplicate, dead-lettered, tombstones.

    Every received record ends in exactly one of the other columns; the
    ``open`` column shows records still on their way through the worker.
    """
    settings = Settings()
    deadline = time.monotonic() + timeout
    while True:
        try:
            counters = read_counters(settings)
        except httpx.HTTPError as error:
            console.print(
                f"[red]error:[/red] no worker answers on port {settings.web_port}: {error}"
            )
            raise typer.Exit(1) from None
        done = sum(c.get(o, 0) for c in counters.values() for o in OUTCOMES)
        if done >= wait_for or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    table = Table(title="input records")
    for column in ("topic", "received", *OUTCOMES, "open"):
        table.add_column(column, justify="left" if column == "topic" else "right")
    for topic, counts in sorted(counters.items()):
        accounted = sum(counts.get(o, 0) for o in OUTCOMES)
        opened = counts.get("received", 0) - accounted
        cells = [f"{counts.get(c, 0):.0f}" for c in ("received", *OUTCOMES)]
        table.add_row(topic.removeprefix(settings.topic_prefix), *cells, f"{max(opened, 0):.0f}")
    console.print(table)
    if done < wait_for:
        console.print(f"[red]only {done:.0f} of {wait_for} records accounted for[/red]")
        raise typer.Exit(1)


def dead_letters(
    limit: Annotated[int, typer.Option(help="Show at most this many, oldest first.")] = 20,
) -> None:
    """The dead-letter topic: where each refused record came from and why."""
    settings = Settings()
    table = Table(title="dead letters")
    for column in ("source", "reason"):
        table.add_column(column)
    records = read(settings, settings.topic(DEAD_LETTER), idle_ms=2000)
    for record in itertools.islice(records, limit):
        letter = DeadLetter.model_validate_json(record.value)
        where = letter.source.topic.removeprefix(settings.topic_prefix)
        table.add_row(f"{where}@{letter.source.partition}:{letter.source.offset}", letter.reason)
    console.print(table)
