"""Transfer before purchase: move a surplus from one warehouse to another that needs supply.

When a warehouse needs supply and another warehouse of the same material holds
more than it needs itself, a transfer is cheaper and faster than a purchase.
``choose_transfers`` decides which warehouses give how much; what they cannot
give is left for a purchase request (``TransferPlan.remaining``). A
``Transfer`` is one record on ``stockloop.transfers``; the pure transitions
(``approve``, ``reject``, ``ship``, ``receive``, ``cancel``) move it through
its life cycle, proposed -> approved -> shipped -> received, as the purchase
request's.

**What a source may give.** Its surplus is what it holds above its own
order-up-to level, counting what is already on its way to it::

    surplus = min(available - safety_stock, available + in_transit - order_up_to)

clamped at zero. The first term keeps the goods physically there at or above
the source's safety stock (in-transit supply cannot be shipped on); the
second keeps its inventory position at its order-up-to level, so the
transfer never makes the source reorder. The issue also allows "more than its
reorder point plus the quantity" as the test; that would leave the source
just above its reorder point, so its next issue raises a purchase request
there: the purchase would only move from one warehouse to the other, with a
transfer's cost and lead time on top. Order-up-to is the level the source's
own policy wants to hold, so what lies above it is stock it does not need.

Quantities are ``float`` rounded to micro-units as in ``models.state``.

Examples
--------
>>> lanes = TransferLanes(default_days=3.0, lanes={"W2": {"W1": 1.0}})
>>> sources = [
...     WarehouseSupply(warehouse_id="W2", available=180.0, in_transit=0.0,
...                     safety_stock=20.0, reorder_point=60.0, order_up_to=120.0),
...     WarehouseSupply(warehouse_id="W3", available=50.0, in_transit=0.0,
...                     safety_stock=20.0, reorder_point=40.0, order_up_to=60.0),
... ]
>>> plan = choose_transfers("W1", 100.0, sources, lanes, needed_by_days=2.0)
>>> [(t.from_warehouse, t.quantity, t.lead_time_days) for t in plan.transfers], plan.remaining
([('W2', 60.0, 1.0)], 40.0)
"""

import difflib
import functools
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.events import (
    SCHEMA_VERSION,
    EventTime,
    Id,
    NonNegative,
    Positive,
    Quantity,
    Text,
    describe_validation_error,
    show,
)
from models.rules.spec import parse_yaml

if TYPE_CHECKING:
    from models.state import WarehouseStock

Days = Annotated[float, Field(ge=0, le=3650, allow_inf_nan=False)]
LaneDays = Annotated[float, Field(ge=0, le=3650, allow_inf_nan=False, strict=True)]
"""Days of a transfer lane as a person writes them: a number, never ``yes`` or ``"2"``."""


def _q(quantity: float) -> float:
    """Round to micro-units; ``+ 0.0`` turns ``-0.0`` into ``0.0``."""
    return round(quantity, 6) + 0.0


class WarehouseSupply(BaseModel):
    """One warehouse's stock and policy of a material, as a transfer source sees it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    warehouse_id: Id
    available: Quantity = Field(description="On hand minus committed demand.")
    in_transit: NonNegative = Field(0.0, description="Open inbound supply to this warehouse.")
    safety_stock: NonNegative = Field(description="Never transfer the source below this.")
    reorder_point: NonNegative
    order_up_to: NonNegative = Field(description="What lies above it (by position) is surplus.")

    @property
    def surplus(self) -> float:
        """What this warehouse can give away: see the module docstring.

        >>> WarehouseSupply(warehouse_id="W2", available=150.0, in_transit=30.0,
        ...                 safety_stock=40.0, reorder_point=70.0, order_up_to=100.0).surplus
        80.0
        >>> WarehouseSupply(warehouse_id="W2", available=50.0, in_transit=200.0,
        ...                 safety_stock=40.0, reorder_point=70.0, order_up_to=100.0).surplus
        10.0
        """
        above_safety = self.available - self.safety_stock
        above_target = self.available + self.in_transit - self.order_up_to
        return _q(max(min(above_safety, above_target), 0.0))


def supply_of(warehouse_id: str, stock: "WarehouseStock") -> WarehouseSupply | None:
    """A warehouse's stock as a transfer source; None before its policy is planned.

    A warehouse without a policy does not know what it needs itself, so it
    gives nothing rather than a guess.
    """
    if stock.policy is None:
        return None
    return WarehouseSupply(
        warehouse_id=warehouse_id,
        available=stock.available,
        in_transit=stock.in_transit,
        safety_stock=stock.policy.safety_stock,
        reorder_point=stock.policy.reorder_point,
        order_up_to=stock.policy.order_up_to,
    )


class TransferLanes(BaseModel):
    """Transfer lead time in days per (from, to) warehouse pair, with a default for the rest.

    Lanes are directed: ``{"W2": {"W1": 1.0}}`` is W2 -> W1 only, because
    the way back often differs (a hub's trucks run one way on a schedule).

    >>> lanes = TransferLanes.from_mapping({"default_days": 4, "lanes": {"W2": {"W1": 1}}})
    >>> lanes.lead_time_days("W2", "W1"), lanes.lead_time_days("W1", "W2")
    (1.0, 4.0)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_days: LaneDays = Field(2.0, description="Lead time of a pair not listed in lanes.")
    lanes: dict[Id, dict[Id, LaneDays]] = Field(
        default_factory=dict, description="from warehouse -> to warehouse -> days."
    )

    @model_validator(mode="after")
    def _between_two_warehouses(self) -> "TransferLanes":
        loops = [
            f"lanes.{source}.{source}: a lane goes from a warehouse to another one, "
            f"not to itself, got {days:g} days"
            for source, targets in self.lanes.items()
            for target, days in targets.items()
            if source == target
        ]
        if loops:
            raise ValueError("\n".join(loops))
        return self

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> "TransferLanes":
        """Lanes from a parsed settings mapping (``default_days``, ``lanes``)."""
        return cls.model_validate(data)

    def lead_time_days(self, from_warehouse: str, to_warehouse: str) -> float:
        """Days a transfer from ``from_warehouse`` to ``to_warehouse`` takes."""
        return self.lanes.get(from_warehouse, {}).get(to_warehouse, self.default_days)


class TransferLanesError(ValueError):
    """Transfer lanes that cannot be accepted; ``problems`` holds one line per problem.

    Each line names the source (file), the field path, the value and why, as
    the approval policy's errors do.
    """

    def __init__(self, problems: Sequence[str], source: str) -> None:
        self.problems = tuple(f"{source}: {problem}" for problem in problems)
        self.source = source
        super().__init__("\n".join(self.problems))


def load_transfer_lanes(text: str, source: str = "<transfer lanes>") -> TransferLanes:
    """Read and validate transfer lanes from YAML text; ``source`` names it in errors.

    An empty file (every line commented out) is the default lanes. Raises
    ``TransferLanesError`` with one line per problem.

    >>> load_transfer_lanes("default_days: 3\\nlanes: {W1: {W2: 1.5}}").lead_time_days("W1", "W2")
    1.5
    >>> try:
    ...     load_transfer_lanes("lanes: {W1: {W2: -2}}", "lanes.yaml")
    ... except TransferLanesError as error:
    ...     print(error)
    lanes.yaml: lanes.W1.W2: days must not be negative, got -2
    """
    try:
        data = parse_yaml(text)
    except ValueError as error:
        raise TransferLanesError([str(error)], source) from None
    if data is None:
        return TransferLanes()
    if not isinstance(data, Mapping):
        raise TransferLanesError(
            [
                "transfer lanes are a mapping with default_days and lanes, "
                f"e.g. {{default_days: 2, lanes: {{W1: {{W2: 1.5}}}}}}, got {type(data).__name__}"
            ],
            source,
        )
    try:
        return TransferLanes.model_validate(data)
    except ValidationError as error:
        raise TransferLanesError(_lane_problems(error), source) from None


@functools.cache
def default_transfer_lanes() -> TransferLanes:
    """The default transfer lanes shipped in ``transfer_lanes.yaml``: 2 days between any two."""
    path = Path(__file__).with_name("transfer_lanes.yaml")
    return load_transfer_lanes(path.read_text(encoding="utf-8"), str(path))


def _lane_problems(error: ValidationError) -> list[str]:
    """One line per problem: the field path (warehouse ids as written), then why."""
    problems: list[str] = []
    for item in error.errors(include_url=False):
        loc = [str(part) for part in item["loc"] if part != "[key]"]
        for line in _lane_message(item, loc).splitlines():
            problems.append(": ".join(part for part in (".".join(loc), line) if part))
    return problems


def _lane_message(item: Mapping[str, Any], loc: Sequence[str]) -> str:
    kind, given = item["type"], item.get("input")
    if kind == "value_error":
        return str(item["ctx"]["error"])
    if kind == "extra_forbidden":
        allowed = list(TransferLanes.model_fields)
        close = difflib.get_close_matches(loc[-1], allowed, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"
        return f"unknown field{hint}"
    if "[key]" in item["loc"]:
        if kind == "string_type":
            return f"a warehouse id is text; quote it in YAML (e.g. '{given}'), got {show(given)}"
        return f"a warehouse id must be non-empty and not start with a space, got {show(given)}"
    if kind == "greater_than_equal":
        return f"days must not be negative, got {show(given)}"
    if kind == "less_than_equal":
        return f"days must be at most 3650 (ten years), got {show(given)}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"days must be a plain, finite number (e.g. 1.5), got {show(given)}"
    if kind == "dict_type":
        example = "{W1: {W2: 1.5}}" if len(loc) == 1 else "{W2: 1.5}"
        return f"expected a mapping, e.g. {example}, got {show(given)}"
    return f"{item['msg']}, got {show(given)}"


@dataclass(frozen=True, slots=True)
class TransferSuggestion:
    """Move ``quantity`` from one warehouse to another; ``surplus`` is what the source had."""

    from_warehouse: str
    to_warehouse: str
    quantity: float
    lead_time_days: float
    surplus: float


@dataclass(frozen=True, slots=True)
class TransferPlan:
    """Transfers that cover a need, and what a purchase request must still cover."""

    transfers: list[TransferSuggestion]
    remaining: float


def choose_transfers(
    to_warehouse: str,
    quantity_needed: float,
    sources: Sequence[WarehouseSupply],
    lanes: TransferLanes,
    needed_by_days: float | None = None,
) -> TransferPlan:
    """Which warehouses give how much of ``quantity_needed`` to ``to_warehouse``.

    A source gives at most its surplus (see the module docstring). A source
    whose lane takes longer than ``needed_by_days`` is not used: stock that
    arrives after the need is no help, and a purchase may be faster. Among the
    sources whose lane meets ``needed_by_days`` (all, when it is None) the
    larger surplus goes first, since fewer and larger transfers mean less
    handling; then the shorter lane; then the warehouse id, so the plan does
    not depend on the order of ``sources``. ``to_warehouse`` itself and
    sources without surplus are skipped. Raises ``ValueError`` when a
    warehouse is listed twice among ``sources`` (its numbers would be
    ambiguous).

    >>> lanes = TransferLanes(default_days=2.0)
    >>> big = WarehouseSupply(warehouse_id="W3", available=90.0, safety_stock=10.0,
    ...                       reorder_point=20.0, order_up_to=40.0)
    >>> small = WarehouseSupply(warehouse_id="W2", available=60.0, safety_stock=10.0,
    ...                         reorder_point=20.0, order_up_to=40.0)
    >>> plan = choose_transfers("W1", 60.0, [small, big], lanes)
    >>> [(t.from_warehouse, t.quantity) for t in plan.transfers], plan.remaining
    ([('W3', 50.0), ('W2', 10.0)], 0.0)
    """
    if not math.isfinite(quantity_needed):
        raise ValueError(f"quantity_needed {quantity_needed} must be a finite number")
    seen: set[str] = set()
    candidates: list[tuple[float, float, str, WarehouseSupply]] = []
    for source in sources:
        if source.warehouse_id in seen:
            raise ValueError(f"warehouse {source.warehouse_id!r} is listed twice among sources")
        seen.add(source.warehouse_id)
        if source.warehouse_id == to_warehouse or source.surplus <= 0:
            continue
        days = lanes.lead_time_days(source.warehouse_id, to_warehouse)
        if needed_by_days is not None and days > needed_by_days:
            continue
        candidates.append((-source.surplus, days, source.warehouse_id, source))
    candidates.sort(key=lambda candidate: candidate[:3])
    remaining = _q(max(quantity_needed, 0.0))
    transfers = []
    for _, days, _, source in candidates:
        if remaining <= 0:
            break
        quantity = min(source.surplus, remaining)
        transfers.append(
            TransferSuggestion(source.warehouse_id, to_warehouse, quantity, days, source.surplus)
        )
        remaining = _q(remaining - quantity)
    return TransferPlan(transfers=transfers, remaining=remaining)


# --- the transfer record (topic stockloop.transfers) -------------------------------------


class TransferStatus(StrEnum):
    """Where a transfer stands; rejected, received and cancelled are final."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    SHIPPED = "shipped"
    RECEIVED = "received"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class TransferTransitionError(ValueError):
    """A transition the transfer's status does not allow; the message says which and why."""


def transfer_id(material_id: str, from_warehouse: str, to_warehouse: str, raised: int) -> str:
    """Deterministic transfer id: material, lane, and how many transfers the material raised before.

    The count tells apart two transfers of one lane (the second proposed when
    the first was received or cancelled), as an alert id's does.

    >>> transfer_id("M1", "W2", "W1", 0)
    '94fc1834fc404f5b'
    """
    content = f"transfer|{material_id}|{from_warehouse}|{to_warehouse}|{raised}"
    return hashlib.sha1(content.encode(), usedforsecurity=False).hexdigest()[:16]


class Transfer(BaseModel):
    """One transition of a transfer between two warehouses; ``id`` is its idempotency key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str = Field(description="'{transfer_id}-{sequence}': unique per transition.")
    transfer_id: str = Field(description="The transfer's id (see ``transfer_id``).")
    sequence: int = Field(ge=0, description="0 when proposed, +1 for every later transition.")
    status: TransferStatus
    material_id: Id
    from_warehouse: Id = Field(description="The source, which holds the surplus.")
    to_warehouse: Id = Field(description="The warehouse that needs supply.")
    quantity: Positive = Field(description="Proposed quantity, in ``unit``.")
    unit: Annotated[str, Field(min_length=1, max_length=16)] = "EA"
    shipped_quantity: NonNegative | None = Field(
        None, description="What the transfer_out movement shipped, once shipped."
    )
    received_quantity: NonNegative | None = Field(
        None, description="What the transfer_in movement received, once received."
    )
    lead_time_days: Days = Field(description="The lane's transfer lead time.")
    needed_by: date | None = Field(None, description="When the receiving warehouse needs it.")
    created_at: EventTime = Field(description="Event time the transfer was proposed.")
    at: EventTime = Field(description="Event time of this transition.")
    by: Id | None = Field(
        None, description="Who last decided on it (approved, rejected, cancelled); kept after."
    )
    amount: NonNegative | None = Field(
        None,
        description="Value moved: quantity x the unit cost (the master's, else the stock on the "
        "shelves at its receipt costs; 0 when neither gives one, and then never approved on its "
        "own), in the approval policy's currency; what the approval policy judges. None on older "
        "records.",
    )
    approver: Id | None = Field(
        None,
        description="Who must decide a transfer the approval policy did not approve on its own "
        "(by value band); None when it approved it.",
    )
    alert_ids: tuple[str, ...] = Field((), description="The alerts that asked for supply.")
    explanation: Text = Field("", description="One human line: why this transfer.")
    reason: Text = Field("", description="Why this transition happened, one line.")

    @model_validator(mode="after")
    def _consistent(self) -> "Transfer":
        if self.from_warehouse == self.to_warehouse:
            raise ValueError(f"from_warehouse and to_warehouse are both {self.from_warehouse!r}")
        if self.id != f"{self.transfer_id}-{self.sequence}":
            raise ValueError(f"id {self.id!r} must be '{self.transfer_id}-{self.sequence}'")
        if self.at < self.created_at:
            raise ValueError(f"at {self.at} is before created_at {self.created_at}")
        return self


def propose_transfer(
    material_id: str,
    suggestion: TransferSuggestion,
    *,
    now: datetime,
    raised: int,
    unit: str = "EA",
    needed_by: date | None = None,
    alert_ids: Sequence[str] = (),
    amount: float | None = None,
    approver: str | None = None,
    held: str = "",
) -> Transfer:
    """The ``proposed`` record of a suggested transfer, at event time ``now``.

    ``raised`` is how many transfers the material proposed before (it numbers
    the id). ``amount`` is its value; ``approver`` who must decide it when the
    approval policy does not approve it on its own, and ``held`` the policy's
    one-line reason why.
    """
    explanation = (
        f"{suggestion.from_warehouse} holds {suggestion.surplus:g} {unit} above its own need; "
        f"{suggestion.quantity:g} {unit} to {suggestion.to_warehouse} in "
        f"{suggestion.lead_time_days:g} days before purchasing"
    )
    tid = transfer_id(material_id, suggestion.from_warehouse, suggestion.to_warehouse, raised)
    return Transfer(
        id=f"{tid}-0",
        transfer_id=tid,
        sequence=0,
        status=TransferStatus.PROPOSED,
        material_id=material_id,
        from_warehouse=suggestion.from_warehouse,
        to_warehouse=suggestion.to_warehouse,
        quantity=suggestion.quantity,
        unit=unit,
        lead_time_days=suggestion.lead_time_days,
        needed_by=needed_by,
        created_at=now,
        at=now,
        alert_ids=tuple(alert_ids),
        explanation=explanation[:256],
        reason=f"a warehouse needs supply and another holds a surplus{'; ' if held else ''}{held}"[
            :256
        ],
        amount=amount,
        approver=approver,
    )


# Which statuses each transition may start from. A transfer_out movement is the ERP's record
# of what happened, so a proposed transfer that a warehouse shipped without waiting for its
# approval is shipped all the same: stockloop cannot refuse a fact.
_FROM: Mapping[TransferStatus, frozenset[TransferStatus]] = {
    TransferStatus.APPROVED: frozenset({TransferStatus.PROPOSED}),
    TransferStatus.REJECTED: frozenset({TransferStatus.PROPOSED}),
    TransferStatus.SHIPPED: frozenset({TransferStatus.PROPOSED, TransferStatus.APPROVED}),
    TransferStatus.RECEIVED: frozenset({TransferStatus.SHIPPED}),
    TransferStatus.CANCELLED: frozenset({TransferStatus.PROPOSED, TransferStatus.APPROVED}),
}

_WHY_NOT = {
    TransferStatus.SHIPPED: "goods on the road can only be received",
    TransferStatus.RECEIVED: "it is final",
    TransferStatus.CANCELLED: "it is final",
    TransferStatus.REJECTED: "it is final",
    TransferStatus.APPROVED: "it was approved already",
    TransferStatus.PROPOSED: "it has not shipped",
}


def _move(transfer: Transfer, status: TransferStatus, at: datetime, **changes: object) -> Transfer:
    if transfer.status not in _FROM[status]:
        raise TransferTransitionError(
            f"transfer {transfer.transfer_id} is {transfer.status}: cannot be {status} "
            f"({_WHY_NOT[transfer.status]})"
        )
    at_utc = at.astimezone(UTC)
    # Not checked against the last transition: a person's decision carries the wall clock, a
    # movement the ERP's event time, and a transfer_out posted before someone's approval
    # reached the worker must still ship it (as a PO line orders a request, in purchasing).
    if at_utc < transfer.created_at:
        raise TransferTransitionError(
            f"transfer {transfer.transfer_id}: {status} at {at_utc.isoformat()} is before it "
            f"was proposed at {transfer.created_at.isoformat()}"
        )
    sequence = transfer.sequence + 1
    try:
        return Transfer.model_validate(
            {
                **transfer.model_dump(),
                **changes,
                "id": f"{transfer.transfer_id}-{sequence}",
                "sequence": sequence,
                "status": status,
                "at": at_utc,
            }
        )
    except ValidationError as error:
        raise TransferTransitionError(
            f"transfer {transfer.transfer_id}: {describe_validation_error(error)}"
        ) from None


def approve(transfer: Transfer, *, by: str, at: datetime, reason: str = "") -> Transfer:
    """A person (or the approval policy, as ``by``) approves a proposed transfer."""
    return _move(transfer, TransferStatus.APPROVED, at, by=by, reason=reason or "approved")


def reject(transfer: Transfer, *, by: str, at: datetime, reason: str = "") -> Transfer:
    """A person refuses a proposed transfer; the need falls back to a purchase request."""
    return _move(transfer, TransferStatus.REJECTED, at, by=by, reason=reason or "rejected")


def ship(transfer: Transfer, *, quantity: float, at: datetime) -> Transfer:
    """The source posted the transfer_out movement of ``quantity``: the goods are on the road."""
    if not (math.isfinite(quantity) and quantity > 0):
        raise TransferTransitionError(
            f"transfer {transfer.transfer_id}: shipped quantity {quantity} must be > 0"
        )
    return _move(
        transfer,
        TransferStatus.SHIPPED,
        at,
        shipped_quantity=_q(quantity),
        reason=f"transfer_out of {quantity:g} {transfer.unit} posted at {transfer.from_warehouse}",
    )


def receive(transfer: Transfer, *, quantity: float, at: datetime) -> Transfer:
    """The receiving warehouse posted the transfer_in movement of ``quantity``."""
    if not (math.isfinite(quantity) and quantity > 0):
        raise TransferTransitionError(
            f"transfer {transfer.transfer_id}: received quantity {quantity} must be > 0"
        )
    return _move(
        transfer,
        TransferStatus.RECEIVED,
        at,
        received_quantity=_q(quantity),
        reason=f"transfer_in of {quantity:g} {transfer.unit} posted at {transfer.to_warehouse}",
    )


def cancel(transfer: Transfer, *, by: str, at: datetime, reason: str = "") -> Transfer:
    """The transfer is no longer wanted (the need went away) before it shipped."""
    return _move(transfer, TransferStatus.CANCELLED, at, by=by, reason=reason or "cancelled")


# --- a person's decision (topic stockloop.transfer-actions) ------------------------------


class TransferAction(BaseModel):
    """A person's decision on a transfer, as published on ``stockloop.transfer-actions``.

    ``approve`` and ``reject`` decide a proposed transfer, as the same actions
    decide a purchase request (``models.purchasing.PurchaseRequestAction``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Version of this schema.")
    action: Literal["approve", "reject"] = Field(description="What the person decided.")
    transfer_id: Id = Field(description="The transfer it applies to.")
    material_id: Id = Field(
        description="The transfer's material: the action is routed to the worker that owns it."
    )
    by: Id = Field(description="Who decided (user name or e-mail).")
    reason: Text | None = Field(None, description="Why, in their words.")
    at: EventTime = Field(description="Event time of the decision.")


class TransferActionNotice(BaseModel):
    """A decision on a transfer, forwarded onto ``stockloop.material-events`` keyed by its material.

    ``stockloop.transfer-actions`` is keyed by transfer id, as people know
    transfers; the material's worker holds the transfer, so the decision
    travels to it in order with the material's events.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["transfer_action"] = "transfer_action"
    action: TransferAction


def apply_transfer_action(transfer: Transfer, action: TransferAction) -> Transfer:
    """The transfer after a person's approve or reject; refuses what its status does not allow."""
    if action.transfer_id != transfer.transfer_id:
        raise TransferTransitionError(
            f"transfer_id={action.transfer_id}: the action is not for transfer "
            f"{transfer.transfer_id}"
        )
    decide = approve if action.action == "approve" else reject
    return decide(transfer, by=action.by, at=action.at, reason=action.reason or "")
