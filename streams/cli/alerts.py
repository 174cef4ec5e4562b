"""``stockloop alerts``: read alerts, acknowledge them, silence them."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from models.alerting import Alert
from models.alerts import Acknowledge, Expire, Silence
from models.events import encode
from streams.catalogue import ALERT_ACTIONS, ALERTS
from streams.cli.kafka import publish, read
from streams.settings import Settings

app = typer.Typer(help="Alerts on stockloop.alerts, and actions on them.", no_args_is_help=True)
console = Console()
SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def read_alerts(settings: Settings) -> list[Alert]:
    """Every alert transition on the alerts topic so far."""
    records = read(settings, settings.topic(ALERTS))
    return [Alert.model_validate_json(record.value) for record in records]


@app.command("open")
def open_alerts(
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 30,
    all_: Annotated[
        bool, typer.Option("--all", help="Include silenced and inhibited alerts.")
    ] = False,
) -> None:
    """Open alerts, highest value at risk first (days of cover breaks ties).

    "as of" is the event time of the alert's last transition: the numbers in
    "why" are from then (a rule's update_on decides which changes count).

    Silenced and inhibited alerts (e.g. below safety stock while a stock-out
    risk is open for the same item) are counted but not listed, unless --all.
    """
    latest: dict[str, Alert] = {}
    for alert in read_alerts(Settings()):
        latest[alert.key] = alert
    still_open = [a for a in latest.values() if a.status != "resolved"]
    suppressed = [a for a in still_open if a.silenced or a.inhibited]
    if not all_:
        still_open = [a for a in still_open if not (a.silenced or a.inhibited)]
    still_open.sort(key=lambda a: (-a.priority.score, a.explanation.days_of_cover or 0))
    table = Table(title=f"{len(still_open)} open alerts")
    for column in ("severity", "rule", "material", "warehouse", "value at risk", "as of", "why"):
        table.add_column(column, justify="right" if column == "value at risk" else "left")
    for alert in still_open[:limit]:
        severity = alert.severity or "-"
        table.add_row(
            f"[{SEVERITY_STYLE.get(severity, '')}]{severity}[/]",
            alert.rule_id,
            alert.material_id,
            alert.warehouse_id,
            f"{alert.priority.value_at_risk:,.2f}",
            f"{alert.at:%Y-%m-%d %H:%M}",
            alert.explanation.text,
        )
    console.print(table)
    if suppressed and not all_:
        console.print(f"{len(suppressed)} silenced or inhibited alert(s) not shown (--all)")


def _publish(key: str, action: Acknowledge | Silence | Expire) -> None:
    settings = Settings()
    summary = publish(
        settings, [(key, settings.topic(ALERT_ACTIONS), key.encode(), encode(action))]
    )
    if summary.failed:
        console.print(f"[red]error:[/red] {summary.failed[0]}")
        raise typer.Exit(1)
    console.print(f"published {key}")


@app.command()
def ack(
    alert_key: Annotated[str, typer.Argument(help="Alert key: material|warehouse|rule.")],
    by: Annotated[str, typer.Option(help="Who acknowledges.")],
    comment: Annotated[str, typer.Option(help="Why, for the others.")] = "",
) -> None:
    """Acknowledge an open alert: no more repeats until its severity changes."""
    action = Acknowledge(alert_key=alert_key, by=by, at=datetime.now(UTC), comment=comment)
    _publish(f"ack:{alert_key}", action)


@app.command()
def silence(
    match: Annotated[
        list[str], typer.Option(help="label=value, e.g. material_id=HP-200 (repeatable).")
    ],
    until: Annotated[datetime, typer.Option(help="Silence ends at this time (ISO 8601).")],
    by: Annotated[str, typer.Option(help="Who silences.")],
    comment: Annotated[str, typer.Option(help="Why, e.g. 'PO 4711 arrives Friday'.")] = "",
) -> None:
    """Silence matching alerts until a time: tracked, not notified; back when it ends."""
    matchers = dict(item.split("=", 1) for item in match)
    now = datetime.now(UTC)
    action = Silence(
        id=uuid.uuid4().hex[:12],
        matchers=matchers,
        starts_at=now,
        ends_at=until.astimezone(UTC) if until.tzinfo else until.replace(tzinfo=UTC),
        created_by=by,
        comment=comment,
    )
    _publish(f"silence:{action.id}", action)


@app.command()
def expire(
    silence_id: Annotated[str, typer.Argument(help="Id printed by `alerts silence`.")],
) -> None:
    """End a silence now."""
    _publish(f"silence:{silence_id}", Expire(silence_id=silence_id, at=datetime.now(UTC)))
