"""A history of material events made from daily demand series, with a synthetic ERP's supply.

Real demand is easy to find (``tests/data``: a bakery chain, a restaurant);
real supply is not. To backtest on such series, each becomes one material in
one warehouse whose ERP runs the usual static policy: every evening it
orders ``ERP_LOT_DAYS`` of the first weeks' average demand when on hand plus
on order falls under ``ERP_COVER_DAYS`` beyond the lead time; the supplier
delivers after a lead time drawn around ``lead_time_days`` (σ = 20 %),
seeded. The demand is the series' own, issued at noon; the PO lines and
receipts are the recorded supply the backtest replaces with ``act``.
"""

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

from models.events import (
    InTransitLine,
    InTransitStatus,
    MaterialEvent,
    MaterialMaster,
    MovementType,
    StockMovement,
)

ERP_BASIS_DAYS = 28
"""The ERP's parameters come from the average of the series' first four weeks, once."""
ERP_COVER_DAYS = 3
ERP_LOT_DAYS = 30
LEAD_TIME_CV = 0.2
SUPPLIER = "SYNTHETIC"
WAREHOUSE = "MAIN"


def series_history(
    series: Mapping[str, Sequence[tuple[date, float]]],
    lead_time_days: float = 7.0,
    seed: int = 42,
    unit_cost: float = 1.0,
) -> list[MaterialEvent]:
    """Every series as a material's events: master, opening stock, issues, PO lines, receipts.

    Leading zero days (a shop not open yet) are dropped; a series with no
    demand at all gives no events.

    >>> days = [(date(2026, 1, 1) + timedelta(days=n), 10.0) for n in range(40)]
    >>> events = series_history({"bread": days}, lead_time_days=5)
    >>> sorted({e.event.kind for e in events})
    ['in_transit', 'material', 'movement']
    """
    events: list[MaterialEvent] = []
    for material_id in sorted(series):
        events += _one_series(material_id, series[material_id], lead_time_days, seed, unit_cost)
    return events


def _one_series(
    material_id: str,
    days: Sequence[tuple[date, float]],
    lead_time_days: float,
    seed: int,
    unit_cost: float,
) -> list[MaterialEvent]:
    demand = list(days)
    while demand and demand[0][1] <= 0:
        demand.pop(0)
    if not demand:
        return []
    basis = [quantity for _, quantity in demand[:ERP_BASIS_DAYS]]
    average = sum(basis) / len(basis)
    reorder_at = average * (lead_time_days + ERP_COVER_DAYS)
    lot = round(average * ERP_LOT_DAYS, 3)
    rng = random.Random(f"{seed}/{material_id}")
    first = _at(demand[0][0], time())
    out = [
        MaterialMaster(
            event_id=f"{material_id}-master",
            event_time=first,
            material_id=material_id,
            name=material_id,
            unit_cost=unit_cost,
            default_lead_time_days=lead_time_days,
            preferred_supplier=SUPPLIER,
        ),
        _movement(material_id, "opening", MovementType.RECEIPT, round(reorder_at + lot, 3), first),
    ]
    on_hand, on_order = reorder_at + lot, 0.0
    arrivals: dict[date, list[tuple[str, float]]] = {}
    for n, (day, quantity) in enumerate(demand):
        for line_id, received in arrivals.pop(day, []):
            out.append(
                _movement(
                    material_id, line_id, MovementType.RECEIPT, received, _at(day, time(6)), line_id
                )
            )
            on_hand += received
            on_order -= received
        if quantity > 0:
            out.append(
                _movement(material_id, f"d{n}", MovementType.ISSUE, quantity, _at(day, time(12)))
            )
            on_hand -= quantity
        if on_hand + on_order < reorder_at and lot > 0:
            ordered = _at(day, time(20))
            lead = max(1, round(rng.gauss(lead_time_days, LEAD_TIME_CV * lead_time_days)))
            eta = day + timedelta(days=lead)
            line_id = f"{material_id}-po{n}"
            out.append(
                InTransitLine(
                    event_id=line_id,
                    event_time=ordered,
                    material_id=material_id,
                    line_id=line_id,
                    supplier_id=SUPPLIER,
                    warehouse_id=WAREHOUSE,
                    quantity=lot,
                    ordered_at=ordered,
                    eta=eta,
                    status=InTransitStatus.ORDERED,
                )
            )
            arrivals.setdefault(eta, []).append((line_id, lot))
            on_order += lot
    return [MaterialEvent(event=event) for event in out]


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, UTC)


def _movement(
    material_id: str,
    name: str,
    kind: MovementType,
    quantity: float,
    at: datetime,
    po_line_id: str | None = None,
) -> StockMovement:
    return StockMovement(
        event_id=f"{material_id}-{name}-{kind}",
        event_time=at,
        material_id=material_id,
        movement_type=kind,
        warehouse_id=WAREHOUSE,
        quantity=quantity,
        po_line_id=po_line_id,
    )
