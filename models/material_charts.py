"""A stock's charts on the material page: demand history with the forecast, and stock ahead.

Both are drawn from the material's state at its own event time, with the
same forecaster, lead time and supply the policy is planned with
(``models.planning.plan``), so the projected line crosses zero on the
policy's projected stock-out date:

- demand: each closed day of the flow's ring (``models.stock_flow``, the
  last 60 days) and the day still open, then the forecast of every day over
  the lead time plus the planning horizon with its one-σ band (the
  forecaster's recent one-step error, ``sigma_daily``);
- projection: stock on hand day by day over the same days, taking the
  larger of forecast and orders due, adding supply at its ETA
  (``models.policy.project_stock``), against safety stock and reorder point.

Promotions of the material's own are applied; a category's promotions come
from the worker's settings and are not (the page says the chart is the
material's own plan).
"""

import math
from collections.abc import Iterable
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field

from models.planning import PlanningConfig, Promotion
from models.policy import project_stock
from models.state import DEFAULT_CONFIG, MaterialState, WarehouseStock
from models.stock_flow import RING_DAYS


class DemandDay(BaseModel):
    """A day of demand history: the quantity counted as demand (open: the day is not over)."""

    model_config = ConfigDict(frozen=True)

    day: date
    demand: float
    open: bool = False


class ForecastDay(BaseModel):
    """A day ahead: forecast demand, its one-σ band, and the stock projected at its close."""

    model_config = ConfigDict(frozen=True)

    day: date
    forecast: float
    low: float
    high: float
    stock: float = Field(description="Projected on hand at the day's close.")


class StockChart(BaseModel):
    """One stock's demand history, forecast and projection, with the policy's marks."""

    model_config = ConfigDict(frozen=True)

    warehouse_id: str
    as_of: date
    history: list[DemandDay]
    ahead: list[ForecastDay]
    safety_stock: float | None
    reorder_point: float | None
    sigma_daily_demand: float
    projected_stockout_date: date | None


def stock_chart(
    state: MaterialState,
    warehouse_id: str,
    today: date,
    config: PlanningConfig = DEFAULT_CONFIG,
) -> StockChart:
    """The charts of one stock at event day ``today``.

    >>> from datetime import UTC, datetime
    >>> from models.events import MaterialEvent, MovementType, StockMovement
    >>> state = MaterialState(material_id="M1")
    >>> def move(day, kind, quantity):
    ...     at = datetime(2026, 3, day, 9, tzinfo=UTC)
    ...     state.apply(MaterialEvent(event=StockMovement(event_id=f"{kind}{day}",
    ...         event_time=at, material_id="M1", warehouse_id="W1",
    ...         movement_type=kind, quantity=quantity)))
    >>> move(1, MovementType.RECEIPT, 100)
    >>> for day in range(2, 9):
    ...     move(day, MovementType.ISSUE, 5)
    >>> chart = stock_chart(state, "W1", date(2026, 3, 8))
    >>> [(d.day.day, d.demand) for d in chart.history][-3:]
    [(6, 5.0), (7, 5.0), (8, 5.0)]
    >>> chart.ahead[0].stock == 65 - max(chart.ahead[0].forecast - 5, 0)
    True
    """
    stock = state.warehouses[warehouse_id]
    policy = stock.policy
    forecaster = stock.demand.forecaster
    lead_time = policy.lead_time_days if policy else 0.0
    days = math.ceil(lead_time) + config.horizon_days
    skip = max((today - stock.demand.next_day_to_learn(today)).days, 0)
    forecast = _lifted(today, forecaster.forecast(skip + days)[skip:], state.promotions.values())
    demand_today = stock.demand.open_days.get(today, 0.0)
    projection = project_stock(
        today,
        stock.on_hand,
        forecast,
        stock.committed_by_day(),
        stock.receipts_by_day(),
        demand_today,
    )
    sigma = forecaster.sigma_daily
    return StockChart(
        warehouse_id=warehouse_id,
        as_of=today,
        history=_history(stock, today),
        ahead=[
            ForecastDay(
                day=today + timedelta(days=n),
                forecast=round(f, 4),
                low=round(max(f - sigma, 0.0), 4),
                high=round(f + sigma, 4),
                stock=balance,
            )
            for n, (f, balance) in enumerate(zip(forecast, projection.balances, strict=True))
        ],
        safety_stock=policy.safety_stock if policy else None,
        reorder_point=policy.reorder_point if policy else None,
        sigma_daily_demand=round(sigma, 4),
        projected_stockout_date=projection.stockout_date,
    )


def material_charts(
    state: MaterialState, today: date, config: PlanningConfig = DEFAULT_CONFIG
) -> dict[str, StockChart]:
    """Every stock's charts at event day ``today``, by warehouse."""
    return {w: stock_chart(state, w, today, config) for w in sorted(state.warehouses)}


def _history(stock: WarehouseStock, today: date) -> list[DemandDay]:
    flow = stock.flow
    days = [DemandDay(day=d.day, demand=d.demand) for d in flow.days()]
    if flow.day is not None and flow.day <= today:
        # Days the flow has not closed yet (no change since) had no demand.
        quiet = flow.day + timedelta(days=1)
        days.append(DemandDay(day=flow.day, demand=flow.demand_today, open=flow.day == today))
        while quiet <= today:
            days.append(DemandDay(day=quiet, demand=0.0, open=quiet == today))
            quiet += timedelta(days=1)
    return days[-(RING_DAYS + 1) :]


def _lifted(today: date, forecast: list[float], promotions: Iterable[Promotion]) -> list[float]:
    chosen = [p for p in promotions if p.ends_on >= today]
    if not chosen:
        return forecast
    lifted = []
    for offset, demand in enumerate(forecast):
        day = today + timedelta(days=offset)
        for promotion in chosen:
            demand *= promotion.factor(day)
        lifted.append(demand)
    return lifted
