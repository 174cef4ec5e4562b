"""``stockloop rules``: validate, publish and dry-run alert rule files."""

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from models.alerting import (
    AlertPreview,
    Verdict,
    actions_in_force,
    material_clock,
    muted_by,
    preview_alerts,
)
from models.alerts import ALERT_ACTIONS as ALERT_ACTIONS_CODEC
from models.alerts import Acknowledge, Expire, Silence
from models.rules.spec import RuleFile, RuleSpecError, builtin_rules, load_rules
from models.state import MaterialState
from streams.catalogue import ALERT_ACTIONS, RULES
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
        typer.Option(
            help="Evaluate at this time (ISO; UTC if no zone); default: each material's clock."
        ),
    ] = None,
) -> None:
    """What the worker would do with these rules, against the current state.

    Reads the latest state of every material from the worker's changelog
    topic and the silences and acknowledgements in force, and runs the
    worker's own alert lifecycle on a copy of each material (its open and
    pending alerts included): a row says whether the alert would be raised
    now, stay open, be kept by hysteresis, wait out its `for:` (since when,
    due when), or resolve, and whether it would be silenced or inhibited.
    Nothing is emitted and no alert changes.
    """
    rules = _load(file)
    settings = Settings()
    states = _current_states(settings)
    silences, acknowledgements = actions_in_force(_current_actions(settings))
    when = None if at is None else at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    table = Table(title=f"{file}: dry run over {len(states)} materials")
    for column in (
        "material",
        "warehouse",
        "rule",
        "severity",
        "worker would",
        "suppressed",
        "why",
    ):
        table.add_column(column)
    previews: list[AlertPreview] = []
    for state in sorted(states, key=lambda s: s.material_id):
        clock = material_clock(state)
        if clock is None:
            continue
        if when is not None and when > clock:
            state.replan(when, settings.planning)
        now = when or clock
        for row in preview_alerts(state, rules, now, silences, acknowledgements):
            previews.append(row)
            table.add_row(
                row.material_id,
                row.warehouse_id,
                row.rule_id,
                row.severity or "-",
                _would(row),
                muted_by(row.silenced, row.inhibited),
                row.why,
            )
    console.print(table)
    count = Counter(row.verdict for row in previews)
    held = [r for r in previews if r.verdict in (Verdict.RAISE, Verdict.OPEN, Verdict.KEPT)]
    muted = sum(1 for r in held if r.silenced or r.inhibited)
    console.print(
        f"{len(held)} alert(s) would be open ({count[Verdict.RAISE]} raised now, "
        f"{count[Verdict.KEPT]} kept by hysteresis, {muted} silenced or inhibited), "
        f"{count[Verdict.PENDING]} pending their for:, {count[Verdict.RESOLVE]} would resolve; "
        "nothing was emitted"
    )


def _would(row: AlertPreview) -> str:
    """What the worker would do, and the transition it would publish."""
    if row.verdict is Verdict.PENDING and row.since and row.due:
        return f"pending since {row.since:%Y-%m-%d %H:%M}, raised at {row.due:%Y-%m-%d %H:%M}"
    if row.published and row.verdict is not Verdict.RAISE:
        return f"{row.verdict}: {row.published}"
    return str(row.verdict)


def _current_actions(settings: Settings) -> list[Acknowledge | Silence | Expire]:
    """The latest alert action per key, as the worker's mirrored table holds them."""
    latest: dict[bytes, bytes] = {}
    for record in read(settings, settings.topic(ALERT_ACTIONS)):
        if record.value is None:
            latest.pop(record.key, None)
        else:
            latest[record.key] = record.value
    return [ALERT_ACTIONS_CODEC.validate_json(value) for value in latest.values()]


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
