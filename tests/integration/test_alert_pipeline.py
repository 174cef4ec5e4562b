"""Alerts through the real pipeline: the supply/demand gap, live rule changes, ticks."""

import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.alerting import Alert
from tests.integration.harness import STOCKLOOP, Pipeline, wait_until

pytestmark = pytest.mark.integration


def alerts_of(pipeline: Pipeline, rule_id: str, count: int) -> list[Alert]:
    """Wait for ``count`` transitions of ``rule_id`` on stockloop.alerts."""

    def arrived() -> list[Alert] | None:
        records = pipeline.read_all("stockloop.alerts", expected=1, timeout=2)
        alerts = [Alert.model_validate_json(r.value) for r in records]
        matching = [a for a in alerts if a.rule_id == rule_id]
        return matching if len(matching) >= count else None

    return wait_until(arrived, timeout=60, interval=0.5)


def listed(pipeline: Pipeline, shows: Callable[[str], bool], *options: str) -> str:
    """``stockloop alerts open OPTIONS`` once it ``shows`` what the alerts topic said.

    It reads the worker's API, which lists an alert once the material's state
    holding it is stored: a moment after (or before) its record reaches the topic.
    """

    def output() -> str | None:
        try:
            text = pipeline.cli("alerts", "open", *options)
        except subprocess.CalledProcessError:  # the worker is rebalancing (503)
            return None
        return text if shows(text) else None

    return wait_until(output, timeout=60, interval=1)


def latest_alerts(pipeline: Pipeline, rule_id: str, materials: set[str]) -> dict[str, Alert]:
    """Wait until each of ``materials`` has a transition of ``rule_id``; the newest of each."""

    def arrived() -> dict[str, Alert] | None:
        latest = {alert.material_id: alert for alert in alerts_of(pipeline, rule_id, 1)}
        return latest if latest.keys() >= materials else None

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
    listing = listed(pipeline, lambda text: "supply_demand_gap" in text)
    row = next(line for line in listing.splitlines() if "supply_demand_gap" in line)
    assert "critical" in row and "FAB-1" in row and "1,200.00" in row and "2026-04-06 09:00" in row

    pipeline.send(
        "erp.stock-movements", movement("r2", "receipt", 100, t0 + timedelta(hours=2), "FAB-1")
    )
    pipeline.flush()
    # A wall-clock tick (every 60 s) may update the alert before the receipt is read.
    transitions = wait_until(
        lambda: (
            (got := alerts_of(pipeline, "supply_demand_gap", 2))[-1].status == "resolved" and got
        ),
        timeout=60,
    )
    raised_again, resolved = transitions[0], transitions[-1]
    assert raised_again == raised
    assert resolved.alert_id == raised.alert_id
    assert resolved.explanation.values["on_hand"] == 200  # the receipt resolved it


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
    # What the rule read, and the value at risk every alert carries (nothing is ordered: 0).
    assert raised.explanation.values == {"on_hand": 40, "value_at_risk": 0.0}
    assert ticking_pipeline.process.pid == pid and ticking_pipeline.process.poll() is None

    low_on_hand_rules(tmp_path, minimum=30, severity="warning")
    ticking_pipeline.cli("rules", "apply", str(rules))
    _, resolved = alerts_of(ticking_pipeline, "low_on_hand", 2)
    assert resolved.status == "resolved"


def test_dead_stock_fires_from_ticks_with_no_input_traffic(ticking_pipeline: Pipeline):
    long_ago = datetime.now(UTC) - timedelta(days=100)
    ticking_pipeline.send("erp.stock-movements", movement("r1", "receipt", 12, long_ago, "SPARE-7"))
    ticking_pipeline.flush()

    def escalated() -> list[Alert] | None:
        found = alerts_of(ticking_pipeline, "dead_stock", 1)
        return found if any(a.severity == "warning" for a in found) else None

    # Time passes in event time, midnight by midnight: up for review after 60 days, dead after 90.
    transitions = wait_until(escalated)
    raised = transitions[0]
    assert (raised.status, raised.severity) == ("raised", "info")
    assert long_ago + timedelta(days=60) <= raised.at <= long_ago + timedelta(days=61)
    dead = next(a for a in transitions if a.severity == "warning")
    assert dead.status == "updated" and dead.explanation.values["on_hand"] == 12
    assert long_ago + timedelta(days=90) <= dead.at <= long_ago + timedelta(days=91)


def test_ticks_that_change_nothing_write_nothing(ticking_pipeline: Pipeline):
    yesterday = datetime.now(UTC) - timedelta(days=1)
    ticking_pipeline.send("erp.stock-movements", movement("r1", "receipt", 12, yesterday, "NUT-3"))
    ticking_pipeline.flush()
    wait_until(lambda: ticking_pipeline.ticked_materials("changed") >= 1)
    # The receipt and the first tick (a new day for the material) are written when the next
    # commit starts, in one record or two (streams.material_states): two quiet ticks later,
    # a second apart as the commits are, they are in the changelog.
    wait_until(lambda: ticking_pipeline.changelog_records("materials") >= 1)
    settled = ticking_pipeline.ticked_materials("unchanged")
    wait_until(lambda: ticking_pipeline.ticked_materials("unchanged") >= settled + 2)
    written = ticking_pipeline.changelog_records("materials")
    quiet_ticks = ticking_pipeline.ticked_materials("unchanged")
    wait_until(lambda: ticking_pipeline.ticked_materials("unchanged") >= quiet_ticks + 3)
    # Planning is by the day: only a tick crossing midnight (UTC) may write once more.
    assert ticking_pipeline.changelog_records("materials") - written <= 1


def test_a_silence_published_with_the_cli_mutes_only_matching_alerts(
    ticking_pipeline: Pipeline,
):
    long_ago = datetime.now(UTC) - timedelta(days=100)
    # A step before the silence: the worker has read the alert actions once and must read
    # them again when the silence arrives (its global table's ``changes``).
    ticking_pipeline.send(
        "erp.stock-movements", movement("r-SPARE-7", "receipt", 5, long_ago, "SPARE-7")
    )
    ticking_pipeline.flush()
    latest_alerts(ticking_pipeline, "dead_stock", {"SPARE-7"})
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
    for material in ("SPARE-8", "SPARE-9"):
        ticking_pipeline.send(
            "erp.stock-movements", movement(f"r-{material}", "receipt", 5, long_ago, material)
        )
    ticking_pipeline.flush()
    # A material may pass "up for review" (info) before "dead" (warning): wait for both.
    by_material = latest_alerts(ticking_pipeline, "dead_stock", {"SPARE-8", "SPARE-9"})
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
    assert "would raise" in line
    assert "1 alert(s) would be open (1 raised now, 0 kept by hysteresis" in shown
    assert "nothing was emitted" in shown
    assert len(pipeline.read_all("stockloop.alerts", expected=1, timeout=3)) == alerts_before


def test_rules_dry_run_says_what_the_live_lifecycle_would_do_with_for_and_inhibition(
    pipeline: Pipeline, tmp_path: Path
):
    rules = inhibiting_rules(tmp_path)
    pipeline.cli("rules", "apply", str(rules))
    wait_until(lambda: pipeline.control_records("stockloop.rules") >= 1)
    t0 = datetime(2026, 4, 6, 8, tzinfo=UTC)
    pipeline.send("erp.stock-movements", movement("r1", "receipt", 5, t0, "CUP-2"))
    pipeline.flush()
    alerts_of(pipeline, "empty_shelf", 1)
    alerts_of(pipeline, "low_on_hand", 1)

    slow = tmp_path / "slow.yaml"
    slow.write_text(
        rules.read_text().replace(
            "inhibit:",
            "  - id: tiny_shelf\n"
            "    description: On hand below 8 for a day.\n"
            "    when: on_hand < 8\n"
            "    for: 1d\n"
            "inhibit:",
        )
    )
    rows = dry_run_rows(pipeline, slow)
    assert "open" in rows["empty_shelf"] and "inhibited" not in rows["empty_shelf"]
    assert "open" in rows["low_on_hand"] and "inhibited" in rows["low_on_hand"]
    assert "pending since 2026-04-06 08:00, raised at 2026-04-07 08:00" in rows["tiny_shelf"]

    only_low = low_on_hand_rules(tmp_path, minimum=50, severity="warning")
    rows = dry_run_rows(pipeline, only_low)
    assert "would resolve: resolved (rule_removed)" in rows["empty_shelf"]
    assert "open: repeated (unsuppressed)" in rows["low_on_hand"]
    assert "inhibited" not in rows["low_on_hand"]


def dry_run_rows(pipeline: Pipeline, rules: Path) -> dict[str, str]:
    """The dry-run's first table line per rule id."""
    shown = pipeline.cli("rules", "dry-run", str(rules))
    rows: dict[str, str] = {}
    for line in shown.splitlines():
        for rule in ("empty_shelf", "low_on_hand", "tiny_shelf"):
            if f" {rule} " in line:
                rows.setdefault(rule, line)
    assert "nothing was emitted" in shown
    return rows


def inhibiting_rules(directory: Path) -> Path:
    """Two rules on on hand: an empty shelf inhibits "low on hand" for the same stock."""
    rules = directory / "inhibiting.yaml"
    rules.write_text(
        "version: 1\n"
        "rules:\n"
        "  - id: low_on_hand\n"
        "    description: On hand below 50.\n"
        "    when: on_hand < 50\n"
        "    severity: warning\n"
        "  - id: empty_shelf\n"
        "    description: On hand below 10.\n"
        "    when: on_hand < 10\n"
        "    severity: critical\n"
        "inhibit:\n"
        "  - {source: empty_shelf, target: low_on_hand, equal: [material_id, warehouse_id]}\n"
    )
    return rules


def test_an_alert_inhibited_after_it_was_raised_is_hidden_by_alerts_open_and_marked_with_all(
    pipeline: Pipeline, tmp_path: Path
):
    pipeline.cli("rules", "apply", str(inhibiting_rules(tmp_path)))
    wait_until(lambda: pipeline.control_records("stockloop.rules") >= 1)
    t0 = datetime(2026, 4, 6, 8, tzinfo=UTC)
    pipeline.send("erp.stock-movements", movement("r1", "receipt", 40, t0, "CUP-1"))
    pipeline.flush()
    [raised] = alerts_of(pipeline, "low_on_hand", 1)
    assert raised.notify
    pipeline.send(
        "erp.stock-movements", movement("i1", "issue", 35, t0 + timedelta(hours=1), "CUP-1")
    )
    pipeline.flush()
    [empty] = alerts_of(pipeline, "empty_shelf", 1)
    _, inhibited = alerts_of(pipeline, "low_on_hand", 2)
    assert (inhibited.status, inhibited.reason, inhibited.notify) == ("updated", "inhibited", False)
    assert inhibited.inhibited and inhibited.alert_id == raised.alert_id
    book = pipeline.material("CUP-1")["alerts"]["alerts"]
    assert book[inhibited.key]["inhibited"] is True and "inhibited" not in book[empty.key]

    listing = listed(pipeline, lambda text: empty.key in text and "not shown (--all)" in text)
    assert inhibited.key not in listing
    assert "1 silenced or inhibited alert(s) not shown (--all)" in listing
    everything = listed(pipeline, lambda text: inhibited.key in text, "--all")
    row = next(line for line in everything.splitlines() if inhibited.key in line)
    assert "inhibited" in row and "warning" in row
    row = next(line for line in everything.splitlines() if empty.key in line)
    assert "inhibited" not in row.replace("empty_shelf", "")


def run_cli(pipeline: Pipeline, *arguments: str) -> subprocess.CompletedProcess:
    """Run ``stockloop ARGUMENTS`` and return how it ended, whatever its exit code."""
    return subprocess.run(
        [STOCKLOOP, *arguments],
        env=pipeline.env | {"COLUMNS": "250"},
        capture_output=True,
        text=True,
    )


def raise_low_on_hand(pipeline: Pipeline, directory: Path, material: str) -> Alert:
    """Publish the low-on-hand rule and raise it for ``material``: its raised alert."""
    pipeline.cli(
        "rules", "apply", str(low_on_hand_rules(directory, minimum=50, severity="warning"))
    )
    wait_until(lambda: pipeline.control_records("stockloop.rules") >= 1)
    t0 = datetime(2026, 4, 6, 8, tzinfo=UTC)
    pipeline.send("erp.stock-movements", movement("r1", "receipt", 40, t0, material))
    pipeline.flush()
    [raised] = alerts_of(pipeline, "low_on_hand", 1)
    return raised


def test_alerts_ack_of_a_key_with_no_open_alert_fails_in_one_line_with_a_suggestion(
    pipeline: Pipeline, tmp_path: Path
):
    raised = raise_low_on_hand(pipeline, tmp_path, "NUT-1")
    result = run_cli(pipeline, "alerts", "ack", "NUT-1|W1|low_on_hnd", "--by", "lin")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: no open alert has key 'NUT-1|W1|low_on_hnd'; did you mean {raised.key!r}?"
    ]
    assert pipeline.read_all("stockloop.alert-actions", expected=1, timeout=3) == []


def test_alerts_ack_applies_at_once_and_shows_who_in_alerts_open_and_the_api(tmp_path: Path):
    """A finished replay (data clock: no ticks) must still show the acknowledgement."""
    replayed = Pipeline(tmp_path, clock="data")
    try:
        replayed.start()
        raised = raise_low_on_hand(replayed, tmp_path, "NUT-2")
        said = replayed.cli("alerts", "ack", raised.key, "--by", "lin")
        assert f"acknowledged {raised.key}" in said
        _, acked = alerts_of(replayed, "low_on_hand", 2)
        assert (acked.status, acked.reason, acked.acknowledged_by, acked.notify) == (
            "updated",
            "acknowledged",
            "lin",
            False,
        )
        assert acked.at == raised.at  # at the material's clock: acting does not move its time
        book = replayed.material("NUT-2")["alerts"]["alerts"]
        assert book[raised.key]["acknowledged_by"] == "lin"
        shown = listed(replayed, lambda text: f"{raised.key} " in text and " lin " in text)
        row = next(line for line in shown.splitlines() if raised.key in line)
        assert "lin" in row
        again = run_cli(replayed, "alerts", "ack", raised.key, "--by", "ana")
        assert again.returncode == 0
        assert f"{raised.key} is already acknowledged by lin" in again.stdout
    finally:
        replayed.close()
