"""Dead-stock review: the policy file, opening, opinions, the decision and escalations."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from models.events import describe_validation_error
from models.reviews import (
    DECISION,
    Review,
    ReviewAction,
    ReviewPolicy,
    ReviewPolicyError,
    ReviewStatus,
    ReviewTransitionError,
    apply_review_action,
    default_review_policy,
    escalate_overdue,
    load_review_policy,
    open_review,
    review_id,
)

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
POLICY = load_review_policy(
    """
decision_deadline_days: 10
default_owner: stock-controller
roles:
  sales: {deadline_days: 3}
  finance: {question: "Write-off value?", deadline_days: 5}
"""
)
BATCHES = [
    ("B1", 40.0, 2.5, T0 - timedelta(days=400)),
    ("B2", 10.0, 3.0, T0 - timedelta(days=200, hours=12)),
]


def days(n: float) -> datetime:
    return T0 + timedelta(days=n)


def opened(owner: str | None = "ann") -> Review:
    return open_review("M1", "W1", ["a1", "a2"], BATCHES, owner, T0, POLICY)


def opinion(role: str, at: datetime, text: str = "no market", by: str = "bo") -> ReviewAction:
    return ReviewAction(
        action="opinion",
        review_id=opened().review_id,
        material_id="M1",
        role=role,
        by=by,
        text=text,
        at=at,
    )


def decide(decision: str, at: datetime, by: str = "ann") -> ReviewAction:
    return ReviewAction(
        action="decide",
        review_id=opened().review_id,
        material_id="M1",
        by=by,
        decision=decision,
        at=at,
    )


# --- policy --------------------------------------------------------------------------------


def test_the_shipped_policy_asks_sales_engineering_and_finance():
    policy = default_review_policy()
    assert list(policy.roles) == ["sales", "engineering", "finance"]
    assert "discount" in policy.roles["sales"].question
    assert "rework" in policy.roles["engineering"].question
    assert "write-off" in policy.roles["finance"].question
    assert (
        policy
        == load_review_policy(Path("models/reviews.yaml").read_text("utf-8"))
        == ReviewPolicy()
    )


def test_a_known_role_without_a_question_gets_its_default_one():
    assert POLICY.roles["sales"].question == "Can it be sold at a discount or in a promotion?"
    assert POLICY.roles["finance"].question == "Write-off value?"


def test_the_master_owner_comes_before_the_default_owner():
    assert POLICY.owner_of("ann") == "ann"
    assert POLICY.owner_of(None) == POLICY.owner_of("  ") == "stock-controller"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "roles: {sales: {deadline_days: -2}}",
            "roles.sales.deadline_days=-2: Input should be greater than 0",
        ),
        (
            "decision_deadline_days: soon",
            "decision_deadline_days='soon': Input should be a valid number",
        ),
        (
            "roles: {legal: {deadline_days: 3}}",
            "roles.legal.question: required",
        ),
        (
            "roles: {Sales Team: {deadline_days: 3}}",
            "roles.Sales Team.[key]='Sales Team': a role is a lowercase name like 'sales'",
        ),
        ("roles: {}", "roles={}: Dictionary should have at least 1 item"),
        (
            "decision_deadline_days: 4\nroles: {sales: {deadline_days: 5}}",
            "roles.sales.deadline_days=5: after decision_deadline_days=4",
        ),
        (
            "decision_deadlin_days: 4",
            "decision_deadlin_days: unknown field (did you mean 'decision_deadline_days'?)",
        ),
        ("default_owner: ''", "default_owner='': String should have at least 1 character"),
        ("version: 2", "version=2: Input should be 1"),
        ("- sales", "a review policy is a mapping"),
        ("roles: {sales: [", "not valid YAML: line 1 col 17"),
    ],
)
def test_a_wrong_policy_is_refused_in_one_line_naming_field_and_value(text, message):
    with pytest.raises(ReviewPolicyError, match=re.escape(message)) as refused:
        load_review_policy(text)
    assert "\n" not in str(refused.value)


def test_an_empty_policy_file_is_the_default_policy():
    assert load_review_policy("") == ReviewPolicy()


# --- opening -------------------------------------------------------------------------------


def test_a_review_lists_batches_with_quantity_value_and_age():
    review = opened()
    assert [(b.batch_id, b.quantity, b.value, b.age_days) for b in review.batches] == [
        ("B1", 40.0, 100.0, 400.0),
        ("B2", 10.0, 30.0, 200.5),
    ]
    assert (review.total_quantity, review.total_value) == (50.0, 130.0)
    assert (review.status, review.sequence, review.id) == ("open", 0, f"{review.review_id}-0")
    assert review.alert_ids == ("a1", "a2")
    assert review.reason == "opened by alert a1"


def test_a_review_has_one_task_per_role_due_after_its_deadline_days():
    review = opened()
    assert [(t.role, t.due, t.opinion) for t in review.tasks] == [
        ("sales", days(3), None),
        ("finance", days(5), None),
    ]
    assert review.due == days(10)


def test_the_review_id_comes_from_the_opening_alert():
    assert opened().review_id == review_id("a1")
    other = open_review("M1", "W1", ["a2", "a1"], BATCHES, None, T0, POLICY)
    assert other.review_id != opened().review_id


def test_without_a_master_owner_the_policy_owner_owns_the_review():
    assert opened(owner=None).owner == "stock-controller"


def test_a_review_without_alert_or_with_a_future_batch_is_refused():
    with pytest.raises(ReviewTransitionError, match="alert_ids is empty"):
        open_review("M1", "W1", [], BATCHES, None, T0, POLICY)
    with pytest.raises(ReviewTransitionError, match="after the review opens"):
        open_review("M1", "W1", ["a1"], [("B9", 1.0, 1.0, days(1))], None, T0, POLICY)


def test_a_review_record_survives_json():
    review = apply_review_action(opened(), opinion("sales", days(1)))
    assert Review.model_validate_json(review.model_dump_json()) == review


# --- actions ---------------------------------------------------------------------------


def test_an_opinion_fills_its_roles_task_and_keeps_the_review_open():
    review = apply_review_action(opened(), opinion("sales", days(1), "20 % off moves it"))
    sales = review.task("sales")
    assert (sales.opinion, sales.by) == ("20 % off moves it", "bo")
    assert review.task("finance").opinion is None
    assert (review.status, review.sequence, review.at) == ("open", 1, days(1))
    assert review.id == f"{review.review_id}-1"


def test_a_decision_closes_the_review():
    review = apply_review_action(opened(), decide("write_off", days(2)))
    assert (review.status, review.decision, review.decided_by) == ("decided", "write_off", "ann")
    assert escalate_overdue(review, days(30)) is None


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (
            [opinion("sales", days(1)), opinion("sales", days(2))],
            "sales gave its opinion already (by bo)",
        ),
        ([opinion("legal", days(1))], "asks no opinion of 'legal' (roles: sales, finance)"),
        (
            [decide("keep", days(1)), opinion("sales", days(2))],
            "was decided (keep by ann): no action after the decision",
        ),
        ([decide("keep", days(1)), decide("write_off", days(2))], "no action after the decision"),
        ([opinion("sales", days(2)), opinion("finance", days(1))], "is before its last transition"),
    ],
)
def test_an_action_the_review_cannot_take_is_refused_in_one_line(actions, message):
    review = opened()
    with pytest.raises(ReviewTransitionError, match=re.escape(message)) as refused:
        for action in actions:
            review = apply_review_action(review, action)
    assert "\n" not in str(refused.value)


def test_an_action_for_another_review_is_refused():
    action = ReviewAction(
        action="decide", review_id="other", material_id="M1", by="ann", decision="keep", at=days(1)
    )
    with pytest.raises(ReviewTransitionError, match="action for review other applied to review"):
        apply_review_action(opened(), action)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"action": "opinion", "text": "x"}, "an opinion names the role that gives it"),
        ({"action": "opinion", "role": "sales"}, "an opinion needs its text"),
        (
            {"action": "opinion", "role": "sales", "text": "x", "decision": "keep"},
            "an opinion carries no decision; send action 'decide'",
        ),
        ({"action": "decide"}, "a decision names what is done: one of discount, promotion"),
        ({"action": "decide", "decision": "keep", "role": "sales"}, "role is for opinions"),
        ({"action": "decide", "decision": "burn"}, "decision='burn': Input should be"),
        ({"action": "approve"}, "action='approve': Input should be 'opinion' or 'decide'"),
        ({"action": "decide", "decision": "keep", "colour": "red"}, "colour: extra inputs"),
    ],
)
def test_a_malformed_action_is_refused_with_a_one_line_reason(fields, message):
    data = {"review_id": "r1", "material_id": "M1", "by": "ann", "at": T0.isoformat(), **fields}
    with pytest.raises(ValidationError) as refused:
        ReviewAction.model_validate(data)
    reason = describe_validation_error(refused.value)
    assert message in reason
    assert "\n" not in reason


# --- deadlines -----------------------------------------------------------------------------


def test_exactly_at_a_deadline_nothing_is_overdue():
    assert escalate_overdue(opened(), days(3)) is None


def test_a_missed_task_deadline_escalates_naming_the_late_role():
    late = escalate_overdue(opened(), days(3) + timedelta(seconds=1))
    assert late is not None
    assert (late.status, late.escalated, late.sequence) == ("escalated", ("sales",), 1)
    assert late.reason == "overdue: opinion of sales"
    assert late.at == days(3) + timedelta(seconds=1)


def test_each_missed_deadline_escalates_once():
    review = opened()
    records = []
    for hour in range(0, 24 * 14, 6):
        late = escalate_overdue(review, T0 + timedelta(hours=hour, seconds=1))
        if late is not None:
            records.append(late)
            review = late
    assert [r.reason for r in records] == [
        "overdue: opinion of sales",
        "overdue: opinion of finance",
        "overdue: decision of ann",
    ]
    assert review.escalated == ("sales", "finance", DECISION)
    assert escalate_overdue(review, days(100)) is None


def test_deadlines_missed_together_escalate_in_one_record():
    late = escalate_overdue(opened(), days(11))
    assert late.reason == "overdue: opinion of sales, opinion of finance, decision of ann"


def test_an_answered_task_is_never_overdue():
    review = apply_review_action(opened(), opinion("sales", days(1)))
    late = escalate_overdue(review, days(4))
    assert late is None


def test_a_late_opinion_is_taken_and_the_review_stays_escalated_until_decided():
    late = escalate_overdue(opened(), days(4))
    answered = apply_review_action(late, opinion("sales", days(4.5)))
    assert (answered.status, answered.task("sales").opinion) == ("escalated", "no market")
    decided = apply_review_action(answered, decide("discount", days(6)))
    assert decided.status is ReviewStatus.DECIDED


def test_an_escalation_before_the_last_transition_is_refused():
    review = apply_review_action(opened(), opinion("sales", days(6)))
    with pytest.raises(ReviewTransitionError, match=r"escalation at .* is before its last"):
        escalate_overdue(review, days(5.5))


@given(st.lists(st.floats(0.0, 20.0), max_size=30))
def test_escalations_never_repeat_a_deadline_whatever_the_ticks(offsets):
    review = opened()
    for offset in sorted(offsets):
        late = escalate_overdue(review, days(offset))
        if late is not None:
            assert late.sequence == review.sequence + 1
            review = late
    assert len(set(review.escalated)) == len(review.escalated)
    expected = [t.role for t in review.tasks if offsets and days(max(offsets)) > t.due]
    if offsets and days(max(offsets)) > review.due:
        expected.append(DECISION)
    assert sorted(review.escalated) == sorted(expected)
