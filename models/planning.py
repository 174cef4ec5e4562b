"""Planning numbers of one material in one warehouse, recomputed as events arrive.

This is where demand (forecast and its errors), supply (lead times, open
lines) and the material master meet the policy formulas. The result, a
``PolicySnapshot``, is part of the material's state, so the read API, the
alert rules and a replay all see the same numbers.
"""

import math
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from models.events import AbcClass, MaterialMaster
from models.forecast import DemandClass, DemandForecaster
from models.lead_time import LeadTimeStats
from models.policy import (
    days_of_cover,
    order_up_to,
    project_stock,
    reorder_point,
    safety_stock_of_lead_time_demand,
    service_z,
)
from models.priority import PriorityConfig


class DemandSource(StrEnum):
    """What counts as demand."""

    ISSUE = "issue"
    TRANSFER_OUT = "transfer_out"
    SHIPMENT = "shipment"


class CategoryProfile(BaseModel):
    """Where a new material of a category starts, before its own history speaks."""

    model_config = ConfigDict(frozen=True)

    daily_demand: float = Field(0.0, ge=0)
    demand_class: DemandClass | None = None
    adi: float = Field(1.0, ge=1.0, description="Average days between demands.")
    sigma_daily_demand: float = Field(0.0, ge=0)

    def new_forecaster(self) -> DemandForecaster:
        """A forecaster seeded with this profile."""
        return DemandForecaster.new(
            self.daily_demand,
            self.demand_class,
            initial_adi=self.adi,
            initial_sigma=self.sigma_daily_demand,
        )


class PlanningConfig(BaseModel):
    """How demand is counted and the policy is set; one per deployment (settings)."""

    model_config = ConfigDict(frozen=True)

    grace_days: int = Field(1, ge=0, description="Days a closed day stays open for late events.")
    demand_sources: frozenset[DemandSource] = Field(
        frozenset({DemandSource.ISSUE}),
        description="Issues by default; shipments of order lines if the ERP posts no issues.",
    )
    service_levels: Mapping[AbcClass, float] = Field(
        default_factory=lambda: {AbcClass.A: 0.98, AbcClass.B: 0.95, AbcClass.C: 0.90},
        description="Target cycle service level by ABC class, when the master sets none.",
    )
    default_service_level: float = Field(0.95, gt=0.5, lt=1.0)
    default_lead_time_days: float = Field(14.0, gt=0)
    review_period_days: float = Field(7.0, ge=0, description="Order-up-to covers one review.")
    horizon_days: int = Field(28, ge=1, description="Projection beyond the lead time, in days.")
    dedup_horizon_days: int = Field(
        35,
        ge=1,
        description="Event ids are remembered this long in event time (longer than the input "
        "topics' retention); older stock or demand events are refused: a re-send could not be "
        "told from a new event.",
    )
    category_profiles: Mapping[str, CategoryProfile] = Field(
        default_factory=dict, description="Starting demand profile of new materials by category."
    )
    priority: PriorityConfig = Field(
        default_factory=PriorityConfig,
        description="How alerts' value at risk is priced (customer weights, holding cost, "
        "write-off share, update threshold), "
        "e.g. STOCKLOOP_PLANNING__PRIORITY__HOLDING_COST_RATE=0.2.",
    )


class Promotion(BaseModel):
    """A planned promotion: demand inside the window is expected ``uplift`` times normal."""

    model_config = ConfigDict(frozen=True)

    promotion_id: str
    starts_on: date
    ends_on: date
    uplift: float

    def factor(self, day: date) -> float:
        """Multiplier for demand on ``day``."""
        return self.uplift if self.starts_on <= day <= self.ends_on else 1.0


class PolicySnapshot(BaseModel):
    """The numbers behind a reorder decision, as of one event-time day."""

    as_of: date
    demand_class: str = Field(description="Syntetos-Boylan class, or unclassified (< 4 weeks).")
    forecast_method: str
    daily_demand: float = Field(description="Mean forecast demand per day over the lead time.")
    sigma_daily_demand: float = Field(
        description="Recent RMSE of one-step forecast errors (8-week half-life)."
    )
    sigma_lead_time_demand: float | None = Field(
        None,
        description=(
            "σ of total demand over the lead time around its forecast, measured from "
            "forecast errors (DemandForecaster.sigma_over); the demand term of the safety "
            "stock. None in snapshots written before it was recorded."
        ),
    )
    supplier_id: str | None
    lead_time_days: float
    sigma_lead_time_days: float
    service_level: float
    z: float
    safety_stock: float
    reorder_point: float
    order_up_to: float
    days_of_cover: float | None
    projected_stockout_date: date | None
    projected_stockout_days: int | None
    unit: str = Field("EA", description="Unit of the quantities above (the master's).")


def service_level_of(master: MaterialMaster | None, config: PlanningConfig) -> float:
    """The master's target, else its ABC class's, else the default."""
    if master and master.service_level:
        return master.service_level
    if master and master.abc_class:
        return config.service_levels.get(master.abc_class, config.default_service_level)
    return config.default_service_level


def plan(
    *,
    today: date,
    on_hand: float,
    available: float,
    forecaster: DemandForecaster,
    first_forecast_day: date,
    committed_by_day: Mapping[date, float],
    receipts_by_day: Mapping[date, float],
    supplier_id: str | None,
    lead_time: LeadTimeStats,
    overdue_ages: Iterable[float],
    master: MaterialMaster | None,
    promotions: Iterable[Promotion],
    config: PlanningConfig,
    demand_today: float = 0.0,
) -> PolicySnapshot:
    """Safety stock, reorder point, order-up-to, cover and projected stock-out for one stock.

    The forecast runs from ``today`` over the lead time plus the horizon;
    promotions lift it inside their windows before anything is derived from it.
    ``demand_today`` (already issued today, so already off ``on_hand``) is
    taken off today's forecast in the projection: today's demand counts once.

    Safety stock is ``z * sqrt(sigma_LTD^2 + d^2 * sigma_LT^2)`` with
    ``sigma_LTD = forecaster.sigma_over(LT)``, the σ of demand over the lead
    time measured from the forecast's own errors over one day and one week,
    not the textbook ``sqrt(LT) * sigma_d``: the daily errors of a forecast
    are positively correlated (its level error repeats every day), so the
    textbook value under-covers (Prak, Teunter & Syntetos 2017; see
    ``models.forecast.LeadTimeDemandError``).
    """
    default_lt = (
        master.default_lead_time_days if master else None
    ) or config.default_lead_time_days
    # A receipt is planned with from the day after it (models.lead_time).
    lt_mean, lt_sigma = lead_time.as_of(today).estimate(default_lt, overdue_ages)
    # The forecaster's first day is the one after the last day it learned; skip to today.
    skip = max((today - first_forecast_day).days, 0)
    forecast = forecaster.forecast(skip + math.ceil(lt_mean) + config.horizon_days)[skip:]
    lifted = _lift(today, forecast, list(promotions))
    sigma_daily_demand = forecaster.sigma_daily
    sigma_lead_time_demand = forecaster.sigma_over(lt_mean)
    lead_days = max(1, round(lt_mean))
    daily = sum(lifted[:lead_days]) / lead_days
    level = service_level_of(master, config)
    ss = safety_stock_of_lead_time_demand(level, sigma_lead_time_demand, daily, lt_sigma)
    rop = reorder_point(daily, lt_mean, ss)
    protection = lt_mean + config.review_period_days
    sigma_protection = forecaster.sigma_over(protection)
    ss_protection = safety_stock_of_lead_time_demand(level, sigma_protection, daily, lt_sigma)
    # Demand over the whole protection interval, promotions included: a festival after the
    # lead time but before the next order arrives is what this order must cover.
    protection_days = max(1, math.ceil(protection))
    protection_daily = sum(lifted[:protection_days]) / protection_days
    projection = project_stock(
        today, on_hand, lifted, committed_by_day, receipts_by_day, demand_today
    )
    return PolicySnapshot(
        as_of=today,
        demand_class=forecaster.demand_class or "unclassified",
        forecast_method=forecaster.method,
        daily_demand=_r(daily),
        sigma_daily_demand=_r(sigma_daily_demand),
        sigma_lead_time_demand=_r(sigma_lead_time_demand),
        supplier_id=supplier_id,
        lead_time_days=_r(lt_mean),
        sigma_lead_time_days=_r(lt_sigma),
        service_level=level,
        z=_r(service_z(level)),
        safety_stock=_r(ss),
        reorder_point=_r(rop),
        order_up_to=_r(order_up_to(protection_daily, protection, ss_protection)),
        days_of_cover=_r(cover) if (cover := days_of_cover(available, daily)) is not None else None,
        projected_stockout_date=projection.stockout_date,
        projected_stockout_days=projection.stockout_days,
        unit=master.unit if master else "EA",
    )


def _lift(today: date, forecast: list[float], promotions: list[Promotion]) -> list[float]:
    if not promotions:
        return forecast
    lifted = []
    for offset, demand in enumerate(forecast):
        day = today + timedelta(days=offset)
        factor = 1.0
        for promotion in promotions:
            factor *= promotion.factor(day)
        lifted.append(demand * factor)
    return lifted


def _r(value: float) -> float:
    return round(value, 4) + 0.0
