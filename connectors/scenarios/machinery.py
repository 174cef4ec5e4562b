"""``machinery``: a slow imported spindle unit, a long and variable lead time, a critical customer.

The article's second pain point: a machine maker's ERP flags part A under
its minimum, tells only the warehouse clerk, and the purchase takes three
days of e-mails to approve; the supplier is short of material, and the
production line stops.

The story, the same for every seed:

- SPN-7710, a spindle bearing unit worth 1,850, leaves PL01 on about one
  day in seven, one to three at a time (intermittent demand), as service
  orders confirmed 3-10 days ahead. Half the orders are the critical
  customer C-30001's (priority 1: its line stops without the part); the
  rest come from two others (priorities 3 and 4). What is not on hand
  waits (backorders).
- It is imported from V-7001: the master says 45 days, the supplier takes
  30-65 (σ about 10 days); on day 120 (2026-05-05) it announces that every
  open line is 25 days late (it is short of material).
- The ERP's static min/max orders up to 16 when the position is at or under
  10 (the demand over the master's 45 days, no margin for the spread), and
  the request waits 3 days for approval by e-mail.

Expected: the static min/max runs out whenever the supplier takes long
(with seed 42: 71 days without stock in two spells, from 2026-02-07 and
2026-05-21; 6 of 32 order lines shipped late, 4 of them the critical
customer's, up to 19 days late). stockloop's reorder point counts the lead
time's spread (``SS = z·sqrt(LT·σd² + d²·σLT²)``), its ``stockout_risk``
alert comes with a purchase request at once (no e-mail loop), and its
shortage alerts price the critical customer's orders 3x.
"""

from collections.abc import Iterator
from datetime import date, timedelta

from connectors.scenarios.demand import intermittent
from connectors.scenarios.ledger import Ledger, Material, Stock
from connectors.scenarios.spec import DemandClaim, Scenario
from connectors.simulator import Record
from models.forecast import DemandClass

START, DAYS = date(2026, 1, 5), 240
WAREHOUSE = "PL01"
SPINDLE = Material(
    "SPN-7710",
    "Spindle bearing unit SPN-7710",
    "MECHANICAL",
    1850.0,
    45.0,
    "V-7001",
    abc_class="A",
    owner="planner-machining",
)
CRITICAL_CUSTOMER = ("C-30001", 1)
CUSTOMERS = (CRITICAL_CUSTOMER, CRITICAL_CUSTOMER, ("C-30214", 3), ("C-30377", 4))
DEMAND_PROBABILITY, DEMAND_SIZE = 0.15, 1.6
LEAD_TIME, APPROVAL_DAYS = (30, 65), 3
REORDER_AT, ORDER_UP_TO, OPENING = 10.0, 16.0, 14.0
SHORTAGE_DAY, SHORTAGE_DAYS_LATE = 120, 25


def records(seed: int) -> Iterator[Record]:
    """The machinery history: the spindle unit's master, then 240 days from 2026-01-05."""
    ledger = Ledger(START, seed)
    stock = Stock(
        SPINDLE,
        WAREHOUSE,
        intermittent(ledger.rng, DAYS, DEMAND_PROBABILITY, DEMAND_SIZE, cv=0.4),
        REORDER_AT,
        ORDER_UP_TO,
        lead_time=LEAD_TIME,
        opening=OPENING,
        orders=True,
        confirm_days=(3, 10),
        backorders=True,
        customers=CUSTOMERS,
        approval_days=APPROVAL_DAYS,
    )

    def supplier_short(day: int) -> Iterator[Record]:
        yield from ledger.delay(stock, day, SHORTAGE_DAYS_LATE)

    yield from ledger.opening([SPINDLE], [stock])
    yield from ledger.run([stock], DAYS, {SHORTAGE_DAY: supplier_short})


SCENARIO = Scenario(
    name="machinery",
    story="An imported spindle unit sells slowly, takes 30-65 days to come, and a critical "
    "customer waits for it.",
    start=START,
    days=DAYS,
    warehouses=(WAREHOUSE,),
    demand={SPINDLE.material_id: DemandClaim(DemandClass.INTERMITTENT, "intermittent")},
    expected=(
        "the static min/max (10/16, 3 days to approve) runs out repeatedly while orders are on "
        "the way and the critical customer C-30001 waits; stockloop's reorder point covers the "
        "lead time's spread (30-65 days, 25 days late from 2026-05-05) and its stockout_risk "
        "alert comes with a purchase request at once"
    ),
    facts={
        "material_id": SPINDLE.material_id,
        "warehouse_id": WAREHOUSE,
        "demand_days_share": DEMAND_PROBABILITY,
        "lead_time_days": SPINDLE.lead_time_days,
        "lead_time_low": LEAD_TIME[0],
        "lead_time_high": LEAD_TIME[1],
        "supplier_short_on": (START + timedelta(days=SHORTAGE_DAY)).isoformat(),
        "supplier_days_late": SHORTAGE_DAYS_LATE,
        "critical_customer": CRITICAL_CUSTOMER[0],
        "static_reorder_at": REORDER_AT,
        "static_order_up_to": ORDER_UP_TO,
        "static_approval_days": APPROVAL_DAYS,
    },
    build=records,
)
