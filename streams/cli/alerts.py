"""``stockloop alerts``: read alerts, acknowledge them, silence them."""

import difflib
import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer
from kafka.partitioner.default import murmur2
from rich.console import Console
from rich.table import Table

from models.alerting import Alert, muted_by
from models.alerts import Acknowledge, AlertActionNotice, Expire, Silence
from models.events import encode
from streams.catalogue import ALERT_ACTIONS, ALERTS, MATERIAL_EVENTS, load_catalogue
from streams.cli.kafka import check_topics, fail, publish, read
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
        bool, typer.Option("--all", help="Include silenced and inhibited alerts, marked.")
    ] = False,
) -> None:
    """Open alerts, highest value at risk first (days of cover breaks ties).

    Value at risk is money, whatever the rule: the order value a shortage
    leaves unserved (weighted by customer tier) plus contractual penalties,
    or the holding cost and write-off of the capital that idle stock ties
    up; "made of" says which. "key" is what `alerts ack` takes; "ack" who
    acknowledged the alert. "as of" is the event time of the alert's last
    transition: the numbers in "why" are from then (a rule's update_on
    decides which changes count; a value at risk that moves by more than
    the update threshold is published too).

    Silenced and inhibited alerts (e.g. below safety stock while a stock-out
    risk is open for the same item) are counted but not listed, unless --all,
    which marks them in "suppressed". The worker publishes every change of
    suppression and acknowledgement, so this agrees with its API.
    """
    still_open = list(open_alerts_by_key(Settings()).values())
    suppressed = [a for a in still_open if a.silenced or a.inhibited]
    if not all_:
        still_open = [a for a in still_open if not (a.silenced or a.inhibited)]
    console.print(listing(still_open, limit, all_))
    if suppressed and not all_:
        console.print(f"{len(suppressed)} silenced or inhibited alert(s) not shown (--all)")


def by_value_at_risk(alerts: list[Alert]) -> list[Alert]:
    """Alerts highest value at risk first; less days of cover first among equal values."""
    return sorted(alerts, key=lambda a: (-a.priority.score, a.explanation.days_of_cover or 0))


def made_of(alert: Alert) -> str:
    """What an alert's value at risk is made of, for a person ("" if its record does not say).

    Records published before the parts were recorded carry a value without them.
    """
    parts = alert.priority.made_of
    if parts.total == 0 and alert.priority.value_at_risk != 0:
        return ""
    return parts.describe()


def listing(alerts: list[Alert], limit: int, all_: bool) -> Table:
    """The table of ``alerts open``: ranked by money, each with what its value is made of."""
    ranked = by_value_at_risk(alerts)
    table = Table(title=f"{len(ranked)} open alerts")
    columns = ["severity", "key", "value at risk", "made of", "as of", "ack"]
    columns += ["suppressed", "why"] if all_ else ["why"]
    for column in columns:
        table.add_column(column, justify="right" if column == "value at risk" else "left")
    for alert in ranked[:limit]:
        severity = alert.severity or "-"
        row = [
            f"[{SEVERITY_STYLE.get(severity, '')}]{severity}[/]",
            alert.key,
            f"{alert.priority.value_at_risk:,.2f}",
            made_of(alert),
            f"{alert.at:%Y-%m-%d %H:%M}",
            alert.acknowledged_by or "",
        ]
        if all_:
            row.append(muted_by(alert.silenced, alert.inhibited))
        table.add_row(*row, alert.explanation.text)
    return table


def open_alerts_by_key(settings: Settings) -> dict[str, Alert]:
    """The open alerts: the latest transition of each key, unless it resolved the alert."""
    latest: dict[str, Alert] = {}
    for alert in read_alerts(settings):
        latest[alert.key] = alert
    return {key: alert for key, alert in latest.items() if alert.status != "resolved"}


def _publish(
    settings: Settings,
    label: str,
    action: Acknowledge | Silence | Expire,
    material_id: str | None,
) -> None:
    """Publish an action, and its notice so the worker applies it at once.

    An action for one material (an acknowledgement, a silence matching a
    material id) goes to that material's partition, keyed by it, in order
    with its events; any other silence or expiry to every partition.
    """
    notice = encode(AlertActionNotice(material_id=material_id, action=action))
    partitions = load_catalogue(settings.topics_file)[MATERIAL_EVENTS].partitions
    keys = [material_id.encode()] if material_id else _key_per_partition(partitions)
    events_topic = settings.topic(MATERIAL_EVENTS)
    summary = publish(
        settings,
        [
            (label, settings.topic(ALERT_ACTIONS), label.encode(), encode(action)),
            *((f"{label} notice", events_topic, key, notice) for key in keys),
        ],
    )
    if summary.failed:
        raise fail(summary.failed[0])


def _key_per_partition(partitions: int) -> list[bytes]:
    """One record key per partition: the producer's hash sends each to a different one."""
    keys: dict[int, bytes] = {}
    n = 0
    while len(keys) < partitions:
        key = f"alert-action-{n}".encode()
        keys.setdefault((murmur2(key) & 0x7FFFFFFF) % partitions, key)
        n += 1
    return [keys[partition] for partition in range(partitions)]


@app.command()
def ack(
    alert_key: Annotated[
        str, typer.Argument(help="Alert key, as `alerts open` shows it: material|warehouse|rule.")
    ],
    by: Annotated[str, typer.Option(help="Who acknowledges.")],
    comment: Annotated[str, typer.Option(help="Why, for the others.")] = "",
) -> None:
    """Acknowledge an open alert: no more repeats until its severity changes.

    The worker applies it at once: `alerts open` and the material's API show
    who acknowledged it.
    """
    settings = Settings()
    check_topics(settings, [settings.topic(t) for t in (ALERT_ACTIONS, ALERTS, MATERIAL_EVENTS)])
    still_open = open_alerts_by_key(settings)
    alert = still_open.get(alert_key)
    if alert is None:
        close = difflib.get_close_matches(alert_key, still_open, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else " (see `stockloop alerts open --all`)"
        raise fail(f"no open alert has key {alert_key!r}{hint}")
    if alert.acknowledged_by:
        console.print(f"{alert_key} is already acknowledged by {alert.acknowledged_by}")
        return
    action = Acknowledge(
        alert_key=alert_key,
        alert_id=alert.alert_id,
        by=by,
        at=datetime.now(UTC),
        comment=comment,
    )
    _publish(settings, f"ack:{alert_key}", action, alert.material_id)
    console.print(f"acknowledged {alert_key} (alert {alert.alert_id}) as {by}")


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
    _publish(Settings(), f"silence:{action.id}", action, matchers.get("material_id"))
    console.print(f"published silence:{action.id}")


@app.command()
def expire(
    silence_id: Annotated[str, typer.Argument(help="Id printed by `alerts silence`.")],
) -> None:
    """End a silence now."""
    action = Expire(silence_id=silence_id, at=datetime.now(UTC))
    _publish(Settings(), f"silence:{silence_id}", action, None)
    console.print(f"published silence:{silence_id}")
