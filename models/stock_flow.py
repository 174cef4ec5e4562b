"""Stock flow: what one stock issued, held and could not serve, day by day in event time.

The dashboard's turnover, fill rate, stock-out rate and their trends are
sums over past days, so each stock keeps a short ledger of its closed days
(``StockFlow``, part of ``models.state.WarehouseStock``). It goes to the
changelog on every change, so it is bounded: the last ``RING_DAYS`` (60)
closed days one by one (two 30-day windows: the last 30 days and the 30
before, for the trend), and older days folded into ``BLOCK_DAYS`` (30-day)
blocks of issued value and stock value-days, kept as long as a 365-day
window reaches them (at most 13). A window reaching into a block takes the
block's days inside it pro rata, so the 90- and 365-day figures are exact
up to the one block at the window's far end.

Money is in whole cents and every figure is a sum, so that what many
stocks (and partitions) add up to is exact and ratios are taken only at the
end (``FlowSums``): turnover is summed issued value over summed value-days,
never an average of materials' turnovers.

Definitions (per stock, over the closed days of a window; the open day
is not counted):

- issued value (COGS): goods issues (``issue`` movements) at the FIFO cost
  of the batches they took; transfers and adjustments are not sales.
- value-days: the stock's value on hand at each day's close, added over
  the days; over ``n`` days it is ``n`` x the average inventory value.
- short value: the part of an issue the shelf did not hold when it was
  posted (the ERP let stock go negative), at unit cost; demand value is
  issued value plus short value.
- an out day: a day with a short issue, or that closed with nothing on hand
  while the stock had demand to serve (a forecast or open orders).
"""

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Annotated, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

RING_DAYS = 60
"""Closed days kept one by one: the last 30 and the 30 before them."""
BLOCK_DAYS = 30
"""Older days are folded into blocks of this many days (aligned to the calendar)."""
LONGEST_WINDOW_DAYS = 365
"""The longest window a figure covers; older blocks are dropped."""
TREND_DAYS = 30
"""The fill rate, stock-out rate and turnover trend compare the last 30 days with the 30 before."""


def cents(amount: float) -> int:
    """Money as whole cents (``models.health.cents``; here so that the state can use it).

    >>> cents(12.345), cents(-0.004)
    (1234, 0)
    """
    return round(amount * 100) + 0


class FlowSums(NamedTuple):
    """What stocks issued, held and could not serve over a window: sums that add exactly.

    ``value_days`` is the stock value on hand at each day's close added over
    the window's days (cents); ``stock_days`` counts the days a stock existed.
    """

    issued: int = 0
    value_days: int = 0
    short: int = 0
    out_days: int = 0
    stock_days: int = 0

    def plus(self, other: "FlowSums") -> "FlowSums":
        """The sums of both."""
        return FlowSums(*(a + b for a, b in zip(self, other, strict=True)))


def turnover(issued: int, value_days: int, window_days: int) -> float | None:
    """Turnover over a window: issued value (COGS) over the average inventory value.

    The average inventory value is ``value_days / window_days`` (a day
    without the stock counts as nothing held), so the turnover of the window
    is ``window_days * issued / value_days``; None when nothing was held.

    >>> turnover(300_00, 30 * 1_000_00, 30)
    0.3
    """
    if value_days <= 0:
        return None
    return window_days * issued / value_days


def annualised(issued: int, value_days: int) -> float | None:
    """Turnover per year at a window's pace: ``365 * issued / value_days``, whatever the window.

    >>> annualised(300_00, 30 * 1_000_00)
    3.65
    """
    return turnover(issued, value_days, 365)


def fill_rate(issued: int, short: int) -> float | None:
    """Share of demand value the shelf held when it came; None without demand.

    >>> fill_rate(950_00, 50_00)
    0.95
    """
    demand = issued + short
    return issued / demand if demand > 0 else None


def stockout_rate(out_days: int, stock_days: int) -> float | None:
    """Share of stock-days that were out of stock; None without stock-days.

    >>> stockout_rate(3, 60)
    0.05
    """
    return out_days / stock_days if stock_days > 0 else None


def supply_days(value_days: int, issued: int, short: int) -> float | None:
    """Days of supply over a window, looking back: average stock value over average daily demand.

    Demand value is issued plus short; None without demand.

    >>> supply_days(30 * 1_000_00, 300_00, 0)
    100.0
    """
    demand = issued + short
    return value_days / demand if demand > 0 else None


def _compact(quantity: float) -> float | int:
    return int(quantity) if quantity.is_integer() else quantity


Quantity = Annotated[float, PlainSerializer(_compact, return_type=float | int)]
"""A quantity written without ``.0`` when whole: the ring holds 60 of them per stock."""


class DayFlow(NamedTuple):
    """One closed day of one stock: issued value, closing value, short value (cents),
    whether it was out, and its demand quantity."""

    day: date
    issued: int
    value: int
    short: int
    out: bool
    demand: float


class StockFlow(BaseModel):
    """The closed days of one stock, newest last, and the day still open.

    The ring is three lists of equal length (the days before ``day``, oldest
    first); out days are rare, so only they are listed, in
    ``shorts`` as ``[day's ordinal, short value]``; ``blocks`` are
    ``[block, issued, value_days, days]`` with ``block`` the day's ordinal
    // ``BLOCK_DAYS``, oldest first.
    """

    model_config = ConfigDict(extra="ignore")

    day: date | None = Field(None, description="The open day; the ring ends the day before.")
    issued_today: int = 0
    short_today: int = 0
    out_today: bool = False
    demand_today: float = 0.0
    issued: list[int] = Field(default_factory=list)
    value: list[int] = Field(default_factory=list)
    demand: list[Quantity] = Field(default_factory=list)
    shorts: list[list[int]] = Field(default_factory=list)
    blocks: list[list[int]] = Field(default_factory=list)

    def roll_to(self, today: date, value: int, out: bool) -> None:
        """Close every day before ``today``; days since the last change close at ``value``.

        Call it before a change to the stock: ``value`` (cents) and ``out``
        (nothing on hand while there is demand) are the stock as it has
        been since its last change.
        """
        if self.day is None:
            self.day = today
            return
        if today <= self.day:
            return
        if (today - self.day).days > RING_DAYS + LONGEST_WINDOW_DAYS:
            # Nothing closed before the jump is inside any window any more.
            self.issued, self.value, self.demand, self.shorts, self.blocks = [], [], [], [], []
            self.issued_today = self.short_today = 0
            self.demand_today = 0.0
            self.out_today = False
            self.day = today - timedelta(days=RING_DAYS)
        while self.day < today:
            self._close(value, out)
        self._drop_old_blocks(today)

    def add_issue(self, issued: int, short: int) -> None:
        """A goods issue on the open day: its FIFO cost, and the value the shelf lacked."""
        self.issued_today += issued
        self.short_today += short
        if short > 0:
            self.out_today = True

    def add_demand(self, day: date, quantity: float) -> None:
        """Demand counted for the forecast on ``day``; a day out of the ring is not shown."""
        if self.day is None or day >= self.day:
            self.demand_today = round(self.demand_today + quantity, 6)
            return
        back = (self.day - day).days
        if back <= len(self.demand):
            self.demand[-back] = round(self.demand[-back] + quantity, 6)

    def days(self) -> Iterator[DayFlow]:
        """The closed days of the ring, oldest first."""
        if self.day is None:
            return
        first = self.day - timedelta(days=len(self.issued))
        shorts = dict(self.shorts)
        for n, (issued, value, demand) in enumerate(
            zip(self.issued, self.value, self.demand, strict=True)
        ):
            day = first + timedelta(days=n)
            short = shorts.get(day.toordinal())
            yield DayFlow(day, issued, value, short or 0, short is not None, demand)

    def window(self, days: int, skip: int = 0) -> FlowSums:
        """The sums of the ``days`` closed days ending ``skip`` days before the open day.

        Days in the ring count exactly; a block reaching into the window
        counts its days inside it pro rata.
        """
        if self.day is None:
            return FlowSums()
        last = self.day - timedelta(days=1 + skip)
        first = last - timedelta(days=days - 1)
        sums = FlowSums()
        for row in self.days():
            if first <= row.day <= last:
                sums = sums.plus(FlowSums(row.issued, row.value, row.short, int(row.out), 1))
        ring_first = self.day - timedelta(days=len(self.issued))
        for block, issued, value_days, counted in self.blocks:
            # Days are folded in order: a block's days end where the ring begins, or at its end.
            block_end = date.fromordinal((block + 1) * BLOCK_DAYS - 1)
            block_last = min(block_end, ring_first - timedelta(days=1))
            block_first = block_last - timedelta(days=counted - 1)
            inside = (min(last, block_last) - max(first, block_first)).days + 1
            if inside > 0:
                share = min(inside, counted) / counted
                sums = sums.plus(
                    FlowSums(round(issued * share), round(value_days * share), 0, 0, 0)
                )
        return sums

    def _close(self, value: int, out: bool) -> None:
        assert self.day is not None
        self.issued.append(self.issued_today)
        self.value.append(value)
        self.demand.append(self.demand_today)
        if self.short_today or out or self.out_today:
            self.shorts.append([self.day.toordinal(), self.short_today])
        self.issued_today = self.short_today = 0
        self.demand_today = 0.0
        self.out_today = False
        while len(self.issued) > RING_DAYS:
            oldest = self.day - timedelta(days=len(self.issued))
            self._fold(oldest, self.issued.pop(0), self.value.pop(0))
            self.demand.pop(0)
        first_kept = (self.day - timedelta(days=len(self.issued) - 1)).toordinal()
        while self.shorts and self.shorts[0][0] < first_kept:
            self.shorts.pop(0)
        self.day += timedelta(days=1)

    def _fold(self, day: date, issued: int, value: int) -> None:
        block = day.toordinal() // BLOCK_DAYS
        if self.blocks and self.blocks[-1][0] == block:
            held = self.blocks[-1]
            held[1] += issued
            held[2] += value
            held[3] += 1
        else:
            self.blocks.append([block, issued, value, 1])

    def _drop_old_blocks(self, today: date) -> None:
        oldest_needed = (today - timedelta(days=LONGEST_WINDOW_DAYS)).toordinal() // BLOCK_DAYS
        while self.blocks and self.blocks[0][0] < oldest_needed:
            self.blocks.pop(0)
