"""``stockloop mapping validate|test``: a mapping's problems, what each sample change becomes."""

from datetime import datetime
from pathlib import Path

import orjson
from rich.console import Console
from typer.testing import CliRunner

import connectors
from streams.cli.mapping import LineOutcome, app, outcome_table
from tests.debezium import change, epoch_micros

ODOO = Path(connectors.__file__).parent / "mappings" / "odoo17.yaml"
runner = CliRunner()


def move(state: str, **changes: object) -> dict[str, object]:
    return {
        "id": 7,
        "product_id": 42,
        "location_id": 8,
        "location_dest_id": 5,
        "state": state,
        "quantity": {"scale": 1, "value": "fQ=="},  # 12.5
        "price_unit": {"scale": 0, "value": "AA=="},
        "date": epoch_micros(datetime(2026, 9, 3, 14, 30)),
        **changes,
    }


def sample(tmp_path: Path) -> Path:
    """A move that comes before its locations, then its locations and warehouse, then edits."""
    lines = [
        change("stock_move", "u", before=move("assigned"), after=move("done")),
        change("stock_warehouse", "r", after={"id": 1, "code": "WH"}),
        change("stock_location", "r", after={"id": 5, "usage": "customer", "warehouse_id": None}),
        change("stock_location", "r", after={"id": 8, "usage": "internal", "warehouse_id": 1}),
        change("stock_move", "u", before=move("done"), after=move("done", origin="checked")),
        None,
        change("stock_move", "c", after=move("done", id=8, location_id=99)),
        change("stock_move", "u", before=move("done"), after=move("cancel")),
        change("sale_order_line", "c", after={"id": 3, "state": "draft"}),
    ]
    path = tmp_path / "sample.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    return path


def test_validate_says_what_a_good_mapping_captures() -> None:
    result = runner.invoke(app, ["validate", str(ODOO)])

    assert result.exit_code == 0, result.output
    assert "6 tables, 7 reference tables, timezone UTC" in result.output


def test_validate_names_the_table_and_field_of_a_problem(tmp_path: Path) -> None:
    broken = tmp_path / "odoo.yaml"
    broken.write_text(ODOO.read_text().replace("when: done == 1", "when: dnoe == 1"))

    result = runner.invoke(app, ["validate", str(broken)])

    assert result.exit_code == 1
    assert "table 'stock_move': when: at col 1: unknown fact 'dnoe'" in result.output


def test_test_prints_what_each_change_becomes_as_json(tmp_path: Path) -> None:
    result = runner.invoke(app, ["test", str(ODOO), str(sample(tmp_path)), "--format", "json"])

    outcomes = [orjson.loads(line) for line in result.output.splitlines()]
    assert [(o["line"], o["table"], o["op"], o["verdict"]) for o in outcomes] == [
        (1, "stock_move", "u", "events"),
        (2, "stock_warehouse", "r", "reference"),
        (3, "stock_location", "r", "reference"),
        (4, "stock_location", "r", "reference"),
        (5, "stock_move", "u", "skipped"),
        (6, "", "tombstone", "skipped"),
        (7, "stock_move", "c", "held"),
        (8, "stock_move", "u", "refused"),
        (9, "sale_order_line", "c", "skipped"),
    ]
    (issue,) = outcomes[0]["events"]
    assert issue["movement_type"] == "issue"
    assert issue["warehouse_id"] == "WH"
    assert issue["quantity"] == 12.5
    assert issue["event_id"] == "stock_move:7#issue"
    assert outcomes[4]["reason"] == "already in when 'done == 1' before this update: counted once"
    assert outcomes[6]["reason"] == "stock_location row '99' not known yet in the sample"
    assert "left when 'done == 1' after it counted" in outcomes[7]["reason"]
    assert result.exit_code == 1  # a refused and a held line


def test_test_prints_a_table_and_a_summary(tmp_path: Path) -> None:
    result = runner.invoke(app, ["test", str(ODOO), str(sample(tmp_path))])

    assert "9 lines: events 1, reference 3, skipped 3, held 1, refused 1" in result.output


def test_the_table_shows_each_event_in_a_line_and_each_reason() -> None:
    outcomes = [
        LineOutcome(1, "stock_move", "u", "events", events=[ISSUE]),
        LineOutcome(2, "stock_location", "r", "reference", reference=LOCATION),
        LineOutcome(3, "stock_move", "u", "skipped", reason="when 'done == 1' does not hold"),
    ]
    console = Console(record=True, width=200)

    console.print(outcome_table(outcomes, "sample.jsonl"))

    text = console.export_text()
    assert "movement issue 42 WH 12.5 (stock_move:7#issue)" in text
    assert "8: usage=internal, warehouse_id=1" in text
    assert "when 'done == 1' does not hold" in text


ISSUE = {
    "kind": "movement",
    "event_id": "stock_move:7#issue",
    "material_id": "42",
    "movement_type": "issue",
    "warehouse_id": "WH",
    "quantity": 12.5,
}
LOCATION = {"key": "8", "row": {"usage": "internal", "warehouse_id": 1}}


def test_a_sample_of_plain_events_and_console_consumer_lines(tmp_path: Path) -> None:
    event = {
        "event_id": "mv-1",
        "event_time": "2026-09-03T06:30:00Z",
        "material_id": "42",
        "movement_type": "receipt",
        "warehouse_id": "WH",
        "quantity": 5,
    }
    path = tmp_path / "plain.jsonl"
    wrapped = {"topic": "erp.stock-movements", "key": "42", "value": orjson.dumps(event).decode()}
    path.write_bytes(orjson.dumps(event) + b"\n\n" + orjson.dumps(wrapped) + b"\nnot json\n")

    result = runner.invoke(app, ["test", str(ODOO), str(path), "--format", "json"])

    outcomes = [orjson.loads(line) for line in result.output.splitlines()]
    assert [(o["line"], o["verdict"]) for o in outcomes] == [
        (1, "events"),
        (3, "events"),
        (4, "refused"),
    ]
    assert outcomes[2]["reason"].startswith("not JSON:")
