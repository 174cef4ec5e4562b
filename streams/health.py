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

``PartitionHealth.record`` runs once per commit for each material the
agent stored since the last (``streams.material_states``). It sets the
material's contribution to ``health_of(state)`` and moves the partition's
summary by the difference from the contribution stored before; ``publish``
then writes each cell that moved once, not once per material that moved
it (about two cell records per material before). Setting, not
adding, is what makes a redelivered input harmless: the same state gives
the same contribution and changes nothing. A crash can keep
some of these writes and lose others (three changelogs, no transaction), so
a worker that takes a partition over first rebuilds the partition's summary
from the contributions, and computes each material's contribution again the
first time it stores it, which repairs a contribution that was lost.

The lists (``/api/materials``, ``/api/alerts``, ``/api/requests``) are
read from ranking indexes (``models.ranking``), one per partition this
worker owns, kept by the same hook: a page is the first rows of a sorted
list, not a sort of every material (``HealthRankings``). A page deep in a
list is placed without sending every key before it: each owner sends its
total and a sample of its keys for each of its partitions
(``local_sampled``), the worker asked bounds the page between two of them
(``page_bounds``), each owner sends its keys between the bounds and how
many it has before, per partition (``local_window``), and the page's rows
alone are built, by their owners (``page_keys``, ``rows_of``). A list the
index keeps exactly (no filter, or one category, warehouse or severity)
is sampled by position and cut by bisection: a page costs the same at
any depth.
"""

import math
import weakref
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, MutableMapping, Sequence
from functools import lru_cache
from itertools import chain, islice, repeat
from typing import Any

import orjson
from aiokafka.partitioner import DefaultPartitioner
from pydantic import BaseModel, Field

from models.health import (
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
from models.ranking import Entry, HealthIndex, Listed
from models.state import MaterialState

Table = MutableMapping[str, bytes]
MAX_PER_PAGE = 500
"""The most items one page of a list may ask for."""
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
    """The inventory-health summaries of the partitions this worker owns, kept by every commit.

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
        self._moved: dict[int, set[CellKey]] = {}
        """The cells of each partition that moved since they were last published."""
        self.rankings = rankings_of(materials, partition_of)

    def record(self, state: MaterialState, version: bytes | None = None) -> None:
        """Set a material's contribution to what its state adds now; move its partition's summary.

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
        self.rankings.set(partition, health)
        self._moved.setdefault(partition, set()).update(summary.replace(old, health))

    def publish(self, partition: int | None = None) -> None:
        """Write the cells of ``partition`` (or of every partition) that moved since last time."""
        for moved in [partition] if partition is not None else list(self._moved):
            cells = self._moved.pop(moved, set())
            summary = self._summaries.get(moved)
            if summary is not None:
                for cell in sorted(cells):
                    self._publish(moved, cell, summary.cells.get(cell))

    def rebuild(self, partition: int) -> HealthSummary:
        """A partition's summary recomputed from its materials' contributions, and published.

        Cells that differ from what the cells table holds are written; cells
        it holds that the partition no longer has are deleted.
        """
        healths = [
            MaterialHealth.model_validate_json(stored)
            for key, stored in list(self._materials.items())
            if self._partition_of(_text(key)) == partition
        ]
        summary = HealthSummary.of(healths)
        self.rankings.adopt(partition, healths)
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
        self._moved.clear()
        self.rankings.forget()

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


Key = tuple[Any, ...]
"""A row's rank key (its parts, ascending: best first) followed by its material's id."""

MAX_SAMPLES = 256
"""The most sampled keys an owner sends for one list (``sample_step``)."""


def sample_step(limit: int, per_page: int) -> int:
    """Every how many rows an owner samples its first ``limit`` keys: a page, or more.

    >>> sample_step(50, 50), sample_step(100_000, 50)
    (50, 391)
    """
    return max(per_page, -(-limit // MAX_SAMPLES))


class Sampled(BaseModel):
    """An owner's first answer for a list: how many rows it has, and a sample of their keys.

    ``samples`` are the keys at its ranks 0, ``step``, 2 x ``step``, ... below
    the page's end: from them the worker asked bounds where the page can lie
    (``page_bounds``) without every key before it. ``total`` counts every
    row inside the filter; ``by_status`` counts requests by state (empty for
    the other lists).
    """

    total: int = 0
    step: int = 1
    samples: list[Key] = Field(default_factory=list)
    by_status: dict[str, int] = Field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The answer as JSON-ready values (its keys are already)."""
        return {
            "total": self.total,
            "step": self.step,
            "samples": self.samples,
            "by_status": self.by_status,
        }


class Window(BaseModel):
    """An owner's keys between two bounds: how many of its keys lie before, and those between."""

    before: int
    keys: list[Key]


def page_bounds(parts: Sequence[Sampled], start: int, end: int) -> tuple[Key | None, Key | None]:
    """Keys ``low`` and ``high`` such that every row ranked from ``start`` to ``end`` lies between.

    If an owner has ``c`` of its samples before a key, at most ``c x step``
    of its rows are (any number up to all of them if every sample is), and
    at least ``(c - 1) x step + 1``. ``low`` is the last sample
    that at most ``start`` rows can precede (None: the first row), ``high``
    the first that at least ``end`` rows must (None: past the last).

    >>> part = Sampled(total=6, step=2, samples=[(1,), (3,), (5,)])
    >>> other = Sampled(total=6, step=2, samples=[(2,), (4,), (6,)])
    >>> page_bounds([part, other], 6, 8)
    ((4,), (6,))
    """
    candidates = sorted({key for part in parts for key in part.samples})

    def most_before(key: Key) -> int:
        count = 0
        for part in parts:
            c = bisect_left(part.samples, key)
            count += part.total if c == len(part.samples) else c * part.step
        return count

    def least_before(key: Key) -> int:
        return sum(max((bisect_left(p.samples, key) - 1) * p.step + 1, 0) for p in parts)

    low = None
    for key in candidates:
        if most_before(key) > start:
            break
        low = key
    high = next((key for key in candidates if least_before(key) >= end), None)
    return low, high


def page_keys(windows: Sequence[Window], start: int, per_page: int) -> list[tuple[int, Key]]:
    """The keys of the page that begins at rank ``start``, each with its owner's index.

    Every window holds its owner's keys between the same two bounds, which
    enclose the page (``page_bounds``); the keys before them place the page.

    >>> first = Window(before=1, keys=[(-9, "M2"), (-1, "M4")])
    >>> second = Window(before=2, keys=[(-5, "M1"), (-3, "M3")])
    >>> page_keys([first, second], 4, 2)
    [(1, (-5, 'M1')), (1, (-3, 'M3'))]
    """
    skip = start - sum(window.before for window in windows)
    # Each window is sorted: one sort merges the runs in C (heapq.merge steps in Python).
    merged = sorted(
        chain.from_iterable(zip(window.keys, repeat(n)) for n, window in enumerate(windows))
    )
    return [(n, key) for key, n in merged[max(skip, 0) : skip + per_page]]


class Listing(BaseModel):
    """One page of a ranked list: which page, how many in all, and the items on it."""

    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=MAX_PER_PAGE)
    total: int
    pages: int
    items: list[dict[str, Any]]


def listing_of(total: int, page: int, per_page: int, items: list[dict[str, Any]]) -> Listing:
    """Page ``page`` of a list of ``total`` rows, its ``items`` those on it."""
    return Listing(
        page=page,
        per_page=per_page,
        total=total,
        pages=max(math.ceil(total / per_page), 1),
        items=items,
    )


@lru_cache(maxsize=8192)
def _parsed_health(stored: bytes) -> MaterialHealth:
    """A stored contribution parsed; cached, as a refreshing page shows the same rows again."""
    return MaterialHealth.model_validate_json(stored)


class HealthRankings:
    """The ranking indexes (``models.ranking.HealthIndex``) of the partitions this worker owns.

    A partition's index is built from the contributions table when it is
    first asked for (or from the parse ``PartitionHealth.rebuild`` does
    anyway), then kept by every contribution set. ``forget`` drops them all
    when partitions are revoked: the table of a partition that comes back
    is restored from its changelog, not through the hook, so its index is
    built again from the table.
    """

    def __init__(self, materials: Table, partition_of: Callable[[str], int]) -> None:
        self._materials = materials
        self._partition_of = partition_of
        self._indexes: dict[int, HealthIndex] = {}

    def index(self, partitions: Collection[int]) -> list[HealthIndex]:
        """The indexes of ``partitions``, those not held built in one pass over the table."""
        missing = set(partitions) - self._indexes.keys()
        if missing:
            healths: dict[int, list[MaterialHealth]] = {partition: [] for partition in missing}
            for key, stored in list(self._materials.items()):
                held = healths.get(self._partition_of(_text(key)))
                if held is not None:
                    held.append(MaterialHealth.model_validate_json(stored))
            for partition, held in healths.items():
                self._indexes[partition] = HealthIndex.of(held)
        return [self._indexes[partition] for partition in sorted(partitions)]

    def adopt(self, partition: int, healths: Iterable[MaterialHealth]) -> None:
        """Build a partition's index from its contributions, parsed already, unless it is held."""
        if partition not in self._indexes:
            self._indexes[partition] = HealthIndex.of(healths)

    def set(self, partition: int, health: MaterialHealth) -> None:
        """A material's contribution changed: move its rows (if its partition's index is held)."""
        index = self._indexes.get(partition)
        if index is not None:
            index.set(health)

    def forget(self) -> None:
        """Drop every index: after a rebalance, another worker may have moved the rows on."""
        self._indexes.clear()

    def health(self, material_id: str) -> MaterialHealth | None:
        """A material's contribution as the table holds it (a row to show)."""
        stored = self._materials.get(material_id)
        return None if stored is None else _parsed_health(stored)


_rankings: "weakref.WeakValueDictionary[int, HealthRankings]" = weakref.WeakValueDictionary()


def rankings_of(materials: Table, partition_of: Callable[[str], int]) -> HealthRankings:
    """The ranking indexes of a contributions table in this process: one per table.

    The material agent's hook (``PartitionHealth``) keeps them, the API
    (``streams.api_views``) reads them, and a view must not import the
    agent that holds the hook: so both ask for the indexes of the table
    they share. An entry lives while someone holds the indexes, which hold
    the table, so its id cannot be reused meanwhile.
    """
    rankings = _rankings.get(id(materials))
    if rankings is None:
        rankings = _rankings[id(materials)] = HealthRankings(materials, partition_of)
    return rankings


def material_row(health: MaterialHealth, warehouses: list[str]) -> dict[str, Any]:
    """A material as the materials list shows it: its numbers over ``warehouses``."""
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


def alert_row(health: MaterialHealth, alert: AlertRow) -> dict[str, Any]:
    """An open alert as the alerts list shows it, with its material's name and class."""
    return {
        **alert.model_dump(mode="json"),
        "name": health.name,
        "category": health.category,
        "abc_class": health.abc_class,
    }


def request_row(health: MaterialHealth, request: RequestRow) -> dict[str, Any]:
    """An open purchase request as the requests list shows it."""
    return {**request.model_dump(mode="json"), "name": health.name, "category": health.category}


def _listed(
    rankings: HealthRankings,
    kind: str,
    health_filter: HealthFilter,
    status: str | None,
    partitions: Collection[int],
) -> list[tuple[Listed, dict[str, int]]]:
    """Each partition's rows of a list (in partition order), and its requests by state."""
    answers = []
    for index in rankings.index(partitions):
        if kind == "materials":
            answers.append((index.materials(health_filter), {}))
        elif kind == "alerts":
            answers.append((index.alerts(health_filter), {}))
        else:
            by_status = index.requests_by_status(health_filter)
            answers.append((index.requests(health_filter, status), by_status))
    return answers


def _key(entry: Entry) -> Key:
    return entry[:-2] + entry[-1:]


def local_sampled(
    rankings: HealthRankings,
    kind: str,
    health_filter: HealthFilter,
    status: str | None,
    partitions: Collection[int],
    limit: int,
    step: int,
) -> list[Sampled]:
    """Per partition: a list's total and the keys of every ``step``-th of its first ``limit``.

    Where the index keeps exactly the filter's rows in one sorted list, the
    samples are read by position; otherwise the first ``limit`` are walked.
    """
    parts = []
    for listed, by_status in _listed(rankings, kind, health_filter, status, partitions):
        if listed.exact is not None:
            exact = listed.exact
            picked = (exact[at] for at in range(0, min(limit, len(exact)), step))
        else:
            picked = islice(listed.rows, 0, limit, step)
        samples = [_key(entry) for entry in picked]
        parts.append(
            Sampled.model_construct(
                total=listed.total, step=step, samples=samples, by_status=by_status
            )
        )
    return parts


def local_window(
    rankings: HealthRankings,
    kind: str,
    health_filter: HealthFilter,
    status: str | None,
    partitions: Collection[int],
    limit: int,
    bounds: tuple[Key | None, Key | None],
) -> list[Window]:
    """Per partition: the keys of a list's first ``limit`` rows from ``low`` up to ``high``.

    A bound None is none. Where the index keeps exactly the filter's rows
    in one sorted list, the window is found by bisection.
    """
    low, high = (None if key is None else tuple(key[:-1]) for key in bounds)
    windows = []
    for listed, _ in _listed(rankings, kind, health_filter, status, partitions):
        if listed.exact is not None:
            exact = listed.exact
            first = 0 if low is None else exact.bisect_left(low)
            last = min(limit, len(exact) if high is None else exact.bisect_left(high))
            keys = [_key(entry) for entry in exact.islice(first, max(first, last))]
        else:
            first, keys = 0, []
            for entry in islice(listed.rows, limit):
                if low is not None and entry < low:
                    first += 1
                elif high is not None and entry >= high:
                    break
                else:
                    keys.append(_key(entry))
        windows.append(Window.model_construct(before=first, keys=keys))
    return windows


def rows_of(
    rankings: HealthRankings,
    kind: str,
    health_filter: HealthFilter,
    keys: Iterable[Sequence[Any]],
) -> list[dict[str, Any] | None]:
    """The rows of these rank keys (``local_top``'s), each from its material's contribution.

    None for a row that left the list since its key was sent (its alert
    resolved, its request ordered, its material moved to another worker).
    """
    rows: list[dict[str, Any] | None] = []
    for key in keys:
        health = rankings.health(key[-1])
        if health is None:
            rows.append(None)
        elif kind == "materials":
            rows.append(material_row(health, health_filter.warehouses_of(health)))
        elif kind == "alerts":
            alert = next((a for a in health.alerts if a.key == key[2]), None)
            rows.append(None if alert is None else alert_row(health, alert))
        else:
            request = next((r for r in health.requests if r.request_id == key[3]), None)
            rows.append(None if request is None else request_row(health, request))
    return rows
