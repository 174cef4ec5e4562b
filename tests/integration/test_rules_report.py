"""``stockloop rules report`` on the real broker: how each rule's alerts fared.

Three dead parts are played on the pure core (as a worker would, with a
midnight tick a day) and their alerts and reviews produced to the topics as
the worker publishes them; no worker runs. One part's review is decided
(acted on), one part's alert acknowledged on the alert-actions topic, the
third left alone (ignored). The report reads the topics to their end.
"""

from datetime import UTC, datetime, time, timedelta

import pytest

from models.alerting import Alert
from models.alerts import Acknowledge
from models.events import (
    MaterialEvent,
    MaterialMaster,
    MovementType,
    StockMovement,
    encode,
)
from models.reviews import Review, ReviewAction, apply_review_action
from models.rules.spec import builtin_rules
from models.state import MaterialState
from models.step import AppliedEventIds, StepContext, advance, receive
from streams.catalogue import ALERT_ACTIONS, ALERTS, REVIEWS
from tests.integration.harness import Pipeline

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 5, tzinfo=UTC)
DAY = timedelta(days=1)


def dead_part(material_id: str, received_on: int, days: int) -> tuple[list[Alert], list[Review]]:
    """A part received on day ``received_on`` and never issued: its alerts and reviews."""
    state, applied = MaterialState(material_id=material_id), AppliedEventIds()
    context = StepContext(rules=builtin_rules())
    received_at = START + received_on * DAY + timedelta(hours=7)
    for event in (
        MaterialMaster(
            event_id=f"{material_id}-master",
            event_time=START + timedelta(hours=6),
            material_id=material_id,
            name="Special part",
            unit_cost=250.0,
        ),
        StockMovement(
            event_id=f"{material_id}-receipt",
            event_time=received_at,
            material_id=material_id,
            movement_type=MovementType.RECEIPT,
            warehouse_id="W1",
            quantity=100.0,
            unit_cost=250.0,
        ),
    ):
        receive(state, MaterialEvent(event=event), applied, context.planning)
    alerts, reviews = [], []
    for day in range(days):
        midnight = datetime.combine((START + (day + 1) * DAY).date(), time(), UTC)
        result = advance(state, midnight, context)
        alerts += result.alerts
        reviews += result.reviews
    return alerts, reviews


@pytest.fixture
def published(idle_pipeline: Pipeline) -> dict[str, Alert]:
    """The three parts' first dead-stock alerts, keyed by part; their records on the topics."""
    first: dict[str, Alert] = {}
    for material_id, received_on in (("SP-ACTED", 0), ("SP-ACKED", 0), ("SP-IGNORED", 20)):
        alerts, reviews = dead_part(material_id, received_on, days=100)
        first[material_id] = alerts[0]
        for alert in alerts:
            idle_pipeline.send(ALERTS, encode(alert), key=alert.key.encode())
        if material_id == "SP-ACTED":
            opened = reviews[0]
            decided = apply_review_action(
                opened,
                ReviewAction(
                    action="decide",
                    review_id=opened.review_id,
                    material_id=material_id,
                    by="finance-lee",
                    decision="discount",
                    at=opened.at + 2 * DAY,
                ),
            )
            reviews.append(decided)
        for review in reviews:
            idle_pipeline.send(REVIEWS, encode(review), key=review.review_id.encode())
    acked = first["SP-ACKED"]
    ack = Acknowledge(
        alert_key=acked.key, alert_id=acked.alert_id, by="planner-wu", at=acked.at + 3 * DAY
    )
    idle_pipeline.send(ALERT_ACTIONS, encode(ack), key=f"ack:{acked.key}".encode())
    idle_pipeline.send(ALERTS, b"not an alert", key=b"garbage")
    idle_pipeline.flush()
    return first


def test_report_shows_each_rules_alerts_acted_on_acknowledged_and_ignored(
    idle_pipeline: Pipeline, published: dict[str, Alert]
):
    output = idle_pipeline.cli("rules", "report")
    row = next(line for line in output.splitlines() if "dead_stock" in line)
    cells = [cell.strip() for cell in row.split("│") if cell.strip()]
    assert cells[:7] == ["dead_stock", "3", "33% (1)", "33% (1)", "-", "33% (1)", "-"]
    assert cells[7] == "3d", "median time to acknowledgement"
    assert cells[8] == "2d", "median time to action"
    assert f"1 unreadable record(s) on {idle_pipeline.settings.topic(ALERTS)} skipped" in output


def test_report_groups_by_receiver_and_counts_only_alerts_raised_since(
    idle_pipeline: Pipeline, published: dict[str, Alert]
):
    by_receiver = idle_pipeline.cli("rules", "report", "--by", "receiver")
    row = next(line for line in by_receiver.splitlines() if "finance" in line)
    assert row.split("│")[2].strip() == "3"
    later = published["SP-IGNORED"].raised_at - timedelta(hours=1)
    recent = idle_pipeline.cli("rules", "report", "--since", later.strftime("%Y-%m-%dT%H:%M:%S"))
    assert "1 alerts" in recent
    row = next(line for line in recent.splitlines() if "dead_stock" in line)
    cells = [cell.strip() for cell in row.split("│") if cell.strip()]
    assert cells[:2] == ["dead_stock", "1"] and cells[5] == "100% (1)"
