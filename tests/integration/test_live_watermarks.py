"""Live events are applied at once, without the watermark timer (issue #13, goal 2).

A burst spread over two input topics and every material partition: when one
input's last record is processed the other is still busy, so only the report
made once both are read to their end lets the material partitions apply what
they were sent. The timer is set far beyond the test, so every event applied
came through a report made at the end of an input.
"""

from contextlib import closing
from pathlib import Path

import pytest

from tests.integration.harness import MATERIALS, Pipeline, wait_until

pytestmark = pytest.mark.integration

T = "2026-05-04T08:00:00Z"
TIMER_S = 600.0


def test_a_burst_over_two_inputs_is_applied_without_the_timer(tmp_path: Path):
    pipeline = Pipeline(tmp_path, watermark_interval_s=TIMER_S)
    with closing(pipeline):
        pipeline.start()
        for number, material_id in enumerate(MATERIALS):
            common = {"event_time": T, "material_id": material_id, "warehouse_id": "W1"}
            if number % 2:
                pipeline.send(
                    "erp.stock-movements",
                    {
                        **common,
                        "event_id": f"r-{material_id}",
                        "movement_type": "receipt",
                        "quantity": 10,
                    },
                )
            else:
                pipeline.send(
                    "erp.sales-orders",
                    {
                        **common,
                        "event_id": f"s-{material_id}",
                        "order_id": f"SO-{number}",
                        "line_id": "1",
                        "quantity": 5,
                        "due_date": "2026-05-09",
                        "status": "confirmed",
                    },
                )
        pipeline.flush()

        def unapplied() -> list[str]:
            return [
                material_id
                for material_id in MATERIALS
                if (pipeline.material(material_id) or {}).get("events_applied") != 1
            ]

        wait_until(lambda: not unapplied(), timeout=60, describe=unapplied)
