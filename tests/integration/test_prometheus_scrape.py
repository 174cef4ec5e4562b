"""A real Prometheus (Debian's package) scraping a live worker with stockloop's config and rules.

The config is ``deploy/prometheus/prometheus.yml`` with its Docker service
discovery replaced by the test worker's address, and one-second scrape and
rule evaluation intervals; the rules are ``deploy/prometheus/stockloop-rules.yml``
as shipped.
"""

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from streams.metrics import DELIVERIES, DELIVERY_SECONDS
from tests.integration.harness import (
    Pipeline,
    _free_port,
    stock_movement,
    synthetic_stream,
    wait_until,
)
from tests.unit.test_prometheus_rules import (
    PROMETHEUS_CONFIG,
    PROMETHEUS_OWN,
    RULES,
    queried_metrics,
    rules,
    series_names,
)

pytestmark = pytest.mark.integration

PROMETHEUS = "/usr/bin/prometheus"
WORKER_JOB = "stockloop-worker"
FORECAST = "stockloop_forecast_scaled_error"


class Prometheus:
    """One Prometheus server on 127.0.0.1 with a config and storage of its own."""

    def __init__(self, root: Path, worker: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "prometheus.log"
        config = root / "prometheus.yml"
        config.write_text(yaml.safe_dump(_local_config(worker)))
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={root / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        wait_until(self._ready, timeout=60, describe=lambda: self.log_path.read_text()[-3000:])

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"prometheus exited:\n{self.log_path.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def query(self, promql: str) -> list[dict]:
        """The instant vector ``promql`` evaluates to now, through the HTTP API."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        response.raise_for_status()
        return response.json()["data"]["result"]

    def api(self, path: str) -> dict:
        response = httpx.get(f"{self.url}/api/v1/{path}", timeout=10)
        response.raise_for_status()
        return response.json()["data"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def _local_config(worker: str) -> dict:
    """The shipped config, scraping ``worker`` (host:port) as the worker job, every second."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(RULES)]
    for scrape in config["scrape_configs"]:
        del scrape["dns_sd_configs"]
        if scrape["job_name"] == WORKER_JOB:
            scrape["static_configs"] = [{"targets": [worker]}]
    return config


@pytest.fixture
def prometheus(pipeline: Pipeline, tmp_path: Path) -> Iterator[Prometheus]:
    """A Prometheus scraping the pipeline's worker; stopped after the test."""
    server = Prometheus(tmp_path, f"127.0.0.1:{pipeline.settings.web_port}")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _by_outcome(counters: dict[tuple[str, str], float]) -> dict[str, float]:
    """Input records by outcome, over every topic."""
    totals: dict[str, float] = {}
    for (_, outcome), value in counters.items():
        totals[outcome] = totals.get(outcome, 0.0) + value
    return totals


def test_prometheus_scrapes_the_worker_and_answers_with_its_counters(
    pipeline: Pipeline, prometheus: Prometheus
):
    events = synthetic_stream(60)
    pipeline.send_events(events)
    wait_until(lambda: pipeline.applied() == len(events), timeout=120, describe=pipeline.counters)

    def scraped() -> dict[str, float]:
        result = prometheus.query(
            f'sum by (outcome) (stockloop_events_total{{job="{WORKER_JOB}"}})'
        )
        return {sample["metric"]["outcome"]: float(sample["value"][1]) for sample in result}

    # A worker that lost its group on a loaded machine reads records again (duplicates), so
    # its counters may still move: compare the two views until a scrape has caught up.
    wait_until(
        lambda: _by_outcome(pipeline.counters()) == scraped(),
        timeout=60,
        describe=lambda: (_by_outcome(pipeline.counters()), scraped()),
    )
    assert scraped()["applied"] == len(events)
    (up,) = prometheus.query(f'up{{job="{WORKER_JOB}"}}')
    assert up["metric"]["instance"] == f"127.0.0.1:{pipeline.settings.web_port}"
    assert up["value"][1] == "1"


def test_prometheus_evaluates_every_rule_and_a_healthy_worker_pages_nobody(
    pipeline: Pipeline, prometheus: Prometheus
):
    def evaluated() -> list[dict]:
        loaded = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
        return loaded if all(r["lastEvaluation"] > "2000" for r in loaded) else []

    loaded = wait_until(evaluated, timeout=60)
    assert sorted(r["name"] for r in loaded) == sorted(r["alert"] for r in rules())
    assert [(r["name"], r.get("lastError")) for r in loaded if r["health"] != "ok"] == []
    wait_until(lambda: prometheus.query(f'up{{job="{WORKER_JOB}"}} == 1'), timeout=60)
    firing = [a for a in prometheus.api("alerts")["alerts"] if a["state"] == "firing"]
    assert firing == []


def test_every_metric_the_rules_and_dashboard_query_is_on_a_live_worker(pipeline: Pipeline):
    text = httpx.get(f"{pipeline.url}/metrics", timeout=10).text
    on_the_worker = series_names(text_string_to_metric_families(text))
    # `stockloop deliver` exports these from its own process, not the worker.
    on_the_deliver_process = series_names(
        family for metric in (DELIVERIES, DELIVERY_SECONDS) for family in metric.describe()
    )
    missing = queried_metrics() - on_the_worker - on_the_deliver_process - PROMETHEUS_OWN
    assert missing == set()
    assert {"stockloop_events_total", "stockloop_consumer_lag"} <= on_the_worker


def test_the_worker_observes_the_forecast_error_of_each_demand_day_it_closes(
    pipeline: Pipeline,
):
    start = datetime.now(UTC) - timedelta(days=14)
    for day, quantity in enumerate([4, 9, 2, 7, 5, 8, 3, 6, 4, 9]):
        at = start + timedelta(days=day)
        pipeline.send(*stock_movement(f"i{day}", at, "FC-1", "W1", "issue", quantity, None))
    pipeline.flush()

    def observed() -> dict[str, float]:
        return {
            name: sum(value for _, value in pipeline._samples(f"{FORECAST}_{name}"))
            for name in ("count", "sum")
        }

    counts = wait_until(lambda: (seen := observed())["count"] >= 1 and seen, timeout=120)
    # One observation per step and warehouse that closed days: never more than the days
    # from the first issue to today, and a scaled absolute error is never negative.
    assert counts["count"] <= 15
    assert counts["sum"] >= 0
