"""Replenishment: the purchase requests a material's plans call for, raised in its step.

After every event and midnight the step asks, for each warehouse it brought
up to date, whether supply is needed: the inventory position (on hand + in
transit + open requests − committed) is at or below the reorder point, or an
open ``stockout_risk`` or ``supply_demand_gap`` alert says stock runs short
while the position is still below the order-up-to level. If so, one request
brings the position up to order-up-to; it is approved on the spot or waits
for an approver, as the approval policy says (``models.approval``).

Because open requests count in the position, an alert that updates ten times
yields one request, and a second one comes only when the first is not
enough. A request leaves the position when the ERP orders it (its quantity is
then in transit), is rejected, is cancelled because the need went away before
anyone decided on it, or expires (approved but not ordered in time: the need,
if it is still there, raises a new one).

Everything is a function of the material's state and event time, so a replay
raises the same requests with the same ids.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from models.alerts import _OMIT_FALSY
from models.approval import ApprovalPolicy, decide
from models.events import InTransitLine
from models.planning import PolicySnapshot
from models.purchasing import (
    PurchaseRequest,
    PurchaseRequestAction,
    RequestStatus,
    apply_action,
    approve_automatically,
    await_approval,
    cancel,
    expire_if_due,
    inventory_position,
    is_open,
    mark_ordered,
    open_quantity,
    propose,
    suggested_quantity,
)

if TYPE_CHECKING:
    from models.state import MaterialState

SUPPLY_ALERTS = frozenset({"stockout_risk", "supply_demand_gap"})
"""Rules whose open alert means a warehouse needs supply, whatever its reorder point says."""

_UNDECIDED = frozenset({RequestStatus.PROPOSED, RequestStatus.PENDING_APPROVAL})


class RequestBook(BaseModel):
    """A material's open purchase requests, and how many each warehouse has raised.

    Closed requests (ordered, rejected, cancelled, expired) leave the book:
    the topic keeps their history, the state stays bounded.
    """

    open: dict[str, PurchaseRequest] = Field(default_factory=dict, **_OMIT_FALSY)
    raised: dict[str, int] = Field(default_factory=dict, **_OMIT_FALSY)

    def requested(self, warehouse_id: str) -> float:
        """Quantity requested for a warehouse and not yet ordered."""
        return sum(open_quantity(r) for r in self.open.values() if r.warehouse_id == warehouse_id)

    def record(self, request: PurchaseRequest) -> PurchaseRequest:
        """Keep a request's latest transition (or drop it once closed); return it for publishing."""
        if is_open(request):
            self.open[request.request_id] = request
        else:
            self.open.pop(request.request_id, None)
        return request


def replenish(
    state: "MaterialState",
    now: datetime,
    policy: ApprovalPolicy,
    warehouses: Iterable[str],
) -> list[PurchaseRequest]:
    """Raise, cancel or expire requests for ``warehouses`` at event time ``now``.

    Returns the transitions to publish, in order.
    """
    book = state.requests
    transitions = [
        book.record(expired)
        for request in list(book.open.values())
        if (expired := expire_if_due(request, now, policy.expiry_days)) is not None
    ]
    for warehouse_id in sorted(warehouses):
        stock = state.warehouses.get(warehouse_id)
        plan = stock.policy if stock is not None else None
        if stock is None or plan is None:
            continue
        requested = book.requested(warehouse_id)
        position = inventory_position(stock.on_hand, stock.in_transit, requested, stock.committed)
        alert_ids = sorted(
            alert.id
            for alert in state.alerts.alerts.values()
            if alert.warehouse_id == warehouse_id and alert.rule_id in SUPPLY_ALERTS
        )
        short = position <= plan.reorder_point or (alert_ids and position < plan.order_up_to)
        if not short:
            transitions += _cancel_unneeded(book, warehouse_id, position - requested, plan, now)
            continue
        master = state.master
        moq = master.moq if master else 0.0
        pack_size = master.pack_size if master else 1.0
        if suggested_quantity(plan.order_up_to, position, moq, pack_size) <= 0:
            continue
        raised = book.raised.get(warehouse_id, 0)
        book.raised[warehouse_id] = raised + 1
        request = propose(
            material_id=state.material_id,
            warehouse_id=warehouse_id,
            unit=master.unit if master else "EA",
            unit_cost=master.unit_cost if master else 0.0,
            moq=moq,
            pack_size=pack_size,
            supplier_id=plan.supplier_id or (master.preferred_supplier if master else None),
            reorder_point=plan.reorder_point,
            order_up_to=plan.order_up_to,
            projected_stockout_date=plan.projected_stockout_date,
            lead_time_days=plan.lead_time_days,
            position=position,
            alert_ids=alert_ids,
            now=now,
            raised=raised,
            currency=policy.currency,
        )
        transitions.append(book.record(request))
        transitions.append(book.record(_decide(state, request, policy, now)))
    return transitions


def take_over(state: "MaterialState", line: InTransitLine) -> list[PurchaseRequest]:
    """A new PO line orders the open request it names, or the oldest one it matches.

    Called before the line is applied, so that its quantity moves from
    "requested" to "in transit" in one step and the position never counts it
    twice (nor, for a moment, not at all: which would raise a second request).
    A line matches a request of the same warehouse and supplier created no
    later than the line was ordered.
    """
    book = state.requests
    if any(line.line_id in stock.supply_lines for stock in state.warehouses.values()):
        return []
    candidates = sorted(
        (
            r
            for r in book.open.values()
            if r.request_id == line.purchase_request_id
            or (
                line.purchase_request_id is None
                and r.warehouse_id == line.warehouse_id
                and r.supplier_id in (None, line.supplier_id)
                and r.created_at <= line.ordered_at
            )
        ),
        key=lambda r: (r.created_at, r.request_id),
    )
    if not candidates:
        return []
    ordered = mark_ordered(candidates[0], line.quantity, line.event_time, line.line_id)
    return [book.record(ordered)]


def act(state: "MaterialState", action: PurchaseRequestAction) -> list[PurchaseRequest]:
    """Apply a person's decision to the material's open request; raises if it cannot apply."""
    request = state.requests.open.get(action.request_id)
    if request is None:
        raise ValueError(
            f"request_id={action.request_id}: no open request of {state.material_id} "
            "(unknown, or already ordered, rejected, cancelled or expired)"
        )
    return [state.requests.record(apply_action(request, action))]


def _decide(
    state: "MaterialState", request: PurchaseRequest, policy: ApprovalPolicy, now: datetime
) -> PurchaseRequest:
    master = state.master
    decision = decide(
        policy,
        amount=request.amount,
        quantity=request.quantity,
        category=master.category if master else None,
        abc_class=master.abc_class if master else None,
        usual_quantity=_usual_quantity(state, request.warehouse_id),
        critical_demand_shift=any(
            alert.rule_id == "demand_shift" and alert.severity == "critical"
            for alert in state.alerts.alerts.values()
        ),
    )
    if decision.auto_approved:
        return approve_automatically(request, now, decision.reason)
    return await_approval(request, decision.approver or "buyer", now, decision.reason)


def _usual_quantity(state: "MaterialState", warehouse_id: str) -> float | None:
    """Median quantity of a warehouse's open PO lines: what the material is usually ordered in."""
    stock = state.warehouses.get(warehouse_id)
    quantities = sorted(line.quantity for line in stock.supply_lines.values()) if stock else []
    return quantities[len(quantities) // 2] if quantities else None


def _cancel_unneeded(
    book: RequestBook,
    warehouse_id: str,
    position_without_requests: float,
    plan: PolicySnapshot,
    now: datetime,
) -> list[PurchaseRequest]:
    """Undecided requests of a warehouse whose need is gone: the position is above the reorder
    point without them. Approved ones stay: a person or the policy committed to them."""
    if position_without_requests <= plan.reorder_point:
        return []
    return [
        book.record(
            cancel(
                request,
                now,
                f"need gone: position without requests {position_without_requests:g} "
                f"> reorder point {plan.reorder_point:g}",
            )
        )
        for request in sorted(book.open.values(), key=lambda r: r.request_id)
        if request.warehouse_id == warehouse_id and request.status in _UNDECIDED
    ]
