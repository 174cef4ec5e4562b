"""Replenishment: the transfers and purchase requests a material's plans call for, in its step.

After every event and midnight the step asks, for each warehouse it brought
up to date, whether supply is needed: the inventory position (on hand + in
transit + incoming transfers + open requests − committed − outgoing
transfers) is at or below the reorder point, or an open ``stockout_risk`` or
``supply_demand_gap`` alert says stock runs short while the position is
still below the order-up-to level. If so, the position is brought up to
order-up-to: first by transfers from warehouses of the same material that
hold a surplus (``models.transfers``: moving stock costs less than buying
it), then by one purchase request for what they cannot give, approved on
the spot or waiting for an approver, as the approval policy says
(``models.approval``).

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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from models.alerts import _OMIT_FALSY
from models.approval import ApprovalDecision, ApprovalPolicy, decide
from models.events import InTransitLine, MovementType, StockMovement
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
    expires_at,
    inventory_position,
    is_open,
    mark_ordered,
    open_quantity,
    propose,
    request_amount,
    suggested_quantity,
)
from models.transfers import (
    Transfer,
    TransferAction,
    TransferLanes,
    TransferStatus,
    apply_transfer_action,
    choose_transfers,
    propose_transfer,
    supply_of,
)
from models.transfers import approve as approve_transfer
from models.transfers import cancel as cancel_transfer
from models.transfers import receive as receive_transfer
from models.transfers import ship as ship_transfer

if TYPE_CHECKING:
    from models.expedite import ExpediteNotice
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
    expedited: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Requests raised for a production order's missing part, by 'order|component'.",
        **_OMIT_FALSY,
    )
    answered: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Open supply alerts a request has already answered, by warehouse.",
        **_OMIT_FALSY,
    )

    def unanswered(self, warehouse_id: str, alert_ids: list[str]) -> list[str]:
        """The open supply alerts of a warehouse no request has answered yet.

        An alert lifts a warehouse to its order-up-to level once per episode:
        while it stays open, every issue takes the position a little below
        that level again, and answering each one raised a top-up of a few
        units per event (a backtest counted 8,966 requests for 53 materials
        in a year). Forgets the alerts that have closed, so the state stays
        bounded.
        """
        still_open = [i for i in self.answered.get(warehouse_id, ()) if i in alert_ids]
        if still_open:
            self.answered[warehouse_id] = still_open
        else:
            self.answered.pop(warehouse_id, None)
        return [i for i in alert_ids if i not in still_open]

    def requested(self, warehouse_id: str) -> float:
        """Quantity requested for a warehouse and not yet ordered."""
        return sum(open_quantity(r) for r in self.open.values() if r.warehouse_id == warehouse_id)

    def record(self, request: PurchaseRequest) -> PurchaseRequest:
        """Keep a request's latest transition (or drop it once closed); return it for publishing."""
        if is_open(request):
            self.open[request.request_id] = request
        else:
            self.open.pop(request.request_id, None)
            for need, ids in list(self.expedited.items()):
                if request.request_id in ids:
                    ids.remove(request.request_id)
                    if not ids:
                        del self.expedited[need]
        return request


_UNSHIPPED = frozenset({TransferStatus.PROPOSED, TransferStatus.APPROVED})
_TRANSFERS_OPEN = _UNSHIPPED | {TransferStatus.SHIPPED}
AUTOMATIC = "stockloop"
"""Who decides what the policy decides on its own."""


class TransferBook(BaseModel):
    """A material's transfers between warehouses not yet received, cancelled or rejected."""

    open: dict[str, Transfer] = Field(default_factory=dict, **_OMIT_FALSY)
    raised: int = Field(0, **_OMIT_FALSY)
    refused: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Sources a person refused to take from while a warehouse is short, by "
        "warehouse: the need goes to a purchase instead of the same transfer proposed again.",
        **_OMIT_FALSY,
    )

    def incoming(self, warehouse_id: str) -> float:
        """Quantity on its way to a warehouse, or promised to it, and not received yet."""
        return sum(
            t.shipped_quantity if t.shipped_quantity is not None else t.quantity
            for t in self.open.values()
            if t.to_warehouse == warehouse_id
        )

    def outgoing(self, warehouse_id: str) -> float:
        """Quantity a warehouse has promised to others and still holds (not shipped yet)."""
        return sum(
            t.quantity
            for t in self.open.values()
            if t.from_warehouse == warehouse_id and t.status in _UNSHIPPED
        )

    def record(self, transfer: Transfer) -> Transfer:
        """Keep a transfer's latest transition (drop it once closed); return it for publishing."""
        if transfer.status in _TRANSFERS_OPEN:
            self.open[transfer.transfer_id] = transfer
        else:
            self.open.pop(transfer.transfer_id, None)
        if transfer.status == TransferStatus.REJECTED:
            refused = self.refused.setdefault(transfer.to_warehouse, [])
            if transfer.from_warehouse not in refused:
                refused.append(transfer.from_warehouse)
        return transfer


@dataclass
class Replenishment:
    """What replenishing did: transfer and purchase request transitions, in order."""

    transfers: list[Transfer] = field(default_factory=list)
    requests: list[PurchaseRequest] = field(default_factory=list)


def replenish(
    state: "MaterialState",
    now: datetime,
    policy: ApprovalPolicy,
    lanes: TransferLanes,
    warehouses: Iterable[str],
) -> Replenishment:
    """Expire what waited too long, then cover each short warehouse of ``warehouses`` at ``now``."""
    out = Replenishment()
    book, moves = state.requests, state.transfers
    for request in list(book.open.values()):
        if (expired := expire_if_due(request, now, policy.expiry_days)) is not None:
            out.requests.append(book.record(expired))
    for transfer in list(moves.open.values()):
        if transfer.status in _UNSHIPPED and now - transfer.created_at > _days(policy.expiry_days):
            reason = f"not shipped within {policy.expiry_days} d"
            out.transfers.append(
                moves.record(cancel_transfer(transfer, by=AUTOMATIC, at=now, reason=reason))
            )
    for warehouse_id in sorted(warehouses):
        stock = state.warehouses.get(warehouse_id)
        plan = stock.policy if stock is not None else None
        if stock is None or plan is None:
            continue
        requested = book.requested(warehouse_id)
        position = _position(state, warehouse_id) + requested
        alert_ids = sorted(
            alert.id
            for alert in state.alerts.alerts.values()
            if alert.warehouse_id == warehouse_id and alert.rule_id in SUPPLY_ALERTS
        )
        unanswered = book.unanswered(warehouse_id, alert_ids)
        short = position <= plan.reorder_point or (unanswered and position < plan.order_up_to)
        if not short:
            moves.refused.pop(warehouse_id, None)
            if not alert_ids:
                out.requests += _cancel_unneeded(
                    book, warehouse_id, position - requested, plan, now
                )
            continue
        brought = _transfer_in(
            state, warehouse_id, plan, position, alert_ids, policy, lanes, now, out
        )
        if brought > 0 and alert_ids:
            book.answered[warehouse_id] = alert_ids
        position += brought
        master = state.master
        moq = master.moq if master else 0.0
        pack_size = master.pack_size if master else 1.0
        if position > plan.reorder_point and not unanswered:
            continue
        if suggested_quantity(plan.order_up_to, position, moq, pack_size) <= 0:
            continue
        raised = book.raised.get(warehouse_id, 0)
        book.raised[warehouse_id] = raised + 1
        request = propose(
            material_id=state.material_id,
            warehouse_id=warehouse_id,
            unit=master.unit if master else "EA",
            unit_cost=unit_cost(state) or 0.0,
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
        out.requests.append(book.record(request))
        out.requests.append(book.record(_decide(state, request, policy, now)))
        if alert_ids:
            book.answered[warehouse_id] = alert_ids
    return out


def next_expiry(state: "MaterialState", policy: ApprovalPolicy) -> datetime | None:
    """The first event time at which ``replenish`` may expire a request or cancel a transfer.

    None when nothing of the material waits on the clock: no approved
    request to be ordered, no transfer to be shipped.
    """
    moments = [
        due
        for request in state.requests.open.values()
        if (due := expires_at(request, policy.expiry_days)) is not None
    ]
    moments += [
        transfer.created_at + _days(policy.expiry_days)
        for transfer in state.transfers.open.values()
        if transfer.status in _UNSHIPPED
    ]
    return min(moments, default=None)


def _position(state: "MaterialState", warehouse_id: str) -> float:
    """A warehouse's inventory position before purchase requests, transfers counted."""
    stock = state.warehouses[warehouse_id]
    moves = state.transfers
    return inventory_position(
        on_hand=stock.on_hand,
        in_transit=stock.in_transit + moves.incoming(warehouse_id),
        open_requested=0.0,
        committed=stock.committed + moves.outgoing(warehouse_id),
    )


def _transfer_in(
    state: "MaterialState",
    warehouse_id: str,
    plan: PolicySnapshot,
    position: float,
    alert_ids: list[str],
    policy: ApprovalPolicy,
    lanes: TransferLanes,
    now: datetime,
    out: Replenishment,
) -> float:
    """Propose transfers from warehouses with a surplus; the quantity they bring.

    Each is approved on the spot when its value is below the material's
    auto-approval limit, as a purchase request of that amount would be
    (``_judge``); otherwise it stays proposed, waiting for its approver, and
    still counts in the position, so the need raises no purchase meanwhile.
    A source a person refused for this warehouse gives nothing until the
    warehouse is no longer short: its need goes to a purchase instead.
    """
    needed = plan.order_up_to - position
    if needed <= 0:
        return 0.0
    sources = []
    refused = state.transfers.refused.get(warehouse_id, ())
    for source_id, stock in sorted(state.warehouses.items()):
        usable = source_id != warehouse_id and source_id not in refused
        supply = supply_of(source_id, stock) if usable else None
        if supply is not None:
            promised = state.transfers.outgoing(source_id)
            sources.append(supply.model_copy(update={"available": supply.available - promised}))
    stockout = plan.projected_stockout_date
    needed_by_days = (stockout - now.date()).days if stockout is not None else None
    chosen = choose_transfers(warehouse_id, needed, sources, lanes, needed_by_days)
    moves = state.transfers
    unit = state.master.unit if state.master else "EA"
    price = unit_cost(state)
    for suggestion in chosen.transfers:
        amount = request_amount(suggestion.quantity, price or 0.0)
        decision = _judge(state, amount, suggestion.quantity, policy, priced=price is not None)
        proposed = propose_transfer(
            state.material_id,
            suggestion,
            now=now,
            raised=moves.raised,
            unit=unit,
            needed_by=stockout,
            alert_ids=alert_ids,
            amount=amount,
            approver=decision.approver,
            held="" if decision.auto_approved else decision.reason,
        )
        moves.raised += 1
        out.transfers.append(moves.record(proposed))
        if decision.auto_approved:
            approved = approve_transfer(proposed, by=AUTOMATIC, at=now, reason=decision.reason)
            out.transfers.append(moves.record(approved))
    return sum(suggestion.quantity for suggestion in chosen.transfers)


def _judge(
    state: "MaterialState", amount: float, quantity: float, policy: ApprovalPolicy, priced: bool
) -> ApprovalDecision:
    """The approval policy's amount rule on a transfer's value: the material's auto-approval
    limit (category, ABC class, default; strictly below approves) and the approver band above it.

    Only the amount: the usual-quantity and demand-shift holds guard a purchase's quantity,
    and a transfer buys nothing.
    """
    master = state.master
    return decide(
        policy,
        amount=amount,
        quantity=quantity,
        category=master.category if master else None,
        abc_class=master.abc_class if master else None,
        usual_quantity=None,
        critical_demand_shift=False,
        priced=priced,
    )


def unit_cost(state: "MaterialState") -> float | None:
    """What one unit of a request or a transfer is valued at, if known.

    The material master's unit cost; without one (an ERP that sends no
    master, or a master without a cost), the stock on the shelves at its
    receipt costs, the moving average an ERP would value it at. None when
    neither gives a price: the approval policy must not take the amount of 0
    as cheap.
    """
    if state.master is not None and state.master.unit_cost > 0:
        return state.master.unit_cost
    stocks = state.warehouses.values()
    shelved = sum(batch.quantity for stock in stocks for batch in stock.batches)
    value = sum(stock.inventory_value for stock in stocks)
    return value / shelved if shelved > 0 and value > 0 else None


def expedite(
    state: "MaterialState", notice: "ExpediteNotice", policy: ApprovalPolicy
) -> list[PurchaseRequest]:
    """A production order lacks this part: request what the open requests for it do not cover.

    The shortage analysis counts stock and supply in transit, not requests
    nobody has ordered yet, so a later analysis of the same order names the
    same need again: only the part its open requests do not cover yet is
    requested. The request is at the order's event time (or the material's
    own, if later: acting never moves a material back in time).
    """
    book = state.requests
    need = notice.expedite_id
    if notice.quantity == 0:
        return _withdraw(book, need, max(notice.at, state.applied_through or notice.at))
    covered = sum(open_quantity(book.open[r]) for r in book.expedited.get(need, ()))
    missing = notice.quantity - covered
    if missing <= 0:
        return []
    stock = state.warehouses.get(notice.warehouse_id)
    plan = stock.policy if stock is not None else None
    master = state.master
    now = max(notice.at, state.applied_through or notice.at)
    raised = book.raised.get(notice.warehouse_id, 0)
    book.raised[notice.warehouse_id] = raised + 1
    unit = master.unit if master else "EA"
    request = propose(
        material_id=state.material_id,
        warehouse_id=notice.warehouse_id,
        unit=unit,
        unit_cost=unit_cost(state) or 0.0,
        moq=master.moq if master else 0.0,
        pack_size=master.pack_size if master else 1.0,
        supplier_id=(plan.supplier_id if plan else None)
        or (master.preferred_supplier if master else None),
        reorder_point=0.0,
        order_up_to=missing,
        projected_stockout_date=notice.needed_by,
        lead_time_days=plan.lead_time_days if plan else 0.0,
        position=0.0,
        alert_ids=(),
        now=now,
        raised=raised,
        currency=policy.currency,
    )
    order, by = notice.order_id, notice.needed_by
    why = f"expedite: order {order} lacks {missing:g} {unit} by {by}"
    request = request.model_copy(update={"explanation": f"{why}; {request.explanation}"})
    book.expedited.setdefault(need, []).append(request.request_id)
    return [book.record(request), book.record(_decide(state, request, policy, now))]


def _withdraw(book: RequestBook, need: str, at: datetime) -> list[PurchaseRequest]:
    """Cancel the undecided requests raised for an order that no longer needs the part."""
    order_id = need.split("|", 1)[0]
    return [
        book.record(cancel(request, at, f"need gone: order {order_id} withdrawn"))
        for request in (book.open[r] for r in list(book.expedited.get(need, ())))
        if request.status in _UNDECIDED
    ]


def move_stock(state: "MaterialState", movement: StockMovement) -> list[Transfer]:
    """A transfer movement ships or receives the oldest open transfer it fits.

    Called before the movement is applied. A transfer_out at the source
    ships the oldest transfer not shipped yet; a transfer_in at the
    destination receives the oldest shipped one. Movements that match no
    transfer are the ERP's own moves, applied as stock and nothing more.
    """
    moves = state.transfers
    oldest = sorted(moves.open.values(), key=lambda t: (t.created_at, t.transfer_id))
    at = movement.event_time
    if movement.movement_type == MovementType.TRANSFER_OUT:
        for transfer in oldest:
            if transfer.from_warehouse == movement.warehouse_id and transfer.status in _UNSHIPPED:
                return [moves.record(ship_transfer(transfer, quantity=movement.quantity, at=at))]
    if movement.movement_type == MovementType.TRANSFER_IN:
        for transfer in oldest:
            if (
                transfer.to_warehouse == movement.warehouse_id
                and transfer.status == TransferStatus.SHIPPED
            ):
                return [moves.record(receive_transfer(transfer, quantity=movement.quantity, at=at))]
    return []


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
    if _already_applied(request, action):
        return []
    return [state.requests.record(apply_action(request, action))]


def act_on_transfer(state: "MaterialState", action: TransferAction) -> list[Transfer]:
    """Apply a person's decision to the material's open transfer; raises if it cannot apply.

    As ``act`` for requests: an unknown or closed transfer and a decision its
    status refuses raise ``ValueError`` in one line; the same decision
    delivered twice changes nothing the second time.
    """
    transfer = state.transfers.open.get(action.transfer_id)
    if transfer is None:
        raise ValueError(
            f"transfer_id={action.transfer_id}: no open transfer of {state.material_id} "
            "(unknown, or already received, rejected or cancelled)"
        )
    if (
        action.action == "approve"
        and transfer.status == TransferStatus.APPROVED
        and (transfer.at, transfer.by) == (action.at, action.by)
    ):
        return []
    return [state.transfers.record(apply_transfer_action(transfer, action))]


def _already_applied(request: PurchaseRequest, action: PurchaseRequestAction) -> bool:
    """The request's latest transition is this very action: a redelivery after a restart.

    The decision reaches the material at least once; the second delivery must
    change nothing, and is not a mistake to dead-letter either.
    """
    if request.at != action.at:
        return False
    match action.action:
        case "approve":
            return request.status == RequestStatus.APPROVED and request.decided_by == action.by
        case "change_quantity":
            return request.quantity == action.quantity
        case "record_reference":
            return request.erp_reference == action.erp_reference
    return False


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
        priced=request.unit_cost > 0,
    )
    if decision.auto_approved:
        return approve_automatically(request, now, decision.reason)
    return await_approval(request, decision.approver or "buyer", now, decision.reason)


def _days(days: float) -> timedelta:
    return timedelta(days=days)


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
    point without them. Approved ones stay: a person or the policy committed to them, and so
    do expedites: their need is a production order's, which only its withdrawal ends."""
    if position_without_requests <= plan.reorder_point:
        return []
    expedited = {request_id for ids in book.expedited.values() for request_id in ids}
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
        if request.warehouse_id == warehouse_id
        and request.status in _UNDECIDED
        and request.request_id not in expedited
    ]
