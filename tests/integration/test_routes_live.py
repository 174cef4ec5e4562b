"""The routing file published live: applied as the policy 'routes', mirrored, shown, reset."""

import subprocess
from pathlib import Path

import pytest

from models.response_policies import default_policy, describe
from models.routing import load_routing
from streams.catalogue import POLICIES
from tests.integration.harness import STOCKLOOP, Pipeline, wait_until

pytestmark = pytest.mark.integration

ROUTES = """\
# ours: critical to the owner, the rest to the buyers' digest
people:
  li: {name: Li Na, timezone: Asia/Shanghai, channels: {email: li@example.com}}
  ops: {channels: {webhook: inventory-webhook}}
groups: {buyers: [li]}
route:
  receivers: [buyers]
  digest: true
  routes:
    - {name: critical, matchers: ['severity="critical"'], receivers: [owner, ops], digest: false}
"""


def test_a_published_routing_file_is_mirrored_by_the_worker_and_shown_in_force(
    pipeline: Pipeline, tmp_path: Path
):
    topic = pipeline.settings.topic(POLICIES)
    before = pipeline.cli("policies", "show", "routes")
    assert before.splitlines()[:2] == [
        "# routes: default (models/routes.yaml)",
        f"# {describe(default_policy('routes'))}",
    ]

    file = tmp_path / "routes.yaml"
    file.write_text(ROUTES)
    published = pipeline.cli("policies", "apply", "routes", str(file))
    assert published.strip() == (
        f"published routes policy {file} on {topic}: 2 people in 1 groups; routes critical; "
        "otherwise buyers; workers apply it live"
    )
    # The control agent copied the record into the worker's global table (and its changelog).
    wait_until(lambda: pipeline.control_records(POLICIES) >= 1)
    wait_until(lambda: pipeline.changelog_records("policies") >= 1)

    shown = pipeline.cli("policies", "show", "routes")
    assert shown.splitlines()[0] == f"# routes: published on {topic}"
    assert shown.endswith(ROUTES)  # the file as written, comments included
    assert load_routing(shown) == load_routing(ROUTES)

    bad = tmp_path / "bad.yaml"
    bad.write_text(ROUTES.replace("[owner, ops]", "[owner, opps]"))
    refused = subprocess.run(
        [STOCKLOOP, "policies", "apply", "routes", str(bad)],
        env=pipeline.env | {"COLUMNS": "250"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"{bad}: route root/critical: receivers: unknown receiver 'opps' (did you mean 'ops'?)"
    ]
    assert pipeline.cli("policies", "show", "routes") == shown  # nothing was sent

    reset = pipeline.cli("policies", "reset", "routes")
    assert reset.startswith(f"reset routes on {topic}: workers apply the default")
    wait_until(lambda: pipeline.control_records(POLICIES) >= 2)
    after = pipeline.cli("policies", "show", "routes")
    assert after.splitlines()[0] == "# routes: default (models/routes.yaml)"
