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
from streams.catalogue import BOMS, INPUT_KINDS, PRODUCTION_ORDERS

SHAPES = ("plain", "odoo", "erpnext")
"""The shapes ``--shape`` takes; ``plain`` is the records as they are."""

MAPPINGS = Path(__file__).parent.parent / "mappings"
PACKS = {"odoo": MAPPINGS / "odoo17.yaml", "erpnext": MAPPINGS / "erpnext15.yaml"}
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
    written as the ERP's table changes. A
    record that is no event of a known topic (a broken one, a tombstone) is
    sent as it is: the worker refuses it in any shape.
    """
    for record in records:
        kind = KINDS.get(record.topic)
        if erp is None or kind is None:
            yield Change(record.topic, record.key, record.value)
            continue
        decode = decode_production_record if kind in PRODUCTION_KINDS else decode_record
        try:
            event = decode(record.value, kind, mapping, _MAX_BYTES)
        except InvalidRecord:
            event = None
        if event is None:
            yield Change(record.topic, record.key, record.value)
            continue
        yield from erp.write(event)
