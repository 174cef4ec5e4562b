"""``stranded-parts``: a design change strands special-purpose parts for 180+ days (the case study).

The article's case study, "Jinggong Machinery": frequent design changes
left special-purpose parts as dead stock, tying up over two million in
cash, until a rule scanned stock daily for material untouched for 180 days
and opened a review with R&D, sales and finance.

The story, the same for every seed:

- PL01 builds the special-purpose machine SPM-A every Monday, 2-4 of them
  (drawn), on a production order released the Wednesday before; its five
  machined parts (SP-A-BRKT, -CAM, -GEAR, -HSG, -SHFT, 1-4 per machine) are
  issued to the order (``261``) on the Monday: weekly, steady-sized demand,
  intermittent to Syntetos–Boylan.
- The parts come from V-8801 in 21-28 days, under the ERP's static min/max
  (order up to 9 weeks of average use when the position is at or under 5).
- On Monday 2026-01-26 (day 84), engineering change ECN-2026-014 replaces
  the five parts with revision B (SP-B-...): the BOM lines of revision A are
  deleted, revision B's added, and a first batch of each B part arrives that
  morning. Nobody cancels the A parts' open purchase order lines: they
  arrive in the weeks after.

Expected: the A parts are never issued again. Their stock idles from day
84: ``dead_stock`` as a review (info, 60 days without issue) from
2026-03-21, a warning (90 days) from 2026-04-20, and ``aged_batch`` (a
batch older than 180 days) from early July, each opening a dead-stock
review (sales, engineering, finance). With seed 42, 230 parts worth 41,262
at cost are stranded (92 brackets, 46 cams, 23 gears, 46 housings, 23
shafts), aged batches flagged from 2026-07-05 to 2026-07-11. The B parts
carry on as the A parts did.
"""

from collections.abc import Iterator
from datetime import date, timedelta

from connectors.scenarios.ledger import Hook, Ledger, Material, Stock
from connectors.scenarios.spec import DemandClaim, Scenario
from connectors.simulator import Record
from models.forecast import DemandClass

START, DAYS = date(2025, 11, 3), 300  # a Monday; the last day is 2026-08-29
WAREHOUSE, SUPPLIER, MACHINE = "PL01", "V-8801", "SPM-A"
ECN_DAY, ECN = 84, "ECN-2026-014"
PARTS = (  # id suffix, name, per machine, unit cost of revision A, of revision B
    ("BRKT", "Mounting bracket", 4.0, 86.0, 92.0),
    ("CAM", "Indexing cam", 2.0, 240.0, 255.0),
    ("GEAR", "Drive gear", 1.0, 410.0, 398.0),
    ("HSG", "Sensor housing", 2.0, 125.0, 131.0),
    ("SHFT", "Output shaft", 1.0, 310.0, 322.0),
)
MACHINES_A_WEEK, LEAD_TIME = (2, 4), (21, 28)
OPENING_WEEKS, MIN_WEEKS, MAX_WEEKS, FIRST_B_BATCH_WEEKS = 7, 5, 9, 8


def _part(revision: str, suffix: str, name: str, cost: float) -> Material:
    return Material(
        f"SP-{revision}-{suffix}",
        f"{name}, SPM-A revision {revision}",
        "SPECIAL-PURPOSE",
        cost,
        24.0,
        SUPPLIER,
        owner="planner-machining",
    )


def records(seed: int) -> Iterator[Record]:
    """The plant's history: masters and revision A's BOM, then 300 days from 2025-11-03."""
    ledger = Ledger(START, seed)
    mondays = range(0, DAYS, 7)
    machines = {day: ledger.rng.randint(*MACHINES_A_WEEK) for day in mondays}
    weekly = sum(MACHINES_A_WEEK) / 2
    stocks: dict[str, list[Stock]] = {"A": [], "B": []}
    for suffix, name, per_machine, cost_a, cost_b in PARTS:
        for revision, cost in (("A", cost_a), ("B", cost_b)):
            in_use = range(0, ECN_DAY) if revision == "A" else range(ECN_DAY, DAYS)
            demand = [
                per_machine * machines[day] if day in machines and day in in_use else 0.0
                for day in range(DAYS)
            ]
            use = weekly * per_machine
            stocks[revision].append(
                Stock(
                    _part(revision, suffix, name, cost),
                    WAREHOUSE,
                    demand,
                    use * MIN_WEEKS,
                    use * MAX_WEEKS,
                    lead_time=LEAD_TIME,
                    opening=use * OPENING_WEEKS if revision == "A" else 0.0,
                    issue_code="261",
                    backorders=True,
                    first_day=in_use.start,
                )
            )
    machine = Material(MACHINE, "Special-purpose machine SPM-A", "MACHINE", 0.0, 7.0, "PL01")
    opening = ledger.at(0, 0)

    def release(day: int) -> Iterator[Record]:
        need_day = day + 5
        yield ledger.production_order(
            f"MO-{START:%y}{need_day:04d}",
            MACHINE,
            WAREHOUSE,
            machines[need_day],
            need_day,
            "released",
            ledger.at(day, 9),
        )

    def close(day: int) -> Iterator[Record]:
        yield ledger.production_order(
            f"MO-{START:%y}{day:04d}",
            MACHINE,
            WAREHOUSE,
            machines[day],
            day,
            "closed",
            ledger.at(day, 18),
        )

    def change(day: int) -> Iterator[Record]:
        at = ledger.at(day, 6)
        for (_, _, per_machine, _, _), part_a, part_b in zip(
            PARTS, stocks["A"], stocks["B"], strict=True
        ):
            yield ledger.bom_line(
                MACHINE, part_a.material.material_id, per_machine, at, version=2, deleted=True
            )
            yield ledger.bom_line(MACHINE, part_b.material.material_id, per_machine, at)
            first_batch = weekly * per_machine * FIRST_B_BATCH_WEEKS
            yield ledger.movement(part_b, "101", first_batch, ledger.at(day, 7))
        yield from close(day)

    hooks: dict[int, Hook] = {day: close for day in mondays}
    hooks.update({day - 5: release for day in mondays if day >= 5})
    hooks[ECN_DAY] = change
    yield ledger.master(machine, opening)
    yield from ledger.opening(
        [s.material for s in stocks["A"] + stocks["B"]], stocks["A"] + stocks["B"]
    )
    for (_, _, per_machine, _, _), part_a in zip(PARTS, stocks["A"], strict=True):
        yield ledger.bom_line(MACHINE, part_a.material.material_id, per_machine, opening)
    yield from ledger.run(stocks["A"] + stocks["B"], DAYS, hooks)


SCENARIO = Scenario(
    name="stranded-parts",
    story="A design change strands five special-purpose parts, which then sit for 180+ days.",
    start=START,
    days=DAYS,
    warehouses=(WAREHOUSE,),
    demand={
        **{
            f"SP-A-{suffix}": DemandClaim(
                DemandClass.INTERMITTENT, "weekly production", last_day=ECN_DAY - 1
            )
            for suffix, *_ in PARTS
        },
        **{
            f"SP-B-{suffix}": DemandClaim(
                DemandClass.INTERMITTENT, "weekly production", first_day=ECN_DAY
            )
            for suffix, *_ in PARTS
        },
    },
    expected=(
        "after ECN-2026-014 on 2026-01-26 the five SP-A parts are never issued again: dead_stock "
        "(90 days without issue) from 2026-04-20, batches older than 180 days (aged_batch) "
        "from early July, a dead-stock review for each"
    ),
    facts={
        "warehouse_id": WAREHOUSE,
        "machine": MACHINE,
        "engineering_change": ECN,
        "engineering_change_on": (START + timedelta(days=ECN_DAY)).isoformat(),
        "stranded_parts": ",".join(f"SP-A-{suffix}" for suffix, *_ in PARTS),
        "replacement_parts": ",".join(f"SP-B-{suffix}" for suffix, *_ in PARTS),
        "aged_after_days": 180,
        "last_day": (START + timedelta(days=DAYS - 1)).isoformat(),
    },
    build=records,
)
