"""Debezium change events as its connectors and the JSON converter write them: the encodings.

The writing side of change data capture, for the ERP shapes (``connectors.shapes``)
and the tests' ERP histories. Built from Debezium's documented encodings, not
from ``connectors.cdc``, so that the decoder is checked against the encodings
and not against itself.
"""

import base64
import hashlib
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

EPOCH = datetime(1970, 1, 1)


def unscaled_bytes(unscaled: int) -> str:
    """``decimal.handling.mode=precise``: base64 of Java's ``BigInteger.toByteArray()``.

    >>> unscaled_bytes(12500), unscaled_bytes(-1)
    ('MNQ=', '/w==')
    """
    return base64.b64encode(
        unscaled.to_bytes(unscaled.bit_length() // 8 + 1, "big", signed=True)
    ).decode()


def precise(value: str, scale: int) -> str:
    """A decimal column of the given scale in precise mode.

    >>> precise("12.5", 3)
    'MNQ='
    """
    return unscaled_bytes(int(Decimal(value).scaleb(scale)))


def variable_decimal(value: Decimal) -> dict[str, Any]:
    """``io.debezium.data.VariableScaleDecimal`` of a ``numeric`` without precision.

    >>> variable_decimal(Decimal("12.5"))
    {'scale': 1, 'value': 'fQ=='}
    """
    scale = max(-value.as_tuple().exponent, 0)  # type: ignore[operator]
    return {"scale": scale, "value": unscaled_bytes(int(value.scaleb(scale)))}


def epoch_days(day: date) -> int:
    """``io.debezium.time.Date``.

    >>> epoch_days(date(1970, 1, 31))
    30
    """
    return (day - date(1970, 1, 1)).days


def epoch_micros(wall_clock: datetime) -> int:
    """``io.debezium.time.MicroTimestamp`` of a ``timestamp without time zone``.

    >>> epoch_micros(datetime(1970, 1, 1, 0, 0, 1))
    1000000
    """
    return (wall_clock - EPOCH) // timedelta(microseconds=1)


def epoch_millis(wall_clock: datetime) -> int:
    """``io.debezium.time.Timestamp`` of a ``timestamp(3)``."""
    return (wall_clock - EPOCH) // timedelta(milliseconds=1)


def ts_ms(moment: datetime) -> int:
    """An instant as the envelope's ``ts_ms``: milliseconds since the epoch, UTC."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


@dataclass(frozen=True)
class Change:
    """One record on a table's Debezium topic; a tombstone has no value."""

    topic: str
    key: bytes
    value: bytes | None


@dataclass
class ChangeHistory:
    """Changes in commit order, and the rows each table holds after them."""

    changes: list[Change] = field(default_factory=list)
    rows: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))

    def interleaved(self, seed: int) -> list[Change]:
        """The changes as a consumer of all topics may read them: each topic in order, the
        topics mixed (a row can come before the row it names)."""
        by_topic: dict[str, list[Change]] = defaultdict(list)
        for change in self.changes:
            by_topic[change.topic].append(change)
        rng = random.Random(seed)
        queues = [list(reversed(queue)) for queue in by_topic.values()]
        mixed = []
        while queues:
            queue = rng.choice(queues)
            mixed.append(queue.pop())
            if not queue:
                queues.remove(queue)
        return mixed


def stable_number(*parts: str) -> int:
    """A number of 40 bits that depends on ``parts`` only: the same in every run and process.

    An ERP shape derives row ids and names from the plain events' ids with it,
    so that two runs (``simulate``, then ``produce`` of one more order) name one
    material, warehouse or order alike, and never reuse a stock move's id.

    >>> stable_number("stock_move", "mv-1") == stable_number("stock_move", "mv-1")
    True
    >>> stable_number("stock_move", "mv-1") < 2**40
    True
    """
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=5).digest()
    return int.from_bytes(digest, "big")


class TableWriter:
    """A database as a Debezium connector sees it: each row write becomes change events.

    A subclass says how its connector writes a column (``_column``) and the
    source block of a change (``_source``), how long after the commit the
    connector sends it (``delay_ms``), which topic a table's changes go to
    (``_topic``), which column keys a row (``key_column``) and which one a
    write stamps (``modified_column``).
    ``clock`` is the database's wall clock (naive), the time of the next write;
    the tables' current rows are kept in ``history.rows``.
    """

    key_column = "id"
    modified_column = "write_date"
    delay_ms = 35

    def __init__(self, rng: random.Random, clock: datetime) -> None:
        self.rng = rng
        self.history = ChangeHistory()
        self.clock = clock

    def _column(self, name: str, value: Any) -> Any:
        raise NotImplementedError

    def _source(self, table: str, op: str, snapshot: str) -> dict[str, Any]:
        raise NotImplementedError

    def _topic(self, table: str) -> str:
        raise NotImplementedError

    def _emit(
        self,
        table: str,
        op: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        snapshot: str = "false",
    ) -> None:
        row = after if after is not None else before
        assert row is not None
        key = orjson.dumps({self.key_column: row[self.key_column]})
        source = self._source(table, op, snapshot)
        envelope = {
            "before": self._encoded(before),
            "after": self._encoded(after),
            "source": source,
            "op": op,
            "ts_ms": source["ts_ms"] + self.delay_ms,
            "transaction": None,
        }
        topic = self._topic(table)
        self.history.changes.append(Change(topic, key, orjson.dumps(envelope)))
        if op == "d":
            self.history.changes.append(Change(topic, key, None))

    def _encoded(self, row: dict[str, Any] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        return {
            name: None if value is None else self._column(name, value)
            for name, value in row.items()
        }

    def update(self, table: str, row: dict[str, Any], **values: Any) -> None:
        """Update a row in place, stamped now."""
        before = dict(row)
        row.update(values, **{self.modified_column: self.clock})
        self._emit(table, "u", before, dict(row))

    def delete(self, table: str, row: dict[str, Any]) -> None:
        """Delete a row: a delete event, then a tombstone."""
        del self.history.rows[table][row[self.key_column]]
        self._emit(table, "d", dict(row), None)

    def _snapshot(self, tables: Sequence[str]) -> None:
        """Every row of ``tables`` again, op ``r``, table by table; the last one says so."""
        for number, table in enumerate(tables):
            rows = list(self.history.rows[table].values())
            for index, row in enumerate(rows):
                last = number == len(tables) - 1 and index == len(rows) - 1
                self._emit(table, "r", None, dict(row), "last" if last else "true")
