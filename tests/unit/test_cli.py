"""The command line, run in process: help everywhere, rule validation."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli import app

runner = CliRunner()

COMMANDS = [
    [],
    ["broker"],
    ["topics"],
    ["topics", "delete"],
    ["worker"],
    ["produce"],
    ["simulate"],
    ["status"],
    ["dead-letters"],
    ["materials", "show"],
    ["schemas", "export"],
    ["rules", "validate"],
    ["rules", "apply"],
    ["rules", "dry-run"],
    ["alerts", "open"],
    ["alerts", "ack"],
    ["alerts", "silence"],
    ["transfers", "list"],
    ["transfers", "approve"],
    ["backtest"],
    ["replay"],
    ["mapping", "validate"],
    ["mapping", "test"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "stockloop")
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_rules_validate_names_the_rule_and_field_of_a_mistake(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules:\n  - id: low\n    description: x\n    when: stok < 3\n")
    result = runner.invoke(app, ["rules", "validate", str(bad)])
    assert result.exit_code == 1
    assert "rule 'low'" in result.output and "unknown fact 'stok'" in result.output
