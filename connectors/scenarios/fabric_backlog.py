"""``fabric-backlog``: ten fabrics short at once, one blocking a key customer's order (case 4).

The article's fourth pain point: a garment company's ERP flags ten fabrics
low at the same time and gives no way to tell which matters. One of them
is for a key customer's order whose delay costs a large penalty; another
is for products out of season. Attention spread evenly delays the one that
matters.

The story, the same for every seed:

- Ten fabrics, FAB-01 to FAB-10, are sold by the metre from GZ01 to garment
  makers (customer priorities 2-5), on order lines confirmed 3-10 days
  ahead; what is not on hand waits (backorders). FAB-10, wool flannel, is
  out of season: 5 m a day against 15-50 for the others.
- All ten come from the mill V-5101 in 28-32 days (30 on the master). Each
  opens with 40 days of its demand; the ERP's static min/max orders up to
  65 days when the position is at or under 35, so all ten order in the
  first week.
- On day 25 (2026-03-27) the mill announces every open line 20 days late:
  the ten run out together around day 40 and wait for the mill until
  about day 55.
- On day 36 (2026-04-07) the key customer C-40001 (priority 1) orders 40 m
  of FAB-07, about two days of its usual sales, due on day 41, with a
  penalty of 1,500 a day late.

Expected: on the days the ten are short, stockloop's open alerts rank
FAB-07 first by value at risk (its order weighted 3x as a key account's
plus the penalty of 1,500 a day late) although six fabrics sell more,
and FAB-10 (out of season) at the bottom; the static min/max raises ten
identical "below minimum" flags. With seed 42 the ten are out of stock
from days 38-41 for 8-12 days; on 2026-04-08, 04-12 and 04-15 FAB-07 leads
with 16,361-18,194 at risk, the next fabric 7,291-10,181, FAB-10 last
with 842-1,654.
"""

from collections.abc import Iterator
from datetime import date, timedelta

from connectors.scenarios.demand import smooth
from connectors.scenarios.ledger import Ledger, Material, OrderLine, Stock
from connectors.scenarios.spec import DemandClaim, Scenario
from connectors.simulator import Record
from models.forecast import DemandClass

START, DAYS = date(2026, 3, 2), 60
WAREHOUSE, MILL = "GZ01", "V-5101"
FABRICS = (  # id, name, metres a day, unit cost
    ("FAB-01", "Cotton poplin 120 g/m2", 40.0, 11.0),
    ("FAB-02", "Denim 12 oz", 35.0, 14.0),
    ("FAB-03", "Linen plain weave", 20.0, 16.0),
    ("FAB-04", "Viscose twill", 25.0, 12.0),
    ("FAB-05", "Polyester lining", 50.0, 5.0),
    ("FAB-06", "Cotton jersey", 30.0, 9.0),
    ("FAB-07", "Stretch gabardine", 18.0, 12.0),
    ("FAB-08", "Silk chiffon", 22.0, 10.0),
    ("FAB-09", "Cotton canvas", 15.0, 13.0),
    ("FAB-10", "Wool flannel", 5.0, 26.0),
)
KEY_FABRIC, OFF_SEASON_FABRIC = "FAB-07", "FAB-10"
KEY_CUSTOMER, KEY_ORDER_METRES, PENALTY_PER_DAY_LATE = ("C-40001", 1), 40.0, 1500.0
KEY_ORDER_DAY, KEY_DUE_DAY = 36, 41
DELAY_DAY, DAYS_LATE = 25, 20
OPENING_DAYS, MIN_DAYS, MAX_DAYS = 40, 35, 65
GARMENT_MAKERS = (("C-41102", 2), ("C-41230", 3), ("C-41377", 3), ("C-41409", 4), ("C-41555", 5))


def records(seed: int) -> Iterator[Record]:
    """The backlog's history: ten fabric masters, then 60 days from 2026-03-02."""
    ledger = Ledger(START, seed)
    materials = [
        Material(fabric_id, name, "FABRIC", cost, 30.0, MILL, unit="M", owner="buyer-textiles")
        for fabric_id, name, _, cost in FABRICS
    ]
    stocks = [
        Stock(
            material,
            WAREHOUSE,
            smooth(ledger.rng, DAYS, per_day),
            per_day * MIN_DAYS,
            per_day * MAX_DAYS,
            lead_time=(28, 32),
            opening=per_day * OPENING_DAYS,
            orders=True,
            confirm_days=(3, 10),
            backorders=True,
            customers=GARMENT_MAKERS,
        )
        for material, (_, _, per_day, _) in zip(materials, FABRICS, strict=True)
    ]
    key_stock = next(s for s in stocks if s.material.material_id == KEY_FABRIC)

    def mill_late(day: int) -> Iterator[Record]:
        for stock in stocks:
            yield from ledger.delay(stock, day, DAYS_LATE)

    def key_order(day: int) -> Iterator[Record]:
        order_id = f"SO-{ledger.next_id():06d}"
        line = OrderLine(
            order_id,
            KEY_ORDER_METRES,
            day,
            KEY_DUE_DAY,
            KEY_CUSTOMER,
            penalty_per_day_late=PENALTY_PER_DAY_LATE,
        )
        yield ledger.confirm(key_stock, line)

    yield from ledger.opening(materials, stocks)
    yield from ledger.run(stocks, DAYS, {DELAY_DAY: mill_late, KEY_ORDER_DAY: key_order})


SCENARIO = Scenario(
    name="fabric-backlog",
    story="Ten fabrics run short at once; the one blocking a key customer's order carries a "
    "penalty.",
    start=START,
    days=DAYS,
    warehouses=(WAREHOUSE,),
    demand={fabric_id: DemandClaim(DemandClass.SMOOTH, "smooth") for fabric_id, *_ in FABRICS},
    expected=(
        "the ten fabrics run short together around day 40 after the mill's 20-day delay; "
        "stockloop ranks FAB-07 first by value at risk (key customer's 40 m, penalty 1,500 a day "
        "late) although six fabrics sell more, and the out-of-season FAB-10 last"
    ),
    facts={
        "warehouse_id": WAREHOUSE,
        "key_fabric": KEY_FABRIC,
        "off_season_fabric": OFF_SEASON_FABRIC,
        "key_customer": KEY_CUSTOMER[0],
        "key_order_metres": KEY_ORDER_METRES,
        "penalty_per_day_late": PENALTY_PER_DAY_LATE,
        "key_order_on": (START + timedelta(days=KEY_ORDER_DAY)).isoformat(),
        "key_order_due": (START + timedelta(days=KEY_DUE_DAY)).isoformat(),
        "mill_delay_announced": (START + timedelta(days=DELAY_DAY)).isoformat(),
        "mill_days_late": DAYS_LATE,
        "lead_time_days": 30.0,
    },
    build=records,
)
