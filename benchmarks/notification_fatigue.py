"""Notification-fatigue benchmark: what people receive once alerts go through the router.

Issue #14 asks how often a person is interrupted, next to the alert-fatigue
benchmark's alert events per material per month: a person should be
interrupted only for what needs them now, everything else should arrive once
a day in one digest, and nothing critical may be late or lost.

The alerts are the alert-fatigue benchmark's (``benchmarks/alert_fatigue.py``:
the same seeded plant, rules and replay on the pure core). Every alert
transition of every material, in event-time order, goes through ``dispatch``
with a routing file (the shipped ``models/routes.yaml`` unless ``--routes``
says otherwise) into one ``Inbox`` per recipient, exactly as the router
worker does (``agents/notifier.py``): an item is received and ``due`` is
called at its event time, a settlement acknowledges, and an hourly tick calls
``due`` for every inbox. The rules' ``owner`` labels (buyer, planner,
finance, warehouse_lead) are used as they come: a role the directory does not
know leaves the item to the route's other receivers. Nobody acknowledges
anything: the figures are those of a plant where nobody clicks, the worst
case for reminders and escalations. The replay produces alerts only (no
purchase requests, transfers or reviews).

Counted over the measured days (after the warm-up), by the notification's
event time:

* notifications per recipient per day (each recipient's local day), mean over
  the recipients who received any, and the most any recipient got in a day;
* interruptions, every non-digest notification (immediate, reminder,
  escalation), per material per month; and digests per recipient per day;
* critical delivery: a critical transition is delivered when a non-digest
  notification carries its alert at critical severity in that version or a
  later one. Counted for every alert that became critical (raised critical,
  risen to critical, first told after an inhibition): how many were
  delivered, how long after, and how many of the rest were critical for less
  than an hour (ended before the next hourly tick sent what their group
  held); and for every critical transition that notifies (updates and
  repeats too, which the inbox tells only in its next reminder).

The target: at most 1 interruption per material per month while every
critical alert is delivered.

    .venv/bin/python -m benchmarks.notification_fatigue [--materials 50] [--days 30] [--seed 4]
        [--routes my-routes.yaml] [--rules my-rules.yaml]
"""

import heapq
import math
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from benchmarks.alert_fatigue import (
    DAY,
    HOUR,
    MONTH_DAYS,
    START,
    MaterialSim,
    Shipments,
    Tally,
    Window,
    replay,
    ticks,
)
from models.alerting import Alert
from models.dispatch import dispatch, into_inbox, is_news
from models.notifications import Notification, Urgency
from models.notifying import Inbox, due
from models.planning import PlanningConfig
from models.routing import RoutingFile, default_routing, load_routing
from models.rules.spec import RuleFile, builtin_rules, load_rules

console = Console(width=None if sys.stdout.isatty() else 160)

TARGET_INTERRUPTIONS = 1.0
"""Issue #14: at most this many interruptions per material per month."""

DRAIN = DAY
"""Inboxes tick this long past the measured days, so late deliveries are seen."""

SHORT_LIVED = HOUR
"""A critical alert shorter than the benchmark's tick may end before its group's message."""


@dataclass(frozen=True)
class RecipientFigures:
    """What one person received over the measured days, per day."""

    recipient: str
    per_day: float
    max_per_day: int
    by_urgency: dict[str, float]  # urgency -> notifications per day


@dataclass(frozen=True)
class CriticalDelivery:
    """Whether the critical alerts reached someone in a non-digest notification.

    ``alerts``: each time an alert became critical news (raised critical,
    risen to critical, or told for the first time after an inhibition), the
    property issue #14 asks for. ``transitions``: every critical transition
    that notifies, updates and repeats included (the inbox tells those only
    with its next reminder, so a short route ``repeat_interval`` delivers
    more of them). ``short_lived``: undelivered alerts that stopped being
    critical within ``SHORT_LIVED`` (before the benchmark's next hourly tick
    could send what their group held).
    """

    alerts: int
    alerts_delivered: int
    short_lived: int
    transitions: int
    transitions_delivered: int
    latency_minutes_p50: float  # alerts: from becoming critical to the first notification
    latency_minutes_max: float
    undelivered: tuple[str, ...]  # the transition ids of undelivered alerts

    @property
    def every_one(self) -> bool:
        """Every critical alert delivered in a non-digest notification."""
        return self.alerts_delivered == self.alerts

    @property
    def every_lasting_one(self) -> bool:
        """Every critical alert delivered that stayed critical longer than ``SHORT_LIVED``."""
        return self.alerts_delivered + self.short_lived == self.alerts


@dataclass(frozen=True)
class NotificationReport:
    """The notification-fatigue figures of one run, per material per month and per day."""

    materials: int
    days: int
    alert_events_per_material_month: float  # raised + updated + repeated, notified
    notifications_per_recipient_day_mean: float
    notifications_per_recipient_day_max: int
    interruptions_per_material_month: float
    interruptions_by_urgency: dict[str, float]  # per material per month
    materials_interrupted_per_material_month: float  # (message, material) pairs
    digests_per_recipient_day: float
    critical: CriticalDelivery
    recipients: tuple[RecipientFigures, ...]

    @property
    def meets_target(self) -> bool:
        """Issue #14's target: few interruptions, and every critical alert delivered."""
        return (
            self.interruptions_per_material_month <= TARGET_INTERRUPTIONS
            and self.critical.every_one
        )


@dataclass
class Inboxes:
    """Every recipient's inbox, moved in event time as the router worker moves them."""

    routing: RoutingFile
    inboxes: dict[str, Inbox] = field(default_factory=dict)
    sent: list[Notification] = field(default_factory=list)

    def route(self, alert: Alert) -> None:
        """Dispatch one alert transition; receive its items, settle its settlements."""
        for entry in dispatch(alert, self.routing, None):
            inbox = self.inboxes.get(entry.recipient) or Inbox(recipient=entry.recipient)
            self.inboxes[entry.recipient], told = into_inbox(inbox, entry, self.routing.people)
            self.sent.extend(told)

    def tick(self, now: datetime) -> None:
        """Time passes for every inbox: groups, reminders, escalations and digests fall due."""
        for recipient in sorted(self.inboxes):
            inbox, fallen_due = due(self.inboxes[recipient], self.routing.people, now)
            self.inboxes[recipient] = inbox
            self.sent.extend(fallen_due)


def notify(alerts: list[list[Alert]], routing: RoutingFile, until: datetime) -> list[Notification]:
    """Every notification the alerts give, with hourly ticks from ``START`` to ``until``.

    ``alerts`` holds each material's transitions in event-time order; they are
    merged in event time (a tie keeps the materials' order), and a tick at an
    alert's time comes before it.
    """
    inboxes = Inboxes(routing)
    clock = ticks(START, until)
    tick = next(clock, None)
    for alert in heapq.merge(*alerts, key=lambda a: a.at):
        while tick is not None and tick <= alert.at:
            inboxes.tick(tick)
            tick = next(clock, None)
        inboxes.route(alert)
    while tick is not None:
        inboxes.tick(tick)
        tick = next(clock, None)
    return inboxes.sent


def critical_delivery(
    alerts: list[list[Alert]], sent: list[Notification], window: Window
) -> CriticalDelivery:
    """Which critical alerts and transitions of the measured days reached someone at once.

    A transition is delivered when a non-digest notification carries its
    alert at critical severity in its version or a later one (a reminder
    tells the latest version; an update replaces a version still queued).
    """
    told: dict[str, list[tuple[datetime, datetime]]] = {}
    for notification in sent:
        if notification.urgency is Urgency.DIGEST:
            continue
        for item in notification.items:
            if item.severity == "critical":
                told.setdefault(item.subject_id, []).append((notification.at, item.at))
    transitions = delivered = short_lived = 0
    latencies: list[float] = []
    undelivered: list[str] = []
    for material in alerts:
        told_severity: dict[str, str] = {}  # alert id -> severity of its last news
        for index, alert in enumerate(material):
            news = is_news(alert)
            became = news and alert.severity == "critical"
            became = became and told_severity.get(alert.alert_id) != "critical"
            if news:
                told_severity[alert.alert_id] = alert.severity or "info"
            if alert.severity != "critical" or not news or alert.at not in window:
                continue
            moments = [at for at, version in told.get(alert.alert_id, ()) if version >= alert.at]
            transitions += 1
            delivered += bool(moments)
            if not became:
                continue
            if moments:
                latencies.append(max(min(moments) - alert.at, timedelta(0)).total_seconds() / 60)
                continue
            undelivered.append(alert.id)
            ended = next(
                (
                    later.at
                    for later in material[index + 1 :]
                    if later.alert_id == alert.alert_id
                    and (later.status == "resolved" or later.severity != "critical")
                ),
                None,
            )
            short_lived += ended is not None and ended - alert.at < SHORT_LIVED
    return CriticalDelivery(
        alerts=len(latencies) + len(undelivered),
        alerts_delivered=len(latencies),
        short_lived=short_lived,
        transitions=transitions,
        transitions_delivered=delivered,
        latency_minutes_p50=statistics.median(latencies) if latencies else math.nan,
        latency_minutes_max=max(latencies, default=math.nan),
        undelivered=tuple(undelivered),
    )


@dataclass(frozen=True)
class Plant:
    """The alert transitions of a replayed plant, per material in event-time order."""

    alerts: list[list[Alert]]
    tally: Tally  # the alert-fatigue benchmark's counts
    window: Window  # the measured days
    days: int


def simulate(
    materials: int,
    days: int,
    warmup: int,
    seed: int,
    rules: RuleFile,
    shipments: Shipments = Shipments.ISSUE_FIRST,
) -> Plant:
    """Replay the alert-fatigue benchmark's plant on the pure core; keep every transition."""
    window = Window(START + warmup * DAY, START + (warmup + days) * DAY)
    config, tally = PlanningConfig(), Tally()
    alerts: list[list[Alert]] = []
    for index in range(materials):
        sim = MaterialSim(index, seed, warmup, days, shipments)
        transitions: list[Alert] = []
        replay(sim.material_id, sim.run(), rules, config, window, tally, transitions=transitions)
        alerts.append(transitions)
    return Plant(alerts, tally, window, days)


def measure(plant: Plant, routing: RoutingFile) -> NotificationReport:
    """Route the plant's alerts with ``routing``; count by event time in the measured days."""
    alerts, window, days = plant.alerts, plant.window, plant.days
    sent = notify(alerts, routing, window.end + DRAIN)
    materials = len(alerts)
    per_material_month = MONTH_DAYS / days / materials
    counted = [n for n in sent if n.at in window]
    per_recipient: dict[str, Counter] = {}
    per_local_day: Counter = Counter()
    for notification in counted:
        person = routing.people[notification.recipient]
        day = notification.at.astimezone(ZoneInfo(person.timezone)).date()
        per_local_day[notification.recipient, day] += 1
        per_recipient.setdefault(notification.recipient, Counter())[notification.urgency] += 1
    interruptions = [n for n in counted if n.urgency is not Urgency.DIGEST]
    by_urgency = Counter(n.urgency for n in interruptions)
    mentions = sum(len({item.material_id for item in n.items}) for n in interruptions)
    recipients = tuple(
        RecipientFigures(
            recipient=recipient,
            per_day=sum(counts.values()) / days,
            max_per_day=max(n for (r, _), n in per_local_day.items() if r == recipient),
            by_urgency={u.value: counts[u] / days for u in Urgency},
        )
        for recipient, counts in sorted(per_recipient.items())
    )
    events = sum(
        n
        for (_, status, notified), n in plant.tally.transitions.items()
        if notified and status in ("raised", "updated", "repeated")
    )
    return NotificationReport(
        materials=materials,
        days=days,
        alert_events_per_material_month=events * per_material_month,
        notifications_per_recipient_day_mean=(
            len(counted) / len(recipients) / days if recipients else 0.0
        ),
        notifications_per_recipient_day_max=max(per_local_day.values(), default=0),
        interruptions_per_material_month=len(interruptions) * per_material_month,
        interruptions_by_urgency={
            u.value: by_urgency[u] * per_material_month for u in Urgency if u is not Urgency.DIGEST
        },
        materials_interrupted_per_material_month=mentions * per_material_month,
        digests_per_recipient_day=(
            sum(r.by_urgency[Urgency.DIGEST.value] for r in recipients) / len(recipients)
            if recipients
            else 0.0
        ),
        critical=critical_delivery(alerts, sent, window),
        recipients=recipients,
    )


def report(result: NotificationReport, routes: str) -> None:
    """Print the figures next to the alert events, and the target."""
    summary = Table(
        title=f"Notifications: {result.materials} materials, {result.days} days measured, "
        f"routes {routes}; nobody acknowledges",
        title_justify="left",
    )
    summary.add_column("what")
    summary.add_column("value", justify="right")
    summary.add_row(
        "alert events / material / month (alert-fatigue benchmark)",
        f"{result.alert_events_per_material_month:,.1f}",
    )
    summary.add_row(
        "interruptions / material / month (immediate + reminder + escalation)",
        f"{result.interruptions_per_material_month:,.2f}",
        style="bold",
    )
    for urgency, value in result.interruptions_by_urgency.items():
        summary.add_row(f"  {urgency} / material / month", f"{value:,.2f}")
    summary.add_row(
        "  materials named in interruptions / material / month",
        f"{result.materials_interrupted_per_material_month:,.2f}",
    )
    summary.add_row(
        "notifications / recipient / day: mean (recipients with any)",
        f"{result.notifications_per_recipient_day_mean:,.1f}",
    )
    summary.add_row(
        "notifications / recipient / day: max (one person, one local day)",
        f"{result.notifications_per_recipient_day_max:,}",
    )
    summary.add_row("digests / recipient / day", f"{result.digests_per_recipient_day:,.2f}")
    critical = result.critical
    summary.add_row(
        "critical alerts delivered in a non-digest notification",
        f"{critical.alerts_delivered:,} of {critical.alerts:,}",
        style="bold",
    )
    summary.add_row(
        f"  undelivered that were critical < {SHORT_LIVED.total_seconds() / 60:.0f} min",
        f"{critical.short_lived:,}",
    )
    summary.add_row(
        "  minutes from becoming critical to delivery: p50 / max",
        f"{critical.latency_minutes_p50:,.1f} / {critical.latency_minutes_max:,.0f}",
    )
    summary.add_row(
        "critical transitions that notify (updates, repeats) delivered",
        f"{critical.transitions_delivered:,} of {critical.transitions:,}",
    )
    console.print(summary)

    people = Table(title="Per recipient, notifications per day", title_justify="left")
    for column in ("recipient", *(u.value for u in Urgency), "all", "max / day"):
        people.add_column(column, justify="left" if column == "recipient" else "right")
    for row in result.recipients:
        people.add_row(
            row.recipient,
            *(f"{row.by_urgency[u.value]:,.2f}" for u in Urgency),
            f"{row.per_day:,.2f}",
            f"{row.max_per_day:,}",
        )
    console.print(people)
    if critical.undelivered:
        console.print(f"undelivered critical alerts: {', '.join(critical.undelivered[:10])}")
    verdict = "meets" if result.meets_target else "MISSES"
    console.print(
        f"target: <= {TARGET_INTERRUPTIONS:g} interruption / material / month with every "
        f"critical alert delivered: {verdict} it"
    )


def main(
    materials: Annotated[int, typer.Option(min=1, help="Materials to simulate.")] = 50,
    days: Annotated[int, typer.Option(min=1, help="Measured days (a month: 30).")] = 30,
    warmup: Annotated[int, typer.Option(min=14, help="Days before the measured ones.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of the simulated plant.")] = 4,
    shipments: Annotated[
        Shipments, typer.Option(help="Order of a shipment's goods issue and order line update.")
    ] = Shipments.ISSUE_FIRST,
    rules_file: Annotated[
        Path | None,
        typer.Option("--rules", help="A rules file laid over the built-in pack (what-if)."),
    ] = None,
    routes_file: Annotated[
        Path | None,
        typer.Option("--routes", help="A routing file instead of models/routes.yaml (what-if)."),
    ] = None,
) -> None:
    """Notifications per recipient and interruptions per material, from the simulated plant."""
    rules = load_rules(rules_file, base=builtin_rules()) if rules_file else builtin_rules()
    routing = (
        load_routing(routes_file.read_text(encoding="utf-8"), str(routes_file))
        if routes_file
        else default_routing()
    )
    result = measure(simulate(materials, days, warmup, seed, rules, shipments), routing)
    report(result, str(routes_file or "models/routes.yaml"))


if __name__ == "__main__":
    typer.run(main)
