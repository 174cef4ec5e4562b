"""Inventory health across partitions: owners keep their partitions' summaries, all read them.

Two tables (``streams.app``), co-partitioned with the materials table and
written only by the material agent of the worker that owns the partition:

- ``health-materials``: each material's contribution (``MaterialHealth``),
  keyed by material id; the lists behind the dashboard rank it.
- ``health-cells``: the summary of each partition, one record per cell,
  keyed ``[partition, warehouse, category, abc]``: a summary is a few
  hundred small records to add up, not 100,000 materials.

A worker answers for all partitions by gathering its own partitions' part
and every other owner's (``streams.api_views``). Faust's global tables were
tried first: once recovered, a worker applies another worker's changelog
records to a global table only in batches of ``standby_buffer_size`` (1000),
and with 1 still never saw the other worker's cells (two workers summed
8 and 10 stock items of 18).

``PartitionHealth.record`` runs every time the material agent stores a
state. It sets the material's contribution to ``health_of(state)`` and moves
the partition's cells by the difference from the contribution stored
before. Setting, not adding, is what makes a redelivered input harmless: the
same state gives the same contribution and changes nothing. A crash can keep
some of these writes and lose others (three changelogs, no transaction), so
a worker that takes a partition over first rebuilds the partition's summary
from the contributions, and computes each material's contribution again the
first time it stores it, which repairs a contribution that was lost.
"""

import heapq
import math
from collections.abc import Callable, Collection, Iterable, Iterator, MutableMapping
from datetime import date
from functools import lru_cache
from typing import Any, TypeVar

import orjson
from aiokafka.partitioner import DefaultPartitioner
from pydantic import BaseModel, Field

from models.health import (
    SEVERITIES,
    ZERO,
    AlertRow,
    CellKey,
    HealthFilter,
    HealthSummary,
    MaterialHealth,
    RequestRow,
    Totals,
    health_of,
)
from models.state import MaterialState

Table = MutableMapping[str, bytes]
T = TypeVar("T")
MAX_PER_PAGE = 500
"""The most items one page of a list may ask for."""
REQUEST_ORDER = ("proposed", "pending_approval", "approved")
"""Open purchase request states in the order a request moves through them."""
_partitioner = DefaultPartitioner()


def partition_of(material_id: str, partitions: int) -> int:
    """The partition of stockloop.material-events a material id is keyed to (as the producer)."""
    every = list(range(partitions))
    return _partitioner(material_id.encode(), every, every)


def cell_key(partition: int, cell: CellKey) -> str:
    """The record key of one partition's summary cell.

    >>> cell_key(2, ("W1", "fabric", "A"))
    '[2,"W1","fabric","A"]'
    """
    return orjson.dumps([partition, *cell]).decode()


@lru_cache(maxsize=65_536)
def _parsed_key(key: str) -> tuple[int, CellKey]:
    partition, warehouse, category, abc = orjson.loads(key)
    return partition, (warehouse, category, abc)


@lru_cache(maxsize=65_536)
def _parsed_totals(stored: bytes) -> Totals:
    return Totals(*orjson.loads(stored))


def _text(key: str | bytes) -> str:
    return key.decode() if isinstance(key, bytes) else key


class PartitionHealth:
    """The inventory-health summaries of the partitions this worker owns, kept by every store.

    ``materials`` and ``cells`` are the two tables (any mapping of text keys
    to bytes); ``partition_of`` maps a material id to its partition. A
    summary is held in memory from the first store in its partition after
    an assignment until ``forget`` (partitions revoked).
    """

    def __init__(self, materials: Table, cells: Table, partition_of: Callable[[str], int]) -> None:
        self._materials = materials
        self._cells = cells
        self._partition_of = partition_of
        self._summaries: dict[int, HealthSummary] = {}
        self._recorded: dict[str, int] = {}

    def record(self, state: MaterialState, version: bytes | None = None) -> None:
        """Set a material's contribution to what its state adds now; move its partition's cells.

        ``version`` is the state as stored: a version this worker recorded
        before (since its partitions were last assigned) is not computed
        again, so quiet materials and redeliveries cost one hash.
        """
        material_id = state.material_id
        partition = self._partition_of(material_id)
        summary = self._summaries.get(partition)
        if summary is None:
            summary = self._summaries[partition] = self.rebuild(partition)
        if version is not None:
            seen = hash(version)
            if self._recorded.get(material_id) == seen:
                return
            self._recorded[material_id] = seen
        health = health_of(state)
        stored = health.__pydantic_serializer__.to_json(health)
        previous = self._materials.get(material_id)
        if stored == previous:
            return
        old = None if previous is None else MaterialHealth.model_validate_json(previous)
        self._materials[material_id] = stored
        for cell in summary.replace(old, health):
            self._publish(partition, cell, summary.cells.get(cell))

    def rebuild(self, partition: int) -> HealthSummary:
        """A partition's summary recomputed from its materials' contributions, and published.

        Cells that differ from what the cells table holds are written; cells
        it holds that the partition no longer has are deleted.
        """
        summary = HealthSummary.of(
            MaterialHealth.model_validate_json(stored)
            for key, stored in list(self._materials.items())
            if self._partition_of(_text(key)) == partition
        )
        stale = {
            key for key in map(_text, list(self._cells.keys())) if _parsed_key(key)[0] == partition
        }
        for cell, totals in summary:
            stale.discard(cell_key(partition, cell))
            self._publish(partition, cell, totals)
        for key in stale:
            del self._cells[key]
        return summary

    def forget(self) -> None:
        """Drop the summaries held: after a rebalance, another worker may have moved them on."""
        self._summaries.clear()
        self._recorded.clear()

    def _publish(self, partition: int, cell: CellKey, totals: Totals | None) -> None:
        key = cell_key(partition, cell)
        if totals is None:
            self._cells.pop(key, None)
            return
        stored = orjson.dumps(list(totals))
        if self._cells.get(key) != stored:
            self._cells[key] = stored


def merged_summary(
    cells: Iterable[tuple[str | bytes, bytes]], partitions: Collection[int] | None = None
) -> HealthSummary:
    """The cells of ``partitions`` (default: all the records hold) added up."""
    summary = HealthSummary()
    merged = summary.cells
    for key, stored in cells:
        partition, cell = _parsed_key(_text(key))
        if partitions is not None and partition not in partitions:
            continue
        totals = _parsed_totals(stored)
        held = merged.get(cell)
        merged[cell] = totals if held is None else held.plus(totals)
    return summary


def summary_cells(summary: HealthSummary) -> list[list[object]]:
    """A summary as JSON-ready rows ``[warehouse, category, abc, *totals]``, to merge elsewhere."""
    return [[*cell, *totals] for cell, totals in summary]


def summary_from_cells(parts: Iterable[Iterable[list[object]]]) -> HealthSummary:
    """The summary of several workers' ``summary_cells``, added up."""
    summary = HealthSummary()
    for rows in parts:
        for warehouse, category, abc, *numbers in rows:
            summary.add((str(warehouse), str(category), str(abc)), Totals(*numbers))
    return summary


class HealthRows:
    """Every material's contribution, parsed once per version, for the lists behind the summary.

    A contribution is parsed again only when its stored bytes change; the
    cache holds one entry per material (about 1 KB), with its partition.
    """

    def __init__(self, partition_of: Callable[[str], int]) -> None:
        self._partition_of = partition_of
        self._parsed: dict[str, tuple[bytes, int, MaterialHealth]] = {}

    def read(
        self,
        materials: Iterable[tuple[str | bytes, bytes]],
        partitions: Collection[int] | None = None,
    ) -> Iterator[MaterialHealth]:
        """The contributions the table holds now, of ``partitions`` (default: all)."""
        for key, stored in materials:
            material_id = _text(key)
            cached = self._parsed.get(material_id)
            if cached is None or cached[0] != stored:
                health = MaterialHealth.model_validate_json(stored)
                partition = cached[1] if cached else self._partition_of(material_id)
                cached = self._parsed[material_id] = (stored, partition, health)
            if partitions is None or cached[1] in partitions:
                yield cached[2]


class Ranked(BaseModel):
    """The top rows of a ranked list from some partitions, ready to merge with other workers'.

    ``rows`` pairs each row with its rank key (ascending); ``total`` counts
    every row inside the filter, not only the ones sent; ``by_status``
    counts requests by state (empty for the other lists).
    """

    total: int = 0
    rows: list[tuple[list[Any], dict[str, Any]]] = Field(default_factory=list)
    by_status: dict[str, int] = Field(default_factory=dict)

    def merge(self, other: "Ranked") -> "Ranked":
        """Both workers' rows in one ranking; each sent enough rows for the page asked."""
        by_status = dict(self.by_status)
        for status, count in other.by_status.items():
            by_status[status] = by_status.get(status, 0) + count
        return Ranked(
            total=self.total + other.total,
            rows=sorted([*self.rows, *other.rows], key=lambda r: r[0]),
            by_status=by_status,
        )


class Listing(BaseModel):
    """One page of a ranked list: which page, how many in all, and the items on it."""

    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=MAX_PER_PAGE)
    total: int
    pages: int
    items: list[dict[str, Any]]


def page_of(ranked: Ranked, page: int, per_page: int) -> Listing:
    """Page ``page`` of a merged ranking (its rows must reach at least to that page's end)."""
    start = (page - 1) * per_page
    return Listing(
        page=page,
        per_page=per_page,
        total=ranked.total,
        pages=max(math.ceil(ranked.total / per_page), 1),
        items=[row for _, row in ranked.rows[start : start + per_page]],
    )


def _top(ranked: list[tuple[list[Any], T]], limit: int, row: Callable[[T], dict[str, Any]]):
    top = heapq.nsmallest(limit, ranked, key=lambda r: r[0])
    return [(key, row(item)) for key, item in top]


def rank_materials(
    healths: Iterable[MaterialHealth], health_filter: HealthFilter, limit: int
) -> Ranked:
    """The materials behind a summary (or one of its cells), highest value at risk first.

    A row's numbers cover the material's warehouses inside the filter; ties
    in value at risk go to the larger value on hand, then the material id.
    """
    ranked = []
    for health in healths:
        warehouses = health_filter.warehouses_of(health)
        if warehouses:
            # Only the two numbers that rank; a row's full totals only for the rows sent.
            at_risk = value = 0
            for warehouse_id in warehouses:
                totals = health.stocks[warehouse_id]
                at_risk += totals.value_at_risk
                value += totals.value
            ranked.append(([-at_risk, -value, health.material_id], (health, warehouses)))

    def row(item: tuple[MaterialHealth, list[str]]) -> dict[str, Any]:
        health, warehouses = item
        totals = ZERO
        for warehouse_id in warehouses:
            totals = totals.plus(health.stocks[warehouse_id])
        return {
            "material_id": health.material_id,
            "name": health.name,
            "category": health.category,
            "abc_class": health.abc_class,
            "warehouses": warehouses,
            "as_of": health.as_of.isoformat() if health.as_of else None,
            "worst_severity": totals.worst_severity,
            **totals.report(),
        }

    return Ranked(total=len(ranked), rows=_top(ranked, limit, row))


def rank_alerts(
    healths: Iterable[MaterialHealth], health_filter: HealthFilter, limit: int
) -> Ranked:
    """Open alerts inside the filter, highest value at risk first, then the worse severity."""
    rank = {severity: n for n, severity in enumerate(SEVERITIES)}
    ranked = []
    for health in healths:
        if health.alerts:
            warehouses = health_filter.warehouses_of(health)
            ranked += [
                (
                    [-alert.value_at_risk, rank.get(alert.severity, len(rank)), alert.key],
                    (health, alert),
                )
                for alert in health.alerts
                if alert.warehouse_id in warehouses
                and health_filter.severity in (None, alert.severity)
            ]

    def row(item: tuple[MaterialHealth, AlertRow]) -> dict[str, Any]:
        health, alert = item
        return {
            **alert.model_dump(mode="json"),
            "name": health.name,
            "category": health.category,
            "abc_class": health.abc_class,
        }

    return Ranked(total=len(ranked), rows=_top(ranked, limit, row))


def rank_requests(
    healths: Iterable[MaterialHealth], health_filter: HealthFilter, status: str | None, limit: int
) -> Ranked:
    """Open purchase requests inside the filter, with how many there are in each state.

    Ranked by state (proposed, pending approval, approved), then the date
    they are needed by, then the larger amount.
    """
    unfiltered = health_filter.model_copy(update={"severity": None})
    by_status = dict.fromkeys(REQUEST_ORDER, 0)
    ranked = []
    for health in healths:
        if health.requests:
            warehouses = unfiltered.warehouses_of(health)
            for request in health.requests:
                if request.warehouse_id not in warehouses:
                    continue
                by_status[request.status] = by_status.get(request.status, 0) + 1
                if status in (None, request.status):
                    order = (
                        REQUEST_ORDER.index(request.status)
                        if request.status in REQUEST_ORDER
                        else 9
                    )
                    needed_by = (request.needed_by or date.max).isoformat()
                    key = [order, needed_by, -request.amount, request.request_id]
                    ranked.append((key, (health, request)))

    def row(item: tuple[MaterialHealth, RequestRow]) -> dict[str, Any]:
        health, request = item
        return {**request.model_dump(mode="json"), "name": health.name, "category": health.category}

    return Ranked(total=len(ranked), rows=_top(ranked, limit, row), by_status=by_status)
