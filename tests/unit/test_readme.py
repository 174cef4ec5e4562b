"""The README's examples and claims stay true."""

import itertools
import re
from collections.abc import Iterator

import click
import typer.main

from connectors.delivery.endpoints import parse_directory
from models.routing import load_routing, match
from models.rules.spec import builtin_rules, load_rules
from streams.catalogue import INPUT_TOPICS
from streams.cli import app
from streams.settings import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()


def _section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _cli_commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        yield path
        return
    for name, subcommand in subcommands.items():
        yield from _cli_commands(subcommand, (*path, name))


def _table_commands() -> set[tuple[str, ...]]:
    """Commands in the README's table: `stockloop a b\\|c ARG` / `d ARG` names a b, a c and a d."""
    commands: set[tuple[str, ...]] = set()
    for row in _section("Commands").splitlines():
        if not row.startswith("| `stockloop "):
            continue
        group: tuple[str, ...] = ()
        for code in re.findall(r"`([^`]*)`", row.split(" | ")[0]):
            words = code.removeprefix("stockloop ").split()
            names = list(itertools.takewhile(lambda w: re.fullmatch(r"[a-z][a-z\\|-]*", w), words))
            if not code.startswith("stockloop "):
                names = [*group, *names]
            group = tuple(names[:1])
            alternatives = [name.split("\\|") for name in names]
            commands.update(itertools.product(*alternatives))
    return commands


def test_the_rule_file_example_in_the_readme_is_valid():
    example = re.search(r"```yaml\n(version: 1\n.*?)```", README, re.S).group(1)
    rules = load_rules(example, base=builtin_rules())
    assert rules.rule("low_on_hand_fabric").for_seconds == 2 * 86_400
    assert rules.rule("dead_stock").params == {"dead_days": 120}
    assert not rules.rule("demand_shift").enabled


def test_the_commands_table_lists_every_command_and_only_real_ones():
    assert _table_commands() == set(_cli_commands(typer.main.get_command(app)))


def test_what_runs_names_every_input_topic():
    diagram = re.search(r"```\n(ERP CDC.*?)```", _section("What runs"), re.S).group(1)
    assert [topic for topic in INPUT_TOPICS if topic not in diagram] == []


def test_make_test_runs_lint_the_format_check_and_every_test():
    assert "runs lint, the format check and every test" in README
    script = (PROJECT_ROOT / "scripts" / "test.sh").read_text()
    assert ".venv/bin/ruff check .\n" in script
    assert ".venv/bin/ruff format --check .\n" in script
    pytest_arguments = script.split("-m pytest", 1)[1].split("\n", 1)[0]
    assert " -m " not in pytest_arguments and "--ignore" not in pytest_arguments


def test_every_file_the_readme_names_exists():
    file = re.compile(r"([\w.-]+/)*[\w-]+\.(md|py|yaml|yml|toml|sh)")
    named = {code for code in re.findall(r"`([^`\n]+)`", README) if file.fullmatch(code)}
    named |= set(re.findall(r"\]\(((?!https?:)[^)#]+)\)", README))
    assert "models/forecast.py" in named, "the README names files; the patterns must find them"
    assert sorted(name for name in named if not (PROJECT_ROOT / name).exists()) == []


def test_the_routing_and_endpoint_examples_are_accepted():
    routes, endpoints = re.findall(r"```yaml\n(.*?)```", _section("Notifications"), re.S)
    routing = load_routing(routes, "README")
    assert [r.recipients for r in match(routing, {"severity": "critical", "owner": "buyer"})] == [
        ("li.na",)
    ]
    assert [r.recipients for r in match(routing, {"severity": "critical"})] == [("zhang.wei",)]
    directory = parse_directory(
        endpoints, "README", {"DINGTALK_PURCHASING_SECRET": "s", "ERP_HOOK_SECRET": "t"}
    )
    assert set(directory.dingtalk) == {"purchasing-dingtalk"}
