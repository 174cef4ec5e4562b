"""Purchase requests: what a material-warehouse should buy, and the request's life cycle.

When the inventory position of a material in a warehouse (on hand + in transit
+ open requests − committed) falls to its reorder point, or an alert says supply
is short, stockloop proposes a purchase request: enough to bring the position
back up to the order-up-to level, raised to the supplier's minimum order
quantity and rounded up to whole packs. Open requests count in the position,
so a need that is re-evaluated ten times yields one request, and a second
request comes only when the first is not enough.

A request is a sequence of records on ``stockloop.purchase-requests``, one per
transition; the latest record per ``request_id`` is its state. Every function
here is pure: it takes the request and the event time, and returns the next
record or refuses with a ``RequestTransitionError`` whose one-line message
names the request, the field and why.

Quantities are ``float`` in the material's unit, rounded to micro-units as in
``models.state``; amounts are rounded to cents, as ``inventory_value`` is.
Times are timezone-aware UTC event times, never the wall clock.

Examples
--------
>>> from datetime import UTC, date, datetime
>>> now = datetime(2026, 4, 1, 9, tzinfo=UTC)
>>> position = inventory_position(on_hand=60, in_transit=0, open_requested=0, committed=20)
>>> request = propose(
...     material_id="M1", warehouse_id="W1", unit="EA", unit_cost=2.5, moq=0, pack_size=10,
...     supplier_id="S1", reorder_point=120, order_up_to=300,
...     projected_stockout_date=date(2026, 4, 20), lead_time_days=14, position=position,
...     alert_ids=["ee742e9dc83992df"], now=now, raised=0, currency="EUR",
... )
>>> request.status, request.quantity, request.amount, request.latest_order_date
(<RequestStatus.PROPOSED: 'proposed'>, 260.0, 650.0, datetime.date(2026, 4, 6))
>>> for part in request.explanation.split("; "):
...     print(part)
inventory position 40 EA <= reorder point 120 EA
order up to 300 EA
stock-out 2026-04-20, lead time 14 d
order by 2026-04-06
>>> approved = approve_automatically(request, now, "amount 650 EUR below 5000 EUR")
>>> approved.status, approved.id == f"{request.request_id}-1", open_quantity(approved)
(<RequestStatus.APPROVED: 'approved'>, True, 260.0)
>>> ordered = mark_ordered(approved, 260, now, "PO-4711/10")
>>> ordered.status, is_open(ordered), open_quantity(ordered)
(<RequestStatus.ORDERED: 'ordered'>, False, 0.0)
"""

import hashlib
import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.events import SCHEMA_VERSION, EventTime, Id, NonNegative, Positive, Text

PACK_TOLERANCE = 1e-6
"""Share of a pack below which a shortfall or an excess is float noise, not a pack.

Quantities divided by a pack size carry float error both ways:
``(0.1 + 0.2) / 0.1`` is ``3.0000000000000004`` packs, which rounded up
naively is 4; ``2.9999999`` packs is 3. So a pack count within this
tolerance above a whole number is that number. The price: a suggested
quantity may fall short of the order-up-to level, or of the MOQ, by at most a
millionth of a pack.
"""

AUTOMATIC_DECIDER = "stockloop"
"""``decided_by`` of a request that the approval policy approved without a person."""

_UNIT = Annotated[str, Field(min_length=1, max_length=16)]


class RequestTransitionError(ValueError):
    """A transition the request's life cycle does not allow; the message names request and why."""


class RequestStatus(StrEnum):
    """Where a purchase request stands in its life cycle.

    ::

        proposed ──► approved                  automatically, or by a person
        proposed ──► pending_approval ──► approved | rejected    by its approver
        proposed ──► rejected                  by a person
        approved ──► ordered | expired
        proposed | pending_approval | approved ──► cancelled | ordered

    - **proposed**: stockloop computed the need; the approval policy decides next.
    - **pending_approval**: too large (or too unusual) to approve automatically;
      waits for its ``approver``, who approves or rejects it.
    - **approved**: the ERP's purchase requisition; a buyer places the order.
      When the hand-off has posted it, the ERP's reference is recorded
      (``erp_reference``) and the status stays approved.
    - **ordered**: a PO line took over its quantity (``ordered_quantity``); the
      supply now counts as in transit, no longer as an open request. A PO placed
      in the ERP before the request was approved here also takes it over:
      otherwise the same supply would count twice in the inventory position.
    - **rejected**: a person said no.
    - **expired**: approved but not ordered within the expiry period; if the
      need remains, it gets a new request.
    - **cancelled**: the need went away before anything was ordered.

    Proposed, pending_approval and approved are open (``is_open``): their
    quantity counts in the inventory position. The others are final.
    """

    PROPOSED = "proposed"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    ORDERED = "ordered"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


OPEN_STATUSES = frozenset(
    {RequestStatus.PROPOSED, RequestStatus.PENDING_APPROVAL, RequestStatus.APPROVED}
)
"""Statuses whose quantity is still to be ordered: it counts in the inventory position."""

_UNDECIDED = frozenset({RequestStatus.PROPOSED, RequestStatus.PENDING_APPROVAL})
_HANDED_OFF = frozenset({RequestStatus.APPROVED, RequestStatus.ORDERED})
"""Statuses of a request that is the ERP's requisition, so the ERP can have a reference for it."""


def inventory_position(
    on_hand: float, in_transit: float, open_requested: float, committed: float
) -> float:
    """Inventory position: what a warehouse has or will have for new demand.

    On hand plus supply on its way (in transit) plus supply asked for but not
    yet ordered (open requests), minus what confirmed orders already claim.
    Counting open requests is what keeps a need from being requested twice.
    Rounded to micro-units.

    >>> inventory_position(on_hand=60, in_transit=100, open_requested=50, committed=20)
    190.0
    """
    return _q(on_hand + in_transit + open_requested - committed)


def suggested_quantity(order_up_to: float, position: float, moq: float, pack_size: float) -> float:
    """Quantity to request: up to the order-up-to level, at least the MOQ, in whole packs.

    Zero when the position is at or above the order-up-to level (within
    ``PACK_TOLERANCE`` of a pack). Otherwise the gap, raised to the minimum
    order quantity, rounded *up* to a multiple of ``pack_size``: a supplier
    ships whole packs, and rounding down would leave the position short. The
    result is rounded to micro-units.

    >>> suggested_quantity(order_up_to=300, position=40, moq=0, pack_size=1)
    260.0
    >>> suggested_quantity(order_up_to=300, position=40, moq=500, pack_size=1)
    500.0
    >>> suggested_quantity(order_up_to=300, position=40, moq=0, pack_size=24)
    264.0
    >>> suggested_quantity(order_up_to=300, position=40, moq=450, pack_size=100)
    500.0
    >>> suggested_quantity(order_up_to=300, position=300, moq=500, pack_size=10)
    0.0

    Float noise is not a pack: 0.30000000000000004 is three packs of 0.1, not four.

    >>> suggested_quantity(order_up_to=0.1 + 0.2, position=0, moq=0, pack_size=0.1)
    0.3
    """
    for name, value in (("order_up_to", order_up_to), ("position", position), ("moq", moq)):
        if not math.isfinite(value):
            raise ValueError(f"{name}={value!r}: must be a finite number")
    if moq < 0:
        raise ValueError(f"moq={moq!r}: must be >= 0")
    if not (math.isfinite(pack_size) and pack_size > 0):
        raise ValueError(f"pack_size={pack_size!r}: must be a finite number > 0")
    need = order_up_to - position
    if need / pack_size <= PACK_TOLERANCE:
        return 0.0
    packs = math.ceil(max(need, moq) / pack_size - PACK_TOLERANCE)
    return _q(packs * pack_size)


def request_id(material_id: str, warehouse_id: str, raised: int) -> str:
    """Deterministic purchase request id: material, warehouse and how many requests it raised.

    ``raised`` is the number of requests this material-warehouse raised before
    this one, kept in the material's state: a replay of the same events raises
    the same requests in the same order, hence the same ids, and a second
    request for the same stock gets a new one. The parts are hashed as a JSON
    list, so no choice of ids can make two different triples collide by
    concatenation.

    >>> request_id("M1", "W1", 0)
    'pr-eef24bf5563fe8f9'
    >>> request_id("M1", "W1", 1)
    'pr-d4994c6f2468800a'
    """
    if isinstance(raised, bool) or not isinstance(raised, int) or raised < 0:
        raise ValueError(f"raised={raised!r}: must be an integer >= 0")
    content = orjson.dumps(["purchase-request", material_id, warehouse_id, raised])
    return "pr-" + hashlib.sha1(content, usedforsecurity=False).hexdigest()[:16]


def request_amount(quantity: float, unit_cost: float) -> float:
    """Value of a request: quantity times unit cost, rounded to cents.

    >>> request_amount(260, 2.5)
    650.0
    """
    return round(quantity * unit_cost, 2) + 0.0


class PurchaseRequest(BaseModel):
    """One transition of a purchase request, as published on ``stockloop.purchase-requests``.

    ``id`` (``{request_id}-{sequence}``) is the transition's idempotency key:
    the same input gives the same id, and no two different transitions share
    one. The latest record per ``request_id`` is the request's state.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Version of this schema.")
    id: Id = Field(
        description="Idempotency key of this transition: '{request_id}-{sequence}'; a consumer "
        "that sees an id twice (after a restart or a replay) can drop the second."
    )
    request_id: Id = Field(
        description="The request; deterministic from material, warehouse and how many requests "
        "that material-warehouse raised before. The record key of the topic."
    )
    sequence: int = Field(
        ge=0, description="0 when proposed, +1 for every later transition of the request."
    )
    status: RequestStatus = Field(description="Where the request stands after this transition.")
    material_id: Id = Field(description="The material to buy.")
    warehouse_id: Id = Field(description="The warehouse that needs it.")
    supplier_id: Id | None = Field(
        description="Supplier to order from (the material master's preferred supplier); None "
        "when the master names none and a buyer must choose."
    )
    quantity: Positive = Field(
        description="Quantity to order, in `unit`: up to the order-up-to level, at least the "
        "MOQ, in whole packs (or as a person changed it)."
    )
    unit: _UNIT = Field(description="Unit of measure of `quantity`, from the material master.")
    unit_cost: NonNegative = Field(
        description="Cost of one unit, in `currency`: the master's, else the stock on the shelves "
        "at its receipt costs; 0 when neither gives one (the request then waits for an approver)."
    )
    amount: NonNegative = Field(
        description="quantity × unit_cost in `currency`, rounded to cents; what the approval "
        "policy compares with its limits."
    )
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = Field(
        description="ISO 4217 code of `unit_cost` and `amount`."
    )
    needed_by: date | None = Field(
        description="Date the supply must arrive: the projected stock-out date, or the event "
        "date plus the lead time when no stock-out is projected."
    )
    latest_order_date: date | None = Field(
        description="needed_by minus the lead time (whole days, rounded up): order by this "
        "date or the supply arrives late. May be in the past; the explanation then says so."
    )
    created_at: EventTime = Field(description="Event time the request was proposed.")
    at: EventTime = Field(description="Event time of this transition.")
    approved_at: EventTime | None = Field(
        None,
        description="Event time the request was approved; the expiry period counts from here.",
    )
    alert_ids: tuple[Id, ...] = Field(
        (), description="Ids of the open alerts that caused the request."
    )
    explanation: str = Field(
        description="One line for people: the position, reorder point, order-up-to level, "
        "stock-out date and lead time that made stockloop propose it."
    )
    approver: Id | None = Field(
        None, description="Who must decide a request pending approval (by amount band)."
    )
    decided_by: Id | None = Field(
        None,
        description=f"Who approved or rejected it; '{AUTOMATIC_DECIDER}' when the approval "
        "policy approved it automatically.",
    )
    reason: str | None = Field(
        None, description="Why this transition happened, in one line; None for the proposal."
    )
    ordered_quantity: NonNegative = Field(
        0.0, description="Quantity the PO line that took the request over ordered, in `unit`."
    )
    erp_reference: Text | None = Field(
        None,
        description="The ERP's reference: its purchase requisition once handed off, "
        "the PO line once ordered.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> "PurchaseRequest":
        if self.id != f"{self.request_id}-{self.sequence}":
            raise ValueError(
                f"id={self.id!r}: must be '{self.request_id}-{self.sequence}' "
                "(request_id and sequence)"
            )
        expected = request_amount(self.quantity, self.unit_cost)
        if self.amount != expected:
            raise ValueError(
                f"amount={self.amount!r}: must be quantity × unit_cost rounded to cents, {expected}"
            )
        return self


def propose(
    *,
    material_id: str,
    warehouse_id: str,
    unit: str,
    unit_cost: float,
    moq: float,
    pack_size: float,
    supplier_id: str | None,
    reorder_point: float,
    order_up_to: float,
    projected_stockout_date: date | None,
    lead_time_days: float,
    position: float,
    alert_ids: Iterable[str],
    now: datetime,
    raised: int,
    currency: str,
) -> PurchaseRequest:
    """A new purchase request for one material-warehouse at event time ``now``.

    ``unit``, ``unit_cost``, ``moq``, ``pack_size`` and ``supplier_id`` come
    from the material master; ``reorder_point``, ``order_up_to``,
    ``projected_stockout_date`` and ``lead_time_days`` from its policy;
    ``position`` is the ``inventory_position`` including the warehouse's open
    requests; ``raised`` is how many requests it raised before (see
    ``request_id``). The caller decides that supply is needed (position at or
    below the reorder point, or an alert): this function does not second-guess
    it, but refuses with a ``ValueError`` when the suggested quantity is zero
    (check ``suggested_quantity`` first).

    The supply is needed by the projected stock-out date, or, with none
    projected, one lead time from now; it must be ordered one lead time
    (rounded up to whole days) before that.
    """
    now = _aware("now", now)
    quantity = suggested_quantity(order_up_to, position, moq, pack_size)
    if quantity <= 0:
        raise ValueError(
            f"position={position!r}: at or above order_up_to={order_up_to!r}, nothing to request "
            f"for {material_id} in {warehouse_id}"
        )
    if not (math.isfinite(lead_time_days) and lead_time_days >= 0):
        raise ValueError(f"lead_time_days={lead_time_days!r}: must be a finite number >= 0")
    lead = timedelta(days=math.ceil(lead_time_days))
    needed_by = projected_stockout_date or now.date() + lead
    latest_order_date = needed_by - lead
    rid = request_id(material_id, warehouse_id, raised)
    return PurchaseRequest(
        id=f"{rid}-0",
        request_id=rid,
        sequence=0,
        status=RequestStatus.PROPOSED,
        material_id=material_id,
        warehouse_id=warehouse_id,
        supplier_id=supplier_id,
        quantity=quantity,
        unit=unit,
        unit_cost=unit_cost,
        amount=request_amount(quantity, unit_cost),
        currency=currency,
        needed_by=needed_by,
        latest_order_date=latest_order_date,
        created_at=now,
        at=now,
        alert_ids=tuple(dict.fromkeys(alert_ids)),
        explanation=_explain(
            unit=unit,
            position=position,
            reorder_point=reorder_point,
            order_up_to=order_up_to,
            quantity=quantity,
            moq=moq,
            pack_size=pack_size,
            stockout=projected_stockout_date,
            lead_time_days=lead_time_days,
            latest_order_date=latest_order_date,
            today=now.date(),
        ),
    )


class PurchaseRequestAction(BaseModel):
    """A person's decision on a request, as published on ``stockloop.purchase-request-actions``.

    ``approve`` and ``reject`` decide a proposed or pending request;
    ``change_quantity`` sets a new ``quantity`` (required for it, refused for
    the others) on any request not yet ordered, keeping its status;
    ``record_reference`` records the ``erp_reference`` (required for it,
    refused for the others) the ERP gave an approved or ordered request when
    the hand-off posted it, keeping its status.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Version of this schema.")
    action: Literal["approve", "reject", "change_quantity", "record_reference"] = Field(
        description="What the person decided, or record_reference from the ERP hand-off."
    )
    request_id: Id = Field(description="The request it applies to.")
    material_id: Id = Field(
        description="The request's material: the action is routed to the worker that owns it."
    )
    by: Id = Field(description="Who decided (user name or e-mail).")
    reason: Text | None = Field(None, description="Why, in their words.")
    quantity: Positive | None = Field(
        None, description="New quantity, in the request's unit; only for change_quantity."
    )
    erp_reference: Text | None = Field(
        None,
        description="The ERP's reference for the request (its requisition number); "
        "only for record_reference.",
    )
    at: EventTime = Field(description="Event time of the decision.")

    @model_validator(mode="after")
    def _quantity_only_when_changing_it(self) -> "PurchaseRequestAction":
        if self.action == "change_quantity" and self.quantity is None:
            raise ValueError("quantity=None: required (> 0) for change_quantity")
        if self.action != "change_quantity" and self.quantity is not None:
            raise ValueError(
                f"quantity={self.quantity!r}: only allowed for change_quantity, not {self.action}"
            )
        if self.action == "record_reference" and not self.erp_reference:
            raise ValueError(
                f"erp_reference={self.erp_reference!r}: required (not empty) for record_reference"
            )
        if self.action != "record_reference" and self.erp_reference is not None:
            raise ValueError(
                f"erp_reference={self.erp_reference!r}: only allowed for record_reference, "
                f"not {self.action}"
            )
        return self


class RequestActionNotice(BaseModel):
    """A decision on a request, forwarded onto ``stockloop.material-events`` keyed by its material.

    ``stockloop.purchase-request-actions`` is keyed by request id, as people
    and workflow tools know requests; the material's worker holds the
    request, so the decision travels to it in order with the material's events.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["request_action"] = "request_action"
    action: PurchaseRequestAction


def apply_action(request: PurchaseRequest, action: PurchaseRequestAction) -> PurchaseRequest:
    """The request after a person's approve, reject or change of quantity, or the ERP's reference.

    Recording a reference keeps the status: the request is still to be ordered
    (approved) or is ordered already. The reference it already has is refused,
    so a hand-off that posted the request twice records it once.
    """
    if action.request_id != request.request_id:
        raise RequestTransitionError(
            f"request_id={action.request_id}: action for another request than {request.request_id}"
        )
    note = f": {action.reason}" if action.reason else ""
    match action.action:
        case "approve":
            _require(request, "approve", _UNDECIDED)
            return _next(
                request,
                RequestStatus.APPROVED,
                action.at,
                f"approved by {action.by}{note}",
                decided_by=action.by,
                approved_at=action.at,
            )
        case "reject":
            _require(request, "reject", _UNDECIDED)
            return _next(
                request,
                RequestStatus.REJECTED,
                action.at,
                f"rejected by {action.by}{note}",
                decided_by=action.by,
            )
        case "change_quantity":
            _require(request, "change the quantity of", OPEN_STATUSES)
            quantity = _q(action.quantity or 0.0)
            return _next(
                request,
                request.status,
                action.at,
                f"quantity {_n(request.quantity)} -> {_n(quantity)} {request.unit} "
                f"by {action.by}{note}",
                quantity=quantity,
                amount=request_amount(quantity, request.unit_cost),
            )
        case "record_reference":
            _require(request, "record the ERP reference of", _HANDED_OFF)
            reference = action.erp_reference or ""
            if reference == request.erp_reference:
                raise RequestTransitionError(
                    f"request_id={request.request_id}: erp_reference={reference!r} is already "
                    "recorded"
                )
            return _next(
                request,
                request.status,
                action.at,
                f"handed off to the ERP: {reference}",
                erp_reference=reference,
            )
    raise RequestTransitionError(f"action={action.action!r}: not a purchase request action")


def approve_automatically(request: PurchaseRequest, at: datetime, reason: str) -> PurchaseRequest:
    """The proposed request approved by the approval policy; ``reason`` says which rule allowed it.

    Only a proposed request: one pending approval waits for its person.
    """
    _require(request, "approve automatically", {RequestStatus.PROPOSED})
    return _next(
        request,
        RequestStatus.APPROVED,
        at,
        reason,
        decided_by=AUTOMATIC_DECIDER,
        approved_at=_aware("at", at),
    )


def await_approval(
    request: PurchaseRequest, approver: str, at: datetime, reason: str
) -> PurchaseRequest:
    """The proposed request handed to ``approver``; ``reason`` says why it was not auto-approved."""
    _require(request, "await approval of", {RequestStatus.PROPOSED})
    if not approver or not approver.strip():
        raise RequestTransitionError(
            f"request_id={request.request_id}: approver={approver!r} must name a person"
        )
    return _next(request, RequestStatus.PENDING_APPROVAL, at, reason, approver=approver.strip())


def mark_ordered(
    request: PurchaseRequest, ordered_quantity: float, at: datetime, erp_reference: str | None
) -> PurchaseRequest:
    """The request taken over by a PO line of ``ordered_quantity`` (``erp_reference``: the line).

    Any open request can be ordered: the ERP is the record of what was bought,
    and a PO placed before the request was approved here must still stop the
    request from counting in the inventory position beside the PO's own
    in-transit quantity.
    """
    _require(request, "mark ordered", OPEN_STATUSES)
    if not (math.isfinite(ordered_quantity) and ordered_quantity > 0):
        raise RequestTransitionError(
            f"request_id={request.request_id}: ordered_quantity={ordered_quantity!r} must be > 0"
        )
    ordered = _q(ordered_quantity)
    reference = f" as {erp_reference}" if erp_reference else ""
    return _next(
        request,
        RequestStatus.ORDERED,
        at,
        f"ordered {_n(ordered)} {request.unit}{reference}",
        ordered_quantity=ordered,
        erp_reference=erp_reference,
    )


def cancel(request: PurchaseRequest, at: datetime, reason: str) -> PurchaseRequest:
    """The open request withdrawn because its need went away before it was ordered."""
    _require(request, "cancel", OPEN_STATUSES)
    return _next(request, RequestStatus.CANCELLED, at, reason)


def expire_if_due(
    request: PurchaseRequest, now: datetime, expiry_days: float
) -> PurchaseRequest | None:
    """The request expired if it has been approved, not ordered, for ``expiry_days``; else None.

    Counted in event time from ``approved_at``. An expired request no longer
    counts in the inventory position, so if the need remains the next
    evaluation proposes a new request with fresh numbers.
    """
    now = _aware("now", now)
    due = expires_at(request, expiry_days)
    if due is None or now < due:
        return None
    since = request.approved_at or request.at
    return _next(
        request,
        RequestStatus.EXPIRED,
        now,
        f"approved {since.date().isoformat()} and not ordered within {_n(expiry_days)} d",
    )


def expires_at(request: PurchaseRequest, expiry_days: float) -> datetime | None:
    """When the request expires unless ordered before; None if it is not approved (no clock)."""
    if not (math.isfinite(expiry_days) and expiry_days > 0):
        raise ValueError(f"expiry_days={expiry_days!r}: must be a finite number > 0")
    if request.status is not RequestStatus.APPROVED:
        return None
    return (request.approved_at or request.at) + timedelta(days=expiry_days)


def is_open(request: PurchaseRequest) -> bool:
    """Whether the request's quantity is still to be ordered (and counts in the position)."""
    return request.status in OPEN_STATUSES


def open_quantity(request: PurchaseRequest) -> float:
    """Quantity the request adds to the inventory position: its quantity while open, else 0."""
    return request.quantity if is_open(request) else 0.0


# --- internals ---------------------------------------------------------------------------


def _require(request: PurchaseRequest, verb: str, allowed: Iterable[RequestStatus]) -> None:
    if request.status not in allowed:
        status = request.status.value
        article = "an" if status[0] in "aeiou" else "a"
        raise RequestTransitionError(
            f"request_id={request.request_id}: cannot {verb} {article} {status} request"
        )


def _next(
    request: PurchaseRequest,
    status: RequestStatus,
    at: datetime,
    reason: str,
    **changes: object,
) -> PurchaseRequest:
    """The request's next transition: sequence + 1, its id, event time ``at`` and ``reason``."""
    try:
        at = _aware("at", at)
    except ValueError as exc:
        raise RequestTransitionError(f"request_id={request.request_id}: {exc}") from None
    if at < request.created_at:
        raise RequestTransitionError(
            f"request_id={request.request_id}: at={at.isoformat()} is before the request was "
            f"created at {request.created_at.isoformat()}"
        )
    if not reason or not reason.strip():
        raise RequestTransitionError(
            f"request_id={request.request_id}: reason={reason!r} must say why"
        )
    sequence = request.sequence + 1
    fields = request.model_dump() | {
        "id": f"{request.request_id}-{sequence}",
        "sequence": sequence,
        "status": status,
        "at": at,
        "reason": reason.strip(),
        **changes,
    }
    return PurchaseRequest.model_validate(fields)


def _aware(name: str, moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name}={moment.isoformat()}: event time has no timezone; pass UTC")
    return moment.astimezone(UTC)


def _explain(
    *,
    unit: str,
    position: float,
    reorder_point: float,
    order_up_to: float,
    quantity: float,
    moq: float,
    pack_size: float,
    stockout: date | None,
    lead_time_days: float,
    latest_order_date: date,
    today: date,
) -> str:
    """One line: the numbers that made stockloop propose the request."""
    relation = "<=" if position <= reorder_point else ">"
    parts = [
        f"inventory position {_n(position)} {unit} {relation} reorder point "
        f"{_n(reorder_point)} {unit}",
        f"order up to {_n(order_up_to)} {unit}",
    ]
    need = _q(order_up_to - position)
    if quantity > need:
        parts.append(
            f"need {_n(need)} {unit} raised to {_n(quantity)} {unit} "
            f"(MOQ {_n(moq)}, pack {_n(pack_size)})"
        )
    horizon = f"stock-out {stockout.isoformat()}" if stockout else "no stock-out projected"
    parts.append(f"{horizon}, lead time {_n(lead_time_days)} d")
    if latest_order_date < today:
        late = (today - latest_order_date).days
        parts.append(
            f"latest order date {latest_order_date.isoformat()} passed {late} d ago: "
            "supply will arrive after the need"
        )
    else:
        parts.append(f"order by {latest_order_date.isoformat()}")
    return "; ".join(parts)


def _n(value: float) -> str:
    """A quantity for people: up to six decimals, no trailing zeros, no exponent."""
    return f"{round(value, 6) + 0.0:.6f}".rstrip("0").rstrip(".")


def _q(quantity: float) -> float:
    """Round to micro-units, as ``models.state`` does; ``+ 0.0`` turns ``-0.0`` into ``0.0``."""
    return round(quantity, 6) + 0.0
