"""The dashboard's ranked lists, kept in order as materials change: a page is a walk, not a sort.

``/api/materials`` and ``/api/alerts`` show the top rows of a filter out of
100,000 materials. Sorting every material of the filter on each request
takes seconds; keeping the rows sorted as each material's contribution is
set costs a few inserts per change, and a page is then the first rows of
a sorted list.

``RankIndex`` is the structure: rows in rank order, in a list of all rows
and in the list of each of their label values (warehouse ``W1``, category
``yarn``, ...) where a filter on it keeps few rows, with a count for every
combination of fixed labels. A filter walks the shortest list among its
fixed labels and keeps the rows whose other labels match; the count is
the total (``tests/unit/models/test_ranking.py`` checks pages and totals
against a full sort after any sequence of changes).

``HealthIndex`` holds the lists of some materials (one partition's) as
``RankIndex`` families: a material's rank key depends on which warehouses
a filter keeps (its value at risk in one warehouse, or over its warehouses
with a critical alert), so materials are ranked in four families, by
whether the filter names a warehouse and a severity; alerts and purchase
requests rank the same whatever the filter. ``HealthIndex.set`` replaces
everything a material put in, so setting the same contribution again (a
redelivery) changes nothing.
"""

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from itertools import chain, islice, product
from typing import Any, NamedTuple

from sortedcontainers import SortedList

from models.health import SEVERITIES, HealthFilter, MaterialHealth

Entry = tuple[Any, ...]
"""A row: its rank key's parts (ascending: best first), then its labels and its owner."""

REQUEST_ORDER = ("proposed", "pending_approval", "approved")
"""Open purchase request states in the order a request moves through them."""

_SEVERITY_RANK = {severity: n for n, severity in enumerate(SEVERITIES)}


class RankIndex:
    """Rows in rank order, in one list per label value, with a count for every filter.

    An entry is a rank key's parts followed by the row's labels (one value
    per dimension, a tuple) and its owner (the material that put it in).
    ``where`` maps dimensions to the value they must have; a dimension left
    out, or None, is not filtered. Only the ``listed`` dimensions (default:
    all) have lists of their own; a filter on the others walks a list and
    filters, which saves an insert per row where a list would seldom be
    the shortest. Without ``everything``, no list of all rows is kept, and
    a filter must fix a listed dimension.

    >>> index = RankIndex(("warehouse", "category"))
    >>> index.add((-5, "M1", ("W1", "yarn"), "M1"))
    >>> index.add((-2, "M1", ("W2", "yarn"), "M1"))
    >>> index.add((-9, "M2", ("W1", "fabric"), "M2"))
    >>> [entry[:2] for entry in index.top({"warehouse": "W1"})]
    [(-9, 'M2'), (-5, 'M1')]
    >>> index.count({"category": "yarn"}), index.count({"warehouse": "W1", "category": "yarn"})
    (2, 1)
    """

    def __init__(
        self,
        dimensions: tuple[str, ...],
        listed: tuple[str, ...] | None = None,
        everything: bool = True,
    ) -> None:
        self.dimensions = dimensions
        self._listed = tuple(
            n for n, dimension in enumerate(dimensions) if listed is None or dimension in listed
        )
        self._all = SortedList() if everything else None
        self._lists: dict[tuple[int, str], SortedList] = {}
        self._counts: Counter[tuple[str | None, ...]] = Counter()

    def add(self, entry: Entry) -> None:
        """Put a row in its place in every list it belongs to."""
        if self._all is not None:
            self._all.add(entry)
        labels = entry[-2]
        for position in self._listed:
            rows = self._lists.get((position, labels[position]))
            if rows is None:
                rows = self._lists[(position, labels[position])] = SortedList()
            rows.add(entry)
        for pattern in product(*((value, None) for value in labels)):
            self._counts[pattern] += 1

    def update(self, entries: Iterable[Entry]) -> None:
        """Put many rows in at once: each list is sorted once (building a partition's index)."""
        grouped: dict[tuple[int, str], list[Entry]] = {}
        every = []
        for entry in entries:
            every.append(entry)
            labels = entry[-2]
            for position in self._listed:
                grouped.setdefault((position, labels[position]), []).append(entry)
            for pattern in product(*((value, None) for value in labels)):
                self._counts[pattern] += 1
        if self._all is not None:
            self._all.update(every)
        for label, rows in grouped.items():
            self._lists.setdefault(label, SortedList()).update(rows)

    def remove(self, entry: Entry) -> None:
        """Take a row out of every list (it must be in)."""
        if self._all is not None:
            self._all.remove(entry)
        labels = entry[-2]
        for position in self._listed:
            rows = self._lists[(position, labels[position])]
            rows.remove(entry)
            if not rows:
                del self._lists[(position, labels[position])]
        for pattern in product(*((value, None) for value in labels)):
            self._counts[pattern] -= 1
            if not self._counts[pattern]:
                del self._counts[pattern]

    def count(self, where: Mapping[str, str | None]) -> int:
        """How many rows the filter keeps."""
        return self._counts.get(self._pattern(where), 0)

    def top(self, where: Mapping[str, str | None]) -> Iterator[Entry]:
        """The rows the filter keeps, best first: a walk of the shortest list it can use."""
        fixed = [(n, value) for n, value in enumerate(self._pattern(where)) if value is not None]
        usable = [(n, value) for n, value in fixed if n in self._listed]
        if not usable:
            if self._all is None:
                listed = [self.dimensions[n] for n in self._listed]
                raise ValueError(f"a filter of {self.dimensions} must fix one of {listed}")
            lists = [self._all]
        else:
            lists = [self._lists.get(label) for label in usable]
        if any(rows is None for rows in lists):
            return
        shortest = min(lists, key=len)  # type: ignore[arg-type, return-value]
        if self.exact(where) is shortest:
            # No label to check (a deep page walks tens of thousands of rows).
            yield from shortest  # type: ignore[misc]
            return
        for entry in shortest:  # type: ignore[union-attr]
            labels = entry[-2]
            if all(labels[n] == value for n, value in fixed):
                yield entry

    def exact(self, where: Mapping[str, str | None]) -> SortedList | None:
        """The list that holds exactly the rows the filter keeps, if one does.

        Then a row's rank among them is its position: a deep page finds its
        place by bisection instead of a walk (``streams.health``).

        >>> index = RankIndex(("warehouse", "category"), listed=("warehouse",))
        >>> index.add((-5, "M1", ("W1", "yarn"), "M1"))
        >>> len(index.exact({"warehouse": "W1"})), index.exact({"category": "yarn"})
        (1, None)
        """
        fixed = [(n, value) for n, value in enumerate(self._pattern(where)) if value is not None]
        if not fixed:
            return self._all
        if len(fixed) == 1 and fixed[0][0] in self._listed:
            return self._lists.get(fixed[0], _EMPTY)
        return None

    def values(self, dimension: str) -> list[str]:
        """The values a listed dimension has among the rows, sorted."""
        position = self.dimensions.index(dimension)
        return sorted(value for n, value in self._lists if n == position)

    def __len__(self) -> int:
        return self._counts.get((None,) * len(self.dimensions), 0)

    def _pattern(self, where: Mapping[str, str | None]) -> tuple[str | None, ...]:
        unknown = set(where) - set(self.dimensions)
        if unknown:
            raise ValueError(f"filter {sorted(unknown)}: not dimensions of {self.dimensions}")
        return tuple(where.get(dimension) for dimension in self.dimensions)


_EMPTY = SortedList()
"""The list of a label no row has."""


class Listed(NamedTuple):
    """A filter's rows from one index: how many in all, and the rows best first (lazily).

    ``exact`` is the sorted list of exactly these rows when the index keeps
    one (``RankIndex.exact``), for positions and bisection.
    """

    total: int
    rows: Iterator[Entry]
    exact: SortedList | None = None


_MATERIALS = "materials"
_BY_WAREHOUSE = "by_warehouse"
_BY_SEVERITY = "by_severity"
_BY_WAREHOUSE_SEVERITY = "by_warehouse_severity"
_ALERTS = "alerts"
_REQUESTS = "requests"
_LISTED: dict[str, tuple[str, ...]] = {
    _MATERIALS: ("category", "abc"),
    _BY_WAREHOUSE: ("warehouse",),
    _BY_SEVERITY: ("severity",),
    _BY_WAREHOUSE_SEVERITY: ("warehouse",),
}
"""The dimensions with a list per value, in the families with a row for most materials.

Every list a row is in costs an insert each time its material changes
(the hook pays it), so only a filter that keeps few rows gets lists: a
category (one of 20 or more), a warehouse, a severity; and the ABC class
of the whole list, the dashboard's own filter, whose deep pages would
otherwise walk up to every material (a list the filter keeps exactly is
cut by bisection, ``streams.health``). An ABC class within a warehouse or
a severity, or a category within a warehouse, walks a list about four (or
20) times the page long. Alerts and purchase requests are few: every
dimension of theirs has lists.
"""
_WHOLE = (_MATERIALS, _ALERTS, _REQUESTS)
"""Families asked without a filter too, so with a list of all their rows."""
_FAMILIES: dict[str, tuple[str, ...]] = {
    _MATERIALS: ("category", "abc"),
    _BY_WAREHOUSE: ("warehouse", "category", "abc"),
    _BY_SEVERITY: ("severity", "category", "abc"),
    _BY_WAREHOUSE_SEVERITY: ("warehouse", "severity", "category", "abc"),
    _ALERTS: ("warehouse", "severity", "category", "abc"),
    _REQUESTS: ("warehouse", "status", "category", "abc"),
}
_LABELS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _labels(*values: str) -> tuple[str, ...]:
    """One shared tuple per combination of labels: 100,000 materials share a few hundred."""
    return _LABELS.setdefault(values, values)


class HealthIndex:
    """The dashboard's lists over some materials (a partition's), kept in rank order.

    Materials rank by value at risk, then value on hand, then id, over the
    warehouses the filter keeps; alerts by value at risk, then the worse
    severity, then key; purchase requests by state, the date they are
    needed by, then the larger amount. Rank keys are those
    ``streams.health.Ranked`` merges across workers.
    """

    def __init__(self) -> None:
        self._families = {
            name: RankIndex(dims, _LISTED.get(name), everything=name in _WHOLE)
            for name, dims in _FAMILIES.items()
        }
        self._held: dict[str, tuple[tuple[str, Entry], ...]] = {}

    @classmethod
    def of(cls, healths: Iterable[MaterialHealth]) -> "HealthIndex":
        """The index of these contributions (the last of a material counts), sorted once."""
        index = cls()
        for health in healths:
            entries = tuple(_entries(health))
            if entries:
                index._held[health.material_id] = entries
            else:
                index._held.pop(health.material_id, None)
        for name, family in index._families.items():
            family.update(e for held in index._held.values() for f, e in held if f == name)
        return index

    def set(self, health: MaterialHealth) -> None:
        """Make the lists hold what this contribution puts in, instead of the material's last."""
        material_id = health.material_id
        new = tuple(_entries(health))
        old = self._held.get(material_id, ())
        if new == old:
            return
        kept = set(new) & set(old)
        for family, entry in old:
            if (family, entry) not in kept:
                self._families[family].remove(entry)
        for family, entry in new:
            if (family, entry) not in kept:
                self._families[family].add(entry)
        if new:
            self._held[material_id] = new
        else:
            del self._held[material_id]

    def discard(self, material_id: str) -> None:
        """Take a material out of every list."""
        for family, entry in self._held.pop(material_id, ()):
            self._families[family].remove(entry)

    def __len__(self) -> int:
        """Materials held (those with stock in some warehouse)."""
        return len(self._held)

    def materials(self, health_filter: HealthFilter) -> Listed:
        """The materials inside the filter, ranked over the warehouses it keeps of each."""
        where = _where(health_filter)
        family = (
            (_BY_WAREHOUSE_SEVERITY if health_filter.severity else _BY_WAREHOUSE)
            if health_filter.warehouse
            else (_BY_SEVERITY if health_filter.severity else _MATERIALS)
        )
        dims = _FAMILIES[family]
        where = {d: v for d, v in where.items() if d in dims}
        index = self._families[family]
        return Listed(index.count(where), index.top(where), index.exact(where))

    def alerts(self, health_filter: HealthFilter) -> Listed:
        """The open alerts inside the filter (of materials stocked where they fire)."""
        index = self._families[_ALERTS]
        where = _where(health_filter)
        return Listed(index.count(where), index.top(where), index.exact(where))

    def requests(self, health_filter: HealthFilter, status: str | None) -> Listed:
        """The open purchase requests inside the filter (severity aside) and of ``status``."""
        index = self._families[_REQUESTS]
        where = {**_unrated(health_filter), "status": status}
        return Listed(index.count(where), index.top(where), index.exact(where))

    def requests_by_status(self, health_filter: HealthFilter) -> dict[str, int]:
        """How many open purchase requests inside the filter (severity aside) are in each state."""
        index = self._families[_REQUESTS]
        where = _unrated(health_filter)
        counts = dict.fromkeys(REQUEST_ORDER, 0)
        for status in index.values("status"):
            count = index.count({**where, "status": status})
            if count or status in counts:
                counts[status] = counts.get(status, 0) + count
        return counts


def _where(health_filter: HealthFilter) -> dict[str, str | None]:
    return {
        "warehouse": health_filter.warehouse,
        "severity": health_filter.severity,
        "category": health_filter.category,
        "abc": health_filter.abc,
    }


def _unrated(health_filter: HealthFilter) -> dict[str, str | None]:
    """The filter without its severity, which purchase requests do not have."""
    return {k: v for k, v in _where(health_filter).items() if k != "severity"}


def _entries(health: MaterialHealth) -> Iterator[tuple[str, Entry]]:
    """Every row a material's contribution puts in the lists, with its family."""
    material_id = health.material_id
    category, abc = health.category, health.abc_class
    stocks = health.stocks
    if not stocks:
        return
    at_risk = sum(t.value_at_risk for t in stocks.values())
    value = sum(t.value for t in stocks.values())
    yield _MATERIALS, (-at_risk, -value, material_id, _labels(category, abc), material_id)
    for warehouse_id, totals in stocks.items():
        labels = _labels(warehouse_id, category, abc)
        key = (-totals.value_at_risk, -totals.value, material_id)
        yield _BY_WAREHOUSE, (*key, labels, material_id)
    alerting: dict[str, list[str]] = {}
    for alert in health.alerts:
        if alert.warehouse_id not in stocks:
            continue
        warehouses = alerting.setdefault(alert.severity, [])
        if alert.warehouse_id not in warehouses:
            warehouses.append(alert.warehouse_id)
        labels = _labels(alert.warehouse_id, alert.severity, category, abc)
        rank = _SEVERITY_RANK.get(alert.severity, len(_SEVERITY_RANK))
        yield _ALERTS, (-alert.value_at_risk, rank, alert.key, labels, material_id)
    for severity, warehouses in alerting.items():
        at_risk = sum(stocks[w].value_at_risk for w in warehouses)
        value = sum(stocks[w].value for w in warehouses)
        labels = _labels(severity, category, abc)
        yield _BY_SEVERITY, (-at_risk, -value, material_id, labels, material_id)
        for warehouse_id in warehouses:
            totals = stocks[warehouse_id]
            labels = _labels(warehouse_id, severity, category, abc)
            key = (-totals.value_at_risk, -totals.value, material_id)
            yield _BY_WAREHOUSE_SEVERITY, (*key, labels, material_id)
    for request in health.requests:
        if request.warehouse_id not in stocks:
            continue
        order = REQUEST_ORDER.index(request.status) if request.status in REQUEST_ORDER else 9
        needed_by = (request.needed_by or date.max).isoformat()
        key = (order, needed_by, -request.amount, request.request_id)
        labels = _labels(request.warehouse_id, request.status, category, abc)
        yield _REQUESTS, (*key, labels, material_id)


def merged_top(lists: Iterable[Listed], limit: int) -> tuple[int, list[Entry]]:
    """The total and first ``limit`` rows of several indexes' lists (e.g. a worker's partitions).

    >>> first = HealthIndex()
    >>> second = HealthIndex()
    >>> from models.health import Totals
    >>> first.set(MaterialHealth(material_id="M1", stocks={"W1": Totals(value=5)}))
    >>> second.set(MaterialHealth(material_id="M2", stocks={"W1": Totals(value=9)}))
    >>> total, rows = merged_top([i.materials(HealthFilter()) for i in (first, second)], 5)
    >>> total, [row[2] for row in rows]
    (2, ['M2', 'M1'])
    """
    lists = list(lists)
    total = sum(listed.total for listed in lists)
    # Each list is sorted: one sort of their first rows merges the runs in C, where
    # heapq.merge steps in Python (a deep page merges tens of thousands).
    top = sorted(chain.from_iterable(islice(listed.rows, limit) for listed in lists))
    del top[limit:]
    return total, top
