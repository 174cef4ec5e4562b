"""An ERP shape: plain events in, the ERP's table changes out, on the pack's input topics.

``OdooShape`` and ``ErpnextShape`` say which rows each kind of event writes;
this base dispatches an event to them at the event's time and routes each
change from the table's Debezium topic to the input topic the documented
``RegexRouter`` transforms send it to.
"""

from collections.abc import Mapping
from datetime import UTC
from typing import Any, ClassVar

import orjson

from connectors.shapes.debezium import Change, TableWriter
from models.events import (
    InputEvent,
    InTransitLine,
    MaterialMaster,
    PromotionEvent,
    SalesOrderLine,
    StockMovement,
)
from models.production import BomLine, ProductionOrder


class ErpShape:
    """Writes plain events as an ERP's tables; ``write`` returns each event's changes.

    ``material_ids`` says which ERP id each plain material became, for
    comparing what the pack reads with the plain events.
    """

    name = ""
    routes: ClassVar[Mapping[str, str]] = {}
    """The input topic of each table's Debezium topic."""

    def __init__(self, tables: TableWriter) -> None:
        self.tables = tables
        self.material_ids: dict[str, str] = {}
        self._written = 0

    def write(self, event: InputEvent | ProductionOrder | BomLine) -> list[Change]:
        """The change events, routed to their input topics, the ERP writes for one event."""
        if isinstance(event, PromotionEvent):
            return [self._promotion(event)]
        self.tables.clock = event.event_time.astimezone(UTC).replace(tzinfo=None)
        self._begin()
        match event:
            case MaterialMaster():
                self._master(event)
            case StockMovement():
                self._movement(event)
            case SalesOrderLine():
                self._sale_line(event)
            case InTransitLine():
                self._purchase_line(event)
            case BomLine():
                self._bom_line(event)
            case ProductionOrder():
                self._production(event)
        changes = self.tables.history.changes[self._written :]
        self._written = len(self.tables.history.changes)
        return [Change(self.routes[c.topic], c.key, c.value) for c in changes]

    def material_id_of(self, material_id: str) -> str:
        """The id the ERP's pack reads for a plain material (the same in every run)."""
        return material_id

    def order_id_of(self, order_id: str) -> str:
        """The id the ERP's pack reads for a plain production order (the same in every run)."""
        return order_id

    def _promotion(self, promotion: PromotionEvent) -> Change:
        """A promotion is no ERP table: it stays plain, with ``_promoted`` fields."""
        fields = promotion.model_dump(mode="json") | self._promoted(promotion)
        return Change("erp.promotions", promotion.promotion_id.encode(), orjson.dumps(fields))

    def _promoted(self, promotion: PromotionEvent) -> dict[str, Any]:
        return {}

    def _begin(self) -> None:
        """Before an event's rows are written (a transaction begins)."""

    def _master(self, master: MaterialMaster) -> None:
        raise NotImplementedError

    def _movement(self, movement: StockMovement) -> None:
        raise NotImplementedError

    def _sale_line(self, line: SalesOrderLine) -> None:
        raise NotImplementedError

    def _purchase_line(self, line: InTransitLine) -> None:
        raise NotImplementedError

    def _bom_line(self, line: BomLine) -> None:
        raise NotImplementedError

    def _production(self, order: ProductionOrder) -> None:
        raise NotImplementedError
