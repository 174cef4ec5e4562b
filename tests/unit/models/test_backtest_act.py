"""The ``--act`` backtest supplies every policy from the window start, whatever the warm-up left.

Two hand-built histories in warehouse W1 from Monday 2 March 2026 (T0); the
window opens on day 14 and the history ends on day 41:

- ``bought``: a dear part (unit cost 400, lead time 5 days by its master),
  40 on the shelf on day 0 and 4 issued every day at 10:00; it runs out on
  day 10 and nothing recorded refills it. In the warm-up the core raises two
  purchase requests (23 and 32), each worth more than the 5,000 that
  approves itself: they wait for a buyer, and a request waiting for approval
  never expires. Before the fix they counted in the inventory position for
  the whole window: the requests the core raised in the window only kept up
  with demand, the backlog never cleared, and the fill rate was 0 with
  three requests raised (the machinery spindle's 35.9 % had the same cause).
- ``made``: a product made in house (unit cost 200, lead time 7 days), 30
  issued each Monday at 10:00 and 30 received from production (a receipt
  naming no PO line) each Monday at 06:00. No PO line ever takes over the
  core's warm-up request, so it blocked the window as above (fill rate 0.33,
  no request). In the window the production receipts are replaced by each
  policy's own orders, the static ones' and the core's alike.
- ``moved``: a dear part (unit cost 400, lead time 20 days) in two
  warehouses: W1 issues 4 a day from 120, W2 holds 600 and issues 1 a week.
  The core moves W2's surplus to W1 in transfers of 28, worth 11,200: above
  the auto-approval limit, each waits for its approver. Before the fix the
  backtest shipped only approved transfers: the held ones counted in W1's
  position until they were cancelled 14 days later, and W1 ran dry (fill
  rate 0.59, as recorded).
"""

from datetime import UTC, datetime, timedelta

import pytest

from models.backtest import BacktestConfig, MaterialBacktest, Policy, backtest
from models.events import MaterialEvent, MaterialMaster, MovementType, StockMovement

T0 = datetime(2026, 3, 2, tzinfo=UTC)
WINDOW_START = T0 + timedelta(days=14)
LAST_DAY = 41


def at(day: int, hour: int = 0) -> datetime:
    return T0 + timedelta(days=day, hours=hour)


def master(material_id: str, unit_cost: float, lead_time_days: float) -> MaterialEvent:
    return MaterialEvent(
        event=MaterialMaster(
            event_id=f"{material_id}-master",
            event_time=T0,
            material_id=material_id,
            name=material_id,
            unit_cost=unit_cost,
            default_lead_time_days=lead_time_days,
            service_level=0.95,
            preferred_supplier="V1",
        )
    )


def move(
    material_id: str,
    kind: MovementType,
    quantity: float,
    when: datetime,
    source: str = "erp",
    warehouse_id: str = "W1",
) -> MaterialEvent:
    return MaterialEvent(
        event=StockMovement(
            event_id=f"{material_id}-{source}-{warehouse_id}-{kind}-{when.isoformat()}",
            event_time=when,
            material_id=material_id,
            movement_type=kind,
            warehouse_id=warehouse_id,
            quantity=quantity,
        )
    )


def bought() -> list[MaterialEvent]:
    events = [master("BUY", 400.0, 5), move("BUY", MovementType.RECEIPT, 40, at(0, 6))]
    events += [move("BUY", MovementType.ISSUE, 4, at(day, 10)) for day in range(LAST_DAY + 1)]
    return events


def made() -> list[MaterialEvent]:
    events = [master("MADE", 200.0, 7), move("MADE", MovementType.RECEIPT, 40, at(0, 6))]
    for day in range(0, LAST_DAY + 1, 7):
        events.append(move("MADE", MovementType.RECEIPT, 30, at(day, 6), source="production"))
        events.append(move("MADE", MovementType.ISSUE, 30, at(day, 10)))
    return events


def moved() -> list[MaterialEvent]:
    events = [master("MOVED", 400.0, 20)]
    events += [move("MOVED", MovementType.RECEIPT, 120, at(0, 6), warehouse_id="W1")]
    events += [move("MOVED", MovementType.RECEIPT, 600, at(0, 6), warehouse_id="W2")]
    for day in range(LAST_DAY + 1):
        events.append(move("MOVED", MovementType.ISSUE, 4, at(day, 10), warehouse_id="W1"))
        if day % 7 == 0:
            events.append(move("MOVED", MovementType.ISSUE, 1, at(day, 11), warehouse_id="W2"))
    return events


def run(events: list[MaterialEvent], act: bool = True) -> MaterialBacktest:
    result = backtest(events, BacktestConfig(window_start=WINDOW_START, act=act))
    (material,) = result.materials
    return material


def test_requests_left_waiting_for_approval_in_the_warm_up_do_not_starve_the_window():
    material = run(bought())
    dynamic = material.policies[Policy.DYNAMIC]
    assert dynamic.requests >= 1
    assert dynamic.fill_rate > 0.5
    assert dynamic.stockout_days < material.policies[Policy.RECORDED].stockout_days
    # It serves at least as much as the ERP's usual min/max, which starts from the same shelf.
    assert dynamic.fill_rate >= material.policies[Policy.MIN_MAX].fill_rate - 0.05


def test_a_product_made_in_house_is_supplied_by_each_policys_own_orders_in_the_window():
    material = run(made())
    dynamic, min_max = material.policies[Policy.DYNAMIC], material.policies[Policy.MIN_MAX]
    assert min_max.requests >= 1  # the production receipts are gone from the window ...
    assert dynamic.requests >= 1  # ... for the core as for min/max
    assert dynamic.fill_rate >= min_max.fill_rate - 0.05
    assert material.policies[Policy.RECORDED].fill_rate == pytest.approx(1.0)


def test_without_act_the_recorded_production_stands_for_every_policy():
    material = run(made(), act=False)
    for policy in Policy:
        assert material.policies[policy].fill_rate == pytest.approx(1.0)
        assert material.daily_on_hand[policy] == material.daily_on_hand[Policy.RECORDED]


def test_a_transfer_waiting_for_its_approver_ships_at_once_as_an_approved_one_does():
    material = run(moved())
    dynamic, recorded = material.policies[Policy.DYNAMIC], material.policies[Policy.RECORDED]
    assert recorded.fill_rate < 0.7  # nothing recorded refills W1
    assert dynamic.fill_rate > 0.9
    assert dynamic.stockout_days < recorded.stockout_days
