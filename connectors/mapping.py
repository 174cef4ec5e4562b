"""The CDC mapping: which ERP table feeds which input event, column by column.

An ERP's tables are not stockloop's events. One mapping file per ERP
installation says, for every table Debezium captures, which event kind its rows
become, which column feeds which event field, how a column is encoded when the
change events carry no schema (``JsonConverter`` with ``schemas.enable=false``),
how ERP codes translate into stockloop's values, and which columns identify a
row. ``connectors/mappings/example-erp.yaml`` is a complete example;
``odoo17.yaml`` (Postgres) and ``erpnext15.yaml`` (MariaDB, Debezium's MySQL
encodings: ``DECIMAL(21,9)`` as ``decimal`` with ``scale: 9``, ``DATETIME(6)``
as ``epoch_micros``, ``INT(1)`` checks as plain numbers) are the shipped packs.

The shape of a mapping file::

    timezone: Asia/Shanghai          # zone of the ERP's zoneless timestamps; default UTC
    tables:
      - table: inv_transaction       # matched against Debezium's source.table
        db: erp                      # optional: also match source.db
        schema: public               # optional: also match source.schema
        kind: movement               # material | movement | order_line | in_transit,
                                     # production_order | bom_line (for the shortages)
        key_columns: [trans_id]      # the table's primary key
        event_id_columns: [trans_id] # optional: columns naming one immutable event
        fields:                      # event field: column, or column with how to read it
          material_id: item_no
          quantity: {column: qty, encoding: decimal, scale: 3}
          movement_type:
            column: trans_type
            values: {"101": receipt, "261": issue}   # ERP code -> event value
          event_time: {column: posted_at, encoding: epoch_micros}
        defaults:                    # used when no column feeds a field or its column is null
          warehouse_id: MAIN

Column encodings, for change events without a schema (a schema, when present,
says the same thing and wins):

- ``decimal`` with ``scale``: Debezium ``precise`` mode, base64 of the
  big-endian two's-complement unscaled integer. Numbers (``double`` mode) and
  ``{"scale", "value"}`` objects (variable-scale decimals) are read as well.
- ``epoch_days``: days since 1970-01-01 (``io.debezium.time.Date``).
- ``epoch_millis``, ``epoch_micros``, ``epoch_nanos``: a zoneless date-time
  since the epoch (``Timestamp``, ``MicroTimestamp``, ``NanoTimestamp``); its
  wall clock is read in the mapping's ``timezone``.
- ``iso``: an ISO 8601 date or date-time string (``ZonedTimestamp``); a
  zoneless one is read in the mapping's ``timezone``.
- ``variable_decimal``: a ``numeric`` column without precision
  (``io.debezium.data.VariableScaleDecimal``), ``{"scale", "value"}`` objects
  that carry their own scale (Odoo's float fields).

A column without an encoding passes its JSON value through unchanged (strings,
numbers, booleans; string-mode decimals such as ``"12.50"``). ERP codes are
compared as text with surrounding blanks removed, so quote them in YAML
(``"101"``, ``"Y"``): YAML reads an unquoted ``NO`` as false.

Fields that never come from a column: ``kind`` (the table's), ``event_id``
(from ``event_id_columns``, else from ``key_columns`` and the change's source
position) and, unless a column is mapped to it, ``event_time``
(``source.ts_ms``).

An ERP whose rows are not yet events (Odoo's ``stock_move``: a row moves stock
once, when its state becomes ``done``, from one location to another) needs
more, all declarative; ``connectors/mappings/odoo17.yaml`` uses every part::

    references:                      # small tables kept for lookups; their rows are no events
      - table: stock_location
        key_columns: [id]
        fields: {usage: usage, warehouse_id: warehouse_id}
    tables:
      - table: stock_move
        kind: movement
        key_columns: [id]
        event_id_columns: [id]       # required with ``trigger: entry``
        inputs:                      # the facts the expressions read
          done: {column: state, is: [done]}                 # 1 when state is done, else 0
          qty: {column: quantity, encoding: variable_decimal}
          from_stock: {column: location_id, lookup: [stock_location.usage], is: [internal]}
          source_warehouse:                                 # a lookup chain
            column: location_id
            lookup: [stock_location.warehouse_id, stock_warehouse.code]
        when: done == 1              # row filter, in the rule language (models.rules.expression)
        trigger: entry               # an event when a change makes ``when`` hold, not every change
        on_exit: refuse              # an update that leaves ``when``: refuse (dead letter) or skip
        fields:
          material_id: product_id
          event_time: {column: date, encoding: epoch_micros}
        emit:                        # one row, one event per case whose ``when`` holds
          - name: out
            when: from_stock == 1 and to_stock == 0
            set: {movement_type: issue}                     # constants
            fields:                                         # sources: column, input or compute
              warehouse_id: {input: source_warehouse}
              quantity: {compute: qty}

A field's source is a ``column`` (with its ``encoding``, ``lookup`` chain and
``values``), an ``input`` by name, ``compute``: a number from an expression
over the inputs (``-qty`` for a loss), or ``first_of``: a list of sources, the
first that is not null (the promised date, else the order date). Expressions
are the rule language's: numbers and conditions over named facts, so a text
column enters one through ``is`` (1 when its value is one of the codes, 0 when
not, unknown when null) or ``values`` mapping its codes to numbers. A
``lookup`` step ``table.field`` reads the row of the reference table ``table``
whose key is the value so far and takes its ``field``; a row that is not known
yet stops the change (``MissingReference``)
so that ingest holds it until the reference arrives. A date-time column mapped
to a date field takes its date in the mapping's ``timezone``.

``trigger: entry`` reads Debezium's ``before`` and ``after``: a create, a snapshot
read (``r``) or an update into the condition is one event; an update of a row
already in it is skipped (a done move edited later is no new movement); an
update out of it is refused or skipped (``on_exit``); a delete of a row in the
condition is refused for movements. Updates need the row before the change
(Postgres: ``REPLICA IDENTITY FULL``). Because the event id comes from
``event_id_columns``, a re-snapshot sends the same ids again and counts nothing
twice; with ``emit`` cases each case adds ``#name`` to the id.

Topic names: stockloop reads its ``erp.*`` input topics; route Debezium's
``<prefix>.<schema>.<table>`` topics to them with Kafka Connect's ``RegexRouter``
(``docs/connect-your-erp.md``). The decoder finds a change's table by its
``source`` block, not by the topic, so any table may arrive on any input topic.
"""

from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from models.events import InTransitLine, MaterialMaster, SalesOrderLine, StockMovement
from models.production import BomLine, ProductionOrder
from models.rules.expression import Expression, ExpressionError, parse

EventKind = Literal[
    "material", "movement", "order_line", "in_transit", "production_order", "bom_line"
]

EVENT_MODELS: dict[str, type[BaseModel]] = {
    "material": MaterialMaster,
    "movement": StockMovement,
    "order_line": SalesOrderLine,
    "in_transit": InTransitLine,
    "production_order": ProductionOrder,
    "bom_line": BomLine,
}
"""The record each table kind becomes. The production kinds feed the shortage analysis, not the
material events: ``connectors.cdc.decode_production_record`` reads them."""

# Set by the decoder from the table and its identifying columns, never by a column.
_DERIVED_FIELDS = frozenset({"kind", "event_id"})
# Falls back to source.ts_ms, so a default would only hide a missing mapping.
_NO_DEFAULT_FIELDS = _DERIVED_FIELDS | {"event_time"}

Name = Annotated[str, Field(min_length=1, max_length=128)]
# What an ERP code or a default turns into: an enum value, a number, a flag.
FieldValue = str | int | float | bool


class Encoding(StrEnum):
    """How a column's value is written in a change event that carries no schema."""

    DECIMAL = "decimal"
    EPOCH_DAYS = "epoch_days"
    EPOCH_MILLIS = "epoch_millis"
    EPOCH_MICROS = "epoch_micros"
    EPOCH_NANOS = "epoch_nanos"
    ISO = "iso"
    VARIABLE_DECIMAL = "variable_decimal"


class MappingError(ValueError):
    """A mapping file stockloop cannot use; the message names the file, table and field."""


class ColumnMapping(BaseModel):
    """Where one event field (or one input of the expressions) takes its value from.

    One of three sources: a ``column`` of the row (decoded by ``encoding``,
    followed through the ``lookup`` chain, translated by ``values``), a named
    ``input`` of the table, or ``compute``, a number from an expression over the
    inputs. ``is`` (inputs only) turns the value into a condition's 1 or 0.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    column: Name | None = None
    input: Name | None = None
    compute: str | None = Field(None, description="A number from the inputs (rule language).")
    first_of: tuple["ColumnMapping", ...] = Field(
        (), description="Sources tried in order: the first value that is not null."
    )
    encoding: Encoding | None = None
    scale: int | None = Field(None, description="Digits after the point of a decimal column.")
    lookup: tuple[Name, ...] = Field((), description="Reference steps, each 'table.field'.")
    values: dict[str, FieldValue] | None = Field(None, description="ERP code -> event value.")
    is_one_of: tuple[str, ...] | None = Field(None, alias="is", min_length=1)

    @field_validator("values", mode="before")
    @classmethod
    def _codes_as_text(cls, values: Any) -> Any:
        """ERP codes are compared as text; YAML reads ``101`` as a number and ``NO`` as false."""
        if not isinstance(values, dict):
            return values
        codes: dict[str, Any] = {}
        for code, value in values.items():
            if isinstance(code, bool) or not isinstance(code, str | int):
                raise ValueError(
                    f"code {code!r} is not text; quote ERP codes in YAML ('101', 'NO')"
                )
            codes[str(code)] = value
        return codes

    @field_validator("first_of", mode="before")
    @classmethod
    def _first_of_shorthand(cls, sources: Any) -> Any:
        if not isinstance(sources, list | tuple):
            return sources
        return [{"column": spec} if isinstance(spec, str) else spec for spec in sources]

    @field_validator("lookup", mode="before")
    @classmethod
    def _one_step_shorthand(cls, lookup: Any) -> Any:
        return (lookup,) if isinstance(lookup, str) else lookup

    @field_validator("is_one_of", mode="before")
    @classmethod
    def _is_codes_as_text(cls, codes: Any) -> Any:
        if isinstance(codes, str | int) and not isinstance(codes, bool):
            return (str(codes),)
        if not isinstance(codes, list | tuple):
            return codes
        for code in codes:
            if isinstance(code, bool) or not isinstance(code, str | int):
                raise ValueError(f"code {code!r} is not text; quote ERP codes in YAML ('NO')")
        return tuple(str(code) for code in codes)

    @model_validator(mode="after")
    def _one_source(self) -> "ColumnMapping":
        sources = [
            name for name in ("column", "input", "compute", "first_of") if getattr(self, name)
        ]
        if len(sources) != 1:
            raise ValueError(
                "give exactly one source: column, input, compute or first_of"
                + (f" (got {', '.join(sources)})" if sources else "")
            )
        if self.first_of and (self.values or self.is_one_of):
            raise ValueError("first_of takes each source's own values")
        if self.column is None and (self.encoding or self.lookup or self.scale is not None):
            raise ValueError("encoding, scale and lookup apply to a column")
        for step in self.lookup:
            table, _, field = step.partition(".")
            if not table or not field:
                raise ValueError(f"lookup step {step!r}: write it as table.field")
        if self.compute is not None and (self.values or self.is_one_of):
            raise ValueError("a computed value is a number; values and is do not apply")
        if self.values is not None and self.is_one_of is not None:
            raise ValueError("give values or is, not both")
        if self.encoding is Encoding.DECIMAL and self.scale is None:
            raise ValueError("the decimal encoding needs a scale (digits after the point)")
        if self.encoding is not Encoding.DECIMAL and self.scale is not None:
            raise ValueError("scale only applies to the decimal encoding")
        return self

    def parts(self) -> list["ColumnMapping"]:
        """This source and those it tries (``first_of``), for the file's checks."""
        return [self, *(part for source in self.first_of for part in source.parts())]


def _sources(fields: Any) -> Any:
    """``field: column`` is short for ``field: {column: column}``, the common case."""
    if not isinstance(fields, dict):
        return fields
    return {
        name: {"column": spec} if isinstance(spec, str) else spec for name, spec in fields.items()
    }


@cache
def expression(text: str, inputs: frozenset[str]) -> Expression:
    """A row condition or computed value, parsed once by the rule language."""
    return parse(text, inputs)


def _check_expression(text: str, inputs: frozenset[str], want: str, where: str) -> None:
    try:
        parsed = expression(text, inputs)
    except ExpressionError as error:
        hint = ""
        if "strings are not allowed" in error.problem:
            hint = "; test a text column through an input with is: [codes]"
        raise ValueError(f"{where}: {error}{hint}") from None
    if parsed.kind != want:
        raise ValueError(f"{where}: {text!r} is a {parsed.kind}; expected a {want}")


class EmitCase(BaseModel):
    """One event a row becomes when the case's condition holds (several may hold)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    when: str | None = None
    set: dict[str, FieldValue] = Field(default_factory=dict)
    fields: dict[str, ColumnMapping] = Field(default_factory=dict)

    _column_shorthand = field_validator("fields", mode="before")(_sources)


class TableMapping(BaseModel):
    """One captured ERP table: the event kind its rows become and where each field comes from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: Name
    db: Name | None = None
    db_schema: Name | None = Field(None, alias="schema")
    kind: EventKind
    key_columns: tuple[Name, ...] = Field(min_length=1)
    event_id_columns: tuple[Name, ...] | None = Field(None, min_length=1)
    inputs: dict[str, ColumnMapping] = Field(default_factory=dict)
    when: str | None = None
    trigger: Literal["change", "entry"] = "change"
    on_exit: Literal["refuse", "skip"] = "refuse"
    fields: dict[str, ColumnMapping]
    defaults: dict[str, FieldValue] = Field(default_factory=dict)
    emit: tuple[EmitCase, ...] = ()

    _column_shorthand = field_validator("fields", "inputs", mode="before")(_sources)

    @model_validator(mode="after")
    def _expressions_read_inputs(self) -> "TableMapping":
        """Conditions and computed values parse in the rule language, over declared inputs."""
        inputs = frozenset(self.inputs)
        for name, spec in self.inputs.items():
            if spec.input is not None or spec.compute is not None:
                raise ValueError(f"inputs.{name}: an input reads a column")
        if self.when is not None:
            _check_expression(self.when, inputs, "condition", "when")
        if self.trigger == "entry" and self.when is None:
            raise ValueError("trigger: entry needs a when condition to enter")
        if self.trigger == "entry" and self.event_id_columns is None:
            raise ValueError(
                "trigger: entry needs event_id_columns, so that a re-snapshot repeats the same ids"
            )
        places = [("fields", self.fields)] + [
            (f"emit[{case.name}].fields", case.fields) for case in self.emit
        ]
        for place, fields in places:
            for name, spec in fields.items():
                for part in spec.parts():
                    if part.input is not None and part.input not in inputs:
                        raise ValueError(f"{place}.{name}: no input named {part.input!r}")
                    if part.compute is not None:
                        where = f"{place}.{name}.compute"
                        _check_expression(part.compute, inputs, "number", where)
        for case in self.emit:
            if case.when is not None:
                _check_expression(case.when, inputs, "condition", f"emit[{case.name}].when")
        names = [case.name for case in self.emit]
        if len(set(names)) != len(names):
            raise ValueError("emit: case names must differ (they make the event ids distinct)")
        return self

    @model_validator(mode="after")
    def _fields_fit_the_event(self) -> "TableMapping":
        """Catch a misspelt field, an unmapped required field or a wrong code value at load time."""
        known = EVENT_MODELS[self.kind].model_fields
        mappable = sorted(set(known) - _DERIVED_FIELDS)
        places = [("fields", self.fields)] + [
            (f"emit[{case.name}].fields", case.fields) for case in self.emit
        ]
        for place, fields in places:
            for name in fields:
                if name not in mappable:
                    raise ValueError(
                        f"{place}.{name}: {self.kind} events have no such field; "
                        f"expected one of {', '.join(mappable)}"
                    )
        for case in self.emit:
            for name in case.set:
                if name not in mappable or name == "event_time":
                    raise ValueError(
                        f"emit[{case.name}].set.{name}: {self.kind} events have no such field "
                        "taking a constant"
                    )
        for name in self.defaults:
            if name in _NO_DEFAULT_FIELDS or name not in known:
                raise ValueError(
                    f"defaults.{name}: {self.kind} events have no such field taking a default"
                )
        cases = self.emit or (EmitCase(name="row"),)
        for case in cases:
            unmapped = [
                name
                for name, info in known.items()
                if info.is_required()
                and name not in _NO_DEFAULT_FIELDS
                and name not in self.fields
                and name not in self.defaults
                and name not in case.fields
                and name not in case.set
            ]
            if unmapped:
                where = f"emit[{case.name}]" if self.emit else "fields"
                raise ValueError(
                    f"{where}: {', '.join(unmapped)} required by {self.kind} events but not "
                    "mapped; map a column or give a default"
                )
        for place, fields in places:
            for name, column in fields.items():
                for code, value in (column.values or {}).items():
                    _check_field_value(self.kind, name, value, f"{place}.{name}.values[{code!r}]")
        for case in self.emit:
            for name, value in case.set.items():
                _check_field_value(self.kind, name, value, f"emit[{case.name}].set.{name}")
        for name, value in self.defaults.items():
            _check_field_value(self.kind, name, value, f"defaults.{name}")
        return self

    @property
    def qualified_name(self) -> str:
        """The table as Debezium names it, ``db.schema.table`` with what the entry pins."""
        return ".".join(part for part in (self.db, self.db_schema, self.table) if part)

    def lookups(self) -> list[tuple[str, str]]:
        """Every lookup step of the table as (where, 'table.field'), for the file's checks."""
        places = [("inputs", self.inputs), ("fields", self.fields)] + [
            (f"emit[{case.name}].fields", case.fields) for case in self.emit
        ]
        return [
            (f"{place}.{name}.lookup", step)
            for place, sources in places
            for name, spec in sources.items()
            for part in spec.parts()
            for step in part.lookup
        ]


class ReferenceTable(BaseModel):
    """A small captured table kept by key for lookups (locations, warehouses, order headers)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: Name
    db: Name | None = None
    db_schema: Name | None = Field(None, alias="schema")
    key_columns: tuple[Name, ...] = Field(min_length=1)
    fields: dict[str, ColumnMapping] = Field(min_length=1)

    _column_shorthand = field_validator("fields", mode="before")(_sources)

    @model_validator(mode="after")
    def _fields_read_columns(self) -> "ReferenceTable":
        for name, spec in self.fields.items():
            if spec.column is None or spec.lookup or spec.is_one_of is not None:
                raise ValueError(f"fields.{name}: a reference field reads one column")
        return self

    @property
    def qualified_name(self) -> str:
        """The table as Debezium names it, ``db.schema.table`` with what the entry pins."""
        return ".".join(part for part in (self.db, self.db_schema, self.table) if part)


def _matches(entry: TableMapping | ReferenceTable, source: dict[str, Any]) -> bool:
    return (
        entry.table == source.get("table")
        and (entry.db is None or entry.db == source.get("db"))
        and (entry.db_schema is None or entry.db_schema == source.get("schema"))
    )


class CdcMapping(BaseModel):
    """A whole mapping file: the ERP's time zone and the tables it captures."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: ZoneInfo = ZoneInfo("UTC")
    references: tuple[ReferenceTable, ...] = ()
    tables: tuple[TableMapping, ...] = ()

    @model_validator(mode="after")
    def _lookups_name_reference_fields(self) -> "CdcMapping":
        """A lookup step names a reference table of this file and one of its fields."""
        references = {table.table: table for table in self.references}
        for table in self.tables:
            for where, step in table.lookups():
                name, _, field = step.partition(".")
                reference = references.get(name)
                if reference is None:
                    known = ", ".join(sorted(references)) or "none declared"
                    raise ValueError(
                        f"table {table.table!r}: {where}: {step!r}: no reference table {name!r} "
                        f"(references: {known})"
                    )
                if field not in reference.fields:
                    raise ValueError(
                        f"table {table.table!r}: {where}: {step!r}: reference table {name!r} "
                        f"keeps no field {field!r} (it keeps {', '.join(sorted(reference.fields))})"
                    )
        return self

    def reference(self, name: str) -> ReferenceTable:
        """The reference table a lookup step names (validated at load)."""
        for table in self.references:
            if table.table == name:
                return table
        raise KeyError(name)

    def reference_for(self, source: dict[str, Any]) -> ReferenceTable | None:
        """The reference table a Debezium ``source`` block belongs to, if it is one."""
        return next((table for table in self.references if _matches(table, source)), None)

    @model_validator(mode="after")
    def _one_entry_per_source(self) -> "CdcMapping":
        """Two entries for the same source would make the first silently win."""
        seen: set[tuple[str, str | None, str | None]] = set()
        for table in (*self.references, *self.tables):
            source = (table.table, table.db, table.db_schema)
            if source in seen:
                raise ValueError(f"table {table.qualified_name!r}: declared twice")
            seen.add(source)
        return self

    def table_for(self, source: dict[str, Any]) -> TableMapping | None:
        """The entry for a Debezium ``source`` block: the first whose table, db and schema match.

        An entry without ``db`` or ``schema`` matches any, so list entries that
        pin a database before a catch-all entry for the same table.
        """
        name, db, schema = source.get("table"), source.get("db"), source.get("schema")
        for table in self.tables:
            if (
                table.table == name
                and (table.db is None or table.db == db)
                and (table.db_schema is None or table.db_schema == schema)
            ):
                return table
        return None


def load_mapping(path: Path) -> CdcMapping:
    """Read and validate a mapping file; every problem is reported with its table and field."""
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise MappingError(f"{path}: not valid YAML: {error}") from error
    try:
        return CdcMapping.model_validate(raw)
    except ValidationError as error:
        raise MappingError(_describe(path, raw, error)) from error


@cache
def _field_adapter(kind: str, name: str) -> TypeAdapter[Any]:
    """A validator for one field of one event kind, constraints included."""
    info = EVENT_MODELS[kind].model_fields[name]
    if not info.metadata:
        return TypeAdapter(info.annotation)
    return TypeAdapter(Annotated[(info.annotation, *info.metadata)])


def _check_field_value(kind: str, name: str, value: FieldValue, where: str) -> None:
    try:
        _field_adapter(kind, name).validate_python(value)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        raise ValueError(f"{where}={value!r}: {problem}") from None


def _describe(path: Path, raw: Any, error: ValidationError) -> str:
    """One line per problem: ``file: table 'so_line': fields.quantity: why``."""
    lines = []
    for problem in error.errors(include_url=False):
        loc = list(problem["loc"])
        parts = [str(path)]
        if len(loc) >= 2 and loc[0] in ("tables", "references") and isinstance(loc[1], int):
            parts.append(f"table {_table_name(raw, str(loc[0]), loc[1])}")
            loc = loc[2:]
        if loc:
            parts.append(".".join(str(part) for part in loc))
        parts.append(problem["msg"].removeprefix("Value error, "))
        lines.append(": ".join(parts))
    return "\n".join(lines)


def _table_name(raw: Any, section: str, index: int) -> str:
    """The name the user gave the entry, or its position when it has none."""
    try:
        return repr(raw[section][index]["table"])
    except (KeyError, IndexError, TypeError):
        return f"#{index + 1}"
