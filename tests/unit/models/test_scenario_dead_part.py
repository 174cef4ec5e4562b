"""The article's special-purpose part, untouched for half a year, on the pure core (issue #15).

A hundred units of a part bought for one job (250 each, 25,000 on the shelf)
are received and never issued again. The built-in pack calls it up for review
after 60 idle days (``dead_stock`` info), dead stock after 90 (warning), and
its batch aged after 180 days: critical, because the batch is worth more than
10,000. Before issue #15 the ``dead_stock`` warning inhibited the critical
``aged_batch``, so nobody heard of the worst alert of the part's life; now a
source inhibits a target only while at least as severe, and it notifies.

The core is driven as ``benchmarks/alert_fatigue.py`` and the festival
scenario drive it: events received, then ``advance`` to each midnight (the
daily tick that makes time-based rules fire on quiet days).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import cache
from itertools import pairwise

from models.alerting import Alert
from models.events import MaterialEvent, MaterialMaster, MovementType, StockMovement
from models.reviews import Review
from models.rules.spec import builtin_rules
from models.state import MaterialState
from models.step import AppliedEventIds, StepContext, advance, receive

START = datetime(2026, 1, 5, tzinfo=UTC)
MATERIAL = "SP-JIG-7"
QUANTITY = 100.0
UNIT_COST = 250.0
RECEIVED_AT = START + timedelta(hours=7)
DAYS = 182  # every midnight up to and including the one that closes day 181
DAY = timedelta(days=1)


@dataclass
class DeadPart:
    """One run: the part's two ERP events, then a midnight tick a day, and what came out."""

    alerts: list[Alert] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)

    def run(self) -> "DeadPart":
        state = MaterialState(material_id=MATERIAL)
        applied = AppliedEventIds()
        context = StepContext(rules=builtin_rules())
        for event in (
            MaterialMaster(
                event_id=f"{MATERIAL}-master",
                event_time=START + timedelta(hours=6),
                material_id=MATERIAL,
                name="Welding jig for one customer order",
                category="special",
                unit_cost=UNIT_COST,
            ),
            StockMovement(
                event_id=f"{MATERIAL}-receipt",
                event_time=RECEIVED_AT,
                material_id=MATERIAL,
                movement_type=MovementType.RECEIPT,
                warehouse_id="W1",
                quantity=QUANTITY,
                unit_cost=UNIT_COST,
            ),
        ):
            receive(state, MaterialEvent(event=event), applied, context.planning)
        for day in range(DAYS):
            midnight = datetime.combine((START + (day + 1) * DAY).date(), time(), UTC)
            result = advance(state, midnight, context)
            self.alerts += result.alerts
            self.reviews += result.reviews
        return self

    def of(self, rule_id: str) -> list[Alert]:
        return [a for a in self.alerts if a.rule_id == rule_id]


@cache
def dead_part() -> DeadPart:
    return DeadPart().run()


def idle_days(alert: Alert) -> float:
    return (alert.at - RECEIVED_AT) / DAY


def test_dead_part_is_up_for_review_at_60_idle_days_and_dead_stock_at_90():
    dead_stock = dead_part().of("dead_stock")
    raised = dead_stock[0]
    assert (raised.status, raised.severity) == ("raised", "info")
    assert 60 <= idle_days(raised) < 61
    warning = next(a for a in dead_stock if a.severity == "warning")
    assert (warning.status, warning.reason, warning.notify) == ("updated", "severity", True)
    assert 90 <= idle_days(warning) < 91
    assert all(a.alert_id == raised.alert_id for a in dead_stock), "one alert all along"


def test_dead_part_dead_stock_reminders_come_weekly_at_most():
    notified = [a for a in dead_part().of("dead_stock") if a.notify]
    reminders = [a for a in notified if a.status == "repeated"]
    assert reminders
    for earlier, later in pairwise(notified):
        if later.status == "repeated":
            assert later.at - earlier.at >= 7 * DAY


def test_critical_aged_batch_of_a_dead_part_is_not_inhibited_by_the_dead_stock_warning():
    run = dead_part()
    (aged,) = run.of("aged_batch")
    assert 180 < idle_days(aged) <= 181
    assert (aged.status, aged.severity) == ("raised", "critical")
    assert aged.explanation.values["batch_value"] == QUANTITY * UNIT_COST
    dead_stock_then = [a for a in run.of("dead_stock") if a.at <= aged.at][-1]
    assert dead_stock_then.severity == "warning" and dead_stock_then.status != "resolved"
    assert not aged.inhibited and aged.notify


def test_dead_part_opens_a_review_when_it_is_called_up_and_one_for_its_aged_batch():
    run = dead_part()
    opened = {r.alert_ids[0] for r in run.reviews if r.sequence == 0}
    assert run.of("dead_stock")[0].alert_id in opened
    assert run.of("aged_batch")[0].alert_id in opened
