"""Shortage analysis latency: one ``analyse_shortage`` of a 200-component, 3-level BOM.

A rush order wants its answer within seconds, and the shortage agent runs
one analysis per production order (and per on-demand question), so this is
the cost the agent adds on top of reading the availability view. Measured
here without Kafka, on a synthetic structure (seeded):

    X (the assembled item)
      level 1: 10 sub-assemblies, each 3 level-2 sub-assemblies + 2 parts
      level 2: 30 sub-assemblies, each 8 parts (shared among them)
      level 3: 160 purchased parts

that is 200 components below X. Every component has stock, confirmed demand
and in-transit lines around the need date, a few sub-assemblies are on the
shelf, and ``--competing`` open orders are ahead of the one analysed. Prints
p50 and p99 over ``--runs`` analyses, and the peak memory of one analysis
(``tracemalloc``, measured apart because tracing slows the code it traces).

    .venv/bin/python benchmarks/shortage_latency.py [--runs 1000] [--competing 5]
"""

import argparse
import random
import statistics
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta

from models.bom import ComponentAvailability, analyse_shortage
from models.production import BomLine, ProductionOrder

T = datetime(2026, 11, 30, 8, tzinfo=UTC)
NEED = date(2026, 12, 14)


def synthetic_bom(seed: int) -> dict[str, list[BomLine]]:
    """The 3-level structure of the module docstring: 10 + 30 + 160 components below X."""
    rng = random.Random(seed)
    level_1 = [f"SA1-{i:02}" for i in range(10)]
    level_2 = [f"SA2-{i:02}" for i in range(30)]
    parts = [f"P-{i:03}" for i in range(160)]

    def line(parent: str, component: str) -> BomLine:
        return BomLine(
            event_id=f"{parent}>{component}",
            event_time=T,
            parent_id=parent,
            component_id=component,
            quantity_per=rng.choice([0.5, 1, 2, 4]),
            scrap_pct=rng.choice([0, 0, 1, 2.5, 5]),
            lead_time_days=rng.randint(3, 40),
        )

    bom = {"X": [line("X", sub) for sub in level_1]}
    for i, sub in enumerate(level_1):
        children = level_2[3 * i : 3 * i + 3] + rng.sample(parts, 2)
        bom[sub] = [line(sub, child) for child in children]
    for i, sub in enumerate(level_2):
        # Every part belongs to one level-2 assembly; more are drawn, so parts are shared.
        own = parts[i::30]
        drawn = rng.sample([p for p in parts if p not in own], 8 - len(own))
        bom[sub] = [line(sub, child) for child in own + drawn]
    return bom


def synthetic_availability(bom: dict[str, list[BomLine]], seed: int) -> dict:
    """Stock, confirmed demand and in-transit lines for every component, around the need date."""
    rng = random.Random(seed)
    components = {line.component_id for lines in bom.values() for line in lines}

    def dated(count: int, quantity: int) -> tuple[tuple[date, float], ...]:
        days = (NEED + timedelta(days=rng.randint(-10, 20)) for _ in range(count))
        return tuple((day, float(rng.randint(1, quantity))) for day in days)

    return {
        item: ComponentAvailability(
            component_id=item,
            on_hand_available=float(rng.randint(0, 400) if item.startswith("P") else 0),
            confirmed_demand=dated(rng.randint(0, 4), 60),
            in_transit=dated(rng.randint(0, 3), 200),
        )
        for item in sorted(components)
    }


def production_order(order_id: str, quantity: float, need_date: date) -> ProductionOrder:
    return ProductionOrder(
        event_id=f"{order_id}@1",
        event_time=T,
        material_id="X",
        order_id=order_id,
        warehouse_id="W1",
        quantity=quantity,
        need_date=need_date,
        status="released",
        rush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000, help="timed analyses (default 1000)")
    parser.add_argument(
        "--competing", type=int, default=5, help="open orders ahead of the one analysed"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic data")
    args = parser.parse_args()

    bom = synthetic_bom(args.seed)
    availability = synthetic_availability(bom, args.seed + 1)
    order = production_order("MO-RUSH", 50, NEED)
    competing = [
        production_order(f"MO-{i:02}", 10, NEED - timedelta(days=i + 1))
        for i in range(args.competing)
    ]

    def analyse():
        return analyse_shortage(order, bom, availability, competing)

    result = analyse()
    for _ in range(min(50, args.runs)):  # warm-up: pydantic and the allocator settle
        analyse()
    samples_ms = []
    for _ in range(args.runs):
        start = time.perf_counter_ns()
        analyse()
        samples_ms.append((time.perf_counter_ns() - start) / 1e6)
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")

    tracemalloc.start()
    analyse()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    below = {line.component_id for lines in bom.values() for line in lines}
    print(
        f"order: 50 X, {len(below)} components below X, {len(bom)} BOMs, "
        f"{args.competing} orders ahead; {args.runs} runs"
    )
    print(
        f"result: {len(result.missing_components)} parts missing, "
        f"kit {result.kit_completeness:.0%}, earliest start {result.earliest_feasible_start}"
    )
    print(f"{'measure':<26}{'value':>12}")
    print(f"{'p50 latency':<26}{cuts[49]:>9.2f} ms")
    print(f"{'p99 latency':<26}{cuts[98]:>9.2f} ms")
    print(f"{'mean latency':<26}{statistics.fmean(samples_ms):>9.2f} ms")
    print(f"{'peak memory (1 analysis)':<26}{peak / 1024:>9.0f} KiB")


if __name__ == "__main__":
    main()
