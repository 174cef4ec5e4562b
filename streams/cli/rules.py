"""``stockloop rules``: validate, publish and dry-run alert rule files."""

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from models.facts import scope_of, warehouse_facts
from models.rules.evaluate import evaluate_all
from models.rules.spec import RuleFile, RuleSpecError, builtin_rules, load_rules
from models.state import MaterialState
from streams.catalogue import RULES
from streams.cli.kafka import publish, read
from streams.settings import Settings

app = typer.Typer(
    help="Alert rules: YAML laid over the built-in pack, published live on stockloop.rules.",
    no_args_is_help=True,
)
console = Console()
RuleFileArgument = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="A rules YAML file.")
]


def _load(file: Path) -> RuleFile:
    try:
        return load_rules(file.read_bytes(), base=builtin_rules())
    except RuleSpecError as error:
        for problem in error.problems:
            console.print(f"[red]{file}:[/red] {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@app.command()
def validate(file: RuleFileArgument) -> None:
    """Check a rules file (laid over the built-in pack) and list the rules in force."""
    rules = _load(file)
    table = Table(title=f"{file}: {len(rules.enabled_rules)} rules in force")
    for column in ("rule", "severity", "condition", "for"):
        table.add_column(column)
    for rule in rules.enabled_rules:
        severity = rule.severity if isinstance(rule.severity, str) else "/".join(rule.severity)
        table.add_row(rule.id, severity, str(rule.condition), rule.for_ or "-")
    console.print(table)


@app.command()
def apply(file: RuleFileArgument) -> None:
    """Validate a rules file and publish it on stockloop.rules; workers apply it live."""
    _load(file)
    settings = Settings()
    summary = publish(settings, [(str(file), settings.topic(RULES), b"active", file.read_bytes())])
    if summary.failed:
        console.print(f"[red]error:[/red] {summary.failed[0]}")
        raise typer.Exit(1)
    console.print(
        f"published {file} to {settings.topic(RULES)}; workers pick it up on their next tick"
    )


@app.command("dry-run")
def dry_run(
    file: RuleFileArgument,
    at: Annotated[
        datetime | None,
        typer.Option(help="Evaluate at this time (ISO); default: each material's last event."),
    ] = None,
) -> None:
    """Which materials would alert, at which severity, against the current state.

    Reads the latest state of every material from the worker's changelog
    topic and evaluates the rules; nothing is emitted and no alert changes.
    """
    rules = _load(file)
    settings = Settings()
    states = _current_states(settings)
    table = Table(title=f"{file}: dry run over {len(states)} materials")
    for column in ("material", "warehouse", "rule", "severity", "why"):
        table.add_column(column)
    firing = 0
    for state in sorted(states, key=lambda s: s.material_id):
        now = at.astimezone() if at else state.last_event_time
        if now is None:
            continue
        for warehouse_id, stock in sorted(state.warehouses.items()):
            scope = scope_of(state, warehouse_id)
            for outcome in evaluate_all(rules, warehouse_facts(state, stock, now), scope):
                if outcome.firing:
                    firing += 1
                    table.add_row(
                        state.material_id,
                        warehouse_id,
                        outcome.rule_id,
                        outcome.severity,
                        outcome.explain(),
                    )
    console.print(table)
    console.print(f"{firing} alert(s) would fire; nothing was emitted")


def _current_states(settings: Settings) -> list[MaterialState]:
    """The latest state per material, read from the materials table's changelog topic."""
    latest: dict[bytes, bytes] = {}
    changelog = f"{settings.app_id}-materials-changelog"
    first_worker = (
        f"it appears when the first worker with STOCKLOOP_APP_ID={settings.app_id} starts"
    )
    for record in read(settings, changelog, missing_topic_hint=first_worker):
        if record.value is None:
            latest.pop(record.key, None)
        else:
            latest[record.key] = record.value
    return [MaterialState.model_validate_json(value) for value in latest.values()]
