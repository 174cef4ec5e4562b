"""Response policies published live: `stockloop policies apply` reaches a running worker."""

import re
import subprocess
from pathlib import Path

import pytest

from models.approval import load_approval_policy
from models.response_policies import default_policy
from streams.catalogue import POLICIES
from tests.integration.harness import STOCKLOOP, Pipeline, wait_until

pytestmark = pytest.mark.integration


def _refused(pipeline: Pipeline, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STOCKLOOP, *arguments],
        env=pipeline.env | {"COLUMNS": "250"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_published_approval_policy_is_mirrored_by_the_worker_and_shown_in_force(
    pipeline: Pipeline, tmp_path: Path
):
    topic = pipeline.settings.topic(POLICIES)
    before = pipeline.cli("policies", "show", "approval")
    assert before.splitlines()[0] == "# approval: default (models/approval.yaml)"
    assert load_approval_policy(before) == default_policy("approval")

    policy = tmp_path / "approval.yaml"
    policy.write_text("# ours\ncurrency: EUR\nauto_approve_below: 100000\n")
    published = pipeline.cli("policies", "apply", "approval", str(policy))
    assert published.startswith(
        f"published approval policy {policy} on {topic}: auto-approve below 100,000.00 EUR"
    )
    # The control agent copied the record into the worker's global table (and its changelog).
    wait_until(lambda: pipeline.control_records(POLICIES) >= 1)
    wait_until(lambda: pipeline.changelog_records("policies") >= 1)

    shown = pipeline.cli("policies", "show", "approval")
    assert shown.splitlines()[:2] == [
        f"# approval: published on {topic}",
        "# auto-approve below 100,000.00 EUR (0 category and 0 ABC-class limits); approvers "
        "buyer below 20,000.00, purchasing_manager below 100,000.00, then cfo; never above 3x "
        "the usual order; approved requests expire after 14 days",
    ]
    assert "# ours\n" in shown
    assert load_approval_policy(shown).auto_approve_below == 100_000

    bad = tmp_path / "bad.yaml"
    bad.write_text("currency: EUR\nauto_approve_below: -100000\n")
    refused = _refused(pipeline, "policies", "apply", "approval", str(bad))
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"{bad}: auto_approve_below: an amount must not be negative, got -100000"
    ]
    assert pipeline.cli("policies", "show", "approval") == shown  # nothing was sent

    reset = pipeline.cli("policies", "reset", "approval")
    assert reset.startswith(f"reset approval on {topic}: workers apply the default")
    wait_until(lambda: pipeline.control_records(POLICIES) >= 2)
    after = pipeline.cli("policies", "show", "approval")
    assert after.splitlines()[0] == "# approval: default (models/approval.yaml)"


def test_show_without_a_name_gives_every_policy_in_force(pipeline: Pipeline, tmp_path: Path):
    lanes = tmp_path / "lanes.yaml"
    lanes.write_text("default_days: 3\nlanes: {W2: {W1: 1}}\n")
    pipeline.cli("policies", "apply", "transfer-lanes", str(lanes))
    header = re.compile(r"# (approval|reviews|transfer-lanes|routes): ")
    shown = pipeline.cli("policies", "show").splitlines()
    headers = [line for line in shown if header.match(line)]
    topic = pipeline.settings.topic(POLICIES)
    assert headers == [
        "# approval: default (models/approval.yaml)",
        "# reviews: default (models/reviews.yaml)",
        f"# transfer-lanes: published on {topic}",
        "# routes: default (models/routes.yaml)",
    ]
