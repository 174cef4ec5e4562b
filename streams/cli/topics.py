"""``stockloop topics``: create the catalogue's topics and compare them with the broker's."""

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table

from connectors.topic_admin import (
    TopicAction,
    TopicAdminError,
    TopicListing,
    TopicReport,
    apply_catalogue,
    list_topics,
)
from connectors.topic_cleanup import delete_topics, find_deployment_topics
from streams.catalogue import load_catalogue
from streams.settings import Settings

app = typer.Typer(
    help="The topics declared in topics.yaml (STOCKLOOP_TOPICS_FILE), named with "
    "STOCKLOOP_TOPIC_PREFIX in front.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

ACTION_STYLES = {TopicAction.CREATED: "green", TopicAction.OK: "dim", TopicAction.DRIFT: "yellow"}
DRIFT_EXIT_CODE = 2


def _fail(exc: TopicAdminError) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


@app.command("apply")
def apply(
    strict: Annotated[
        bool,
        typer.Option("--strict", help=f"Exit with code {DRIFT_EXIT_CODE} if any topic drifts."),
    ] = False,
) -> None:
    """Create the missing topics; report existing ones that differ from topics.yaml.

    Drift (partitions, replication, configs) is reported, never changed:
    adding partitions moves keys, and a config change can drop data.
    Safe to run again: a second run creates nothing and reports every topic ok.
    """
    settings = Settings()
    try:
        reports = apply_catalogue(load_catalogue(settings.topics_file), settings)
    except TopicAdminError as exc:
        raise _fail(exc) from exc
    console.print(_reports_table(reports))
    drifted = [report.topic for report in reports if report.action is TopicAction.DRIFT]
    if drifted:
        err_console.print(
            f"[yellow]warning:[/yellow] {len(drifted)} topic(s) differ from topics.yaml "
            f"({', '.join(drifted)}); nothing was changed on them",
            highlight=False,
            soft_wrap=True,
        )
        if strict:
            raise typer.Exit(DRIFT_EXIT_CODE)


@app.command("list")
def list_() -> None:
    """Show every catalogue topic: whether it exists, partitions, key and value."""
    settings = Settings()
    try:
        listings = list_topics(load_catalogue(settings.topics_file), settings)
    except TopicAdminError as exc:
        raise _fail(exc) from exc
    console.print(_listings_table(listings))


@app.command("delete")
def delete(
    yes: Annotated[bool, typer.Option("--yes", help="Delete without asking first.")] = False,
) -> None:
    """Delete this deployment's topics, for a demo or test run that is over.

    Its topics are the catalogue's under STOCKLOOP_TOPIC_PREFIX and those the
    worker created under STOCKLOOP_APP_ID (table changelogs, the leader
    topic). Their records are gone for good: stop the deployment's workers first.
    """
    settings = Settings()
    try:
        topics = find_deployment_topics(load_catalogue(settings.topics_file), settings)
        if not topics:
            console.print("no topics of this deployment on the broker", highlight=False)
            return
        console.print("\n".join(topics), highlight=False)
        if not yes:
            typer.confirm(f"delete these {len(topics)} topics?", abort=True)
        delete_topics(topics, settings)
    except TopicAdminError as exc:
        raise _fail(exc) from exc
    console.print(f"deleted {len(topics)} topics", highlight=False)


def _reports_table(reports: list[TopicReport]) -> Table:
    table = Table(Column("topic", no_wrap=True), "action", "details")
    for report in reports:
        style = ACTION_STYLES[report.action]
        table.add_row(
            report.topic, f"[{style}]{report.action}[/{style}]", "\n".join(report.details)
        )
    return table


def _listings_table(listings: list[TopicListing]) -> Table:
    table = Table(
        Column("topic", no_wrap=True),
        Column("partitions\nhave / declared", no_wrap=True),
        "what it holds",
    )
    for listing in listings:
        if listing.partitions is None:
            partitions = f"[yellow]missing[/yellow] / {listing.declared_partitions}"
        elif listing.partitions != listing.declared_partitions:
            partitions = f"[yellow]{listing.partitions}[/yellow] / {listing.declared_partitions}"
        else:
            partitions = f"{listing.partitions} / {listing.declared_partitions}"
        holds = f"{listing.description}\n[dim]key: {listing.key}\nvalue: {listing.value}[/dim]"
        table.add_row(listing.topic, partitions, holds)
    return table
