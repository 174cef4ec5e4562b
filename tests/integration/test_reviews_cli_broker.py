"""``stockloop reviews`` on the real broker: list, show, give an opinion, decide, refuse.

The reviews are produced straight to ``stockloop.reviews`` as a worker would
publish them (built with ``models.reviews``); no worker runs, so an opinion
or a decision stays on the actions topic, where the test reads it.
"""

import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from models.events import encode
from models.reviews import (
    Review,
    ReviewAction,
    ReviewDecision,
    apply_review_action,
    default_review_policy,
    escalate_overdue,
    open_review,
)
from streams.catalogue import REVIEW_ACTIONS, REVIEWS
from tests.integration.harness import STOCKLOOP, Pipeline

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 1, 9, tzinfo=UTC)


def _opened(material_id: str, opened_at: datetime, unit_cost: float, owner: str | None) -> Review:
    return open_review(
        material_id,
        "W1",
        [f"alert-{material_id}"],
        [
            ("B1", 100.0, unit_cost, opened_at - timedelta(days=300)),
            ("B2", 20.0, unit_cost, opened_at - timedelta(days=120)),
        ],
        owner=owner,
        now=opened_at,
        policy=default_review_policy(),
    )


def _run(pipeline: Pipeline, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``stockloop ARGUMENTS`` against the pipeline's topics, whatever its exit code."""
    return subprocess.run(
        [STOCKLOOP, *arguments],
        env=pipeline.env | {"COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def published(idle_pipeline: Pipeline) -> dict[str, Review]:
    """Three reviews as a worker publishes them: escalated with sales answered, open, decided."""
    valve = _opened("VALVE-9", T0, unit_cost=40.0, owner=None)
    answered = apply_review_action(
        valve,
        ReviewAction(
            action="opinion",
            review_id=valve.review_id,
            material_id="VALVE-9",
            role="sales",
            by="lin",
            text="no buyer at any price",
            at=T0 + timedelta(days=1),
        ),
    )
    escalated = escalate_overdue(answered, T0 + timedelta(days=8))
    assert escalated is not None
    nut = _opened("NUT-1", T0 + timedelta(days=3), unit_cost=2.5, owner="kim")
    bolt = _opened("BOLT-2", T0 - timedelta(days=20), unit_cost=1.0, owner=None)
    decided = apply_review_action(
        bolt,
        ReviewAction(
            action="decide",
            review_id=bolt.review_id,
            material_id="BOLT-2",
            by="ana",
            decision=ReviewDecision.KEEP,
            at=T0 - timedelta(days=10),
        ),
    )
    for record in (valve, answered, escalated, nut, bolt, decided):
        idle_pipeline.send(REVIEWS, encode(record), key=record.review_id.encode())
    idle_pipeline.flush()
    return {"escalated": escalated, "open": nut, "decided": decided}


def test_list_shows_each_review_once_in_its_latest_state_earliest_deadline_first(
    idle_pipeline: Pipeline, published: dict[str, Review]
):
    listing = idle_pipeline.cli("reviews", "list")
    ids = {r.review_id: r for r in published.values()}
    rows = [line for line in listing.splitlines() if any(i in line for i in ids)]
    escalated, opened, decided = published["escalated"], published["open"], published["decided"]
    assert [next(r for i, r in ids.items() if i in row) for row in rows] == [
        decided,
        escalated,
        opened,
    ]
    assert "escalated" in rows[1] and "4,800.00" in rows[1] and "engineering, finance" in rows[1]
    assert "inventory-controller" in rows[1] and "2026-04-15 09:00" in rows[1]
    assert "kim" in rows[2] and "sales, engineering, finance" in rows[2]
    assert "3 dead-stock reviews" in listing

    as_json = json.loads(
        idle_pipeline.cli("reviews", "list", "--status", "decided", "--format", "json")
    )
    assert as_json == [decided.model_dump(mode="json")]
    both = idle_pipeline.cli("reviews", "list", "--status", "open", "--status", "escalated")
    assert opened.review_id in both and escalated.review_id in both
    assert decided.review_id not in both
    of_owner = idle_pipeline.cli("reviews", "list", "--owner", "kim")
    assert opened.review_id in of_owner and escalated.review_id not in of_owner
    of_material = idle_pipeline.cli("reviews", "list", "--material", "VALVE-9")
    assert escalated.review_id in of_material and opened.review_id not in of_material


def test_show_lists_the_batches_the_tasks_and_every_transition(
    idle_pipeline: Pipeline, published: dict[str, Review]
):
    escalated = published["escalated"]
    shown = idle_pipeline.cli("reviews", "show", escalated.review_id)
    assert "escalated" in shown and "VALVE-9" in shown and "alert-VALVE-9" in shown
    assert "B1" in shown and "4,000.00" in shown and "300" in shown
    assert "Can it be reused in another product or reworked?" in shown
    assert "no buyer at any price" in shown and "lin" in shown
    assert "opened by alert alert-VALVE-9" in shown
    assert "opinion of sales by lin" in shown
    assert "overdue: opinion of engineering" in shown

    unknown = _run(idle_pipeline, "reviews", "show", "nothing")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.splitlines() == [
        "error: no dead-stock review has id 'nothing' (see `stockloop reviews list`)"
    ]


def test_an_opinion_sends_one_action_keyed_by_the_review_naming_its_material(
    idle_pipeline: Pipeline, published: dict[str, Review]
):
    escalated = published["escalated"]
    before = datetime.now(UTC)
    said = idle_pipeline.cli(
        "reviews",
        "opinion",
        escalated.review_id,
        "rework into VALVE-10",
        "--role",
        "engineering",
        "--by",
        "omar",
    )
    assert f"sent opinion of engineering on {escalated.review_id}" in said
    assert "by omar: rework into VALVE-10" in said

    [record] = idle_pipeline.read_all(REVIEW_ACTIONS, expected=1)
    action = ReviewAction.model_validate_json(record.value)
    assert record.key == escalated.review_id.encode()
    assert (action.action, action.review_id, action.material_id, action.role) == (
        "opinion",
        escalated.review_id,
        "VALVE-9",
        "engineering",
    )
    assert (action.by, action.text, action.decision) == ("omar", "rework into VALVE-10", None)
    assert before <= action.at <= datetime.now(UTC)


def test_a_decision_sends_the_decide_action_with_its_comment(
    idle_pipeline: Pipeline, published: dict[str, Review]
):
    opened = published["open"]
    said = idle_pipeline.cli(
        "reviews", "decide", opened.review_id, "write_off", "--by", "kim", "--comment", "obsolete"
    )
    assert f"sent decision write_off on {opened.review_id}" in said

    [record] = idle_pipeline.read_all(REVIEW_ACTIONS, expected=1)
    action = ReviewAction.model_validate_json(record.value)
    assert record.key == opened.review_id.encode()
    assert (action.action, action.material_id, action.by, action.text, action.decision) == (
        "decide",
        "NUT-1",
        "kim",
        "obsolete",
        ReviewDecision.WRITE_OFF,
    )


def test_refused_actions_are_one_line_and_nothing_is_sent(
    idle_pipeline: Pipeline, published: dict[str, Review]
):
    escalated = published["escalated"]
    again = _run(
        idle_pipeline,
        "reviews",
        "opinion",
        escalated.review_id,
        "a discount after all",
        "--role",
        "sales",
        "--by",
        "bo",
    )
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.splitlines() == [
        f"error: review {escalated.review_id}: sales gave its opinion already (by lin)"
    ]

    decided = published["decided"]
    closed = _run(idle_pipeline, "reviews", "decide", decided.review_id, "discount", "--by", "ana")
    assert closed.returncode == 1 and closed.stdout == ""
    [line] = closed.stderr.splitlines()
    assert line.startswith(f"error: review {decided.review_id} was decided (keep by ana)")

    unknown = _run(
        idle_pipeline, "reviews", "opinion", "nothing", "x", "--role", "sales", "--by", "bo"
    )
    assert unknown.returncode == 1
    assert unknown.stderr.splitlines() == [
        "error: no dead-stock review has id 'nothing' (see `stockloop reviews list`)"
    ]

    assert idle_pipeline.read_all(REVIEW_ACTIONS, expected=1, timeout=5) == []
