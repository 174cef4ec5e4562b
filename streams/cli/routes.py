"""``stockloop routes``: check, try, publish and show the notification routing file.

The routing file is the response policy ``routes`` (``models.routing``):
``apply`` and ``show`` are ``stockloop policies apply|show routes``; ``test``
answers what Alertmanager's ``amtool config routes test`` answers, for an item
with the labels given: which routes it takes, who receives it on which
channels, grouped how, when, and who hears of it if nobody acknowledges.
"""

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from models.notifications import Destination, Person, RouteMatch
from models.response_policies import ROUTES
from models.routing import (
    LABELS,
    RouteSettings,
    RoutingFile,
    format_duration,
    match,
    route_tree,
)
from streams.cli import policies

app = typer.Typer(
    help=(
        "Notification routes - who hears of alerts, purchase requests, transfers, reviews and "
        "shortages, on which channel and when: a YAML file (start from models/routes.yaml) "
        "published live on stockloop.policies as the policy 'routes'."
    ),
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)
RoutesFileArgument = Annotated[
    Path,
    typer.Argument(
        exists=True,
        dir_okay=False,
        metavar="FILE",
        help="A routing YAML file (start from models/routes.yaml).",
    ),
]
NAME = policies.PolicyName(ROUTES)


def _print(line: str) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def _load(file: Path) -> RoutingFile:
    _, routing = policies.load_file(NAME, file)
    assert isinstance(routing, RoutingFile)  # load_file parsed it as the policy 'routes'
    return routing


def timing(settings: RouteSettings | RouteMatch) -> str:
    """Grouping and timing of a route in one phrase, in Alertmanager's words.

    >>> from models.routing import default_routing, match
    >>> timing(match(default_routing(), {"severity": "critical"})[0])
    'group_by rule_id, warehouse_id; group_wait 0s, group_interval 1m, repeat_interval 1d; \
at once; escalate after 30m'
    """
    parts = [
        f"group_by {', '.join(settings.group_by) or '(one group)'}",
        f"group_wait {format_duration(settings.group_wait)}, "
        f"group_interval {format_duration(settings.group_interval)}, "
        f"repeat_interval {format_duration(settings.repeat_interval)}",
        "in the daily digest" if settings.digest else "at once",
    ]
    if settings.escalate_after is not None:
        parts.append(f"escalate after {format_duration(settings.escalate_after)}")
    return "; ".join(parts)


def tree_lines(routing: RoutingFile) -> list[str]:
    """The route tree, one line per route, indented by depth, with its inherited settings."""
    lines = []
    for path, route, settings in route_tree(routing.route):
        depth = path.count("/")
        matchers = ", ".join(str(matcher) for matcher in route.matchers)
        head = f"{'  ' * depth}{path.rsplit('/', 1)[-1]}"
        if matchers:
            head += f" {{{matchers}}}"
        if route.continue_:
            head += " (continue)"
        receivers = ", ".join(settings.receivers)
        if settings.fallback:
            receivers += f" (else {', '.join(settings.fallback)})"
        lines.append(f"{head}: {receivers}; {timing(settings)}")
    return lines


def _destinations(destinations: Sequence[Destination]) -> str:
    return ", ".join(f"{d.channel} {d.address}" for d in destinations)


def person_line(person: Person, critical: bool) -> str:
    """A recipient as ``test`` shows them: who, where, and the next person in their chain."""
    line = f"{person.id} ({person.name}, {person.language}, {person.timezone}): "
    line += _destinations(person.channels)
    if critical and person.critical_channels:
        line += f"; critical: {_destinations(person.critical_channels)}"
    if person.escalate_to:
        line += f"; escalates to {person.escalate_to}"
    return line


def match_lines(routing: RoutingFile, labels: Mapping[str, str]) -> list[str]:
    """What ``test`` prints: each route the item takes, its timing and its recipients."""
    lines = []
    critical = labels.get("severity") == "critical"
    for found in match(routing, labels):
        lines.append(f"{found.route}: {timing(found)}")
        if not found.recipients:
            lines.append("  nobody: the route's receivers name no one in the directory")
        for recipient in found.recipients:
            lines.append(f"  {person_line(routing.people[recipient], critical)}")
    return lines


def parse_labels(given: Sequence[str]) -> dict[str, str]:
    """``k=v`` options as labels; ``ValueError`` naming the option for a wrong one.

    >>> parse_labels(["severity=critical", "owner=li.na"])
    {'severity': 'critical', 'owner': 'li.na'}
    """
    labels: dict[str, str] = {}
    for option in given:
        name, equals, value = option.partition("=")
        name = name.strip()
        if not equals:
            raise ValueError(f"--label {option}: write label=value, e.g. severity=critical")
        if name not in LABELS:
            close = difflib.get_close_matches(name, LABELS, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(
                f"--label {option}: unknown label {name!r}{hint}; labels are {', '.join(LABELS)}"
            )
        labels[name] = value.strip()
    return labels


@app.command()
def validate(file: RoutesFileArgument) -> None:
    """Check a routing file without publishing it, and print its route tree."""
    routing = _load(file)
    policies.validate(NAME, file)
    for line in tree_lines(routing):
        _print(line)


@app.command()
def apply(file: RoutesFileArgument) -> None:
    """Validate a routing file and publish it on stockloop.policies; workers route by it live.

    A file with mistakes is refused, one line per problem naming the route
    and the field, exit code 1, and nothing is sent.
    """
    policies.apply(NAME, file)


@app.command("test")
def try_labels(
    file: RoutesFileArgument,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            "-l",
            metavar="LABEL=VALUE",
            help=f"An item's label, repeatable; labels: {', '.join(LABELS)}.",
        ),
    ] = None,
) -> None:
    """Which routes an item with these labels takes, and who receives it, when and how."""
    try:
        labels = parse_labels(label or [])
    except ValueError as error:
        err_console.print(str(error), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    for line in match_lines(_load(file), labels):
        _print(line)


@app.command()
def show() -> None:
    """The routing file in force: the published one, or the shipped default."""
    policies.show(NAME)
