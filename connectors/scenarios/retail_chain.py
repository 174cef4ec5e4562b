"""``retail-chain``: a best-seller sells out at one store while another holds a surplus (case 3).

The article's third pain point: a chain store's best-seller runs low; the
manager phones the regional manager, who collects every store's stock in a
spreadsheet and e-mails a transfer order, hours or a day later.

The story, the same for every seed:

- CUP-TH450, a thermos cup, sells over the counter (issues without order
  lines) at three stores: ST-01 about 30 a day, ST-02 about 12, ST-03 about
  15. A sale the shelf cannot serve is lost.
- ST-02 opens with 1,500 cups, the leftover of a store event that was
  cancelled: more than four months of its sales.
- Each store is replenished from the supplier V-6001 in 5-7 days by the
  ERP's static min/max: order up to 20 days of the store's sales when the
  position is at or under 10 days.
- From day 50 (2026-04-21) to day 69 the supplier's deliveries to ST-01
  come 12 days after the date it promised, unannounced.

Expected: ST-01 runs out a few days after its late delivery was due and
stays out until it lands (with seed 42: out for 10 days from 2026-05-06,
about 300 cups of sales lost). That day ST-02 still holds 675 cups,
hundreds above its own order-up-to level (240): stockloop proposes a
transfer ST-02 -> ST-01 (a 2-day lane) before it buys, and ST-01 sells
through the delay. The static min/max, store by store, cannot see ST-02.
"""

from collections.abc import Iterator
from datetime import date, timedelta

from connectors.scenarios.demand import smooth
from connectors.scenarios.ledger import Ledger, Material, Stock
from connectors.scenarios.spec import DemandClaim, Scenario
from connectors.simulator import Record
from models.forecast import DemandClass

START, DAYS = date(2026, 3, 2), 91
CUP = Material(
    "CUP-TH450", "Thermos cup 450 ml", "HOUSEWARE", 38.0, 6.0, "V-6001", owner="store-ops"
)
STORES = {"ST-01": 30.0, "ST-02": 12.0, "ST-03": 15.0}
"""Each store's usual sales a day."""
SHORT_STORE, SURPLUS_STORE, SURPLUS = "ST-01", "ST-02", 1500.0
LATE_FROM_DAY, LATE_UNTIL_DAY, DAYS_LATE = 50, 70, 12
MIN_DAYS, MAX_DAYS, LEAD_TIME = 10, 20, (5, 7)


def records(seed: int) -> Iterator[Record]:
    """The chain's history: the cup's master, the stores' opening stock, 91 days from 2026-03-02."""
    ledger = Ledger(START, seed)
    stocks = {
        store: Stock(
            CUP,
            store,
            smooth(ledger.rng, DAYS, per_day),
            per_day * MIN_DAYS,
            per_day * MAX_DAYS,
            lead_time=LEAD_TIME,
            opening=SURPLUS if store == SURPLUS_STORE else per_day * 15,
        )
        for store, per_day in STORES.items()
    }
    short = stocks[SHORT_STORE]

    def supplier_late(day: int) -> Iterator[Record]:
        short.late = (1.0, DAYS_LATE, DAYS_LATE)
        return iter(())

    def supplier_on_time(day: int) -> Iterator[Record]:
        short.late = (0.0, 0, 0)
        return iter(())

    yield from ledger.opening([CUP], stocks.values())
    yield from ledger.run(
        list(stocks.values()),
        DAYS,
        {LATE_FROM_DAY: supplier_late, LATE_UNTIL_DAY: supplier_on_time},
    )


SCENARIO = Scenario(
    name="retail-chain",
    story="A best-seller sells out at one store while another store holds a surplus.",
    start=START,
    days=DAYS,
    warehouses=tuple(STORES),
    demand={CUP.material_id: DemandClaim(DemandClass.SMOOTH, "smooth")},
    expected=(
        "ST-01 runs out when its deliveries come 12 days late (ordered from 2026-04-21); ST-02 "
        "still holds hundreds of cups above its order-up-to level: stockloop proposes a "
        "transfer ST-02 -> ST-01 before buying, the static min/max loses ST-01's sales"
    ),
    facts={
        "material_id": CUP.material_id,
        "short_warehouse": SHORT_STORE,
        "surplus_warehouse": SURPLUS_STORE,
        "surplus_opening": SURPLUS,
        "late_from": (START + timedelta(days=LATE_FROM_DAY)).isoformat(),
        "late_until": (START + timedelta(days=LATE_UNTIL_DAY - 1)).isoformat(),
        "days_late": DAYS_LATE,
        "static_reorder_at_days": MIN_DAYS,
        "static_order_up_to_days": MAX_DAYS,
        "lead_time_days": CUP.lead_time_days,
        **{f"usual_per_day_{store}": per_day for store, per_day in STORES.items()},
    },
    build=records,
)
