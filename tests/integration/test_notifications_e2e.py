"""Notifications end to end on the real broker: worker, router, inboxes, ``stockloop deliver``.

A routing file is published live; ERP events raise alerts in the worker;
the router forms each person's notifications; ``deliver --once`` sends them
to webhooks served by the test on 127.0.0.1, which check the signature.
"""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
import typer
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from models.notifications import Notification, Urgency
from streams.cli.deliver import deliver
from tests.integration.harness import Pipeline, wait_until
from tests.integration.test_alert_pipeline import low_on_hand_rules, movement
from tests.integration.webhooks import Webhooks, signed_webhooks

pytestmark = pytest.mark.integration

SECRET = "whsec-e2e-5678"
ROUTES = """\
version: 1
people:
  li:
    name: Li Na
    channels: {webhook: li-hook}
    digest_at: "08:30"
  boss:
    name: Zhang Wei
    channels: {webhook: boss-hook}
groups:
  planner: [li]
route:
  receivers: [li]
  group_by: [rule_id, warehouse_id]
  digest: true
  routes:
    - name: critical
      matchers: ['severity="critical"']
      receivers: [owner, boss]
      digest: false
      group_wait: 0s
      group_interval: 1s
      repeat_interval: 3s
      escalate_after: 1h
    - name: warnings
      matchers: ['severity="warning"']
      digest: true
"""


@pytest.fixture
def hooks() -> Iterator[tuple[Webhooks, str]]:
    """Webhook receivers on 127.0.0.1 (``/hooks/<name>``) checking SECRET, and the base URL."""
    with signed_webhooks(SECRET) as served:
        yield served


def routed_pipeline(root: Path, **overrides: object) -> Pipeline:
    """A started worker whose links point at itself, with ROUTES in force."""
    deployment = Pipeline(root, action_link_secret="click-key", **overrides)
    deployment.overrides["public_url"] = deployment.url
    deployment.start()
    routes = root / "routes.yaml"
    routes.write_text(ROUTES)
    deployment.cli("policies", "apply", "routes", str(routes))
    return deployment


@pytest.fixture
def ticking(tmp_path: Path) -> Iterator[Pipeline]:
    """Ticks every second: groups, reminders and escalations fall due in wall time."""
    deployment = routed_pipeline(tmp_path, tick_interval_s=1.0)
    yield deployment
    deployment.close()


@pytest.fixture
def untimed(tmp_path: Path) -> Iterator[Pipeline]:
    """No tick within the test: inboxes move only with the items' event times."""
    deployment = routed_pipeline(tmp_path, tick_interval_s=3600.0)
    yield deployment
    deployment.close()


def deliver_once(pipeline: Pipeline, base: str) -> str:
    """``stockloop deliver --once`` against this deployment, to the test's webhooks."""
    directory = {
        "webhook": {
            name: {"url": f"{base}/{name}", "secret_env": "HOOK_SECRET"}
            for name in ("li-hook", "boss-hook")
        }
    }
    env = pipeline.env | {
        "HOOK_SECRET": SECRET,
        "STOCKLOOP_DELIVERY__ENDPOINTS": orjson.dumps(directory).decode(),
        "STOCKLOOP_DELIVERY__TIMEOUT_S": "5",
    }
    app = typer.Typer()
    app.command()(deliver)
    result = CliRunner().invoke(app, ["--once"], env=env)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def send_shortage(pipeline: Pipeline, material_id: str, at: datetime) -> None:
    """100 on hand, 150 confirmed for in five days: a critical supply/demand gap."""
    pipeline.send(
        "erp.stock-movements", movement(f"{material_id}-r", "receipt", 100, at, material_id)
    )
    pipeline.send(
        "erp.sales-orders",
        {
            "event_id": f"{material_id}-so",
            "event_time": (at + timedelta(minutes=5)).isoformat(),
            "material_id": material_id,
            "order_id": "SO-1",
            "line_id": "1",
            "warehouse_id": "W1",
            "quantity": 150,
            "due_date": (at + timedelta(days=5)).date().isoformat(),
            "status": "confirmed",
        },
    )


def notifications(pipeline: Pipeline) -> list[Notification]:
    records = pipeline.read_all("stockloop.notifications", expected=1, timeout=3)
    return [Notification.model_validate_json(r.value) for r in records]


def test_a_critical_alert_reaches_its_owner_at_once_and_a_click_stops_the_reminders(
    ticking: Pipeline, hooks: tuple[Webhooks, str]
):
    taken, base = hooks
    sent = time.monotonic()
    # Now, not in the past: a link expires a week after its item's event time.
    send_shortage(ticking, "BOLT-9", datetime.now(UTC) - timedelta(hours=2))
    ticking.flush()
    first = wait_until(
        lambda: [
            n for n in notifications(ticking) if n.recipient == "li" and n.severity == "critical"
        ]
    )[0]
    deliver_once(ticking, base)
    (delivered,) = [n for n in taken.of("li-hook") if n.id == first.id]
    latency = next(t.arrived for t in taken.taken if t.notification.id == first.id) - sent
    print(f"ERP event -> delivered critical notification: {latency:.2f} s")
    assert delivered.urgency is Urgency.IMMEDIATE and delivered.recipient == "li"
    assert "BOLT-9" in delivered.body
    listed = ticking.cli("notifications", "--recipient", "li", "--urgency", "immediate")
    assert any(delivered.title[:20] in row and "webhook ok" in row for row in listed.splitlines())

    subject = delivered.items[0].subject_id

    def reminders() -> int:
        """Reminders about the acknowledged alert (others of BOLT-9 may be open too)."""
        return sum(
            n.urgency is Urgency.REMINDER and subject in {item.subject_id for item in n.items}
            for n in notifications(ticking)
        )

    # Still open and unacknowledged: reminded every repeat_interval (3 s).
    wait_until(reminders)
    (action,) = [a for item in delivered.items for a in item.actions]
    assert action.url.startswith(f"{ticking.url}/actions/")
    assert httpx.post(action.url, timeout=10).status_code == 200

    # The acknowledgement reaches the inboxes: after it, no reminder more.
    wait_until(lambda: ticking.inbox_records("settled") >= 2)
    time.sleep(3)
    settled = reminders()
    time.sleep(8)
    assert reminders() == settled
    # ... and the alert-quality metrics: one acknowledgement, timed from the raising.
    (acknowledged,) = acknowledgements(ticking, delivered.items[0].rule_id)
    assert acknowledged >= 1


def acknowledgements(pipeline: Pipeline, rule: str | None) -> list[float]:
    """``stockloop_alert_acknowledge_seconds_count`` of ``rule`` on the worker's /metrics."""
    text = httpx.get(f"{pipeline.url}/metrics", timeout=10).text
    return [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "stockloop_alert_acknowledge_seconds_count"
        and sample.labels.get("rule") == rule
    ]


def test_ten_warnings_for_one_buyer_in_a_day_arrive_as_one_digest(
    untimed: Pipeline, hooks: tuple[Webhooks, str], tmp_path: Path
):
    taken, base = hooks
    untimed.cli("rules", "apply", str(low_on_hand_rules(tmp_path, minimum=50, severity="warning")))
    day = datetime(2026, 4, 6, 9, tzinfo=UTC)
    for number in range(10):
        at = day + timedelta(hours=number / 2)
        untimed.send(
            "erp.stock-movements", movement(f"r{number}", "receipt", 40, at, f"NUT-{number}")
        )
    untimed.flush()
    wait_until(lambda: untimed.inbox_records("item") >= 10)
    assert notifications(untimed) == []
    # The next morning, after Li's 08:30 digest time, one more warning: the digest falls due.
    next_day = day + timedelta(days=1, hours=1)
    untimed.send("erp.stock-movements", movement("r10", "receipt", 40, next_day, "NUT-10"))
    untimed.flush()
    digests = wait_until(
        lambda: [n for n in notifications(untimed) if n.urgency is Urgency.DIGEST], timeout=90
    )
    (digest,) = digests
    assert {item.material_id for item in digest.items} >= {f"NUT-{n}" for n in range(10)}
    assert all(n.urgency is Urgency.DIGEST for n in notifications(untimed))
    deliver_once(untimed, base)
    assert [n.id for n in taken.of("li-hook")] == [digest.id]
