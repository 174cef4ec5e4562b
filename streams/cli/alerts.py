"""``stockloop alerts``: read open alerts from a worker's API, acknowledge them, silence them."""

import difflib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from kafka.partitioner.default import murmur2
from rich.console import Console
from rich.table import Table

from models.alerting import Alert, muted_by
from models.alerts import Acknowledge, AlertActionNotice, Expire, Silence
from models.events import encode
from models.health import SEVERITIES, AlertRow
from models.priority import ValueAtRisk
from streams.catalogue import ALERT_ACTIONS, ALERTS, MATERIAL_EVENTS, load_catalogue
from streams.cli.kafka import check_topics, fail, publish, read
from streams.settings import Settings

app = typer.Typer(
    help="Open alerts (from a worker's API), and actions on them.", no_args_is_help=True
)
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
    """Open alerts, highest value at risk first (the worse severity breaks ties).

    Read from a worker's API (GET /api/alerts, every page), which any worker
    answers for all partitions from the materials' alert books: nothing is
    read from the alerts topic, so it answers as fast for a year-old
    deployment as for a new one.

    Value at risk is money, whatever the rule: the order value a shortage
    leaves unserved (weighted by customer tier) plus contractual penalties,
    or the holding cost and write-off of the capital that idle stock ties
    up; "made of" says which. "key" is what `alerts ack` takes; "ack" who
    acknowledged the alert. "as of" is the event time the alert's numbers
    were last published: the numbers in "why" are from its last transition
    (a rule's update_on decides which changes count; a value at risk that
    moves by more than the update threshold is published too).

    Silenced and inhibited alerts (e.g. below safety stock while a stock-out
    risk is open for the same item) are counted but not listed, unless --all,
    which marks them in "suppressed".
    """
    still_open = api_open_alerts(Settings())
    suppressed = [a for a in still_open if a.silenced or a.inhibited]
    if not all_:
        still_open = [a for a in still_open if not (a.silenced or a.inhibited)]
    console.print(listing(still_open, limit, all_))
    if suppressed and not all_:
        console.print(f"{len(suppressed)} silenced or inhibited alert(s) not shown (--all)")


PER_PAGE = 500
"""Alerts asked for per request (the API's most)."""


def api_open_alerts(settings: Settings) -> list[AlertRow]:
    """Every open alert, from the worker at ``settings``' web address (GET /api/alerts).

    Pages are read one after another; an alert that moves between two
    reads (its value at risk changed) is kept once.
    """
    url = f"http://{settings.web_host}:{settings.web_port}/api/alerts"
    rows: dict[str, AlertRow] = {}
    page, pages = 1, 1
    while page <= pages:
        answer = _get(url, {"page": page, "per_page": PER_PAGE})
        for item in answer["items"]:
            row = AlertRow.model_validate(item)
            rows.setdefault(row.key, row)
        pages = answer["pages"]
        page += 1
    return list(rows.values())


def _get(url: str, params: dict[str, int]) -> dict[str, Any]:
    """A worker's JSON answer; one error line (and exit 1) if no worker gives one."""
    try:
        response = httpx.get(url, params=params, timeout=30)
    except httpx.HTTPError as error:
        raise fail(
            f"no worker answers at {url}: {error or type(error).__name__}; "
            "start one with `stockloop worker` (STOCKLOOP_WEB_HOST / STOCKLOOP_WEB_PORT)"
        ) from None
    if response.status_code != 200:
        try:
            reason = response.json().get("error", "")
        except ValueError:
            reason = response.text[:200]
        raise fail(f"the worker at {url} answered {response.status_code}: {reason}")
    return response.json()


_SEVERITY_RANK = {severity: n for n, severity in enumerate(SEVERITIES)}


def by_value_at_risk(alerts: list[AlertRow]) -> list[AlertRow]:
    """Alerts highest value at risk first, then the worse severity, then by key (as the API)."""
    return sorted(
        alerts,
        key=lambda a: (-a.value_at_risk, _SEVERITY_RANK.get(a.severity, len(SEVERITIES)), a.key),
    )


def made_of(alert: AlertRow) -> str:
    """What an alert's value at risk is made of, for a person ("" if its state does not say).

    Alerts whose last transition came before the book kept the parts carry
    a value without them.
    """
    parts = ValueAtRisk.model_validate(alert.made_of)
    if parts.total == 0 and alert.value_at_risk != 0:
        return ""
    return parts.describe()


def listing(alerts: list[AlertRow], limit: int, all_: bool) -> Table:
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
            f"{alert.value_at_risk:,.2f}",
            made_of(alert),
            f"{alert.updated_at or alert.active_since:%Y-%m-%d %H:%M}",
            alert.acknowledged_by or "",
        ]
        if all_:
            row.append(muted_by(alert.silenced, alert.inhibited))
        table.add_row(*row, alert.why)
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
