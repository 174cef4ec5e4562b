"""Alerting: events into material state, then facts → built-in rules → alert lifecycle → alerts."""

from datetime import UTC, datetime, timedelta

from models.alerting import (
    Alert,
    AlertPreview,
    Verdict,
    actions_in_force,
    apply_action,
    evaluate_alerts,
    material_clock,
    preview_alerts,
)
from models.alerts import Acknowledge, Expire, Silence, alert_key
from models.events import MaterialEvent, SalesOrderLine, StockMovement
from models.priority import TIE_BREAK, PriorityConfig
from models.rules.spec import builtin_rules, load_rules
from models.state import MaterialState

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
ORDERED_AT = T0 + timedelta(days=3, hours=1)
"""When the confirmed order that opens the gap arrives; the alerts are raised then."""
GAP = "supply_demand_gap"
GAP_KEY = alert_key("M1", "W1", GAP)
RULES = builtin_rules()


def apply(state: MaterialState, event) -> None:
    state.apply(MaterialEvent(event=event))


def movement(event_id: str, kind: str, quantity: float, at: datetime) -> StockMovement:
    return StockMovement(
        event_id=event_id,
        event_time=at,
        material_id="M1",
        movement_type=kind,
        warehouse_id="W1",
        quantity=quantity,
        unit_cost=2.0,
    )


def gap_scenario() -> MaterialState:
    """100 on hand after three days of demand, then a confirmed order of 150 due in 5 days."""
    state = MaterialState(material_id="M1")
    apply(state, movement("r1", "receipt", 130, T0))
    for n in (1, 2, 3):
        apply(state, movement(f"i{n}", "issue", 10, T0 + timedelta(days=n)))
    apply(
        state,
        SalesOrderLine(
            event_id="so1",
            event_time=ORDERED_AT,
            material_id="M1",
            order_id="SO1",
            line_id="10",
            warehouse_id="W1",
            quantity=150,
            due_date=ORDERED_AT.date() + timedelta(days=5),
            status="confirmed",
            unit_price=10.0,
            customer_priority=1,
        ),
    )
    return state


def raised_gap_scenario() -> tuple[MaterialState, Alert]:
    state = gap_scenario()
    (raised,) = of_rule(evaluate_alerts(state, RULES, ORDERED_AT), GAP)
    return state, raised


def of_rule(alerts: list[Alert], rule_id: str) -> list[Alert]:
    return [alert for alert in alerts if alert.rule_id == rule_id]


def later(hours: float) -> datetime:
    return ORDERED_AT + timedelta(hours=hours)


def test_orders_beyond_stock_and_supply_raise_one_critical_supply_demand_gap():
    state = gap_scenario()
    alerts = of_rule(evaluate_alerts(state, RULES, ORDERED_AT), GAP)
    assert [(a.status, a.reason, a.severity) for a in alerts] == [
        ("raised", "condition", "critical")
    ]
    (alert,) = alerts
    assert (alert.material_id, alert.warehouse_id, alert.key) == ("M1", "W1", GAP_KEY)
    assert alert.notify and not alert.silenced and not alert.inhibited


def test_supply_demand_gap_explains_the_numbers_it_read_and_the_policy_behind_them():
    state, alert = raised_gap_scenario()
    explanation = alert.explanation
    assert explanation.values == {
        "committed_next_7d": 150.0,
        "on_hand": 100.0,
        "in_transit_next_7d": 0.0,
        "value_at_risk": 1_500.0,  # published beside the numbers the rule read
    }
    assert explanation.condition == "committed_next_7d > max(on_hand, 0) + in_transit_next_7d"
    assert "committed_next_7d=150" in explanation.text
    policy = state.warehouses["W1"].policy
    assert explanation.lead_time_days == policy.lead_time_days == 14.0
    assert explanation.forecast_daily is not None and explanation.forecast_daily > 0
    assert explanation.safety_stock is not None and explanation.safety_stock > 0
    assert explanation.reorder_point is not None
    assert explanation.reorder_point > explanation.safety_stock
    assert explanation.open_order_value == 1_500.0


def test_supply_demand_gap_priority_is_the_unserved_order_value_for_a_key_account():
    _, alert = raised_gap_scenario()
    assert alert.priority.unserved_quantity == 50
    assert alert.priority.value_at_risk == 50 * 10.0 * 3.0  # key account: weight 3
    assert alert.priority.next_receipt is None
    assert alert.explanation.days_of_cover == 0.0
    assert alert.priority.score == 1_500 + TIE_BREAK  # no cover left: the largest tie-break


def test_receipt_closing_the_gap_resolves_the_same_alert():
    state, raised = raised_gap_scenario()
    apply(state, movement("r2", "receipt", 100, later(2)))
    alerts = of_rule(evaluate_alerts(state, RULES, later(2)), GAP)
    assert [(a.status, a.reason) for a in alerts] == [("resolved", "cleared")]
    assert alerts[0].alert_id == raised.alert_id
    assert alerts[0].id != raised.id
    assert alerts[0].explanation.values["on_hand"] == 200.0


def test_evaluating_again_without_change_sends_nothing_within_the_repeat_interval():
    state, _ = raised_gap_scenario()
    assert evaluate_alerts(state, RULES, later(1)) == []
    assert evaluate_alerts(state, RULES, later(11.9)) == []


def test_alert_ids_are_the_same_in_two_independent_runs():
    first = evaluate_alerts(gap_scenario(), RULES, ORDERED_AT)
    second = evaluate_alerts(gap_scenario(), RULES, ORDERED_AT)
    assert first
    assert [a.id for a in first] == [a.id for a in second]
    assert first == second


def silence_on_m1_until(ends_at: datetime) -> Silence:
    """A planner's silence of all of material M1's alerts, from before the order to ``ends_at``."""
    return Silence(
        id="s1",
        matchers={"material_id": "M1"},
        starts_at=ORDERED_AT - timedelta(hours=1),
        ends_at=ends_at,
        created_by="planner",
    )


def test_silence_on_the_material_suppresses_notification_but_keeps_the_alert():
    state = gap_scenario()
    silence = silence_on_m1_until(later(2))
    (raised,) = of_rule(evaluate_alerts(state, RULES, ORDERED_AT, silences=[silence]), GAP)
    assert raised.status == "raised"
    assert raised.silenced and not raised.notify
    assert GAP_KEY in state.alerts.alerts


def test_alert_still_firing_when_its_silence_ends_comes_back_unsuppressed():
    state = gap_scenario()
    silence = silence_on_m1_until(later(2))
    (raised,) = of_rule(evaluate_alerts(state, RULES, ORDERED_AT, silences=[silence]), GAP)
    assert of_rule(evaluate_alerts(state, RULES, later(1), silences=[silence]), GAP) == []
    back = of_rule(evaluate_alerts(state, RULES, later(3), silences=[silence]), GAP)
    assert [(a.status, a.reason) for a in back] == [("repeated", "unsuppressed")]
    assert back[0].alert_id == raised.alert_id
    assert back[0].notify and not back[0].silenced


def test_acknowledged_alert_is_published_as_acknowledged_once_and_not_repeated():
    state, raised = raised_gap_scenario()
    ack = Acknowledge(alert_key=GAP_KEY, alert_id=raised.alert_id, by="planner", at=later(1))
    (acked,) = evaluate_alerts(state, RULES, later(1), acknowledgements={GAP_KEY: ack})
    assert (acked.status, acked.reason, acked.acknowledged_by) == (
        "updated",
        "acknowledged",
        "planner",
    )
    assert acked.alert_id == raised.alert_id and not acked.notify
    assert evaluate_alerts(state, RULES, later(2), acknowledgements={GAP_KEY: ack}) == []
    for hours in (13, 25, 49):
        assert of_rule(evaluate_alerts(state, RULES, later(hours)), GAP) == []
    assert state.alerts.alerts[GAP_KEY].acknowledged_by == "planner"


def test_unacknowledged_alert_is_repeated_after_its_repeat_interval():
    state, raised = raised_gap_scenario()
    repeated = of_rule(evaluate_alerts(state, RULES, later(13)), GAP)
    assert [(a.status, a.reason) for a in repeated] == [("repeated", "repeat_interval")]
    assert repeated[0].alert_id == raised.alert_id


def test_rule_switched_off_resolves_its_open_alert_as_rule_removed():
    state, raised = raised_gap_scenario()
    rules = load_rules(f"version: 1\nrules:\n  - {{id: {GAP}, enabled: false}}\n", base=RULES)
    alerts = evaluate_alerts(state, rules, later(1))
    assert [(a.rule_id, a.status, a.reason) for a in alerts] == [(GAP, "resolved", "rule_removed")]
    assert alerts[0].alert_id == raised.alert_id
    assert GAP_KEY not in state.alerts.alerts
    assert evaluate_alerts(state, rules, later(2)) == []


def test_stockout_risk_inhibits_below_safety_stock_for_the_same_material_and_warehouse():
    state = gap_scenario()
    alerts = evaluate_alerts(state, RULES, ORDERED_AT)
    (stockout,) = of_rule(alerts, "stockout_risk")
    assert stockout.status == "raised" and stockout.notify
    (below,) = of_rule(alerts, "below_safety_stock")
    assert below.explanation.values["available"] < below.explanation.values["safety_stock"]
    assert below.status == "raised"
    assert below.inhibited and not below.notify


def test_below_safety_stock_notifies_when_nothing_inhibits_it():
    state = gap_scenario()
    rules = load_rules("version: 1\nrules:\n  - {id: stockout_risk, enabled: false}\n", base=RULES)
    (below,) = of_rule(evaluate_alerts(state, rules, ORDERED_AT), "below_safety_stock")
    assert below.status == "raised"
    assert below.notify and not below.inhibited


SHELF = load_rules("""
version: 1
rules:
  - id: low_shelf
    description: Little stock on the shelf; critical when almost none.
    severity:
      warning: on_hand < 200
      critical:
        when: on_hand < 105
        clear_when: on_hand > 115
    deescalate_after: 1d
    clear_when: on_hand >= 200
""")


def test_a_kept_tier_is_explained_and_leaves_only_after_clearing_for_deescalate_after():
    state = MaterialState(material_id="M1")
    apply(state, movement("r1", "receipt", 130, T0))
    assert [(a.status, a.severity) for a in evaluate_alerts(state, SHELF, T0)] == [
        ("raised", "warning")
    ]
    apply(state, movement("i1", "issue", 30, T0 + timedelta(hours=1)))  # 100: critical at once
    (escalated,) = evaluate_alerts(state, SHELF, T0 + timedelta(hours=1))
    assert (escalated.status, escalated.previous_severity, escalated.severity) == (
        "updated",
        "warning",
        "critical",
    )
    apply(state, movement("r2", "receipt", 12, T0 + timedelta(hours=2)))  # 112: critical's band
    assert evaluate_alerts(state, SHELF, T0 + timedelta(hours=2)) == []
    apply(state, movement("r3", "receipt", 8, T0 + timedelta(hours=3)))  # 120: critical cleared
    assert evaluate_alerts(state, SHELF, T0 + timedelta(hours=3)) == []
    (kept,) = evaluate_alerts(state, SHELF, T0 + timedelta(days=1, hours=2, minutes=59))
    assert (kept.status, kept.severity) == ("repeated", "critical")
    assert kept.explanation.text.startswith("low_shelf critical (kept; warning now): on_hand < 200")
    (down,) = evaluate_alerts(state, SHELF, T0 + timedelta(days=1, hours=3))
    assert (down.status, down.previous_severity, down.severity) == (
        "updated",
        "critical",
        "warning",
    )


# --- actions at once and the dry-run's preview (issue 8, items 4 and 5) --------------------


def test_an_acknowledgement_applied_at_once_is_published_at_the_material_s_clock():
    state, raised = raised_gap_scenario()
    clock = material_clock(state)
    ack = Acknowledge(alert_key=GAP_KEY, alert_id=raised.alert_id, by="lin", at=later(1000))
    (acked,) = apply_action(state, ack, RULES)
    assert (acked.key, acked.status, acked.reason) == (GAP_KEY, "updated", "acknowledged")
    assert (acked.acknowledged_by, acked.at, acked.notify) == ("lin", clock, False)
    assert state.alerts.alerts[GAP_KEY].acknowledged_by == "lin"
    assert material_clock(state) == clock == ORDERED_AT
    assert apply_action(state, ack, RULES) == []


def test_an_acknowledgement_of_another_alert_changes_nothing():
    state, _ = raised_gap_scenario()
    other = Acknowledge(alert_key="M1|W9|supply_demand_gap", by="lin", at=later(1))
    stale = Acknowledge(alert_key=GAP_KEY, alert_id="0" * 16, by="lin", at=later(1))
    assert apply_action(state, other, RULES) == []
    assert apply_action(state, stale, RULES) == []
    assert state.alerts.alerts[GAP_KEY].acknowledged_by is None


def test_a_silence_applied_at_once_mutes_open_alerts_and_is_kept_by_their_book():
    state, _ = raised_gap_scenario()
    silence = silence_on_m1_until(later(48))
    muted = apply_action(state, silence, RULES)
    assert {(a.rule_id, a.status, a.reason) for a in muted} >= {(GAP, "updated", "silenced")}
    assert all(a.silenced and not a.notify for a in muted)
    assert set(state.alerts.silences) == {"s1"}
    # A tick before the mirrored table holds the silence does not unmute anything.
    assert of_rule(evaluate_alerts(state, RULES, later(1)), GAP) == []


def test_an_expiry_applied_at_once_brings_the_alerts_back():
    state, _ = raised_gap_scenario()
    silence = silence_on_m1_until(later(48))
    apply_action(state, silence, RULES)
    expire = Expire(silence_id="s1", at=ORDERED_AT - timedelta(minutes=30))
    (back,) = of_rule(apply_action(state, expire, RULES, silences=[silence]), GAP)
    assert (back.status, back.reason, back.notify) == ("repeated", "unsuppressed", True)


def test_an_action_on_a_material_never_evaluated_does_nothing():
    ack = Acknowledge(alert_key=GAP_KEY, by="lin", at=T0)
    assert apply_action(MaterialState(material_id="M1"), ack, RULES) == []


def test_actions_in_force_follow_the_compacted_topic_later_wins():
    s1, s2 = silence_on_m1_until(later(5)), silence_on_m1_until(later(9))
    ack = Acknowledge(alert_key=GAP_KEY, by="lin", at=T0)
    silences, acks = actions_in_force([s1, ack, s2])
    assert silences == [s2] and acks == {GAP_KEY: ack}
    assert actions_in_force([s2, Expire(silence_id="s1", at=T0)]) == ([], {})


def rows(previews: list[AlertPreview]) -> dict[str, AlertPreview]:
    return {preview.rule_id: preview for preview in previews}


def test_preview_runs_the_live_lifecycle_on_a_copy():
    state = gap_scenario()
    before = state.model_dump_json()
    preview = rows(preview_alerts(state, RULES, ORDERED_AT))
    assert state.model_dump_json() == before
    gap, below = preview[GAP], preview["below_safety_stock"]
    assert (gap.verdict, gap.severity, gap.published) == (
        Verdict.RAISE,
        "critical",
        "raised (condition)",
    )
    assert below.inhibited and below.verdict is Verdict.RAISE
    live = evaluate_alerts(state, RULES, ORDERED_AT)
    assert {a.rule_id for a in live} == {p.rule_id for p in preview.values()}
    assert all(
        rows(preview_alerts(state, RULES, later(1)))[r].verdict is Verdict.OPEN for r in (GAP,)
    )


SLOW_GAP = load_rules("""
version: 1
rules:
  - id: slow_gap
    description: Orders beyond stock for a whole day.
    when: committed_next_7d > on_hand
    for: 1d
""")


def test_preview_shows_a_condition_waiting_out_its_for_and_when_it_is_due():
    state = gap_scenario()
    assert evaluate_alerts(state, SLOW_GAP, ORDERED_AT) == []
    (pending,) = preview_alerts(state, SLOW_GAP, later(2))
    assert (pending.rule_id, pending.verdict, pending.since, pending.due) == (
        "slow_gap",
        Verdict.PENDING,
        ORDERED_AT,
        ORDERED_AT + timedelta(days=1),
    )
    assert pending.published is None
    (due,) = preview_alerts(state, SLOW_GAP, later(24))
    assert (due.verdict, due.published) == (Verdict.RAISE, "raised (condition)")


def test_preview_shows_alerts_kept_by_hysteresis_silenced_and_resolving():
    state = MaterialState(material_id="M1")
    apply(state, movement("r1", "receipt", 100, T0))
    evaluate_alerts(state, SHELF, T0)  # critical at once
    apply(state, movement("r2", "receipt", 12, T0 + timedelta(hours=1)))  # 112: critical's band
    silence = Silence(
        id="s1", matchers={"rule_id": "low_shelf"}, starts_at=T0, ends_at=later(99), created_by="x"
    )
    (kept,) = preview_alerts(state, SHELF, T0 + timedelta(hours=1), silences=[silence])
    assert (kept.verdict, kept.severity, kept.silenced) == (Verdict.KEPT, "critical", True)
    assert kept.published == "updated (silenced)"
    apply(state, movement("r3", "receipt", 200, T0 + timedelta(hours=2)))
    (resolving,) = preview_alerts(state, SHELF, T0 + timedelta(hours=2))
    assert (resolving.verdict, resolving.published) == (Verdict.RESOLVE, "resolved (cleared)")
    gone = load_rules("version: 1\nrules:\n  - {id: low_shelf, enabled: false}\n", base=SHELF)
    (removed,) = preview_alerts(state, gone, T0 + timedelta(hours=2))
    assert (removed.verdict, removed.published) == (Verdict.RESOLVE, "resolved (rule_removed)")


def later_order(event_id: str, quantity: float, due_in_days: int, at: datetime) -> SalesOrderLine:
    """A tier-3 order due beyond the gap rule's 7 days: it moves no number the rule reads."""
    return SalesOrderLine(
        event_id=event_id,
        event_time=at,
        material_id="M1",
        order_id=event_id.upper(),
        line_id="1",
        warehouse_id="W1",
        quantity=quantity,
        due_date=at.date() + timedelta(days=due_in_days),
        status="confirmed",
        unit_price=10.0,
    )


def test_an_open_alert_whose_value_at_risk_grows_materially_is_updated_with_it():
    # Before: the priority was computed only when the alert changed state, so the raised
    # alert kept its 1,500 after a 2,000 order arrived.
    state, raised = raised_gap_scenario()
    assert raised.priority.value_at_risk == 1_500.0
    apply(state, later_order("so2", 200, 20, later(1)))
    (updated,) = of_rule(evaluate_alerts(state, RULES, later(1)), GAP)
    assert (updated.status, updated.reason) == ("updated", "values")
    assert updated.explanation.values["committed_next_7d"] == 150.0  # the rule's own numbers
    assert updated.priority.value_at_risk == 1_500.0 + 200 * 10.0
    assert updated.explanation.values["value_at_risk"] == 3_500.0


def test_a_value_at_risk_moving_less_than_the_update_threshold_is_not_news():
    state, _ = raised_gap_scenario()
    apply(state, later_order("so2", 10, 20, later(1)))  # +100 on 1,500: under 10 %
    assert of_rule(evaluate_alerts(state, RULES, later(1)), GAP) == []
    apply(state, later_order("so3", 50, 21, later(2)))  # +600 in all since published: 40 %
    wide = PriorityConfig(update_threshold=0.5)
    assert of_rule(evaluate_alerts(state, RULES, later(2), pricing=wide), GAP) == []
    (updated,) = of_rule(evaluate_alerts(state, RULES, later(3)), GAP)
    assert updated.priority.value_at_risk == 2_100.0


def test_customer_tier_weights_come_from_the_priority_settings():
    state = gap_scenario()
    settings = PriorityConfig(customer_weights={1: 10.0})
    (alert,) = of_rule(evaluate_alerts(state, RULES, ORDERED_AT, pricing=settings), GAP)
    assert alert.priority.value_at_risk == 50 * 10.0 * 10.0
    assert alert.priority.made_of.unserved_orders == 5_000.0


def test_dead_stock_alert_states_the_capital_it_ties_up():
    state = MaterialState(material_id="M1")
    apply(state, movement("r1", "receipt", 100, T0))
    now = T0 + timedelta(days=91)
    state.replan(now)
    (dead,) = of_rule(evaluate_alerts(state, RULES, now), "dead_stock")
    assert dead.priority.kind == "dead_stock"
    assert dead.priority.made_of.capital_tied_up == 200.0
    assert dead.priority.made_of.write_off == 100.0
    assert dead.priority.value_at_risk == round(100.0 + 200.0 * 0.25 * 91 / 365, 2)


def test_an_alert_raised_before_values_at_risk_were_published_is_not_re_notified_for_one():
    state, raised = raised_gap_scenario()
    state.alerts.alerts[raised.key].values.pop("value_at_risk")  # as stored by the old core
    assert of_rule(evaluate_alerts(state, RULES, later(1)), GAP) == []
    apply(state, later_order("so2", 200, 20, later(2)))
    (updated,) = of_rule(evaluate_alerts(state, RULES, later(2)), GAP)
    assert (updated.reason, updated.priority.value_at_risk) == ("values", 3_500.0)


def test_a_falling_value_at_risk_is_not_news_but_a_rise_from_it_is():
    state, _ = raised_gap_scenario()
    apply(state, movement("r2", "receipt", 20, later(1)))  # 30 short instead of 50: 900
    assert of_rule(evaluate_alerts(state, RULES, later(1)), GAP) == []
    apply(state, later_order("so2", 11, 20, later(2)))  # 900 -> 1,010: above the fallen baseline
    (updated,) = of_rule(evaluate_alerts(state, RULES, later(2)), GAP)
    assert (updated.reason, updated.priority.value_at_risk) == ("values", 1_010.0)
