"""``stockloop backtest``: the dynamic policy against static min/max over a history, no broker."""

import csv
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.cdc import InvalidRecord, decode_record
from connectors.file_import import ImportFileError, read_rows
from connectors.mapping import CdcMapping, MappingError, load_mapping
from connectors.scenarios import SCENARIOS, scenario_records
from connectors.simulator import ErpSimulator, Record
from models.backtest import (
    DEFAULT_FRONTIER_LEVELS,
    DEFAULT_FRONTIER_MULTIPLIERS,
    BacktestConfig,
    BacktestError,
    BacktestResult,
    Frontier,
    MaterialBacktest,
    Policy,
    efficient_frontier,
    notifications_per_material_month,
)
from models.backtest import (
    backtest as run_backtest,
)
from models.backtest_report import render_report
from models.demand_history import series_history
from models.events import MaterialEvent
from models.service_metrics import ServiceMetrics
from streams.catalogue import INPUT_KINDS
from streams.cli.kafka import fail
from streams.settings import Settings

MAX_RECORD_BYTES = 1_048_576
PER_MATERIAL_ROWS = 12
"""Materials listed in the terminal without ``--per-material`` (the CSV has all)."""
CSV_COLUMNS = (
    "material_id",
    "policy",
    "demand",
    "fill_rate",
    "cycle_service_level",
    "stockout_days",
    "backordered",
    "average_on_hand",
    "average_value",
    "turnover",
    "dead_stock_value",
    "alert_events",
    "alerts_raised",
    "alerts_per_material_month",
    "notifications",
    "notifications_per_material_month",
    "stockouts",
    "warned",
    "warned_in_time",
    "median_warning_lead",
    "requests",
    "request_value",
    "auto_approved",
)

console = Console()
app = typer.Typer(pretty_exceptions_show_locals=False)


class InputError(ValueError):
    """An input file or source the backtest cannot read; one line saying which and why."""


@app.command()
def backtest(
    files: Annotated[
        list[str] | None,
        typer.Argument(
            help="ERP exports, as `stockloop produce` reads them: TOPIC=PATH (the topic's event "
            "kind is the default for plain JSON rows without `kind`, e.g. "
            "erp.stock-movements=moves.jsonl), or PATH whose rows say their kind or are "
            "Debezium change events. .jsonl or .csv; a Debezium topic dump is JSONL of "
            '{"key": ..., "value": ...}.',
            show_default=False,
        ),
    ] = None,
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Backtest the ERP simulator's history instead.")
    ] = False,
    scenario: Annotated[
        str | None,
        typer.Option(
            help=f"Backtest a simulator scenario instead: {', '.join(SCENARIOS)} "
            "(docs/scenarios.md); seeded by --seed.",
            show_default=False,
        ),
    ] = None,
    series: Annotated[
        Path | None,
        typer.Option(
            "--series",
            dir_okay=False,
            help="Backtest daily demand series instead: a CSV with a `date` column and one "
            "column per series (as in tests/data). Each becomes a material whose synthetic "
            "ERP orders a month when stock runs under the lead time; use with --act.",
            show_default=False,
        ),
    ] = None,
    series_limit: Annotated[
        int | None,
        typer.Option(min=1, help="Only the first N series of --series.", show_default=False),
    ] = None,
    lead_time_days: Annotated[
        float, typer.Option(min=1, help="The --series suppliers' mean lead time (σ 20 %).")
    ] = 7.0,
    materials: Annotated[int, typer.Option(min=1, help="Simulated materials.")] = 6,
    days: Annotated[int, typer.Option(min=14, help="Simulated days.")] = 180,
    seed: Annotated[int, typer.Option(help="Seed of the simulator and of lead-time draws.")] = 42,
    act: Annotated[
        bool,
        typer.Option(
            "--act",
            help="Each policy makes its own supply: the purchase requests raised (or the static "
            "policy's orders) arrive after a lead time drawn from the material's learned "
            "distribution, instead of the recorded receipts.",
        ),
    ] = False,
    window_start: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="First day counted; the history before it is the warm-up the policies learn "
            "from. Default: a quarter of the way from the first demand to the end.",
            show_default=False,
        ),
    ] = None,
    service_level: Annotated[
        float | None,
        typer.Option(
            min=0.51,
            max=0.999,
            help="Target service level for every material (default: the masters' own); also "
            "the fill rate the tuned reorder point must reach on the warm-up.",
            show_default=False,
        ),
    ] = None,
    csv_out: Annotated[
        Path | None,
        typer.Option("--csv", dir_okay=False, help="Write every material's figures here."),
    ] = None,
    frontier: Annotated[
        bool,
        typer.Option(
            "--frontier",
            help="Efficient frontier: run --act at service levels "
            f"{', '.join(f'{v:g}' for v in DEFAULT_FRONTIER_LEVELS)} and min/max at "
            f"{', '.join(f'{k:g}' for k in DEFAULT_FRONTIER_MULTIPLIERS)} times its minimum; "
            "print average stock value against fill rate, and how much stock stockloop saves "
            "at min/max's fill rate. The tables show the 0.95 run.",
        ),
    ] = False,
    html_out: Annotated[
        Path | None,
        typer.Option(
            "--html",
            dir_okay=False,
            help="Write a self-contained HTML report (inline SVG per material: stock with "
            "safety stock and reorder point beside min/max, warnings and stock-outs).",
            show_default=False,
        ),
    ] = None,
    per_material: Annotated[
        bool, typer.Option("--per-material", help="List every material in the terminal.")
    ] = False,
    mapping_file: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            exists=True,
            dir_okay=False,
            help="CDC mapping for Debezium records (default: the settings' mapping file).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Replay a history through stockloop's pure step beside static min/max, and compare.

    Four policies over the same demand: stockloop (its alerts and purchase
    requests), min/max with the ERP's usual parameters (minimum = lead-time
    demand, maximum = minimum + a month), a reorder point tuned on the
    warm-up, and the history as recorded. Per material and in total: fill
    rate, cycle service level, stock-out days, backordered quantity, average
    stock and its value, turnover, dead stock at the end, alerts per
    material-month, how many stock-outs were warned of and how far ahead (in
    lead times), purchase requests and their value. Deterministic: the same
    input and seed give the same figures.

    Records that cannot be decoded are skipped and counted (the worker would
    dead-letter them). Exit code 1 on unreadable input.
    """
    if sum((simulate, bool(files), series is not None, scenario is not None)) != 1:
        raise fail("give one source: input FILES, --simulate, --scenario or --series (see --help)")
    if scenario is not None and scenario not in SCENARIOS:
        raise fail(f"--scenario {scenario!r}: unknown; known: {', '.join(SCENARIOS)}")
    try:
        mapping = load_mapping(mapping_file or Settings().mapping_file)
        if series is not None:
            source = f"{series.name} (synthetic supply, lead time {lead_time_days:g} days)"
            demand = read_series(series, series_limit)
            decoded = (series_history(demand, lead_time_days, seed), [])
        elif scenario is not None:
            source = f"scenario {scenario} (seed {seed})"
            decoded = decode_records(scenario_records(scenario, seed), mapping)
        elif simulate:
            simulator = ErpSimulator(materials=materials, seed=seed)
            source = f"simulator ({materials} materials, {days} days, seed {seed})"
            decoded = decode_records(simulator.run(days), mapping)
        else:
            source = ", ".join(Path(spec.rpartition("=")[2]).name for spec in files or [])
            decoded = decode_files(files or [], mapping)
        events, skipped = decoded
    except (InputError, MappingError) as error:
        raise fail(str(error)) from None
    if window_start is not None:
        window_start = window_start.replace(tzinfo=UTC)
    config = BacktestConfig(
        window_start=window_start, act=act, service_level=service_level, seed=seed
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    curve = None
    try:
        with _progress() as progress:
            runs = len(DEFAULT_FRONTIER_LEVELS) if frontier else 1
            task = progress.add_task("backtest", total=len(events) * runs)

            def advance(material_id: str, events_done: int) -> None:
                progress.advance(task, events_done)

            if frontier:
                curve, results = efficient_frontier(events, config, on_material=advance)
                result = results[DEFAULT_FRONTIER_LEVELS.index(0.95)]
            else:
                result = run_backtest(events, config, on_material=advance)
    except BacktestError as error:
        raise fail(f"{source}: {error}") from None
    elapsed = (time.perf_counter() - started) / runs
    cpu = (time.process_time() - cpu_started) / runs
    _print(result, source, skipped, elapsed, cpu, per_material)
    if curve is not None:
        console.print(_frontier_table(curve))
    try:
        if csv_out is not None:
            write_csv(result, csv_out)
            console.print(f"wrote {csv_out}")
        if html_out is not None:
            html_out.write_text(render_report(result, source, curve))
            console.print(f"wrote {html_out}")
    except OSError as error:
        raise fail(f"cannot write the report: {error}") from None


def read_series(path: Path, limit: int | None = None) -> dict[str, list[tuple[date, float]]]:
    """Daily demand series from a wide CSV (``date`` and one column per series)."""
    if not path.is_file():
        raise InputError(f"--series {path}: no such file")
    series: dict[str, list[tuple[date, float]]] = {}
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            names = [n for n in reader.fieldnames or () if n and n != "date"]
            if "date" not in (reader.fieldnames or ()) or not names:
                raise InputError(f"{path}: needs a 'date' column and at least one series column")
            names = names[:limit] if limit else names
            for number, row in enumerate(reader, start=2):
                day = _cell(path, number, "date", row.get("date"), date.fromisoformat)
                for name in names:
                    quantity = _cell(path, number, name, row.get(name) or "0", float)
                    if quantity < 0 or quantity != quantity:
                        raise InputError(f"{path} line {number}: {name}={quantity}: not a demand")
                    series.setdefault(name, []).append((day, quantity))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InputError(f"{path}: cannot read: {error}") from None
    return series


def _cell(
    path: Path, number: int, column: str, text: str | None, parse: Callable[[str], Any]
) -> Any:
    try:
        return parse(text or "")
    except ValueError:
        raise InputError(f"{path} line {number}: {column}={text!r}: not a valid value") from None


def decode_records(
    records: Iterable[Record], mapping: CdcMapping
) -> tuple[list[MaterialEvent], list[str]]:
    """The material events among simulated records, and why the others were skipped."""
    events: list[MaterialEvent] = []
    skipped: list[str] = []
    for number, record in enumerate(records, start=1):
        kind = INPUT_KINDS.get(record.topic)
        if kind is None:
            continue  # production orders and BOMs: the shortage analysis, not a material's step
        _decode(record.value, kind, mapping, f"record {number} ({record.topic})", events, skipped)
    return events, skipped


def decode_files(specs: list[str], mapping: CdcMapping) -> tuple[list[MaterialEvent], list[str]]:
    """The material events in ERP export files (``TOPIC=PATH`` or ``PATH``), and the skipped."""
    events: list[MaterialEvent] = []
    skipped: list[str] = []
    for spec in specs:
        topic, _, name = spec.rpartition("=")
        kind = ""
        if topic:
            kind = INPUT_KINDS.get(topic, "")
            if not kind:
                known = ", ".join(INPUT_KINDS)
                raise InputError(f"{spec}: unknown input topic {topic!r}; expected one of {known}")
        path = Path(name)
        if not path.is_file():
            raise InputError(f"{spec}: no such file {path}")
        for where, value in _rows(path):
            _decode(value, kind, mapping, f"{path} {where}", events, skipped)
    return events, skipped


def _rows(path: Path) -> Iterator[tuple[str, bytes | None]]:
    try:
        for row in read_rows(path):
            yield row.where, row.value
    except ImportFileError as error:
        raise InputError(str(error)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read: {error}") from None


def _decode(
    value: bytes | None,
    kind: str,
    mapping: CdcMapping,
    where: str,
    events: list[MaterialEvent],
    skipped: list[str],
) -> None:
    try:
        event = decode_record(value, kind, mapping, MAX_RECORD_BYTES)
    except InvalidRecord as error:
        skipped.append(f"{where}: {error}")
        return
    if event is not None:
        events.append(MaterialEvent(event=event))


def write_csv(result: BacktestResult, path: Path) -> None:
    """One row per material and policy, then one TOTAL row per policy."""
    days = result.window_days
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        rows: list[tuple[str, dict[Policy, ServiceMetrics]]] = [
            (m.material_id, m.policies) for m in result.materials
        ]
        rows.append(("TOTAL", result.totals))
        for material_id, policies in rows:
            for policy, metrics in policies.items():
                writer.writerow([material_id, policy.value, *_csv_figures(metrics, days)])


def _csv_figures(m: ServiceMetrics, days: int) -> list[object]:
    turnover = m.turnover(days)
    lead = m.median_warning_lead
    return [
        round(m.demand, 3),
        round(m.fill_rate, 4),
        round(m.cycle_service_level, 4),
        m.stockout_days,
        round(m.backordered, 3),
        round(m.average_on_hand, 2),
        round(m.average_value, 2),
        "" if turnover is None else round(turnover, 2),
        round(m.dead_stock_value, 2),
        m.alert_events,
        m.alerts_raised,
        round(m.alerts_per_material_month, 3),
        m.notifications,
        round(notifications_per_material_month(m), 3),
        m.stockouts,
        m.warned,
        m.warned_in_time,
        "" if lead is None else lead,
        m.requests,
        round(m.request_value, 2),
        m.auto_approved,
    ]


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _print(
    result: BacktestResult,
    source: str,
    skipped: list[str],
    elapsed: float,
    cpu: float,
    per_material: bool,
) -> None:
    mode = "each policy makes its own supply (--act)" if result.act else "recorded receipts"
    console.print(
        f"[bold]backtest[/bold] of {source}: {len(result.materials)} materials, window "
        f"{result.window_start:%Y-%m-%d} to {result.end:%Y-%m-%d} ({result.window_days} days), "
        f"{mode}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(_totals_table(result))
    # Materials no policy had to serve (production-only parts, say) say nothing here.
    served = [m for m in result.materials if m.policies[Policy.RECORDED].demand > 0]
    shown = served if per_material else served[:PER_MATERIAL_ROWS]
    console.print(_materials_table(shown))
    if len(shown) < len(result.materials):
        console.print(
            f"{len(result.materials) - len(shown)} more materials"
            f" ({len(result.materials) - len(served)} without demand): --per-material or --csv"
        )
    # A shared machine's wall clock says little alone: the CPU seconds say what the core costs.
    rate = result.events / elapsed if elapsed > 0 else 0.0
    per_cpu = result.events / cpu if cpu > 0 else 0.0
    console.print(
        f"{result.events} events in {elapsed:.1f} s: {rate:,.0f} events/s "
        f"({cpu:.1f} CPU s: {per_cpu:,.0f} events per CPU second)"
    )
    if skipped:
        console.print(f"[yellow]skipped {len(skipped)} records that cannot be decoded[/yellow]")
        for line in skipped[:5]:
            console.print(f"  {line}", highlight=False, soft_wrap=True)


def _totals_table(result: BacktestResult) -> Table:
    table = Table(title="All materials", title_justify="left")
    table.add_column("")
    for policy in Policy:
        table.add_column(policy.value, justify="right")
    days = result.window_days
    rows = {
        "fill rate": lambda m: f"{m.fill_rate:.1%}",
        "cycle service level": lambda m: f"{m.cycle_service_level:.1%}",
        "stock-out days": lambda m: f"{m.stockout_days:,}",
        "backordered qty": lambda m: f"{m.backordered:,.0f}",
        "average stock qty": lambda m: f"{m.average_on_hand:,.0f}",
        "average stock value": lambda m: f"{m.average_value:,.0f}",
        "turnover / year": lambda m: _maybe(m.turnover(days), "{:.1f}"),
        "dead stock value at end": lambda m: f"{m.dead_stock_value:,.0f}",
        "alerts raised": lambda m: f"{m.alerts_raised:,}",
        "alerts / material-month": lambda m: f"{m.alerts_per_material_month:.2f}",
        "notifications / material-month": lambda m: f"{notifications_per_material_month(m):.2f}",
        "stock-outs": lambda m: f"{m.stockouts:,}",
        "  warned before": lambda m: f"{m.warned:,}",
        "  warned >= 1 lead time ahead": lambda m: f"{m.warned_in_time:,}",
        "  median warning (lead times)": lambda m: _maybe(m.median_warning_lead, "{:.2f}"),
        "orders / requests raised": lambda m: f"{m.requests:,}",
        "  their value": lambda m: f"{m.request_value:,.0f}",
        "  auto-approved": lambda m: f"{m.auto_approved:,}",
    }
    for label, show in rows.items():
        table.add_row(label, *(show(result.totals[policy]) for policy in Policy))
    return table


def _materials_table(materials: list[MaterialBacktest]) -> Table:
    table = Table(title="Per material", title_justify="left")
    for column in ("material", "policy", "fill rate", "stock-out days", "avg stock value"):
        table.add_column(column, justify="left" if column in ("material", "policy") else "right")
    for column in ("alerts / mat-month", "stock-outs warned (in time)", "orders"):
        table.add_column(column, justify="right")
    for material in materials:
        for policy, m in material.policies.items():
            table.add_row(
                material.material_id if policy is Policy.DYNAMIC else "",
                policy.value,
                f"{m.fill_rate:.1%}",
                f"{m.stockout_days}",
                f"{m.average_value:,.0f}",
                f"{m.alerts_per_material_month:.2f}",
                f"{m.warned}/{m.stockouts} ({m.warned_in_time})",
                f"{m.requests}",
                end_section=policy is Policy.RECORDED,
            )
    return table


def _frontier_table(curve: Frontier) -> Table:
    table = Table(title="Efficient frontier (--act, all materials)", title_justify="left")
    for column in ("policy", "setting", "fill rate", "average stock value", "saved vs min/max"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for point, saved in curve.savings():
        table.add_row(
            "stockloop",
            f"service level {point.setting:g}",
            f"{point.fill_rate:.2%}",
            f"{point.average_value:,.0f}",
            "-" if saved is None else f"{saved:.0%}",
        )
    for point in sorted(curve.static, key=lambda p: p.setting):
        table.add_row(
            "min/max",
            f"{point.setting:g} x minimum",
            f"{point.fill_rate:.2%}",
            f"{point.average_value:,.0f}",
            "",
        )
    return table


def _maybe(value: float | None, form: str) -> str:
    return "-" if value is None else form.format(value)
