"""``stockloop rules``: validate, publish and dry-run alert rule files; report how alerts fared."""

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from models.alert_quality import AlertQuality, Outcome, QualityRow, summarise
from models.alerting import (
    Alert,
    AlertPreview,
    Verdict,
    actions_in_force,
    material_clock,
    muted_by,
    preview_alerts,
)
from models.alerts import ALERT_ACTIONS as ALERT_ACTIONS_CODEC
from models.alerts import Acknowledge, Expire, Silence
from models.purchasing import PurchaseRequest
from models.reviews import Review
from models.rules.spec import RuleFile, RuleSpecError, builtin_rules, load_rules
from models.state import MaterialState
from models.transfers import Transfer
from streams.catalogue import (
    ALERT_ACTIONS,
    ALERTS,
    PURCHASE_REQUESTS,
    REVIEWS,
    RULES,
    TRANSFERS,
)
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
        pricing = settings.planning.priority
        for row in preview_alerts(state, rules, now, silences, acknowledgements, pricing=pricing):
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


class ReportBy(StrEnum):
    """What ``rules report`` groups alerts by."""

    RULE = "rule"
    RECEIVER = "receiver"


REPORT_COLUMNS = (
    (Outcome.ACTED_ON, "acted on"),
    (Outcome.ACKNOWLEDGED, "acknowledged"),
    (Outcome.RESOLVED_ON_ITS_OWN, "resolved on its own"),
    (Outcome.IGNORED, "ignored"),
    (Outcome.UNHEARD, "unheard"),
)


@app.command()
def report(
    since: Annotated[
        datetime | None,
        typer.Option(help="Only alerts raised at or after this time (ISO; UTC if no zone)."),
    ] = None,
    by: Annotated[
        ReportBy, typer.Option(help="Group by rule, or by receiver (the alert's owner label).")
    ] = ReportBy.RULE,
) -> None:
    """How each rule's alerts fared: acted on, acknowledged, resolved on their own, ignored.

    Reads stockloop.alerts, the acknowledgements on stockloop.alert-actions,
    and the purchase requests, transfers and reviews that answer alerts (they
    carry the alert ids), each to its end. An alert counts once, by the
    first that applies: acted on (a request approved or ordered, a transfer
    approved, shipped or received, a review decided), acknowledged, unheard
    (silenced or inhibited all its life), resolved on its own, or ignored
    (still open, or ended otherwise, with no answer). A rule whose alerts
    mostly resolve on their own or are ignored cries wolf: tune it.
    """
    settings = Settings()
    quality = AlertQuality()
    unreadable = Counter[str]()
    sources: tuple[tuple[str, Callable[[bytes], object], Callable[[object], None]], ...] = (
        (ALERTS, Alert.model_validate_json, quality.add_alert),
        (ALERT_ACTIONS, ALERT_ACTIONS_CODEC.validate_json, _acknowledgement_into(quality)),
        (PURCHASE_REQUESTS, PurchaseRequest.model_validate_json, quality.add_request),
        (TRANSFERS, Transfer.model_validate_json, quality.add_transfer),
        (REVIEWS, Review.model_validate_json, quality.add_review),
    )
    for topic, decode, fold in sources:
        for record in _records(settings, topic, decode, unreadable):
            fold(record)
    start = None if since is None else _utc(since)
    fates = quality.fates(start)
    window = f"since {start:%Y-%m-%d %H:%M} UTC" if start else "all retained"
    title = f"alert quality by {by}: {len(fates)} alerts, {window}"
    console.print(quality_table(summarise(fates, by=by.value), by, title))
    for topic, count in sorted(unreadable.items()):
        console.print(f"[yellow]{count} unreadable record(s) on {topic} skipped[/yellow]")


def quality_table(rows: Iterable[QualityRow], by: ReportBy, title: str) -> Table:
    """The report's table: one row per rule (or receiver), share and count per outcome."""
    table = Table(title=title)
    table.add_column(str(by))
    table.add_column("alerts", justify="right")
    for _, header in REPORT_COLUMNS:
        table.add_column(header, justify="right")
    table.add_column("median to ack", justify="right")
    table.add_column("median to action", justify="right")
    for row in rows:
        table.add_row(
            row.group,
            str(row.alerts),
            *(_share(row, outcome) for outcome, _ in REPORT_COLUMNS),
            _duration(row.median_time_to_ack),
            _duration(row.median_time_to_action),
        )
    return table


def _acknowledgement_into(quality: AlertQuality) -> Callable[[object], None]:
    def fold(action: object) -> None:
        if isinstance(action, Acknowledge):
            quality.add_action(action)

    return fold


def _records(
    settings: Settings, topic: str, decode: Callable[[bytes], object], unreadable: Counter[str]
) -> Iterable[object]:
    """The decoded records of one topic; a record that does not decode is counted, not fatal."""
    name = settings.topic(topic)
    for record in read(settings, name):
        if record.value is None:
            continue
        try:
            yield decode(record.value)
        except ValueError:  # pydantic's ValidationError is one
            unreadable[name] += 1


def _utc(moment: datetime) -> datetime:
    """A time given on the command line, in UTC (UTC if it names no zone)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _share(row: QualityRow, outcome: Outcome) -> str:
    count = row.counts.get(outcome, 0)
    return f"{row.share(outcome):.0%} ({count})" if count else "-"


def _duration(value: timedelta | None) -> str:
    """A duration for people: ``45m``, ``3h20m``, ``2d4h``; ``-`` for none."""
    if value is None:
        return "-"
    minutes = round(value.total_seconds() / 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"
