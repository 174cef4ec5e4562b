"""``stockloop replay``: recorded input topics through a fresh worker, in event time.

An analyst asks what stockloop would have said over last month's ERP
traffic, under other rules or another version, without touching the live
deployment. The input topics of the deployment (``STOCKLOOP_TOPIC_PREFIX``)
are copied, from a time or an offset to an end, into the topics of a new
prefix (``connectors.replay``); a worker with a new app id and the data clock
reads them as a backlog, and the command waits until it has caught up, stops
it, writes its transitions under the new prefix in event-time order
(``connectors.output_order``) and says what came out. The outputs stay on the
new prefix's topics.
"""

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import httpx
import typer
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.kafka_client import TopicMissingError
from connectors.output_order import write_in_order
from connectors.replay import (
    CopySummary,
    PartitionRange,
    ReplayError,
    ReplayWindow,
    check_partitions,
    copy_ranges,
    end_offsets,
    plan_copy,
    topics_starting,
)
from connectors.topic_admin import TopicAdminError, apply_catalogue
from connectors.topic_cleanup import delete_topics
from streams.catalogue import (
    ALERTS,
    DEAD_LETTER,
    PURCHASE_REQUESTS,
    REVIEWS,
    TRANSFERS,
    TRANSITION_TOPICS,
    TopicSpec,
    load_catalogue,
)
from streams.cli.kafka import connection, fail, kafka_errors
from streams.settings import Settings

console = Console()
app = typer.Typer(pretty_exceptions_show_locals=False)

OUTPUTS = (ALERTS, PURCHASE_REQUESTS, TRANSFERS, REVIEWS, DEAD_LETTER)
"""The topics whose records the summary counts."""
POLL_S = 1.0
LAG_INTERVAL_S = 5.0
"""How often a worker measures its consumer lag (``streams.views``): a caught-up reading
is confirmed by one taken at least this much later, with nothing changed in between."""
STOP_TIMEOUT_S = 30.0
REPLAY_SESSION_TIMEOUT_S = 60.0
"""The replay's worker is alone in its group: a long session timeout costs no fail-over, and
a busy machine's stalls then cause no rebalance, which re-reads input out of order (seen:
18 events applied late, alerts unlike the backtest's)."""
WORKER = (sys.executable, "-c", "from streams.cli import main; main()", "worker")
"""``stockloop worker`` of this very installation, whatever the console script is called."""
ARRIVAL_PREFIX = "arrival."
"""Under the replay's prefix, where its worker writes transitions in the order it made them."""
ACTIVITY = (
    "stockloop_ticked_materials_total",
    "stockloop_alerts_total",
    "stockloop_purchase_requests_total",
)
"""Besides the input counters, what a worker still busy with a backlog moves."""
FINAL_OUTCOMES = ("applied", "duplicate", "dead_lettered", "tombstone", "skipped", "reference")
"""Outcomes that end an input record (``streams.metrics.EVENTS``); ``held`` waits for
``released``."""


@dataclass(frozen=True)
class WorkerReading:
    """What a replay worker's ``/health`` and ``/metrics`` said at one moment."""

    ready: bool
    events: dict[tuple[str, str], float] = field(default_factory=dict)
    """``stockloop_events_total`` by (physical topic, outcome)."""
    lags: dict[tuple[str, str], float] = field(default_factory=dict)
    """``stockloop_consumer_lag`` by (physical topic, partition)."""
    pending: float = 0.0
    """Materials with events waiting for the watermark, over every partition."""
    late_demand: float = 0.0
    """Demand events applied after their day had closed (``stockloop_late_demand_events``)."""
    activity: tuple[float, ...] = ()
    """Counters that move while the worker works: equal in two readings, it did nothing."""

    def received(self, topic: str) -> float:
        return self.events.get((topic, "received"), 0.0)

    def open_records(self, topic: str) -> float:
        """Input records of ``topic`` received without an outcome yet.

        >>> reading = WorkerReading(True, {("t", "received"): 5, ("t", "applied"): 3,
        ...                                ("t", "held"): 1, ("t", "released"): 1})
        >>> reading.open_records("t")
        2.0
        """
        done = sum(self.events.get((topic, outcome), 0.0) for outcome in FINAL_OUTCOMES)
        waiting = self.events.get((topic, "held"), 0.0) - self.events.get((topic, "released"), 0.0)
        return self.received(topic) - done - waiting


def caught_up(reading: WorkerReading, copied: dict[str, int]) -> bool:
    """Every copied record read and ended, no input partition behind, no material waiting.

    ``copied``: records copied per physical input topic.

    >>> copied = {"r.erp.a": 2}
    >>> events = {("r.erp.a", "received"): 2, ("r.erp.a", "applied"): 2}
    >>> caught_up(WorkerReading(True, events, {("r.erp.a", "0"): 0}), copied)
    True
    >>> caught_up(WorkerReading(True, events, {("r.erp.a", "0"): 1}), copied)
    False
    >>> caught_up(WorkerReading(True, events, {("r.erp.a", "0"): 0}, pending=1), copied)
    False
    """
    if not reading.ready or reading.pending:
        return False
    for topic, records in copied.items():
        if reading.received(topic) < records or reading.open_records(topic) > 0:
            return False
    return all(lag == 0 for (topic, _), lag in reading.lags.items() if topic in copied)


def parse_time(option: str, text: str | None) -> datetime | None:
    """An ISO 8601 time of ``option``; one without a zone is UTC.

    >>> parse_time("--from", "2026-03-01").isoformat()
    '2026-03-01T00:00:00+00:00'
    >>> parse_time("--to", "2026-03-01T08:00:00+08:00").hour
    8
    """
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{option} {text!r}: not an ISO 8601 time (e.g. 2026-03-01 or "
            "2026-03-01T08:00:00+08:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command()
def replay(
    from_time: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Copy the records stamped at or after this time (ISO 8601; UTC unless it "
            "says its zone), e.g. 2026-03-01 or 2026-03-01T08:00:00+08:00. Kafka record "
            "timestamps, as the broker's offsets_for_times finds them. Default: the beginning.",
            show_default=False,
        ),
    ] = None,
    from_offset: Annotated[
        int | None,
        typer.Option(
            "--from-offset",
            min=0,
            help="Copy from this offset of every partition instead (clamped to what each holds).",
            show_default=False,
        ),
    ] = None,
    to_time: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Copy the records stamped before this time. Default: each partition's end "
            "when the copy starts.",
            show_default=False,
        ),
    ] = None,
    prefix: Annotated[
        str | None,
        typer.Option(
            help="Topic prefix of the replay's topics. Default: replay-<UTC time of the run>.",
            show_default=False,
        ),
    ] = None,
    app_id: Annotated[
        str | None,
        typer.Option(
            help="App id of the replay's worker (its consumer group and table changelogs); it "
            "must be new. Default: the prefix without its trailing dot.",
            show_default=False,
        ),
    ] = None,
    run: Annotated[
        bool,
        typer.Option(
            "--run/--no-run",
            help="Run a worker over the copy and wait until it has caught up; --no-run only "
            "copies and prints the command that runs it.",
        ),
    ] = True,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the worker to catch up.")
    ] = 3600.0,
) -> None:
    """Replay recorded input topics through a new worker, in event time, and wait until done.

    Copies the ERP input topics (erp.* of topics.yaml) of the deployment named
    by STOCKLOOP_TOPIC_PREFIX, from --from or --from-offset (default: the
    beginning) to --to (default: their end now), into the same topics under
    --prefix, keeping each record's partition, key, value, headers and
    timestamp. Compacted topics (masters, BOMs, promotions) are copied whole:
    they are reference data. Then runs a worker with --app-id and
    STOCKLOOP_CLOCK=data (event time only, no wall-clock ticks) until every
    copied record has been read and applied, prints what came out (alerts,
    purchase requests, transfers, reviews, dead letters) and how fast, and
    stops it. The outputs stay on the --prefix topics: read them with the
    other commands under STOCKLOOP_TOPIC_PREFIX=<prefix>.

    Deterministic: once the worker has caught up, its alerts, purchase
    requests, transfers and reviews are written under --prefix in event-time
    order, so the same input gives the same output topics, byte for byte and
    timestamp for timestamp, and the same alerts as `stockloop backtest` of
    that input (docs/replay.md). The worker uses the built-in rules and
    default policies unless some are published under the new prefix (run
    with --no-run, publish, then start the worker; its outputs are then in
    the order it made them).
    Exit code 1 on bad options, a missing topic, or no catch-up within --timeout.
    """
    settings = Settings()
    try:
        start_time = parse_time("--from", from_time)
        end_time = parse_time("--to", to_time)
    except ValueError as error:
        raise fail(str(error)) from None
    if start_time is not None and from_offset is not None:
        raise fail("--from and --from-offset: give one start, a time or an offset")
    if start_time is not None and end_time is not None and end_time <= start_time:
        raise fail(f"--to {to_time!r}: must be after --from {from_time!r}")
    run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target_prefix = prefix if prefix is not None else f"replay-{run_id}."
    worker_app = app_id or target_prefix.rstrip(".-_") or f"replay-{run_id}"
    if target_prefix == settings.topic_prefix:
        raise fail(
            f"--prefix {target_prefix!r}: that is the deployment being replayed "
            "(STOCKLOOP_TOPIC_PREFIX); choose a new one"
        )
    if worker_app == settings.app_id:
        raise fail(
            f"--app-id {worker_app!r}: that is the deployment's own app id; choose a new one"
        )
    catalogue = load_catalogue(settings.topics_file)
    inputs = {name: _compacted(spec) for name, spec in catalogue.items() if name.startswith("erp.")}
    target = settings.model_copy(update={"topic_prefix": target_prefix, "app_id": worker_app})
    window = ReplayWindow(start_time, from_offset, end_time)
    ranges = _plan(settings, inputs, window)
    _prepare(target, catalogue, ranges)
    started = time.perf_counter()
    copied = _copy(settings, ranges, target_prefix)
    copy_seconds = time.perf_counter() - started
    console.print(
        f"copied {copied.total:,} records from {settings.topic_prefix or '(no prefix)'} to "
        f"{target_prefix} in {copy_seconds:.1f} s",
        highlight=False,
    )
    data_dir = settings.data_dir.parent / worker_app
    worker_env = {
        "STOCKLOOP_APP_ID": worker_app,
        "STOCKLOOP_TOPIC_PREFIX": target_prefix,
        "STOCKLOOP_CLOCK": "data",
        "STOCKLOOP_DATA_DIR": str(data_dir),
        "STOCKLOOP_SESSION_TIMEOUT_S": str(
            max(settings.session_timeout_s, REPLAY_SESSION_TIMEOUT_S)
        ),
    }
    if not run:
        variables = " ".join(f"{k}={v}" for k, v in worker_env.items())
        console.print(
            f"run the replay's worker with:\n  {variables} stockloop worker", soft_wrap=True
        )
        _how_to_read(target_prefix)
        return
    arrival = target.model_copy(update={"output_prefix": f"{target_prefix}{ARRIVAL_PREFIX}"})
    try:
        apply_catalogue(catalogue, arrival)
    except TopicAdminError as error:
        raise fail(str(error)) from None
    physical = {f"{target_prefix}{topic}": n for topic, n in copied.records.items() if n}
    worker_env["STOCKLOOP_OUTPUT_PREFIX"] = str(arrival.output_prefix)
    worker = ReplayWorker(settings.web_host, data_dir, worker_env)
    try:
        outcome = worker.wait(physical, timeout)
    finally:
        worker.stop()
    if outcome is None:
        raise fail(
            f"the replay's worker had not caught up after {timeout:g} s ({worker.behind}); "
            f"its log: {worker.log_path}"
        )
    _order(arrival, target)
    with kafka_errors():
        produced = end_offsets(connection(target), [target.topic(t) for t in OUTPUTS])
    _summary(copied, outcome, worker.cpu_s, {t: produced[target.topic(t)] for t in OUTPUTS})
    _how_to_read(target_prefix)


def _compacted(spec: TopicSpec) -> bool:
    return "compact" in spec.config.get("cleanup.policy", "")


def _keeping_history(catalogue: dict[str, TopicSpec]) -> dict[str, TopicSpec]:
    """The catalogue with time retention off (``retention.ms=-1``) on inputs and transitions.

    A copied record keeps its timestamp, and an ordered transition is stamped
    with its event time: last year's history, under the catalogue's 30 days,
    would be deleted by the broker within minutes of the copy (seen). The
    replay's inputs and transitions stay until its topics are deleted.
    """
    kept = dict(catalogue)
    for name, spec in catalogue.items():
        history = name.startswith("erp.") or name in TRANSITION_TOPICS
        if history and "delete" in spec.config.get("cleanup.policy", "delete"):
            kept[name] = spec.model_copy(update={"config": {**spec.config, "retention.ms": "-1"}})
    return kept


def _plan(
    settings: Settings, inputs: dict[str, bool], window: ReplayWindow
) -> list[PartitionRange]:
    """The ranges to copy, or exit with one line naming a missing source topic."""
    with kafka_errors():
        try:
            return plan_copy(connection(settings), settings.topic_prefix, inputs, window)
        except TopicMissingError as error:
            raise fail(
                f"no such topic: {error.topic}; STOCKLOOP_TOPIC_PREFIX="
                f"{settings.topic_prefix!r} must name the deployment to replay"
            ) from None


def _prepare(
    target: Settings,
    catalogue: dict[str, TopicSpec],
    ranges: list[PartitionRange],
) -> None:
    """Create the new prefix's topics; refuse a prefix that holds input or an app id in use."""
    with kafka_errors():
        used = topics_starting(connection(target), f"{target.app_id}-")
    if used:
        raise fail(
            f"--app-id {target.app_id!r}: its worker state is on the broker already "
            f"({used[0]}); choose a new app id"
        )
    try:
        apply_catalogue(_keeping_history(catalogue), target)
    except TopicAdminError as error:
        raise fail(str(error)) from None
    try:
        with kafka_errors():
            held = end_offsets(connection(target), sorted({target.topic(r.topic) for r in ranges}))
            check_partitions(connection(target), ranges, target.topic_prefix)
    except ReplayError as error:
        raise fail(str(error)) from None
    full = [topic for topic, records in held.items() if records]
    if full:
        raise fail(
            f"--prefix {target.topic_prefix!r}: {full[0]} already holds records; choose a new "
            f"prefix or delete its topics (STOCKLOOP_TOPIC_PREFIX={target.topic_prefix} "
            "stockloop topics delete)"
        )


def _copy(settings: Settings, ranges: list[PartitionRange], target_prefix: str) -> CopySummary:
    total = sum(r.offsets for r in ranges)
    try:
        with kafka_errors(), _progress() as progress:
            task = progress.add_task("copy", total=total)
            return copy_ranges(
                connection(settings),
                ranges,
                settings.topic_prefix,
                target_prefix,
                lambda offsets: progress.advance(task, offsets),
            )
    except ReplayError as error:
        raise fail(str(error)) from None


def _order(arrival: Settings, target: Settings) -> None:
    """Write the worker's transitions under the replay's prefix in event-time order, then
    delete the worker's own copies (``connectors.output_order``)."""
    arrived = [arrival.topic(topic) for topic in TRANSITION_TOPICS]
    try:
        with kafka_errors(), _progress("records") as progress:
            total = sum(end_offsets(connection(arrival), arrived).values())
            task = progress.add_task("order", total=total)
            written = sum(
                write_in_order(
                    connection(target),
                    arrival.topic(topic),
                    target.topic(topic),
                    lambda records: progress.advance(task, records),
                )
                for topic in TRANSITION_TOPICS
            )
            delete_topics(arrived, target)
    except ReplayError as error:
        kept = arrival.output_prefix
        raise fail(f"{error}; the worker's transitions stay under {kept}") from None
    console.print(
        f"wrote {written:,} transitions in event-time order ({total - written:,} the worker "
        "had sent twice, written once)",
        highlight=False,
    )


@dataclass(frozen=True)
class Outcome:
    """How the replay's worker went: seconds from its start to ready and to caught up."""

    ready_s: float
    caught_up_s: float
    late_demand: float


class ReplayWorker:
    """A ``stockloop worker`` process over the replay's topics, with its own port and data dir."""

    def __init__(self, web_host: str, data_dir: Path, env: dict[str, str]) -> None:
        self.port = _free_port(web_host)
        self.url = f"http://{web_host}:{self.port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir / "worker.log"
        self.behind = "not started"
        environment = {**os.environ, **env, "STOCKLOOP_WEB_PORT": str(self.port)}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*WORKER, "--loglevel", "warning"],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started = time.perf_counter()
        self.cpu_s = 0.0
        """CPU seconds the worker used, start-up included; known once it is stopped."""

    def wait(self, copied: dict[str, int], timeout: float) -> Outcome | None:
        """Wait until the worker has caught up on ``copied`` (records per physical topic).

        Caught up is ``caught_up`` twice, ``LAG_INTERVAL_S`` apart, with no
        counter moved in between; None if that did not happen within ``timeout``.
        """
        total = sum(copied.values())
        deadline = self.started + timeout
        ready_at: float | None = None
        candidate: tuple[float, WorkerReading] | None = None
        with _progress("records") as progress:
            task = progress.add_task("replay", total=total)
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise fail(
                        f"the replay's worker exited with code {self.process.returncode}; "
                        f"its log: {self.log_path}"
                    )
                reading = self._read()
                now = time.perf_counter()
                if reading.ready and ready_at is None:
                    ready_at = now
                done = sum(reading.received(t) - reading.open_records(t) for t in copied)
                progress.update(task, completed=min(done, total))
                self.behind = _behind(reading, copied)
                if not caught_up(reading, copied):
                    candidate = None
                elif candidate is None or candidate[1].activity != reading.activity:
                    candidate = (now, reading)
                elif now - candidate[0] >= LAG_INTERVAL_S:
                    start = self.started
                    ready_s = (ready_at or now) - start
                    return Outcome(ready_s, candidate[0] - start, reading.late_demand)
                time.sleep(POLL_S)
        return None

    def _read(self) -> WorkerReading:
        try:
            ready = httpx.get(f"{self.url}/health", timeout=5).status_code == 200
            text = httpx.get(f"{self.url}/metrics", timeout=10).text
        except httpx.HTTPError:
            return WorkerReading(ready=False)
        return worker_reading(ready, text)

    def stop(self) -> None:
        """SIGTERM (a clean stop that flushes what it sends), SIGKILL if that hangs."""
        before = _children_cpu_s()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=STOP_TIMEOUT_S)
        self.cpu_s = _children_cpu_s() - before


def _children_cpu_s() -> float:
    """CPU seconds of this process's children that have ended and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def worker_reading(ready: bool, text: str) -> WorkerReading:
    """A reading from ``/health``'s answer and ``/metrics``' Prometheus text."""
    events: dict[tuple[str, str], float] = {}
    lags: dict[tuple[str, str], float] = {}
    pending = late_demand = 0.0
    activity: list[float] = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "stockloop_consumer_lag":
                # Not activity: watermark reports keep material-events moving by a record or two.
                lags[(labels["topic"], labels["partition"])] = sample.value
                continue
            if sample.name == "stockloop_events_total":
                events[(labels["topic"], labels["outcome"])] = sample.value
            elif sample.name == "stockloop_pending_materials":
                pending += sample.value
            elif sample.name == "stockloop_late_demand_events_total":
                late_demand = sample.value
            elif sample.name not in ACTIVITY:
                continue
            activity.append(sample.value)
    return WorkerReading(ready, events, lags, pending, late_demand, tuple(activity))


def _behind(reading: WorkerReading, copied: dict[str, int]) -> str:
    """What keeps a reading from being caught up, in a few words."""
    if not reading.ready:
        return "its /health is not ready"
    parts = [
        f"{topic}: {reading.received(topic):.0f} of {records} read, "
        f"{reading.open_records(topic):.0f} without an outcome"
        for topic, records in copied.items()
    ]
    return f"{'; '.join(parts)}; {reading.pending:.0f} materials waiting"


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _summary(copied: CopySummary, outcome: Outcome, cpu_s: float, produced: dict[str, int]) -> None:
    table = Table("topic", "records", title="replay", title_justify="left", box=None)
    for topic, records in copied.records.items():
        table.add_row(f"in  {topic}", f"{records:,}")
    for topic, records in produced.items():
        table.add_row(f"out {topic}", f"{records:,}")
    console.print(table)
    working = outcome.caught_up_s - outcome.ready_s
    rate = copied.total / working if working > 0 else 0.0
    console.print(
        f"caught up {outcome.caught_up_s:.1f} s after the worker started ({working:.1f} s after "
        f"it was ready): {copied.total:,} records, {rate:,.0f} records/s; the worker used "
        f"{cpu_s:.1f} CPU s, start-up included",
        highlight=False,
        soft_wrap=True,
    )
    if outcome.late_demand:
        console.print(
            f"[yellow]warning:[/yellow] {outcome.late_demand:.0f} demand events came after "
            "their day had closed (input read out of order, e.g. after a rebalance): the "
            "outputs may differ from another replay's and from the backtest's",
            highlight=False,
        )


def _how_to_read(prefix: str) -> None:
    console.print(
        f"read the outputs with STOCKLOOP_TOPIC_PREFIX={prefix} in front of the other commands, "
        f"e.g. STOCKLOOP_TOPIC_PREFIX={prefix} stockloop requests list",
        highlight=False,
        soft_wrap=True,
    )


def _progress(unit: str = "offsets") -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
