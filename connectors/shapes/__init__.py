"""ERP shapes: stockloop's plain events written as an ERP's tables would send them through CDC.

The simulator and ``stockloop produce`` write plain events (and the example
ERP's change events); with a shape they write what a real ERP's Debezium
connector would send for the same business instead, on the input topics the
ERP's mapping pack reads: ``odoo`` (``connectors/mappings/odoo17.yaml``),
``erpnext`` (``connectors/mappings/erpnext15.yaml``). ``plain`` writes the
records as they are.
"""

from collections.abc import Iterable, Iterator
from pathlib import Path

from connectors.cdc import (
    PRODUCTION_KINDS,
    InvalidRecord,
    decode_production_record,
    decode_record,
)
from connectors.mapping import CdcMapping
from connectors.shapes.debezium import Change
from connectors.shapes.erpnext import ErpnextShape
from connectors.shapes.odoo import OdooShape
from connectors.simulator import Record
from models.events import InputEvent
from models.production import BomLine, ProductionOrder
from streams.catalogue import BOMS, INPUT_KINDS, PRODUCTION_ORDERS

SHAPES = ("plain", "odoo", "erpnext")
"""The shapes ``--shape`` takes; ``plain`` is the records as they are."""

MAPPINGS = Path(__file__).parent.parent / "mappings"
PACKS = {"odoo": MAPPINGS / "odoo17.yaml", "erpnext": MAPPINGS / "erpnext15.yaml"}
EXAMPLE_MAPPING = MAPPINGS / "example-erp.yaml"
"""The mapping the simulator's records are written for."""
"""The mapping pack that reads each ERP shape (``STOCKLOOP_MAPPING_FILE``)."""

KINDS = {**INPUT_KINDS, BOMS: "bom_line", PRODUCTION_ORDERS: "production_order"}
"""The event kind of a plain record on each topic a shape rewrites."""

_MAX_BYTES = 1 << 20


class UnknownShape(ValueError):
    """A shape that is not one of ``SHAPES``."""

    def __init__(self, shape: str) -> None:
        super().__init__(f"--shape {shape!r}: unknown; known: {', '.join(SHAPES)}")


def writer(shape: str, seed: int = 0) -> OdooShape | ErpnextShape | None:
    """The writer of an ERP shape, or None for ``plain``; raises ``UnknownShape``."""
    if shape == "odoo":
        return OdooShape(seed)
    if shape == "erpnext":
        return ErpnextShape(seed)
    if shape == "plain":
        return None
    raise UnknownShape(shape)


def shaped(
    records: Iterable[Record], erp: OdooShape | ErpnextShape | None, mapping: CdcMapping
) -> Iterator[Change]:
    """The records written by ``erp`` (see ``writer``), in order (a tombstone's value None).

    Each record is read as the worker would read it with ``mapping`` (the
    example mapping for the simulator's records); what it stands for is
    written as the ERP's table changes. A record that is no event of a known
    topic (a broken one) is sent as it is: the worker refuses it in any shape.
    """
    for record in records:
        event = None if erp is None else _event(record, mapping)
        if erp is None or isinstance(event, str):
            yield Change(record.topic, record.key, record.value)
        else:
            yield from erp.write(event)


def unshapeable(records: Iterable[Record], mapping: CdcMapping) -> Iterator[str | None]:
    """For each record, why it is no event an ERP shape can write, or None if it is one."""
    for record in records:
        event = _event(record, mapping)
        yield event if isinstance(event, str) else None


def _event(record: Record, mapping: CdcMapping) -> InputEvent | ProductionOrder | BomLine | str:
    """The event a record stands for, or why it stands for none."""
    kind = KINDS.get(record.topic)
    if kind is None:
        return f"topic {record.topic!r} has no ERP shape; shaped topics: {', '.join(KINDS)}"
    decode = decode_production_record if kind in PRODUCTION_KINDS else decode_record
    try:
        event = decode(record.value, kind, mapping, _MAX_BYTES)
    except InvalidRecord as error:
        return f"not a {kind} event: {error}"
    return f"not a {kind} event: a tombstone" if event is None else event
