"""The notification-fatigue benchmark, small: a few materials over two months of event time."""

from functools import cache

import pytest

from benchmarks.notification_fatigue import Plant, measure, simulate
from models.notifications import Urgency
from models.routing import default_routing, load_routing
from models.rules.spec import builtin_rules


@cache
def plant() -> Plant:
    """Four materials (smooth ones among them), 30 days of warm-up, 30 measured."""
    return simulate(materials=4, days=30, warmup=30, seed=4, rules=builtin_rules())


def test_the_report_gives_each_figure_per_material_month_and_per_recipient_day():
    routing = default_routing()
    report = measure(plant(), routing)
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
    critical = measure(plant(), default_routing()).critical
    assert critical.alerts > 0
    assert critical.every_lasting_one
    assert len(critical.undelivered) == critical.alerts - critical.alerts_delivered
    assert critical.alerts <= critical.transitions
    assert critical.transitions_delivered <= critical.transitions
    assert 0 <= critical.latency_minutes_p50 <= critical.latency_minutes_max


def test_critical_alerts_sent_only_in_the_digest_count_as_undelivered():
    digest_only = load_routing(
        "people: {li: {channels: {email: li@example.com}}}\n"
        "route: {receivers: [li], digest: true}\n",
        "digest-only.yaml",
    )
    report = measure(plant(), digest_only)
    assert report.critical.alerts > 0
    assert (report.critical.alerts_delivered, report.critical.transitions_delivered) == (0, 0)
    assert len(report.critical.undelivered) == report.critical.alerts
    assert not report.critical.every_lasting_one
    assert report.interruptions_per_material_month == 0
    assert report.digests_per_recipient_day > 0
    assert not report.meets_target
