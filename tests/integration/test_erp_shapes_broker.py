"""``stockloop simulate --shape`` through a real broker to a worker with the ERP's pack.

The simulator's traffic, written as Odoo 17's or ERPNext 15's tables send it
through Debezium, gives the worker the on hand, committed and in transit per
material and warehouse that the same traffic gives in plain shape, and the on
hand the simulator's own ledger says.
"""

from decimal import Decimal
from pathlib import Path

import pytest

from connectors.mapping import load_mapping
from connectors.shapes import EXAMPLE_MAPPING, PACKS, shaped, writer
from connectors.simulator import ErpSimulator
from streams.cli.backtest import decode_records
from tests.integration.harness import Pipeline, wait_until
from tests.replayed import replayed_positions

pytestmark = pytest.mark.integration

MATERIALS, DAYS, SEED = 3, 30, 5
Position = tuple[Decimal, Decimal, Decimal]  # on hand, committed, in transit


def plain_positions() -> dict[tuple[str, str], Position]:
    """What the plain traffic gives, read with the example mapping and replayed in process."""
    records = ErpSimulator(materials=MATERIALS, seed=SEED).run(DAYS)
    events, _ = decode_records(records, load_mapping(EXAMPLE_MAPPING))
    return {
        key: _position(*figures)
        for key, figures in replayed_positions(envelope.event for envelope in events).items()
    }


def _position(*figures: float) -> Position:
    on_hand, committed, in_transit = (Decimal(str(round(f, 6))) for f in figures)
    return on_hand, committed, in_transit


def worker_positions(
    pipeline: Pipeline, material_ids: dict[str, str]
) -> dict[tuple[str, str], Position]:
    """The worker's figures per (plain material id, warehouse)."""
    found = {}
    for plain_id, erp_id in material_ids.items():
        state = pipeline.material(erp_id) or {}
        for warehouse_id, stock in state.get("warehouses", {}).items():
            found[(plain_id, warehouse_id)] = _position(
                stock["on_hand"], stock["committed"], stock["in_transit"]
            )
    return found


@pytest.fixture(params=["odoo", "erpnext"])
def shape(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def erp_pipeline(tmp_path: Path, shape: str):
    deployment = Pipeline(tmp_path, mapping_file=PACKS[shape], session_timeout_s=30.0)
    deployment.start()
    yield deployment
    deployment.close()


def test_simulated_traffic_in_an_erp_shape_gives_the_plain_positions_per_warehouse(
    erp_pipeline: Pipeline, shape: str
) -> None:
    output = erp_pipeline.cli(
        "simulate",
        *("--materials", str(MATERIALS), "--days", str(DAYS), "--seed", str(SEED)),
        *("--shape", shape),
    )
    assert "failed 0" in output
    assert f"STOCKLOOP_MAPPING_FILE={PACKS[shape]}" in " ".join(output.split())

    expected = plain_positions()
    simulator = ErpSimulator(materials=MATERIALS, seed=SEED)
    records = list(simulator.run(DAYS))
    erp = writer(shape, seed=SEED)
    assert erp is not None
    changes = len(list(shaped(records, erp, load_mapping(EXAMPLE_MAPPING))))

    def differences() -> dict:
        got = worker_positions(erp_pipeline, erp.material_ids)
        return {
            key: (figures, got.get(key))
            for key, figures in expected.items()
            if got.get(key) != figures
        }

    wait_until(
        lambda: not differences(),
        timeout=150,
        interval=2.0,
        describe=lambda: {"differences": differences(), "counters": erp_pipeline.counters()},
    )
    # The simulator's own ledger of the materials it sells says the same on hand.
    ledger = {
        (item.material_id, warehouse_id): Decimal(str(round(on_hand, 6)))
        for item in simulator.items
        for warehouse_id, on_hand in item.on_hand.items()
    }
    assert {key: expected[key][0] for key in ledger} == ledger  # sold materials' ledger
    assert len(ledger) == 2 * MATERIALS + 1  # two warehouses each, and the surplus
    counters = erp_pipeline.counters()
    dead = sum(v for (_, outcome), v in counters.items() if outcome == "dead_lettered")
    assert dead == 3  # the simulator's three broken records, in any shape
    assert len(expected) == 9  # 3 materials in 2 warehouses, the surplus, 2 production items
    assert changes > 1.5 * len(records)
