"""Dashboard API benchmark: pages of ``/api/materials`` and ``/api/alerts`` at 100,000 materials.

The dashboard must answer in under 1 s with 100,000 materials (issue 12).
Measured in process, without Kafka or HTTP: two workers own two of the
four partitions each; each keeps its partitions' contributions
(``health-materials``) and their ranking index, as the material agent's
hook leaves them. A list is answered as ``streams.api_views`` answers it,
the other worker's answers through JSON and back (the HTTP hop without
the network): each worker's total and sampled keys (``local_sampled``),
the page's bounds (``page_bounds``), each worker's keys between them
(``local_window``), the page cut out (``page_keys``), the page's rows
from their owners (``rows_of``), written as JSON. Pages: the first, the
50th, the middle one and the last.

The baseline, measured in the same run, is what the API did before:
each owner built the rows of all its first ``page x per_page`` keys and
sent them, and the worker asked merged them all (``rows_first``). Also
measured: what keeping the index costs the hook per changed contribution,
building it for a partition taken over, and its memory.

    .venv/bin/python benchmarks/dashboard_api.py [--materials 100000] [--rounds 30]
"""

import argparse
import gc
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
from models.ranking import merged_top
from streams.health import (
    HealthRankings,
    Sampled,
    Window,
    listing_of,
    local_sampled,
    local_window,
    page_bounds,
    page_keys,
    partition_of,
    rows_of,
    sample_step,
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

    def sampled(self, kind: str, query: HealthFilter, limit: int) -> dict[str, Any]:
        """Its total and sampled keys of a list, as ``GET /api/local/{kind}`` answers."""
        step = sample_step(limit, PER_PAGE)
        parts = local_sampled(self.rankings, kind, query, None, self.partitions, limit, step)
        return {"partitions": sorted(self.partitions), "sampled": [p.as_json() for p in parts]}

    def window(self, kind: str, query: HealthFilter, limit: int, bounds: Any) -> list[Any]:
        """Its keys between two bounds, as ``POST /api/local/{kind}`` answers ``bounds``."""
        low, high = (None if key is None else tuple(key) for key in bounds)
        parts = local_window(self.rankings, kind, query, None, self.partitions, limit, (low, high))
        return [part.model_dump(mode="json") for part in parts]

    def rows(self, kind: str, query: HealthFilter, keys: list[Any]) -> list[Any]:
        """The rows of some of its keys, as ``POST /api/local/{kind}`` answers ``keys``."""
        return rows_of(self.rankings, kind, query, keys)

    def rows_first(self, kind: str, query: HealthFilter, limit: int) -> dict[str, Any]:
        """Its part as before: the rows of all its first ``limit`` keys, each with its key."""
        indexes = self.rankings.index(self.partitions)
        lists = [
            index.materials(query) if kind == "materials" else index.alerts(query)
            for index in indexes
        ]
        total, top = merged_top(lists, limit)
        keys = [entry[:-2] + entry[-1:] for entry in top]
        rows = rows_of(self.rankings, kind, query, keys)
        return {"total": total, "rows": list(zip(keys, rows, strict=True))}


def _partition(material_id: str) -> int:
    return partition_of(material_id, PARTITIONS)


def _hop(document: Any, n: int) -> Any:
    """The other worker's answer as it arrives over HTTP: JSON and back (this worker's: as is)."""
    return document if n == 0 else orjson.loads(orjson.dumps(document))


def answer(workers: list[Worker], kind: str, query: HealthFilter, page: int) -> bytes:
    """A page of a list as the asked worker answers it: samples, bounds, windows, its rows."""
    limit = page * PER_PAGE
    start = limit - PER_PAGE
    parts, owner_of, windows = [], [], []
    for n, worker in enumerate(workers):
        sampled = _hop(worker.sampled(kind, query, limit), n)["sampled"]
        parts += [Sampled.model_validate(part) for part in sampled]
        owner_of += [n] * len(sampled)
    bounds = _hop(page_bounds(parts, start, limit), 1)
    for n, worker in enumerate(workers):
        windows += [
            Window.model_validate(w) for w in _hop(worker.window(kind, query, limit, bounds), n)
        ]
    on_page = [(owner_of[n], key) for n, key in page_keys(windows, start, PER_PAGE)]
    rows: list[Any] = [None] * len(on_page)
    for n, worker in enumerate(workers):
        positions = [at for at, (owner, _) in enumerate(on_page) if owner == n]
        found = _hop(worker.rows(kind, query, [on_page[at][1] for at in positions]), n)
        for at, row in zip(positions, found, strict=True):
            rows[at] = row
    total = sum(part.total for part in parts)
    listing = listing_of(total, page, PER_PAGE, [row for row in rows if row is not None])
    document = {"filters": query.model_dump(exclude_none=True)}
    return orjson.dumps({**document, **listing.model_dump(mode="json")})


def answer_rows_first(workers: list[Worker], kind: str, query: HealthFilter, page: int) -> bytes:
    """The same page as the API answered it before: every owner's first rows merged."""
    parts = [
        _hop(worker.rows_first(kind, query, page * PER_PAGE), n) for n, worker in enumerate(workers)
    ]
    merged = sorted((row for part in parts for row in part["rows"]), key=lambda r: list(r[0]))
    start = (page - 1) * PER_PAGE
    items = [row for _, row in merged[start : start + PER_PAGE]]
    total = sum(part["total"] for part in parts)
    document = {"filters": query.model_dump(exclude_none=True)}
    listing = listing_of(total, page, PER_PAGE, items)
    return orjson.dumps({**document, **listing.model_dump(mode="json")})


def _identity(kind: str, item: dict[str, Any]) -> str:
    return item["material_id"] if kind == "materials" else item["key"]


def by_full_sort(workers: list[Worker], kind: str, query: HealthFilter, page: int) -> list[str]:
    """The ids on a page by a sort of every key of both workers (what the page must show)."""
    every = []
    for worker in workers:
        indexes = worker.rankings.index(worker.partitions)
        for index in indexes:
            listed = index.materials(query) if kind == "materials" else index.alerts(query)
            every += [entry[:-2] for entry in listed.rows]
    every.sort()
    on_page = every[(page - 1) * PER_PAGE : page * PER_PAGE]
    return [key[2] for key in on_page]


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

PER_PAGE = 50
"""The dashboard's page length (the API's default)."""


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
        f"{'list':<10} {'filter':<24} {'page':>5} {'total':>7}  {'p50':>8} {'p99':>8} "
        f"{'CPU p50':>8}  {'before: p50 (CPU p50)':>22}"
    )
    for kind in ("materials", "alerts"):
        for label, query in QUERIES:
            total = orjson.loads(answer(workers, kind, query, 1))["total"]
            if total == 0:
                continue
            last = max(-(-total // PER_PAGE), 1)
            for page in sorted({1, min(50, last), -(-last // 2), last}):
                now = partial(answer, workers, kind, query, page)
                shown = [_identity(kind, item) for item in orjson.loads(now())["items"]]
                assert shown == by_full_sort(workers, kind, query, page), (kind, label, page)
                p50, p99, cpu = timed(now, args.rounds)
                was = ""
                if page <= 50:  # deeper, building every row before the page takes minutes
                    before = partial(answer_rows_first, workers, kind, query, page)
                    assert now() == before(), (kind, label, page)
                    p50_before, _, cpu_before = timed(before, args.baseline_rounds)
                    was = f"{p50_before:>9,.1f} ms ({cpu_before:>6,.1f} ms)"
                print(
                    f"{kind:<10} {label:<24} {page:>5} {total:>7,}  {p50:>5.1f} ms {p99:>5.0f} ms "
                    f"{cpu:>5.1f} ms  {was}"
                )


if __name__ == "__main__":
    main()
