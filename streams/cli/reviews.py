"""``stockloop reviews``: read dead-stock reviews, give a role's opinion, take the decision.

A review is a sequence of transitions on ``stockloop.reviews`` (opened,
opinion, escalated, decided); the transition with the highest sequence is
its state (``latest_by_review``). An opinion or the decision is not applied
here: it is a ``ReviewAction`` sent to ``stockloop.review-actions``, keyed by
the review id, and the worker that owns the review's material applies it and
publishes the next transition. Before sending, the command asks the core
(``models.reviews.apply_review_action``) whether the review, as last
published, would take the action, so an action the worker would refuse (a
role that has answered already, a role the review does not ask, a review
already decided) is refused here in one line, and nothing is sent.
"""

import sys
from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from models.events import describe_validation_error, encode
from models.reviews import (
    Review,
    ReviewAction,
    ReviewDecision,
    ReviewStatus,
    ReviewTransitionError,
    apply_review_action,
)
from streams.catalogue import REVIEW_ACTIONS, REVIEWS
from streams.cli.kafka import check_topics, fail, publish
from streams.cli.requests import quantity_text
from streams.cli.transitions import read_transitions_of, unknown_id
from streams.settings import Settings

app = typer.Typer(
    help="Dead-stock reviews on stockloop.reviews, and the opinions and decisions on them.",
    no_args_is_help=True,
)
console = Console()

ActionKind = Literal["opinion", "decide"]
STATUS_STYLE = {
    ReviewStatus.OPEN: "cyan",
    ReviewStatus.ESCALATED: "bold red",
    ReviewStatus.DECIDED: "dim",
}


class ListFormat(StrEnum):
    """How ``reviews list`` prints: a table for people, JSON for scripts."""

    TABLE = "table"
    JSON = "json"


# --- the pure part: fold, order, format, refuse ---------------------------------------------


def latest_by_review(transitions: Iterable[Review]) -> dict[str, Review]:
    """Each review's state: its transition with the highest sequence, by review id.

    By sequence, not by arrival: a transition published twice (a worker
    restarted before committing) or read out of order changes nothing.
    """
    latest: dict[str, Review] = {}
    for transition in transitions:
        known = latest.get(transition.review_id)
        if known is None or transition.sequence >= known.sequence:
            latest[transition.review_id] = transition
    return latest


def history(transitions: Iterable[Review], review_id: str) -> list[Review]:
    """Every transition of one review, by sequence; a transition published twice shows once."""
    by_sequence = {t.sequence: t for t in transitions if t.review_id == review_id}
    return [by_sequence[sequence] for sequence in sorted(by_sequence)]


def listing_order(reviews: Iterable[Review]) -> list[Review]:
    """Reviews by the deadline of their decision, the earliest first, then larger values."""
    return sorted(reviews, key=lambda r: (r.due, -r.total_value, r.review_id))


def select(
    reviews: Iterable[Review],
    statuses: Collection[ReviewStatus] = (),
    material_id: str | None = None,
    owner: str | None = None,
) -> list[Review]:
    """The reviews in one of ``statuses`` (any when empty), of a material and of an owner."""
    return [
        r
        for r in reviews
        if (not statuses or r.status in statuses)
        and (material_id is None or r.material_id == material_id)
        and (owner is None or r.owner == owner)
    ]


def open_tasks(review: Review) -> list[str]:
    """The roles still owing their opinion, in the order the policy lists them."""
    return [task.role for task in review.tasks if task.opinion is None]


def review_row(review: Review) -> tuple[str, ...]:
    """One review as a row of ``reviews list``, in the order of ``LIST_COLUMNS``."""
    return (
        review.review_id,
        review.material_id,
        review.warehouse_id,
        quantity_text(review.total_quantity),
        f"{review.total_value:,.2f}",
        review.owner,
        ", ".join(open_tasks(review)) or "-",
        _moment(review.due),
        review.status.value,
    )


LIST_COLUMNS = (
    "review",
    "material",
    "warehouse",
    "quantity",
    "value",
    "owner",
    "open tasks",
    "due",
    "status",
)
_RIGHT = {"quantity", "value"}


def reviews_table(reviews: Iterable[Review], title: str) -> Table:
    """The table ``reviews list`` prints, a row per review, status coloured."""
    table = Table(title=title)
    for column in LIST_COLUMNS:
        table.add_column(column, justify="right" if column in _RIGHT else "left")
    for review in reviews:
        *cells, status = review_row(review)
        table.add_row(*cells, f"[{STATUS_STYLE[review.status]}]{status}[/]")
    return table


def batches_table(review: Review) -> Table:
    """The batches under review: how much, what it is worth, how old when the review opened."""
    table = Table(title="batches")
    for column in ("batch", "quantity", "value", "age (days)"):
        table.add_column(column, justify="left" if column == "batch" else "right")
    for batch in review.batches:
        table.add_row(
            batch.batch_id or "-",
            quantity_text(batch.quantity),
            f"{batch.value:,.2f}",
            f"{batch.age_days:,.0f}",
        )
    return table


def tasks_table(review: Review) -> Table:
    """What each role is asked, by when, and its opinion once given."""
    table = Table(title="tasks")
    for column in ("role", "question", "due", "opinion", "by"):
        table.add_column(column)
    for task in review.tasks:
        table.add_row(
            task.role, task.question, _moment(task.due), task.opinion or "-", task.by or "-"
        )
    return table


def history_table(transitions: Iterable[Review]) -> Table:
    """Every transition of a review: to which status, when, and what it did."""
    table = Table(title="transitions")
    for column in ("#", "status", "at", "reason"):
        table.add_column(column, justify="right" if column == "#" else "left")
    for t in transitions:
        table.add_row(str(t.sequence), t.status.value, _moment(t.at), t.reason)
    return table


def unknown_review(review_id: str, known: Collection[str]) -> str:
    """Why a dead-stock review id is refused (``streams.cli.transitions.unknown_id``)."""
    return unknown_id("dead-stock review", review_id, known, "stockloop reviews list")


def refusal(review: Review, action: ReviewAction) -> str | None:
    """Why the worker would refuse ``action`` on ``review`` as last published; None if it takes it.

    The core decides (``apply_review_action``), so the command and the worker
    cannot disagree on which opinions and decisions a review takes.
    """
    try:
        apply_review_action(review, action)
    except ReviewTransitionError as error:
        return str(error)
    return None


def sent_line(action: ReviewAction, review: Review, topic: str) -> str:
    """What an opinion or decision command sent, in one line, for the person who typed it."""
    what = (
        f"opinion of {action.role}" if action.action == "opinion" else f"decision {action.decision}"
    )
    text = f": {action.text}" if action.text else ""
    return (
        f"sent {what} on {action.review_id} ({review.material_id} in {review.warehouse_id}, "
        f"{quantity_text(review.total_quantity)} worth {review.total_value:,.2f}, "
        f"{review.status.value}) by {action.by}{text} to {topic}"
    )


def _moment(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


# --- Kafka ----------------------------------------------------------------------------------


def read_reviews(settings: Settings) -> list[Review]:
    """Every review transition on the topic so far; a record that is not one is skipped, with
    a warning (``streams.cli.transitions.read_transitions_of``)."""
    return read_transitions_of(settings, settings.topic(REVIEWS), Review, "dead-stock reviews")


def _act(
    kind: ActionKind,
    review_id: str,
    by: str,
    text: str,
    role: str | None = None,
    decision: ReviewDecision | None = None,
) -> None:
    """Send one opinion or decision on a review, unless the review is unknown or would refuse it."""
    settings = Settings()
    actions_topic = settings.topic(REVIEW_ACTIONS)
    check_topics(settings, [settings.topic(REVIEWS), actions_topic])
    latest = latest_by_review(read_reviews(settings))
    review = latest.get(review_id)
    if review is None:
        raise fail(unknown_review(review_id, latest))
    try:
        action = ReviewAction(
            action=kind,
            review_id=review_id,
            material_id=review.material_id,
            role=role,
            by=by,
            text=text,
            decision=decision,
            at=datetime.now(UTC),
        )
    except ValidationError as error:
        raise fail(describe_validation_error(error)) from None
    refused = refusal(review, action)
    if refused:
        raise fail(refused)
    label = f"{kind}:{review_id}"
    summary = publish(settings, [(label, actions_topic, review_id.encode(), encode(action))])
    if summary.failed:
        raise fail(summary.failed[0])
    console.print(sent_line(action, review, actions_topic), highlight=False, soft_wrap=True)
    console.print(encode(action).decode(), highlight=False, soft_wrap=True, markup=False)


# --- commands -------------------------------------------------------------------------------

ReviewId = Annotated[
    str,
    typer.Argument(help="Review id, as `reviews list` shows it.", show_default=False),
]
By = Annotated[str, typer.Option(help="Who acts (user name or e-mail).", show_default=False)]


@app.command("list")
def list_reviews(
    status: Annotated[
        list[ReviewStatus] | None,
        typer.Option(help="Only reviews in this status (repeatable).", show_default=False),
    ] = None,
    material: Annotated[
        str | None, typer.Option(help="Only reviews of this material id.", show_default=False)
    ] = None,
    owner: Annotated[
        str | None, typer.Option(help="Only reviews this person owns.", show_default=False)
    ] = None,
    output_format: Annotated[
        ListFormat, typer.Option("--format", help="table for people, json for scripts.")
    ] = ListFormat.TABLE,
) -> None:
    """List dead-stock reviews as they stand now, the earliest decision deadline first.

    One row per review: its latest transition on stockloop.reviews. "open
    tasks" are the roles that have not given their opinion yet; "due" is the
    deadline of the owner's decision; "escalated" means a deadline was missed.
    """
    reviews = listing_order(
        select(latest_by_review(read_reviews(Settings())).values(), status or (), material, owner)
    )
    if output_format is ListFormat.JSON:
        documents = [review.model_dump(mode="json") for review in reviews]
        sys.stdout.write(orjson.dumps(documents, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    console.print(reviews_table(reviews, f"{len(reviews)} dead-stock reviews"))


@app.command()
def show(review_id: ReviewId) -> None:
    """Show one dead-stock review: its batches, each role's task and opinion, every transition."""
    transitions = read_reviews(Settings())
    steps = history(transitions, review_id)
    if not steps:
        raise fail(unknown_review(review_id, latest_by_review(transitions)))
    now = steps[-1]
    decided = f"{now.decision} by {now.decided_by}" if now.decision else "-"
    lines = [
        f"[bold]{now.review_id}[/bold] [{STATUS_STYLE[now.status]}]{now.status.value}[/]: "
        f"{quantity_text(now.total_quantity)} of {now.material_id} in {now.warehouse_id}, "
        f"worth {now.total_value:,.2f}",
        f"owner: {now.owner}, decision due {_moment(now.due)}, decision: {decided}",
        f"escalated: {', '.join(now.escalated) or '-'}",
        f"alerts: {', '.join(now.alert_ids)}",
    ]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
    console.print(batches_table(now))
    console.print(tasks_table(now))
    console.print(history_table(steps))


@app.command()
def opinion(
    review_id: ReviewId,
    text: Annotated[str, typer.Argument(help="The opinion, one line.", show_default=False)],
    role: Annotated[
        str,
        typer.Option(help="The role answering (a task of the review).", show_default=False),
    ],
    by: By,
) -> None:
    """Give a role's opinion on a review (sales, engineering, finance, as the policy asks).

    Sends the opinion to stockloop.review-actions; the worker fills the
    role's task, and `reviews show` then lists it. A role that has answered
    already, a role the review does not ask, or a decided review is refused
    in one line, and nothing is sent.
    """
    if not text.strip():
        raise fail("TEXT: give the opinion, e.g. 'sell it at 30 % off to the spare-parts trade'")
    _act("opinion", review_id, by, text, role=role)


@app.command()
def decide(
    review_id: ReviewId,
    decision: Annotated[
        ReviewDecision, typer.Argument(help="What is done with the stock.", show_default=False)
    ],
    by: By,
    comment: Annotated[str, typer.Option(help="Why, for the others.")] = "",
) -> None:
    """Decide what is done with the stock under review; the decision closes the review.

    Sends the decision to stockloop.review-actions; the worker closes the
    review and acknowledges its alerts. A review already decided is refused
    in one line, and nothing is sent.
    """
    _act("decide", review_id, by, comment, decision=decision)
