"""``stockloop alerts open``: ranked by money, each alert with what its value at risk is made of."""

from datetime import UTC, datetime, timedelta

from rich.console import Console

from models.alerting import Alert, evaluate_alerts
from models.events import MaterialEvent, SalesOrderLine, StockMovement
from models.priority import Priority
from models.rules.spec import builtin_rules
from models.state import MaterialState
from streams.cli.alerts import by_value_at_risk, listing, made_of

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
RULES = builtin_rules()


def receipt(material_id: str, quantity: float, unit_cost: float, at: datetime) -> MaterialEvent:
    return MaterialEvent(
        event=StockMovement(
            event_id=f"{material_id}-r",
            event_time=at,
            material_id=material_id,
            movement_type="receipt",
            warehouse_id="W1",
            quantity=quantity,
            unit_cost=unit_cost,
        )
    )


def short_fabric(now: datetime) -> list[Alert]:
    """A key customer's 60 m of fabric due in 5 days, with 20 m on hand and a penalty."""
    state = MaterialState(material_id="FAB-7")
    state.apply(receipt("FAB-7", 20, 10.0, now - timedelta(days=1)))
    order = SalesOrderLine(
        event_id="so",
        event_time=now,
        material_id="FAB-7",
        order_id="SO1",
        line_id="1",
        warehouse_id="W1",
        quantity=60,
        due_date=now.date() + timedelta(days=5),
        status="confirmed",
        unit_price=19.0,
        customer_priority=1,
        penalty_per_unit_short=5.0,
    )
    state.apply(MaterialEvent(event=order))
    return [a for a in evaluate_alerts(state, RULES, now) if a.rule_id == "supply_demand_gap"]


def dead_spare(now: datetime) -> list[Alert]:
    """100 spare parts at 250 received 181 days before ``now`` and never issued."""
    state = MaterialState(material_id="SPARE-1")
    state.apply(receipt("SPARE-1", 100, 250.0, now - timedelta(days=181)))
    state.replan(now)
    return [a for a in evaluate_alerts(state, RULES, now) if a.rule_id == "dead_stock"]


def render(alerts: list[Alert], width: int = 250) -> str:
    console = Console(width=width, record=True)  # as wide as the integration tests run it
    console.print(listing(alerts, limit=30, all_=False))
    return console.export_text()


def test_open_alerts_rank_by_money_across_shortage_and_dead_stock():
    (gap,) = short_fabric(T0)
    (dead,) = dead_spare(T0)
    assert gap.priority.value_at_risk == 40 * 19.0 * 3.0 + 40 * 5.0
    assert dead.priority.value_at_risk > gap.priority.value_at_risk
    assert by_value_at_risk([gap, dead]) == [dead, gap]


def test_the_listing_says_what_each_value_at_risk_is_made_of():
    text = render([*short_fabric(T0), *dead_spare(T0)])
    dead_row = next(line for line in text.splitlines() if "SPARE-1" in line)
    assert "15,599.32" in dead_row
    assert "holding 3,099 + write-off 12,500 of 25,000 tied up" in dead_row
    gap_row = next(line for line in text.splitlines() if "FAB-7" in line)
    assert "2,480.00" in gap_row and "orders 2,280 + penalties 200" in gap_row
    assert text.index("SPARE-1") < text.index("FAB-7")


def test_a_record_published_before_the_parts_existed_shows_no_made_of():
    (gap,) = short_fabric(T0)
    old = gap.model_copy(
        update={
            "priority": Priority(
                value_at_risk=120.0, unserved_quantity=4.0, next_receipt=None, score=120.0
            )
        }
    )
    assert made_of(old) == ""
    assert made_of(gap) == "orders 2,280 + penalties 200"
