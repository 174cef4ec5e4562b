"""``stockloop materials show``: the open purchase requests and transfers of the worker's state."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from models.purchasing import PurchaseRequest, propose
from models.state import MaterialState
from models.transfers import TransferSuggestion, approve, propose_transfer
from streams.cli.materials import (
    expedited_orders,
    open_requests,
    open_transfers,
    requests_table,
    transfers_table,
)

T = datetime(2026, 10, 26, 3, tzinfo=UTC)


def request(warehouse_id: str, raised: int, stockout: date, alert_ids: tuple[str, ...] = ()):
    return propose(
        material_id="HP-200",
        warehouse_id=warehouse_id,
        unit="EA",
        unit_cost=42.0,
        moq=0.0,
        pack_size=1.0,
        supplier_id="V-2031",
        reorder_point=280.0,
        order_up_to=460.0,
        projected_stockout_date=stockout,
        lead_time_days=10.0,
        position=340.0,
        alert_ids=alert_ids,
        now=T,
        raised=raised,
        currency="EUR",
    )


def served(state: MaterialState) -> dict[str, Any]:
    """The state as GET /materials/ID serves it."""
    return orjson.loads(state.model_dump_json())


def rendered(table: Table) -> str:
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


def headphones() -> tuple[MaterialState, list[PurchaseRequest]]:
    state = MaterialState(material_id="HP-200")
    later = request("SH01", 0, date(2026, 11, 20), alert_ids=("a1",))
    sooner = request("SZ02", 0, date(2026, 11, 8))
    expedited = request("SZ02", 1, date(2026, 11, 4))
    for raised in (later, sooner, expedited):
        state.requests.record(raised)
    state.requests.expedited["MO-240017|HP-200"] = [expedited.request_id]
    for raised, hours in ((0, 5), (1, 0)):
        suggestion = TransferSuggestion("BJ03", "SH01", 60.0 + raised, 2.0, 320.0)
        proposed = propose_transfer(
            "HP-200", suggestion, now=T + timedelta(hours=hours), raised=raised
        )
        state.transfers.record(approve(proposed, by="stockloop", at=proposed.at))
    return state, [expedited, sooner, later]


def test_open_requests_come_the_most_urgent_first_and_name_what_raised_them():
    state, by_urgency = headphones()
    shown = open_requests(served(state))
    assert [r.request_id for r in shown] == [r.request_id for r in by_urgency]
    text = rendered(requests_table("HP-200", shown, expedited_orders(served(state))))
    assert "3 open purchase requests of HP-200" in text
    rows = {
        r.request_id: line for r in by_urgency for line in text.splitlines() if r.request_id in line
    }
    assert "order MO-240017" in rows[by_urgency[0].request_id]
    assert "reorder point" in rows[by_urgency[1].request_id]
    assert "supply alert" in rows[by_urgency[2].request_id]


def test_open_transfers_come_oldest_first_with_their_lane_and_status():
    state, _ = headphones()
    shown = open_transfers(served(state))
    assert [(t.from_warehouse, t.to_warehouse, t.quantity) for t in shown] == [
        ("BJ03", "SH01", 61.0),
        ("BJ03", "SH01", 60.0),
    ]
    text = rendered(transfers_table("HP-200", shown))
    assert "2 open transfers of HP-200" in text
    assert all("approved" in line and "2 d" in line for line in text.splitlines() if "BJ03" in line)


def test_a_material_without_requests_or_transfers_shows_neither():
    state = served(MaterialState(material_id="HP-200"))
    assert open_requests(state) == [] and open_transfers(state) == []
    assert expedited_orders(state) == {}
