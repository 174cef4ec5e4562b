"""Facts: the named numbers alert rules read about one material in one warehouse.

Rules are written against these names (README, "Rule language"), so each is
defined once here, in event time, from the material's state and policy.
A fact that cannot be known (no demand yet, no stock) is None, and a rule
comparing it is simply not firing. Stock that was never issued counts its
quiet days from its oldest batch's receipt, so it can become dead stock too.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta

from models.planning import PolicySnapshot
from models.state import MaterialState, WarehouseStock

GAP_WINDOW_DAYS = 7
SHIFT_MEMORY_DAYS = 7
"""A demand shift stays a fact for a week after it was flagged."""


def warehouse_facts(
    state: MaterialState, stock: WarehouseStock, now: datetime
) -> Mapping[str, float | None]:
    """Every fact of ``stock`` as of event time ``now``."""
    today = now.date()
    horizon = today + timedelta(days=GAP_WINDOW_DAYS)
    policy = stock.policy
    oldest = stock.batches[0] if stock.batches else None
    shift_on = stock.demand.last_shift_on
    return {
        "available": stock.available,
        "on_hand": stock.on_hand,
        "in_transit": stock.in_transit,
        "committed": stock.committed,
        "committed_next_7d": sum(
            line.open_quantity
            for line in stock.committed_lines.values()
            if line.due_date <= horizon
        ),
        "in_transit_next_7d": sum(
            line.open_quantity for line in stock.supply_lines.values() if line.eta <= horizon
        ),
        "days_of_cover": policy.days_of_cover if policy else None,
        "projected_stockout_days": policy.projected_stockout_days if policy else None,
        "lead_time_days": policy.lead_time_days if policy else None,
        "days_to_order": days_to_order(policy) if policy else None,
        "inventory_position": inventory_position(stock),
        "safety_stock": policy.safety_stock if policy else None,
        "reorder_point": policy.reorder_point if policy else None,
        "order_up_to": policy.order_up_to if policy else None,
        "forecast_daily": policy.daily_demand if policy else None,
        "days_since_last_issue": (now - quiet_since).total_seconds() / 86_400
        if (quiet_since := stock.last_issue_at or (oldest.received_at if oldest else None))
        else None,
        "batch_age_days": oldest.age_days(now) if oldest else None,
        "batch_value": round(oldest.quantity * oldest.unit_cost, 2) if oldest else None,
        "inventory_value": stock.inventory_value,
        "unit_cost": state.master.unit_cost if state.master else None,
        "demand_shift": (1.0 if shift_on and (today - shift_on).days <= SHIFT_MEMORY_DAYS else 0.0),
    }


def inventory_position(stock: WarehouseStock) -> float:
    """What the ERP has for new demand: on hand + in transit - committed, requests not counted.

    Purchase requests stockloop raised but the ERP has not ordered yet are
    left out on purpose: a ``reorder_point_reached`` alert on this position
    stays open until the order is really placed, instead of being satisfied
    by the request raised in the same step.

    >>> inventory_position(WarehouseStock(on_hand=80))
    80.0
    """
    return round(stock.on_hand + stock.in_transit - stock.committed, 6) + 0.0


def days_to_order(policy: PolicySnapshot) -> float | None:
    """Days left to place an order that still arrives before the projected stock-out.

    Projected stock-out minus lead time, from today; negative when an order
    placed today already comes too late; unknown without a stock-out in the
    horizon. A rule subtracts the time to approve and confirm an order
    itself (``stockout_risk``'s ``order_margin_days``).

    >>> snapshot = PolicySnapshot.model_construct(projected_stockout_days=35, lead_time_days=30.0)
    >>> days_to_order(snapshot)
    5.0
    """
    if policy.projected_stockout_days is None:
        return None
    return round(policy.projected_stockout_days - policy.lead_time_days, 4) + 0.0


def scope_of(state: MaterialState, warehouse_id: str) -> dict[str, str | None]:
    """What a rule's ``scope`` matches and an alert is labelled with, for one stock."""
    master = state.master
    return {
        "material_id": state.material_id,
        "warehouse_id": warehouse_id,
        "category": master.category if master else None,
        "abc_class": master.abc_class if master else None,
        "owner": master.owner if master else None,
    }
