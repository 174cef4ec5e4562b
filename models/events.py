"""Event schemas: what the ERP tells stockloop, as validated, frozen pydantic models.

Quantities and money are ``float``. ERP quantities rarely need more than six
decimals, and the state rounds every sum to micro-units (see ``models.state``)
so that float noise never shows up as stock. Times are timezone-aware UTC.
Every event carries an ``event_id`` (for de-duplication) and an ``event_time``
(the only clock the core knows).
"""

import hashlib
import reprlib
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

SCHEMA_VERSION = 1
MAX_QUANTITY = 1e12

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\s].*$")]
Text = Annotated[str, Field(max_length=256)]
Quantity = Annotated[float, Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, le=MAX_QUANTITY, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, le=MAX_QUANTITY, allow_inf_nan=False)]
DATE_HORIZON = timedelta(days=3653)
"""How far from its event time a date inside an event (due date, ETA, order time, promotion
window) may lie: ten years, beyond any real plan, well inside what planning can count in days."""


def _in_utc(moment: datetime) -> datetime:
    """The same instant in UTC; an offset that carries it past year 1 or 9999 is out of range."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # Pydantic reports a ValueError as a validation error; an OverflowError would escape.
        raise ValueError("date-time out of range in UTC (before year 1 or after 9999)") from None


EventTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""An aware instant, held in ``datetime.UTC``. Stored state uses it too, not a bare
``datetime``: pydantic parses a ``Z`` into its own ``TzInfo``, and comparing or subtracting
two instants of different tzinfo objects calls both offsets, 0.55 µs instead of 0.05 µs
(pydantic/pydantic#7897): an inbox read from its table took twice as long per pass for it."""


def _check_horizon(event_time: datetime, **moments: date | datetime) -> None:
    """Refuse a date more than ``DATE_HORIZON`` from the event time, naming field and value."""
    for field, moment in moments.items():
        day = moment.date() if isinstance(moment, datetime) else moment
        if abs(day - event_time.date()) > DATE_HORIZON:
            raise ValueError(
                f"{field} {moment.isoformat()} is more than {DATE_HORIZON.days} days from "
                f"event_time {event_time.isoformat()}"
            )


class _Event(BaseModel):
    """Fields every input event has: identity, event time and the material it concerns."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    event_id: Id
    event_time: EventTime
    material_id: Id


class AbcClass(StrEnum):
    """ABC classification by consumption value."""

    A = "A"
    B = "B"
    C = "C"


class MaterialMaster(_Event):
    """Material master record: what the material is and how it should be planned."""

    kind: Literal["material"] = "material"
    name: Text
    category: Text | None = None
    unit: Annotated[str, Field(min_length=1, max_length=16)] = "EA"
    unit_cost: NonNegative = 0.0
    abc_class: AbcClass | None = None
    service_level: Annotated[float, Field(gt=0.5, lt=1.0)] | None = None
    default_lead_time_days: Annotated[float, Field(gt=0, le=3650)] | None = None
    moq: NonNegative = 0.0
    pack_size: Positive = 1.0
    preferred_supplier: Id | None = None
    owner: Text | None = None
    active: bool = True


class MovementType(StrEnum):
    """Kinds of stock movement, as posted by the ERP."""

    RECEIPT = "receipt"
    ISSUE = "issue"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    ADJUSTMENT = "adjustment"
    CYCLE_COUNT = "cycle_count"


class StockMovement(_Event):
    """A posted stock movement in one warehouse.

    ``quantity`` follows the movement type: receipts and transfers in add it,
    issues and transfers out remove it (ERPs that post issues as negative
    numbers are accepted: the sign is dropped), an adjustment is a signed
    delta, and a cycle count is the counted on-hand quantity. A receipt may
    name the PO line it receives (``po_line_id``), a goods issue for a
    delivery the sales order line it ships (``sales_order_id`` and
    ``sales_order_line_id``): the ERP's order-line update follows later, and
    until it does the shipment must not count as both issued and committed.
    """

    kind: Literal["movement"] = "movement"
    movement_type: MovementType
    warehouse_id: Id
    quantity: Quantity
    batch_id: Id | None = None
    unit_cost: NonNegative | None = None
    po_line_id: Id | None = None
    sales_order_id: Id | None = None
    sales_order_line_id: Id | None = None
    counterpart_warehouse_id: Id | None = None

    @model_validator(mode="after")
    def _quantity_fits_type(self) -> "StockMovement":
        match self.movement_type:
            case MovementType.RECEIPT | MovementType.TRANSFER_IN if self.quantity <= 0:
                raise ValueError(
                    f"quantity {self.quantity} must be > 0 for a {self.movement_type}; "
                    "post reversals as adjustments"
                )
            case MovementType.ISSUE | MovementType.TRANSFER_OUT if self.quantity == 0:
                raise ValueError(f"quantity must be non-zero for a {self.movement_type}")
            case MovementType.ADJUSTMENT if self.quantity == 0:
                raise ValueError("quantity must be non-zero for an adjustment")
            case MovementType.CYCLE_COUNT if self.quantity < 0:
                raise ValueError(f"counted quantity {self.quantity} must be >= 0")
        return self


class OrderStatus(StrEnum):
    """Life cycle of a sales order line."""

    OPEN = "open"
    CONFIRMED = "confirmed"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


class SalesOrderLine(_Event):
    """The current version of a sales order line; each version replaces the previous one.

    ``customer_priority`` runs from 1 (key account) to 5 (lowest). A
    contract may price a late or short delivery: ``penalty_per_day_late``
    (money per day the line ships after its due date) and
    ``penalty_per_unit_short`` (money per unit not delivered on time); they
    count in the value at risk of the line's shortage alerts. ``rush`` is
    the ERP's own mark of an urgent line: for an assembled item, the part of
    it the item's stock does not cover is analysed for shortages like a
    production order (``models.rush``), as is a line due sooner than the
    item's cumulative lead time.
    """

    kind: Literal["order_line"] = "order_line"
    order_id: Id
    line_id: Id
    warehouse_id: Id
    quantity: NonNegative
    shipped_quantity: NonNegative = 0.0
    due_date: date
    status: OrderStatus
    unit_price: NonNegative = 0.0
    customer_id: Id | None = None
    customer_priority: Annotated[int, Field(ge=1, le=5)] = 3
    penalty_per_day_late: NonNegative = 0.0
    penalty_per_unit_short: NonNegative = 0.0
    rush: bool = False

    @model_validator(mode="after")
    def _shipped_within_ordered(self) -> "SalesOrderLine":
        if self.shipped_quantity > self.quantity:
            raise ValueError(
                f"shipped_quantity {self.shipped_quantity} exceeds quantity {self.quantity}"
            )
        _check_horizon(self.event_time, due_date=self.due_date)
        return self


class InTransitStatus(StrEnum):
    """Life cycle of inbound supply."""

    ORDERED = "ordered"
    SHIPPED = "shipped"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class InTransitLine(_Event):
    """Inbound supply for a warehouse: a purchase order line or an advance shipping notice."""

    kind: Literal["in_transit"] = "in_transit"
    line_id: Id
    supplier_id: Id
    warehouse_id: Id
    quantity: Positive
    received_quantity: NonNegative = 0.0
    ordered_at: EventTime
    eta: date
    status: InTransitStatus
    purchase_request_id: Id | None = None
    """The stockloop purchase request this PO line orders, when the ERP keeps it."""

    @model_validator(mode="after")
    def _dates_near_the_event(self) -> "InTransitLine":
        _check_horizon(self.event_time, ordered_at=self.ordered_at, eta=self.eta)
        return self


class PromotionEvent(BaseModel):
    """A planned promotion for one material or a whole category: expected demand uplift.

    ``uplift`` multiplies the forecast inside the window (1.5 = 50 % more);
    a later version with the same ``promotion_id`` replaces it, and
    ``cancelled`` withdraws it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    kind: Literal["promotion"] = "promotion"
    event_id: Id
    event_time: EventTime
    promotion_id: Id
    material_id: Id | None = None
    category: Text | None = None
    starts_on: date
    ends_on: date
    uplift: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]
    cancelled: bool = False

    @model_validator(mode="after")
    def _one_target_and_a_window(self) -> "PromotionEvent":
        if (self.material_id is None) == (self.category is None):
            raise ValueError("a promotion needs exactly one of material_id and category")
        if self.ends_on < self.starts_on:
            raise ValueError(f"ends_on {self.ends_on} is before starts_on {self.starts_on}")
        _check_horizon(self.event_time, starts_on=self.starts_on, ends_on=self.ends_on)
        return self


InputEvent = Annotated[
    MaterialMaster | StockMovement | SalesOrderLine | InTransitLine | PromotionEvent,
    Field(discriminator="kind"),
]


class SourcePosition(BaseModel):
    """Where an event was read: lets a material skip redelivered records exactly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class MaterialEvent(BaseModel):
    """A validated, normalised input event on ``stockloop.material-events``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["event"] = "event"
    schema_version: Literal[1] = SCHEMA_VERSION
    event: InputEvent
    source: SourcePosition | None = None


class Tick(BaseModel):
    """Time passing on one partition of ``stockloop.material-events``.

    Time-based rules (dead stock, ageing batches) must fire for materials
    that receive no events; a tick brings every material of its partition
    to event time ``at``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["tick"] = "tick"
    schema_version: Literal[1] = SCHEMA_VERSION
    at: EventTime


class DeadLetter(BaseModel):
    """An input record stockloop could not use, with why and where it came from.

    A letter carries the record's bytes, unless they would not fit the dead-letter
    topic (``of_record``): then it keeps their first bytes, and ``value_size`` and
    ``value_sha256`` identify the original, still in its topic at ``source``.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    schema_version: Literal[1] = SCHEMA_VERSION
    reason: str
    source: SourcePosition
    record_time: datetime | None = None
    key: bytes | None = Field(None, description="Original key bytes, base64 in JSON.")
    value: bytes | None = Field(None, description="Original value bytes, base64 in JSON.")
    value_size: int | None = Field(None, ge=0, description="Bytes in the original value.")
    value_sha256: str | None = Field(None, description="SHA-256 of the original value, hex.")
    truncated: bool = Field(
        False, description="key and value hold only the first bytes of the original record."
    )

    @classmethod
    def of_record(
        cls,
        reason: str,
        source: SourcePosition,
        record_time: datetime | None,
        key: bytes | None,
        value: bytes | None,
        max_bytes: int,
    ) -> "DeadLetter":
        """The letter for a record, cut to at most ``max_bytes`` of JSON when it can be.

        The topic refuses a larger record, and a letter lost that way is a record
        without an outcome. Only a reason and key that alone exceed the limit
        (neither happens: reasons are one short line, keys a few ids) stay too big.
        """
        letter = cls(
            reason=reason,
            source=source,
            record_time=record_time,
            key=key,
            value=value,
            value_size=None if value is None else len(value),
            value_sha256=None if value is None else hashlib.sha256(value).hexdigest(),
        )
        if len(encode(letter)) <= max_bytes:
            return letter
        size = len(value or b"")
        kept_key = None if key is None else key[:_KEPT_KEY_BYTES]

        def cut(kept: int) -> "DeadLetter":
            note = f" [dead letter keeps the first {kept} of {size} value bytes; see value_sha256]"
            return letter.model_copy(
                update={"reason": reason + note, "key": kept_key, "value": b"", "truncated": True}
            )

        # Base64 writes 3 bytes as 4 characters; the note's number is at most ``size`` wide.
        room = max_bytes - len(encode(cut(size)))
        kept = max(min(room // 4 * 3, size), 0)
        return cut(kept).model_copy(update={"value": (value or b"")[:kept]})


# A record key is a few ids; a letter cut to fit keeps this much of a larger one.
_KEPT_KEY_BYTES = 1_024


_input_event = TypeAdapter(InputEvent)
# Union tags that lead a validation error's location; production kinds: connectors.cdc.
_EVENT_KINDS = {
    "material",
    "movement",
    "order_line",
    "in_transit",
    "promotion",
    "production_order",
    "bom_line",
}


def parse_input_event(
    fields: dict,
) -> MaterialMaster | StockMovement | SalesOrderLine | InTransitLine | PromotionEvent:
    """Validate a plain dict (with ``kind``) as one of the input events."""
    return _input_event.validate_python(fields)


def encode(model: BaseModel) -> bytes:
    """The one wire encoding of stockloop: compact UTF-8 JSON."""
    return model.__pydantic_serializer__.to_json(model)


def decode_json(data: bytes) -> object:
    """Parse JSON bytes with orjson (raises ``orjson.JSONDecodeError``)."""
    return orjson.loads(data)


def describe_validation_error(error: ValidationError) -> str:
    """One line naming the first offending field, its value and why it was refused."""
    first = error.errors(include_url=False)[0]
    loc = [_cut(str(part)) for part in first["loc"]]
    if loc and loc[0] in _EVENT_KINDS:
        loc = loc[1:]
    message = first["msg"].removeprefix("Value error, ")
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    if first["type"] == "union_tag_invalid":
        return f"kind={show(first['ctx']['tag'])}: unknown event kind{more}"
    if not loc:
        return f"{message}{more}"
    field = ".".join(loc)
    if first["type"] in {"extra_forbidden", "missing"}:
        return f"{field}: {message.lower()}{more}"
    return f"{field}={show(first.get('input'))}: {message}{more}"


# Shallow and short: a record's value may be nested a thousand levels deep, where repr()
# recurses past the interpreter's limit, or hold a mebibyte that no reason should carry.
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel = 3
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = _SHORT_REPR.maxlong = 200


def show(value: object) -> str:
    """A value for a one-line reason: its repr, shallow and cut to 60 characters."""
    return _cut(_SHORT_REPR.repr(value))


def _cut(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class InputClock(BaseModel):
    """How far one input partition has been read, in event time, as ingest last saw it.

    ``idle``: ingest had processed everything the partition held, so nothing
    older can still be on its way from it, and it does not hold time back.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    time: EventTime | None = None
    idle: bool = False


class Watermark(BaseModel):
    """Ingest's progress per input partition, sent after the events it covers.

    Every ingest worker sends one to each partition of
    ``stockloop.material-events`` for the input partitions it reads, so a
    material partition learns how far in event time *all* inputs have come
    (``models.watermark``), the way Flink combines watermarks across a shuffle.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["watermark"] = "watermark"
    schema_version: Literal[1] = SCHEMA_VERSION
    inputs: dict[str, InputClock] = Field(description="By input 'topic:partition'.")
