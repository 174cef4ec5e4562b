"""Dashboard API benchmark: a page of ``/api/materials`` and ``/api/alerts`` at 100,000 materials.

The dashboard must answer in under 1 s with 100,000 materials (issue 12).
Measured in process, without Kafka or HTTP: two workers own two of the
four partitions each; each keeps its partitions' contributions
(``health-materials``) and their ranking index, as the material agent's
hook leaves them. A list is answered as ``streams.api_views`` answers it:
each worker's part for its own partitions (``local_ranked``), the other
worker's part through JSON and back (the HTTP hop without the network),
merged, cut to the page asked and written as JSON.

The baseline, measured in the same run, is what the API did before the
index: every request parses (once, then cached) and ranks every material of
the filter (``full_sort``). Also measured: what keeping the index costs the
hook per changed contribution, building it for a partition taken over, and
its memory.

    .venv/bin/python benchmarks/dashboard_api.py [--materials 100000] [--rounds 30]
"""

import argparse
import gc
import heapq
import os
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import orjson

from models.health import (
    SEVERITIES,
    AlertRow,
    HealthFilter,
    MaterialHealth,
    RequestRow,
    Totals,
)
from streams.health import (
    HealthRankings,
    Ranked,
    alert_row,
    local_ranked,
    material_row,
    page_of,
    partition_of,
)

PARTITIONS = 4
WORKERS = ({0, 1}, {2, 3})
WAREHOUSES = [f"W{n:02d}" for n in range(10)]
CATEGORIES = [f"C{n:02d}" for n in range(20)]
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def synthetic_health(n: int, rng: random.Random) -> MaterialHealth:
    """A material stocked in one to three warehouses; one in eight has open alerts."""
    material_id = f"M{n:06d}"
    stocks = {}
    alerts = []
    requests = []
    for warehouse_id in rng.sample(WAREHOUSES, rng.choice((1, 1, 2, 3))):
        value = rng.randrange(0, 5_000_000)
        at_risk = 0
        severities = dict.fromkeys(SEVERITIES, 0)
        if rng.random() < 0.125:
            severity = rng.choice(SEVERITIES)
            at_risk = rng.randrange(0, 2_000_000)
            severities[severity] += 1
            alerts.append(
                AlertRow(
                    key=f"{material_id}|{warehouse_id}|stockout",
                    material_id=material_id,
                    warehouse_id=warehouse_id,
                    rule_id="stockout",
                    severity=severity,
                    value_at_risk=at_risk / 100,
                    active_since=NOW - timedelta(days=rng.randrange(30)),
                    values={"value_at_risk": at_risk / 100, "days_of_cover": 2.0},
                )
            )
        proposed = 0
        if rng.random() < 0.03:
            proposed = 1
            requests.append(
                RequestRow(
                    request_id=f"PR-{material_id}-{warehouse_id}",
                    material_id=material_id,
                    warehouse_id=warehouse_id,
                    status="proposed",
                    quantity=100.0,
                    amount=rng.randrange(100, 10_000) / 1.0,
                    needed_by=(NOW + timedelta(days=rng.randrange(60))).date(),
                    at=NOW,
                )
            )
        stocks[warehouse_id] = Totals(
            stock_items=1,
            value=value,
            quantity=value * 10,
            value_0_30=value,
            quantity_0_30=value * 10,
            daily_demand_value=value // 40,
            alerts_critical=severities["critical"],
            alerts_warning=severities["warning"],
            alerts_info=severities["info"],
            value_at_risk=at_risk,
            requests_proposed=proposed,
        )
    return MaterialHealth(
        material_id=material_id,
        name=f"material {n}",
        category=rng.choice(CATEGORIES),
        abc_class=rng.choice("AABBBCCCC-"),
        as_of=NOW,
        stocks=stocks,
        alerts=tuple(alerts),
        requests=tuple(requests),
    )


class Worker:
    """One worker's contributions table and ranking index, for the partitions it owns."""

    def __init__(self, partitions: set[int]) -> None:
        self.partitions = partitions
        self.table: dict[str, bytes] = {}
        self.rankings = HealthRankings(self.table, _partition)
        self.parsed: dict[str, tuple[bytes, MaterialHealth]] = {}

    def local(self, kind: str, query: HealthFilter, limit: int) -> dict[str, Any]:
        """This worker's part of a list, as ``/api/local/{kind}`` answers it."""
        ranked = local_ranked(self.rankings, kind, query, None, self.partitions, limit)
        return {"partitions": sorted(self.partitions), "ranked": ranked.as_json()}

    def full_sort(self, kind: str, query: HealthFilter, limit: int) -> dict[str, Any]:
        """The same part as before the index: every parsed contribution ranked per request."""
        ranked: list[tuple[list[Any], Any]] = []
        for material_id, stored in self.table.items():
            cached = self.parsed.get(material_id)
            if cached is None or cached[0] != stored:
                cached = self.parsed[material_id] = (
                    stored,
                    MaterialHealth.model_validate_json(stored),
                )
            health = cached[1]
            if _partition(material_id) not in self.partitions:
                continue
            warehouses = query.warehouses_of(health)
            if not warehouses:
                continue
            if kind == "materials":
                at_risk = sum(health.stocks[w].value_at_risk for w in warehouses)
                value = sum(health.stocks[w].value for w in warehouses)
                ranked.append(([-at_risk, -value, health.material_id], (health, warehouses)))
            else:
                rank = {severity: n for n, severity in enumerate(SEVERITIES)}
                ranked += [
                    ([-a.value_at_risk, rank[a.severity], a.key], (health, a))
                    for a in health.alerts
                    if a.warehouse_id in warehouses and query.severity in (None, a.severity)
                ]
        top = heapq.nsmallest(limit, ranked, key=lambda r: r[0])
        to_row: Callable[[Any], dict[str, Any]] = (
            (lambda item: material_row(item[0], item[1]))
            if kind == "materials"
            else (lambda item: alert_row(item[0], item[1]))
        )
        part = Ranked(total=len(ranked), rows=[(key, to_row(item)) for key, item in top])
        return {"partitions": sorted(self.partitions), "ranked": part.model_dump(mode="json")}


def _partition(material_id: str) -> int:
    return partition_of(material_id, PARTITIONS)


def answer(workers: list[Worker], kind: str, query: HealthFilter, page: int, full: bool) -> bytes:
    """A page of a list as the asked worker answers it: its part, the other's via JSON, merged."""
    limit = page * 50
    parts = []
    for n, worker in enumerate(workers):
        part = (worker.full_sort if full else worker.local)(kind, query, limit)
        parts.append(part if n == 0 else orjson.loads(orjson.dumps(part)))
    ranked = Ranked()
    for part in parts:
        ranked = ranked.merge(Ranked.model_validate(part["ranked"]))
    document = {"filters": query.model_dump(exclude_none=True)}
    return orjson.dumps({**document, **page_of(ranked, page, 50).model_dump(mode="json")})


def timed(fn: Callable[[], object], rounds: int) -> tuple[float, float, float]:
    """Wall-clock p50 and p99 and CPU p50 of ``rounds`` calls, in ms.

    On a shared machine the wall clock includes waiting for a core; the
    CPU time is what the call itself costs.
    """
    wall, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        cpu.append((time.process_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    wall.sort()
    p99 = wall[min(len(wall) - 1, round(0.99 * len(wall)))]
    return statistics.median(wall), p99, statistics.median(cpu)


QUERIES: list[tuple[str, HealthFilter]] = [
    ("no filter", HealthFilter()),
    ("warehouse", HealthFilter(warehouse="W03")),
    ("category", HealthFilter(category="C07")),
    ("abc", HealthFilter(abc="A")),
    ("severity", HealthFilter(severity="critical")),
    ("warehouse+category+abc", HealthFilter(warehouse="W03", category="C07", abc="B")),
    ("category+severity", HealthFilter(category="C07", severity="warning")),
]

BASELINE = {("no filter", 1), ("category", 50), ("warehouse+category+abc", 1)}
"""The lists also measured as before the index (a full sort costs about the same for any)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--materials", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--baseline-rounds", type=int, default=2)
    args = parser.parse_args()

    rng = random.Random(12)
    healths = [synthetic_health(n, rng) for n in range(args.materials)]
    workers = [Worker(partitions) for partitions in WORKERS]
    owner = {p: w for w in workers for p in w.partitions}
    for health in healths:
        worker = owner[_partition(health.material_id)]
        stored = health.__pydantic_serializer__.to_json(health)
        worker.table[health.material_id] = stored
        worker.parsed[health.material_id] = (stored, health)

    gc.collect()
    tracemalloc.start()
    start, start_cpu = time.perf_counter(), time.process_time()
    for worker in workers:
        worker.rankings.index(worker.partitions)
    build, build_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    index_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()

    changed = [synthetic_health(n, rng) for n in range(0, args.materials, 37)]
    start_cpu = time.process_time()
    for health in changed:
        owner[_partition(health.material_id)].rankings.set(_partition(health.material_id), health)
    set_us = (time.process_time() - start_cpu) / len(changed) * 1e6
    for health in changed:
        worker = owner[_partition(health.material_id)]
        stored = health.__pydantic_serializer__.to_json(health)
        worker.table[health.material_id] = stored
        worker.parsed[health.material_id] = (stored, health)

    print(
        f"{args.materials:,} materials, {len(WAREHOUSES)} warehouses, {len(CATEGORIES)} "
        f"categories, two workers of two partitions each; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"index: built for all partitions in {build:.1f} s ({build_cpu:.1f} s CPU, parsing "
        f"every contribution included), {index_bytes / 2**20:.0f} MiB "
        f"({index_bytes / args.materials:.0f} B per material); "
        f"setting a changed contribution {set_us:.0f} µs CPU"
    )
    print(
        f"{'list':<10} {'filter':<24} {'page':>4} {'total':>7}  {'p50':>8} {'p99':>8} "
        f"{'CPU p50':>8}  {'full sort p50 (CPU)':>19}"
    )
    for kind in ("materials", "alerts"):
        for label, query in QUERIES:
            for page in (1, 50):
                total = orjson.loads(answer(workers, kind, query, page, False))["total"]
                if total == 0:
                    continue
                indexed = partial(answer, workers, kind, query, page, False)
                p50, p99, cpu = timed(indexed, args.rounds)
                baseline = ""
                if (label, page) in BASELINE:
                    sort_all = partial(answer, workers, kind, query, page, True)
                    assert indexed() == sort_all(), (kind, label, page)
                    full = timed(sort_all, args.baseline_rounds)
                    baseline = f"{full[0]:>8,.0f} ms ({full[2]:,.0f})"
                print(
                    f"{kind:<10} {label:<24} {page:>4} {total:>7,}  {p50:>5.1f} ms {p99:>5.0f} ms "
                    f"{cpu:>5.1f} ms  {baseline:>19}"
                )


if __name__ == "__main__":
    main()
