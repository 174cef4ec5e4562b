"""Odoo 17 BOMs and manufacturing orders through a real broker to the shortage analysis.

The Odoo pack looks a BOM line's variant and the BOM's quantity up in the
``mrp_bom`` header, and an order's warehouse in ``stock_picking_type`` and
``stock_warehouse``: the shortage agent must hold a line read before its
header, and find the rows ingest read on ``erp.stock-movements``.
"""

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

import connectors
from tests.integration.harness import Pipeline, wait_until
from tests.odoo import Change, _Company, expected_boms, expected_open_orders

pytestmark = pytest.mark.integration

ODOO = Path(connectors.__file__).parent / "mappings" / "odoo17.yaml"

# Where the documented RegexRouter transforms send each Odoo table's topic.
ROUTES = {
    "product_product": "erp.materials",
    "product_template": "erp.materials",
    "stock_location": "erp.stock-movements",
    "stock_warehouse": "erp.stock-movements",
    "stock_picking_type": "erp.stock-movements",
    "mrp_bom": "erp.boms",
    "mrp_bom_line": "erp.boms",
    "mrp_production": "erp.production-orders",
}


@pytest.fixture
def odoo_pipeline(tmp_path: Path):
    deployment = Pipeline(tmp_path, mapping_file=ODOO, session_timeout_s=30.0)
    deployment.start()
    yield deployment
    deployment.close()


def table_of(change: Change) -> str:
    return change.topic.rsplit(".", 1)[-1]


def send(pipeline: Pipeline, changes: Iterable[Change]) -> int:
    sent = 0
    for change in changes:
        pipeline.send(ROUTES[table_of(change)], change.value, key=change.key)
        sent += 1
    pipeline.flush()
    return sent


def outcomes(pipeline: Pipeline, topic: str, outcome: str) -> float:
    return pipeline.counters().get((topic, outcome), 0.0)


def test_an_odoo_bom_whose_header_comes_after_its_lines_explodes_a_manufacturing_order(
    odoo_pipeline: Pipeline,
) -> None:
    company = _Company(seed=2)
    company.setup()  # warehouses, products and four assemblies, three with a variant BOM
    company.tick()
    company.plan_production()  # seed 2: an order of an assembly with a variant BOM
    history = company.history
    [(order_id, order)] = expected_open_orders(history).items()
    per_unit = {
        component: quantity
        for (parent, component), quantity in expected_boms(history).items()
        if parent == order.material_id
    }

    def of_tables(*tables: str) -> list[Change]:
        return [change for change in history.changes if table_of(change) in tables]

    send(odoo_pipeline, of_tables(*(t for t in ROUTES if not t.startswith("mrp_"))))
    lines = send(odoo_pipeline, of_tables("mrp_bom_line"))
    wait_until(
        lambda: outcomes(odoo_pipeline, "erp.boms", "held") >= lines,
        timeout=120,
        describe=odoo_pipeline.counters,
    )
    headers = send(odoo_pipeline, of_tables("mrp_bom"))
    wait_until(
        lambda: (
            outcomes(odoo_pipeline, "erp.boms", "reference") >= headers
            and outcomes(odoo_pipeline, "erp.boms", "released") >= lines
        ),
        timeout=120,
        describe=odoo_pipeline.counters,
    )
    send(odoo_pipeline, of_tables("mrp_production"))

    [record] = odoo_pipeline.read_all("stockloop.shortages", 1, timeout=120)
    result = orjson.loads(record.value)
    assert record.key == order_id.encode()
    assert (result["material_id"], result["warehouse_id"]) == (
        order.material_id,
        order.warehouse_id,
    )
    required = {c["component_id"]: Decimal(str(c["required"])) for c in result["components"]}
    assert per_unit and set(required) == set(per_unit)
    for component, quantity in per_unit.items():
        assert abs(required[component] - quantity * order.quantity) < Decimal("0.000001")
    assert set(result["missing_components"]) == set(per_unit)  # no component is in stock
    counters = odoo_pipeline.counters()
    assert sum(v for (_, outcome), v in counters.items() if outcome == "dead_lettered") == 0
