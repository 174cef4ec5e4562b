"""``stockloop backtest`` from files (plain JSON, Debezium dumps) and from the simulator."""

import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from connectors.simulator import ErpSimulator
from streams.catalogue import INPUT_KINDS
from streams.cli.backtest import app

runner = CliRunner()
T0 = datetime(2026, 3, 2, tzinfo=UTC)
ONE_SOURCE = "give one source: input FILES, --simulate, --scenario or --series"


def at(day: int, hour: int = 0) -> str:
    return (T0 + timedelta(days=day, hours=hour)).isoformat()


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    return path


@pytest.fixture
def small_files(tmp_path: Path) -> list[str]:
    """M1 of tests/unit/models/test_backtest.py: 40 in, 5 a day out, 30 more on day 9;
    from day 4 its fill rate is 35 / 40 (5 backordered on day 8)."""
    masters = write_jsonl(
        tmp_path / "materials.jsonl",
        [
            {
                "event_id": "M1-master",
                "event_time": at(0),
                "material_id": "M1",
                "name": "Part one",
                "unit_cost": 2.0,
                "default_lead_time_days": 4,
            }
        ],
    )
    movements = [
        {"movement_type": "receipt", "quantity": 40, "event_time": at(0, 6)},
        {"movement_type": "receipt", "quantity": 30, "event_time": at(9, 8)},
    ] + [{"movement_type": "issue", "quantity": 5, "event_time": at(day, 10)} for day in range(12)]
    for n, row in enumerate(movements):
        row.update(event_id=f"mv-{n}", material_id="M1", warehouse_id="W1")
    moves = write_jsonl(tmp_path / "movements.jsonl", movements)
    return [f"erp.materials={masters}", f"erp.stock-movements={moves}"]


def test_a_small_export_gives_its_hand_checked_fill_rate_in_the_table_and_the_csv(
    small_files, tmp_path
):
    out = tmp_path / "figures.csv"
    result = runner.invoke(
        app,
        [*small_files, "--window-start", "2026-03-06", "--csv", str(out)],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "fill rate" in result.output
    assert "87.5%" in result.output
    assert "events/s" in result.output
    rows = list(csv.DictReader(out.open()))
    recorded = next(r for r in rows if r["material_id"] == "M1" and r["policy"] == "recorded")
    assert float(recorded["fill_rate"]) == 0.875
    assert int(recorded["stockout_days"]) == 2
    assert {r["policy"] for r in rows} == {"stockloop", "min/max", "tuned ROP", "recorded"}
    assert {r["material_id"] for r in rows} == {"M1", "TOTAL"}


def test_frontier_prints_stock_against_fill_rate_for_both_policies(small_files):
    result = runner.invoke(
        app, [*small_files, "--window-start", "2026-03-06", "--frontier"], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "Efficient frontier" in result.output
    assert "0.995" in result.output  # the highest service level
    assert "8 x" in result.output  # min/max's largest multiple


def test_the_festival_scenario_shows_stockloop_warning_a_lead_time_ahead_and_min_max_not():
    """docs/scenarios.md: the recorded history runs out during the festival; stockloop's
    stock-out risk comes 34 days before it (lead time about 30), min/max's later."""
    result = runner.invoke(app, ["--scenario", "festival"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "scenario festival (seed 42)" in result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    in_time = [cell.strip() for cell in rows["warned >= 1 lead time ahead"].split("│")[2:6]]
    stockouts = [cell.strip() for cell in rows["stock-outs"].split("│")[2:6]]
    assert int(stockouts[3]) >= 1  # the recorded history ran out
    assert int(in_time[0]) == int(stockouts[0])  # stockloop: every one warned in time
    assert int(in_time[1]) < int(stockouts[1])  # min/max: not all


def test_records_that_cannot_be_decoded_are_skipped_and_counted(small_files, tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"event_id": "x", "quantity": \n')
    result = runner.invoke(
        app,
        [*small_files, f"erp.stock-movements={broken}", "--window-start", "2026-03-06"],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "skipped 1 records" in result.output
    assert "malformed JSON" in result.output


def test_a_debezium_dump_per_topic_backtests_like_the_simulator_produced_it(tmp_path):
    """JSONL of {"key", "value"} records, one file per topic, as a topic dump holds them."""
    by_topic: dict[str, list[dict]] = {}
    for record in ErpSimulator(materials=2, seed=3).run(40):
        if record.topic not in INPUT_KINDS:
            continue  # BOMs: the shortage analysis's, not the backtest's
        try:
            value = orjson.loads(record.value)
        except orjson.JSONDecodeError:
            continue  # the simulator's truncated record: a dump holds no such line
        row = {"key": record.key.decode(), "value": value}
        by_topic.setdefault(record.topic, []).append(row)
    specs = []
    for topic, rows in by_topic.items():
        path = write_jsonl(tmp_path / f"{topic}.jsonl", rows)
        specs.append(f"{topic}={path}")
    result = runner.invoke(app, [*specs, "--act"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "HP-200" in result.output
    assert "each policy makes its own supply" in result.output


def test_simulate_30_days_prints_the_comparison_and_writes_a_self_contained_report(tmp_path):
    out, page = tmp_path / "sim.csv", tmp_path / "report.html"
    result = runner.invoke(
        app,
        ["--simulate", "--days", "30", "--materials", "2", "--csv", str(out), "--html", str(page)],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    for label in (
        "stock-outs",
        "alerts / material-month",
        "notifications / material-month",
        "min/max",
        "tuned ROP",
    ):
        assert label in result.output
    assert "skipped 3 records" in result.output  # the simulator's deliberately broken ones
    assert out.read_text().startswith("material_id,policy,demand,fill_rate")
    rows = list(csv.DictReader(out.open()))
    totals = {r["policy"]: r for r in rows if r["material_id"] == "TOTAL"}
    assert int(totals["min/max"]["notifications"]) == int(totals["min/max"]["alerts_raised"])
    assert float(totals["stockloop"]["notifications_per_material_month"]) >= 0
    report = page.read_text()
    assert report.count("<svg") == 2  # the two materials with demand
    assert "notifications per material-month" in report
    assert "demand per week" in report
    window_days = int(re.search(r"\((\d+) days\)", result.output).group(1))
    assert report.count("<rect") == 2 * (window_days // 7)  # a bar per whole week and material
    assert "HP-200" in report
    for outside in ("<script", "src=", "href=", "@import", "url("):
        assert outside not in report  # no CDN, no fetch: opens from an attachment


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "give one source: input FILES, --simulate, --scenario or --series"),
        (
            ["--simulate", "x.jsonl"],
            "give one source: input FILES, --simulate, --scenario or --series",
        ),
        (["erp.nothing=x.jsonl"], "unknown input topic 'erp.nothing'"),
        (["--scenario", "carnival"], "--scenario 'carnival': unknown; known: festival"),
        (["erp.stock-movements=missing.jsonl"], "no such file missing.jsonl"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_code_1(arguments, message):
    result = runner.invoke(app, arguments, terminal_width=200)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_unknown_file_format_is_one_error_line(tmp_path):
    path = tmp_path / "moves.xlsx"
    path.write_text("x")
    result = runner.invoke(app, [f"erp.stock-movements={path}"], terminal_width=200)
    assert result.exit_code == 1
    assert "unknown format '.xlsx'" in result.output


def test_a_window_after_the_history_is_one_error_line(small_files):
    result = runner.invoke(app, [*small_files, "--window-start", "2027-01-01"], terminal_width=200)
    assert result.exit_code == 1
    assert "must lie after the history's first event" in result.output


def test_help_names_the_policies_and_the_input_formats():
    result = runner.invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    for words in ("min/max", "TOPIC=PATH", "--act", "--simulate", "Debezium"):
        assert words in result.output


def test_demand_series_become_materials_with_a_synthetic_erp_supply(tmp_path):
    path = tmp_path / "demand.csv"
    days = [(datetime(2026, 1, 1) + timedelta(days=n)).date() for n in range(60)]
    path.write_text(
        "date,bread,cake\n" + "".join(f"{d},{10 + n % 3},{n % 2}\n" for n, d in enumerate(days))
    )
    result = runner.invoke(
        app, ["--series", str(path), "--act", "--lead-time-days", "3"], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "2 materials" in result.output
    assert "bread" in result.output


def test_a_series_value_that_is_not_a_number_is_one_error_line_naming_line_and_column(tmp_path):
    path = tmp_path / "demand.csv"
    path.write_text("date,bread\n2026-01-01,10\n2026-01-02,ten\n")
    result = runner.invoke(app, ["--series", str(path)], terminal_width=200)
    assert result.exit_code == 1
    assert "line 3: bread='ten': not a valid value" in result.output
