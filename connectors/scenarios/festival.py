"""``festival``: headphones with a 30-day lead time and a 5-10x Singles' Day spike (case 1).

The article's first pain point: a consumer-electronics company's headphones
sell steadily all summer, then 5-10 times as much in the "Double 11" sales
festival. A static minimum flags the spike only when it has begun, when
the supplier's production time can no longer deliver.

The story, the same for every seed:

- HP-500 sells about 20 a day from SH01 to four retailers, whose order lines
  are confirmed 1-3 days before they ship; a retailer does not wait, so
  what is not on hand is lost (the line closes short or is cancelled).
- The supplier V-3001 promises 28-32 days (30 on the master).
- Marketing announces the festival on 2026-09-15 (day 76) as a promotion of
  HP-500 for 2026-11-04 to 2026-11-11 (days 126-133), uplift 7; the retailers
  then order 5-10 times the day's usual demand (drawn per day).
- The ERP's static min/max (order up to 1,300 when the inventory position is
  at or under 700: 35 days of usual demand) holds through the summer and
  autumn without a stock-out.

Expected: stockloop's ``stockout_risk`` alert for HP-500 at SH01 comes at
least one lead time (30 days) before the first festival day, because the
announced uplift is in its forecast from 2026-09-15; an order placed then
arrives before the festival. The static min/max orders only once the
festival has drawn the position under 700, 30 days too late: the recorded
history runs out early in the festival and stays out until its regular
order lands about ten days later. With seed 42: the festival asks 1,083
headphones in 8 days (5.2-8.6x the usual 20.2 a day); stockloop's
``stockout_risk`` is raised on 2026-10-01, 34 days before the festival; the
recorded history is out of stock from 2026-11-06 to 2026-11-13 and loses
826 headphones (7 order lines cancelled, others shipped short).
"""

from collections.abc import Iterator
from datetime import date, timedelta

from connectors.scenarios.demand import smooth
from connectors.scenarios.ledger import Ledger, Material, Stock
from connectors.scenarios.spec import DemandClaim, Scenario
from connectors.simulator import Record
from models.forecast import DemandClass

START, DAYS = date(2026, 7, 1), 153
ANNOUNCED_DAY, FIRST_DAY, LAST_DAY = 76, 126, 133
ANNOUNCED_UPLIFT, SPIKE = 7.0, (5.0, 10.0)
USUAL_PER_DAY, REORDER_AT, ORDER_UP_TO, OPENING = 20.0, 700.0, 1300.0, 1000.0
WAREHOUSE = "SH01"
HEADPHONES = Material(
    "HP-500", "Wireless headphones HP-500", "ELECTRONICS", 42.0, 30.0, "V-3001", abc_class="A"
)
RETAILERS = (("C-21001", 2), ("C-21017", 3), ("C-21042", 3), ("C-21080", 4))


def records(seed: int) -> Iterator[Record]:
    """The festival's history: the headphones' master, then 153 days from 2026-07-01."""
    ledger = Ledger(START, seed)
    demand = smooth(ledger.rng, DAYS, USUAL_PER_DAY)
    for day in range(FIRST_DAY, LAST_DAY + 1):
        demand[day] = round(demand[day] * ledger.rng.uniform(*SPIKE))
    stock = Stock(
        HEADPHONES,
        WAREHOUSE,
        demand,
        REORDER_AT,
        ORDER_UP_TO,
        lead_time=(28, 32),
        opening=OPENING,
        orders=True,
        confirm_days=(1, 3),
        customers=RETAILERS,
    )

    def announce(day: int) -> Iterator[Record]:
        yield ledger.promotion(
            "DOUBLE-11",
            HEADPHONES.material_id,
            FIRST_DAY,
            LAST_DAY,
            ANNOUNCED_UPLIFT,
            ledger.at(day, 9),
        )

    yield from ledger.opening([HEADPHONES], [stock])
    yield from ledger.run([stock], DAYS, {ANNOUNCED_DAY: announce})


SCENARIO = Scenario(
    name="festival",
    story="Headphones with a 30-day lead time sell 5-10x in a festival announced as a promotion.",
    start=START,
    days=DAYS,
    warehouses=(WAREHOUSE,),
    demand={
        HEADPHONES.material_id: DemandClaim(
            DemandClass.SMOOTH, "smooth, then a 5-10x spike", last_day=FIRST_DAY - 1
        )
    },
    expected=(
        "stockout_risk for HP-500 at SH01 at least 30 days (one lead time) before the festival "
        "starts on 2026-11-04, from the promotion announced on 2026-09-15; the static min/max "
        "(700/1,300) orders only during the festival and the recorded history runs out in it"
    ),
    facts={
        "material_id": HEADPHONES.material_id,
        "warehouse_id": WAREHOUSE,
        "usual_per_day": USUAL_PER_DAY,
        "lead_time_days": HEADPHONES.lead_time_days,
        "announced_on": (START + timedelta(days=ANNOUNCED_DAY)).isoformat(),
        "festival_first_day": (START + timedelta(days=FIRST_DAY)).isoformat(),
        "festival_last_day": (START + timedelta(days=LAST_DAY)).isoformat(),
        "announced_uplift": ANNOUNCED_UPLIFT,
        "spike_low": SPIKE[0],
        "spike_high": SPIKE[1],
        "static_reorder_at": REORDER_AT,
        "static_order_up_to": ORDER_UP_TO,
    },
    build=records,
)
