"""ERP export import: JSONL or CSV rows into a Kafka topic, one record per row."""

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from connectors.producer import ProduceSummary, produce


class ImportFileError(ValueError):
    """The file cannot be read as JSONL or CSV."""


def read_rows(path: Path) -> Iterator[tuple[int, bytes | None, bytes]]:
    """Yield (line number, key, value) per row; the key is the row's ``material_id`` if any.

    CSV cells arrive as strings (pydantic converts them later); empty cells are
    left out so that optional fields take their defaults.
    """
    suffix = path.suffix.lower()
    with path.open(newline="") as handle:
        if suffix in {".jsonl", ".ndjson", ".json"}:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, _key_of_json(line), line.strip().encode()
        elif suffix == ".csv":
            for number, row in enumerate(csv.DictReader(handle), start=2):
                fields = {k: v for k, v in row.items() if k and v not in (None, "")}
                key = fields.get("material_id")
                yield number, key.encode() if key else None, orjson.dumps(fields)
        else:
            raise ImportFileError(f"{path}: unknown format {suffix!r}; expected .jsonl or .csv")


def _key_of_json(line: str) -> bytes | None:
    """The material id of a JSON row, if it is an object that has one (malformed rows pass)."""
    try:
        row = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    material_id = row.get("material_id") if isinstance(row, dict) else None
    return str(material_id).encode() if material_id is not None else None


def count_rows(path: Path) -> int:
    """Number of rows, for a progress bar."""
    with path.open(newline="") as handle:
        lines = sum(1 for line in handle if line.strip())
    return lines - 1 if path.suffix.lower() == ".csv" else lines


def import_file(
    path: Path,
    topic: str,
    bootstrap_servers: str,
    on_row: Callable[[], None] = lambda: None,
) -> ProduceSummary:
    """Send every row of ``path`` to ``topic``; wait until the broker has them all."""
    rows = ((f"line {number}", topic, key, value) for number, key, value in read_rows(path))
    return produce(rows, bootstrap_servers, on_row)
