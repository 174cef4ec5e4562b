"""``stockloop policies``, its pure part: refusals before anything is sent, the lines it prints."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from models.response_policies import POLICY_NAMES, default_file, default_policy, describe
from streams.cli import app
from streams.cli.policies import in_force, latest_by_name, published_line

runner = CliRunner()
TOPIC = "run1.stockloop.policies"


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "text", "lines"),
    [
        (
            "approval",
            "currency: EUR\nauto_approve_below: -5\nmax_usual_multipel: 3\n",
            [
                "auto_approve_below: an amount must not be negative, got -5",
                "max_usual_multipel: unknown field (did you mean 'max_usual_multiple'?)",
            ],
        ),
        (
            "reviews",
            "roles: {sales: {deadline_day: 3}}\n",
            ["roles.sales.deadline_day: unknown field (did you mean 'deadline_days'?) (+1 more)"],
        ),
        (
            "transfer-lanes",
            "default_days: -1\nlanes: {W1: {W1: 2}}\n",
            ["default_days: days must not be negative, got -1"],
        ),
        (
            "transfer-lanes",
            "lanes: {W1: {W1: 2}}\n",
            ["lanes.W1.W1: a lane goes from a warehouse to another one, not to itself, got 2 days"],
        ),
        (
            "routes",
            "people: {li: {channels: {email: li}}}\nroute: {receivers: li}\n",
            ["people.li.channels.email: not an email address: 'li'"],
        ),
    ],
)
def test_a_wrong_policy_file_is_refused_with_every_problem_before_anything_is_sent(
    tmp_path: Path, name: str, text: str, lines: list[str]
):
    file = written(tmp_path, text)
    # No broker is configured at this address: a refusal must come before any connection.
    result = runner.invoke(
        app, ["policies", "apply", name, str(file)], env={"STOCKLOOP_BOOTSTRAP_SERVERS": "x:1"}
    )
    assert result.exit_code == 1
    assert result.output.splitlines() == [f"{file}: {line}" for line in lines]


def test_validate_says_what_a_good_file_decides_without_sending(tmp_path: Path):
    file = written(tmp_path, "currency: EUR\nauto_approve_below: 100000\n")
    result = runner.invoke(app, ["policies", "validate", "approval", str(file)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{file}: valid approval policy: auto-approve below ")
    assert "100,000.00 EUR" in result.output


def test_an_unknown_policy_name_is_refused_naming_them_all():
    result = runner.invoke(app, ["policies", "apply", "lanes", "x.yaml"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "'approval', 'reviews', 'transfer-lanes', 'routes'" in result.output


def test_the_published_line_names_the_file_the_topic_and_what_the_policy_decides():
    policy = default_policy("transfer-lanes")
    line = published_line("transfer-lanes", Path("lanes.yaml"), TOPIC, policy)
    assert line == (
        f"published transfer-lanes policy lanes.yaml on {TOPIC}: default 2 days; 0 lanes; "
        "workers apply it live"
    )


def test_the_approval_summary_gives_the_limit_the_overrides_the_bands_and_the_expiry(
    tmp_path: Path,
):
    file = written(
        tmp_path,
        "currency: USD\nauto_approve_below: 100000\ncategories: {fasteners: "
        "{auto_approve_below: 1}}\napprovers: [{below: 250000, approver: lead}, {approver: cfo}]\n"
        "expiry_days: 7\n",
    )
    result = runner.invoke(app, ["policies", "validate", "approval", str(file)])
    assert result.output.strip() == (
        f"{file}: valid approval policy: auto-approve below 100,000.00 USD (1 category and "
        "0 ABC-class limits); approvers lead below 250,000.00, then cfo; never above 3x the "
        "usual order; approved requests expire after 7 days"
    )


def test_the_latest_record_of_a_name_is_in_force_and_a_tombstone_brings_the_default_back():
    records = [
        (b"approval", b"currency: EUR\nauto_approve_below: 1\n"),
        (b"transfer-lanes", b"default_days: 5\n"),
        (b"approval", b"currency: EUR\nauto_approve_below: 2\n"),
        (b"transfer-lanes", None),
        (None, b"ignored"),
    ]
    assert latest_by_name(records) == {"approval": b"currency: EUR\nauto_approve_below: 2\n"}


def test_a_policy_never_published_is_the_shipped_file_with_its_comments():
    for name in POLICY_NAMES:
        shown = in_force(name, {}, TOPIC)
        assert shown.origin == f"default (models/{default_file(name).name})"
        assert shown.text == default_file(name).read_text()
        assert shown.policy == default_policy(name)


def test_a_published_policy_is_shown_as_published_with_its_own_text():
    text = b"# ours\ncurrency: EUR\nauto_approve_below: 100000\n"
    shown = in_force("approval", {"approval": text}, TOPIC)
    assert shown.origin == f"published on {TOPIC}"
    assert shown.text == text.decode()
    assert shown.policy is not None and shown.policy.auto_approve_below == 100_000
    assert describe(shown.policy).startswith("auto-approve below 100,000.00 EUR")


def test_a_published_policy_that_fails_validation_is_shown_with_its_problems():
    shown = in_force("transfer-lanes", {"transfer-lanes": b"default_days: -3\n"}, TOPIC)
    assert shown.policy is None
    assert shown.problems == (
        f"{TOPIC}[transfer-lanes]: default_days: days must not be negative, got -3",
    )


def test_every_policies_command_has_help_that_names_the_policies():
    for command in ("validate", "apply", "show", "reset"):
        result = runner.invoke(app, ["policies", command, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0
        for name in POLICY_NAMES:
            assert name in result.output, (command, name)
