"""Decoding of one raw input record into one validated input event.

ERP integration engineers point Debezium (or their own producers) at the input
topics, so a record value comes in one of three shapes, told apart by its keys:

- ``{"schema": ..., "payload": ...}``: Kafka Connect's ``JsonConverter`` with
  ``schemas.enable=true``. The payload is decoded as below, and the schema's
  logical types (``Decimal``, ``io.debezium.time.*``) say how each column is
  written, overriding the encodings declared in the CDC mapping.
- ``{"op", "source", "before" and/or "after"}``: a Debezium change event. The
  CDC mapping (``connectors.mapping``) says which event kind ``source.table``
  becomes and which column feeds which field. ``c``, ``r`` and ``u`` read
  ``after``; ``d`` reads ``before`` and cancels an order or in-transit line,
  deactivates a material, and is refused for a stock movement (a posted
  movement is reversed by another movement, never deleted).
- anything else: a plain JSON event, the object itself, whose ``kind``
  defaults to the kind of the topic it was read from.

Plain and CDC events both end in ``parse_input_event``, so they meet one
schema. The records of the shortage analysis (production orders, BOM lines)
take the same three shapes and end in ``parse_production_record``
(``decode_production_record``): a deleted production order row is a cancelled
order, a deleted BOM line row a deleted line.

A record that cannot become an event raises ``InvalidRecord``, whose
message is the one-line dead-letter reason; nothing else escapes, so a bad
record never crashes a worker (``tests/unit/connectors/test_poison_records.py``
feeds arbitrary and mutated records to prove it). A tombstone (null value) is
no event: None. At the ingest edge an event must also carry a plausible event
time (``EventTimeWindow``), so the core, which knows only event time, never
plans across centuries.

A mapping may also filter rows, count a row once when it enters a condition,
compute fields, turn one row into several events and look values up in
reference tables (``connectors.mapping``); ``decode_changes`` returns all of
it as a ``Decoded``: the events, the reference row changed, or why the change
is no event. A lookup of a reference row not captured yet raises
``MissingReference`` so that the caller holds the change instead of losing it;
``ChangeReader`` does that in memory (``stockloop mapping test``, the tests),
``agents/ingest.py`` in tables.

A change event's id is deterministic, so a redelivered record is recognised as
a duplicate: ``{table}:{event_id_columns}`` for tables of immutable rows, else
``{table}:{key_columns}:{source.ts_ms}:{op}``, followed by ``@`` and the change's
log position (Postgres ``lsn``, MySQL ``file``/``pos``/``row``, ...) when the
source block carries one, because two updates of a row committed in the same
millisecond (or, on MySQL, the same second) must stay two versions. The event
time is the mapped ``event_time`` column, else ``source.ts_ms``; a delete always
takes ``source.ts_ms``, since its row image only knows the last update's time.
"""

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from types import UnionType
from typing import Annotated, Any, Generic, Protocol, TypeVar, Union, get_args, get_origin

import orjson
from pydantic import AwareDatetime, Field, TypeAdapter, ValidationError

from connectors.mapping import (
    EVENT_MODELS,
    CdcMapping,
    ColumnMapping,
    EmitCase,
    Encoding,
    ReferenceTable,
    TableMapping,
    expression,
)
from models.events import (
    InputEvent,
    InTransitStatus,
    OrderStatus,
    decode_json,
    describe_validation_error,
    parse_input_event,
    show,
)
from models.production import BomLine, ProductionOrder, ProductionOrderStatus
from models.rules.expression import Expression

Record = TypeVar("Record")
MAX_REASON_CHARS = 1_000


class InvalidRecord(ValueError):
    """An input record that cannot become an event; the message is the dead-letter reason.

    The reason is kept to one line whatever the record holds (a field name with a
    line break included), because it is logged and read one record per line, and
    to ``MAX_REASON_CHARS``, because it travels in every dead letter.
    """

    def __init__(self, reason: str) -> None:
        line = reason.translate(_LINE_BREAKS)
        if len(line) > MAX_REASON_CHARS:
            line = line[: MAX_REASON_CHARS - 3] + "..."
        super().__init__(line)


# Every character str.splitlines() breaks at, escaped as Python would write it.
_LINE_BREAKS = {ord(char): repr(char)[1:-1] for char in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


class _ColumnProblem(ValueError):
    """Why one column value cannot be read; the caller adds the table, column and value."""


@dataclass(frozen=True)
class EventTimeWindow:
    """The event times ingest accepts: ``years`` either side of the clock ``now``.

    An event time centuries off (a zeroed or garbled date column, a test record)
    would make the core plan across every day in between, so it is refused at
    the edge, where the wall clock is the only clock there is.
    """

    now: datetime
    years: int

    @property
    def earliest(self) -> datetime:
        return self._years_away(-self.years)

    @property
    def latest(self) -> datetime:
        return self._years_away(self.years)

    def _years_away(self, years: int) -> datetime:
        """The clock's date and time ``years`` calendar years away (29 February: the 28th)."""
        year = self.now.year + years
        try:
            return self.now.replace(year=year)
        except ValueError:
            return self.now.replace(year=year, day=28)

    def check(self, event: InputEvent | ProductionOrder | BomLine) -> None:
        """Refuse an event whose event time lies outside the window, naming both."""
        if not self.earliest <= event.event_time <= self.latest:
            raise InvalidRecord(
                f"event_time={event.event_time.isoformat()}: outside the plausible window "
                f"{self.earliest:%Y-%m-%d} to {self.latest:%Y-%m-%d} "
                f"(clock {self.now:%Y-%m-%d} +/- {self.years} years)"
            )


class MissingReference(InvalidRecord):
    """A change whose lookup names a reference row not captured yet: hold it, never lose it.

    Debezium's topics interleave: a stock move may arrive before the location it
    names. Ingest keeps such a change and decodes it again once ``table``'s row
    ``key`` is known; a caller that cannot hold a change dead-letters it with
    this message, like any other refusal.
    """

    def __init__(self, table: str, key: str, needed_by: str) -> None:
        self.table = table
        self.key = key
        super().__init__(f"{needed_by}={key!r}: {table} row {key!r} not known yet; held for it")


class References(Protocol):
    """The reference rows captured so far (``references:`` of the mapping), by table and key."""

    def row(self, table: str, key: str) -> Mapping[str, Any] | None:
        """The row's kept fields, or None when that row is not known (yet, or any longer)."""
        ...


@dataclass(frozen=True)
class ReferenceChange:
    """A change of one reference row: its kept fields, or None when the row was deleted."""

    table: str
    key: str
    row: dict[str, Any] | None


@dataclass
class ReferenceRows:
    """``References`` in memory: for ``mapping test``, tests and replays.

    >>> rows = ReferenceRows()
    >>> rows.apply(ReferenceChange("stock_location", "8", {"usage": "internal"}))
    >>> rows.row("stock_location", "8")
    {'usage': 'internal'}
    """

    rows: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def row(self, table: str, key: str) -> Mapping[str, Any] | None:
        return self.rows.get((table, key))

    def apply(self, change: ReferenceChange) -> None:
        """Keep the row's new version, or forget a deleted row."""
        if change.row is None:
            self.rows.pop((change.table, change.key), None)
        else:
            self.rows[(change.table, change.key)] = change.row


def encode_reference_row(row: Mapping[str, Any] | None) -> bytes:
    """A reference row as JSON bytes for a table, its decimals, dates and times kept as such.

    >>> from decimal import Decimal
    >>> encoded = encode_reference_row({"usage": "internal", "rate": Decimal("0.25")})
    >>> encoded
    b'{"usage":"internal","rate":{"$decimal":"0.25"}}'
    >>> decode_reference_row(encoded)
    {'usage': 'internal', 'rate': Decimal('0.25')}
    """
    return orjson.dumps(row, default=_tagged, option=orjson.OPT_PASSTHROUGH_DATETIME)


def decode_reference_row(encoded: bytes) -> dict[str, Any]:
    """The row ``encode_reference_row`` wrote."""
    return {name: _untagged(value) for name, value in orjson.loads(encoded).items()}


_TAGS: dict[str, Callable[[str], Any]] = {
    "$decimal": Decimal,
    "$date": date.fromisoformat,
    "$datetime": datetime.fromisoformat,
}


def _tagged(value: Any) -> dict[str, str]:
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    raise TypeError(f"not a reference value: {value!r}")


def _untagged(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, text),) = value.items()
        if tag in _TAGS and isinstance(text, str):
            return _TAGS[tag](text)
    return value


@dataclass(frozen=True)
class Decoded(Generic[Record]):
    """What one record value becomes: events, a reference row, or nothing and why."""

    events: tuple[Record, ...] = ()
    reference: ReferenceChange | None = None
    skipped: str | None = None
    """Why a change became no event (a tombstone, a row outside ``when``); None otherwise."""


NO_REFERENCES: References = ReferenceRows()


def decode_record(
    value: bytes | None,
    default_kind: str,
    mapping: CdcMapping,
    max_bytes: int,
    window: EventTimeWindow | None = None,
) -> InputEvent | None:
    """The input event in one record value of an ERP topic, or None for a tombstone.

    ``default_kind`` is the kind of the topic's events, used when a plain event
    leaves out its ``kind``; with a ``window``, an event time outside it is
    refused. Raises ``InvalidRecord`` for anything unusable. For mappings with
    lookups, row filters or several events per row, use ``decode_changes``:
    here a change that is no event is None and one of several events refused.
    """
    decoded = decode_changes(value, default_kind, mapping, max_bytes, NO_REFERENCES, window)
    return _single(decoded)


def decode_changes(
    value: bytes | None,
    default_kind: str,
    mapping: CdcMapping,
    max_bytes: int,
    references: References = NO_REFERENCES,
    window: EventTimeWindow | None = None,
) -> Decoded[InputEvent]:
    """Every input event one record value stands for, or the reference row it changes.

    Raises ``MissingReference`` when a lookup needs a reference row not in
    ``references``, ``InvalidRecord`` for anything unusable.
    """
    decoded = _decode(value, default_kind, mapping, max_bytes, references, parse_input_event)
    if window is not None:
        for event in decoded.events:
            window.check(event)
    return decoded


Tag = TypeVar("Tag")


class ChangeReader(Generic[Tag]):
    """Changes decoded in arrival order, keeping the reference rows and holding early changes.

    A change whose lookup names a reference row not read yet is held, with the
    caller's ``tag`` (its source position), and decoded again as soon as that row
    arrives: ``read`` returns the outcome of the record read and of every held
    change it released. What is still held is in ``held``; nothing is dropped.

    >>> from connectors.mapping import CdcMapping
    >>> reader = ChangeReader(CdcMapping(), 1_000)
    >>> reader.read(None, "movement", "offset 0")
    [('offset 0', Decoded(events=(), reference=None, skipped='tombstone'))]
    """

    def __init__(
        self,
        mapping: CdcMapping,
        max_bytes: int,
        references: ReferenceRows | None = None,
        window: EventTimeWindow | None = None,
    ) -> None:
        self.mapping = mapping
        self.max_bytes = max_bytes
        self.references = ReferenceRows() if references is None else references
        self.window = window
        self._held: dict[tuple[str, str], list[tuple[bytes | None, str, Tag]]] = {}

    @property
    def held(self) -> list[tuple[Tag, str]]:
        """The changes still waiting for a reference row, with why."""
        return [
            (tag, f"{table} row {key!r} not known yet")
            for (table, key), waiting in self._held.items()
            for _, _, tag in waiting
        ]

    def read(
        self, value: bytes | None, default_kind: str, tag: Tag
    ) -> list[tuple[Tag, Decoded[InputEvent | ProductionOrder | BomLine] | InvalidRecord]]:
        """The outcome of this record, then of the held changes it released, in that order.

        A record of a production topic (``default_kind`` a ``PRODUCTION_KINDS``)
        becomes production orders or BOM lines, any other an input event.
        """
        outcomes: list[
            tuple[Tag, Decoded[InputEvent | ProductionOrder | BomLine] | InvalidRecord]
        ] = []
        pending = [(value, default_kind, tag)]
        while pending:
            value, default_kind, tag = pending.pop(0)
            decode = (
                decode_production_changes if default_kind in PRODUCTION_KINDS else decode_changes
            )
            try:
                decoded: Decoded[Any] = decode(
                    value, default_kind, self.mapping, self.max_bytes, self.references, self.window
                )
            except MissingReference as missing:
                self._held.setdefault((missing.table, missing.key), []).append(
                    (value, default_kind, tag)
                )
                continue
            except InvalidRecord as refused:
                outcomes.append((tag, refused))
                continue
            outcomes.append((tag, decoded))
            change = decoded.reference
            if change is not None:
                self.references.apply(change)
                if change.row is not None:
                    pending.extend(self._held.pop((change.table, change.key), []))
        return outcomes


ProductionRecord = Annotated[ProductionOrder | BomLine, Field(discriminator="kind")]
_production_record: TypeAdapter[ProductionOrder | BomLine] = TypeAdapter(ProductionRecord)


def parse_production_record(fields: dict[str, Any]) -> ProductionOrder | BomLine:
    """Validate a plain dict (with ``kind``) as a production order or a BOM line."""
    return _production_record.validate_python(fields)


PRODUCTION_KINDS = frozenset({"production_order", "bom_line"})
"""The kinds of the production topics, whose records feed the shortage analysis."""


def decode_production_record(
    value: bytes | None,
    default_kind: str,
    mapping: CdcMapping,
    max_bytes: int,
    window: EventTimeWindow | None = None,
) -> ProductionOrder | BomLine | None:
    """The production order or BOM line in one record value, or None for a tombstone.

    As ``decode_record``, for ``erp.production-orders`` and ``erp.boms``: a
    record of any other kind (a sales order line on ``erp.boms``) is refused.
    """
    return _single(
        decode_production_changes(value, default_kind, mapping, max_bytes, NO_REFERENCES, window)
    )


def decode_production_changes(
    value: bytes | None,
    default_kind: str,
    mapping: CdcMapping,
    max_bytes: int,
    references: References = NO_REFERENCES,
    window: EventTimeWindow | None = None,
) -> Decoded[ProductionOrder | BomLine]:
    """The production orders or BOM lines one record value stands for, or its reference row.

    As ``decode_changes``, for the production topics: the Odoo and ERPNext packs
    look a BOM line's parent and the BOM's quantity up in the BOM header, so
    their lines need the reference rows (``MissingReference`` until it is known).
    """
    decoded = _decode(value, default_kind, mapping, max_bytes, references, parse_production_record)
    if window is not None:
        for record in decoded.events:
            window.check(record)
    return decoded


def _single(decoded: Decoded[Record]) -> Record | None:
    if len(decoded.events) > 1:
        raise InvalidRecord(
            f"one change, {len(decoded.events)} events: read it with decode_changes"
        )
    return decoded.events[0] if decoded.events else None


def _decode(
    value: bytes | None,
    default_kind: str,
    mapping: CdcMapping,
    max_bytes: int,
    references: References,
    parse: Callable[[dict[str, Any]], Record],
) -> Decoded[Record]:
    if value is None:
        return Decoded(skipped="tombstone")
    if len(value) > max_bytes:
        raise InvalidRecord(f"value: {len(value)} bytes exceeds the limit of {max_bytes}")
    try:
        document = decode_json(value)
    except orjson.JSONDecodeError as error:
        raise InvalidRecord(f"value: malformed JSON: {error}") from error
    schema = None
    if isinstance(document, dict) and "schema" in document and "payload" in document:
        schema, document = document["schema"], document["payload"]
        if document is None:
            # older JsonConverters wrap a tombstone instead of passing null
            return Decoded(skipped="tombstone")
    if not isinstance(document, dict):
        raise InvalidRecord(f"value: expected a JSON object, got {_json_type(document)}")
    if "op" in document and "source" in document and ("before" in document or "after" in document):
        return _decode_change(document, schema, mapping, references, parse)
    try:
        return Decoded(events=(parse({"kind": default_kind, **document}),))
    except ValidationError as error:
        raise InvalidRecord(describe_validation_error(error)) from error


def decode_precise_decimal(encoded: str, scale: int) -> Decimal:
    """A decimal in Debezium's ``precise`` mode: base64 of the two's-complement unscaled integer.

    >>> decode_precise_decimal("BOI=", 2)
    Decimal('12.50')
    >>> decode_precise_decimal("+x4=", 2)
    Decimal('-12.50')
    """
    unscaled = int.from_bytes(base64.b64decode(encoded, validate=True), "big", signed=True)
    # Built from text: exact at any precision, where arithmetic would round to 28 digits.
    return Decimal(f"{unscaled}E{-scale}")


_IMAGE_OF_OP = {"c": "after", "r": "after", "u": "after", "d": "before"}

# What a deleted row means for each kind; a deleted stock movement is refused.
_DELETED: dict[str, dict[str, Any]] = {
    "material": {"active": False},
    "order_line": {"status": OrderStatus.CANCELLED},
    "in_transit": {"status": InTransitStatus.CANCELLED},
    "production_order": {"status": ProductionOrderStatus.CANCELLED},
    "bom_line": {"deleted": True},
}

# Source fields that place a change in the database log, per connector.
_LOG_POSITION = ("lsn", "change_lsn", "scn", "file", "pos", "row")


def _decode_change(
    envelope: dict[str, Any],
    schema: Any,
    mapping: CdcMapping,
    references: References,
    parse: Callable[[dict[str, Any]], Record],
) -> Decoded[Record]:
    """The events a Debezium change event stands for, per the table's mapping."""
    op = envelope["op"]
    if not isinstance(op, str) or op not in _IMAGE_OF_OP:
        raise InvalidRecord(f"op={show(op)}: unknown Debezium op; expected c, r, u or d")
    source = envelope["source"]
    if not isinstance(source, dict):
        raise InvalidRecord(f"source={show(source)}: expected a Debezium source object")
    image = _IMAGE_OF_OP[op]
    reference = mapping.reference_for(source) if mapping.references else None
    if reference is not None:
        return Decoded(reference=_reference_change(reference, envelope, op, schema, mapping))
    table = mapping.table_for(source)
    if table is None:
        qualified = ".".join(_text(source[part]) for part in ("db", "schema") if source.get(part))
        raise InvalidRecord(
            f"source.table={show(source.get('table'))}: table not in the CDC mapping"
            + (f" (source {qualified})" if qualified else "")
        )
    row = envelope.get(image)
    if not isinstance(row, dict):
        raise InvalidRecord(f"{image}={show(row)}: op {op!r} needs the row {image} the change")
    reader = _RowReader(table, row, _schema_codecs(schema, image), mapping.timezone, references)
    if table.when is not None:
        skipped = _outside_when(table, envelope, op, reader, schema, mapping, references)
        if skipped is not None:
            return Decoded(skipped=skipped)
    if op == "d" and table.kind == "movement":
        keys = ":".join(_identifying_values(table, row, table.key_columns))
        raise InvalidRecord(
            f"op='d' on {table.table} {keys}: delete of a posted stock movement; "
            "post a reversing movement"
        )
    cases: tuple[EmitCase | None, ...] = table.emit or (None,)
    events = []
    for case in cases:
        if case is not None and case.when is not None and not reader.holds(case.when):
            continue
        fields, origins = _event_fields(table, case, reader, op)
        fields["event_id"] = _event_id(table, row, source, op) + (
            f"#{case.name}" if case is not None else ""
        )
        if "event_time" not in fields:
            fields["event_time"] = _commit_time(source)
        try:
            events.append(parse(fields))
        except ValidationError as error:
            raise InvalidRecord(_explain(error, table, origins, reader, op)) from error
    if not events:
        return Decoded(
            skipped=f"no emit case holds ({', '.join(case.name for case in table.emit)})"
        )
    return Decoded(events=tuple(events))


def _event_fields(
    table: TableMapping, case: EmitCase | None, reader: "_RowReader", op: str
) -> tuple[dict[str, Any], dict[str, ColumnMapping]]:
    """The event's fields from the table's sources, the case's, its constants and defaults."""
    replaced = _DELETED[table.kind] if op == "d" else {}
    sources = table.fields if case is None else {**table.fields, **case.fields}
    fields: dict[str, Any] = {"kind": table.kind}
    origins: dict[str, ColumnMapping] = {}
    for name, spec in sources.items():
        if name in replaced or (op == "d" and name == "event_time"):
            continue
        value = reader.field(spec, name)
        if value is not None:
            fields[name] = value
            if (origin := reader.origin(spec)) is not None:
                origins[name] = origin
    if case is not None:
        fields.update(case.set)
    fields.update(replaced)
    for name, default in table.defaults.items():
        fields.setdefault(name, default)
    return fields, origins


def _outside_when(
    table: TableMapping,
    envelope: dict[str, Any],
    op: str,
    reader: "_RowReader",
    schema: Any,
    mapping: CdcMapping,
    references: References,
) -> str | None:
    """Why a change of a filtered table is no event, or None when it is one (or more)."""
    when = table.when
    assert when is not None
    if table.trigger == "change" or op in ("c", "r"):
        return None if reader.holds(when) else f"when {when!r} does not hold"
    if op == "d":
        return None if reader.holds(when) else f"when {when!r} did not hold before the delete"
    before = envelope.get("before")
    keys = ":".join(_identifying_values(table, reader.row, table.key_columns))
    if not isinstance(before, dict):
        raise InvalidRecord(
            f"op='u' on {table.table} {keys}: trigger: entry needs the row before the change "
            "(Postgres: REPLICA IDENTITY FULL)"
        )
    was = _RowReader(
        table, before, _schema_codecs(schema, "before"), mapping.timezone, references
    ).holds(when)
    now = reader.holds(when)
    if now:
        return f"already in when {when!r} before this update: counted once" if was else None
    if not was:
        return f"when {when!r} does not hold"
    if table.on_exit == "refuse":
        raise InvalidRecord(
            f"op='u' on {table.table} {keys}: left when {when!r} after it counted; "
            "post a reversing movement (or set on_exit: skip)"
        )
    return f"left when {when!r} after it counted (on_exit: skip)"


def _reference_change(
    reference: ReferenceTable, envelope: dict[str, Any], op: str, schema: Any, mapping: CdcMapping
) -> ReferenceChange:
    """A reference row's new kept fields, or its deletion."""
    image = _IMAGE_OF_OP[op]
    row = envelope.get(image)
    if not isinstance(row, dict):
        raise InvalidRecord(f"{image}={show(row)}: op {op!r} needs the row {image} the change")
    key = ":".join(_identifying_values(reference, row, reference.key_columns))
    if op == "d":
        return ReferenceChange(reference.table, key, None)
    reader = _RowReader(
        reference, row, _schema_codecs(schema, image), mapping.timezone, NO_REFERENCES
    )
    kept = {name: reader.field(spec, None) for name, spec in reference.fields.items()}
    return ReferenceChange(reference.table, key, kept)


class _RowReader:
    """One row image read through a table's mapping: sources, inputs and conditions."""

    def __init__(
        self,
        table: TableMapping | ReferenceTable,
        row: dict[str, Any],
        codecs: dict[str, tuple[Encoding | None, int | None]] | None,
        zone: tzinfo,
        references: References,
    ) -> None:
        self.table = table
        self.row = row
        self.codecs = codecs
        self.zone = zone
        self.references = references
        self.kind = table.kind if isinstance(table, TableMapping) else None
        self._facts: dict[str, Any] = {}

    def field(self, spec: ColumnMapping, field: str | None) -> Any:
        """A source's value as event field ``field`` wants it (any value when None)."""
        if spec.column is not None:
            value = self.column(spec)
        elif spec.input is not None:
            value = self.fact(spec.input)
        elif spec.compute is not None:
            value = self.compute(spec.compute)
        else:
            return next(
                (v for part in spec.first_of if (v := self.field(part, field)) is not None), None
            )
        if field is None or value is None or self.kind is None:
            return value
        return _as_field(value, self.kind, field, self.zone)

    def origin(self, spec: ColumnMapping) -> ColumnMapping | None:
        """The column a source reads, for error messages (None for a computed value)."""
        if spec.input is not None and isinstance(self.table, TableMapping):
            return self.table.inputs[spec.input]
        return spec if spec.column is not None else None

    def column(self, spec: ColumnMapping) -> Any:
        """A column's value: decoded, followed through its lookups, translated."""
        name = spec.column
        assert name is not None
        if name not in self.row:
            raise InvalidRecord(
                f"{self.table.table}.{name}: column not in the row image; check the mapping"
            )
        raw = self.row[name]
        if raw is None:
            return None
        encoding, scale = (
            (spec.encoding, spec.scale) if self.codecs is None else self.codecs.get(name, _PLAIN)
        )
        try:
            value = raw if encoding is None else _DECODERS[encoding](raw, scale, self.zone)
            for step in spec.lookup:
                value = self._look_up(step, value, name)
                if value is None:
                    return None
            if spec.values is not None:
                value = _translate(value, spec.values)
            if spec.is_one_of is not None:
                code = value.strip() if isinstance(value, str) else str(value)
                value = code in spec.is_one_of
        except _ColumnProblem as problem:
            raise InvalidRecord(f"{self.table.table}.{name}={show(raw)}: {problem}") from None
        return value

    def _look_up(self, step: str, value: Any, column: str) -> Any:
        table, _, field = step.partition(".")
        key = value.strip() if isinstance(value, str) else str(value)
        row = self.references.row(table, key)
        if row is None:
            raise MissingReference(table, key, f"{self.table.table}.{column}")
        return row.get(field)

    def fact(self, name: str) -> Any:
        """An input's value, read once per row."""
        if name not in self._facts:
            assert isinstance(self.table, TableMapping)
            self._facts[name] = self.column(self.table.inputs[name])
        return self._facts[name]

    def _numbers(self, text: str) -> tuple[Expression, dict[str, Any]]:
        assert isinstance(self.table, TableMapping)
        parsed = expression(text, frozenset(self.table.inputs))
        facts = {}
        for name in sorted(parsed.names()):
            value = self.fact(name)
            if isinstance(value, str | date):
                raise InvalidRecord(
                    f"{self.table.table}: input {name}={show(value)} in {text!r} is not a "
                    "number; give it is: [codes] or values: {code: number}"
                )
            facts[name] = value
        return parsed, facts

    def holds(self, text: str) -> bool:
        """Whether a condition is exactly true for this row (unknown does not hold)."""
        parsed, facts = self._numbers(text)
        return parsed.holds(facts)

    def compute(self, text: str) -> float | None:
        """A computed number, None when unknown (a null input, a division by zero)."""
        parsed, facts = self._numbers(text)
        value = parsed.evaluate(facts)
        return None if value is None else float(value)


def _as_field(value: Any, kind: str, field: str, zone: tzinfo) -> Any:
    """Database types that the event schema spells differently: numeric ids, dates and times."""
    if (
        field in _TEXT_FIELDS[kind]
        and isinstance(value, int | Decimal)
        and not isinstance(value, bool)
    ):
        return str(value)
    if field in _MOMENT_FIELDS[kind] and type(value) is date:
        return datetime.combine(value, time(), zone)
    if field in _DATE_FIELDS[kind] and isinstance(value, datetime):
        # A date-time mapped to a date (Odoo's date_planned as an ETA): its day in the ERP's zone.
        return (value.astimezone(zone) if value.tzinfo is not None else value).date()
    return value


def _translate(value: Any, values: dict[str, Any]) -> Any:
    """The event value of an ERP code; CHAR columns pad codes with blanks."""
    code = value.strip() if isinstance(value, str) else str(value)
    try:
        return values[code]
    except KeyError:
        known = ", ".join(repr(known) for known in values)
        raise _ColumnProblem(f"unknown code; the mapping knows {known}") from None


def _event_id(table: TableMapping, row: dict[str, Any], source: dict[str, Any], op: str) -> str:
    """The same id for every delivery of the same change (see the module docstring)."""
    if table.event_id_columns is not None:
        return ":".join([table.table, *_identifying_values(table, row, table.event_id_columns)])
    keys = _identifying_values(table, row, table.key_columns)
    event_id = ":".join([table.table, *keys, str(_source_ts_ms(source)), op])
    position = "/".join(
        _position_part(source, part) for part in _LOG_POSITION if source.get(part) is not None
    )
    return f"{event_id}@{position}" if position else event_id


def _position_part(source: dict[str, Any], part: str) -> str:
    value = source[part]
    if not isinstance(value, str | int | float):
        raise InvalidRecord(f"source.{part}={show(value)}: expected a log position")
    return str(value)


def _identifying_values(
    table: TableMapping | ReferenceTable, row: dict[str, Any], columns: tuple[str, ...]
) -> list[str]:
    values = []
    for column in columns:
        value = row.get(column)
        if value is None:
            raise InvalidRecord(
                f"{table.table}.{column}=None: an identifying column is null or missing"
            )
        if not isinstance(value, str | int | float):
            raise InvalidRecord(
                f"{table.table}.{column}={show(value)}: an identifying column must be a "
                "string or a number"
            )
        values.append(str(value))
    return values


def _source_ts_ms(source: dict[str, Any]) -> int:
    ts_ms = source.get("ts_ms")
    if isinstance(ts_ms, bool) or not isinstance(ts_ms, int):
        raise InvalidRecord(f"source.ts_ms={show(ts_ms)}: expected epoch milliseconds")
    return ts_ms


def _commit_time(source: dict[str, Any]) -> datetime:
    ts_ms = _source_ts_ms(source)
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ts_ms)
    except OverflowError:
        raise InvalidRecord(
            f"source.ts_ms={ts_ms}: out of range (before year 1 or after 9999)"
        ) from None


def _explain(
    error: ValidationError,
    table: TableMapping,
    origins: dict[str, ColumnMapping],
    reader: _RowReader,
    op: str,
) -> str:
    """A validation error of a change event, naming the column behind the field."""
    first = error.errors(include_url=False)[0]
    loc = first["loc"]
    column = origins.get(str(loc[1])) if len(loc) > 1 else None
    if column is None or column.column is None:
        reason = f"{table.table}: {describe_validation_error(error)}"
    else:
        raw = reader.row[column.column]
        plain = reader.codecs is None and column.encoding is None
        if plain and first["type"] in {"float_parsing", "int_parsing"} and _is_base64(raw):
            return (
                f"{table.table}.{column.column}={show(raw)}: decimal bytes need a scale; "
                "declare encoding decimal and its scale in the mapping, or enable converter schemas"
            )
        reason = f"{table.table}.{column.column} -> {describe_validation_error(error)}"
    if op == "d" and first["type"] == "missing":
        reason += "; a delete needs the whole row before it (Postgres: REPLICA IDENTITY FULL)"
    return reason


# --- column encodings -------------------------------------------------------------------------

_PLAIN: tuple[Encoding | None, int | None] = (None, None)

# Kafka Connect and Debezium logical types, as named in a change event's schema.
_LOGICAL_TYPES = {
    "org.apache.kafka.connect.data.Decimal": Encoding.DECIMAL,
    "io.debezium.data.VariableScaleDecimal": Encoding.DECIMAL,
    "io.debezium.time.Date": Encoding.EPOCH_DAYS,
    "org.apache.kafka.connect.data.Date": Encoding.EPOCH_DAYS,
    "io.debezium.time.Timestamp": Encoding.EPOCH_MILLIS,
    "org.apache.kafka.connect.data.Timestamp": Encoding.EPOCH_MILLIS,
    "io.debezium.time.MicroTimestamp": Encoding.EPOCH_MICROS,
    "io.debezium.time.NanoTimestamp": Encoding.EPOCH_NANOS,
    "io.debezium.time.ZonedTimestamp": Encoding.ISO,
}


def _schema_codecs(schema: Any, image: str) -> dict[str, tuple[Encoding | None, int | None]] | None:
    """Each column's encoding per the envelope's schema; None when there is no row schema."""
    if not isinstance(schema, dict) or not isinstance(schema.get("fields"), list):
        return None
    for part in schema["fields"]:
        if isinstance(part, dict) and part.get("field") == image:
            columns = part.get("fields")
            if not isinstance(columns, list):
                return None
            return {
                column["field"]: _codec(column)
                for column in columns
                if isinstance(column, dict) and isinstance(column.get("field"), str)
            }
    return None


def _codec(column: dict[str, Any]) -> tuple[Encoding | None, int | None]:
    name = column.get("name")
    encoding = _LOGICAL_TYPES.get(name) if isinstance(name, str) else None
    if encoding is not Encoding.DECIMAL:
        return encoding, None
    parameters = column.get("parameters")
    scale = parameters.get("scale") if isinstance(parameters, dict) else None
    try:
        return encoding, int(scale)  # Connect writes parameters as strings
    except (TypeError, ValueError):
        return encoding, None  # a variable-scale decimal, or a scale-less one refused on use


def _decimal(raw: Any, scale: int | None, zone: tzinfo) -> Decimal | int | float:
    if isinstance(raw, bool):
        raise _ColumnProblem("decimal expected, got a boolean")
    if isinstance(raw, int | float):
        return raw  # double mode
    if isinstance(raw, dict):  # io.debezium.data.VariableScaleDecimal carries its own scale
        scale, raw = raw.get("scale"), raw.get("value")
        if isinstance(scale, bool) or not isinstance(scale, int) or not isinstance(raw, str):
            raise _ColumnProblem("a variable-scale decimal needs an integer scale and a value")
    if not isinstance(raw, str):
        raise _ColumnProblem(f"decimal expected, got {_json_type(raw)}")
    if scale is None:
        raise _ColumnProblem(
            "decimal bytes need a scale; declare it in the mapping or enable converter schemas"
        )
    try:
        return decode_precise_decimal(raw, scale)
    except (binascii.Error, ValueError):
        raise _ColumnProblem("not base64 decimal bytes (Debezium precise mode)") from None


def _integer(raw: Any, encoding: Encoding) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _ColumnProblem(f"{encoding} needs an integer, got {_json_type(raw)}")
    return raw


def _epoch_days(raw: Any, scale: int | None, zone: tzinfo) -> date:
    days = _integer(raw, Encoding.EPOCH_DAYS)
    try:
        return date(1970, 1, 1) + timedelta(days=days)
    except OverflowError:
        raise _ColumnProblem("date out of range") from None


def _since_epoch(
    encoding: Encoding, ticks_per_second: int
) -> Callable[[Any, int | None, tzinfo], datetime]:
    """A decoder for a zoneless date-time counted in ticks since 1970, read in the ERP's zone."""

    def decode(raw: Any, scale: int | None, zone: tzinfo) -> datetime:
        micros = _integer(raw, encoding) * 1_000_000 // ticks_per_second
        try:
            return (datetime(1970, 1, 1) + timedelta(microseconds=micros)).replace(tzinfo=zone)
        except OverflowError:
            raise _ColumnProblem("date-time out of range") from None

    return decode


def _iso(raw: Any, scale: int | None, zone: tzinfo) -> date | datetime:
    if not isinstance(raw, str):
        raise _ColumnProblem(f"iso needs a string, got {_json_type(raw)}")
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _ColumnProblem("not an ISO 8601 date or date-time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


_DECODERS: dict[Encoding, Callable[[Any, int | None, tzinfo], Any]] = {
    Encoding.DECIMAL: _decimal,
    Encoding.EPOCH_DAYS: _epoch_days,
    Encoding.EPOCH_MILLIS: _since_epoch(Encoding.EPOCH_MILLIS, 1_000),
    Encoding.EPOCH_MICROS: _since_epoch(Encoding.EPOCH_MICROS, 1_000_000),
    Encoding.EPOCH_NANOS: _since_epoch(Encoding.EPOCH_NANOS, 1_000_000_000),
    Encoding.ISO: _iso,
    Encoding.VARIABLE_DECIMAL: _decimal,
}


# --- event field types ------------------------------------------------------------------------


def _leaf_types(annotation: Any) -> set[Any]:
    """The plain types a field annotation admits, through Annotated and unions."""
    if get_origin(annotation) is Annotated:
        return _leaf_types(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return set().union(*(_leaf_types(arg) for arg in get_args(annotation)))
    return {annotation}


def _fields_of_type(*types: Any) -> dict[str, frozenset[str]]:
    return {
        kind: frozenset(
            name
            for name, info in model.model_fields.items()
            if _leaf_types(info.annotation) & set(types)
        )
        for kind, model in EVENT_MODELS.items()
    }


_TEXT_FIELDS = _fields_of_type(str)
_MOMENT_FIELDS = _fields_of_type(datetime, AwareDatetime)
_DATE_FIELDS = _fields_of_type(date)


# --- messages ---------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A name from a record, as text for a reason: a short string as it is, anything else shown."""
    return value if isinstance(value, str) and len(value) <= 60 else show(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _is_base64(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True
