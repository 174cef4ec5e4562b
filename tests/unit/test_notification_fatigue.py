"""The notification-fatigue benchmark, small: a few materials over two months of event time."""

from datetime import timedelta
from functools import cache

import pytest

from benchmarks.alert_fatigue import MaterialSim, Tally, Window, replay
from benchmarks.notification_fatigue import Plant, measure, simulate
from models.notifications import Urgency
from models.planning import PlanningConfig
from models.routing import default_routing, load_routing
from models.rules.spec import builtin_rules

DIGEST_ONLY = load_routing(
    "people: {li: {channels: {email: li@example.com}}}\nroute: {receivers: [li], digest: true}\n",
    "digest-only.yaml",
)


@cache
def plant(digest_only: bool = False, respond_after: timedelta | None = None) -> Plant:
    """Four materials (smooth ones among them), 30 days of warm-up, 30 measured.

    Shipped routes: the materials are owned by li.na and anna in turn.
    """
    return simulate(
        materials=4,
        days=30,
        warmup=30,
        seed=4,
        rules=builtin_rules(),
        routing=DIGEST_ONLY if digest_only else default_routing(),
        respond_after=respond_after,
        owners=() if digest_only else ("li.na", "anna"),
    )


def test_the_report_gives_each_figure_per_material_month_and_per_recipient_day():
    routing = default_routing()
    report = measure(plant())
    assert (report.materials, report.days) == (4, 30)
    assert report.alert_events_per_material_month > 0
    assert set(report.interruptions_by_urgency) == {"immediate", "reminder", "escalation"}
    assert report.interruptions_per_material_month == pytest.approx(
        sum(report.interruptions_by_urgency.values())
    )
    assert report.recipients
    for row in report.recipients:
        assert row.recipient in routing.people
        assert set(row.by_urgency) == {u.value for u in Urgency}
        assert row.per_day == pytest.approx(sum(row.by_urgency.values()))
        assert 1 <= row.max_per_day <= report.notifications_per_recipient_day_max
    assert report.notifications_per_recipient_day_mean == pytest.approx(
        sum(row.per_day for row in report.recipients) / len(report.recipients)
    )
    assert report.digests_per_recipient_day == pytest.approx(
        sum(row.by_urgency["digest"] for row in report.recipients) / len(report.recipients)
    )


def test_every_critical_alert_that_lasts_past_the_tick_reaches_someone_outside_the_digest():
    critical = measure(plant()).critical
    assert critical.alerts > 0
    assert critical.every_lasting_one
    assert len(critical.undelivered) == critical.alerts - critical.alerts_delivered
    assert critical.alerts <= critical.transitions
    assert critical.transitions_delivered <= critical.transitions
    assert 0 <= critical.latency_minutes_p50 <= critical.latency_minutes_max


def test_critical_alerts_sent_only_in_the_digest_count_as_undelivered():
    report = measure(plant(digest_only=True))
    assert report.critical.alerts > 0
    assert (report.critical.alerts_delivered, report.critical.transitions_delivered) == (0, 0)
    assert len(report.critical.undelivered) == report.critical.alerts
    assert not report.critical.every_lasting_one
    assert report.interruptions_per_material_month == 0
    assert report.digests_per_recipient_day > 0
    assert not report.meets_target


def test_nobody_acknowledging_gives_the_alert_fatigue_replays_transitions():
    window = Window(plant().window.start, plant().window.end)
    for index, transitions in enumerate(plant().alerts):
        sim = MaterialSim(index, 4, 30, 30)
        expected = []
        replay(
            sim.material_id,
            sim.run(),
            builtin_rules(),
            PlanningConfig(),
            window,
            Tally(),
            transitions=expected,
        )
        assert [(a.id, a.status, a.severity) for a in transitions] == [
            (a.id, a.status, a.severity) for a in expected
        ]


def test_acknowledging_stops_reminders_and_escalations_and_keeps_critical_delivery():
    unanswered = measure(plant())
    answered = measure(plant(respond_after=timedelta(minutes=15)))
    assert unanswered.interruptions_by_urgency["reminder"] > 0
    assert answered.interruptions_by_urgency["reminder"] == 0
    assert answered.interruptions_by_urgency["escalation"] == 0
    assert answered.interruptions_per_material_month < unanswered.interruptions_per_material_month
    assert answered.critical.alerts > 0 and answered.critical.every_lasting_one
    acknowledged = [
        alert
        for material in plant(respond_after=timedelta(minutes=15)).alerts
        for alert in material
        if alert.reason == "acknowledged"
    ]
    assert acknowledged and {alert.acknowledged_by for alert in acknowledged} <= {"li.na", "anna"}
