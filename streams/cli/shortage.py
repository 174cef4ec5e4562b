"""``stockloop shortage ORDER.json``: can we build this many of an item by then? Nothing is created.

The question is a production order that does not exist yet (``what_if_order``:
material, warehouse, quantity and need date suffice). The command reads what
the worker reads, to the end of each topic: the BOM lines of ``erp.boms``, the
open orders of ``erp.production-orders`` (those ahead of the question take
their components first) and each material's latest availability on
``stockloop.availability``; then it runs the same analysis as the shortage
agent (``models.bom.analyse_shortage``) and prints it. It writes nothing:
no result, no expedite notice.

A sales order line may be asked instead (``due_date`` in place of
``need_date``: "can we ship 50 X by Friday?"): the part the item's own stock
does not cover by then is analysed as the build it needs, as the shortage
agent does for a rush line (``models.rush``); a line the stock covers is
answered in one line, with nothing to analyse.

``stockloop shortage --order ORDER_ID`` prints instead what the worker found
for a real order: its latest ``ShortageResult`` on ``stockloop.shortages``,
in the same table.
"""

import difflib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer
from kafka.consumer.fetcher import ConsumerRecord
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from connectors.cdc import InvalidRecord, decode_production_record
from connectors.mapping import load_mapping
from models.availability import MaterialAvailability
from models.bom import (
    BomCycleError,
    ComponentAvailability,
    ShortageResult,
    analyse_shortage,
    describe_shortage,
)
from models.events import SalesOrderLine, describe_validation_error
from models.production import BomLine, ProductionOrder, bom_from_lines, fold_order, what_if_order
from models.rush import rush_order, to_build, what_if_sales_line
from streams.catalogue import AVAILABILITY, BOMS, PRODUCTION_ORDERS, SHORTAGES
from streams.cli.kafka import check_topics, fail, read
from streams.cli.requests import quantity_text
from streams.settings import Settings

console = Console()
err_console = Console(stderr=True)


class OutputFormat(StrEnum):
    """How ``shortage`` prints: a table for people, JSON (the ``ShortageResult``) for scripts."""

    TABLE = "table"
    JSON = "json"


# --- the pure part: fold what was read, print the result ------------------------------------


def latest_availability(
    records: Iterable[tuple[bytes | None, bytes | None]],
) -> dict[str, MaterialAvailability]:
    """Each material's availability: its last record by key in read order; a tombstone removes it.

    ``stockloop.availability`` is keyed by material, so each material's records
    are in one partition, in the order they were published.
    """
    latest: dict[str, MaterialAvailability] = {}
    for key, value in records:
        if key is None:
            continue
        if value is None:
            latest.pop(key.decode(), None)
        else:
            latest[key.decode()] = MaterialAvailability.model_validate_json(value)
    return latest


def in_warehouse(
    availability: Mapping[str, MaterialAvailability], warehouse_id: str
) -> dict[str, ComponentAvailability]:
    """Every material's row in one warehouse; a material without stock there has none."""
    rows = {
        material_id: record.in_warehouse(warehouse_id)
        for material_id, record in availability.items()
    }
    return {material_id: row for material_id, row in rows.items() if row is not None}


def open_orders(orders: Iterable[ProductionOrder]) -> list[ProductionOrder]:
    """The open production orders after every version read (``fold_order`` per order id)."""
    held: dict[str, ProductionOrder | None] = {}
    for order in orders:
        held[order.order_id] = fold_order(held.get(order.order_id), order)
    return [order for order in held.values() if order is not None]


def latest_results(results: Iterable[ShortageResult]) -> dict[str, ShortageResult]:
    """Each order's result for its newest version analysed (event time, then event id).

    By the order's version, not by arrival, as the worker folds orders
    (``fold_order``): a result published again after a restart changes nothing.
    """
    latest: dict[str, ShortageResult] = {}
    for result in results:
        known = latest.get(result.order_id)
        if known is None or (result.analysed_at, result.order_event_id) >= (
            known.analysed_at,
            known.order_event_id,
        ):
            latest[result.order_id] = result
    return latest


def unknown_order(order_id: str, known: Iterable[str], topic: str) -> str:
    """Why ``--order`` finds nothing: no result names the order; the closest one, if close."""
    close = difflib.get_close_matches(order_id, list(known), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"no shortage result for order {order_id!r} on {topic}{hint}"


class NothingToBuild(Exception):
    """The answer to a sales order line that needs no build analysed, in one line."""


def build_for_line(
    line: SalesOrderLine,
    bom: Mapping[str, tuple[BomLine, ...]],
    availability: Mapping[str, ComponentAvailability],
) -> ProductionOrder:
    """The build a sales order line needs (``models.rush.rush_order``), to analyse as an order.

    Raises ``NothingToBuild`` when the item's stock covers the line by its due
    date, or when the line is not rush (the ERP's flag off and due after the
    item's cumulative lead time); ``BomCycleError`` for a cyclic structure.
    """
    finished = availability.get(line.material_id)
    order = rush_order(line, bom, finished)
    if order is not None:
        return order
    head = f"{line.quantity - line.shipped_quantity:g} {line.material_id} in {line.warehouse_id}"
    head += f" by {line.due_date.isoformat()}"
    if to_build(line, finished) <= 0:
        raise NothingToBuild(f"{head}: its own stock there covers it; nothing to build")
    raise NothingToBuild(
        f'{head}: not a rush line (due after the cumulative lead time); add "rush": true '
        "to analyse it anyway"
    )


COLUMNS = (
    "component",
    "level",
    "required",
    "available",
    "arriving in time",
    "to build",
    "missing",
    "covered by",
)


def shortage_table(result: ShortageResult) -> Table:
    """One row per item of the order's structure, by level then id; missing parts in red."""
    table = Table(title=f"{result.order_id}: {quantity_text(result.quantity)} {result.material_id}")
    for column in COLUMNS:
        table.add_column(
            column, justify="left" if column in {"component", "covered by"} else "right"
        )
    for line in result.components:
        name = f"{'  ' * (line.level - 1)}{line.component_id}"
        missing = quantity_text(line.missing)
        table.add_row(
            f"[bold]{name}[/]" if line.assembly else name,
            str(line.level),
            quantity_text(line.required),
            quantity_text(line.available),
            quantity_text(line.arriving_in_time),
            quantity_text(line.to_build) if line.assembly else "-",
            f"[red]{missing}[/]" if line.missing > 0 else missing,
            line.covered_by.isoformat() if line.covered_by else "never",
        )
    return table


def summary(result: ShortageResult) -> list[str]:
    """The lines under the table: the one-line answer, kit completeness, earliest start."""
    start = result.earliest_feasible_start
    return [
        describe_shortage(result),
        f"kit completeness {result.kit_completeness:.0%} of parts, "
        f"{result.quantity_completeness:.0%} of their quantity",
        "earliest feasible start "
        + (start.isoformat() if start else "unknown: some part has no supply coming"),
    ]


# --- reading the topics ---------------------------------------------------------------------


def _decoded(settings: Settings, topic: str, kind: str) -> list[ProductionOrder | BomLine]:
    """Every usable record of a production topic; the unusable are the worker's dead letters."""
    mapping = load_mapping(settings.mapping_file)
    records: list[ProductionOrder | BomLine] = []
    for record in read(settings, settings.topic(topic)):
        try:
            decoded = decode_production_record(
                record.value, kind, mapping, settings.max_event_bytes
            )
        except InvalidRecord:
            continue
        if decoded is not None:
            records.append(decoded)
    return records


def _key_value(record: ConsumerRecord) -> tuple[bytes | None, bytes | None]:
    return record.key, record.value


def analyse(settings: Settings, question: ProductionOrder | SalesOrderLine) -> ShortageResult:
    """The question's analysis against the topics as they are now.

    Raises ``NothingToBuild`` for a sales order line that needs no build.
    """
    check_topics(settings, [settings.topic(t) for t in (BOMS, PRODUCTION_ORDERS, AVAILABILITY)])
    bom_records = _decoded(settings, BOMS, "bom_line")
    order_records = _decoded(settings, PRODUCTION_ORDERS, "production_order")
    records = read(settings, settings.topic(AVAILABILITY))
    availability = latest_availability(_key_value(record) for record in records)
    bom = bom_from_lines(line for line in bom_records if isinstance(line, BomLine))
    if question.material_id not in bom:
        raise fail(
            f"{question.material_id}: no BOM lines on {settings.topic(BOMS)}; nothing to explode"
        )
    competing = open_orders(o for o in order_records if isinstance(o, ProductionOrder))
    rows = in_warehouse(availability, question.warehouse_id)
    try:
        order = (
            question
            if isinstance(question, ProductionOrder)
            else build_for_line(question, bom, rows)
        )
        return analyse_shortage(order, bom, rows, competing)
    except BomCycleError as error:
        raise fail(str(error)) from None


def worker_result(settings: Settings, order_id: str) -> ShortageResult:
    """The worker's latest result for a production order, from ``stockloop.shortages``."""
    topic = settings.topic(SHORTAGES)
    check_topics(settings, [topic])
    results: list[ShortageResult] = []
    skipped = 0
    for record in read(settings, topic):
        if record.value is not None:
            try:
                results.append(ShortageResult.model_validate_json(record.value))
            except ValidationError:
                skipped += 1
    if skipped:
        err_console.print(
            f"[yellow]warning:[/yellow] skipped {skipped} record(s) on {topic} "
            "that are not shortage results"
        )
    latest = latest_results(results)
    if order_id not in latest:
        raise fail(unknown_order(order_id, latest, topic))
    return latest[order_id]


OrderFile = Annotated[
    Path | None,
    typer.Argument(
        help="JSON with material_id, warehouse_id, quantity and need_date "
        "(order_id, rush optional); or a sales order line, with due_date instead of need_date.",
        exists=True,
        dir_okay=False,
        metavar="ORDER.json",
        show_default=False,
    ),
]


def shortage(
    order_file: OrderFile = None,
    order_id: Annotated[
        str | None,
        typer.Option(
            "--order",
            metavar="ORDER_ID",
            help="Instead of ORDER.json: the worker's latest result for this production order.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = (
        OutputFormat.TABLE
    ),
) -> None:
    """Can we build it by then? Which components are short, until when. Creates nothing.

    With --order ORDER_ID, what the worker found for a real production order
    (its latest result on stockloop.shortages), in the same form.
    """
    if order_file is not None and order_id is not None:
        raise fail("give ORDER.json (a question) or --order ORDER_ID (a real order), not both")
    if order_id is not None:
        result = worker_result(Settings(), order_id)
    elif order_file is not None:
        try:
            result = analyse(Settings(), _question(order_file))
        except NothingToBuild as answer:
            console.print(str(answer), highlight=False)
            return
    else:
        raise fail("give ORDER.json (a question) or --order ORDER_ID (a real order)")
    if output is OutputFormat.JSON:
        typer.echo(result.model_dump_json())
        return
    console.print(shortage_table(result))
    for line in summary(result):
        console.print(line, highlight=False)


def _question(order_file: Path) -> ProductionOrder | SalesOrderLine:
    """The what-if order or sales order line ORDER.json asks about (a ``due_date`` and no
    ``need_date``: a line); exits with one line if it cannot be one."""
    try:
        fields = orjson.loads(order_file.read_bytes())
    except orjson.JSONDecodeError as error:
        raise fail(f"{order_file}: not JSON: {error}") from None
    if not isinstance(fields, dict):
        raise fail(f"{order_file}: expected a JSON object")
    now = datetime.now(UTC)
    try:
        if "due_date" in fields and "need_date" not in fields:
            return what_if_sales_line(fields, now=now)
        return what_if_order(fields, now=now)
    except ValidationError as error:
        raise fail(f"{order_file}: {describe_validation_error(error)}") from None
