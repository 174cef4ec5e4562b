"""Two workers in one group split the partitions and answer reads for each other."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.harness import Pipeline, wait_until

pytestmark = pytest.mark.integration

MATERIALS = [f"SCALE-{n:02d}" for n in range(16)]


def test_two_workers_share_partitions_and_route_reads_to_the_owner(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = Pipeline(tmp_path / "a")
    second = Pipeline(
        tmp_path / "b",
        app_id=first.settings.app_id,
        topic_prefix=first.settings.topic_prefix,
    )
    try:
        first.start()
        second.start()
        wait_until(lambda: first._healthy() and second._healthy(), timeout=90)
        at = datetime(2026, 7, 1, 8, tzinfo=UTC).isoformat()
        for n, material in enumerate(MATERIALS):
            first.send(
                "erp.stock-movements",
                {
                    "event_id": f"r{n}",
                    "event_time": at,
                    "material_id": material,
                    "movement_type": "receipt",
                    "warehouse_id": "W1",
                    "quantity": n + 1,
                },
            )
        first.flush()

        def applied(worker: Pipeline) -> float:
            return worker.counters().get(("erp.stock-movements", "applied"), 0)

        wait_until(lambda: applied(first) + applied(second) == len(MATERIALS), timeout=90)
        assert applied(first) > 0 and applied(second) > 0  # both own some partitions
        for n, material in enumerate(MATERIALS):
            for worker in (first, second):  # each answers, routing to the owner when needed
                state = wait_until(lambda w=worker, m=material: w.material(m))
                assert state["warehouses"]["W1"]["on_hand"] == n + 1
    finally:
        second.close()
        first.close()
