"""``stockloop deliver --once`` on the real broker, sending to a real HTTP server in the test.

Notifications are produced straight to ``stockloop.notifications`` as the
router would publish them; the command runs in-process through typer (it is
registered on the ``stockloop`` app). The receiver is an HTTP server on
127.0.0.1 that checks each webhook's signature, as a consumer of ours would
(``tests.integration.webhooks``).
"""

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import orjson
import pytest
import typer
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from models.events import encode
from models.notifications import Delivery, DeliveryStatus, Destination, Notification
from streams.catalogue import DELIVERIES, NOTIFICATIONS
from streams.cli.deliver import deliver
from tests.integration.harness import Pipeline
from tests.integration.webhooks import Webhooks, signed_webhooks

pytestmark = pytest.mark.integration

SECRET = "whsec-broker-test-1234"


@pytest.fixture
def receiver() -> Iterator[tuple[Webhooks, str]]:
    """A webhook receiver on a free port of 127.0.0.1 checking SECRET, and its URL."""
    with signed_webhooks(SECRET) as (state, base):
        yield state, f"{base}/stockloop"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _notification(number: int, *endpoints: str) -> Notification:
    return Notification(
        id=f"ntf-{number}",
        recipient="buyer-li",
        group_key=f"rule=stockout/material=HP-{number}",
        urgency="immediate",
        severity="critical",
        at=datetime(2026, 11, 30, 8, number, tzinfo=UTC),
        language="en",
        destinations=tuple(Destination(channel="webhook", address=name) for name in endpoints),
        title=f"Stock-out HP-{number}",
        body=f"HP-{number} is out of stock in SH01.",
        short=f"HP-{number} out in SH01",
        items=(),
    )


def _publish(pipeline: Pipeline, *notifications: Notification) -> None:
    for notification in notifications:
        pipeline.send(NOTIFICATIONS, encode(notification), key=notification.recipient.encode())
    pipeline.flush()


def _deliver_once(pipeline: Pipeline, url: str, *options: str) -> tuple[int, str, str]:
    """Run ``deliver --once`` through typer against this deployment; (exit code, out, err)."""
    directory = {
        "webhook": {
            "erp-bridge": {"url": url, "secret_env": "ERP_BRIDGE_SECRET"},
            "down": {"url": f"http://127.0.0.1:{_closed_port()}/hooks"},
        }
    }
    env = pipeline.env | {
        "ERP_BRIDGE_SECRET": SECRET,
        "STOCKLOOP_DELIVERY__ENDPOINTS": orjson.dumps(directory).decode(),
        "STOCKLOOP_DELIVERY__MAX_ATTEMPTS": "2",
        "STOCKLOOP_DELIVERY__FIRST_BACKOFF_S": "0.05",
        "STOCKLOOP_DELIVERY__MAX_BACKOFF_S": "0.1",
        "STOCKLOOP_DELIVERY__TIMEOUT_S": "5",
        "COLUMNS": "250",
    }
    app = typer.Typer()
    app.command()(deliver)
    result = CliRunner().invoke(app, ["--once", *options], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _deliveries(pipeline: Pipeline, expected: int) -> list[tuple[bytes, Delivery]]:
    records = pipeline.read_all(DELIVERIES, expected=expected, timeout=10)
    return [(r.key, Delivery.model_validate_json(r.value)) for r in records]


def _attempts(outcome: str) -> float:
    """``stockloop_deliveries_total`` of webhooks with ``outcome``, in this process's registry."""
    labels = {"channel": "webhook", "outcome": outcome}
    return REGISTRY.get_sample_value("stockloop_deliveries_total", labels) or 0.0


def test_deliver_once_sends_each_notification_records_every_attempt_and_never_twice(
    idle_pipeline: Pipeline, receiver: tuple[Webhooks, str]
):
    state, url = receiver
    counted_before = {o: _attempts(o) for o in ("delivered", "retrying", "failed")}
    first, second, third = (
        _notification(1, "erp-bridge"),
        _notification(2, "erp-bridge", "down"),
        _notification(3, "erp-bridge"),
    )
    _publish(idle_pipeline, first, second, third)

    code, out, err = _deliver_once(idle_pipeline, url)
    assert code == 0, err
    taken = sorted((t.idempotency_key, t.notification.id) for t in state.taken)
    assert taken == [("ntf-1", "ntf-1"), ("ntf-2", "ntf-2"), ("ntf-3", "ntf-3")]
    assert state.rejected == []
    assert "delivered ntf-2 to buyer-li by webhook 'erp-bridge' (attempt 1)" in out
    assert "failed ntf-2 to buyer-li by webhook 'down' (attempt 2): ConnectError from " in err
    assert out.splitlines()[-1] == "delivered 3, failed 1, retried 1, skipped 0 as delivered before"

    records = _deliveries(idle_pipeline, expected=5)
    assert sorted((key.decode(), d.address, d.attempt, d.status.value) for key, d in records) == [
        ("ntf-1", "erp-bridge", 1, "delivered"),
        ("ntf-2", "down", 1, "retrying"),
        ("ntf-2", "down", 2, "failed"),
        ("ntf-2", "erp-bridge", 1, "delivered"),
        ("ntf-3", "erp-bridge", 1, "delivered"),
    ]
    assert all(d.notification_id == key.decode() for key, d in records)
    counted = {o: _attempts(o) - counted_before[o] for o in counted_before}
    assert counted == {"delivered": 3, "retrying": 1, "failed": 1}

    # Nothing new: a second run reads nothing and sends nothing.
    code, out, err = _deliver_once(idle_pipeline, url)
    assert code == 0, err
    assert out.splitlines() == ["delivered 0, failed 0, retried 0, skipped 0 as delivered before"]

    # The router publishes ntf-1 again (a redelivery after its crash): known as delivered from
    # stockloop.deliveries, it is skipped; ntf-2's failed destination gets its next attempt.
    _publish(idle_pipeline, first, second)
    code, out, err = _deliver_once(idle_pipeline, url)
    assert code == 0, err
    assert "skipped ntf-1 to buyer-li by webhook 'erp-bridge': delivered before" in out
    assert "skipped ntf-2 to buyer-li by webhook 'erp-bridge': delivered before" in out
    assert "failed ntf-2 to buyer-li by webhook 'down' (attempt 4)" in err
    assert len(state.taken) == 3
    later = _deliveries(idle_pipeline, expected=7)
    assert sorted(
        (d.address, d.attempt, d.status.value)
        for _, d in later
        if d.status is not DeliveryStatus.DELIVERED
    )[-2:] == [("down", 3, "retrying"), ("down", 4, "failed")]


def test_deliver_serves_its_metrics_for_prometheus_on_the_port_asked(
    idle_pipeline: Pipeline, receiver: tuple[Webhooks, str]
):
    state, url = receiver
    _publish(idle_pipeline, _notification(7, "erp-bridge"))
    port = _closed_port()
    code, _, err = _deliver_once(idle_pipeline, url, "--metrics-port", str(port))
    assert code == 0, err
    assert [t.notification.id for t in state.taken] == ["ntf-7"]
    exposed = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert 'stockloop_deliveries_total{channel="webhook",outcome="delivered"}' in exposed
    assert 'stockloop_delivery_seconds_count{channel="webhook"}' in exposed
