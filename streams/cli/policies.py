"""``stockloop policies``: validate, publish, show and reset the response policies.

The approval policy (``approval``), the dead-stock review policy
(``reviews``), the transfer lanes (``transfer-lanes``) and the notification
routes (``routes``) are YAML files published live on the compacted
``stockloop.policies`` topic, one record per policy name, as rule files are
on ``stockloop.rules``.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from models.response_policies import (
    POLICY_NAMES,
    Policy,
    PolicyError,
    default_file,
    default_policy,
    describe,
    load_policy,
)
from streams.catalogue import POLICIES
from streams.cli.kafka import fail, publish, read
from streams.settings import Settings

PolicyName = StrEnum("PolicyName", {name: name for name in POLICY_NAMES})  # type: ignore[misc]
"""The policy names as command-line choices: approval, reviews, transfer-lanes, routes."""

app = typer.Typer(
    help=(
        "Response policies - purchase approval (approval), dead-stock reviews (reviews), "
        "transfer lanes (transfer-lanes) and notification routes (routes): YAML files "
        "published live on stockloop.policies; "
        "until one is published, the file shipped in models/ is in force."
    ),
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)
NameArgument = Annotated[
    PolicyName,
    typer.Argument(
        metavar="NAME",
        help="The policy: approval, reviews, transfer-lanes or routes.",
        show_default=False,
    ),
]
PolicyFileArgument = Annotated[
    Path,
    typer.Argument(
        exists=True,
        dir_okay=False,
        metavar="FILE",
        help="A policy YAML file (start from models/approval.yaml, models/reviews.yaml, "
        "models/transfer_lanes.yaml or models/routes.yaml).",
    ),
]


@dataclass(frozen=True)
class InForce:
    """The policy a worker applies under one name, and where it comes from."""

    name: str
    origin: str
    """'published on TOPIC', or 'default (models/FILE)'."""
    text: str
    """The YAML in force, comments included."""
    policy: Policy | None
    """None when the published text is refused: workers keep the previous policy."""
    problems: tuple[str, ...] = ()


def latest_by_name(records: Iterable[tuple[bytes | None, bytes | None]]) -> dict[str, bytes]:
    """The latest published YAML per policy name from (key, value) records in topic order.

    A tombstone removes the name (the default is in force again).
    """
    latest: dict[str, bytes] = {}
    for key, value in records:
        if key is None:
            continue
        name = key.decode("utf-8", "replace")
        if value is None:
            latest.pop(name, None)
        else:
            latest[name] = value
    return latest


def in_force(name: str, published: Mapping[str, bytes], topic: str) -> InForce:
    """What workers apply as the policy ``name``: the published YAML, else the shipped default."""
    stored = published.get(name)
    if stored is None:
        path = default_file(name)
        origin = f"default (models/{path.name})"
        return InForce(name, origin, path.read_text("utf-8"), default_policy(name))
    text = stored.decode("utf-8", "replace")
    origin = f"published on {topic}"
    try:
        return InForce(name, origin, text, load_policy(name, stored, f"{topic}[{name}]"))
    except PolicyError as error:
        return InForce(name, origin, text, None, error.problems)


def published_line(name: str, file: Path, topic: str, policy: Policy) -> str:
    """The one line ``policies apply`` prints once the broker stored the policy."""
    return f"published {name} policy {file} on {topic}: {describe(policy)}; workers apply it live"


def load_file(name: str, file: Path) -> tuple[bytes, Policy]:
    """The file's bytes and the policy they hold, or every problem printed and exit code 1."""
    text = file.read_bytes()
    try:
        return text, load_policy(name, text, str(file))
    except PolicyError as error:
        for problem in error.problems:
            err_console.print(problem, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@app.command()
def validate(name: NameArgument, file: PolicyFileArgument) -> None:
    """Check a policy file without publishing it, and say what it decides."""
    _, policy = load_file(name, file)
    console.print(f"{file}: valid {name} policy: {describe(policy)}", markup=False, soft_wrap=True)


@app.command()
def apply(name: NameArgument, file: PolicyFileArgument) -> None:
    """Validate a policy file and publish it on stockloop.policies; workers apply it live.

    A file with mistakes is refused, one line per problem naming the field and
    the value, exit code 1, and nothing is sent.
    """
    text, policy = load_file(name, file)
    settings = Settings()
    topic = settings.topic(POLICIES)
    summary = publish(settings, [(str(file), topic, name.encode(), text)])
    if summary.failed:
        raise fail(summary.failed[0])
    console.print(published_line(name, file, topic, policy), markup=False, soft_wrap=True)


@app.command()
def show(
    name: Annotated[
        PolicyName | None,
        typer.Argument(
            metavar="NAME",
            help="One policy (approval, reviews, transfer-lanes, routes); default: all.",
        ),
    ] = None,
) -> None:
    """The policy in force: the published YAML, or the shipped default, and what it decides."""
    settings = Settings()
    topic = settings.topic(POLICIES)
    published = latest_by_name((r.key, r.value) for r in read(settings, topic))
    for index, policy_name in enumerate([name] if name else POLICY_NAMES):
        shown = in_force(policy_name, published, topic)
        if index:
            console.print()
        console.print(f"# {shown.name}: {shown.origin}", markup=False, soft_wrap=True)
        if shown.policy is None:
            console.print(
                "# refused by workers (the previous policy, or the default, stays in force):",
                markup=False,
            )
            for problem in shown.problems:
                console.print(f"#   {problem}", markup=False, soft_wrap=True)
        else:
            console.print(f"# {describe(shown.policy)}", markup=False, soft_wrap=True)
        console.print(shown.text.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)


@app.command()
def reset(name: NameArgument) -> None:
    """Remove the published policy (a tombstone): workers apply the shipped default again."""
    settings = Settings()
    topic = settings.topic(POLICIES)
    summary = publish(settings, [(name, topic, name.encode(), None)])
    if summary.failed:
        raise fail(summary.failed[0])
    path = default_file(name)
    console.print(
        f"reset {name} on {topic}: workers apply the default (models/{path.name}) live: "
        f"{describe(default_policy(name))}",
        markup=False,
        soft_wrap=True,
    )
