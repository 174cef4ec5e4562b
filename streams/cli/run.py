"""``stockloop worker``, ``produce`` and ``simulate``: run the pipeline and feed it."""

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.file_import import (
    ImportFileError,
    RowKeyError,
    check_rows,
    import_file,
    read_rows,
)
from connectors.kafka_security import refusal
from connectors.mapping import load_mapping
from connectors.producer import ProduceSummary
from connectors.scenarios import SCENARIOS
from connectors.shapes import (
    EXAMPLE_MAPPING,
    PACKS,
    SHAPES,
    UnknownShape,
    shaped,
    unshapeable,
    writer,
)
from connectors.shapes.debezium import Change
from connectors.shapes.erpnext import ErpnextShape
from connectors.shapes.odoo import OdooShape
from connectors.simulator import ErpSimulator, Record
from streams.catalogue import load_catalogue
from streams.cli.kafka import check_topics, connection, fail, kafka_errors, publish
from streams.settings import Settings

console = Console()

SHAPE_HELP = (
    f"Write the records as an ERP's tables would send them through Debezium: {', '.join(SHAPES)} "
    "(plain: as they are). The worker reads an ERP's shape with its pack "
    "(STOCKLOOP_MAPPING_FILE, see docs/connect-your-erp.md)."
)


def worker(
    loglevel: Annotated[str, typer.Option(help="Log level: debug, info, warning, error.")] = "info",
) -> None:
    """Run a worker: ingest, material state, and the web API (/health, /materials/ID, /metrics).

    Configured by STOCKLOOP_* environment variables (see README); start the
    broker and apply the topics first. A broker that refuses the worker's login
    or certificate is one line here: Faust would retry, then end in a traceback.
    """
    settings = Settings()
    with kafka_errors():
        refused = refusal(settings.bootstrap_servers, settings.kafka_security)
    if refused is not None:
        raise fail(refused)
    from streams.worker import run  # building the Faust app is only worth it here

    run(loglevel)


def produce_file(
    topic: Annotated[str, typer.Argument(help="Catalogue topic name, e.g. erp.stock-movements.")],
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A .jsonl or .csv ERP export.")
    ],
    key_field: Annotated[
        str | None,
        typer.Option(
            help="Key every record by this field of the value (dotted for a nested one); "
            "for a Debezium change event, a column of the row (after, or before for a "
            "delete). Default: a line's own key, else its material_id."
        ),
    ] = None,
    shape: Annotated[str, typer.Option(help=SHAPE_HELP)] = "plain",
) -> None:
    """Load an ERP export (JSONL or CSV, one record per row) into a topic, keyed.

    A JSONL line is a record value, or {"key": ..., "value": ...} with its
    own key (a Debezium export; "value": null is a tombstone). Records of one
    key go to one partition in file order, so an order line's versions and its
    delete arrive in order. Every row is keyed before anything is sent: a row
    that cannot be keyed with --key-field (or, for a compacted topic, at all)
    stops the load with its line number. Rows are sent as they are otherwise;
    the worker validates them and dead-letters the bad ones with a reason.
    With --shape odoo or erpnext, every row must be a plain event of the
    topic's kind: each becomes the ERP's table changes, on the topics the
    pack reads. Exit code 1 if any row could not be keyed, read or sent.
    """
    erp = _erp(shape)
    if erp is not None:
        _produce_shaped(topic, file, erp)
        return
    settings = Settings()
    physical = settings.topic(topic)
    spec = load_catalogue(settings.topics_file).get(topic)
    compacted = spec is not None and "compact" in spec.config.get("cleanup.policy", "")
    try:
        total = check_rows(file, key_field, require_keys=compacted)
        check_topics(settings, [physical])
        with kafka_errors(), _progress() as progress:
            task = progress.add_task(f"{file.name} -> {physical}", total=total)
            summary = import_file(
                file,
                physical,
                connection(settings),
                key_field,
                require_keys=compacted,
                on_row=lambda: progress.advance(task),
            )
    except RowKeyError as error:
        needs = f"; {physical} is compacted: every record needs a key" if compacted else ""
        raise fail(f"{file} {error}{needs}; nothing was sent") from None
    except ImportFileError as error:
        raise fail(str(error)) from None
    _report(summary)


def simulate(
    materials: Annotated[int, typer.Option(min=1, help="Number of materials.")] = 6,
    days: Annotated[int, typer.Option(min=1, help="Days of ERP business to simulate.")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same records.")] = 42,
    start: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="First simulated day.")
    ] = datetime(2026, 9, 1),
    scenario: Annotated[
        str | None,
        typer.Option(
            help="Publish a story of the scenario library instead, with its own materials, "
            f"days and start: {', '.join(SCENARIOS)} (see --list-scenarios)."
        ),
    ] = None,
    list_scenarios: Annotated[
        bool, typer.Option("--list-scenarios", help="List the scenarios and their stories.")
    ] = False,
    shape: Annotated[str, typer.Option(help=SHAPE_HELP)] = "plain",
) -> None:
    """Produce simulated ERP traffic for the demo and backtests.

    Material masters and PO lines as plain JSON, stock transactions and sales
    order lines as Debezium change events (example mapping), and three broken
    records that must end in the dead-letter topic. With --scenario, one of
    the library's seeded stories (docs/scenarios.md), every record valid.
    With --shape odoo or erpnext, the same business as the ERP's table
    changes (the broken records as they are).
    """
    erp = _erp(shape, seed)
    if list_scenarios:
        _list_scenarios()
        return
    if scenario is not None:
        if (materials, days, start) != (6, 60, datetime(2026, 9, 1)):
            raise fail(
                f"--scenario {scenario}: --materials, --days and --start do not apply, "
                "a scenario has its own"
            )
        story = SCENARIOS.get(scenario)
        if story is None:
            raise fail(f"--scenario {scenario}: unknown; known: {', '.join(SCENARIOS)}")
        history = story.records(seed)
        description = f"{scenario}: {story.days} days, {len(story.demand)} materials"
    else:
        simulator = ErpSimulator(materials=materials, seed=seed, start=start.date())
        history = simulator.run(days)
        description = f"{days} days, {materials} materials"
    if erp is not None:
        description = f"{description}, {shape} shape"
    _send(shaped(history, erp, load_mapping(EXAMPLE_MAPPING)), description)
    if erp is not None:
        console.print(f"read them with STOCKLOOP_MAPPING_FILE={PACKS[shape]}")


def _erp(shape: str, seed: int = 0) -> OdooShape | ErpnextShape | None:
    """The writer of ``--shape``, or None for plain; exit 1 naming the known shapes."""
    try:
        return writer(shape, seed)
    except UnknownShape as error:
        raise fail(str(error)) from None


def _produce_shaped(topic: str, file: Path, erp: OdooShape | ErpnextShape) -> None:
    """``produce --shape``: every row a plain event of ``topic``, sent as the ERP's changes."""
    mapping = load_mapping(EXAMPLE_MAPPING)
    try:
        rows = list(read_rows(file))
    except ImportFileError as error:
        raise fail(str(error)) from None
    records = [Record(topic, row.key or b"", row.value or b"") for row in rows]
    problem = next(
        (
            f"{file} {row.where}: {reason}"
            for row, reason in zip(rows, unshapeable(records, mapping), strict=True)
            if reason is not None
        ),
        None,
    )
    if problem is not None:
        raise fail(f"--shape: {problem}; nothing was sent")
    _send(shaped(records, erp, mapping), f"{file.name} -> {topic}, {erp.name} shape")
    console.print(f"read them with STOCKLOOP_MAPPING_FILE={PACKS[erp.name]}")


def _send(changes: Iterable[Change], description: str) -> None:
    """Publish records in order to their topics (checked first), with a progress bar."""
    settings = Settings()
    records = [
        (f"record {n}", settings.topic(change.topic), change.key, change.value)
        for n, change in enumerate(changes, start=1)
    ]
    check_topics(settings, sorted({topic for _, topic, _, _ in records}))
    with _progress() as progress:
        task = progress.add_task(description, total=len(records))
        summary = publish(settings, records, lambda: progress.advance(task))
    _report(summary)


def _list_scenarios() -> None:
    """Print the scenario library: name, days, materials, first day, story."""
    table = Table("scenario", "days", "materials", "from", "story", box=None)
    for name, story in SCENARIOS.items():
        table.add_row(name, str(story.days), str(len(story.demand)), str(story.start), story.story)
    console.print(table)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _report(summary: ProduceSummary) -> None:
    """Print what was sent, by kind, and what failed; exit 1 if anything failed."""
    console.print(
        f"sent {summary.sent}, failed {len(summary.failed)} (sent: keyed {summary.keyed}, "
        f"unkeyed {summary.unkeyed}, tombstones {summary.tombstones})"
    )
    for failure in summary.failed[:20]:
        console.print(f"  [red]{failure}[/red]")
    if summary.failed:
        raise typer.Exit(1)
