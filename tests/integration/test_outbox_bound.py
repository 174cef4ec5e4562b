"""A material's outbox stays as small as its sends in flight while offsets are not committed.

Under load a consumer group can rebalance again and again, and no commit
gets through for minutes. The outbox was pruned by commits only, so it kept
every output since the last one, and a busy material's state grew past the
largest record Kafka takes (a worker crashed on a 1.48 MB state). Outputs
the broker acknowledged leave the outbox at the material's next step.
"""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.harness import Pipeline, stock_movement, wait_until
from tests.integration.test_alert_pipeline import alerts_of, low_on_hand_rules

pytestmark = pytest.mark.integration

MATERIAL = "BUSY-1"
FLIPS = 20


def test_acknowledged_outputs_leave_the_outbox_when_no_commit_gets_through(tmp_path: Path):
    # No periodic commit during the test: only acknowledgements can prune the outbox.
    worker = Pipeline(tmp_path, commit_interval_s=3600.0)
    worker.start()
    try:
        worker.wait_ready(timeout=120)
        worker.cli("rules", "apply", str(low_on_hand_rules(tmp_path, 50, "warning")))
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
        movements = [stock_movement("r-0", start, MATERIAL, "W1", "receipt", 100, 1.0)]
        for flip in range(FLIPS):
            at = start + timedelta(minutes=10 * (flip + 1))
            kind, quantity = ("issue", 60) if flip % 2 == 0 else ("receipt", 60)
            movements.append(stock_movement(f"f-{flip}", at, MATERIAL, "W1", kind, quantity, 1.0))
        for topic, value in movements:
            worker.send(topic, value)
        worker.flush()

        transitions = alerts_of(worker, "low_on_hand", FLIPS)
        assert [a.status for a in transitions[:2]] == ["raised", "resolved"]
        time.sleep(3)  # every transition acknowledged by the broker
        last = start + timedelta(minutes=10 * (FLIPS + 1))
        topic, value = stock_movement("r-last", last, MATERIAL, "W1", "receipt", 1, 1.0)
        worker.send(topic, value)
        worker.flush()

        state = wait_until(
            lambda: (s := worker.material(MATERIAL)) and s["events_applied"] == FLIPS + 2 and s
        )
        kept = [record["topic"] for record in state["outbox"]]
        assert "stockloop.alerts" not in kept, kept
        assert len(kept) <= 1, kept
    finally:
        worker.close()
