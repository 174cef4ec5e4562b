"""``stockloop routes``, its pure part: validate prints the tree, test says who hears and when."""

from pathlib import Path

from typer.testing import CliRunner

from models.routing import LABELS
from streams.cli.routes import app

runner = CliRunner()

ROUTES = """
people:
  li:
    name: Li Na
    language: zh-CN
    timezone: Asia/Shanghai
    channels: {email: li@example.com}
    critical_channels: {sms: "+8613800000000"}
    escalate_to: wang
  wang: {name: Wang Lei, channels: {wecom: purchasing-wecom}}
groups:
  leads: [wang]
route:
  receivers: [leads]
  digest: true
  routes:
    - name: critical
      matchers: ['severity="critical"']
      receivers: [owner, leads]
      digest: false
      group_wait: 0s
      escalate_after: 30m
    - {name: stockouts, matchers: ['rule_id=~"stockout_.*"'], continue: true}
"""


def written(tmp_path: Path, text: str = ROUTES) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(text)
    return path


def test_validate_says_what_the_file_holds_and_prints_the_route_tree(tmp_path: Path):
    file = written(tmp_path)
    result = runner.invoke(app, ["validate", str(file)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{file}: valid routes policy: 2 people in 1 groups; routes critical, stockouts; "
        "otherwise leads",
        "root: leads; group_by rule_id, warehouse_id; group_wait 30s, group_interval 5m, "
        "repeat_interval 4h; in the daily digest",
        '  critical {severity="critical"}: owner, leads; group_by rule_id, warehouse_id; '
        "group_wait 0s, group_interval 5m, repeat_interval 4h; at once; escalate after 30m",
        '  stockouts {rule_id=~"stockout_.*"} (continue): leads; group_by rule_id, '
        "warehouse_id; group_wait 30s, group_interval 5m, repeat_interval 4h; in the daily "
        "digest",
    ]


def test_validate_refuses_a_wrong_file_with_one_line_per_problem(tmp_path: Path):
    file = written(
        tmp_path, ROUTES.replace("group_wait: 0s", "group_wait: 0").replace("li:", "l i:")
    )
    result = runner.invoke(app, ["validate", str(file)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{file}: people.l i: a name of letters, digits, '.', '_' and '-', got 'l i'",
        f"{file}: route root/critical: group_wait: a duration needs its unit, e.g. 30s, 5m, "
        "4h or 1d, got 0",
    ]


def test_apply_refuses_a_wrong_file_before_anything_is_sent(tmp_path: Path):
    file = written(tmp_path, ROUTES.replace("[owner, leads]", "[owner, lead]"))
    # No broker is configured at this address: a refusal must come before any connection.
    result = runner.invoke(app, ["apply", str(file)], env={"STOCKLOOP_BOOTSTRAP_SERVERS": "x:1"})
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{file}: route root/critical: receivers: unknown receiver 'lead' (did you mean 'leads'?)"
    ]


def test_test_names_every_route_taken_its_timing_and_each_recipients_channels(tmp_path: Path):
    file = written(tmp_path)
    labels = ["-l", "severity=critical", "--label", "owner=li", "--label", "rule_id=stockout_risk"]
    result = runner.invoke(app, ["test", str(file), *labels])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "root/critical: group_by rule_id, warehouse_id; group_wait 0s, group_interval 5m, "
        "repeat_interval 4h; at once; escalate after 30m",
        "  li (Li Na, zh-CN, Asia/Shanghai): email li@example.com; critical: sms "
        "+8613800000000; escalates to wang",
        "  wang (Wang Lei, en, UTC): wecom purchasing-wecom",
    ]


def test_test_shows_the_parent_only_when_no_child_takes_the_item(tmp_path: Path):
    file = written(tmp_path)

    def routes(*labels: str) -> list[str]:
        result = runner.invoke(app, ["test", str(file), *labels])
        return [line.split(":")[0] for line in result.output.splitlines() if line[0] != " "]

    assert routes("--label", "rule_id=stockout_risk") == ["root/stockouts"]
    assert routes("--label", "severity=warning") == ["root"]
    # without a critical severity, the SMS is not used
    assert "sms" not in runner.invoke(app, ["test", str(file), "-l", "owner=li"]).output


def test_test_refuses_a_label_it_does_not_know_naming_the_option(tmp_path: Path):
    file = written(tmp_path)
    result = runner.invoke(app, ["test", str(file), "--label", "severty=critical"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "--label severty=critical: unknown label 'severty' (did you mean 'severity'?); "
        f"labels are {', '.join(LABELS)}"
    )
    result = runner.invoke(app, ["test", str(file), "--label", "critical"])
    assert result.exit_code == 2
    assert "write label=value, e.g. severity=critical" in result.output


def test_every_routes_command_has_help():
    for command in ("validate", "apply", "test", "show"):
        result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, command
        assert "rout" in result.output, command
