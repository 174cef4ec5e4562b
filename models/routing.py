"""The routing file: who hears of an alert or a response, on which channel, and when.

A planner writes one YAML file with three parts, published live as the
response policy ``routes`` (``stockloop routes apply``; ``models/routes.yaml``
is in force until then):

- ``people``: the directory. Each person has channels (``{email: a@b}``, or a
  list of ``{channel, address}``), ``critical_channels`` added for critical
  items and escalations, a ``language`` (en, zh-CN), an IANA ``timezone``, the
  local time of their daily digest (``digest_at: "08:30"``), ``quiet_hours``
  (``"22:00-07:00"``) and ``escalate_to``, the next person in the chain.
- ``groups``: a name for several people (``buyers: [li, wang]``).
- ``route``: the root of a route tree with Alertmanager's semantics. A route
  has ``matchers`` on an item's labels, ``receivers`` (people, groups, or a
  label receiver: see ``LABEL_RECEIVERS``), a ``fallback`` for when the
  receivers name nobody known, ``continue``, ``group_by``,
  ``group_wait``, ``group_interval``, ``repeat_interval``, ``digest``,
  ``escalate_after`` and child ``routes``. A child inherits every setting it
  does not give from its parent (``escalate_after: null`` switches an
  inherited escalation off); ``matchers`` and ``continue`` are its own.

Matching (``match``) is depth first: a route matches when all its matchers
do; its children are tried in order and the first one that matches wins,
unless it says ``continue: true``, in which case the next ones are tried as
well; when no child matches, the route itself does. The root matches every
item, so every item reaches someone.

An item's labels (``LABELS``) are text; a label the item does not have is the
empty text, as in Alertmanager (``owner=""`` matches an item without owner).
Matchers are Alertmanager's: ``severity="critical"``, ``rule_id=~"stockout_.*"``
(a regular expression that must match the whole value), ``status!="resolved"``,
``category!~"fasteners|screws"``.

>>> routing = load_routing('''
... people:
...   li: {name: Li Na, language: zh-CN, timezone: Asia/Shanghai,
...        channels: {email: li@example.com}, critical_channels: {sms: "+8613800000000"}}
...   max: {channels: {slack: purchasing-slack}}
... groups: {buyers: [max]}
... route:
...   receivers: [buyers]
...   routes:
...     - {name: critical, matchers: ['severity="critical"'], receivers: [owner, buyers],
...        escalate_after: 30m}
... ''', "routes.yaml")
>>> [(m.route, m.recipients, m.escalate_after) for m in match(routing, {"severity": "critical",
...                                                                        "owner": "li"})]
[('root/critical', ('li', 'max'), datetime.timedelta(seconds=1800))]
>>> [(m.route, m.recipients) for m in match(routing, {"severity": "warning", "owner": "li"})]
[('root', ('max',))]
>>> try:
...     load_routing('''
...       people: {li: {channels: {email: li@example.com}}}
...       groups: {buyers: []}
...       route: {receivers: [byers]}
...     ''', "routes.yaml")
... except RoutingError as error:
...     print(error)
routes.yaml: groups.buyers: a group needs at least one person
routes.yaml: route root: receivers: unknown receiver 'byers' (did you mean 'buyers'?)
"""

from __future__ import annotations

import difflib
import functools
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from models.notifications import Channel, Destination, Person, QuietHours, RouteMatch
from models.rules.spec import parse_duration, parse_yaml

__all__ = [
    "EVENTS",
    "LABELS",
    "LABEL_RECEIVERS",
    "Matcher",
    "Route",
    "RouteSettings",
    "RoutingError",
    "RoutingFile",
    "default_routing",
    "format_duration",
    "load_routing",
    "match",
    "route_tree",
]

LABELS = (
    "event",  # alert | purchase_request | transfer | review | shortage
    "rule_id",  # the alert's rule, e.g. stockout_risk
    "severity",  # info | warning | critical
    "category",  # the material master's category
    "warehouse_id",
    "material_id",
    "abc_class",  # A | B | C
    "owner",  # the material master's owner (a review: its owner)
    "status",  # the record's status: raised, resolved, pending_approval, open, ...
    "approver",  # a purchase request waiting for approval: its approver (role or person)
    "roles",  # a review: the roles asked for an opinion, comma-separated
)
"""The labels an item carries for routing, and the only ones a matcher or ``group_by`` names."""

EVENTS = ("alert", "purchase_request", "transfer", "review", "shortage")
"""The values of the ``event`` label: what kind of record the item is."""

SEVERITIES = ("info", "warning", "critical")

LABEL_RECEIVERS = ("owner", "approver", "roles")
"""Receivers named by the item itself: the value of the label of the same name.

Each comma-separated name in the label that is a person or a group of the
directory receives the item; a name that is neither is skipped, so a route
naming only label receivers needs a ``fallback`` (people or groups who receive
when the label names nobody known). ``owner`` is the material master's owner (and a
review's), ``approver`` the role a pending purchase request waits for,
``roles`` the roles of a dead-stock review.
"""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
_SPAN = re.compile(r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")


class RoutingError(ValueError):
    """A routing file that cannot be accepted; ``problems`` holds one line per problem.

    Each line starts with the source, then names the route (``route
    root/critical``) or the directory entry (``people.li``), the field, the
    value and why.
    """

    def __init__(self, problems: Sequence[str], source: str) -> None:
        self.problems = tuple(f"{source}: {problem}" for problem in problems)
        super().__init__("\n".join(self.problems))


def _hint(given: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(given, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def format_duration(value: timedelta) -> str:
    """A duration as the routing file writes it.

    >>> format_duration(timedelta(minutes=90)), format_duration(timedelta(days=1))
    ('1h30m', '1d')
    >>> format_duration(timedelta(0))
    '0s'
    """
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"a duration needs its unit, e.g. 30s, 5m, 4h or 1d, got {value!r}")
    return timedelta(seconds=parse_duration(value))  # type: ignore[arg-type]


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError(f"must be longer than 0s, got {format_duration(value)}")
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
PositiveDuration = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_positive)]


def _label(name: str) -> str:
    if name not in LABELS:
        raise ValueError(
            f"unknown label {name!r}{_hint(name, LABELS)}; labels are {', '.join(LABELS)}"
        )
    return name


Label = Annotated[str, AfterValidator(_label)]


def _unquote(text: str) -> str:
    """The value inside double quotes, a backslash taking the next character as it is."""
    value: list[str] = []
    index = 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            value.append(text[index + 1])
            index += 2
            continue
        if char == '"':
            if index != len(text) - 1:
                raise ValueError(f"text after the closing quote: {text[index + 1 :]!r}")
            return "".join(value)
        value.append(char)
        index += 1
    raise ValueError("the value's closing quote is missing")


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class Matcher(BaseModel):
    """One condition on an item's label, written as Alertmanager writes it: ``severity="critical"``.

    ``=`` and ``!=`` compare the text; ``=~`` and ``!~`` match a regular
    expression against the whole value (anchored, as in Alertmanager).

    >>> Matcher.model_validate('rule_id=~"stockout_.*"').matches({"rule_id": "stockout_risk"})
    True
    >>> Matcher.model_validate('owner!=""').matches({})
    False
    >>> str(Matcher.model_validate("severity = critical"))
    'severity="critical"'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: Label
    op: Literal["=", "!=", "=~", "!~"]
    value: str

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: object) -> object:
        if not isinstance(data, str):
            if isinstance(data, Mapping):
                return data
            raise ValueError(f"a matcher is text such as 'severity=\"critical\"', got {data!r}")
        found = _MATCHER.match(data)
        if found is None:
            raise ValueError(
                f"not a matcher: {data!r}; write label, operator (=, !=, =~, !~) and value, "
                'e.g. severity="critical" or rule_id=~"stockout_.*"'
            )
        label, op, value = found.groups()
        if value.startswith('"'):
            try:
                value = _unquote(value)
            except ValueError as error:
                raise ValueError(f"not a matcher: {data!r}: {error}") from None
        return {"label": label, "op": op, "value": value}

    @model_validator(mode="after")
    def _value(self) -> Matcher:
        if self.op in ("=~", "!~"):
            try:
                _regex(self.value)
            except re.error as error:
                raise ValueError(f"{self}: not a regular expression: {error}") from None
            return self
        known = {"event": EVENTS, "severity": SEVERITIES}.get(self.label)
        if known and self.value and self.value not in known:
            raise ValueError(
                f"{self}: unknown {self.label} {self.value!r}{_hint(self.value, known)}; "
                f"{self.label} is one of {', '.join(known)}"
            )
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether an item with ``labels`` meets this condition (a missing label is "")."""
        value = labels.get(self.label) or ""
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        found = _regex(self.value).fullmatch(value) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        value = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.label}{self.op}"{value}"'


def _names(value: object) -> object:
    """One name may be given without a list: ``receivers: buyers``."""
    return [value] if isinstance(value, str) else value


Names = Annotated[tuple[str, ...], BeforeValidator(_names)]
StrictBool = Annotated[bool, Field(strict=True)]


class Route(BaseModel):
    """One node of the route tree: its matchers, and the settings it gives its subtree."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: Annotated[str, Field(pattern=_NAME.pattern, max_length=64)] | None = None
    """The child's name in the route path (``root/critical``); the root is ``root``."""
    matchers: Annotated[tuple[Matcher, ...], BeforeValidator(_names)] = ()
    receivers: Names | None = None
    fallback: Names | None = None
    """Who receives when ``receivers`` name nobody known (an owner label naming a role without
    people, or no owner): a route can send to the material's owner alone and still lose nothing."""
    continue_: StrictBool = Field(False, alias="continue")
    group_by: Annotated[tuple[Label, ...], BeforeValidator(_names)] | None = None
    group_wait: Duration | None = None
    group_interval: PositiveDuration | None = None
    repeat_interval: PositiveDuration | None = None
    digest: StrictBool | None = None
    escalate_after: PositiveDuration | None = None
    """Unset: inherited; given as null: no escalation on this subtree."""
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True)
class RouteSettings:
    """A route's settings once inherited: what a match on it says."""

    receivers: tuple[str, ...]
    fallback: tuple[str, ...]
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    digest: bool
    escalate_after: timedelta | None

    def under(self, route: Route) -> RouteSettings:
        """The settings of ``route``, a child: its own where it gives them, these elsewhere."""
        given = route.model_fields_set
        escalate = route.escalate_after if "escalate_after" in given else self.escalate_after
        return RouteSettings(
            receivers=self.receivers if route.receivers is None else route.receivers,
            fallback=self.fallback if route.fallback is None else route.fallback,
            group_by=self.group_by if route.group_by is None else route.group_by,
            group_wait=self.group_wait if route.group_wait is None else route.group_wait,
            group_interval=route.group_interval or self.group_interval,
            repeat_interval=route.repeat_interval or self.repeat_interval,
            digest=self.digest if route.digest is None else route.digest,
            escalate_after=escalate,
        )


_DEFAULTS = RouteSettings(
    receivers=(),
    fallback=(),
    group_by=RouteMatch.model_fields["group_by"].default,
    group_wait=RouteMatch.model_fields["group_wait"].default,
    group_interval=RouteMatch.model_fields["group_interval"].default,
    repeat_interval=RouteMatch.model_fields["repeat_interval"].default,
    digest=False,
    escalate_after=None,
)
"""What the root gives when it does not say: ``RouteMatch``'s defaults."""


def route_tree(route: Route) -> list[tuple[str, Route, RouteSettings]]:
    """Every route of the tree, depth first, with its path and inherited settings."""
    found: list[tuple[str, Route, RouteSettings]] = []

    def visit(node: Route, path: str, inherited: RouteSettings) -> None:
        settings = inherited.under(node)
        found.append((path, node, settings))
        for index, child in enumerate(node.routes):
            visit(child, f"{path}/{child.name or f'routes[{index}]'}", settings)

    visit(route, "root", _DEFAULTS)
    return found


def _clock(value: object) -> object:
    """``8:30`` as ``08:30``; a number (YAML's reading of 8:30 unquoted) as text to refuse."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    found = _CLOCK.match(value) if isinstance(value, str) else None
    return f"{int(found[1]):02d}:{found[2]}" if found else value


def _person_entry(key: object, value: object) -> object:
    """A directory entry in the shape ``Person`` takes: id from its key, short forms expanded.

    Never raises: what it cannot read is left for validation to report.
    """
    if not isinstance(value, Mapping):
        return value
    entry = dict(value)
    entry.setdefault("id", key)
    entry.setdefault("name", key)
    for field in ("channels", "critical_channels"):
        given = entry.get(field)
        if isinstance(given, Mapping):
            entry[field] = [{"channel": c, "address": a} for c, a in given.items()]
    if "digest_at" in entry:
        entry["digest_at"] = _clock(entry["digest_at"])
    quiet = entry.get("quiet_hours")
    span = _SPAN.match(quiet) if isinstance(quiet, str) else None
    if span:
        entry["quiet_hours"] = {"start": _clock(span[1]), "end": _clock(span[2])}
    return entry


class RoutingFile(BaseModel):
    """A routing file: the directory of people, their groups and the route tree.

    ``load_routing`` reads one from YAML; see the module docstring for its parts.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    people: dict[Annotated[str, Field(pattern=_NAME.pattern, max_length=128)], Person]
    groups: dict[Annotated[str, Field(pattern=_NAME.pattern, max_length=128)], Names] = Field(
        default_factory=dict
    )
    route: Route

    @field_validator("people", mode="before")
    @classmethod
    def _directory(cls, value: object) -> object:
        if not isinstance(value, Mapping):
            return value
        return {key: _person_entry(key, entry) for key, entry in value.items()}

    @field_validator("groups", mode="before")
    @classmethod
    def _no_groups(cls, value: object) -> object:
        return {} if value is None else value

    @model_validator(mode="after")
    def _consistent(self) -> RoutingFile:
        problems = [*self._directory_problems(), *self._route_problems()]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _directory_problems(self) -> list[str]:
        problems: list[str] = []
        zones = zoneinfo.available_timezones()
        for key, person in self.people.items():
            where = f"people.{key}"
            if person.id != key:
                problems.append(f"{where}.id: the directory key is the id, got {person.id!r}")
            if person.timezone not in zones:
                problems.append(
                    f"{where}.timezone: unknown time zone {person.timezone!r}"
                    f"{_hint(person.timezone, zones)}; an IANA zone such as Asia/Shanghai"
                )
            if not person.channels:
                problems.append(
                    f"{where}.channels: give at least one, e.g. {{email: {key}@example.com}}"
                )
            for field in ("channels", "critical_channels"):
                for destination in getattr(person, field):
                    problem = _address_problem(destination)
                    if problem:
                        problems.append(f"{where}.{field}.{destination.channel}: {problem}")
            quiet = person.quiet_hours
            clocks = [("digest_at", person.digest_at)]
            clocks += [("quiet_hours", quiet.start), ("quiet_hours", quiet.end)] if quiet else []
            for field, clock in clocks:
                if clock.tzinfo is not None:
                    problems.append(
                        f"{where}.{field}: a local time without a zone (the person's timezone "
                        f"places it), got {clock.isoformat()}"
                    )
            if quiet is not None and quiet.start == quiet.end:
                problems.append(
                    f"{where}.quiet_hours: start and end are both {quiet.start:%H:%M}; "
                    "leave quiet_hours out for none"
                )
            problems.extend(self._chain_problems(key, person))
        for name, members in self.groups.items():
            where = f"groups.{name}"
            if name in self.people:
                problems.append(f"{where}: {name!r} is a person; give the group a name of its own")
            if not members:
                problems.append(f"{where}: a group needs at least one person")
            for member in members:
                if member not in self.people:
                    kind = "a group: groups hold people" if member in self.groups else "no person"
                    problems.append(f"{where}: {member!r} is {kind}{_hint(member, self.people)}")
        for name in LABEL_RECEIVERS:
            if name in self.people or name in self.groups:
                kind = "people" if name in self.people else "groups"
                problems.append(
                    f"{kind}.{name}: {name!r} is reserved for the receiver named by the item's "
                    f"{name} label; choose another name"
                )
        return problems

    def _chain_problems(self, key: str, person: Person) -> list[str]:
        if person.escalate_to is None:
            return []
        where = f"people.{key}.escalate_to"
        if person.escalate_to not in self.people:
            hint = _hint(person.escalate_to, self.people)
            return [f"{where}: unknown person {person.escalate_to!r}{hint}"]
        if person.escalate_to == key:
            return [f"{where}: {key} cannot escalate to themselves; name the next person"]
        chain = [key]
        current: str | None = person.escalate_to
        while current is not None and current in self.people:
            if current in chain:
                loop = " -> ".join([*chain, current])
                return [f"{where}: the chain {loop} comes back to {current}; end it with someone"]
            chain.append(current)
            current = self.people[current].escalate_to
        return []

    def _route_problems(self) -> list[str]:
        problems: list[str] = []
        root = self.route
        if root.matchers:
            problems.append(
                "route root: matchers: the root route matches every item; give matchers to "
                "its routes"
            )
        if root.continue_:
            problems.append("route root: continue: only a child route can continue")
        if not root.receivers:
            problems.append(
                "route root: receivers: required: who receives what no other route takes"
            )
        known = [*self.people, *self.groups, *LABEL_RECEIVERS]
        for path, route, settings in route_tree(root):
            where = f"route {path}"
            if path != "root" and route.name is None:
                problems.append(f"{where}: name: required: name the route, e.g. critical")
            if path == "root" and route.name not in (None, "root"):
                problems.append(f"{where}: name: the root route is 'root', got {route.name!r}")
            names = [child.name for child in route.routes if child.name is not None]
            for name in sorted({name for name in names if names.count(name) > 1}):
                problems.append(f"{where}: routes: two routes are named {name!r}")
            for receiver in route.receivers or ():
                if receiver not in known:
                    problems.append(
                        f"{where}: receivers: unknown receiver {receiver!r}{_hint(receiver, known)}"
                    )
            for receiver in route.fallback or ():
                if receiver in LABEL_RECEIVERS:
                    problems.append(
                        f"{where}: fallback: {receiver!r} is named by the item and may name "
                        "nobody; a fallback is people or groups"
                    )
                elif receiver not in known:
                    problems.append(
                        f"{where}: fallback: unknown receiver {receiver!r}{_hint(receiver, known)}"
                    )
            only_labels = set(settings.receivers) <= set(LABEL_RECEIVERS)
            if settings.receivers and only_labels and not settings.fallback:
                problems.append(
                    f"{where}: receivers: {', '.join(settings.receivers)} alone may name nobody "
                    "in the directory; add a person or group who receives then, or a fallback"
                )
        return problems

    def recipients(self, receivers: Iterable[str], labels: Mapping[str, str]) -> tuple[str, ...]:
        """The person ids that ``receivers`` stand for, for an item with ``labels``, in order.

        Groups expand to their people; a label receiver (``owner``) to the
        people its label names; each person once.
        """
        found: dict[str, None] = {}
        for receiver in receivers:
            names = [receiver]
            if receiver in LABEL_RECEIVERS:
                names = [name.strip() for name in (labels.get(receiver) or "").split(",")]
            for name in names:
                if name in self.people:
                    found[name] = None
                for member in self.groups.get(name, ()):
                    found[member] = None
        return tuple(found)


def _address_problem(destination: Destination) -> str | None:
    address, channel = destination.address, destination.channel
    if channel is Channel.EMAIL:
        if not _EMAIL.match(address):
            return f"not an email address: {address!r}"
    elif channel is Channel.SMS:
        if not _PHONE.match(address):
            return f"a phone number in international form, e.g. +8613800000000, got {address!r}"
    elif not _NAME.match(address):
        return (
            f"the name of a {channel} endpoint from the delivery settings (its URL and secret "
            f"stay there), e.g. purchasing-{channel}, got {address!r}"
        )
    return None


def match(routing: RoutingFile, labels: Mapping[str, str]) -> list[RouteMatch]:
    """The routes an item with ``labels`` takes, with Alertmanager's semantics.

    Depth first: the first matching child wins unless it ``continue``\\ s; a
    route none of whose children match is itself the match. Recipients are
    person ids (groups expanded, label receivers resolved).
    """
    found: list[RouteMatch] = []

    def visit(route: Route, path: str, inherited: RouteSettings) -> bool:
        if not all(matcher.matches(labels) for matcher in route.matchers):
            return False
        settings = inherited.under(route)
        matched = False
        for index, child in enumerate(route.routes):
            name = child.name or f"routes[{index}]"
            if visit(child, f"{path}/{name}", settings):
                matched = True
                if not child.continue_:
                    break
        if not matched:
            found.append(
                RouteMatch(
                    route=path,
                    recipients=(
                        routing.recipients(settings.receivers, labels)
                        or routing.recipients(settings.fallback, labels)
                    ),
                    group_by=settings.group_by,
                    group_wait=settings.group_wait,
                    group_interval=settings.group_interval,
                    repeat_interval=settings.repeat_interval,
                    digest=settings.digest,
                    escalate_after=settings.escalate_after,
                )
            )
        return True

    visit(routing.route, "root", _DEFAULTS)
    return found


# --- loading ------------------------------------------------------------------------------


def load_routing(text: str, source: str = "<routing file>") -> RoutingFile:
    """Read and validate a routing file from YAML text; ``source`` names it in errors.

    Raises ``RoutingError`` with one line per problem.
    """
    try:
        data = parse_yaml(text)
    except ValueError as error:
        raise RoutingError([str(error)], source) from None
    if not isinstance(data, Mapping):
        got = "nothing" if data is None else type(data).__name__
        raise RoutingError(
            [f"a routing file is a mapping with 'people' and 'route', got {got}"], source
        )
    try:
        return RoutingFile.model_validate(data)
    except ValidationError as error:
        raise RoutingError(_problems(error, data), source) from None


@functools.cache
def default_routing() -> RoutingFile:
    """The routing shipped in ``routes.yaml``."""
    path = Path(__file__).with_name("routes.yaml")
    return load_routing(path.read_text(encoding="utf-8"), str(path))


# --- error messages -----------------------------------------------------------------------

_CHILD_MODELS: dict[tuple[type[BaseModel], str], tuple[type[BaseModel], int]] = {
    (RoutingFile, "people"): (Person, 1),
    (RoutingFile, "route"): (Route, 0),
    (Route, "routes"): (Route, 1),
    (Person, "channels"): (Destination, 1),
    (Person, "critical_channels"): (Destination, 1),
    (Person, "quiet_hours"): (QuietHours, 0),
}
"""Where each model sits below another, and how many keys or indexes come between."""


def _model_at(loc: Sequence[str | int]) -> type[BaseModel]:
    """The model whose field ``loc[-1]`` is (or is not, for an unknown field)."""
    model: type[BaseModel] = RoutingFile
    index = 0
    while index < len(loc) - 1:
        child = _CHILD_MODELS.get((model, str(loc[index])))
        if child is None:
            break
        model, skip = child
        index += 1 + skip
    return model


def _fields(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _field(loc: Sequence[str | int], data: Any) -> str:
    """``people.li.channels.email`` or ``matchers[0]``: a field path as the file writes it.

    An index into a mapping given in its short form (``channels: {email: ...}``)
    becomes the mapping's key, and the expanded form's own fields are dropped.
    """
    parts: list[str] = []
    node: Any = data
    keyed = False
    for part in loc:
        if keyed and part in ("channel", "address", "label", "op", "value"):
            break
        keyed = isinstance(part, int) and isinstance(node, Mapping)
        if keyed:
            part = list(node)[part] if int(part) < len(node) else part
        parts.append(f"[{part}]" if isinstance(part, int) else str(part))
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            keyed = isinstance(node, str)  # a matcher written as text
        else:
            node = None
    return ".".join(parts).replace(".[", "[")


def _where(loc: Sequence[str | int], data: Mapping[str, Any]) -> str:
    """``route root/critical: group_wait`` or ``people.li.channels.email`` for a location."""
    if not loc or loc[0] != "route":
        return _field(loc, data)
    path, node, index = "root", data.get("route"), 1
    while index + 1 < len(loc) and loc[index] == "routes" and isinstance(loc[index + 1], int):
        position = int(loc[index + 1])
        children = node.get("routes") if isinstance(node, Mapping) else None
        node = children[position] if isinstance(children, list) else None
        name = node.get("name") if isinstance(node, Mapping) else None
        path += f"/{name}" if isinstance(name, str) else f"/routes[{position}]"
        index += 2
    field = _field(loc[index:], node)
    return f"route {path}" + (f": {field}" if field else "")


def _raw(loc: Sequence[str | int], data: Any) -> Any:
    """The value the file gave at ``loc`` (as written, before any short form was expanded)."""
    node = data
    for part in loc:
        if isinstance(node, Mapping) and isinstance(part, int):
            part = list(node)[part] if part < len(node) else part
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    return node


def _message(item: Mapping[str, Any], raw: Any) -> str:
    kind, loc, given = item["type"], item["loc"], item.get("input")
    if kind == "value_error":
        return str(item["ctx"]["error"])
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        allowed = _fields(_model_at(loc))
        hint = _hint(str(loc[-1]), allowed) or f" (allowed: {', '.join(allowed)})"
        return f"unknown field{hint}"
    if kind == "enum" and loc and loc[-1] == "channel":
        channels = [channel.value for channel in Channel]
        return (
            f"unknown channel {given!r}{_hint(str(given), channels)}; "
            f"channels are {', '.join(channels)}"
        )
    if kind in ("time_parsing", "time_type"):
        if isinstance(raw, int):
            return (
                f"quote the time, e.g. '08:30': YAML reads an unquoted time such as 8:30 as "
                f"a number of minutes, got {raw!r}"
            )
        return f"a local time as HH:MM, e.g. '08:30', got {raw!r}"
    if kind == "model_type" and loc and loc[-1] == "quiet_hours":
        return f"a local time span 'HH:MM-HH:MM', e.g. '22:00-07:00', got {given!r}"
    if kind == "string_pattern_mismatch":
        return f"a name of letters, digits, '.', '_' and '-', got {given!r}"
    message = item["msg"]
    if not isinstance(given, Mapping | list | tuple) and len(repr(given)) <= 60:
        message += f", got {given!r}"
    return message


def _problems(error: ValidationError, data: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    for item in error.errors(include_url=False):
        loc = item["loc"]
        if loc and loc[-1] == "[key]":  # a bad name in a mapping: pydantic puts the key first
            loc = loc[:-1]
        where = _where(loc, data)
        for line in _message(item, _raw(loc, data)).splitlines():
            problems.append(": ".join(part for part in (where, line) if part))
    return problems
