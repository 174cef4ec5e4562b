"""The benchmark suite: each benchmark that matters in turn, then one table of their figures.

Issue #13 asks for every performance figure as a ratio to a baseline measured
in the same run, so that it holds on the machine at hand (a laptop, a loaded
CI runner, a shared 2-core box). Each benchmark prints its own detail as it
always has; at the end one summary table gives, per figure, the value, the
baseline it is compared with and the ratio of the two:

- **ingest throughput** (``ingest_throughput.py``): a worker drains a backlog;
  its events per worker CPU-second against the pure core in process on the
  same events (goal: ≥ 0.5); produce → visible p99 at 200 and 500 events/s
  against the goals (100 ms and 250 ms); the worker's peak memory.
- **tick cost** (``tick_cost.py``): a no-change tick, the mean tick of the
  rest of that day and a new day's tick in process, after against before
  (the agent's old scan) in the same run; live, probe p99 against the raw
  client's produce → consume p99 beside it, and the longest ``/health`` gap
  against the interval it is asked at.
- **notification fatigue** (``notification_fatigue.py``): interruptions per
  material-month when people acknowledge, against nobody acknowledging.
- **forecast quality** (``forecast_quality.py``'s data and scoring, ours only:
  its reference forecasters need ``statsforecast``): MASE of
  ``DemandForecaster`` one step ahead against the seasonal naive forecast.

Run beside a broker (``make bench`` starts a private one), from the project's
root with it on the path (``notification_fatigue`` imports ``benchmarks.alert_fatigue``;
the others import their neighbours by name)::

    scripts/with-test-broker.sh env PYTHONPATH=. .venv/bin/python benchmarks/run_all.py

The benchmarks print their results and return nothing, so the suite takes
each one's figures from the very object it hands its report function
(``results_of``), not from its printed text.
"""

import math
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import forecast_quality
import ingest_throughput
import notification_fatigue
import recovery
import tick_cost
import typer
from rich.console import Console
from rich.table import Table

console = Console(width=160)


@dataclass(frozen=True)
class Figure:
    """One line of the summary: a measured value beside what it is compared with."""

    benchmark: str
    figure: str
    value: str
    baseline: str
    ratio: float


@contextmanager
def results_of(module: ModuleType, function: str = "report") -> Iterator[list[tuple[Any, ...]]]:
    """The arguments of each call of a benchmark's report function, which still prints.

    >>> import types
    >>> bench = types.SimpleNamespace(report=lambda result: None)
    >>> with results_of(bench) as calls:
    ...     bench.report(42)
    >>> calls
    [(42,)]
    """
    original = getattr(module, function)
    calls: list[tuple[Any, ...]] = []

    def keep(*args: Any) -> None:
        calls.append(args)
        original(*args)

    setattr(module, function, keep)
    try:
        yield calls
    finally:
        setattr(module, function, original)


def ratio(value: float, baseline: float) -> float:
    """``value / baseline``; NaN where either is unknown or the baseline is zero.

    >>> ratio(3.0, 4.0), math.isnan(ratio(1.0, 0.0))
    (0.75, True)
    """
    if not (math.isfinite(value) and math.isfinite(baseline)) or baseline == 0:
        return math.nan
    return value / baseline


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if math.isfinite(seconds) else "—"


# --- the benchmarks ---------------------------------------------------------------------------


def ingest(events: int, materials: int, rates: list[int]) -> list[Figure]:
    """Backlog drain against the pure core, steady-rate latency against the goals, memory."""
    with results_of(ingest_throughput) as calls:
        ingest_throughput.main(
            events=events,
            materials=materials,
            debezium_share=0.5,
            rate=rates,
            steady_seconds=10.0,
            probes=25,
            seed=7,
        )
    (result,) = calls[0]
    drain = result.drain
    per_cpu_second = drain.rate * drain.seconds / drain.cpu_seconds
    plain = result.events - result.debezium
    decode_us = (
        result.decode_plain_us * plain + result.decode_debezium_us * result.debezium
    ) / result.events
    core_us = result.agent_us["total"] + decode_us
    core_rate = 1e6 / core_us
    name = "ingest throughput"
    figures = [
        Figure(
            name,
            f"backlog drain, events per worker CPU-second ({result.events:,} events, "
            f"{result.materials:,} materials; goal ≥ 0.5 of the core)",
            f"{per_cpu_second:,.0f}/CPU-s",
            f"{core_rate:,.0f}/s pure core in process (decode + agent step)",
            ratio(per_cpu_second, core_rate),
        ),
        Figure(
            name,
            "whole drain until every agent caught up (notifier included), events per worker "
            "CPU-second",
            f"{result.events / result.settled.cpu_seconds:,.0f}/CPU-s",
            f"{core_rate:,.0f}/s pure core in process (decode + agent step)",
            ratio(result.events / result.settled.cpu_seconds, core_rate),
        ),
        Figure(
            name,
            "backlog drain, events per second (wall clock)",
            f"{drain.rate:,.0f}/s",
            f"{core_rate:,.0f}/s pure core in process",
            ratio(drain.rate, core_rate),
        ),
    ]
    for phase in result.steady:
        p99 = ingest_throughput.sample_quantile(phase.probes, 0.99)
        seconds = p99.seconds if p99 is not None else math.nan
        goal = ingest_throughput.LATENCY_GOALS.get(phase.target_rate, math.nan)
        lost = f", {phase.lost_probes} lost" if phase.lost_probes else ""
        figures.append(
            Figure(
                name,
                f"produce → visible p99 at {phase.target_rate}/s (n={len(phase.probes)}{lost})",
                ms(seconds),
                f"{ms(goal)} goal",
                ratio(seconds, goal),
            )
        )
    figures.append(
        Figure(
            name,
            "worker peak RSS (VmHWM)",
            f"{result.footprint.peak_rss_kib / 1024:,.0f} MiB",
            "—",
            math.nan,
        )
    )
    return figures


def ticks(materials: int, old_tree: Path | None, runs: int) -> list[Figure]:
    """Tick rate after against before in process; live probes against the raw client."""
    result = tick_cost.measure(
        sizes=[materials],
        live_materials=materials,
        probes=300,
        rate=10.0,
        old_tree=old_tree,
        primes=[tick_cost.Prime.QUIET],
        runs=runs,
        seed=11,
    )
    tick_cost.report(result)
    name = "tick cost"
    figures = []
    for row in result.in_process:
        for tick, before, after in (
            ("no-change tick", row.quiet_before, row.quiet_after),
            ("rest of the day's ticks", row.quiet_before, row.rest_seconds / row.rest_ticks),
            ("new day's tick", row.day_before, row.day_after),
        ):
            figures.append(
                Figure(
                    name,
                    f"{tick}, {row.size:,} materials ({row.mix}), materials/s",
                    f"{row.size / after:,.0f}/s",
                    f"{row.size / before:,.0f}/s before (every key hashed, every material visited)",
                    ratio(before, after),
                )
            )
    for (prime, label), lives in tick_cost.measured_configurations(result.lives).items():
        p99 = statistics.fmean(tick_cost.quantile(run.probes, 0.99) for run in lives)
        raw = statistics.fmean(tick_cost.quantile(run.round_trips, 0.99) for run in lives)
        gap = statistics.fmean(run.health_gap_max for run in lives)
        where = f"{label}, {materials:,} {prime} materials ticked every "
        where += f"{tick_cost.TICK_INTERVAL_S:g} s, mean of {len(lives)}"
        figures += [
            Figure(
                name,
                f"probe produce → applied p99 ({where})",
                ms(p99),
                f"{ms(raw)} raw client produce → consume p99",
                ratio(p99, raw),
            ),
            Figure(
                name,
                f"longest /health gap ({where})",
                ms(gap),
                f"{ms(tick_cost.HEALTH_POLL_S)} polling interval",
                ratio(gap, tick_cost.HEALTH_POLL_S),
            ),
        ]
    return figures


def restore(materials: int) -> list[Figure]:
    """A cold start from the changelog against a raw read of it into RocksDB; peak RSS."""
    result = recovery.measure(materials, 3, 13)
    recovery.report([result])
    size = f"{materials:,} materials, {result.total:,} changelog records"
    return [
        Figure(
            "recovery",
            f"cold start from the changelog ({size}), records/s",
            f"{result.worker_rate:,.0f}/s",
            f"{result.rocksdb_rate:,.0f}/s raw aiokafka read into a fresh RocksDB; goal ≥ 0.5",
            ratio(result.worker_rate, result.rocksdb_rate),
        ),
        Figure(
            "recovery",
            f"cold worker peak RSS ({materials:,} materials)",
            f"{result.peak_rss_kib / 1024:,.0f} MiB",
            "—",
            math.nan,
        ),
    ]


def fatigue() -> list[Figure]:
    """Interruptions per material-month with people acknowledging, against nobody doing so."""
    with results_of(notification_fatigue) as calls:
        notification_fatigue.main(
            materials=50,
            days=30,
            warmup=60,
            seed=4,
            shipments=notification_fatigue.Shipments.ISSUE_FIRST,
            rules_file=None,
            routes_file=None,
            owners="li.na,anna",
            respond_after="15m",
            worst_case=True,
        )
    reports = [call[0] for call in calls]
    worst = next(r for r in reports if r.respond_after is None)
    answered = next(r for r in reports if r.respond_after is not None)
    critical = answered.critical
    minutes = answered.respond_after.total_seconds() / 60
    return [
        Figure(
            "notification fatigue",
            f"interruptions per material-month, acknowledged after {minutes:g} min "
            f"({answered.materials} materials, {answered.days} days; goal ≤ "
            f"{notification_fatigue.TARGET_INTERRUPTIONS:g})",
            f"{answered.interruptions_per_material_month:.2f}",
            f"{worst.interruptions_per_material_month:.2f} when nobody acknowledges",
            ratio(
                answered.interruptions_per_material_month, worst.interruptions_per_material_month
            ),
        ),
        Figure(
            "notification fatigue",
            "critical alerts delivered at once",
            f"{critical.alerts_delivered} of {critical.alerts}",
            f"{critical.alerts} became critical",
            ratio(critical.alerts_delivered, critical.alerts),
        ),
    ]


def forecasts(series: int) -> list[Figure]:
    """MASE of ``DemandForecaster`` one step ahead against the seasonal naive forecast.

    ``forecast_quality.py`` also scores statsforecast's references, which the
    suite does not need to install; its data, sample and scoring are used as they are.
    """
    started = time.perf_counter()
    daily = forecast_quality.load_daily(
        "bakery", forecast_quality.DATA / "bakery_daily_demand.csv"
    ) + forecast_quality.load_daily("yaz", forecast_quality.DATA / "yaz_daily_demand.csv")
    chosen = forecast_quality.sample(
        forecast_quality.prepare(daily, 0.25, min_train=60), series, seed=7
    )
    _, make, note = forecast_quality.our_models()
    if make is None:
        raise RuntimeError(f"forecast quality: no DemandForecaster ({note})")
    ours = [forecast_quality.score(s, forecast_quality.online_one_step(make, s)) for s in chosen]
    seasonal = [
        forecast_quality.score(s, s.y[s.n_train - s.season : s.y.size - s.season]) for s in chosen
    ]
    mase = forecast_quality.mean(score.mase for score in ours)
    naive = forecast_quality.mean(score.mase for score in seasonal)
    console.print(
        f"forecast quality: {len(chosen)} daily series (bakery + yaz), MASE ours {mase:.3f}, "
        f"seasonal naive {naive:.3f}, {time.perf_counter() - started:.0f} s"
    )
    return [
        Figure(
            "forecast quality",
            f"MASE one step ahead, DemandForecaster ({len(chosen)} daily series)",
            f"{mase:.3f}",
            f"{naive:.3f} seasonal naive (m=7)",
            ratio(mase, naive),
        )
    ]


# --- the summary ------------------------------------------------------------------------------


def summary(figures: list[Figure], seconds: float, load: tuple[float, float]) -> Table:
    """The one table of the suite."""
    table = Table(
        title=f"stockloop benchmarks: {os.cpu_count()} CPUs, 1-min load average {load[0]:.1f} at "
        f"start, {load[1]:.1f} at end, {seconds / 60:.0f} min",
        title_justify="left",
        title_style="bold",
    )
    for column in ("benchmark", "figure", "value", "baseline", "ratio"):
        table.add_column(column, justify="right" if column in ("value", "ratio") else "left")
    for figure in figures:
        table.add_row(
            figure.benchmark,
            figure.figure,
            figure.value,
            figure.baseline,
            f"{figure.ratio:.2f}" if math.isfinite(figure.ratio) else "—",
        )
    return table


def markdown(figures: list[Figure]) -> str:
    """The summary as a Markdown table, for ``docs/performance.md``.

    >>> print(markdown([Figure("b", "f", "1 ms", "2 ms raw", 0.5)]))
    | benchmark | figure | value | baseline | ratio |
    |---|---|---:|---|---:|
    | b | f | 1 ms | 2 ms raw | 0.50 |
    """
    lines = ["| benchmark | figure | value | baseline | ratio |", "|---|---|---:|---|---:|"]
    for f in figures:
        shown = f"{f.ratio:.2f}" if math.isfinite(f.ratio) else "—"
        lines.append(f"| {f.benchmark} | {f.figure} | {f.value} | {f.baseline} | {shown} |")
    return "\n".join(lines)


def main(
    events: Annotated[int, typer.Option(min=1, help="Ingest backlog events.")] = 50_000,
    ingest_materials: Annotated[int, typer.Option(min=1, help="Ingest materials.")] = 500,
    ingest_rate: Annotated[
        list[int] | None, typer.Option(help="Ingest steady rates, events/s (default 200, 500).")
    ] = None,
    tick_materials: Annotated[
        int, typer.Option(min=1, help="Materials ticked, in process and live.")
    ] = 10_000,
    old_tree: Annotated[
        Path | None,
        typer.Option(help="A checkout of the code before, also run as the live tick's 'before'."),
    ] = None,
    tick_runs: Annotated[int, typer.Option(min=1, help="Live tick runs of each worker.")] = 1,
    recovery_materials: Annotated[
        int, typer.Option(min=0, help="Materials restored in the cold start (0: skip).")
    ] = 10_000,
    forecast_series: Annotated[
        int, typer.Option(min=0, help="Daily series scored for forecast quality (0: skip).")
    ] = 100,
    markdown_to: Annotated[
        Path | None, typer.Option("--markdown", help="Also write the summary here as Markdown.")
    ] = None,
) -> None:
    """Run the benchmarks that matter, each printing its detail, then one summary table."""
    started, load_at_start = time.perf_counter(), os.getloadavg()[0]
    rates = ingest_rate or list(ingest_throughput.LATENCY_GOALS)
    steps: list[tuple[str, Callable[[], list[Figure]]]] = [
        ("ingest throughput", lambda: ingest(events, ingest_materials, rates)),
        ("tick cost", lambda: ticks(tick_materials, old_tree, tick_runs)),
        ("notification fatigue", fatigue),
    ]
    if recovery_materials:
        steps.append(("recovery", lambda: restore(recovery_materials)))
    if forecast_series:
        steps.append(("forecast quality", lambda: forecasts(forecast_series)))
    figures: list[Figure] = []
    for title, step in steps:
        console.rule(title)
        figures += step()
    load = (load_at_start, os.getloadavg()[0])
    console.rule("summary")
    console.print(summary(figures, time.perf_counter() - started, load))
    if markdown_to is not None:
        markdown_to.write_text(markdown(figures) + "\n", encoding="utf-8")


if __name__ == "__main__":
    typer.run(main)
