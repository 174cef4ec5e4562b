"""Dead-stock reviews in the material step: opened by alerts, escalated on time, then decided.

A ``dead_stock`` or ``aged_batch`` alert asks a question no rule can answer
(discount it, rework it, write it off?), so the step opens a review that
lists the warehouse's batches and asks each role of the review policy for
its opinion by a deadline (``models.reviews``). Every evaluation checks the
deadlines, so a missed one is escalated at the first midnight or event after
it, in event time. The owner's decision closes the review and acknowledges
the alerts under review: people have decided, repeats would only be noise.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from models.alerts import _OMIT_FALSY, Acknowledge
from models.reviews import (
    Review,
    ReviewAction,
    ReviewPolicy,
    ReviewStatus,
    apply_review_action,
    escalate_overdue,
    open_review,
    review_id,
)

if TYPE_CHECKING:
    from models.alerting import Alert
    from models.state import MaterialState

REVIEW_RULES = frozenset({"dead_stock", "aged_batch"})
"""Rules whose alerts open a review."""


class ReviewBook(BaseModel):
    """A material's reviews that are not decided yet."""

    open: dict[str, Review] = Field(default_factory=dict, **_OMIT_FALSY)

    def record(self, review: Review) -> Review:
        """Keep a review's latest transition (drop it once decided); return it for publishing."""
        if review.status is ReviewStatus.DECIDED:
            self.open.pop(review.review_id, None)
        else:
            self.open[review.review_id] = review
        return review


def review(
    state: "MaterialState", alerts: Iterable["Alert"], now: datetime, policy: ReviewPolicy
) -> list[Review]:
    """Open a review for each dead-stock or aged-batch alert just raised; escalate what is late."""
    book = state.reviews
    transitions = [
        book.record(escalated)
        for open_one in list(book.open.values())
        if now >= open_one.at and (escalated := escalate_overdue(open_one, now)) is not None
    ]
    for alert in alerts:
        if alert.status != "raised" or alert.rule_id not in REVIEW_RULES:
            continue
        stock = state.warehouses.get(alert.warehouse_id)
        if review_id(alert.alert_id) in book.open or stock is None:
            continue
        batches = [(b.batch_id, b.quantity, b.unit_cost, b.received_at) for b in stock.batches]
        opened = open_review(
            state.material_id,
            alert.warehouse_id,
            [alert.alert_id],
            batches,
            state.master.owner if state.master else None,
            now,
            policy,
        )
        transitions.append(book.record(opened))
    return transitions


def act_on_review(state: "MaterialState", action: ReviewAction) -> list[Review]:
    """Apply an opinion or the decision to an open review; raises ``ValueError`` if it cannot.

    A decision acknowledges the alerts under review, which the next
    evaluation publishes (``acknowledged``).
    """
    current = state.reviews.open.get(action.review_id)
    if current is None:
        raise ValueError(
            f"review_id={action.review_id}: no open review of {state.material_id} "
            "(unknown, or decided already)"
        )
    after = state.reviews.record(apply_review_action(current, action))
    if after.status is ReviewStatus.DECIDED:
        for key, alert in state.alerts.alerts.items():
            if alert.id in after.alert_ids:
                state.alerts.apply(
                    Acknowledge(
                        alert_key=key,
                        alert_id=alert.id,
                        by=action.by,
                        at=max(action.at, alert.raised_at),
                        comment=f"review {after.review_id} decided: {after.decision}",
                    )
                )
    return [after]
