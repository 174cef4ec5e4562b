"""``stockloop materials show``: the open requests, transfers, alerts and flow the API gives."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from models.alerts import OpenAlert
from models.events import MaterialEvent, MovementType, StockMovement
from models.health import health_of
from models.purchasing import PurchaseRequest, propose
from models.state import MaterialState
from models.transfers import TransferSuggestion, approve, propose_transfer
from streams.cli.materials import (
    closed_alerts_table,
    expedited_orders,
    flow_table,
    open_alerts_table,
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


def _issued_daily(days: int, quantity: float) -> MaterialState:
    """HP-200 received once in SH01 and issued ``quantity`` a day, ticked to the last day."""
    state = MaterialState(material_id="HP-200")

    def move(at: datetime, kind: MovementType, moved: float, n: int) -> None:
        state.apply(
            MaterialEvent(
                event=StockMovement(
                    event_id=f"{kind}-{n}",
                    event_time=at,
                    material_id="HP-200",
                    warehouse_id="SH01",
                    movement_type=kind,
                    quantity=moved,
                    unit_cost=4.0,
                )
            )
        )

    start = T - timedelta(days=days)
    move(start, MovementType.RECEIPT, 1000, 0)
    for n in range(1, days):
        move(start + timedelta(days=n), MovementType.ISSUE, quantity, n)
    state.replan(T)
    return state


def test_the_flow_table_shows_each_warehouses_turnover_and_fill_rate_from_the_api():
    state = _issued_daily(40, 5)
    report = health_of(state).stocks["SH01"].report()
    text = rendered(flow_table("HP-200", {"SH01": report}))
    row = next(line for line in text.splitlines() if "SH01" in line)
    turnover = report["turnover"]
    assert f"{turnover['30d']['turns']:.2f} ({turnover['previous_30d']['turns']:.2f})" in row
    assert f"{turnover['365d']['annualised']:.2f}" in row
    assert "100.0 % (100.0 %)" in row


def test_open_alerts_show_the_numbers_they_read_beside_the_stock_now():
    state = _issued_daily(10, 5)
    state.alerts.alerts["HP-200|SH01|low"] = OpenAlert(
        id="a1",
        rule_id="low",
        warehouse_id="SH01",
        severity="warning",
        active_since=T - timedelta(days=2),
        raised_at=T - timedelta(days=2),
        updated_at=T - timedelta(days=2),
        last_notified_at=T - timedelta(days=2),
        values={"on_hand": 990.0},
        inhibited=True,
    )
    table = open_alerts_table("HP-200", served(state), T.isoformat())
    assert isinstance(table, Table)
    text = rendered(table)
    row = next(line for line in text.splitlines() if "low" in line)
    assert "warning inhibited" in row
    assert "as of 2026-10-24 03:00" in text
    assert "on_hand 990" in text and f"on_hand {state.warehouses['SH01'].on_hand:g}" in text
    assert open_alerts_table("HP-200", served(MaterialState(material_id="HP-200")), None) == (
        "no open alerts for HP-200"
    )


def test_closed_alerts_are_listed_as_the_api_gives_them_newest_first():
    closed = [
        {
            "rule_id": "stockout_risk",
            "warehouse_id": "SH01",
            "severity": "critical",
            "raised_at": "2026-10-20T08:00:00Z",
            "resolved_at": "2026-10-22T09:30:00Z",
            "reason": "out_of_scope",
            "value_at_risk": 1250.5,
        }
    ]
    text = rendered(closed_alerts_table("HP-200", closed))
    row = next(line for line in text.splitlines() if "stockout_risk" in line)
    assert "2026-10-20 08:00" in row and "2026-10-22 09:30" in row
    assert "out of scope" in row and "1,250.5" in row
