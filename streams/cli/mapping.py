"""``stockloop mapping validate|test``: check a CDC mapping file, and what sample changes become.

``validate FILE`` loads the mapping as the worker would and prints every
problem with its table and field. ``test FILE SAMPLE.jsonl`` then decodes each
line of the sample, in order and in process (no broker), as ingest would:
reference rows are kept for the lookups, a change that names a reference row
not read yet is held until that row comes, and each line's outcome is printed:
the events it became, the reference row it changed, or why it is skipped,
refused (a dead letter in the worker) or still held at the end.

A sample line is one record value as Debezium writes it (``{"before", "after",
"source", "op"}``, with or without the converter's schema), a plain JSON event,
``null`` for a tombstone, or ``{"topic", "key", "value"}`` as a console consumer
prints records with their topic (``value`` is then the record value).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import typer
from rich.console import Console
from rich.table import Table

from connectors.cdc import ChangeReader, Decoded, InvalidRecord
from connectors.mapping import CdcMapping, MappingError, load_mapping
from models.events import InputEvent

app = typer.Typer(
    help="CDC mapping files: check one, and see what sample change events become.",
    no_args_is_help=True,
)
console = Console()
MAX_SAMPLE_BYTES = 16 * 1024 * 1024

MappingArgument = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="A CDC mapping YAML file.")
]

Verdict = Literal["events", "reference", "skipped", "refused", "held"]


class OutputFormat(StrEnum):
    """How ``mapping test`` prints: a table for people, JSON lines for scripts."""

    TABLE = "table"
    JSON = "json"


@dataclass
class LineOutcome:
    """What one sample line became."""

    line: int
    table: str
    op: str
    verdict: Verdict
    events: list[dict[str, Any]] = field(default_factory=list)
    reference: dict[str, Any] | None = None
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "line": self.line,
            "table": self.table,
            "op": self.op,
            "verdict": self.verdict,
        }
        if self.events:
            shown["events"] = self.events
        if self.reference is not None:
            shown["reference"] = self.reference
        if self.reason is not None:
            shown["reason"] = self.reason
        return shown


def try_sample(mapping: CdcMapping, lines: Iterable[str], default_kind: str) -> list[LineOutcome]:
    """Each non-blank sample line's outcome, in line order (a held line where it was read)."""
    reader: ChangeReader[int] = ChangeReader(mapping, MAX_SAMPLE_BYTES)
    labels: dict[int, tuple[str, str]] = {}
    outcomes: dict[int, LineOutcome] = {}
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            value = _record_value(text)
        except ValueError as error:
            outcomes[number] = LineOutcome(number, "", "", "refused", reason=str(error))
            continue
        labels[number] = _label(value)
        for line, outcome in reader.read(value, default_kind, number):
            outcomes[line] = _outcome(line, labels[line], outcome)
    for line, reason in reader.held:
        table, op = labels[line]
        outcomes[line] = LineOutcome(line, table, op, "held", reason=reason + " in the sample")
    return [outcomes[line] for line in sorted(outcomes)]


def _record_value(text: str) -> bytes | None:
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error}") from None
    if document is None:
        return None
    if isinstance(document, dict) and "value" in document and "topic" in document:
        value = document["value"]
        if isinstance(value, str):
            return value.encode()
        return None if value is None else orjson.dumps(value)
    return orjson.dumps(document)


def _label(value: bytes | None) -> tuple[str, str]:
    """The table and op a record names, for the report; blank when it names none."""
    if value is None:
        return "", "tombstone"
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError:
        return "", ""
    if isinstance(document, dict) and isinstance(document.get("payload"), dict):
        document = document["payload"]
    if not isinstance(document, dict):
        return "", ""
    source = document.get("source")
    table = source.get("table") if isinstance(source, dict) else None
    op = document.get("op")
    return (
        table if isinstance(table, str) else str(document.get("kind", "")),
        op if isinstance(op, str) else "",
    )


def _outcome(
    line: int, label: tuple[str, str], outcome: Decoded[InputEvent] | InvalidRecord
) -> LineOutcome:
    table, op = label
    if isinstance(outcome, InvalidRecord):
        return LineOutcome(line, table, op, "refused", reason=str(outcome))
    if outcome.events:
        events = [event.model_dump(mode="json", exclude_none=True) for event in outcome.events]
        return LineOutcome(line, table, op, "events", events=events)
    if outcome.reference is not None:
        change = outcome.reference
        row = None if change.row is None else orjson.loads(orjson.dumps(change.row, default=str))
        return LineOutcome(line, table, op, "reference", reference={"key": change.key, "row": row})
    return LineOutcome(line, table, op, "skipped", reason=outcome.skipped)


# --- the commands ---------------------------------------------------------------------------


def _load(file: Path) -> CdcMapping:
    try:
        return load_mapping(file)
    except MappingError as error:
        for problem in str(error).splitlines():
            console.print(f"[red]{problem}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@app.command()
def validate(file: MappingArgument) -> None:
    """Check a mapping file: every problem with its table and field, or what it captures."""
    mapping = _load(file)
    console.print(
        f"{file}: {len(mapping.tables)} tables, {len(mapping.references)} reference tables, "
        f"timezone {mapping.timezone}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def test(
    file: MappingArgument,
    sample: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="Change events, one record value a line (JSONL)."
        ),
    ],
    kind: Annotated[
        str, typer.Option(help="The kind of plain JSON events that leave out their kind.")
    ] = "movement",
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = (
        OutputFormat.TABLE
    ),
) -> None:
    """What each sample change becomes: events, a reference row, or why it is skipped or refused.

    Exits 1 when a line is refused or still held at the end, so a CI job can run it.
    """
    mapping = _load(file)
    outcomes = try_sample(mapping, sample.read_text(encoding="utf-8").splitlines(), kind)
    if output is OutputFormat.JSON:
        for outcome in outcomes:
            typer.echo(orjson.dumps(outcome.as_json()).decode())
    else:
        console.print(outcome_table(outcomes, str(sample)))
        console.print(summary(outcomes), highlight=False)
    if any(outcome.verdict in ("refused", "held") for outcome in outcomes):
        raise typer.Exit(1)


def outcome_table(outcomes: Iterable[LineOutcome], title: str) -> Table:
    """One row per sample line: its table and op, what it became and the details."""
    table = Table(title=title)
    for column in ("line", "table", "op", "becomes", "details"):
        table.add_column(column, overflow="fold")
    colour = {"refused": "red", "held": "yellow", "skipped": "dim"}
    for outcome in outcomes:
        style = colour.get(outcome.verdict)
        table.add_row(
            str(outcome.line),
            outcome.table,
            outcome.op,
            f"[{style}]{outcome.verdict}[/{style}]" if style else outcome.verdict,
            _details(outcome),
        )
    return table


def _details(outcome: LineOutcome) -> str:
    if outcome.events:
        return "\n".join(_event_text(event) for event in outcome.events)
    if outcome.reference is not None:
        row = outcome.reference["row"]
        kept = "deleted" if row is None else ", ".join(f"{k}={v}" for k, v in row.items())
        return f"{outcome.reference['key']}: {kept}"
    return outcome.reason or ""


def _event_text(event: dict[str, Any]) -> str:
    """An event in one line: kind, what moved where, and its id."""
    parts = [
        str(event.get(name))
        for name in ("kind", "movement_type", "status", "material_id", "warehouse_id", "quantity")
        if event.get(name) is not None
    ]
    return " ".join(parts) + f" ({event['event_id']})"


def summary(outcomes: list[LineOutcome]) -> str:
    """``12 lines: events 7, reference 3, skipped 2``: how many lines had each outcome."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.verdict] = counts.get(outcome.verdict, 0) + 1
    shown = ", ".join(f"{verdict} {count}" for verdict, count in counts.items())
    return f"{len(outcomes)} lines: {shown}"
