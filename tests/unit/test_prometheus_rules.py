"""The SRE view as files: alerting rules, their unit tests, Prometheus config, Grafana, compose.

promtool (Debian's ``prometheus`` package, installed by ``scripts/system-deps.sh``)
checks the rules and the config and runs the rules' unit tests; the rest checks
that the files agree with each other and with the metrics stockloop exports.
``tests/integration/test_prometheus_scrape.py`` checks the same names against a
live worker's ``/metrics`` scraped by a real Prometheus.
"""

import json
import re
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml
from prometheus_client import PROCESS_COLLECTOR, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric

import streams.metrics
from streams.settings import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "stockloop-rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "stockloop-rules.test.yml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "stockloop.json"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "stockloop.yml"
COMPOSE = PROJECT_ROOT / "docker-compose.yml"

PROMETHEUS_OWN = {"up"}
"""Series Prometheus makes itself for every target, not read from ``/metrics``."""

_NOT_METRICS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
_SERIES_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}


def rules() -> list[dict]:
    """Every alerting rule of the rules file, over all groups."""
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_panels() -> list[dict]:
    """The dashboard's panels, without its row headers."""
    return [p for p in json.loads(DASHBOARD.read_text())["panels"] if p["type"] != "row"]


def queries() -> list[str]:
    """Every PromQL expression the rules, the dashboard and its variables evaluate."""
    dashboard = json.loads(DASHBOARD.read_text())
    variables = [v["definition"] for v in dashboard["templating"]["list"]]
    panel_queries = [t["expr"] for p in dashboard_panels() for t in p["targets"]]
    return [rule["expr"] for rule in rules()] + panel_queries + variables


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects.

    String literals, label matchers, range and offset durations and grouping
    label lists are dropped first; a name followed by ``(`` is a function.

    >>> sorted(metric_names('sum by (le) (rate(a_bucket{x="b_c"}[5m])) / on() b offset 10m'))
    ['a_bucket', 'b']
    >>> sorted(metric_names('label_values(up{job="w"}, instance)'))
    ['instance', 'up']
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        if text[match.end() :].lstrip().startswith("(") or match.group().lower() in _NOT_METRICS:
            continue
        names.add(match.group())
    return names


def queried_metrics() -> set[str]:
    """Every metric name the rules and the dashboard query (``label_values``'s label dropped)."""
    names: set[str] = set()
    for expr in queries():
        if expr.startswith("label_values("):
            expr = expr.removeprefix("label_values(").rsplit(",", 1)[0]
        names |= metric_names(expr)
    return names


def series_names(families: Iterable[Metric]) -> set[str]:
    """The series names metric families are exposed as (a counter ``x`` as ``x_total`` ...)."""
    names = set()
    for family in families:
        suffixes = _SERIES_SUFFIXES.get(family.type, ("",))
        names |= {family.name + suffix for suffix in suffixes}
    return names


def registered_families() -> Iterator[Metric]:
    """The metric families of ``streams/metrics.py``: what a worker or the deliver process
    can export, labelled or not, incremented yet or not."""
    for value in vars(streams.metrics).values():
        if isinstance(value, Counter | Gauge | Histogram):
            yield from value.describe()


def promtool(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *map(str, arguments)], capture_output=True, text=True, cwd=RULES.parent
    )


def test_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_rule_is_tested_firing_and_quiet() -> None:
    cases = [
        case
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    fired = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    names = {rule["alert"] for rule in rules()}
    assert names - fired == set(), "rules never tested firing"
    assert names - quiet == set(), "rules never tested staying quiet"


def test_every_rule_tells_the_on_call_its_severity_and_what_to_look_at() -> None:
    for rule in rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert len(rule["annotations"]["description"].split()) >= 20, rule["alert"]


def test_prometheus_config_passes_promtool_check() -> None:
    result = promtool("check", "config", PROMETHEUS_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr


def test_config_scrapes_every_job_the_rules_and_dashboard_select() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    jobs = {scrape["job_name"] for scrape in config["scrape_configs"]}
    selected = {job for expr in queries() for job in re.findall(r'job="([^"]+)"', expr)}
    assert selected == jobs
    assert [RULES.name] == config["rule_files"]


def test_dashboard_panels_each_query_prometheus() -> None:
    datasource = yaml.safe_load(DATASOURCES.read_text())["datasources"][0]
    panels = dashboard_panels()
    assert len(panels) >= 20
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert metric_names(target["expr"]), (panel["title"], target["expr"])
            assert target["datasource"]["uid"] == datasource["uid"], panel["title"]


def test_dashboard_shows_what_the_sre_watches() -> None:
    shown = queried_metrics()
    for name in [
        "stockloop_events_total",
        "stockloop_processing_seconds_bucket",
        "stockloop_end_to_end_seconds_bucket",
        "stockloop_consumer_lag",
        "stockloop_alerts_total",
        "stockloop_deliveries_total",
    ]:
        assert name in shown


def test_every_queried_metric_is_one_stockloop_exports() -> None:
    exported = series_names(registered_families()) | series_names(PROCESS_COLLECTOR.collect())
    assert queried_metrics() - exported - PROMETHEUS_OWN == set()


def test_compose_mounts_the_files_where_prometheus_and_grafana_read_them() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    provider = yaml.safe_load(DASHBOARD_PROVIDERS.read_text())["providers"][0]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in grafana["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    datasource = yaml.safe_load(DATASOURCES.read_text())["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    assert "9090:9090" in prometheus["ports"]


def test_compose_workers_are_scraped_on_their_web_port() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    (worker_job,) = [s for s in config["scrape_configs"] if s["job_name"] == "stockloop-worker"]
    (discovery,) = worker_job["dns_sd_configs"]
    assert discovery["names"] == ["worker"]
    assert "worker" in services
    assert discovery["port"] == Settings.model_fields["web_port"].default
