"""An Odoo 17 history through a real broker and worker with the Odoo mapping pack.

The tables' Debezium topics are routed onto stockloop's input topics as the
``RegexRouter`` transforms of ``docs/connect-your-erp.md`` route them; records
are keyed by row id, so each table's changes spread over partitions and a move
often arrives before its location: ingest holds it until the location comes.
"""

from decimal import Decimal
from pathlib import Path

import pytest

import connectors
from connectors.shapes.odoo import ROUTES as ODOO_ROUTES
from tests.integration.harness import Pipeline, wait_until
from tests.odoo import Position, expected_positions, odoo_history

pytestmark = pytest.mark.integration

ODOO = Path(connectors.__file__).parent / "mappings" / "odoo17.yaml"

# Where the documented RegexRouter transforms send each Odoo table's topic; the BOM and
# production tables feed the shortage analysis, not this test.
ROUTES = {table: topic for table, topic in ODOO_ROUTES.items() if not table.startswith("mrp_")}


@pytest.fixture
def odoo_pipeline(tmp_path: Path):
    # A longer session: the worker holds and releases many changes on a loaded machine.
    deployment = Pipeline(tmp_path, mapping_file=ODOO, session_timeout_s=30.0)
    deployment.start()
    yield deployment
    deployment.close()


def positions(pipeline: Pipeline, products: set[str]) -> dict[tuple[str, str], Position]:
    """On hand, committed and in transit per (product, warehouse) as the worker serves them."""
    found: dict[tuple[str, str], Position] = {}
    for product in products:
        state = pipeline.material(product)
        for warehouse_id, stock in (state or {}).get("warehouses", {}).items():
            found[(product, warehouse_id)] = Position(
                on_hand=Decimal(str(stock["on_hand"])),
                committed=Decimal(str(stock["committed"])),
                in_transit=Decimal(str(stock["in_transit"])),
            )
    return found


def differences(
    expected: dict[tuple[str, str], Position], got: dict[tuple[str, str], Position]
) -> dict[tuple[str, str], tuple[Position, Position]]:
    """The (product, warehouse) pairs whose figures differ, with (Odoo's, stockloop's)."""
    pairs = {key: (expected.get(key, Position()), got.get(key, Position())) for key in expected}
    pairs |= {key: (Position(), got[key]) for key in set(got) - set(expected)}
    return {
        key: (odoo, ours)
        for key, (odoo, ours) in pairs.items()
        if any(
            abs(getattr(odoo, name) - getattr(ours, name)) > Decimal("0.000001")
            for name in ("on_hand", "committed", "in_transit")
        )
    }


def test_an_odoo_history_gives_odoo_positions_per_product_and_warehouse(
    odoo_pipeline: Pipeline,
) -> None:
    history = odoo_history(1_500, seed=11)
    for change in history.changes:
        table = change.topic.rsplit(".", 1)[-1]
        if table in ROUTES:
            odoo_pipeline.send(ROUTES[table], change.value, key=change.key)
    odoo_pipeline.flush()
    expected = expected_positions(history)
    products = {product for product, _ in expected}

    wait_until(
        lambda: not differences(expected, positions(odoo_pipeline, products)),
        timeout=240,
        interval=2.0,
        describe=lambda: {
            "differences": differences(expected, positions(odoo_pipeline, products)),
            "counters": odoo_pipeline.counters(),
        },
    )

    counters = odoo_pipeline.counters()
    assert sum(v for (_, outcome), v in counters.items() if outcome == "dead_lettered") == 0
    assert sum(v for (_, outcome), v in counters.items() if outcome == "reference") > 0
    assert len(expected) >= 20
