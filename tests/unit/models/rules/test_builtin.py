"""The built-in rule pack: every rule at, just below and just above each of its thresholds.

``state`` is what the alert lifecycle sees: the tier when the rule fires,
``clear`` when an open alert would resolve, ``hold`` inside the hysteresis
band (or on missing data), where an open alert stays open and none is raised.
"""

import pytest

from models.rules.evaluate import evaluate_all, evaluate_rule
from models.rules.spec import FACTS, TIERS, builtin_rules

RULES = builtin_rules()
ITEM = {"material_id": "M1", "warehouse_id": "W1", "category": "spares", "abc_class": "B"}
EPS = 0.01


def state(rule_id: str, **facts: float | None) -> str:
    outcome = evaluate_rule(RULES.rule(rule_id), facts, ITEM)
    assert outcome.in_scope
    assert not (outcome.firing and outcome.clear)
    if outcome.firing:
        return outcome.severity
    return "clear" if outcome.clear else "hold"


# --- stockout_risk: warning within the lead time + 5 days to order, critical within half the
# lead time, clear beyond +10% ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (0, "critical"),
        (5 - EPS, "critical"),
        (5, "critical"),  # lead_time_days / 2
        (5 + EPS, "warning"),
        (10, "warning"),  # lead_time_days: an order placed today would come too late
        (15 - EPS, "warning"),
        (15, "warning"),  # lead_time_days + $order_margin_days: the last day to order
        (15 + EPS, "hold"),  # band: (15, 16.5]
        (16, "hold"),
        (16.5 - EPS, "hold"),
        (16.5, "hold"),  # (lead_time_days + $order_margin_days) * 1.1: exceed it to clear
        (16.5 + EPS, "clear"),
        (60, "clear"),
        (None, "clear"),  # no stock-out within the horizon
    ],
)
def test_stockout_risk(days, expected):
    assert state("stockout_risk", projected_stockout_days=days, lead_time_days=10) == expected


@pytest.mark.parametrize(
    ("days", "severity", "holding"),
    [
        (5, "critical", ()),  # lead_time_days * $critical_share
        (5 + EPS, "warning", ("critical",)),  # critical's band: (5, 7]
        (6, "warning", ("critical",)),
        (7 - EPS, "warning", ("critical",)),
        (7, "warning", ("critical",)),  # lead_time_days * $critical_clear_share: exceed it
        (7 + EPS, "warning", ()),  # critical has cleared: an alert may go back to warning
        (15 + EPS, None, ()),  # the rule's band: nothing fires, critical has cleared
    ],
)
def test_stockout_risk_critical_is_kept_until_beyond_70_percent_of_the_lead_time(
    days, severity, holding
):
    outcome = evaluate_rule(
        RULES.rule("stockout_risk"),
        {"projected_stockout_days": days, "lead_time_days": 10},
        ITEM,
    )
    assert (outcome.severity, outcome.holding) == (severity, holding)


def test_stockout_risk_de_escalates_only_after_a_day_overstock_after_three():
    settings = RULES.alert_settings()
    assert {
        r: s.deescalate_after_seconds for r, s in settings.items() if s.deescalate_after_seconds
    } == {
        "stockout_risk": 86_400,
        "overstock": 3 * 86_400,
    }


def test_stockout_risk_holds_without_a_lead_time():
    assert state("stockout_risk", projected_stockout_days=3) == "hold"


def test_stockout_risk_thresholds_scale_with_the_lead_time():
    assert state("stockout_risk", projected_stockout_days=8, lead_time_days=3) == "warning"
    assert state("stockout_risk", projected_stockout_days=1.5, lead_time_days=3) == "critical"
    assert state("stockout_risk", projected_stockout_days=8.5, lead_time_days=3) == "hold"
    assert state("stockout_risk", projected_stockout_days=8.8 + EPS, lead_time_days=3) == "clear"


def test_stockout_risk_warns_with_the_days_to_order_on_top_of_the_lead_time():
    """The festival headphones' case (issue #15): a 30-day supplier, stock-out in 33 days.

    An order placed today arrives in time, but only if it is approved and
    confirmed within 3 days: the rule warns now, not once it is too late.
    """
    assert state("stockout_risk", projected_stockout_days=33, lead_time_days=30) == "warning"
    rule = RULES.rule("stockout_risk")
    assert rule.params["order_margin_days"] == 5


# --- reorder_point_reached: info at the reorder point until the ERP orders, clear at +5% ----


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (-50, "info"),
        (400 - EPS, "info"),
        (400, "info"),  # at the reorder point: time to order
        (400 + EPS, "hold"),
        (420, "hold"),  # reorder_point * 1.05: exceed it to clear
        (420 + EPS, "clear"),
        (None, "hold"),
    ],
)
def test_reorder_point_reached(position, expected):
    facts = {"inventory_position": position, "reorder_point": 400}
    assert state("reorder_point_reached", **facts) == expected


def test_reorder_point_reached_never_fires_without_a_reorder_point():
    assert state("reorder_point_reached", inventory_position=0, reorder_point=0) == "clear"


# --- below_safety_stock: warning below, clear at +5% --------------------------------------


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        (-20, "warning"),
        (100 - EPS, "warning"),
        (100, "hold"),  # at the safety stock: not below, not yet 5% above
        (100 + EPS, "hold"),
        (105 - EPS, "hold"),
        (105, "clear"),  # safety_stock * 1.05
        (105 + EPS, "clear"),
        (None, "hold"),
    ],
)
def test_below_safety_stock(available, expected):
    assert state("below_safety_stock", available=available, safety_stock=100) == expected


# --- supply_demand_gap: critical when 7-day orders exceed stock + 7-day supply -------------


@pytest.mark.parametrize(
    ("committed", "expected"),
    [
        (100 + EPS, "critical"),
        (100, "hold"),  # on_hand 60 + in transit 40 = 100: exactly covered
        (100 - EPS, "hold"),
        (100 / 1.05 + EPS, "hold"),
        (100 / 1.05, "clear"),  # covered with 5% to spare
        (100 / 1.05 - EPS, "clear"),
        (0, "clear"),
    ],
)
def test_supply_demand_gap(committed, expected):
    facts = {"on_hand": 60, "in_transit_next_7d": 40, "committed_next_7d": committed}
    assert state("supply_demand_gap", **facts) == expected


def test_supply_demand_gap_does_not_count_committed_orders_twice():
    # available (on hand - committed) = 20 would make 80 > 20 + 0 look like a gap; it is not.
    facts = {"on_hand": 100, "available": 20, "committed_next_7d": 80, "in_transit_next_7d": 0}
    assert state("supply_demand_gap", **facts) == "clear"


def test_supply_demand_gap_treats_negative_stock_as_none_on_the_shelf():
    facts = {"on_hand": -50, "in_transit_next_7d": 0}
    assert state("supply_demand_gap", committed_next_7d=0, **facts) == "clear"
    assert state("supply_demand_gap", committed_next_7d=EPS, **facts) == "critical"


# --- dead_stock: info after 60 idle days, warning after 90, while stock is on the shelf -----


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (60 - EPS, "clear"),
        (60, "info"),
        (60 + EPS, "info"),
        (90 - EPS, "info"),
        (90, "warning"),
        (90 + EPS, "warning"),
        (400, "warning"),
    ],
)
def test_dead_stock(days, expected):
    assert state("dead_stock", on_hand=10, days_since_last_issue=days) == expected


@pytest.mark.parametrize(
    ("on_hand", "expected"), [(0, "clear"), (-5, "clear"), (EPS, "warning"), (None, "hold")]
)
def test_dead_stock_needs_stock_on_the_shelf(on_hand, expected):
    assert state("dead_stock", on_hand=on_hand, days_since_last_issue=120) == expected


@pytest.mark.parametrize(
    ("batch_age", "expected"),
    [(60 - EPS, "clear"), (60, "info"), (90 - EPS, "info"), (90, "warning"), (None, "hold")],
)
def test_never_issued_stock_is_idle_since_its_oldest_receipt(batch_age, expected):
    facts = {"on_hand": 10, "days_since_last_issue": None, "batch_age_days": batch_age}
    assert state("dead_stock", **facts) == expected


def test_an_issue_after_old_receipts_resets_dead_stock():
    facts = {"on_hand": 10, "days_since_last_issue": 3, "batch_age_days": 300}
    assert state("dead_stock", **facts) == "clear"


# --- aged_batch: oldest batch older than 180 days, severity by its value -------------------


@pytest.mark.parametrize(
    ("age", "value", "expected"),
    [
        (180 - EPS, 50_000, "clear"),
        (180, 50_000, "clear"),  # not older than the maximum age
        (180 + EPS, 1_000 - EPS, "info"),
        (180 + EPS, 1_000, "warning"),
        (180 + EPS, 1_000 + EPS, "warning"),
        (180 + EPS, 10_000 - EPS, "warning"),
        (180 + EPS, 10_000, "critical"),
        (180 + EPS, 10_000 + EPS, "critical"),
        (400, None, "info"),  # value unknown: at least aged
        (None, 50_000, "clear"),  # no batch left on the shelf
    ],
)
def test_aged_batch(age, value, expected):
    assert state("aged_batch", batch_age_days=age, batch_value=value) == expected


# --- overstock: info above +50% of order-up-to, warning above twice it, clear within +30% --


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        (130 - EPS, "clear"),
        (130, "clear"),  # order_up_to * 1.3
        (130 + EPS, "hold"),  # band: (130, 150]
        (150 - EPS, "hold"),
        (150, "hold"),  # order_up_to * 1.5 must be exceeded
        (150 + EPS, "info"),
        (200 - EPS, "info"),
        (200, "info"),
        (200 + EPS, "warning"),
        (None, "hold"),
    ],
)
def test_overstock(available, expected):
    assert state("overstock", available=available, order_up_to=100) == expected


@pytest.mark.parametrize(
    ("available", "severity", "holding"),
    [
        (200 + EPS, "warning", ()),  # order_up_to * 2 must be exceeded
        (200, "info", ("warning",)),  # warning's band: (175, 200]
        (175 + EPS, "info", ("warning",)),
        (175, "info", ()),  # order_up_to * 1.75: warning has cleared
        (150 + EPS, "info", ()),
        (140, None, ()),  # the rule's band
    ],
)
def test_overstock_warning_is_kept_until_within_75_percent_of_the_level(
    available, severity, holding
):
    outcome = evaluate_rule(
        RULES.rule("overstock"), {"available": available, "order_up_to": 100}, ITEM
    )
    assert (outcome.severity, outcome.holding) == (severity, holding)


def test_overstock_must_hold_for_a_week_and_needs_an_order_up_to_level():
    assert RULES.rule("overstock").for_seconds == 7 * 86_400
    assert state("overstock", available=500, order_up_to=0) == "hold"


# --- demand_shift: info while the drift flag is set -----------------------------------------


@pytest.mark.parametrize(
    ("flag", "expected"), [(1.0, "info"), (1, "info"), (0.0, "clear"), (None, "hold")]
)
def test_demand_shift(flag, expected):
    assert state("demand_shift", demand_shift=flag) == expected


# --- the pack as a whole --------------------------------------------------------------------

HEALTHY = {
    "available": 420.0,
    "on_hand": 600.0,
    "in_transit": 250.0,
    "committed": 180.0,
    "committed_next_7d": 140.0,
    "in_transit_next_7d": 100.0,
    "days_of_cover": 21.0,
    "projected_stockout_days": None,
    "lead_time_days": 14.0,
    "days_to_order": None,
    "inventory_position": 670.0,
    "safety_stock": 150.0,
    "reorder_point": 430.0,
    "order_up_to": 700.0,
    "days_since_last_issue": 2.0,
    "batch_age_days": 35.0,
    "batch_value": 2_400.0,
    "forecast_daily": 20.0,
    "inventory_value": 24_000.0,
    "unit_cost": 40.0,
    "demand_shift": 0.0,
}


def test_the_pack_has_the_documented_rules_and_inhibition():
    assert [rule.id for rule in RULES.enabled_rules] == [
        "stockout_risk",
        "reorder_point_reached",
        "below_safety_stock",
        "supply_demand_gap",
        "dead_stock",
        "aged_batch",
        "overstock",
        "demand_shift",
    ]
    assert [(i.source, i.target, i.equal) for i in RULES.inhibit] == [
        ("stockout_risk", "below_safety_stock", ("material_id", "warehouse_id")),
        ("stockout_risk", "reorder_point_reached", ("material_id", "warehouse_id")),
        ("dead_stock", "aged_batch", ("material_id", "warehouse_id")),
    ]
    assert RULES.defaults.repeat_interval_seconds == 86_400


def test_a_healthy_item_raises_nothing_and_clears_everything():
    outcomes = evaluate_all(RULES, HEALTHY, ITEM)
    assert [o.rule_id for o in outcomes if o.firing] == []
    assert all(o.clear for o in outcomes)


def test_no_rule_fires_on_missing_data():
    outcomes = evaluate_all(RULES, dict.fromkeys(FACTS), ITEM)
    assert [o.rule_id for o in outcomes if o.firing] == []
    # Only rules that say what missing data means may resolve on it.
    assert [o.rule_id for o in outcomes if o.clear] == ["stockout_risk", "aged_batch"]


def test_every_rule_explains_itself_to_its_owner():
    for rule in RULES.rules:
        assert rule.description.strip()
        assert rule.labels["owner"] in {"buyer", "planner", "warehouse_lead", "finance"}
        assert rule.labels["channel"] in {"immediate", "digest"}
        assert rule.labels["action"]


def test_every_param_is_used_and_every_fact_read_is_known():
    for rule in RULES.rules:
        compiled = rule.compiled
        used: dict[str, float] = {}
        for expression in (compiled.fires, compiled.clear, *filter(None, compiled.tier_clears)):
            used |= expression.params()
        assert used == rule.params, rule.id
        assert set(compiled.names) <= set(FACTS)
        assert {tier for tier, _ in compiled.tiers} <= set(TIERS)


def test_shortage_alerts_repeat_twice_a_day_slow_conditions_weekly():
    settings = RULES.alert_settings()
    assert {rule_id: s.repeat_interval_seconds for rule_id, s in settings.items()} == {
        "stockout_risk": 43_200,
        "reorder_point_reached": 86_400,
        "below_safety_stock": 86_400,
        "supply_demand_gap": 43_200,
        "dead_stock": 604_800,
        "aged_batch": 604_800,
        "overstock": 604_800,
        "demand_shift": 604_800,
    }


def test_only_severity_changes_update_an_alert_except_a_widening_supply_gap():
    settings = RULES.alert_settings()
    assert {rule_id: s.update_on for rule_id, s in settings.items() if s.update_on} == {
        "supply_demand_gap": ("committed_next_7d",)
    }
