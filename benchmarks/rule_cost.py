"""Rule cost benchmark: what evaluating the alert rules costs per (material, warehouse).

The material agent evaluates the whole rule pack after every event that
changes an item, so this cost multiplies with the event rate. Measured here
without Kafka: loading (parsing and compiling) the built-in pack, then
``evaluate_all`` of the pack on a typical facts dict, and each rule alone.

    .venv/bin/python benchmarks/rule_cost.py [--rounds 20000]
"""

import argparse
import time
from pathlib import Path

from models.rules import spec
from models.rules.evaluate import evaluate_all, evaluate_rule
from models.rules.spec import builtin_rules, load_rules

FACTS = {
    "available": 420.0,
    "on_hand": 600.0,
    "in_transit": 250.0,
    "committed": 180.0,
    "committed_next_7d": 140.0,
    "in_transit_next_7d": 100.0,
    "days_of_cover": 21.0,
    "projected_stockout_days": 12.0,
    "lead_time_days": 14.0,
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
"""A healthy item with a stock-out projected within its lead time (one rule fires)."""

ITEM = {"material_id": "M-10023", "warehouse_id": "W1", "category": "spares", "abc_class": "A"}


def per_call_us(fn, rounds: int, repeats: int = 7) -> float:
    """Best of ``repeats`` runs (the least disturbed) of the mean time of one call, in µs."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(rounds):
            fn()
        samples.append((time.perf_counter_ns() - start) / rounds / 1_000)
    return min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()

    yaml_text = Path(spec.__file__).with_name("builtin.yaml").read_text(encoding="utf-8")
    load_ms = per_call_us(lambda: load_rules(yaml_text), rounds=20) / 1_000

    rules = builtin_rules()
    outcomes = evaluate_all(rules, FACTS, ITEM)
    firing = [f"{o.rule_id}:{o.severity}" for o in outcomes if o.firing]
    pack_us = per_call_us(lambda: evaluate_all(rules, FACTS, ITEM), args.rounds)

    print(f"built-in pack: {len(rules.enabled_rules)} rules; firing on the sample: {firing}")
    print(f"load + compile the pack: {load_ms:.2f} ms")
    print(f"evaluate_all, full pack: {pack_us:.2f} µs per (material, warehouse)")
    print(f"  = {1e6 / pack_us:,.0f} item evaluations per second on one core")
    for rule in rules.enabled_rules:
        cost = per_call_us(lambda rule=rule: evaluate_rule(rule, FACTS, ITEM), args.rounds)
        print(f"  {rule.id:<20} {cost:6.2f} µs")


if __name__ == "__main__":
    main()
