"""What a worker derives from whole global tables, derived again only after one of them changed.

Read whole for every record that needed them, the alert actions and
promotions cost a live record 8.5 ms instead of 2.3 ms with 2,000
acknowledgements in force, and the BOM lines 102 ms per shortage analysis
at 10,000 lines (docs/performance.md). Those tables change far less often
than records arrive, and each counts its changes
(``streams.app.RawGlobalTable``).
"""

from collections.abc import Callable
from typing import Generic, TypeVar

from streams.app import RawGlobalTable

T = TypeVar("T")


class Derived(Generic[T]):
    """What ``derive`` makes of ``tables``, made again only when one of them changed."""

    def __init__(self, derive: Callable[[], T], *tables: RawGlobalTable) -> None:
        self._derive = derive
        self._tables = tables
        self._made_at: tuple[int, ...] | None = None
        self._value: T

    def current(self) -> T:
        made_at = tuple(table.changes for table in self._tables)
        if made_at != self._made_at:
            self._value = self._derive()
            self._made_at = made_at
        return self._value
