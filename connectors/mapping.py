"""The CDC mapping: which ERP table feeds which input event, column by column.

An ERP's tables are not stockloop's events. One mapping file per ERP
installation says, for every table Debezium captures, which event kind its rows
become, which column feeds which event field, how a column is encoded when the
change events carry no schema (``JsonConverter`` with ``schemas.enable=false``),
how ERP codes translate into stockloop's values, and which columns identify a
row. ``connectors/mappings/example-erp.yaml`` is a complete example.

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

A column without an encoding passes its JSON value through unchanged (strings,
numbers, booleans; string-mode decimals such as ``"12.50"``). ERP codes are
compared as text with surrounding blanks removed, so quote them in YAML
(``"101"``, ``"Y"``): YAML reads an unquoted ``NO`` as false.

Fields that never come from a column: ``kind`` (the table's), ``event_id``
(from ``event_id_columns``, else from ``key_columns`` and the change's source
position) and, unless a column is mapped to it, ``event_time``
(``source.ts_ms``).
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


class MappingError(ValueError):
    """A mapping file stockloop cannot use; the message names the file, table and field."""


class ColumnMapping(BaseModel):
    """How one ERP column feeds one event field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    column: Name
    encoding: Encoding | None = None
    scale: int | None = Field(None, description="Digits after the point of a decimal column.")
    values: dict[str, FieldValue] | None = Field(None, description="ERP code -> event value.")

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

    @model_validator(mode="after")
    def _scale_goes_with_decimal(self) -> "ColumnMapping":
        if self.encoding is Encoding.DECIMAL and self.scale is None:
            raise ValueError("the decimal encoding needs a scale (digits after the point)")
        if self.encoding is not Encoding.DECIMAL and self.scale is not None:
            raise ValueError("scale only applies to the decimal encoding")
        return self


class TableMapping(BaseModel):
    """One captured ERP table: the event kind its rows become and where each field comes from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: Name
    db: Name | None = None
    db_schema: Name | None = Field(None, alias="schema")
    kind: EventKind
    key_columns: tuple[Name, ...] = Field(min_length=1)
    event_id_columns: tuple[Name, ...] | None = Field(None, min_length=1)
    fields: dict[str, ColumnMapping]
    defaults: dict[str, FieldValue] = Field(default_factory=dict)

    @field_validator("fields", mode="before")
    @classmethod
    def _column_shorthand(cls, fields: Any) -> Any:
        """``field: column`` is short for ``field: {column: column}``, the common case."""
        if not isinstance(fields, dict):
            return fields
        return {
            name: {"column": spec} if isinstance(spec, str) else spec
            for name, spec in fields.items()
        }

    @model_validator(mode="after")
    def _fields_fit_the_event(self) -> "TableMapping":
        """Catch a misspelt field, an unmapped required field or a wrong code value at load time."""
        known = EVENT_MODELS[self.kind].model_fields
        mappable = sorted(set(known) - _DERIVED_FIELDS)
        for name in self.fields:
            if name not in mappable:
                raise ValueError(
                    f"fields.{name}: {self.kind} events have no such field; "
                    f"expected one of {', '.join(mappable)}"
                )
        for name in self.defaults:
            if name in _NO_DEFAULT_FIELDS or name not in known:
                raise ValueError(
                    f"defaults.{name}: {self.kind} events have no such field taking a default"
                )
        unmapped = [
            name
            for name, info in known.items()
            if info.is_required()
            and name not in _NO_DEFAULT_FIELDS
            and name not in self.fields
            and name not in self.defaults
        ]
        if unmapped:
            raise ValueError(
                f"fields: {', '.join(unmapped)} required by {self.kind} events but not mapped; "
                "map a column or give a default"
            )
        for name, column in self.fields.items():
            for code, value in (column.values or {}).items():
                _check_field_value(self.kind, name, value, f"fields.{name}.values[{code!r}]")
        for name, value in self.defaults.items():
            _check_field_value(self.kind, name, value, f"defaults.{name}")
        return self

    @property
    def qualified_name(self) -> str:
        """The table as Debezium names it, ``db.schema.table`` with what the entry pins."""
        return ".".join(part for part in (self.db, self.db_schema, self.table) if part)


class CdcMapping(BaseModel):
    """A whole mapping file: the ERP's time zone and the tables it captures."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: ZoneInfo = ZoneInfo("UTC")
    tables: tuple[TableMapping, ...] = ()

    @model_validator(mode="after")
    def _one_entry_per_source(self) -> "CdcMapping":
        """Two entries for the same source would make the first silently win."""
        seen: set[tuple[str, str | None, str | None]] = set()
        for table in self.tables:
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
        if len(loc) >= 2 and loc[0] == "tables" and isinstance(loc[1], int):
            parts.append(f"table {_table_name(raw, loc[1])}")
            loc = loc[2:]
        if loc:
            parts.append(".".join(str(part) for part in loc))
        parts.append(problem["msg"].removeprefix("Value error, "))
        lines.append(": ".join(parts))
    return "\n".join(lines)


def _table_name(raw: Any, index: int) -> str:
    """The name the user gave the entry, or its position when it has none."""
    try:
        return repr(raw["tables"][index]["table"])
    except (KeyError, IndexError, TypeError):
        return f"#{index + 1}"
