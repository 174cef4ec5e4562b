from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.events import MaterialEvent, MaterialMaster, MovementType, StockMovement
from models.health import (
    AlertRow,
    HealthFilter,
    HealthSummary,
    MaterialHealth,
    RequestRow,
    Totals,
    health_of,
)
from models.state import Batch, MaterialState, WarehouseStock
from streams.health import (
    HealthRankings,
    PartitionHealth,
    Sampled,
    Window,
    alert_row,
    listing_of,
    local_sampled,
    local_window,
    merged_summary,
    page_bounds,
    page_keys,
    partition_of,
    rankings_of,
    request_row,
    rows_of,
    sample_step,
    summary_cells,
    summary_from_cells,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
PARTITIONS = 3


def _partition(material_id: str) -> int:
    return partition_of(material_id, PARTITIONS)


def _state(material_id: str, category: str, quantities: list[int], age_days: int) -> MaterialState:
    state = MaterialState(
        material_id=material_id,
        master=MaterialMaster(
            event_id=f"m-{material_id}",
            event_time=NOW,
            material_id=material_id,
            name=material_id,
            category=category,
        ),
        applied_through=NOW,
    )
    for n, quantity in enumerate(quantities):
        state.warehouses[f"W{n}"] = WarehouseStock(
            on_hand=quantity,
            batches=[
                Batch(
                    batch_id=None,
                    received_at=NOW - timedelta(days=age_days),
                    quantity=quantity,
                    unit_cost=1.5,
                )
            ]
            if quantity
            else [],
        )
    return state


states = st.builds(
    _state,
    st.sampled_from([f"M{n}" for n in range(8)]),
    st.sampled_from(["fabric", "yarn"]),
    st.lists(st.integers(0, 500), max_size=3),
    st.integers(0, 400),
)


def _recomputed(materials: dict[str, bytes]) -> HealthSummary:
    return HealthSummary.of(MaterialHealth.model_validate_json(v) for v in materials.values())


def _summary(cells: dict[str, bytes]) -> HealthSummary:
    return merged_summary(cells.items())


def record(health: PartitionHealth, state: MaterialState, version: bytes | None = None) -> None:
    """A state stored and its commit flushed: its contribution set, the cells it moved written."""
    health.record(state, version)
    health.publish()


class CountedWrites(dict[str, bytes]):
    """A table that counts its writes, as the changelog would."""

    writes = 0

    def __setitem__(self, key: str, value: bytes) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def test_cells_moved_by_many_materials_are_written_once_when_published():
    materials: dict[str, bytes] = {}
    cells = CountedWrites()
    health = PartitionHealth(materials, cells, lambda material_id: 0)
    record(health, _state("M0", "fabric", [5], 5))
    written = cells.writes
    for n in range(1, 40):
        health.record(_state(f"M{n}", "fabric", [10 * n], 5))
    assert cells.writes == written  # nothing written before the commit
    health.publish(0)
    assert 0 < cells.writes - written <= len(cells)
    assert _summary(cells) == _recomputed(materials)


@given(st.lists(states, max_size=30))
@settings(max_examples=60, deadline=None)
def test_the_merged_cells_of_all_partitions_equal_the_summary_of_every_material(stored):
    materials: dict[str, bytes] = {}
    cells: dict[str, bytes] = {}
    health = PartitionHealth(materials, cells, _partition)
    for state in stored:
        record(health, state)
    assert _summary(cells) == _recomputed(materials)
    latest = {state.material_id: state for state in stored}
    assert _summary(cells) == HealthSummary.of(map(health_of, latest.values()))


@given(st.lists(states, min_size=1, max_size=20))
@settings(max_examples=40, deadline=None)
def test_a_redelivered_state_changes_nothing(stored):
    materials: dict[str, bytes] = {}
    cells: dict[str, bytes] = {}
    health = PartitionHealth(materials, cells, _partition)
    for state in stored:
        record(health, state)
    before = (dict(materials), dict(cells))
    for state in stored[-3:]:
        latest = next(s for s in reversed(stored) if s.material_id == state.material_id)
        record(health, latest)
    assert (materials, cells) == before


@given(st.lists(states, max_size=20), st.lists(states, max_size=20))
@settings(max_examples=40, deadline=None)
def test_two_workers_owning_different_partitions_publish_one_consistent_summary(first, second):
    materials: dict[str, bytes] = {}
    cells: dict[str, bytes] = {}
    owner = {0: PartitionHealth(materials, cells, _partition)}
    owner[1] = owner[2] = PartitionHealth(materials, cells, _partition)
    for state in (*first, *second):
        record(owner[_partition(state.material_id)], state)
    assert _summary(cells) == _recomputed(materials)


def test_a_worker_that_takes_over_rebuilds_cells_a_crash_lost_or_left_behind():
    materials: dict[str, bytes] = {}
    cells: dict[str, bytes] = {}
    first = PartitionHealth(materials, cells, _partition)
    for n in range(12):
        record(first, _state(f"M{n}", "fabric", [10 * n, 5], 30 * n))
    lost = next(iter(cells))
    del cells[lost]  # the crash kept the contribution but lost this cell's record
    cells['[0,"W9","gone","-"]'] = b"[1" + b",0" * 21 + b"]"  # a cell the partition no longer has
    second = PartitionHealth(materials, cells, _partition)
    record(second, _state("M0", "fabric", [0, 5], 0))
    for state in [_state(f"M{n}", "fabric", [10 * n, 5], 30 * n) for n in range(1, 12)]:
        record(second, state)
    assert {_partition(f"M{n}") for n in range(12)} == {0, 1, 2}  # every partition rebuilt
    assert _summary(cells) == _recomputed(materials)


def test_storing_a_state_again_repairs_a_contribution_a_crash_lost():
    materials: dict[str, bytes] = {}
    cells: dict[str, bytes] = {}
    health = PartitionHealth(materials, cells, _partition)
    old, new = _state("M1", "fabric", [10], 5), _state("M1", "fabric", [70], 5)
    record(health, old)
    stale = materials["M1"]
    record(health, new)
    materials["M1"] = stale  # the crash lost the new contribution, kept the cells
    restarted = PartitionHealth(materials, cells, _partition)
    record(restarted, new)  # the input is redelivered; its state was stored before the crash
    assert materials["M1"] != stale
    assert _summary(cells) == HealthSummary.of([health_of(new)])


def test_forgetting_the_summaries_after_a_rebalance_rebuilds_them_from_the_contributions():
    materials: dict[str, bytes] = {}
    cells: dict[str, bytes] = {}
    mine = PartitionHealth(materials, cells, _partition)
    theirs = PartitionHealth(materials, cells, _partition)
    record(mine, _state("M1", "yarn", [10], 5))
    record(theirs, _state("M1", "yarn", [20], 5))  # the partition moved while mine held it
    mine.forget()
    record(mine, _state("M2", "yarn", [30], 5))
    record(mine, _state("M1", "yarn", [40], 5))  # it moved back
    assert _summary(cells) == _recomputed(materials)


def test_a_stored_version_recorded_before_is_not_computed_again_until_the_partitions_move():
    materials: dict[str, bytes] = {}
    cells: dict[str, bytes] = {}
    health = PartitionHealth(materials, cells, _partition)
    old, new = _state("M1", "fabric", [10], 5), _state("M1", "fabric", [70], 5)
    record(health, old, b"old")
    stale = materials["M1"]
    record(health, new, b"new")
    materials["M1"] = stale
    record(health, new, b"new")  # the same stored version again: one hash, nothing computed
    assert materials["M1"] == stale
    health.forget()  # a rebalance: everything is computed again
    record(health, new, b"new")
    assert materials["M1"] != stale
    assert _summary(cells) == HealthSummary.of([health_of(new)])


def local_ranked(
    rankings: HealthRankings,
    kind: str,
    health_filter: HealthFilter,
    status: str | None,
    partitions: set[int],
    limit: int,
) -> tuple[Sampled, list[dict]]:
    """One worker's total of a list, and the rows of its first ``limit`` keys."""
    parts = local_sampled(rankings, kind, health_filter, status, partitions, limit, 1)
    by_status: dict[str, int] = {}
    for part in parts:
        for state, count in part.by_status.items():
            by_status[state] = by_status.get(state, 0) + count
    sampled = Sampled(total=sum(part.total for part in parts), by_status=by_status)
    every = (None, None)
    windows = local_window(rankings, kind, health_filter, status, partitions, limit, every)
    keys = sorted(key for window in windows for key in window.keys)[:limit]
    return sampled, rows_of(rankings, kind, health_filter, keys)


def _ranked_page(healths, page: int, size: int) -> list[str]:
    """The material ids of a page of the materials list, by a full sort of every contribution."""
    ranked = sorted(
        (-h.totals().value_at_risk, -h.totals().value, h.material_id) for h in healths if h.stocks
    )
    return [material_id for _, _, material_id in ranked[(page - 1) * size : page * size]]


@given(st.lists(states, max_size=30), st.integers(1, 6), st.integers(1, 7))
@settings(max_examples=60, deadline=None)
def test_pages_merged_from_two_workers_indexes_equal_a_full_sort_of_all(stored, page, size):
    """Samples bound the page, windows place it, its rows come from the worker that sent them."""
    workers = [PartitionHealth({}, {}, _partition), PartitionHealth({}, {}, _partition)]
    owner = {0: workers[0], 1: workers[1], 2: workers[1]}
    for state in stored:
        record(owner[_partition(state.material_id)], state)
    owned = ({0}, {1, 2})
    limit, start = page * size, (page - 1) * size
    parts, owner_of, windows = [], [], []
    for n, (worker, partitions) in enumerate(zip(workers, owned, strict=True)):
        step = min(size, 2)
        sampled = local_sampled(
            worker.rankings, "materials", HealthFilter(), None, partitions, limit, step
        )
        parts += [Sampled.model_validate_json(part.model_dump_json()) for part in sampled]
        owner_of += [n] * len(sampled)
    bounds = page_bounds(parts, start, limit)
    for worker, partitions in zip(workers, owned, strict=True):
        found = local_window(
            worker.rankings, "materials", HealthFilter(), None, partitions, limit, bounds
        )
        windows += [Window.model_validate_json(window.model_dump_json()) for window in found]
    items = [
        rows_of(workers[owner_of[n]].rankings, "materials", HealthFilter(), [key])[0]
        for n, key in page_keys(windows, start, size)
    ]
    listing = listing_of(sum(part.total for part in parts), page, size, items)
    latest = {s.material_id: health_of(s) for s in stored}
    assert [row["material_id"] for row in listing.items] == _ranked_page(
        latest.values(), page, size
    )
    assert listing.total == sum(1 for h in latest.values() if h.stocks)


def test_a_row_gone_since_its_key_was_sent_is_none():
    health = PartitionHealth({}, {}, _partition)
    partitions = set(range(PARTITIONS))
    record(health, _state("M1", "yarn", [10], 5))
    windows = local_window(
        health.rankings, "materials", HealthFilter(), None, partitions, 5, (None, None)
    )
    keys = [key for window in windows for key in window.keys]
    assert rows_of(health.rankings, "alerts", HealthFilter(), keys) == [None]
    assert rows_of(health.rankings, "materials", HealthFilter(), [("x", "y", "M9", "M9")]) == [None]


def test_the_hook_keeps_the_index_it_shares_with_the_views_of_the_same_table():
    materials: dict[str, bytes] = {}
    cells: dict[str, bytes] = {}
    health = PartitionHealth(materials, cells, _partition)
    assert rankings_of(materials, _partition) is health.rankings
    assert rankings_of({}, _partition) is not health.rankings
    partitions = set(range(PARTITIONS))
    record(health, _state("M1", "yarn", [10], 5))
    _, before = local_ranked(health.rankings, "materials", HealthFilter(), None, partitions, 5)
    assert [row["material_id"] for row in before] == ["M1"]
    record(health, _state("M2", "yarn", [90], 5))
    record(health, _state("M1", "yarn", [0], 5))
    _, after = local_ranked(health.rankings, "materials", HealthFilter(), None, partitions, 5)
    assert [row["material_id"] for row in after] == ["M2", "M1"]
    assert [row["value_on_hand"] for row in after] == [135.0, 0.0]


def test_a_partition_taken_over_is_ranked_from_the_contributions_its_changelog_restored():
    materials: dict[str, bytes] = {}
    cells: dict[str, bytes] = {}
    mine = PartitionHealth(materials, cells, _partition)
    partitions = set(range(PARTITIONS))
    record(mine, _state("M1", "yarn", [10], 5))
    local_ranked(mine.rankings, "materials", HealthFilter(), None, partitions, 5)  # indexes held
    elsewhere: dict[str, bytes] = {}
    theirs = PartitionHealth(elsewhere, {}, _partition)  # the owner meanwhile, another worker
    record(theirs, _state("M1", "yarn", [10], 5))
    record(theirs, _state("M1", "yarn", [1], 5))
    record(theirs, _state("M3", "fabric", [50], 5))
    mine.forget()  # revoked; the partitions come back with the table restored from changelogs
    materials.update(elsewhere)
    _, ranked = local_ranked(mine.rankings, "materials", HealthFilter(), None, partitions, 5)
    assert [row["material_id"] for row in ranked] == ["M3", "M1"]
    assert [row["value_on_hand"] for row in ranked] == [75.0, 1.5]


def _alerting(material_id: str, at_risk: float, severity: str, status: str) -> MaterialHealth:
    return MaterialHealth(
        material_id=material_id,
        category="yarn",
        stocks={"W1": Totals(stock_items=1, value=100)},
        alerts=(
            AlertRow(
                key=f"{material_id}|W1|stockout",
                material_id=material_id,
                warehouse_id="W1",
                rule_id="stockout",
                severity=severity,
                value_at_risk=at_risk,
                active_since=NOW,
            ),
        ),
        requests=(
            RequestRow(
                request_id=f"PR-{material_id}",
                material_id=material_id,
                warehouse_id="W1",
                status=status,
                quantity=5.0,
                amount=10.0 * at_risk,
                needed_by=None,
                at=NOW,
            ),
        ),
    )


def test_the_alerts_and_requests_lists_show_the_stored_rows_in_rank_order():
    healths = [
        _alerting("M1", 5.0, "warning", "approved"),
        _alerting("M2", 9.0, "critical", "proposed"),
        _alerting("M3", 7.0, "critical", "proposed"),
    ]
    table = {h.material_id: h.__pydantic_serializer__.to_json(h) for h in healths}
    rankings = HealthRankings(table, _partition)
    partitions = set(range(PARTITIONS))
    critical, rows = local_ranked(
        rankings, "alerts", HealthFilter(severity="critical"), None, partitions, 5
    )
    assert critical.total == 2
    assert rows == [
        alert_row(healths[1], healths[1].alerts[0]),
        alert_row(healths[2], healths[2].alerts[0]),
    ]
    proposed, rows = local_ranked(rankings, "requests", HealthFilter(), "proposed", partitions, 1)
    assert proposed.by_status == {"proposed": 2, "pending_approval": 0, "approved": 1}
    assert (proposed.total, len(rows)) == (2, 1)
    assert rows[0] == request_row(healths[1], healths[1].requests[0])


@given(st.lists(states, max_size=30))
@settings(max_examples=40, deadline=None)
def test_each_owners_cells_sent_as_rows_add_up_to_the_summary_of_all(stored):
    materials: dict[str, bytes] = {}
    cells: dict[str, bytes] = {}
    health = PartitionHealth(materials, cells, _partition)
    for state in stored:
        record(health, state)
    parts = [summary_cells(merged_summary(cells.items(), {p})) for p in range(PARTITIONS)]
    assert summary_from_cells(parts) == _recomputed(materials)


def _flowing(material_id: str, issues: list[int], opening: int) -> MaterialState:
    """A material received once and issued each day for ``len(issues)`` days, ticked to the end."""
    start = NOW - timedelta(days=len(issues) + 1)
    state = MaterialState(material_id=material_id)

    def move(at: datetime, kind: MovementType, quantity: int, n: int) -> None:
        state.apply(
            MaterialEvent(
                event=StockMovement(
                    event_id=f"{kind}-{n}",
                    event_time=at,
                    material_id=material_id,
                    warehouse_id="W1",
                    movement_type=kind,
                    quantity=quantity,
                    unit_cost=1.25,
                )
            )
        )

    move(start, MovementType.RECEIPT, opening, 0)
    for n, quantity in enumerate(issues, start=1):
        if quantity:
            move(start + timedelta(days=n), MovementType.ISSUE, quantity, n)
    state.replan(NOW)
    state.applied_through = NOW
    return state


flowing = st.builds(
    _flowing,
    st.sampled_from([f"F{n}" for n in range(8)]),
    st.lists(st.integers(0, 40), min_size=1, max_size=70),
    st.integers(1, 900),
)


@given(st.lists(flowing, min_size=1, max_size=8))
@settings(max_examples=25, deadline=None)
def test_the_summarys_turnover_and_fill_rate_are_ratios_of_sums_over_every_partition(stored):
    materials: dict[str, bytes] = {}
    cells: dict[str, bytes] = {}
    health = PartitionHealth(materials, cells, _partition)
    latest = {}
    for state in stored:
        record(health, state)
        latest[state.material_id] = state
    parts = [summary_cells(merged_summary(cells.items(), {p})) for p in range(PARTITIONS)]
    totals = summary_from_cells(parts).total().report()
    windows = [s.warehouses["W1"].flow.window(30) for s in latest.values()]
    issued = sum(w.issued for w in windows)
    value_days = sum(w.value_days for w in windows)
    short = sum(w.short for w in windows)
    turnover = totals["turnover"]["30d"]
    assert turnover["issued_value"] == issued / 100
    assert turnover["turns"] == (round(30 * issued / value_days, 4) if value_days else None)
    assert turnover["annualised"] == (round(365 * issued / value_days, 4) if value_days else None)
    demand = issued + short
    assert totals["fill_rate"]["last_30d"] == (round(issued / demand, 4) if demand else None)


@given(
    st.lists(st.lists(st.integers(0, 60), max_size=40, unique=True), min_size=1, max_size=4),
    st.integers(0, 80),
    st.integers(1, 9),
    st.integers(1, 9),
)
@settings(max_examples=200, deadline=None)
def test_the_bounds_of_a_page_enclose_it_whatever_the_owners_samples(owners, start, size, step):
    """Any owners' sorted keys, sampled every ``step``: the windows place the page exactly."""
    end = start + size
    keys = [[(value, n) for value in sorted(values)] for n, values in enumerate(owners)]
    parts = [Sampled(total=len(mine), step=step, samples=mine[:end][::step]) for mine in keys]
    low, high = page_bounds(parts, start, end)
    windows = []
    for mine in keys:
        before = [key for key in mine if low is not None and key < low]
        inside = [
            key
            for key in mine[:end]
            if (low is None or key >= low) and (high is None or key < high)
        ]
        windows.append(Window(before=len(before), keys=inside))
    every = sorted(key for mine in keys for key in mine)
    assert [key for _, key in page_keys(windows, start, size)] == every[start:end]


def test_a_deep_page_is_sampled_in_at_most_a_few_hundred_keys():
    assert sample_step(100_000, 50) * 256 >= 100_000
    assert sample_step(500, 50) == 50
