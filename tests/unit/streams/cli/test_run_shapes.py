"""``stockloop simulate --shape`` and ``produce --shape``: refusals that reach no broker."""

from pathlib import Path

import orjson
import typer
from typer.testing import CliRunner, Result

from streams.cli.run import produce_file, simulate


def invoke(command: object, *args: str) -> Result:
    app = typer.Typer()
    app.command()(command)
    app.command("other")(lambda: None)  # two commands: the first is named on the command line
    return CliRunner().invoke(app, list(args))


def output(result: Result) -> str:
    return " ".join(result.output.split())


def test_simulate_refuses_an_unknown_shape_naming_the_known_ones() -> None:
    result = invoke(simulate, "simulate", "--shape", "sap")
    assert result.exit_code == 1
    assert "--shape 'sap': unknown; known: plain, odoo, erpnext" in output(result)


def test_produce_refuses_an_unknown_shape_naming_the_known_ones(tmp_path: Path) -> None:
    rows = tmp_path / "moves.jsonl"
    rows.write_text("{}\n")
    result = invoke(produce_file, "produce-file", "erp.stock-movements", str(rows), "--shape", "x")
    assert result.exit_code == 1
    assert "--shape 'x': unknown; known: plain, odoo, erpnext" in output(result)


def test_produce_in_a_shape_refuses_a_file_with_a_row_that_is_no_event(tmp_path: Path) -> None:
    good = {
        "event_id": "mv-1",
        "event_time": "2026-09-01T08:00:00+00:00",
        "material_id": "HP-200",
        "movement_type": "receipt",
        "warehouse_id": "SH01",
        "quantity": 12,
    }
    rows = tmp_path / "moves.jsonl"
    rows.write_bytes(orjson.dumps(good) + b"\n" + orjson.dumps({**good, "quantity": "x"}) + b"\n")
    result = invoke(
        produce_file, "produce-file", "erp.stock-movements", str(rows), "--shape", "odoo"
    )
    assert result.exit_code == 1
    text = output(result)
    assert f"--shape: {rows} line 2: not a movement event: quantity='x'" in text
    assert text.endswith("nothing was sent")


def test_produce_in_a_shape_refuses_a_topic_without_one(tmp_path: Path) -> None:
    rows = tmp_path / "rules.jsonl"
    rows.write_text('{"a": 1}\n')
    result = invoke(produce_file, "produce-file", "stockloop.rules", str(rows), "--shape", "odoo")
    assert result.exit_code == 1
    assert "topic 'stockloop.rules' has no ERP shape; shaped topics: erp.materials" in output(
        result
    )
