"""A ``stockloop worker`` process for the benchmarks: start, probe, read, stop.

The benchmarks run as scripts (``python benchmarks/NAME.py``), so they import
this module by its name from their own directory.
"""

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
import kafka
from aiokafka import TopicPartition
from kafka import KafkaConsumer

from streams.settings import PROJECT_ROOT, Settings

STOCKLOOP = PROJECT_ROOT / ".venv" / "bin" / "stockloop"


def free_port() -> int:
    """A TCP port nothing listens on now, for a worker's web server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def private_deployment() -> tuple[str, Path, Settings]:
    """A run id, a fresh directory, and settings no other run shares.

    Its own app id (consumer group, tables), topic prefix, web port and state
    directory: a benchmark never reads another run's topics or joins its group.
    """
    run_id = uuid.uuid4().hex[:8]
    run_dir = Path(tempfile.mkdtemp(prefix=f"stockloop-bench-{run_id}-"))
    settings = Settings(
        app_id=f"bench-{run_id}",
        topic_prefix=f"bench-{run_id}.",
        web_port=free_port(),
        data_dir=run_dir / "data",
    )
    return run_id, run_dir, settings


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll ``check`` until it holds; a ``TimeoutError`` naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not done within {timeout:.0f}s")
        time.sleep(interval)


def changelog_offsets(settings: Settings) -> dict[TopicPartition, tuple[int, int]]:
    """First and end offset of every partition of the deployment's changelog topics."""
    return _offsets(
        settings,
        lambda topic: topic.startswith(f"{settings.app_id}-") and topic.endswith("-changelog"),
    )


def records_by_topic(settings: Settings) -> dict[str, int]:
    """Records on each topic of the deployment, changelogs included, by name without the
    deployment's prefix: what a run wrote, for records per input event."""
    own = (settings.topic_prefix, f"{settings.app_id}-")
    counts: dict[str, int] = {}
    for tp, (first, end) in _offsets(settings, lambda topic: topic.startswith(own)).items():
        name = tp.topic.removeprefix(settings.topic_prefix).removeprefix(f"{settings.app_id}-")
        counts[name] = counts.get(name, 0) + end - first
    return counts


def _offsets(
    settings: Settings, wanted: Callable[[str], bool]
) -> dict[TopicPartition, tuple[int, int]]:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        **settings.kafka_security.kafka_python_kwargs(),
    )
    try:
        partitions = [
            kafka.TopicPartition(topic, partition)
            for topic in consumer.topics()
            if wanted(topic)
            for partition in consumer.partitions_for_topic(topic) or ()
        ]
        first = consumer.beginning_offsets(partitions)
        end = consumer.end_offsets(partitions)
    finally:
        consumer.close()
    return {TopicPartition(tp.topic, tp.partition): (first[tp], end[tp]) for tp in partitions}


def wait_for_quiet_changelogs(settings: Settings, quiet_s: float, timeout: float) -> None:
    """Wait until no changelog of the deployment has grown for ``quiet_s``.

    A worker applies what it was fed, then writes the changed tables at its
    commits, and each commit's writes pass through one producer: a live
    event sent while tens of thousands of changelog records are still on
    their way waits behind them. A probe of the steady state starts after.
    """
    last, since = -1, time.monotonic()
    deadline = since + timeout
    while True:
        total = sum(end for _, end in changelog_offsets(settings).values())
        now = time.monotonic()
        if total != last:
            last, since = total, now
        elif now - since >= quiet_s:
            return
        if now > deadline:
            raise TimeoutError(f"changelogs still growing after {timeout:.0f}s")
        time.sleep(0.5)


class WorkerProcess:
    """One worker process with the given ``STOCKLOOP_*`` settings, its log in a file."""

    def __init__(
        self, settings: Mapping[str, object], web_port: int, log_path: Path, timeout: float
    ) -> None:
        self.environment = {
            **os.environ,
            **{f"STOCKLOOP_{name.upper()}": str(value) for name, value in settings.items()},
        }
        self.log_path = log_path
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{web_port}", timeout=timeout)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, health_timeout: float = 90.0) -> float:
        """Start the worker; the seconds until its ``/health`` answers 200."""
        started = time.perf_counter()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(STOCKLOOP), "worker", "--loglevel", "warning"],
                env=self.environment,
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._healthy, timeout=health_timeout, what="worker /health")
        return time.perf_counter() - started

    def _healthy(self) -> bool:
        self.check_alive()
        try:
            return self.http.get("/health").status_code == 200
        except httpx.HTTPError:
            return False

    def check_alive(self) -> None:
        """Stop the benchmark with the worker's log if the worker has died.

        Exit code 0 means it was stopped cleanly, by a SIGTERM from outside.
        """
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log_tail()}")

    def get(self, path: str) -> httpx.Response:
        """GET from the worker; a refused connection is first explained by a dead worker."""
        try:
            return self.http.get(path)
        except httpx.TransportError:
            if self.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=5)
            self.check_alive()
            raise

    def log_tail(self) -> str:
        """The end of the worker's log, where a crash explains itself."""
        return self.log_path.read_text(errors="replace")[-3000:]

    def cpu_seconds(self) -> float:
        """User plus system CPU time the worker has used, all its threads (RocksDB's too)."""
        assert self.process is not None
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        # Fields after the parenthesised command name; utime and stime are the 12th and 13th.
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_kib(self) -> dict[str, int]:
        """Peak (VmHWM) and current (VmRSS) resident memory of the worker process, in KiB."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return {
            line.split(":")[0]: int(line.split()[1])
            for line in status.splitlines()
            if line.startswith(("VmHWM:", "VmRSS:"))
        }

    def stop(self) -> None:
        """SIGTERM, as a deployment would stop it; SIGKILL only if it will not exit."""
        self.http.close()
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
