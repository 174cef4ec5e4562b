"""Integration harness: real worker processes on the real broker that `make test` starts.

Each test gets its own app id, topic prefix, web port and state directory, so
tests never see each other's records or consumer groups.
"""

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from connectors.topic_admin import apply_catalogue
from streams.catalogue import load_catalogue
from streams.settings import PROJECT_ROOT, Settings

STOCKLOOP = str(PROJECT_ROOT / ".venv" / "bin" / "stockloop")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    check: Callable[[], object],
    timeout: float = 60.0,
    interval: float = 0.25,
    describe: Callable[[], object] | None = None,
):
    """Poll ``check`` until it returns something truthy.

    On timeout, fail with the check's last value, or with what ``describe``
    says about the state of things when a bare ``False`` would tell nothing.
    """
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    detail = describe() if describe else last
    raise AssertionError(f"condition not met within {timeout}s; last value: {detail!r}")


class Pipeline:
    """One isolated stockloop deployment: its topics, and a worker process that can be killed."""

    def __init__(self, root: Path, **overrides: object) -> None:
        run_id = uuid.uuid4().hex[:8]
        self.overrides: dict[str, object] = {
            "app_id": f"it-{run_id}",
            "topic_prefix": f"it-{run_id}.",
            "web_port": _free_port(),
            "data_dir": root / "data",
            "session_timeout_s": 6.0,
            **overrides,
        }
        self.settings = Settings(**self.overrides)
        self.log_path = root / "worker.log"
        self.process: subprocess.Popen | None = None
        self.producer = KafkaProducer(
            bootstrap_servers=self.settings.bootstrap_servers,
            acks="all",
            **self.settings.kafka_security.kafka_python_kwargs(),
        )
        apply_catalogue(load_catalogue(self.settings.topics_file), self.settings)

    @property
    def env(self) -> dict[str, str]:
        """The worker's environment: ours plus this deployment's settings."""
        env = dict(os.environ)
        for name, value in self.overrides.items():
            env[f"STOCKLOOP_{name.upper()}"] = str(value)
        return env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [STOCKLOOP, "worker", "--loglevel", "warning"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready(timeout=90)

    def wait_ready(self, timeout: float) -> None:
        """Wait until /health says the worker can serve reads; fail saying why it cannot."""
        wait_until(self._healthy, timeout=timeout, describe=self._startup_report)

    def _startup_report(self) -> str:
        """Why the worker is not ready: what /health waits for, and the end of its log."""
        try:
            health = httpx.get(f"{self.url}/health", timeout=2).text
        except httpx.HTTPError as error:
            health = f"no answer ({error!r})"
        return f"/health: {health}; worker log tail:\n{self.log_path.read_text()[-4000:]}"

    def _healthy(self) -> bool:
        if self.process and self.process.poll() is not None:
            raise AssertionError(f"worker exited:\n{self.log_path.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit, no flush."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)

    def cli(self, *arguments: str) -> str:
        """Run ``stockloop ARGUMENTS`` against this deployment; its output, in wide tables."""
        return subprocess.run(
            [STOCKLOOP, *arguments],
            env=self.env | {"COLUMNS": "250"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def send(self, topic: str, value: bytes | dict | None, key: bytes | None = None) -> None:
        """Produce one record; a dict is keyed by its material id, as an ERP producer would."""
        if isinstance(value, dict):
            if key is None and "material_id" in value:
                key = str(value["material_id"]).encode()
            value = orjson.dumps(value)
        self.producer.send(self.settings.topic(topic), key=key, value=value)

    def flush(self) -> None:
        self.producer.flush()

    def material(self, material_id: str) -> dict | None:
        response = httpx.get(f"{self.url}/materials/{material_id}", timeout=10)
        if response.status_code in (404, 503):  # unknown, or the worker is rebalancing
            return None
        response.raise_for_status()
        return response.json()

    def counters(self) -> dict[tuple[str, str], float]:
        """``stockloop_events_total`` by (unprefixed topic, outcome)."""
        return {
            (labels["topic"], labels["outcome"]): value
            for labels, value in self._samples("stockloop_events_total")
        }

    def ticked_materials(self, outcome: str) -> float:
        """Materials the worker's ticks brought forward, by outcome (changed, unchanged)."""
        counts = self._samples("stockloop_ticked_materials_total")
        return sum(value for labels, value in counts if labels["outcome"] == outcome)

    def changelog_records(self, table: str) -> int:
        """Records written so far to the changelog topic of the worker's table ``table``."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            **self.settings.kafka_security.kafka_python_kwargs(),
        )
        try:
            topic = f"{self.settings.app_id}-{table}-changelog"
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            return sum(consumer.end_offsets(partitions).values())
        finally:
            consumer.close()

    def control_records(self, topic: str) -> float:
        """How many records of control topic ``topic`` the worker has copied into its tables."""
        counts = self._samples("stockloop_control_records_total")
        return sum(value for labels, value in counts if labels["topic"] == topic)

    def _samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """Samples of metric ``name``, with the topic label stripped of this run's prefix."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        samples = []
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name:
                    labels = dict(sample.labels)
                    if "topic" in labels:
                        labels["topic"] = labels["topic"].removeprefix(self.settings.topic_prefix)
                    samples.append((labels, sample.value))
        return samples

    def read_all(self, topic: str, expected: int, timeout: float = 60.0) -> list:
        """Consume ``topic`` from the beginning until ``expected`` records have arrived."""
        consumer = KafkaConsumer(
            self.settings.topic(topic),
            bootstrap_servers=self.settings.bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            consumer_timeout_ms=1000,
            **self.settings.kafka_security.kafka_python_kwargs(),
        )
        records: list = []
        deadline = time.monotonic() + timeout
        try:
            while len(records) < expected and time.monotonic() < deadline:
                records.extend(consumer)
        finally:
            consumer.close()
        return records

    def close(self) -> None:
        self.stop()
        self.producer.close()
