"""Shortage analysis: which components a production order lacks by its need date, and until when.

``explode`` turns an order for an assembled item into the gross requirements
of everything below it in its bill of materials; ``analyse_shortage`` nets
those against each component's availability and emits a ``ShortageResult``
(one record on ``stockloop.shortages``). Both are pure: the availability of
the components, which live on other partitions than the order, is an
argument (``ComponentAvailability``, one per component of the order's
warehouse), and "now" is the order's own event time.

**Explosion.** A parent unit consumes ``quantity_per × (1 + scrap_pct / 100)``
of each component, not rounded (an ERP that issues whole units rounds when
it issues); requirements of a component shared by several parents are
summed. Items are processed in low-level-code order, as MRP does: an item
is netted only once every parent that uses it has added its requirement, so
an item used at two levels is netted once against its whole requirement.

**Intermediate assemblies are netted first.** A sub-assembly on the shelf
(or arriving in time) is used before it is built, and only the shortfall is
exploded into its own components, as in MRP. The alternative, exploding the
gross requirement down to purchased parts, reports shortages of parts that
are not needed because the sub-assembly they would become is already there.
A sub-assembly therefore never counts as *missing*: its shortfall becomes
``to_build``, and whatever its components lack shows on their own lines.
The top item is not netted: the order is to build it.

**Netting, for an order needed on day D.** For each item:

- *stock* = on hand available − confirmed demand due on or before D
  (demand due after D comes after the order and does not hold stock back);
- *arriving in time* = in-transit supply with an ETA on or before D (an
  overdue ETA still counts: the ERP says the goods are still coming);
- open production orders of the same warehouse that are *ahead* (an earlier
  need date, or the same one and a smaller order id) take what they need
  first, stock before arrivals, each netting its own sub-assemblies the same
  way; what they take beyond stock and arrivals is a debt that later
  arrivals pay first;
- *missing* = max(0, required − available − arriving in time).

A component is *covered by* the need date when nothing is missing, else by
the ETA of the later in-transit line that completes it (after the debts of
the orders ahead), or never (``None``). A sub-assembly built from its
components is covered when the last of them is. The *earliest feasible
start* is the latest covered-by date (the need date when nothing is
missing), ``None`` when some component is never covered. Lead-time
offsetting between levels is left out: every component is needed by D.

Quantities are ``float``, summed unrounded and reported in micro-units as in
``models.state``.

Examples
--------
Two A per X with 10 % scrap, and one B per A; one A is on the shelf:

>>> line = lambda parent, component, per, scrap=0.0: BomLine(
...     event_id=f"{parent}-{component}", event_time="2026-11-30T08:00:00Z",
...     parent_id=parent, component_id=component, quantity_per=per, scrap_pct=scrap)
>>> bom = {"X": [line("X", "A", 2, scrap=10)], "A": [line("A", "B", 1)]}
>>> explode("X", 10, bom)
{'A': 22.0, 'B': 22.0}
>>> explode("X", 10, bom, on_hand={"A": 1})
{'A': 22.0, 'B': 21.0}
"""

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.events import SCHEMA_VERSION, Id, NonNegative, Quantity
from models.production import BomLine, ProductionOrder
from models.state import WarehouseStock, _q

Bom = Mapping[str, Sequence[BomLine]]
"""Bills of materials by parent id: the lines of each parent (``bom_from_lines`` builds one)."""


class BomCycleError(ValueError):
    """A bill of materials that contains its own parent, directly or through sub-assemblies."""

    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = tuple(cycle)
        super().__init__(
            f"BOM cycle {' -> '.join(self.cycle)}: delete one of these lines in the ERP"
        )


def _line_order(line: BomLine) -> tuple[str, float, float, str]:
    return line.component_id, line.quantity_per, line.scrap_pct, line.event_id


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to walk one item's structure: items parents first, and what each consumes."""

    order: tuple[str, ...]
    levels: dict[str, int]
    consumes: dict[str, tuple[tuple[str, float], ...]]
    lead_time_days: dict[str, float]
    assemblies: frozenset[str]


class _Structure:
    """A BOM read once per call: each parent's live lines in a fixed order, each item's plan.

    The fixed order (by component id) makes sums independent of the order of
    the ERP's lines; the caches let one analysis walk the structure of several
    orders of the same item at the cost of one.
    """

    def __init__(self, bom: Bom) -> None:
        self._bom = bom
        self._lines: dict[str, list[BomLine]] = {}
        self._plans: dict[str, _Plan] = {}

    def lines(self, parent_id: str) -> list[BomLine]:
        if parent_id not in self._lines:
            live = (line for line in self._bom.get(parent_id, ()) if not line.deleted)
            self._lines[parent_id] = sorted(live, key=_line_order)
        return self._lines[parent_id]

    def plan(self, item_id: str) -> _Plan:
        """The item's plan; raises ``BomCycleError`` when its structure has a cycle."""
        if item_id not in self._plans:
            levels = self._low_level_codes(item_id)
            order = tuple(sorted(levels, key=lambda i: (levels[i], i)))
            lead_time_days: dict[str, float] = {}
            for line in (line for item in order for line in self.lines(item)):
                if line.lead_time_days is not None:
                    known = lead_time_days.get(line.component_id, 0.0)
                    lead_time_days[line.component_id] = max(known, line.lead_time_days)
            consumes = {
                item: tuple((line.component_id, line.gross_per_parent) for line in self.lines(item))
                for item in order
            }
            assemblies = frozenset(item for item in order[1:] if consumes[item])
            self._plans[item_id] = _Plan(order, levels, consumes, lead_time_days, assemblies)
        return self._plans[item_id]

    def _low_level_codes(self, item_id: str) -> dict[str, int]:
        """Every item in ``item_id``'s structure and its deepest level (0 = the item itself).

        Raises ``BomCycleError`` naming the first cycle met, walking components
        in id order (so the same structure always names the same cycle).
        """
        children: dict[str, list[str]] = {}

        def components(parent_id: str) -> list[str]:
            if parent_id not in children:
                children[parent_id] = sorted({line.component_id for line in self.lines(parent_id)})
            return children[parent_id]

        # Iterative depth-first search: a deep BOM must not hit the recursion limit.
        finished: list[str] = []
        done: set[str] = set()
        path = [item_id]
        on_path = {item_id}
        stack = [iter(components(item_id))]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                finished.append(path.pop())
                on_path.discard(finished[-1])
                done.add(finished[-1])
            elif child in on_path:
                raise BomCycleError([*path[path.index(child) :], child])
            elif child not in done:
                path.append(child)
                on_path.add(child)
                stack.append(iter(components(child)))
        levels = {item_id: 0}
        for parent_id in reversed(finished):  # parents before their components
            for child in components(parent_id):
                levels[child] = max(levels.get(child, 0), levels[parent_id] + 1)
        return levels


def _explode(
    item_id: str, quantity: float, structure: _Structure, build: Callable[[str, float], float]
) -> dict[str, float]:
    """Gross requirements below ``item_id``, by level then id; ``build(item, gross)`` says how
    much of an assembly to build (the rest comes from stock): only that is exploded further."""
    plan = structure.plan(item_id)
    gross: dict[str, float] = dict.fromkeys(plan.order[1:], 0.0)
    for item in plan.order:
        consumes = plan.consumes[item]
        if not consumes:
            continue
        to_build = quantity if item == item_id else build(item, gross[item])
        if to_build <= 0:
            continue
        for child, per_parent in consumes:
            gross[child] += to_build * per_parent
    return {item: required for item, required in gross.items() if required > 0}


def explode(
    item_id: str, quantity: float, bom: Bom, on_hand: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Gross requirement of every item below ``item_id`` (assemblies and parts) for ``quantity``.

    With ``on_hand``, intermediate assemblies are netted against it first and
    only their shortfall is exploded (their own requirement stays gross);
    purchased parts are never netted here. Items come ordered by level, then
    id; items not required (below an assembly fully on hand) are left out.
    Raises ``BomCycleError`` when the structure contains a cycle.
    """
    stock = on_hand or {}

    def build(item: str, required: float) -> float:
        return required - min(required, max(stock.get(item, 0.0), 0.0))

    gross = _explode(item_id, quantity, _Structure(bom), build)
    return {item: _q(required) for item, required in gross.items()}


Dated = tuple[date, NonNegative]


class ComponentAvailability(BaseModel):
    """What one component offers in the order's warehouse: stock, demand and supply by date.

    The row of the mirrored availability view that the shortage analysis reads
    for components on other partitions than the order. ``on_hand_available``
    is on hand minus what is already allocated (it may be negative when more
    is allocated than is there); confirmed demand is by due date, in-transit
    supply by ETA.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    component_id: Id
    on_hand_available: Quantity = 0.0
    confirmed_demand: tuple[Dated, ...] = Field((), description="(due date, open quantity)")
    in_transit: tuple[Dated, ...] = Field((), description="(ETA, open quantity)")

    @classmethod
    def of_stock(
        cls, component_id: str, stock: WarehouseStock, allocated: float = 0.0
    ) -> "ComponentAvailability":
        """The availability of a component from its warehouse stock in the material state."""
        return cls(
            component_id=component_id,
            on_hand_available=_q(stock.on_hand - allocated),
            confirmed_demand=tuple(sorted(stock.committed_by_day().items())),
            in_transit=tuple(sorted(stock.receipts_by_day().items())),
        )


@dataclass(slots=True)
class _Pool:
    """One item's supply for the horizon, and what orders ahead have taken from it."""

    stock: float
    arriving: float
    later: list[Dated]
    claimed: float = 0.0

    @classmethod
    def of(cls, availability: ComponentAvailability | None, horizon: date) -> "_Pool":
        if availability is None:  # no row in the availability view: nothing there or coming
            return cls(stock=0.0, arriving=0.0, later=[])
        demand = (q for due, q in availability.confirmed_demand if due <= horizon)
        arriving = (q for eta, q in availability.in_transit if eta <= horizon)
        return cls(
            stock=availability.on_hand_available - math.fsum(demand),
            arriving=math.fsum(arriving),
            later=sorted((eta, q) for eta, q in availability.in_transit if eta > horizon),
        )

    @property
    def left(self) -> float:
        return self.stock + self.arriving - self.claimed

    @property
    def available(self) -> float:
        return max(0.0, self.stock - self.claimed)

    @property
    def arriving_in_time(self) -> float:
        return max(0.0, min(self.arriving, self.left))

    def covered_by(self, missing: float) -> date | None:
        """The ETA of the later arrival that completes ``missing`` (> 0), after paying the
        debt of the orders ahead (what they took beyond stock and arrivals); None if none does."""
        short = _q(missing + max(0.0, -self.left))
        arrived = 0.0
        for eta, quantity in self.later:
            arrived += quantity
            if _q(arrived) >= short:
                return eta
        return None


@dataclass(slots=True)
class _Pools:
    availability: Mapping[str, ComponentAvailability]
    horizon: date
    pools: dict[str, _Pool] = field(default_factory=dict)

    def __getitem__(self, item: str) -> _Pool:
        if item not in self.pools:
            self.pools[item] = _Pool.of(self.availability.get(item), self.horizon)
        return self.pools[item]

    def take(self, item: str, required: float) -> float:
        """Take what stock and arrivals give of an assembly; return the shortfall to build."""
        pool = self[item]
        taken = min(required, max(pool.left, 0.0))
        pool.claimed += taken
        return required - taken


def orders_ahead(
    order: ProductionOrder, competing: Iterable[ProductionOrder]
) -> list[ProductionOrder]:
    """Open orders of the same warehouse that take components before ``order``, first first.

    An order is ahead with an earlier need date, or the same one and a smaller
    order id. Of several versions of one order the newest (event time, then
    event id) counts; versions of ``order`` itself never compete with it.
    """
    newest: dict[str, ProductionOrder] = {}
    for other in competing:
        known = newest.get(other.order_id)
        if known is None or (other.event_time, other.event_id) > (known.event_time, known.event_id):
            newest[other.order_id] = other
    mine = (order.need_date, order.order_id)
    return sorted(
        (
            other
            for other in newest.values()
            if other.order_id != order.order_id
            and other.is_open
            and other.warehouse_id == order.warehouse_id
            and (other.need_date, other.order_id) < mine
        ),
        key=lambda other: (other.need_date, other.order_id),
    )


def shortage_id(order: ProductionOrder) -> str:
    """Deterministic result id: the order id and the version of the order analysed.

    A restarted worker analysing the same order version gives the same id
    (the consumer keeps the first result); a new version gives a new one.

    >>> order = ProductionOrder(event_id="e1", event_time="2026-11-30T08:00:00Z",
    ...     material_id="X", order_id="MO-1", warehouse_id="W1", quantity=5,
    ...     need_date="2026-12-04", status="planned")
    >>> shortage_id(order)
    'e7872a0bde04043f'
    """
    stamp = order.event_time.astimezone(UTC).isoformat()
    content = f"{order.order_id}|{stamp}|{order.event_id}"
    return hashlib.sha1(content.encode(), usedforsecurity=False).hexdigest()[:16]


Share = Annotated[float, Field(ge=0, le=1)]


class ComponentShortage(BaseModel):
    """One item of the order's structure: what it needs, what it gets in time, what it lacks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    component_id: str
    level: int = Field(ge=1, description="Deepest level in the structure (1 = direct component).")
    assembly: bool = Field(description="An intermediate assembly: its shortfall is built.")
    required: float = Field(description="Gross requirement for this order, scrap included.")
    available: float = Field(
        description="Stock left for this order: on hand available, minus confirmed demand due "
        "by the need date, minus what orders ahead take."
    )
    arriving_in_time: float = Field(
        description="In-transit supply with an ETA by the need date, left for this order."
    )
    to_build: float = Field(
        description="Assemblies: the shortfall built from their components (0 for parts)."
    )
    missing: float = Field(
        description="Parts: max(0, required - available - arriving_in_time); 0 for assemblies."
    )
    covered_by: date | None = Field(
        description="When the item is fully there: the need date, the ETA of the later "
        "in-transit line that completes it, or null if nothing known ever does."
    )
    lead_time_days: float | None = Field(
        None, description="Replenishment lead time from the BOM lines (the longest), if known."
    )


class ShortageResult(BaseModel):
    """Shortage analysis of one production order, a record on ``stockloop.shortages``.

    ``id`` is the idempotency key: the same for the same order version
    (``shortage_id``). ``components`` lists every item of the structure the
    order needs, by level then id; ``missing_components`` the purchased parts
    that lack something. Empty ``missing_components`` means the order can
    start on its need date.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str = Field(description="Deterministic id from the order id and version (shortage_id).")
    order_id: str
    order_event_id: str = Field(description="event_id of the order version analysed.")
    analysed_at: datetime = Field(description="Event time of the order version analysed.")
    material_id: str = Field(description="The assembled item.")
    warehouse_id: str
    quantity: float
    need_date: date
    rush: bool
    components: tuple[ComponentShortage, ...]
    missing_components: tuple[str, ...] = Field(description="Parts with missing > 0, by id.")
    kit_completeness: Share = Field(
        description="Share of purchased parts with nothing missing (1 when there are none)."
    )
    quantity_completeness: Share = Field(
        description="Share of the parts' required quantity there in time: "
        "sum(min(required, available + arriving_in_time)) / sum(required) (1 when none)."
    )
    earliest_feasible_start: date | None = Field(
        description="Latest covered_by of the components: the need date when nothing is "
        "missing, null when some component is never covered."
    )
    orders_ahead: tuple[str, ...] = Field(
        description="Open production orders that took components first, in that order."
    )


def analyse_shortage(
    order: ProductionOrder,
    bom: Bom,
    availability: Mapping[str, ComponentAvailability],
    competing: Sequence[ProductionOrder] = (),
) -> ShortageResult:
    """Net the order's exploded requirements against availability by its need date.

    See the module docstring for the netting rules. ``availability`` holds a
    row per component of the order's warehouse (a missing row: nothing there,
    nothing coming). ``competing`` are other production orders; those open,
    in the same warehouse and ahead of ``order`` (``orders_ahead``) take
    components first. One ahead whose own BOM has a cycle cannot be built and
    takes nothing. Raises ``BomCycleError`` when the order's BOM has a cycle.
    """
    structure = _Structure(bom)
    pools = _Pools(availability, order.need_date)
    ahead = orders_ahead(order, competing)
    for other in ahead:
        try:
            taken = _explode(other.material_id, other.quantity, structure, pools.take)
        except BomCycleError:
            continue
        assemblies = structure.plan(other.material_id).assemblies
        for item, required in taken.items():
            if item not in assemblies:
                pools[item].claimed += required

    shares: dict[str, tuple[float, float, float]] = {}

    def build(item: str, required: float) -> float:
        pool = pools[item]
        available, arriving = pool.available, pool.arriving_in_time
        shares[item] = (available, arriving, pools.take(item, required))
        return shares[item][2]

    gross = _explode(order.material_id, order.quantity, structure, build)
    plan = structure.plan(order.material_id)
    lines = _component_lines(gross, plan, pools, shares, order.need_date)
    parts = [line for line in lines if not line.assembly]
    required = math.fsum(line.required for line in parts)
    there = math.fsum(min(p.required, p.available + p.arriving_in_time) for p in parts)
    covered = [line.covered_by for line in lines]
    # Every covered_by is on or after the need date, so with nothing missing this is the need date.
    start = None if None in covered else max([order.need_date, *covered])
    return ShortageResult(
        id=shortage_id(order),
        order_id=order.order_id,
        order_event_id=order.event_id,
        analysed_at=order.event_time,
        material_id=order.material_id,
        warehouse_id=order.warehouse_id,
        quantity=order.quantity,
        need_date=order.need_date,
        rush=order.rush,
        components=tuple(lines),
        missing_components=tuple(sorted(p.component_id for p in parts if p.missing > 0)),
        kit_completeness=sum(p.missing == 0 for p in parts) / len(parts) if parts else 1.0,
        quantity_completeness=min(1.0, there / required) if required > 0 else 1.0,
        earliest_feasible_start=start,
        orders_ahead=tuple(other.order_id for other in ahead),
    )


def _component_lines(
    gross: Mapping[str, float],
    plan: _Plan,
    pools: _Pools,
    shares: Mapping[str, tuple[float, float, float]],
    horizon: date,
) -> list[ComponentShortage]:
    """The result's lines; assemblies are covered when the last of their components is."""
    assemblies = plan.assemblies
    covered: dict[str, date | None] = {}
    built: dict[str, ComponentShortage] = {}
    # Deepest first: an assembly's covered_by needs its components' dates.
    for item in reversed(gross):
        required = _q(gross[item])
        if item in assemblies:
            available, arriving, to_build = (_q(share) for share in shares[item])
            missing = 0.0
            made_of = [child for child, _ in plan.consumes[item]] if shares[item][2] > 0 else []
            dates = [covered[child] for child in made_of]
            covered[item] = None if None in dates else max([horizon, *dates])
        else:
            pool = pools[item]
            available, arriving = _q(pool.available), _q(pool.arriving_in_time)
            to_build = 0.0
            missing = _q(max(0.0, required - available - arriving))
            covered[item] = horizon if missing == 0 else pool.covered_by(missing)
        built[item] = ComponentShortage(
            component_id=item,
            level=plan.levels[item],
            assembly=item in assemblies,
            required=required,
            available=available,
            arriving_in_time=arriving,
            to_build=to_build,
            missing=missing,
            covered_by=covered[item],
            lead_time_days=plan.lead_time_days.get(item),
        )
    return [built[item] for item in gross]


def describe_shortage(result: ShortageResult) -> str:
    """The result in one line, for the on-demand CLI and notifications: what is short, until when.

    Parts are named with their missing quantity, the first five only (the
    record lists them all).
    """
    head = f"{result.order_id}: {result.quantity:g} {result.material_id} in {result.warehouse_id}"
    head += f" by {result.need_date.isoformat()}"
    if not result.missing_components:
        return f"{head}: every component there in time"
    parts = [c for c in result.components if c.missing > 0]
    named = ", ".join(f"{c.component_id} {c.missing:g}" for c in parts[:5])
    more = f" and {len(parts) - 5} more" if len(parts) > 5 else ""
    start = result.earliest_feasible_start
    return (
        f"{head}: {len(parts)} of {sum(not c.assembly for c in result.components)} parts short "
        f"({named}{more}); kit {result.kit_completeness:.0%}, earliest start "
        f"{start.isoformat() if start else 'unknown (some part has no supply coming)'}"
    )
