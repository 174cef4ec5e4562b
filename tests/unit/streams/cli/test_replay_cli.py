"""``stockloop replay``'s options, errors and its reading of a worker's metrics, no broker."""

import pytest
from typer.testing import CliRunner

from streams.cli.replay import WorkerReading, app, caught_up, parse_time, worker_reading

runner = CliRunner()

METRICS = """\
# TYPE stockloop_events_total counter
stockloop_events_total{outcome="received",topic="r.erp.stock-movements"} 10.0
stockloop_events_total{outcome="applied",topic="r.erp.stock-movements"} 8.0
stockloop_events_total{outcome="dead_lettered",topic="r.erp.stock-movements"} 2.0
# TYPE stockloop_consumer_lag gauge
stockloop_consumer_lag{partition="0",topic="r.erp.stock-movements"} 0.0
stockloop_consumer_lag{partition="3",topic="r.stockloop.material-events"} 1.0
# TYPE stockloop_pending_materials gauge
stockloop_pending_materials{partition="0"} 0.0
# TYPE stockloop_late_demand_events_total counter
stockloop_late_demand_events_total 0.0
"""


def test_help_names_every_option_and_the_determinism_it_promises():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--from", "--from-offset", "--to", "--prefix", "--app-id", "--no-run"):
        assert option in result.output
    assert "byte for byte" in result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--from", "2026-13-01"], "--from '2026-13-01': not an ISO 8601 time"),
        (["--to", "yesterday"], "--to 'yesterday': not an ISO 8601 time"),
        (["--from", "2026-03-01", "--from-offset", "5"], "--from and --from-offset: give one"),
        (["--from", "2026-03-02", "--to", "2026-03-01"], "--to '2026-03-01': must be after"),
        (["--prefix", "live."], "--prefix 'live.': that is the deployment being replayed"),
    ],
)
def test_bad_options_are_one_line_and_exit_code_1(arguments, message):
    result = runner.invoke(app, arguments, env={"STOCKLOOP_TOPIC_PREFIX": "live."})
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_time_without_a_zone_is_utc_and_one_with_a_zone_keeps_it():
    assert parse_time("--from", "2026-03-01T08:00").isoformat() == "2026-03-01T08:00:00+00:00"
    assert parse_time("--from", "2026-03-01T08:00+08:00").utcoffset().total_seconds() == 28_800


def test_a_worker_whose_records_all_ended_and_inputs_are_read_has_caught_up():
    reading = worker_reading(True, METRICS)
    assert reading.open_records("r.erp.stock-movements") == 0
    # material-events' lag moves with every watermark report: only the inputs' lag counts.
    assert caught_up(reading, {"r.erp.stock-movements": 10})


def test_a_worker_with_records_still_open_or_not_yet_read_has_not_caught_up():
    reading = worker_reading(True, METRICS.replace("8.0", "7.0"))
    assert reading.open_records("r.erp.stock-movements") == 1
    assert not caught_up(reading, {"r.erp.stock-movements": 10})
    assert not caught_up(worker_reading(True, METRICS), {"r.erp.stock-movements": 11})
    assert not caught_up(worker_reading(False, METRICS), {"r.erp.stock-movements": 10})


def test_a_change_held_for_its_reference_row_is_ended_and_released_it_ends_once():
    # A held change may wait for a row that never comes: the replay must not wait for it.
    held = {("t", "received"): 3, ("t", "applied"): 2, ("t", "held"): 1}
    assert WorkerReading(True, held).open_records("t") == 0
    released = {**held, ("t", "released"): 1, ("t", "applied"): 3}
    assert WorkerReading(True, released).open_records("t") == 0
    decoding = {**held, ("t", "released"): 1}
    assert WorkerReading(True, decoding).open_records("t") == 1
