"""Priority: value at risk of confirmed orders unserved before the next receipt, and the score."""

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from models.priority import PriorityConfig, priority_of
from models.state import CommittedLine, SupplyLine, WarehouseStock

TODAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def order(
    line_id: str,
    quantity: float,
    due: date,
    unit_price: float = 1.0,
    customer_priority: int = 3,
    shipped: float = 0.0,
) -> CommittedLine:
    return CommittedLine(
        order_id="SO1",
        line_id=line_id,
        quantity=quantity,
        shipped_quantity=shipped,
        due_date=due,
        unit_price=unit_price,
        customer_id="C1",
        customer_priority=customer_priority,
    )


def supply(line_id: str, quantity: float, eta: date) -> SupplyLine:
    return SupplyLine(
        line_id=line_id,
        supplier_id="S1",
        quantity=quantity,
        received_quantity=0.0,
        ordered_at=datetime(2026, 2, 1, tzinfo=UTC),
        eta=eta,
    )


def stock(on_hand: float, orders=(), supplies=()) -> WarehouseStock:
    return WarehouseStock(
        on_hand=on_hand,
        committed_lines={f"SO1/{line.line_id}": line for line in orders},
        supply_lines={line.line_id: line for line in supplies},
    )


def test_on_hand_serves_order_lines_earliest_due_first():
    # Listed latest first: served in due-date order, 100 on hand covers "early" and 20 of "mid".
    lines = [
        order("late", 50, day(5), unit_price=4.0),
        order("early", 80, day(1), unit_price=10.0),
        order("mid", 40, day(3), unit_price=2.0),
    ]
    priority = priority_of(stock(100, lines), days_of_cover=3.0, now=NOW)
    assert priority.unserved_quantity == 20 + 50
    assert priority.value_at_risk == 20 * 2.0 + 50 * 4.0


def test_only_the_open_quantity_of_a_partly_shipped_line_is_at_risk():
    line = order("1", 50, day(2), unit_price=3.0, shipped=20)
    priority = priority_of(stock(10, [line]), days_of_cover=1.0, now=NOW)
    assert priority.unserved_quantity == 20
    assert priority.value_at_risk == 60.0


def test_negative_on_hand_serves_nothing_and_adds_no_phantom_shortage():
    priority = priority_of(stock(-20, [order("1", 10, day(1), unit_price=5.0)]), 0.0, now=NOW)
    assert priority.unserved_quantity == 10
    assert priority.value_at_risk == 50.0


def test_a_receipt_serves_only_lines_due_from_its_eta_and_only_up_to_its_quantity():
    # Before: every line due on or after the next receipt (1 unit) counted as served.
    lines = [
        order("before", 30, day(2), unit_price=5.0),
        order("on_eta", 30, day(3), unit_price=7.0),
        order("after", 30, day(4), unit_price=11.0),
        order("late", 30, day(10), unit_price=13.0),
    ]
    supplies = [supply("P2", 500, day(9)), supply("P1", 1, day(3))]
    priority = priority_of(stock(0, lines, supplies), days_of_cover=0.0, now=NOW)
    assert priority.next_receipt == day(3)
    assert priority.unserved_quantity == 30 + 29 + 30
    assert priority.value_at_risk == 30 * 5.0 + 29 * 7.0 + 30 * 11.0


def test_without_inbound_supply_every_order_line_can_be_at_risk():
    lines = [order("1", 30, day(2)), order("2", 30, day(300))]
    priority = priority_of(stock(0, lines), days_of_cover=0.0, now=NOW)
    assert priority.next_receipt is None
    assert priority.unserved_quantity == 60


@pytest.mark.parametrize(
    ("customer_priority", "weight"), [(1, 3.0), (2, 2.0), (3, 1.0), (4, 0.75), (5, 0.5)]
)
def test_value_at_risk_is_weighted_by_customer_priority(customer_priority, weight):
    line = order("1", 10, day(1), unit_price=4.0, customer_priority=customer_priority)
    priority = priority_of(stock(0, [line]), days_of_cover=0.0, now=NOW)
    assert priority.unserved_quantity == 10
    assert priority.value_at_risk == 10 * 4.0 * weight


def test_stock_covering_every_order_has_nothing_at_risk():
    priority = priority_of(
        stock(100, [order("1", 60, day(1)), order("2", 40, day(2))]), 5.0, now=NOW
    )
    assert priority.unserved_quantity == 0
    assert priority.value_at_risk == 0


def test_without_orders_nothing_is_at_risk_and_less_cover_scores_higher():
    priorities = [priority_of(stock(50), cover, now=NOW) for cover in (0.0, 1.0, 7.0, 60.0)]
    assert [p.value_at_risk for p in priorities] == [0, 0, 0, 0]
    assert [p.unserved_quantity for p in priorities] == [0, 0, 0, 0]
    scores = [p.score for p in priorities]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == len(scores)


def test_unknown_days_of_cover_scores_below_any_known_cover_within_a_year():
    unknown = priority_of(stock(50), days_of_cover=None, now=NOW)
    assert unknown.value_at_risk == 0
    assert unknown.score < priority_of(stock(50), days_of_cover=30.0, now=NOW).score
    assert unknown.score == priority_of(stock(50), days_of_cover=365.0, now=NOW).score


def test_days_of_cover_breaks_ties_between_equal_values_at_risk():
    lines = [order("1", 30, day(1), unit_price=2.0)]
    sooner = priority_of(stock(10, lines), days_of_cover=0.5, now=NOW)
    later = priority_of(stock(10, lines), days_of_cover=4.0, now=NOW)
    assert sooner.value_at_risk == later.value_at_risk == 40.0
    assert sooner.score > later.score


@pytest.mark.parametrize(
    ("more_value_price", "less_value_price"),
    [(0.5, None), (40.5, 40.0)],
    ids=["some-vs-none", "within-one-money-unit"],
)
def test_more_value_at_risk_ranks_higher_whatever_the_days_of_cover(
    more_value_price, less_value_price
):
    # Days of cover only breaks ties: it must never outrank a difference in value at risk.
    more = [order("1", 1, day(1), unit_price=more_value_price)]
    less = [order("1", 1, day(1), unit_price=less_value_price)] if less_value_price else []
    more_at_risk = priority_of(stock(0, more), days_of_cover=30.0, now=NOW)
    less_at_risk = priority_of(stock(0, less), days_of_cover=0.0, now=NOW)
    assert more_at_risk.value_at_risk > less_at_risk.value_at_risk
    assert more_at_risk.score > less_at_risk.score


def test_priority_settings_reweigh_one_tier_and_keep_the_others():
    config = PriorityConfig(customer_weights={1: 5.0})
    assert config.customer_weight(1) == 5.0
    assert [config.customer_weight(tier) for tier in (2, 3, 4, 5)] == [2.0, 1.0, 0.75, 0.5]


def test_priority_settings_refuse_a_tier_outside_one_to_five():
    with pytest.raises(ValidationError, match="customer_weights"):
        PriorityConfig(customer_weights={6: 1.0})
