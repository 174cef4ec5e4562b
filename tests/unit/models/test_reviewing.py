"""Dead-stock reviews in the material step: opened by the alert, escalated when late, decided."""

from datetime import UTC, datetime, timedelta

import pytest

from models.events import MaterialEvent, StockMovement
from models.reviews import ReviewAction
from models.rules.spec import builtin_rules
from models.state import MaterialState
from models.step import AppliedEventIds, StepContext, advance, decide_review, receive

T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)
CONTEXT = StepContext(rules=builtin_rules())


def shelf_warmer() -> MaterialState:
    """100 received on 5 January and never issued."""
    state = MaterialState(material_id="M1")
    receipt = StockMovement(
        event_id="r1",
        event_time=T0,
        material_id="M1",
        movement_type="receipt",
        warehouse_id="W1",
        quantity=100,
        unit_cost=4.0,
    )
    receive(state, MaterialEvent(event=receipt), AppliedEventIds())
    advance(state, T0, CONTEXT)
    return state


def test_a_dead_stock_alert_opens_one_review_listing_the_batches_and_the_roles():
    state = shelf_warmer()
    result = advance(state, T0 + timedelta(days=70), CONTEXT)
    opened = [r for r in result.reviews if r.status == "open"]
    assert len(opened) == 1
    review = opened[0]
    dead = next(a for a in result.alerts if a.rule_id == "dead_stock" and a.status == "raised")
    assert review.alert_ids == (dead.alert_id,) and review.created_at == dead.at
    assert (review.total_quantity, review.total_value) == (100, 400)
    assert [task.role for task in review.tasks] == ["sales", "engineering", "finance"]
    assert review.owner == "inventory-controller"


def test_missed_opinions_are_escalated_once_at_the_first_evaluation_after_their_deadline():
    state = shelf_warmer()
    opened = next(r for r in advance(state, T0 + timedelta(days=62), CONTEXT).reviews)
    later = advance(state, T0 + timedelta(days=90), CONTEXT).reviews
    escalations = [r for r in later if r.status == "escalated"]
    assert [r.escalated for r in escalations] == [
        ("sales", "engineering"),
        ("sales", "engineering", "finance"),
        ("sales", "engineering", "finance", "decision"),
    ]
    assert escalations[0].at == datetime.combine(
        opened.tasks[0].due.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC
    )


def test_the_decision_closes_the_review_and_acknowledges_its_alert():
    state = shelf_warmer()
    review = advance(state, T0 + timedelta(days=62), CONTEXT).reviews[0]
    decision = ReviewAction(
        action="decide",
        review_id=review.review_id,
        material_id="M1",
        by="ann",
        decision="discount",
        at=T0 + timedelta(days=63),
    )
    (decided,) = decide_review(state, decision).reviews
    assert (decided.status, decided.decision, decided.decided_by) == ("decided", "discount", "ann")
    assert state.reviews.open == {}
    alert = next(a for a in state.alerts.alerts.values() if a.id in review.alert_ids)
    assert alert.acknowledged_by == "ann"
    with pytest.raises(ValueError, match=f"review_id={review.review_id}: no open review"):
        decide_review(state, decision)
