"""``stockloop reviews``, its pure part: folding transitions, order, rows, refusals, help."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from models.reviews import (
    Review,
    ReviewAction,
    ReviewDecision,
    ReviewStatus,
    apply_review_action,
    default_review_policy,
    escalate_overdue,
    open_review,
)
from streams.cli import app
from streams.cli.reviews import (
    LIST_COLUMNS,
    batches_table,
    history,
    history_table,
    latest_by_review,
    listing_order,
    open_tasks,
    refusal,
    review_row,
    reviews_table,
    select,
    sent_line,
    tasks_table,
    unknown_review,
)

T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)
runner = CliRunner()


def opened(
    alert_id: str = "A1",
    material_id: str = "M1",
    owner: str | None = None,
    now: datetime = T0,
    unit_cost: float = 2.5,
) -> Review:
    return open_review(
        material_id,
        "W1",
        [alert_id],
        [
            ("B7", 40.0, unit_cost, now - timedelta(days=400)),
            ("B9", 1234.5, unit_cost, now - timedelta(days=200)),
        ],
        owner=owner,
        now=now,
        policy=default_review_policy(),
    )


def opinion(review: Review, role: str = "sales", by: str = "lin", hours: int = 1) -> ReviewAction:
    return ReviewAction(
        action="opinion",
        review_id=review.review_id,
        material_id=review.material_id,
        role=role,
        by=by,
        text="sell it at 30 % off",
        at=T0 + timedelta(hours=hours),
    )


def decision(review: Review, days: int = 9) -> ReviewAction:
    return ReviewAction(
        action="decide",
        review_id=review.review_id,
        material_id=review.material_id,
        by="ana",
        text="finance agrees",
        decision=ReviewDecision.WRITE_OFF,
        at=T0 + timedelta(days=days),
    )


def lifecycle() -> list[Review]:
    """A review opened, answered by sales, escalated for the late two, then decided."""
    first = opened()
    answered = apply_review_action(first, opinion(first))
    escalated = escalate_overdue(answered, T0 + timedelta(days=8))
    assert escalated is not None
    decided = apply_review_action(escalated, decision(escalated))
    return [first, answered, escalated, decided]


@given(st.permutations([*lifecycle(), opened("A2")]))
def test_the_state_of_a_review_is_its_highest_sequence_whatever_the_reading_order(
    transitions: list[Review],
):
    latest = latest_by_review(transitions)
    assert latest[opened().review_id].status is ReviewStatus.DECIDED
    assert latest[opened("A2").review_id] == opened("A2")
    assert len(latest) == 2


@given(st.permutations([*lifecycle(), *lifecycle()[1:3]]))
def test_the_history_lists_each_transition_once_by_sequence(transitions: list[Review]):
    steps = history(transitions, opened().review_id)
    assert [s.sequence for s in steps] == [0, 1, 2, 3]
    assert [s.status for s in steps] == [
        ReviewStatus.OPEN,
        ReviewStatus.OPEN,
        ReviewStatus.ESCALATED,
        ReviewStatus.DECIDED,
    ]


def test_the_history_of_an_unknown_review_is_empty():
    assert history(lifecycle(), "0000000000000000") == []


def test_the_list_puts_the_earliest_decision_deadline_first_then_the_larger_value():
    later = opened("A1", now=T0 + timedelta(days=2))
    soon_small = opened("A2", unit_cost=1.0)
    soon_large = opened("A3", unit_cost=9.0)
    ordered = listing_order([later, soon_small, soon_large])
    assert [r.review_id for r in ordered] == [
        soon_large.review_id,
        soon_small.review_id,
        later.review_id,
    ]
    assert soon_large.due == soon_small.due < later.due


def test_select_filters_by_any_of_the_statuses_and_by_material_and_owner():
    decided = lifecycle()[-1]
    m2 = opened("A2", material_id="M2")
    owned = opened("A3", owner="kim")
    everything = [decided, m2, owned]
    assert select(everything) == everything
    assert select(everything, [ReviewStatus.DECIDED]) == [decided]
    assert select(everything, [ReviewStatus.DECIDED, ReviewStatus.OPEN]) == everything
    assert select(everything, material_id="M1") == [decided, owned]
    assert select(everything, material_id="M1", owner="kim") == [owned]
    assert select(everything, owner="nobody") == []


def test_open_tasks_are_the_roles_without_an_opinion_in_the_policys_order():
    first, answered, *_ = lifecycle()
    assert open_tasks(first) == ["sales", "engineering", "finance"]
    assert open_tasks(answered) == ["engineering", "finance"]
    assert open_tasks(apply_review_action(answered, opinion(answered, "finance"))) == [
        "engineering"
    ]


def test_a_row_shows_totals_owner_open_tasks_deadline_and_status():
    answered = lifecycle()[1]
    row = dict(zip(LIST_COLUMNS, review_row(answered), strict=True))
    assert row == {
        "review": answered.review_id,
        "material": "M1",
        "warehouse": "W1",
        "quantity": "1,274.5",
        "value": "3,186.25",
        "owner": "inventory-controller",
        "open tasks": "engineering, finance",
        "due": "2026-03-15 08:00",
        "status": "open",
    }
    everyone_answered = answered
    for role in ("engineering", "finance"):
        everyone_answered = apply_review_action(everyone_answered, opinion(answered, role))
    assert dict(zip(LIST_COLUMNS, review_row(everyone_answered), strict=True))["open tasks"] == "-"


def test_the_tables_render_batches_tasks_and_every_transition():
    steps = lifecycle()
    console = Console(record=True, width=250)
    console.print(reviews_table([steps[-1], opened("A2")], "2 dead-stock reviews"))
    console.print(batches_table(steps[-1]))
    console.print(tasks_table(steps[-1]))
    console.print(history_table(steps))
    text = console.export_text()
    assert steps[0].review_id in text and opened("A2").review_id in text
    assert "B7" in text and "1,234.5" in text and "400" in text
    assert "Can it be reused in another product or reworked?" in text
    assert "sell it at 30 % off" in text and "lin" in text
    assert "overdue: opinion of engineering" in text
    assert "decided write_off by ana: finance agrees" in text


def test_a_second_opinion_of_the_same_role_is_refused_in_one_line():
    answered = lifecycle()[1]
    refused = refusal(answered, opinion(answered, "sales", by="bo", hours=2))
    assert refused == f"review {answered.review_id}: sales gave its opinion already (by lin)"


def test_an_opinion_of_a_role_the_review_does_not_ask_is_refused_naming_the_roles():
    first = opened()
    refused = refusal(first, opinion(first, "quality_lab"))
    assert refused == (
        f"review {first.review_id} asks no opinion of 'quality_lab' "
        "(roles: sales, engineering, finance)"
    )


@pytest.mark.parametrize("kind", ["opinion", "decide"])
def test_nothing_is_taken_after_the_decision(kind: str):
    decided = lifecycle()[-1]
    later = decided.at + timedelta(hours=1)
    action = (
        opinion(decided, "engineering") if kind == "opinion" else decision(decided)
    ).model_copy(update={"at": later})
    refused = refusal(decided, action)
    assert refused is not None and "\n" not in refused
    assert refused.startswith(f"review {decided.review_id} was decided (write_off by ana)")


@pytest.mark.parametrize("index", [0, 2])
def test_an_open_or_escalated_review_takes_an_opinion_of_a_role_still_owing_one_and_a_decision(
    index: int,
):
    review = lifecycle()[index]
    later = review.at + timedelta(hours=1)
    for action in (opinion(review, "engineering"), decision(review)):
        assert refusal(review, action.model_copy(update={"at": later})) is None


def test_an_unknown_review_id_is_refused_with_the_closest_known_one():
    known = [opened().review_id, opened("A2").review_id]
    typo = known[0][:-1] + ("0" if known[0][-1] != "0" else "1")
    assert unknown_review(typo, known) == (
        f"no dead-stock review has id {typo!r}; did you mean {known[0]!r}?"
    )
    assert unknown_review("nothing-like-it", known) == (
        "no dead-stock review has id 'nothing-like-it' (see `stockloop reviews list`)"
    )


def test_the_sent_line_names_the_opinion_or_decision_the_review_and_who():
    first = opened()
    assert sent_line(opinion(first), first, "x.stockloop.review-actions") == (
        f"sent opinion of sales on {first.review_id} (M1 in W1, 1,274.5 worth 3,186.25, open) "
        "by lin: sell it at 30 % off to x.stockloop.review-actions"
    )
    assert sent_line(decision(first), first, "t").startswith(
        f"sent decision write_off on {first.review_id} (M1 in W1"
    )
    assert sent_line(decision(first), first, "t").endswith("by ana: finance agrees to t")


@pytest.mark.parametrize("command", ["list", "show", "opinion", "decide"])
def test_every_reviews_command_says_what_it_does(command: str):
    result = runner.invoke(app, ["reviews", command, "--help"])
    assert result.exit_code == 0, result.output
    summary = result.output.split("Usage:", 1)[1].splitlines()[2].strip()
    assert len(summary.split()) >= 5, result.output


def test_an_opinion_without_text_is_refused_before_anything_is_read():
    result = runner.invoke(app, ["reviews", "opinion", "r1", " ", "--role", "sales", "--by", "lin"])
    assert result.exit_code == 1
    assert "TEXT: give the opinion" in result.output


def test_a_decision_that_is_not_one_of_the_review_decisions_is_refused_with_the_choices():
    result = runner.invoke(app, ["reviews", "decide", "r1", "burn", "--by", "ana"])
    assert result.exit_code == 2
    assert all(choice.value in result.output for choice in ReviewDecision)
