"""Notification-fatigue benchmark: what people receive once alerts go through the router.

Issue #14 asks how often a person is interrupted, next to the alert-fatigue
benchmark's alert events per material per month: a person should be
interrupted only for what needs them now, everything else should arrive once
a day in one digest, and nothing critical may be late or lost.

The plant is the alert-fatigue benchmark's (``benchmarks/alert_fatigue.py``:
the same seeded materials, rules and core), replayed material by material in
one event-time order with the router beside it, as a worker and its router
run: every alert transition goes through ``dispatch`` with a routing file
(the shipped ``models/routes.yaml`` unless ``--routes`` says otherwise) into
one ``Inbox`` per recipient (``agents/notifier.py`` does the same), and each
inbox is woken exactly when ``next_due`` says something of it falls due. The
materials are owned by the people ``--owners`` names, in turn (the material
master's ``owner``, as an ERP says who buys what).

Two plants are run. In the first nobody acknowledges anything: the worst
case for reminders and escalations. In the second each person acknowledges
every alert an interruption tells them ``--respond-after`` (15 minutes) after
it, through the material, as a click on the notification's link does: the
alert publishes ``acknowledged``, which settles it in every inbox, and it
repeats no more until its severity rises. The replay produces alerts only
(no purchase requests, transfers or reviews).

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
  than an hour; and for every critical transition that notifies (updates and
  repeats too, which the inbox tells only in its next reminder).

The target: at most 1 interruption per material per month while every
critical alert is delivered.

    .venv/bin/python -m benchmarks.notification_fatigue [--materials 50] [--days 30] [--seed 4]
        [--routes my-routes.yaml] [--rules my-rules.yaml] [--owners li.na,anna]
        [--respond-after 15m] [--no-worst-case]
"""

import heapq
import math
import statistics
import sys
from collections import Counter
from collections.abc import Sequence
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
    Window,
    ticks,
)
from models.alerting import Alert, apply_action, evaluate_alerts
from models.alerts import Acknowledge
from models.dispatch import dispatch, into_inbox, is_news
from models.events import MaterialEvent, MaterialMaster
from models.notifications import Notification, Urgency
from models.notifying import Inbox, due, next_due
from models.planning import PlanningConfig
from models.routing import RoutingFile, default_routing, format_duration, load_routing
from models.rules.spec import RuleFile, builtin_rules, load_rules, parse_duration
from models.state import MaterialState

console = Console(width=None if sys.stdout.isatty() else 160)

TARGET_INTERRUPTIONS = 1.0
"""Issue #14: at most this many interruptions per material per month."""

DRAIN = DAY
"""Inboxes wake up to this long past the measured days, so late deliveries are seen."""

NOTIFYING = ("raised", "updated", "repeated")
"""Alert transitions the alert-fatigue benchmark counts as alert events when they notify."""

SHORT_LIVED = HOUR
"""Undelivered critical alerts that ended sooner than this are counted apart."""


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
    respond_after: timedelta | None  # None: nobody acknowledges

    @property
    def meets_target(self) -> bool:
        """Issue #14's target: few interruptions, and every critical alert delivered."""
        return (
            self.interruptions_per_material_month <= TARGET_INTERRUPTIONS
            and self.critical.every_one
        )


@dataclass
class Inboxes:
    """Every recipient's inbox, moved in event time as the router worker moves them.

    An inbox is woken (``due``) exactly when ``next_due`` says something of
    it falls due, as a worker ticking every few seconds would, so that a
    message goes out at its own time, not at the next hour.
    """

    routing: RoutingFile
    inboxes: dict[str, Inbox] = field(default_factory=dict)
    sent: list[Notification] = field(default_factory=list)
    wakeups: list[tuple[datetime, str]] = field(default_factory=list)  # a heap
    wake_at: dict[str, datetime] = field(default_factory=dict)

    def route(self, alert: Alert) -> list[Notification]:
        """Dispatch one alert transition; receive its items, settle its settlements."""
        told: list[Notification] = []
        for entry in dispatch(alert, self.routing, None):
            inbox = self.inboxes.get(entry.recipient) or Inbox(recipient=entry.recipient)
            inbox, fallen_due = into_inbox(inbox, entry, self.routing.people)
            self._keep(inbox, alert.at)
            told += fallen_due
        self.sent += told
        return told

    def next_at(self) -> datetime | None:
        """The earliest time an inbox has something due (None: nothing waits)."""
        while self.wakeups and self.wake_at.get(self.wakeups[0][1]) != self.wakeups[0][0]:
            heapq.heappop(self.wakeups)
        return self.wakeups[0][0] if self.wakeups else None

    def wake(self) -> list[Notification]:
        """Call ``due`` on the inbox with the earliest wake-up, at that time."""
        at, recipient = heapq.heappop(self.wakeups)
        del self.wake_at[recipient]
        inbox, told = due(self.inboxes[recipient], self.routing.people, at)
        self._keep(inbox, at)
        self.sent += told
        return told

    def _keep(self, inbox: Inbox, now: datetime) -> None:
        self.inboxes[inbox.recipient] = inbox
        at = next_due(inbox, self.routing.people, now)
        if at is None:
            self.wake_at.pop(inbox.recipient, None)
            return
        at = max(at, now)
        self.wake_at[inbox.recipient] = at
        heapq.heappush(self.wakeups, (at, inbox.recipient))


class MaterialRun:
    """One material replayed step by step, as ``alert_fatigue.replay`` does it in one go.

    Stepping lets an acknowledgement reach the material's alert book at its
    event time, between two evaluations, as the worker applies one from the
    alert-actions topic: the alert publishes ``updated`` / ``acknowledged``,
    which settles it in every inbox, and it repeats no more.
    """

    def __init__(
        self, sim: MaterialSim, owner: str | None, rules: RuleFile, until: datetime
    ) -> None:
        events = sim.run()
        if owner is not None:
            events = [
                e.model_copy(update={"owner": owner}) if isinstance(e, MaterialMaster) else e
                for e in events
            ]
        self.material_id = sim.material_id
        self.rules = rules
        self.config = PlanningConfig()
        self.state = MaterialState(material_id=sim.material_id)
        self._events = iter(events)
        self._event = next(self._events, None)
        self._clock = ticks(START, until)
        self._tick = next(self._clock, None)

    @property
    def next_at(self) -> datetime | None:
        """The event time of the next step: the next event, or the next hourly tick."""
        if self._event is not None and (self._tick is None or self._event.event_time <= self._tick):
            return self._event.event_time
        return self._tick

    def step(self) -> list[Alert]:
        """Apply the next event (or tick), evaluate the rules: the transitions to publish."""
        event, tick = self._event, self._tick
        if event is not None and (tick is None or event.event_time <= tick):
            self.state.apply(MaterialEvent(event=event), self.config)
            self._event = next(self._events, None)
            now = self.state.last_event_time
        else:
            last = self.state.last_event_time
            now = max(tick, last) if last else tick
            self.state.replan(now, self.config)
            self._tick = next(self._clock, None)
        return evaluate_alerts(self.state, self.rules, now)

    def acknowledge(self, alert: Alert, by: str, at: datetime) -> list[Alert]:
        """``by`` acknowledges ``alert`` at ``at``: the transitions it publishes (none if moot)."""
        action = Acknowledge(alert_key=alert.key, alert_id=alert.alert_id, by=by, at=at)
        return apply_action(self.state, action, self.rules)


@dataclass(frozen=True)
class Plant:
    """A replayed plant: each material's alert transitions, and what the router sent."""

    alerts: list[list[Alert]]  # per material, in event-time order, acknowledgements included
    sent: list[Notification]
    routing: RoutingFile
    window: Window  # the measured days
    days: int
    respond_after: timedelta | None  # None: nobody acknowledges


def simulate(
    materials: int,
    days: int,
    warmup: int,
    seed: int,
    rules: RuleFile,
    routing: RoutingFile,
    respond_after: timedelta | None = None,
    owners: Sequence[str] = (),
    shipments: Shipments = Shipments.ISSUE_FIRST,
) -> Plant:
    """Replay the alert-fatigue benchmark's plant on the pure core and route its alerts.

    The materials step together in event time (a tie: the lower index first),
    and the inboxes tick hourly, a tick before a step at the same time.
    ``owners`` become the materials' owners in turn (the material master's
    ``owner``, as an ERP says who buys what); none: the rules' roles stand.
    With ``respond_after``, each person acknowledges every alert an
    interruption tells them that long after it, through the material, as a
    click on the notification's link does.
    """
    window = Window(START + warmup * DAY, START + (warmup + days) * DAY)
    until = window.end + DRAIN
    runs = [
        MaterialRun(
            MaterialSim(index, seed, warmup, days, shipments),
            owners[index % len(owners)] if owners else None,
            rules,
            window.end,
        )
        for index in range(materials)
    ]
    alerts: list[list[Alert]] = [[] for _ in runs]
    latest: dict[str, tuple[int, Alert]] = {}  # alert id -> its material and latest transition
    responses: list[tuple[datetime, int, str, str]] = []  # (at, order, alert id, person)
    asked: set[str] = set()  # "alert id|person": a response is on its way
    inboxes = Inboxes(routing)
    steps = [(run.next_at, index) for index, run in enumerate(runs) if run.next_at is not None]
    heapq.heapify(steps)

    def publish(index: int, transitions: list[Alert]) -> None:
        for alert in transitions:
            alerts[index].append(alert)
            latest[alert.alert_id] = (index, alert)
            ask(inboxes.route(alert))

    def ask(told: list[Notification]) -> None:
        if respond_after is None:
            return
        for notification in told:
            if notification.urgency is Urgency.DIGEST:
                continue
            for item in notification.items:
                key = f"{item.subject_id}|{notification.recipient}"
                if item.kind == "alert" and key not in asked:
                    asked.add(key)
                    at = notification.at + respond_after
                    heapq.heappush(
                        responses, (at, len(asked), item.subject_id, notification.recipient)
                    )

    while True:
        wake_at = inboxes.next_at()
        wake_at = wake_at if wake_at is not None and wake_at < until else None
        step_at = steps[0][0] if steps else None
        response_at = responses[0][0] if responses else None
        moments = [m for m in (wake_at, response_at, step_at) if m is not None]
        if not moments:
            break
        now = min(moments)
        if now == wake_at:
            ask(inboxes.wake())
        elif now == response_at:
            _, _, alert_id, person = heapq.heappop(responses)
            index, alert = latest[alert_id]
            publish(index, runs[index].acknowledge(alert, person, now))
        else:
            _, index = heapq.heappop(steps)
            publish(index, runs[index].step())
            if runs[index].next_at is not None:
                heapq.heappush(steps, (runs[index].next_at, index))
    return Plant(alerts, inboxes.sent, routing, window, days, respond_after)


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


def measure(plant: Plant) -> NotificationReport:
    """What the plant's people were sent, counted by event time in the measured days."""
    alerts, sent, routing = plant.alerts, plant.sent, plant.routing
    window, days = plant.window, plant.days
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
        1
        for material in alerts
        for alert in material
        if alert.notify and alert.status in NOTIFYING and alert.at in window
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
        respond_after=plant.respond_after,
    )


def report(result: NotificationReport, routes: str) -> None:
    """Print the figures next to the alert events, and the target."""
    people_do = (
        "nobody acknowledges"
        if result.respond_after is None
        else f"each person acknowledges {format_duration(result.respond_after)} after an "
        "interruption"
    )
    summary = Table(
        title=f"Notifications: {result.materials} materials, {result.days} days measured, "
        f"routes {routes}; {people_do}",
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
    owners: Annotated[
        str,
        typer.Option(
            help="Comma-separated people of the routing file who own the materials in turn "
            "(the material master's owner); empty: the rules' roles stand."
        ),
    ] = "li.na,anna",
    respond_after: Annotated[
        str,
        typer.Option(
            help="How long after an interruption its recipient acknowledges what it tells, "
            "e.g. 15m, 2h."
        ),
    ] = "15m",
    worst_case: Annotated[
        bool,
        typer.Option(help="Also run the plant where nobody acknowledges anything."),
    ] = True,
) -> None:
    """Notifications per recipient and interruptions per material, from the simulated plant."""
    rules = load_rules(rules_file, base=builtin_rules()) if rules_file else builtin_rules()
    routing = (
        load_routing(routes_file.read_text(encoding="utf-8"), str(routes_file))
        if routes_file
        else default_routing()
    )
    owned_by = tuple(name.strip() for name in owners.split(",") if name.strip())
    unknown = [name for name in owned_by if name not in routing.people]
    if unknown:
        raise typer.BadParameter(
            f"{', '.join(unknown)}: not a person of the routing file "
            f"(people: {', '.join(routing.people)})",
            param_hint="--owners",
        )
    try:
        response = timedelta(seconds=parse_duration(respond_after))
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--respond-after") from None
    source = str(routes_file or "models/routes.yaml")
    for after in (None, response) if worst_case else (response,):
        plant = simulate(materials, days, warmup, seed, rules, routing, after, owned_by, shipments)
        report(measure(plant), source)


if __name__ == "__main__":
    typer.run(main)
