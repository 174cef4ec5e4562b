"""Dynamic inventory policy: safety stock, reorder point and projected stock-out.

The formulas are the textbook ones (DESIGN.md, "Formulas"); what makes them
dynamic is their inputs: daily demand and the σ of demand over the lead time
come from the online forecast and its errors, lead time and its σ from
receipts.

``safety_stock`` is the textbook formula, which builds the σ of lead-time
demand from a daily σ as ``sqrt(L) * sigma_d``: right when the daily forecast
errors are independent. They are not when demand is forecast (the error of
the forecast's level repeats on every day of the lead time, Prak et al.), so
planning measures the σ of lead-time demand from the forecast errors
themselves (Silver et al.) and passes it to
``safety_stock_of_lead_time_demand``.

References
----------
Silver, E. A., Pyke, D. F., & Thomas, D. J. (2017). *Inventory and Production
Management in Supply Chains* (4th ed.), ch. 6: safety stock under demand and
lead-time uncertainty, ``SS = z * sqrt(L * sigma_d^2 + d^2 * sigma_L^2)``, and
σ of lead-time demand estimated from forecast errors.

Prak, D., Teunter, R., & Syntetos, A. (2017). On the calculation of safety
stocks when demand is forecasted. *European Journal of Operational Research*,
256(2), 454–461: with forecast demand, ``sqrt(L) * sigma_1`` understates the
σ of the lead-time forecast error.
"""

import math
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from statistics import NormalDist

from pydantic import BaseModel, ConfigDict, Field


def service_z(service_level: float) -> float:
    """Safety factor z of a target cycle service level (standard normal quantile).

    >>> round(service_z(0.95), 4)
    1.6449
    >>> service_z(0.5)
    0.0
    """
    if not 0.0 < service_level < 1.0:
        raise ValueError(f"service level {service_level} must be strictly between 0 and 1")
    return NormalDist().inv_cdf(service_level)


def safety_stock(
    service_level: float,
    lead_time_days: float,
    sigma_lead_time_days: float,
    daily_demand: float,
    sigma_daily_demand: float,
) -> float:
    """Stock held against demand and lead-time uncertainty over one lead time (textbook).

    ``z * sqrt(LT * sigma_d^2 + d^2 * sigma_LT^2)``: daily demand errors
    taken as independent, so σ of lead-time demand is ``sqrt(LT) * sigma_d``.

    >>> round(safety_stock(0.95, 9, 0, 10, 4), 2)  # z * sqrt(9 * 16) = 1.6449 * 12
    19.74
    >>> round(safety_stock(0.95, 9, 2, 10, 4), 2)  # z * sqrt(144 + 100 * 4) = 1.6449 * 23.32
    38.36
    """
    return safety_stock_of_lead_time_demand(
        service_level,
        math.sqrt(lead_time_days) * sigma_daily_demand,
        daily_demand,
        sigma_lead_time_days,
    )


def safety_stock_of_lead_time_demand(
    service_level: float,
    sigma_lead_time_demand: float,
    daily_demand: float,
    sigma_lead_time_days: float,
) -> float:
    """Stock held against demand and lead-time uncertainty, σ of lead-time demand given directly.

    ``z * sqrt(sigma_LTD^2 + d^2 * sigma_LT^2)``, with ``sigma_LTD`` the σ of
    total demand over the lead time around its forecast (from
    ``DemandForecaster.sigma_over``), for when daily errors are not
    independent; ``safety_stock`` is the case ``sigma_LTD = sqrt(LT) * sigma_d``.

    >>> round(safety_stock_of_lead_time_demand(0.95, 18, 10, 0), 2)  # z * 18
    29.61
    >>> round(safety_stock_of_lead_time_demand(0.95, 18, 10, 2.4), 2)  # z * sqrt(18² + 24²)
    49.35
    """
    variance = sigma_lead_time_demand**2 + daily_demand**2 * sigma_lead_time_days**2
    return max(service_z(service_level), 0.0) * math.sqrt(variance)


def reorder_point(daily_demand: float, lead_time_days: float, safety_stock: float) -> float:
    """Order when the inventory position falls to expected lead-time demand plus safety stock.

    >>> reorder_point(10, 7, 20)
    90
    """
    return daily_demand * lead_time_days + safety_stock


def order_up_to(daily_demand: float, protection_days: float, safety_stock: float) -> float:
    """Level an order should restore under periodic review: demand over the protection
    interval (lead time + review period) plus safety stock for that same interval.

    Reviewing every R days, an order placed today must last until the order
    after next arrives, L + R days from now (Silver, Pyke & Thomas, ch. 6,
    the (R, S) system); safety stock for the lead time alone under-covers.

    >>> order_up_to(10, 7 + 7, 30)
    170
    """
    return daily_demand * protection_days + safety_stock


def days_of_cover(available: float, daily_demand: float) -> float | None:
    """Days the available stock lasts at forecast demand; None when there is no demand.

    >>> days_of_cover(150, 10)
    15.0
    >>> days_of_cover(150, 0) is None
    True
    """
    if daily_demand <= 0:
        return None
    return max(available, 0.0) / daily_demand


class Projection(BaseModel):
    """Day-by-day projected stock from today, and the first day it runs out."""

    model_config = ConfigDict(frozen=True)

    stockout_date: date | None = Field(description="First day the projected stock is below 0.")
    stockout_days: int | None = Field(description="Days from today to the stock-out date.")
    balances: list[float] = Field(description="Projected stock at the end of each day.")


def project_stock(
    today: date,
    on_hand: float,
    forecast_daily: Sequence[float],
    committed_by_day: Mapping[date, float],
    receipts_by_day: Mapping[date, float],
    demand_today: float = 0.0,
) -> Projection:
    """Project stock over ``len(forecast_daily)`` days and find the stock-out date.

    Each day takes the larger of forecast demand and confirmed orders due
    that day (orders consume the forecast, so they are not counted twice),
    and adds inbound supply at its ETA. Orders already overdue and supply
    already past its ETA count on day 0: the one is owed now, the other is
    expected any moment.

    ``demand_today`` is what was already issued today: it has left
    ``on_hand``, so day 0 takes only the rest of today's forecast (never
    below 0); an evening evaluation does not count today's demand twice.

    >>> p = project_stock(date(2026, 1, 1), 30, [10] * 5, {}, {date(2026, 1, 4): 20})
    >>> p.balances, p.stockout_date, p.stockout_days
    ([20.0, 10.0, 0.0, 10.0, 0.0], None, None)
    >>> p = project_stock(date(2026, 1, 1), 30, [10] * 5, {}, {date(2026, 1, 5): 20})
    >>> p.stockout_date, p.stockout_days
    (datetime.date(2026, 1, 4), 3)
    >>> project_stock(date(2026, 1, 1), 30, [10] * 5, {}, {}, demand_today=8).balances
    [28.0, 18.0, 8.0, -2.0, -12.0]
    """
    balance = float(on_hand)
    balances: list[float] = []
    stockout: date | None = None
    for offset, forecast in enumerate(forecast_daily):
        day = today + timedelta(days=offset)
        due = _due_on(committed_by_day, day, today)
        arriving = _due_on(receipts_by_day, day, today)
        expected = max(forecast - demand_today, 0.0) if offset == 0 else forecast
        balance += arriving - max(expected, due)
        balances.append(round(balance, 6) + 0.0)
        if stockout is None and balance < -1e-9:
            stockout = day
    return Projection(
        stockout_date=stockout,
        stockout_days=(stockout - today).days if stockout else None,
        balances=balances,
    )


def _due_on(by_day: Mapping[date, float], day: date, today: date) -> float:
    """Quantity dated ``day``; on ``today`` also everything dated before it."""
    if day == today:
        return sum(q for d, q in by_day.items() if d <= today)
    return by_day.get(day, 0.0)
