from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.alerts import OpenAlert
from models.events import MaterialMaster
from models.health import (
    NONE,
    HealthFilter,
    HealthSummary,
    MaterialHealth,
    Totals,
    health_of,
    summary_report,
)
from models.planning import PolicySnapshot
from models.purchasing import RequestStatus, propose
from models.state import Batch, MaterialState, WarehouseStock

NOW = datetime(2026, 6, 1, tzinfo=UTC)
WAREHOUSES = ("W1", "W2", "W3")
RULES = ("stockout_risk", "below_safety_stock", "dead_stock", "overstock")


def _alert(warehouse_id: str, rule_id: str, severity: str, value_at_risk: float) -> OpenAlert:
    return OpenAlert(
        id=f"{warehouse_id}-{rule_id}",
        rule_id=rule_id,
        warehouse_id=warehouse_id,
        severity=severity,
        active_since=NOW,
        raised_at=NOW,
        updated_at=NOW,
        last_notified_at=NOW,
        values={"value_at_risk": value_at_risk},
    )


def _request(material_id: str, warehouse_id: str, status: RequestStatus, unit_cost: float):
    request = propose(
        material_id=material_id,
        warehouse_id=warehouse_id,
        unit="EA",
        unit_cost=unit_cost,
        moq=0,
        pack_size=1,
        supplier_id="S1",
        reorder_point=10,
        order_up_to=50,
        projected_stockout_date=None,
        lead_time_days=5,
        position=0,
        alert_ids=(),
        now=NOW,
        raised=0,
        currency="EUR",
    )
    return request.model_copy(update={"status": status})


def _policy(daily_demand: float) -> PolicySnapshot:
    return PolicySnapshot(
        as_of=NOW.date(),
        demand_class="smooth",
        forecast_method="ses",
        daily_demand=daily_demand,
        sigma_daily_demand=0.0,
        supplier_id=None,
        lead_time_days=5,
        sigma_lead_time_days=0,
        service_level=0.95,
        z=1.64,
        safety_stock=0,
        reorder_point=0,
        order_up_to=0,
        days_of_cover=None,
        projected_stockout_date=None,
        projected_stockout_days=None,
    )


@st.composite
def materials(draw, material_id: str | None = None) -> MaterialState:
    material_id = material_id or draw(st.sampled_from([f"M{n}" for n in range(6)]))
    category = draw(st.sampled_from(["fabric", "yarn", None]))
    abc = draw(st.sampled_from(["A", "B", "C", None]))
    state = MaterialState(
        material_id=material_id,
        master=MaterialMaster(
            event_id=f"m-{material_id}",
            event_time=NOW - timedelta(days=400),
            material_id=material_id,
            name=f"material {material_id}",
            category=category,
            abc_class=abc,
            unit_cost=draw(st.sampled_from([0.0, 1.25, 40.0])),
        ),
        applied_through=NOW,
    )
    for warehouse_id in draw(st.sets(st.sampled_from(WAREHOUSES), max_size=3)):
        batches = [
            Batch(
                batch_id=None,
                received_at=NOW - timedelta(days=draw(st.integers(0, 400))),
                quantity=draw(st.integers(1, 10_000)) / 1000,
                unit_cost=draw(st.integers(0, 100_000)) / 100,
            )
            for _ in range(draw(st.integers(0, 3)))
        ]
        batches.sort(key=lambda b: b.received_at)
        issued = draw(st.none() | st.integers(0, 300))
        state.warehouses[warehouse_id] = WarehouseStock(
            on_hand=round(sum(b.quantity for b in batches) - draw(st.integers(0, 5)), 6),
            batches=batches,
            last_issue_at=None if issued is None else NOW - timedelta(days=issued),
            policy=draw(st.none() | st.builds(_policy, st.integers(0, 50).map(float))),
        )
        for rule_id in draw(st.sets(st.sampled_from(RULES), max_size=2)):
            alert = _alert(
                warehouse_id,
                rule_id,
                draw(st.sampled_from(["info", "warning", "critical"])),
                draw(st.integers(0, 10**7)) / 100,
            )
            state.alerts.alerts[f"{material_id}|{warehouse_id}|{rule_id}"] = alert
        if draw(st.booleans()):
            status = draw(st.sampled_from(list(RequestStatus)[:3]))
            request = _request(material_id, warehouse_id, status, 2.5)
            state.requests.open[request.request_id] = request
    return state


versions = st.lists(materials(), max_size=25)


@given(versions)
@settings(max_examples=80, deadline=None)
def test_an_incrementally_kept_summary_equals_one_recomputed_from_scratch(updates):
    kept = HealthSummary()
    latest: dict[str, MaterialHealth] = {}
    for state in updates:
        health = health_of(state)
        kept.replace(latest.get(state.material_id), health)
        latest[state.material_id] = health
    assert kept == HealthSummary.of(latest.values())


@given(versions)
@settings(max_examples=60, deadline=None)
def test_removing_every_material_leaves_an_empty_summary(updates):
    healths = {s.material_id: health_of(s) for s in updates}
    summary = HealthSummary.of(healths.values())
    for health in healths.values():
        summary.replace(health, None)
    assert summary == HealthSummary() and summary.total() == Totals()


@given(
    st.lists(materials(), max_size=8),
    st.lists(materials(), max_size=8),
    st.lists(materials(), max_size=8),
)
@settings(max_examples=60, deadline=None)
def test_merging_partition_summaries_is_associative_and_order_free(a, b, c):
    x, y, z = (HealthSummary.of(health_of(s) for s in part) for part in (a, b, c))
    left = x.merge(y).merge(z)
    assert left == x.merge(y.merge(z))
    assert left == z.merge(x).merge(y)
    assert left == HealthSummary.of(health_of(s) for s in (*a, *b, *c))


@given(
    st.lists(materials(), max_size=15),
    st.sampled_from([None, *WAREHOUSES]),
    st.sampled_from([None, "fabric", NONE]),
    st.sampled_from([None, "A", "C", NONE]),
)
@settings(max_examples=60, deadline=None)
def test_a_filtered_summary_adds_up_the_materials_the_filter_lists(
    states, warehouse, category, abc
):
    healths = {s.material_id: health_of(s) for s in states}
    health_filter = HealthFilter(warehouse=warehouse, category=category, abc=abc)
    listed = Totals()
    for health in healths.values():
        for warehouse_id in health_filter.warehouses_of(health):
            listed = listed.plus(health.totals(warehouse_id))
    assert HealthSummary.of(healths.values()).filtered(health_filter).total() == listed


@given(materials())
@settings(max_examples=60, deadline=None)
def test_value_by_age_adds_up_to_the_inventory_value_of_every_warehouse(state):
    report = health_of(state).totals().report()
    by_age = sum(bucket["value"] for bucket in report["age"])
    expected = sum(stock.inventory_value for stock in state.warehouses.values())
    assert abs(by_age - expected) < 0.005 * (
        1 + sum(len(s.batches) for s in state.warehouses.values())
    )
    assert abs(report["value_on_hand"] - by_age) < 1e-6


def _stocked(days_since_issue: int | None) -> MaterialState:
    state = MaterialState(material_id="M1", applied_through=NOW)
    state.warehouses["W1"] = WarehouseStock(
        on_hand=40,
        batches=[
            Batch(batch_id="b1", received_at=NOW - timedelta(days=200), quantity=10, unit_cost=2),
            Batch(batch_id="b2", received_at=NOW - timedelta(days=100), quantity=10, unit_cost=2),
            Batch(batch_id="b3", received_at=NOW - timedelta(days=45), quantity=10, unit_cost=2),
            Batch(batch_id="b4", received_at=NOW - timedelta(days=1), quantity=10, unit_cost=3),
        ],
        last_issue_at=None if days_since_issue is None else NOW - timedelta(days=days_since_issue),
        policy=_policy(2.0),
    )
    return state


def test_batches_fall_into_their_age_buckets_at_the_materials_event_time():
    report = health_of(_stocked(days_since_issue=3)).totals().report()
    assert [(a["bucket"], a["quantity"], a["value"]) for a in report["age"]] == [
        ("0-30", 10.0, 30.0),
        ("30-90", 10.0, 20.0),
        ("90-180", 10.0, 20.0),
        ("180+", 10.0, 20.0),
    ]
    assert report["dead_stock"] == {"items": 0, "value": 0.0, "share": 0.0}


def test_stock_not_issued_for_the_dead_stock_period_is_dead_stock_with_its_whole_value():
    report = health_of(_stocked(days_since_issue=120)).totals().report()
    assert report["dead_stock"] == {"items": 1, "value": 90.0, "share": 1.0}
    never_issued = health_of(_stocked(days_since_issue=None)).totals().report()
    assert never_issued["dead_stock"]["value"] == 90.0  # idle since its oldest receipt


def test_days_of_supply_is_value_on_hand_over_a_days_forecast_demand_at_unit_cost():
    # No master: the shelf's average cost, 90 / 40 = 2.25 per unit; 2 a day = 4.50.
    assert health_of(_stocked(3)).totals().report()["days_of_supply"] == 20.0


def test_value_at_risk_counts_the_largest_alert_of_each_risk_kind_once():
    state = _stocked(3)
    for rule_id, value in (("stockout_risk", 500.0), ("below_safety_stock", 300.0)):
        state.alerts.alerts[f"M1|W1|{rule_id}"] = _alert("W1", rule_id, "warning", value)
    state.alerts.alerts["M1|W1|dead_stock"] = _alert("W1", "dead_stock", "info", 40.0)
    totals = health_of(state).totals()
    assert totals.value_at_risk == 54_000
    assert (totals.alerts_critical, totals.alerts_warning, totals.alerts_info) == (0, 2, 1)
    assert totals.worst_severity == "warning"


def test_the_severity_filter_lists_only_warehouses_with_an_open_alert_of_that_severity():
    state = _stocked(3)
    state.warehouses["W2"] = WarehouseStock(on_hand=1)
    state.alerts.alerts["M1|W2|stockout_risk"] = _alert("W2", "stockout_risk", "critical", 9.0)
    health = health_of(state)
    assert HealthFilter(severity="critical").warehouses_of(health) == ["W2"]
    assert HealthFilter(severity="info").warehouses_of(health) == []
    assert HealthFilter().warehouses_of(health) == ["W1", "W2"]


def test_open_requests_are_counted_by_state_with_their_amount():
    state = _stocked(3)
    for status in (RequestStatus.PROPOSED, RequestStatus.APPROVED):
        request = _request("M1", "W1", status, 2.0)
        state.requests.open[f"{request.request_id}-{status}"] = request
    requests = health_of(state).totals().report()["requests"]
    assert requests == {"proposed": 1, "pending_approval": 0, "approved": 1, "amount": 200.0}


def test_the_summary_report_groups_by_warehouse_category_and_abc_with_a_risk_map():
    states = [_stocked(3), _stocked(120)]
    states[1].material_id = "M2"
    states[1].master = MaterialMaster(
        event_id="m2", event_time=NOW, material_id="M2", name="yarn", category="yarn", abc_class="A"
    )
    states[1].alerts.alerts["M2|W1|dead_stock"] = _alert("W1", "dead_stock", "warning", 45.0)
    report = summary_report(HealthSummary.of(map(health_of, states)), HealthFilter())
    assert report["totals"]["value_on_hand"] == 180.0
    assert [(g["category"], g["value_on_hand"]) for g in report["by_category"]] == [
        (NONE, 90.0),
        ("yarn", 90.0),
    ]
    assert [
        (c["category"], c["worst_severity"], c["value_at_risk"]) for c in report["risk_map"]
    ] == [
        (NONE, None, 0.0),
        ("yarn", "warning", 45.0),
    ]
    only_a = summary_report(HealthSummary.of(map(health_of, states)), HealthFilter(abc="A"))
    assert only_a["totals"]["dead_stock"]["value"] == 90.0 and only_a["filters"] == {"abc": "A"}


def test_the_report_gives_turnover_of_the_summed_issues_over_the_summed_value_days():
    # 300.00 issued in 30 days while 1,000.00 was held at every close; 50.00 more was short.
    totals = Totals(issued_30d=300_00, value_days_30d=30 * 1_000_00, short_30d=50_00)
    report = totals.report()
    assert report["turnover"]["30d"] == {
        "issued_value": 300.0,
        "average_value": 1000.0,
        "turns": 0.3,
        "annualised": 3.65,
    }
    assert report["fill_rate"]["last_30d"] == round(300 / 350, 4)
    assert report["supply_days"]["last_30d"] == round(30 * 1000 / 350, 2)
    # Two stocks: the ratio of the sums, not the mean of the two turnovers (0.3 and 0.05).
    other = Totals(issued_30d=50_00, value_days_30d=30 * 1_000_00)
    assert totals.plus(other).report()["turnover"]["30d"]["turns"] == 0.175


def test_a_contribution_stored_before_the_flow_figures_loads_with_none_of_them():
    stored = '{"material_id": "M1", "stocks": {"W1": [' + ",".join(["1"] * 22) + "]}}"
    totals = MaterialHealth.model_validate_json(stored).totals()
    assert totals.value == 1
    assert totals.report()["turnover"]["30d"]["turns"] is None
    assert totals.report()["fill_rate"]["last_30d"] is None
