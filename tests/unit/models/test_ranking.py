from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.health import SEVERITIES, AlertRow, HealthFilter, MaterialHealth, RequestRow, Totals
from models.ranking import REQUEST_ORDER, HealthIndex, RankIndex, merged_top

NOW = datetime(2026, 6, 1, tzinfo=UTC)
MATERIALS = [f"M{n}" for n in range(6)]
WAREHOUSES = ["W1", "W2", "W3"]


@st.composite
def contributions(draw: st.DrawFn) -> MaterialHealth:
    """A material's contribution with small numbers, so that rank keys often tie."""
    material_id = draw(st.sampled_from(MATERIALS))
    stocked = draw(st.lists(st.sampled_from(WAREHOUSES), unique=True, max_size=3))
    stocks = {
        w: Totals(
            stock_items=1, value=draw(st.integers(0, 3)), value_at_risk=draw(st.integers(0, 2))
        )
        for w in stocked
    }
    alerts = tuple(
        AlertRow(
            key=f"{material_id}|{warehouse_id}|rule{n}",
            material_id=material_id,
            warehouse_id=warehouse_id,
            rule_id=f"rule{n}",
            severity=severity,
            value_at_risk=at_risk,
            active_since=NOW,
        )
        for n, (warehouse_id, severity, at_risk) in enumerate(
            draw(
                st.lists(
                    st.tuples(
                        st.sampled_from([*WAREHOUSES, "W9"]),  # W9: an alert where it has no stock
                        st.sampled_from(SEVERITIES),
                        st.sampled_from([0.0, 1.5, 2.0]),
                    ),
                    max_size=3,
                )
            )
        )
    )
    requests = tuple(
        RequestRow(
            request_id=f"{material_id}-PR{n}",
            material_id=material_id,
            warehouse_id=warehouse_id,
            status=status,
            quantity=1.0,
            amount=amount,
            needed_by=needed_by,
            at=NOW,
        )
        for n, (warehouse_id, status, amount, needed_by) in enumerate(
            draw(
                st.lists(
                    st.tuples(
                        st.sampled_from(WAREHOUSES),
                        st.sampled_from([*REQUEST_ORDER, "on_hold"]),
                        st.sampled_from([10.0, 20.0]),
                        st.sampled_from([None, date(2026, 6, 5), date(2026, 6, 9)]),
                    ),
                    max_size=2,
                )
            )
        )
    )
    return MaterialHealth(
        material_id=material_id,
        category=draw(st.sampled_from(["fabric", "yarn", "-"])),
        abc_class=draw(st.sampled_from(["A", "B", "-"])),
        stocks=stocks,
        alerts=alerts,
        requests=requests,
    )


filters = st.builds(
    HealthFilter,
    warehouse=st.sampled_from([None, *WAREHOUSES, "W9"]),
    category=st.sampled_from([None, "fabric", "yarn", "-", "none such"]),
    abc=st.sampled_from([None, "A", "B", "-"]),
    severity=st.sampled_from([None, *SEVERITIES]),
)
operations = st.lists(st.one_of(contributions(), st.sampled_from(MATERIALS)), max_size=25)
"""Contributions set and material ids removed, in any order."""


def _held(operations: list[MaterialHealth | str]) -> tuple[HealthIndex, dict[str, MaterialHealth]]:
    index = HealthIndex()
    latest: dict[str, MaterialHealth] = {}
    for operation in operations:
        if isinstance(operation, str):
            index.discard(operation)
            latest.pop(operation, None)
        else:
            index.set(operation)
            latest[operation.material_id] = operation
    return index, latest


def _sorted_materials(healths, health_filter: HealthFilter) -> list[tuple]:
    rows = []
    for health in healths:
        warehouses = health_filter.warehouses_of(health)
        if warehouses:
            at_risk = sum(health.stocks[w].value_at_risk for w in warehouses)
            value = sum(health.stocks[w].value for w in warehouses)
            rows.append((-at_risk, -value, health.material_id))
    return sorted(rows)


def _sorted_alerts(healths, health_filter: HealthFilter) -> list[tuple]:
    rank = {severity: n for n, severity in enumerate(SEVERITIES)}
    return sorted(
        (-alert.value_at_risk, rank[alert.severity], alert.key)
        for health in healths
        for alert in health.alerts
        if alert.warehouse_id in health_filter.warehouses_of(health)
        and health_filter.severity in (None, alert.severity)
    )


def _open_requests(healths, health_filter: HealthFilter) -> list[RequestRow]:
    unrated = health_filter.model_copy(update={"severity": None})
    return [
        request
        for health in healths
        for request in health.requests
        if request.warehouse_id in unrated.warehouses_of(health)
    ]


def _request_key(request: RequestRow) -> tuple:
    order = REQUEST_ORDER.index(request.status) if request.status in REQUEST_ORDER else 9
    needed_by = (request.needed_by or date.max).isoformat()
    return (order, needed_by, -request.amount, request.request_id)


@given(operations, filters, st.integers(1, 12))
@settings(max_examples=120, deadline=None)
def test_the_materials_pages_equal_a_full_sort_after_any_sets_and_removals(ops, chosen, limit):
    index, latest = _held(ops)
    expected = _sorted_materials(latest.values(), chosen)
    total, rows = merged_top([index.materials(chosen)], limit)
    assert total == len(expected)
    assert [row[:3] for row in rows] == expected[:limit]


@given(operations, filters, st.integers(1, 12))
@settings(max_examples=120, deadline=None)
def test_the_alerts_pages_equal_a_full_sort_after_any_sets_and_removals(ops, chosen, limit):
    index, latest = _held(ops)
    expected = _sorted_alerts(latest.values(), chosen)
    total, rows = merged_top([index.alerts(chosen)], limit)
    assert total == len(expected)
    assert [row[:3] for row in rows] == expected[:limit]


@given(operations, filters, st.sampled_from([None, *REQUEST_ORDER]), st.integers(1, 12))
@settings(max_examples=100, deadline=None)
def test_the_requests_pages_and_counts_by_state_equal_a_full_count_and_sort(
    ops, chosen, status, limit
):
    index, latest = _held(ops)
    inside = _open_requests(latest.values(), chosen)
    expected = sorted(_request_key(r) for r in inside if status in (None, r.status))
    total, rows = merged_top([index.requests(chosen, status)], limit)
    assert total == len(expected)
    assert [row[:4] for row in rows] == expected[:limit]
    by_status = dict.fromkeys(REQUEST_ORDER, 0)
    for request in inside:
        by_status[request.status] = by_status.get(request.status, 0) + 1
    assert index.requests_by_status(chosen) == by_status


def _material(operation: MaterialHealth | str) -> str:
    return operation if isinstance(operation, str) else operation.material_id


@given(operations, filters, st.integers(1, 12))
@settings(max_examples=60, deadline=None)
def test_indexes_of_partitions_merged_equal_one_index_of_all(ops, chosen, limit):
    whole, _ = _held(ops)
    parts = [
        _held([op for op in ops if _material(op) in half])[0]
        for half in (MATERIALS[:3], MATERIALS[3:])
    ]
    for listed in (
        lambda i: i.materials(chosen),
        lambda i: i.alerts(chosen),
        lambda i: i.requests(chosen, None),
    ):
        assert merged_top(map(listed, parts), limit) == merged_top([listed(whole)], limit)


@given(operations, filters, st.integers(1, 12))
@settings(max_examples=60, deadline=None)
def test_an_index_built_at_once_equals_one_kept_by_every_change(ops, chosen, limit):
    kept, latest = _held(ops)
    built = HealthIndex.of(latest.values())
    for listed in (
        lambda i: i.materials(chosen),
        lambda i: i.alerts(chosen),
        lambda i: i.requests(chosen, None),
    ):
        assert merged_top([listed(built)], limit) == merged_top([listed(kept)], limit)
    assert len(built) == len(kept)


@given(operations)
@settings(max_examples=50, deadline=None)
def test_setting_a_contribution_again_changes_nothing(ops):
    index, latest = _held(ops)
    before = {m: index._held.get(m) for m in MATERIALS}
    for health in latest.values():
        index.set(health)
    assert {m: index._held.get(m) for m in MATERIALS} == before
    assert merged_top([index.materials(HealthFilter())], 50) == (
        len(_sorted_materials(latest.values(), HealthFilter())),
        merged_top([HealthIndex.of(latest.values()).materials(HealthFilter())], 50)[1],
    )


def test_a_filter_on_a_label_no_row_has_lists_nothing():
    index = RankIndex(("warehouse", "category"))
    index.add((-1, "M1", ("W1", "yarn"), "M1"))
    assert list(index.top({"warehouse": "W2"})) == []
    assert index.count({"warehouse": "W2"}) == 0
    assert len(index) == 1


def test_a_filter_on_a_dimension_the_index_has_not_is_refused_by_name():
    index = RankIndex(("warehouse",))
    with pytest.raises(ValueError, match="'colour'"):
        index.count({"colour": "red"})


def test_an_index_without_a_list_of_all_rows_refuses_a_filter_that_fixes_nothing():
    index = RankIndex(("warehouse",), everything=False)
    index.add((-1, "M1", ("W1",), "M1"))
    assert [entry[1] for entry in index.top({"warehouse": "W1"})] == ["M1"]
    with pytest.raises(ValueError, match="must fix one"):
        list(index.top({}))


def test_removing_a_material_takes_every_row_it_put_in_out():
    index = HealthIndex()
    health = MaterialHealth(
        material_id="M1",
        stocks={"W1": Totals(value=5, value_at_risk=1)},
        alerts=(
            AlertRow(
                key="M1|W1|low",
                material_id="M1",
                warehouse_id="W1",
                rule_id="low",
                severity="critical",
                value_at_risk=0.01,
                active_since=NOW,
            ),
        ),
    )
    index.set(health)
    assert merged_top([index.alerts(HealthFilter(severity="critical"))], 5)[0] == 1
    index.discard("M1")
    for chosen in (HealthFilter(), HealthFilter(warehouse="W1", severity="critical")):
        assert merged_top([index.materials(chosen)], 5) == (0, [])
        assert merged_top([index.alerts(chosen)], 5) == (0, [])
    assert len(index) == 0
