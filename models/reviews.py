"""Dead-stock review: slow or aged stock gets an owner, opinions, a decision and deadlines.

A ``dead_stock`` or ``aged_batch`` alert opens a review (``open_review``) that
lists the batches, their quantity, value and age, and gives each role of the
``ReviewPolicy`` a task: sales (discount or promotion?), engineering (reuse or
rework?), finance (write-off value and its approval). Opinions and the
decision arrive as ``ReviewAction``s (``apply_review_action``); a tick calls
``escalate_overdue`` so that a missed deadline is escalated, once. Each
``Review`` is one record on ``stockloop.reviews``: the review as it stands
after one transition, with ``id = {review_id}-{sequence}`` as its idempotency
key.

Status, as a consumer reads it from the latest record:

- ``open``: waiting for opinions or the decision, no deadline missed;
- ``escalated``: a task or the decision missed its deadline. It stays
  escalated until decided, even when the late opinion arrives, because the
  owner was told it is late and only the decision ends that;
- ``decided``: final; the decision closes the review (and its alert).

A deadline is missed only *after* it: at the deadline itself it is still on
time. Every missed deadline is escalated exactly once (``escalated`` lists the
deadlines already escalated: role names, and ``decision``).

Examples
--------
>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2026, 3, 1, tzinfo=UTC)
>>> review = open_review("M1", "W1", ["a1"], [("B7", 40.0, 2.5, t0 - timedelta(days=400))],
...                      owner=None, now=t0, policy=default_review_policy())
>>> str(review.status), review.total_value, review.owner, [t.role for t in review.tasks]
('open', 100.0, 'inventory-controller', ['sales', 'engineering', 'finance'])
>>> escalate_overdue(review, t0 + timedelta(days=7)) is None
True
>>> late = escalate_overdue(review, t0 + timedelta(days=7, seconds=1))
>>> str(late.status), late.escalated, late.reason
('escalated', ('sales', 'engineering'), 'overdue: opinion of sales, opinion of engineering')
"""

import difflib
import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.events import (
    SCHEMA_VERSION,
    EventTime,
    Id,
    NonNegative,
    Text,
    describe_validation_error,
    show,
)
from models.rules.spec import parse_yaml

_ROLE = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _role_name(name: str) -> str:
    if not _ROLE.fullmatch(name):
        raise ValueError("a role is a lowercase name like 'sales' or 'quality_lab'")
    return name


Role = Annotated[str, AfterValidator(_role_name)]
Days = Annotated[float, Field(gt=0, le=3650, allow_inf_nan=False)]
Question = Annotated[str, Field(min_length=1, max_length=256)]

DECISION = "decision"
"""The name of the decision's deadline in ``Review.escalated``, beside the role names."""

DEFAULT_QUESTIONS = {
    "sales": "Can it be sold at a discount or in a promotion?",
    "engineering": "Can it be reused in another product or reworked?",
    "finance": "What is the write-off value, and is the write-off approved?",
}
"""The question a role is asked when the policy names the role without one."""


def _q(quantity: float) -> float:
    """Round to micro-units; ``+ 0.0`` turns ``-0.0`` into ``0.0``."""
    return round(quantity, 6) + 0.0


# --- policy (models/reviews.yaml) ---------------------------------------------------------


class ReviewPolicyError(ValueError):
    """A review policy that cannot be accepted; one line naming the field and its value."""


class RoleTask(BaseModel):
    """What a role is asked in every review, and how many days it has to answer."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    question: Question
    deadline_days: Days


class ReviewPolicy(BaseModel):
    """Who must give an opinion on dead stock, by when, and who owns the review by default.

    A role may leave out its question when ``DEFAULT_QUESTIONS`` has one; a
    policy without ``roles`` asks the default three. A task due after the
    decision is refused: its opinion would come too late to count.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    version: Literal[1] = 1
    roles: Annotated[dict[Role, RoleTask], Field(min_length=1)] = Field(
        default_factory=lambda: {
            "sales": RoleTask(question=DEFAULT_QUESTIONS["sales"], deadline_days=7),
            "engineering": RoleTask(question=DEFAULT_QUESTIONS["engineering"], deadline_days=7),
            "finance": RoleTask(question=DEFAULT_QUESTIONS["finance"], deadline_days=10),
        },
        description="Role -> its question and deadline, in the order tasks are listed.",
    )
    decision_deadline_days: Days = Field(14.0, description="Days from opening to the decision.")
    default_owner: Id = Field(
        "inventory-controller", description="Owner when the material master names none."
    )

    @model_validator(mode="before")
    @classmethod
    def _default_questions(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("roles"), dict):
            roles = {}
            for role, task in data["roles"].items():
                if isinstance(task, dict) and "question" not in task and role in DEFAULT_QUESTIONS:
                    task = {**task, "question": DEFAULT_QUESTIONS[role]}
                roles[role] = task
            data = {**data, "roles": roles}
        return data

    @model_validator(mode="after")
    def _tasks_before_decision(self) -> "ReviewPolicy":
        for role, task in self.roles.items():
            if task.deadline_days > self.decision_deadline_days:
                raise ValueError(
                    f"roles.{role}.deadline_days={task.deadline_days:g}: after "
                    f"decision_deadline_days={self.decision_deadline_days:g}"
                )
        return self

    def owner_of(self, master_owner: str | None) -> str:
        """The review's owner: the material master's ``owner`` when set, else the default."""
        return master_owner.strip() if master_owner and master_owner.strip() else self.default_owner


def load_review_policy(text: str) -> ReviewPolicy:
    """Read and validate a review policy from YAML text; ``ReviewPolicyError`` if it is wrong.

    >>> load_review_policy("roles: {sales: {deadline_days: 3}}").roles["sales"].question
    'Can it be sold at a discount or in a promotion?'
    >>> try:
    ...     load_review_policy("roles: {sales: {deadline_day: 3}}")
    ... except ReviewPolicyError as error:
    ...     print(error)
    roles.sales.deadline_day: unknown field (did you mean 'deadline_days'?) (+1 more)
    """
    try:
        data = parse_yaml(text)
    except ValueError as error:
        raise ReviewPolicyError(str(error)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ReviewPolicyError(
            "a review policy is a mapping with roles, decision_deadline_days and "
            f"default_owner, got {type(data).__name__}"
        )
    try:
        return ReviewPolicy.model_validate(data)
    except ValidationError as error:
        raise ReviewPolicyError(_describe(error)) from None


def _describe(error: ValidationError) -> str:
    """One line: the field, its value and the problem; an unknown field first, with a hint.

    A misspelt field also leaves the real one missing; the misspelling is the
    cause, so it is the one reported.
    """
    errors = error.errors(include_url=False)
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [str(part) for part in first["loc"]]
    message = first["msg"].removeprefix("Value error, ")
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    field = ".".join(loc)
    if not loc:
        return f"{message}{more}"
    if first["type"] == "extra_forbidden":
        fields = RoleTask.model_fields if loc[0] == "roles" else ReviewPolicy.model_fields
        close = difflib.get_close_matches(loc[-1], list(fields), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"{field}: unknown field{hint}{more}"
    if first["type"] == "missing":
        return f"{field}: required{more}"
    return f"{field}={show(first.get('input'))}: {message}{more}"


def default_review_policy() -> ReviewPolicy:
    """The review policy shipped in ``models/reviews.yaml``."""
    return load_review_policy(Path(__file__).with_name("reviews.yaml").read_text("utf-8"))


# --- the review record (topic stockloop.reviews) ------------------------------------------


class ReviewStatus(StrEnum):
    """Where a review stands (see the module docstring)."""

    OPEN = "open"
    ESCALATED = "escalated"
    DECIDED = "decided"


class ReviewDecision(StrEnum):
    """What is done with the stock."""

    DISCOUNT = "discount"
    PROMOTION = "promotion"
    REUSE = "reuse"
    REWORK = "rework"
    RETURN_TO_SUPPLIER = "return_to_supplier"
    WRITE_OFF = "write_off"
    KEEP = "keep"


class ReviewTransitionError(ValueError):
    """An action or escalation the review cannot take; the message says why, on one line."""


class ReviewBatch(BaseModel):
    """A batch under review: how much, what it is worth at receipt cost, how old."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_id: str | None
    quantity: NonNegative
    value: NonNegative = Field(description="quantity * unit cost, rounded to cents.")
    age_days: NonNegative = Field(description="Days since receipt when the review opened.")


class ReviewTask(BaseModel):
    """One role's opinion, asked for by ``due``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    question: Question
    due: EventTime
    opinion: Text | None = None
    by: Id | None = Field(None, description="Who gave the opinion.")


def review_id(alert_id: str) -> str:
    """Deterministic review id from the alert that opened the review.

    >>> review_id("e70458f983955105")
    '72b6cda1bc2963f9'
    """
    content = f"review|{alert_id}"
    return hashlib.sha1(content.encode(), usedforsecurity=False).hexdigest()[:16]


class Review(BaseModel):
    """A dead-stock review after one transition; ``id`` is the record's idempotency key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str = Field(description="'{review_id}-{sequence}': unique per transition.")
    review_id: str = Field(description="From the id of the alert that opened it.")
    sequence: int = Field(ge=0, description="0 when opened, +1 for every later transition.")
    status: ReviewStatus
    material_id: Id
    warehouse_id: Id
    alert_ids: Annotated[tuple[str, ...], Field(min_length=1)] = Field(
        description="The alerts under review; the first one opened it."
    )
    batches: tuple[ReviewBatch, ...]
    total_quantity: NonNegative
    total_value: NonNegative
    owner: Id = Field(description="Who must decide: the master's owner, else the policy's.")
    tasks: tuple[ReviewTask, ...]
    decision: ReviewDecision | None = None
    decided_by: Id | None = None
    due: EventTime = Field(description="Deadline of the decision.")
    escalated: tuple[str, ...] = Field(
        (), description="Deadlines already escalated: role names and 'decision'."
    )
    created_at: EventTime = Field(description="Event time the review opened.")
    at: EventTime = Field(description="Event time of this transition.")
    reason: Text = Field(description="What this transition did, one line.")

    @model_validator(mode="after")
    def _consistent(self) -> "Review":
        if self.id != f"{self.review_id}-{self.sequence}":
            raise ValueError(f"id {self.id!r} must be '{self.review_id}-{self.sequence}'")
        if (self.decision is None) != (self.status is not ReviewStatus.DECIDED):
            raise ValueError(f"status {self.status} with decision {self.decision}")
        return self

    def task(self, role: str) -> ReviewTask | None:
        """The task of ``role``, if the review has one."""
        return next((task for task in self.tasks if task.role == role), None)


def open_review(
    material_id: str,
    warehouse_id: str,
    alert_ids: Sequence[str],
    batches: Sequence[tuple[str | None, float, float, datetime]],
    owner: str | None,
    now: datetime,
    policy: ReviewPolicy,
) -> Review:
    """The ``open`` record of a review, at event time ``now``.

    ``batches`` are ``(batch_id, quantity, unit_cost, received_at)``, e.g.
    ``[(b.batch_id, b.quantity, b.unit_cost, b.received_at) for b in stock.batches]``;
    ``owner`` is the material master's (None: the policy's default). Raises
    ``ReviewTransitionError`` without alert ids or with a batch received
    after ``now``.
    """
    if not alert_ids:
        raise ReviewTransitionError("a review needs the alert that opens it; alert_ids is empty")
    now = now.astimezone(UTC)
    listed = []
    for batch_id, quantity, unit_cost, received_at in batches:
        age = (now - received_at).total_seconds() / 86_400
        if age < 0:
            raise ReviewTransitionError(
                f"batch {batch_id} received at {received_at.isoformat()}, after the review "
                f"opens at {now.isoformat()}"
            )
        listed.append(
            ReviewBatch(
                batch_id=batch_id,
                quantity=_q(quantity),
                value=round(quantity * unit_cost, 2) + 0.0,
                age_days=round(age, 4),
            )
        )
    rid = review_id(alert_ids[0])
    return Review(
        id=f"{rid}-0",
        review_id=rid,
        sequence=0,
        status=ReviewStatus.OPEN,
        material_id=material_id,
        warehouse_id=warehouse_id,
        alert_ids=tuple(alert_ids),
        batches=tuple(listed),
        total_quantity=_q(sum(b.quantity for b in listed)),
        total_value=round(sum(b.value for b in listed), 2) + 0.0,
        owner=policy.owner_of(owner),
        tasks=tuple(
            ReviewTask(role=role, question=task.question, due=now + timedelta(task.deadline_days))
            for role, task in policy.roles.items()
        ),
        due=now + timedelta(policy.decision_deadline_days),
        created_at=now,
        at=now,
        reason=f"opened by alert {alert_ids[0]}",
    )


# --- actions (topic stockloop.review-actions) ----------------------------------------------


class ReviewAction(BaseModel):
    """An opinion of one role, or the decision that closes a review.

    Decode a record with ``ReviewAction.model_validate_json(raw)``; a refused
    record's one-line reason is ``describe_validation_error(error)``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    action: Literal["opinion", "decide"]
    review_id: Id
    material_id: Id = Field(
        description="The review's material: the action is routed to the worker that owns it."
    )
    role: Role | None = Field(None, description="The role giving its opinion (opinion only).")
    by: Id
    text: Text = Field("", description="The opinion, or a comment on the decision.")
    decision: ReviewDecision | None = Field(None, description="What is done (decide only).")
    at: EventTime

    @model_validator(mode="after")
    def _fits_action(self) -> "ReviewAction":
        if self.action == "opinion":
            if self.role is None:
                raise ValueError("an opinion names the role that gives it (role)")
            if not self.text:
                raise ValueError("an opinion needs its text")
            if self.decision is not None:
                raise ValueError("an opinion carries no decision; send action 'decide'")
        else:
            if self.decision is None:
                choices = ", ".join(ReviewDecision)
                raise ValueError(f"a decision names what is done: one of {choices}")
            if self.role is not None:
                raise ValueError("role is for opinions; a decision is taken by its owner")
        return self


class ReviewActionNotice(BaseModel):
    """An opinion or decision, forwarded onto ``stockloop.material-events`` keyed by its material.

    ``stockloop.review-actions`` is keyed by review id, as people know
    reviews; the material's worker holds the review, so the action travels
    to it in order with the material's events.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["review_action"] = "review_action"
    action: ReviewAction


def _next(review: Review, at: datetime, **changes: object) -> Review:
    sequence = review.sequence + 1
    try:
        return Review.model_validate(
            {
                **review.model_dump(),
                **changes,
                "id": f"{review.review_id}-{sequence}",
                "sequence": sequence,
                "at": at,
            }
        )
    except ValidationError as error:
        raise ReviewTransitionError(
            f"review {review.review_id}: {describe_validation_error(error)}"
        ) from None


def _check_open(review: Review, at: datetime, what: str) -> datetime:
    if review.status is ReviewStatus.DECIDED:
        raise ReviewTransitionError(
            f"review {review.review_id} was decided ({review.decision} by {review.decided_by}): "
            f"no {what} after the decision"
        )
    at = at.astimezone(UTC)
    if at < review.at:
        raise ReviewTransitionError(
            f"review {review.review_id}: {what} at {at.isoformat()} is before its last "
            f"transition at {review.at.isoformat()}"
        )
    return at


def apply_review_action(review: Review, action: ReviewAction) -> Review:
    """The review after an opinion (fills the role's task) or the decision (closes it).

    Late opinions are taken (a late answer is better than none); an opinion
    replaces nothing: a role that has answered must not answer again, so a
    redelivered action is refused rather than applied twice.
    """
    if action.review_id != review.review_id:
        raise ReviewTransitionError(
            f"action for review {action.review_id} applied to review {review.review_id}"
        )
    at = _check_open(review, action.at, "action")
    if action.action == "decide":
        comment = f": {action.text}" if action.text else ""
        return _next(
            review,
            at,
            status=ReviewStatus.DECIDED,
            decision=action.decision,
            decided_by=action.by,
            reason=f"decided {action.decision} by {action.by}{comment}"[:256],
        )
    task = review.task(action.role or "")
    if task is None:
        roles = ", ".join(t.role for t in review.tasks)
        raise ReviewTransitionError(
            f"review {review.review_id} asks no opinion of {action.role!r} (roles: {roles})"
        )
    if task.opinion is not None:
        raise ReviewTransitionError(
            f"review {review.review_id}: {task.role} gave its opinion already (by {task.by})"
        )
    tasks = tuple(
        t.model_copy(update={"opinion": action.text, "by": action.by}) if t is task else t
        for t in review.tasks
    )
    return _next(
        review,
        at,
        tasks=[t.model_dump() for t in tasks],
        reason=f"opinion of {task.role} by {action.by}",
    )


def escalate_overdue(review: Review, now: datetime) -> Review | None:
    """The ``escalated`` record when a task or the decision missed its deadline since last time.

    Missed means ``now`` is after the deadline (at it is still on time) with
    no opinion, or no decision, given. Each deadline is escalated once; None
    when nothing new is overdue, or the review is decided. The reason names
    who is late: the roles, and the owner for the decision.
    """
    if review.status is ReviewStatus.DECIDED:
        return None
    now = _check_open(review, now, "escalation")
    late = [
        task.role
        for task in review.tasks
        if task.opinion is None and now > task.due and task.role not in review.escalated
    ]
    if now > review.due and DECISION not in review.escalated:
        late.append(DECISION)
    if not late:
        return None
    who = [
        f"decision of {review.owner}" if name == DECISION else f"opinion of {name}" for name in late
    ]
    return _next(
        review,
        now,
        status=ReviewStatus.ESCALATED,
        escalated=(*review.escalated, *late),
        reason=f"overdue: {', '.join(who)}"[:256],
    )
