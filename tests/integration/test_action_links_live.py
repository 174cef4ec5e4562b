"""One-click action links on the real worker: a click acknowledges an alert, approves a request."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from models.action_links import ActionLink, sign
from tests.integration.harness import Pipeline, wait_until
from tests.integration.test_purchase_requests import requests_of, send_shortage

pytestmark = pytest.mark.integration

KEY = "click-key-for-tests"


@pytest.fixture
def linking_pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    """A worker that honours action links signed with KEY."""
    deployment = Pipeline(tmp_path, action_link_secret=KEY, public_url="http://127.0.0.1")
    deployment.start()
    yield deployment
    deployment.close()


def link(action: str, subject: str, material_id: str, key: str = KEY, **fields: object) -> str:
    """A link signed as a notification would carry it, valid for an hour."""
    made = ActionLink(
        action=action,
        subject=subject,
        material_id=material_id,
        by="li.wei",
        expires=datetime.now(UTC) + timedelta(hours=1),
        **fields,
    )
    return sign(made, key.encode())


def alerts_for(pipeline: Pipeline, key: str) -> list[dict]:
    records = pipeline.read_all("stockloop.alerts", expected=1, timeout=3)
    return [alert for r in records if (alert := orjson.loads(r.value))["key"] == key]


def test_a_clicked_link_acknowledges_the_alert_and_an_opened_one_does_not(
    linking_pipeline: Pipeline,
):
    send_shortage(linking_pipeline, "BOLT-7", unit_cost=12.5)
    linking_pipeline.flush()
    key = "BOLT-7|W1|supply_demand_gap"
    raised = wait_until(lambda: alerts_for(linking_pipeline, key))[0]
    token = link("acknowledge", key, "BOLT-7", alert_id=raised["alert_id"])
    url = f"{linking_pipeline.url}/actions/{token}"

    shown = httpx.get(url, timeout=10)
    assert (
        shown.status_code == 200 and "acknowledge alert BOLT-7|W1|supply_demand_gap" in shown.text
    )
    assert '<form method="post">' in shown.text
    assert all(a["acknowledged_by"] is None for a in alerts_for(linking_pipeline, key))

    done = httpx.post(url, timeout=10)
    assert done.status_code == 200 and "Done" in done.text
    acked = wait_until(
        lambda: [a for a in alerts_for(linking_pipeline, key) if a["reason"] == "acknowledged"]
    )
    assert acked[0]["acknowledged_by"] == "li.wei" and acked[0]["alert_id"] == raised["alert_id"]


def test_a_clicked_link_approves_a_pending_request(linking_pipeline: Pipeline):
    send_shortage(linking_pipeline, "PUMP-7", unit_cost=200)
    linking_pipeline.flush()
    pending = wait_until(lambda: requests_of(linking_pipeline, "PUMP-7", expected=2)[1:])[0]
    assert pending["status"] == "pending_approval"
    token = link("approve", pending["request_id"], "PUMP-7")

    assert httpx.post(f"{linking_pipeline.url}/actions/{token}", timeout=10).status_code == 200
    approved = wait_until(lambda: requests_of(linking_pipeline, "PUMP-7", expected=3)[2:])[0]
    assert (approved["status"], approved["decided_by"]) == ("approved", "li.wei")


def test_an_altered_or_foreign_link_is_refused_and_changes_nothing(linking_pipeline: Pipeline):
    token = link("acknowledge", "BOLT-8|W1|supply_demand_gap", "BOLT-8")
    altered = token[:-1] + ("0" if token[-1] != "0" else "1")
    foreign = link("acknowledge", "BOLT-8|W1|supply_demand_gap", "BOLT-8", key="not the key")
    for bad in (altered, foreign):
        answer = httpx.post(f"{linking_pipeline.url}/actions/{bad}", timeout=10)
        assert answer.status_code == 403 and "signature does not match" in answer.text
    assert linking_pipeline.read_all("stockloop.alert-actions", expected=1, timeout=3) == []
