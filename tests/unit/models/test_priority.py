"""Priority: value at risk in money (unserved orders, penalties, capital tied up), and the score."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from models.planning import PolicySnapshot
from models.priority import PriorityConfig, RiskKind, priority_of, risk_kind
from models.state import Batch, CommittedLine, SupplyLine, WarehouseStock

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
    per_day_late: float = 0.0,
    per_unit_short: float = 0.0,
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
        penalty_per_day_late=per_day_late,
        penalty_per_unit_short=per_unit_short,
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


def stock(on_hand: float, orders=(), supplies=(), policy=None, batches=()) -> WarehouseStock:
    return WarehouseStock(
        on_hand=on_hand,
        committed_lines={f"SO1/{line.line_id}": line for line in orders},
        supply_lines={line.line_id: line for line in supplies},
        policy=policy,
        batches=list(batches),
    )


def policy(lead_time_days: float = 30.0, order_up_to: float = 0.0, daily: float = 0.0):
    return PolicySnapshot(
        as_of=TODAY,
        demand_class="smooth",
        forecast_method="ses",
        daily_demand=daily,
        sigma_daily_demand=0.0,
        supplier_id="S1",
        lead_time_days=lead_time_days,
        sigma_lead_time_days=0.0,
        service_level=0.95,
        z=1.64,
        safety_stock=0.0,
        reorder_point=0.0,
        order_up_to=order_up_to,
        days_of_cover=None,
        projected_stockout_date=None,
        projected_stockout_days=None,
    )


def batch(quantity: float, unit_cost: float, days_ago: float) -> Batch:
    return Batch(
        batch_id=None,
        received_at=NOW - timedelta(days=days_ago),
        quantity=quantity,
        unit_cost=unit_cost,
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


def test_a_penalty_per_unit_short_adds_to_the_value_of_the_units_short():
    line = order("1", 50, day(2), unit_price=4.0, per_unit_short=6.0)
    priority = priority_of(stock(20, [line]), 1.0, now=NOW)
    assert priority.made_of.unserved_orders == 30 * 4.0
    assert priority.made_of.penalties == 30 * 6.0
    assert priority.value_at_risk == 30 * 10.0


def test_a_line_short_is_late_until_the_first_receipt_due_after_it_or_an_order_placed_now():
    line = order("1", 50, day(2), per_day_late=100.0)
    supplies = [supply("P1", 5, day(9))]
    receipt_first = priority_of(stock(0, [line], supplies, policy(30)), 0.0, now=NOW)
    assert receipt_first.made_of.penalties == 7 * 100.0
    order_first = priority_of(stock(0, [line], supplies, policy(4)), 0.0, now=NOW)
    assert order_first.made_of.penalties == 2 * 100.0


def test_without_later_supply_a_line_short_is_late_until_an_order_placed_now_arrives():
    line = order("1", 50, day(5), per_day_late=1_500.0)
    priority = priority_of(stock(0, [line], policy=policy(lead_time_days=29.5)), 0.0, now=NOW)
    assert priority.made_of.penalties == (30 - 5) * 1_500.0
    assert priority.made_of.describe() == "orders 50 + penalties 37,500"


def test_a_line_served_in_full_carries_no_penalty():
    line = order("1", 50, day(5), per_day_late=1_500.0, per_unit_short=9.0)
    assert priority_of(stock(50, [line], policy=policy()), 0.0, now=NOW).value_at_risk == 0


def test_key_accounts_are_served_first_among_lines_due_the_same_day():
    lines = [order("other", 10, day(1), customer_priority=3), order("key", 10, day(1), 1)]
    priority = priority_of(stock(10, lines), 0.0, now=NOW)
    assert priority.made_of.unserved_orders == 10 * 1.0  # the tier-3 line is the one short


def test_dead_stock_ties_up_the_whole_shelf_since_its_last_issue():
    shelf = stock(100, batches=[batch(60, 250.0, 300), batch(40, 250.0, 200)])
    shelf.last_issue_at = NOW - timedelta(days=181)
    priority = priority_of(shelf, None, now=NOW, kind=RiskKind.DEAD_STOCK)
    made_of = priority.made_of
    assert made_of.capital_tied_up == 25_000.0
    assert made_of.write_off == 12_500.0
    assert made_of.holding_cost == round(25_000 * 0.25 * 181 / 365, 2)
    assert priority.value_at_risk == made_of.write_off + made_of.holding_cost
    assert priority.unserved_quantity == 0


def test_dead_stock_never_issued_is_held_since_its_oldest_receipt():
    shelf = stock(100, batches=[batch(100, 250.0, 73)])
    priority = priority_of(shelf, None, now=NOW, kind=RiskKind.DEAD_STOCK)
    assert priority.made_of.holding_cost == 25_000 * 0.25 * 73 / 365


def test_an_aged_batch_ties_up_only_the_oldest_batch_for_its_age():
    shelf = stock(100, batches=[batch(10, 30.0, 200), batch(90, 30.0, 20)])
    priority = priority_of(shelf, None, now=NOW, kind=RiskKind.AGED_BATCH)
    assert priority.made_of.capital_tied_up == 300.0
    assert priority.made_of.holding_cost == round(300 * 0.25 * 200 / 365, 2)
    assert priority.made_of.write_off == 150.0


def test_overstock_costs_a_year_of_holding_the_excess_over_order_up_to_whatever_the_forecast():
    values = set()
    for daily in (0.0, 3.0, 30.0):
        policy_now = policy(order_up_to=200, daily=daily)
        shelf = stock(500, batches=[batch(500, 4.0, 10)], policy=policy_now)
        priority = priority_of(shelf, None, now=NOW, kind=RiskKind.OVERSTOCK)
        assert priority.made_of.capital_tied_up == 300 * 4.0
        assert priority.made_of.write_off == 0
        values.add(priority.value_at_risk)
    assert values == {1_200 * 0.25}


def test_holding_cost_rate_and_write_off_share_are_settings():
    shelf = stock(100, batches=[batch(100, 10.0, 365)])
    config = PriorityConfig(holding_cost_rate=0.1, write_off_share=0.2)
    priority = priority_of(shelf, None, now=NOW, kind=RiskKind.DEAD_STOCK, config=config)
    assert (priority.made_of.holding_cost, priority.made_of.write_off) == (100.0, 200.0)


@pytest.mark.parametrize(
    ("rule_id", "labels", "kind"),
    [
        ("stockout_risk", {"action": "purchase_request"}, RiskKind.SHORTAGE),
        ("supply_demand_gap", {"action": "expedite"}, RiskKind.SHORTAGE),
        ("dead_stock", {"action": "dead_stock_review"}, RiskKind.DEAD_STOCK),
        ("aged_batch", {}, RiskKind.AGED_BATCH),
        ("slow_movers", {"action": "rebalance"}, RiskKind.OVERSTOCK),
        ("demand_shift", {"action": "forecast_review"}, RiskKind.SHORTAGE),
    ],
)
def test_the_rule_s_action_label_or_id_says_what_it_puts_at_risk(rule_id, labels, kind):
    assert risk_kind(rule_id, labels) is kind


@given(
    on_hand=st.floats(-50, 200),
    lines=st.lists(
        st.tuples(st.integers(1, 100), st.integers(-3, 30), st.integers(1, 5)),
        max_size=6,
    ),
    receipts=st.lists(st.tuples(st.integers(1, 100), st.integers(-3, 40)), max_size=4),
    extra=st.tuples(st.integers(1, 100), st.integers(-3, 40)),
)
def test_more_supply_never_raises_the_value_at_risk(on_hand, lines, receipts, extra):
    orders = [
        order(str(n), quantity, day(due), 2.0, tier, per_day_late=5.0, per_unit_short=1.0)
        for n, (quantity, due, tier) in enumerate(lines)
    ]
    supplies = [supply(f"P{n}", q, day(eta)) for n, (q, eta) in enumerate(receipts)]
    before = priority_of(stock(on_hand, orders, supplies, policy()), 0.0, now=NOW)
    supplies.append(supply("PX", extra[0], day(extra[1])))
    after = priority_of(stock(on_hand, orders, supplies, policy()), 0.0, now=NOW)
    assert after.value_at_risk <= before.value_at_risk
    assert after.unserved_quantity <= before.unserved_quantity
    assert before.unserved_quantity <= sum(line.open_quantity for line in orders)
