"""Alerts through the real pipeline: the supply/demand gap, live rule changes, ticks."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.alerting import Alert
from tests.integration.harness import Pipeline, wait_until

pytestmark = pytest.mark.integration


def alerts_of(pipeline: Pipeline, rule_id: str, count: int) -> list[Alert]:
    """Wait for ``count`` transitions of ``rule_id`` on stockloop.alerts."""

    def arrived() -> list[Alert] | None:
        records = pipeline.read_all("stockloop.alerts", expected=1, timeout=2)
        alerts = [Alert.model_validate_json(r.value) for r in records]
        matching = [a for a in alerts if a.rule_id == rule_id]
        return matching if len(matching) >= count else None

    return wait_until(arrived, timeout=60, interval=0.5)


def low_on_hand_rules(directory: Path, minimum: float, severity: str) -> Path:
    """A rule file with one new rule: on hand below a fixed minimum."""
    rules = directory / "rules.yaml"
    rules.write_text(
        "version: 1\n"
        "rules:\n"
        "  - id: low_on_hand\n"
        "    description: On hand below a fixed minimum.\n"
        f"    params: {{minimum: {minimum}}}\n"
        "    when: on_hand < $minimum\n"
        f"    severity: {severity}\n"
    )
    return rules


def movement(event_id: str, kind: str, quantity: float, at: datetime, material: str) -> dict:
    return {
        "event_id": event_id,
        "event_time": at.isoformat(),
        "material_id": material,
        "movement_type": kind,
        "warehouse_id": "W1",
        "quantity": quantity,
    }


def test_supply_demand_gap_raises_one_critical_alert_and_a_receipt_resolves_it(
    pipeline: Pipeline,
):
    t0 = datetime(2026, 4, 6, 8, tzinfo=UTC)
    pipeline.send("erp.stock-movements", movement("r1", "receipt", 100, t0, "FAB-1"))
    pipeline.send(
        "erp.sales-orders",
        {
            "event_id": "so1",
            "event_time": (t0 + timedelta(hours=1)).isoformat(),
            "material_id": "FAB-1",
            "order_id": "SO-1",
            "line_id": "1",
            "warehouse_id": "W1",
            "quantity": 150,
            "due_date": (t0 + timedelta(days=5)).date().isoformat(),
            "status": "confirmed",
            "unit_price": 8.0,
            "customer_id": "KEY-1",
            "customer_priority": 1,
        },
    )
    pipeline.flush()
    [raised] = alerts_of(pipeline, "supply_demand_gap", 1)
    assert raised.status == "raised"
    assert raised.severity == "critical"
    assert raised.explanation.values["committed_next_7d"] == 150
    assert raised.explanation.values["on_hand"] == 100
    assert raised.explanation.values["in_transit_next_7d"] == 0
    assert raised.priority.unserved_quantity == 50
    assert raised.priority.value_at_risk == 50 * 8.0 * 3.0  # key account weight
    assert raised.key == "FAB-1|W1|supply_demand_gap"
    listing = pipeline.cli("alerts", "open")
    row = next(line for line in listing.splitlines() if "supply_demand_gap" in line)
    assert "critical" in row and "FAB-1" in row and "1,200.00" in row and "2026-04-06 09:00" in row

    pipeline.send(
        "erp.stock-movements", movement("r2", "receipt", 100, t0 + timedelta(hours=2), "FAB-1")
    )
    pipeline.flush()
    raised_again, resolved = alerts_of(pipeline, "supply_demand_gap", 2)
    assert raised_again == raised
    assert resolved.status == "resolved"
    assert resolved.alert_id == raised.alert_id


def test_a_rule_published_on_the_rules_topic_applies_without_restart(
    ticking_pipeline: Pipeline, tmp_path: Path
):
    now = datetime.now(UTC)
    ticking_pipeline.send("erp.stock-movements", movement("r1", "receipt", 40, now, "BOX-1"))
    ticking_pipeline.flush()
    wait_until(lambda: ticking_pipeline.material("BOX-1"))
    pid = ticking_pipeline.process.pid

    rules = low_on_hand_rules(tmp_path, minimum=50, severity="warning")
    ticking_pipeline.cli("rules", "apply", str(rules))
    [raised] = alerts_of(ticking_pipeline, "low_on_hand", 1)
    assert raised.status == "raised"
    assert raised.explanation.values == {"on_hand": 40}
    assert ticking_pipeline.process.pid == pid and ticking_pipeline.process.poll() is None

    low_on_hand_rules(tmp_path, minimum=30, severity="warning")
    ticking_pipeline.cli("rules", "apply", str(rules))
    _, resolved = alerts_of(ticking_pipeline, "low_on_hand", 2)
    assert resolved.status == "resolved"


def test_dead_stock_fires_from_ticks_with_no_input_traffic(ticking_pipeline: Pipeline):
    long_ago = datetime.now(UTC) - timedelta(days=100)
    ticking_pipeline.send("erp.stock-movements", movement("r1", "receipt", 12, long_ago, "SPARE-7"))
    ticking_pipeline.flush()
    [raised] = alerts_of(ticking_pipeline, "dead_stock", 1)
    assert raised.severity == "warning"
    assert raised.explanation.values["on_hand"] == 12
    assert raised.at > long_ago + timedelta(days=99)  # raised by a tick, not by the receipt


def test_ticks_that_change_nothing_write_nothing(ticking_pipeline: Pipeline):
    yesterday = datetime.now(UTC) - timedelta(days=1)
    ticking_pipeline.send("erp.stock-movements", movement("r1", "receipt", 12, yesterday, "NUT-3"))
    ticking_pipeline.flush()
    wait_until(lambda: ticking_pipeline.ticked_materials("changed") >= 1)
    # The receipt and the first tick (a new day for the material) were written.
    written = wait_until(lambda: (n := ticking_pipeline.changelog_records("materials")) >= 2 and n)
    quiet_ticks = ticking_pipeline.ticked_materials("unchanged")
    wait_until(lambda: ticking_pipeline.ticked_materials("unchanged") >= quiet_ticks + 3)
    # Planning is by the day: only a tick crossing midnight (UTC) may write once more.
    assert ticking_pipeline.changelog_records("materials") - written <= 1


def test_a_silence_published_with_the_cli_mutes_only_matching_alerts(
    ticking_pipeline: Pipeline,
):
    until = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    ticking_pipeline.cli(
        "alerts",
        "silence",
        "--match",
        "material_id=SPARE-8",
        "--until",
        until,
        "--by",
        "planner",
        "--comment",
        "clearance sale next week",
    )
    wait_until(lambda: ticking_pipeline.control_records("stockloop.alert-actions") >= 1)
    long_ago = datetime.now(UTC) - timedelta(days=100)
    for material in ("SPARE-8", "SPARE-9"):
        ticking_pipeline.send(
            "erp.stock-movements", movement(f"r-{material}", "receipt", 5, long_ago, material)
        )
    ticking_pipeline.flush()
    alerts = alerts_of(ticking_pipeline, "dead_stock", 2)
    by_material = {alert.material_id: alert for alert in alerts}
    assert by_material["SPARE-8"].silenced and not by_material["SPARE-8"].notify
    assert not by_material["SPARE-9"].silenced and by_material["SPARE-9"].notify


def test_rules_dry_run_shows_what_would_fire_against_current_state_without_emitting(
    pipeline: Pipeline, tmp_path: Path
):
    t0 = datetime(2026, 4, 6, 8, tzinfo=UTC)
    pipeline.send("erp.stock-movements", movement("r1", "receipt", 40, t0, "BOLT-1"))
    pipeline.flush()
    wait_until(lambda: pipeline.material("BOLT-1"))
    alerts_before = len(pipeline.read_all("stockloop.alerts", expected=1, timeout=3))
    rules = low_on_hand_rules(tmp_path, minimum=50, severity="critical")
    shown = wait_until(
        lambda: "BOLT-1" in (out := pipeline.cli("rules", "dry-run", str(rules))) and out
    )
    line = next(row for row in shown.splitlines() if "low_on_hand" in row)
    assert "BOLT-1" in line and "critical" in line and "on_hand=40" in line
    assert "1 alert(s) would fire; nothing was emitted" in shown
    assert len(pipeline.read_all("stockloop.alerts", expected=1, timeout=3)) == alerts_before
