"""Rule files: the declarative, validated shape of alert rules.

Business users read and change these YAML files while stockloop runs, so a
mistake must be reported as the rule, the field and the problem, e.g.
``rule 'dead_stock': severity.warning: at col 5: unknown fact 'stok' (did you
mean 'on_hand'?)``, and every problem in a file is reported at once.

A rule::

    - id: below_safety_stock            # slug, unique in the file
      description: Available stock is below the safety stock.
      scope: {abc_classes: [A, B]}      # optional; also material_ids, categories, warehouses
      params: {clear_margin: 0.05}      # thresholds as data, used as $clear_margin
      when: available < safety_stock    # the firing condition
      severity: warning                 # info | warning | critical
      clear_when: available >= safety_stock * (1 + $clear_margin)
      for: 2h                           # optional: must hold this long (event time) before raising
      repeat_interval: 12h              # optional: resend an open alert (default: file's)
      deescalate_after: 1d              # optional, tiered rules: see "Tier hysteresis" below
      labels: {owner: planner, channel: digest}
      enabled: true

Severity is either one tier, at which the rule fires while ``when`` holds, or
a mapping tier -> condition: each tier's condition fires the rule at that
tier and the highest tier that holds wins. With a mapping, ``when`` (if
given) is the condition of the ``info`` tier. ``clear_when`` is the
hysteresis: an open alert resolves only when it holds; by default it is
``not (any tier's condition)``. Conditions are ``models.rules.expression``
texts over the facts in ``FACTS``.

Tier hysteresis: escalation is immediate (the highest tier that holds wins),
de-escalation is not. An open alert leaves its tier for a lower one only when

1. the tier's own clear condition holds: a tier given as a mapping
   ``{when: ..., clear_when: ...}`` leaves only when its ``clear_when``
   holds (the band in between keeps the tier, as ``clear_when`` keeps an
   alert open); a tier given as a bare condition leaves once that condition
   is false (unknown data keeps the tier, as it keeps an alert open); and
2. that has been so at every evaluation for ``deescalate_after`` of event
   time (default: at once).

It then moves to the highest lower tier that fires or has not cleared yet.
The lowest tier has no ``clear_when`` of its own (leaving it resolves the
alert: the rule's ``clear_when`` decides that), and ``deescalate_after``
needs at least two tiers. For example, critical within half the lead time,
back to warning only beyond 70 % of it, and only after a day::

    severity:
      warning: projected_stockout_days <= lead_time_days
      critical:
        when: projected_stockout_days <= lead_time_days * 0.5
        clear_when: projected_stockout_days > lead_time_days * 0.7
    deescalate_after: 1d

A rule file adds ``version: 1``, ``inhibit`` (a firing source rule silences
a target rule for alerts whose ``equal`` attributes match, while the source's
severity is at least the target's: never a worse alert behind a milder one)
and ``defaults``
(``repeat_interval``, for rules that do not give their own). ``load_rules``
reads one; ``merge`` lays a user file over the built-in pack by rule id: the
same id replaces the rule, a bare ``{id: ..., enabled: false}`` switches it
off, new ids are added.

>>> rules = load_rules('''
... version: 1
... rules:
...   - id: low
...     description: Available below safety stock.
...     when: available < safety_stock
... ''')
>>> [(rule.id, rule.severity, str(rule.clear_condition)) for rule in rules.rules]
[('low', 'warning', 'not (available < safety_stock)')]
>>> try:
...     load_rules('''
... version: 1
... rules:
...   - id: low
...     description: Available below safety stock.
...     severity:
...       warning: {when: available < safety_stock, clear_when: available > safety_stock}
...       critical: available < 0
... ''')
... except RuleSpecError as error:
...     print(error)
rule 'low': severity.warning.clear_when: warning is the rule's lowest tier: leaving it \
resolves the alert, so give this condition as the rule's clear_when
>>> try:
...     load_rules('''
... version: 1
... rules:
...   - id: low
...     description: Available below safety stock.
...     when: availble < safety_stock
... ''')
... except RuleSpecError as error:
...     print(error)
rule 'low': when: at col 1: unknown fact 'availble' (did you mean 'available'?)
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from models.rules.expression import Expression, ExpressionError, disjunction, negation, parse

__all__ = [
    "FACTS",
    "SCOPE_ATTRIBUTES",
    "TIERS",
    "CompiledRule",
    "Defaults",
    "Inhibition",
    "Rule",
    "RuleAlertSettings",
    "RuleFile",
    "RuleSpecError",
    "Scope",
    "Tier",
    "TierCondition",
    "builtin_rules",
    "load_rules",
    "merge",
    "parse_duration",
]

FACTS: dict[str, str] = {
    "available": "on hand minus committed demand (negative: orders exceed stock)",
    "on_hand": "quantity on the shelf",
    "in_transit": "open inbound supply (PO lines, ASNs)",
    "committed": "open quantity of confirmed order lines",
    "committed_next_7d": "confirmed order quantity due in the next 7 days",
    "in_transit_next_7d": "supply arriving in the next 7 days",
    "days_of_cover": "days the available stock lasts at the forecast demand",
    "projected_stockout_days": "days until the projected stock-out; unknown if none in the horizon",
    "lead_time_days": "expected replenishment lead time, in days",
    "days_to_order": "projected stock-out minus lead time: days left to order in time; "
    "unknown if no stock-out in the horizon",
    "inventory_position": "on hand + in transit - committed (open purchase requests not counted)",
    "safety_stock": "dynamic safety stock",
    "reorder_point": "dynamic reorder point",
    "order_up_to": "order-up-to level",
    "days_since_last_issue": "days since stock was last issued; unknown if never issued",
    "batch_age_days": "age of the oldest batch on the shelf, in days",
    "batch_value": "value of the oldest batch on the shelf",
    "forecast_daily": "forecast demand per day",
    "inventory_value": "value of the stock on the shelf",
    "unit_cost": "cost of one unit",
    "demand_shift": "1 if a change in the demand level was detected since the last evaluation",
}
"""The facts a rule may read, per (material, warehouse), with what each means."""

SCOPE_ATTRIBUTES = ("material_id", "warehouse_id", "category", "abc_class")
"""The attributes of the item under evaluation that scopes and inhibitions match on."""

TIERS = ("info", "warning", "critical")
"""Alert tiers, lowest first."""

Tier = Literal["info", "warning", "critical"]
ScopeAttribute = Literal["material_id", "warehouse_id", "category", "abc_class"]
RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]

_DURATION = re.compile(r"(\d+)\s*([wdhms])")
_DURATION_WHOLE = re.compile(r"\s*(?:\d+\s*[wdhms]\s*)+")
_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RuleSpecError(ValueError):
    """A rules file that cannot be accepted; ``problems`` holds one line per problem.

    Each line names the rule (or the file part), the field and the problem.
    """

    def __init__(self, problems: Sequence[str], source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        super().__init__("\n".join(self.problems))


def parse_duration(text: str) -> int:
    """Seconds in a duration such as ``2d``, ``12h``, ``30m``, ``90s``, ``1w`` or ``1d12h``.

    >>> parse_duration("2d"), parse_duration("12h"), parse_duration("30m"), parse_duration("1d12h")
    (172800, 43200, 1800, 129600)
    >>> parse_duration("2 days")
    Traceback (most recent call last):
      ...
    ValueError: expected a duration like '2d', '12h', '30m', '90s' or '1w', got '2 days'
    """
    if not isinstance(text, str) or not _DURATION_WHOLE.fullmatch(text):
        raise ValueError(
            f"expected a duration like '2d', '12h', '30m', '90s' or '1w', got {text!r}"
        )
    return sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION.findall(text))


def _duration_text(value: object) -> str:
    parse_duration(value)  # type: ignore[arg-type]
    return "".join(value.split())  # type: ignore[union-attr]


Duration = Annotated[str, BeforeValidator(_duration_text)]


def _string_list(value: object, what: str) -> object:
    """A list of quoted strings; YAML turns unquoted ``000123`` into a number, so say so."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        for item in value:
            if not isinstance(item, str):
                raise ValueError(
                    f"{what} must be text; quote it in YAML (e.g. '000123'), got {item!r}"
                )
    return value


class Scope(BaseModel):
    """Which items a rule applies to; each list given must contain the item's attribute."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    material_ids: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None
    abc_classes: tuple[str, ...] | None = None
    warehouses: tuple[str, ...] | None = None

    @field_validator("material_ids", "categories", "abc_classes", "warehouses", mode="before")
    @classmethod
    def _strings(cls, value: object, info: ValidationInfo) -> object:
        return _string_list(value, f"each of {info.field_name}")

    def matches(self, attrs: Mapping[str, str | None]) -> bool:
        """Whether an item with these scope attributes is in scope.

        >>> Scope(abc_classes=["A"]).matches({"abc_class": "A", "material_id": "M1"})
        True
        >>> Scope(abc_classes=["A"]).matches({"abc_class": None})
        False
        """
        return (
            (self.material_ids is None or attrs.get("material_id") in self.material_ids)
            and (self.warehouses is None or attrs.get("warehouse_id") in self.warehouses)
            and (self.categories is None or attrs.get("category") in self.categories)
            and (self.abc_classes is None or attrs.get("abc_class") in self.abc_classes)
        )


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule's conditions, parsed once at load and evaluated for every item."""

    tiers: tuple[tuple[Tier, Expression], ...]
    """(tier, condition), highest tier first: the first that holds gives the severity."""
    fires: Expression
    """Any tier's condition: the rule fires when this holds."""
    clear: Expression
    """``clear_when``, or ``not (fires)``: an open alert resolves when this holds."""
    names: tuple[str, ...]
    """Every fact the conditions read, sorted: the numbers an alert carries."""
    for_seconds: int
    """How long (event time) the rule must fire before an alert is raised."""
    clear_is_default: bool
    """No ``clear_when`` was given: ``clear`` is ``not (fires)``."""
    tier_clears: tuple[Expression | None, ...]
    """Each tier's own ``clear_when``, aligned with ``tiers`` (``None``: it clears when its
    condition is false); empty when no tier has one."""
    deescalate_after_seconds: int
    """How long (event time) a tier must stay clear before an open alert leaves it."""


class TierCondition(BaseModel):
    """One tier of a severity mapping with its own de-escalation condition.

    ``when`` puts an alert at this tier (at once); ``clear_when`` lets it
    leave the tier for a lower one. In between, the alert keeps the tier.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    when: str
    clear_when: str | None = None


_TIER_FIELDS = tuple(TierCondition.model_fields)


def _tier_condition(tier: str, condition: object) -> None:
    """Check one value of a severity mapping: a condition text or ``{when, clear_when}``."""
    if isinstance(condition, str):
        return
    if not isinstance(condition, Mapping):
        raise ValueError(
            f"{tier}: expected a condition text or a mapping with 'when' and 'clear_when', "
            f"got {condition!r}"
        )
    for name, text in condition.items():
        if name not in _TIER_FIELDS:
            hint = _suggestion(str(name), _TIER_FIELDS) or f" (allowed: {', '.join(_TIER_FIELDS)})"
            raise ValueError(f"{tier}.{name}: unknown field{hint}")
        if not isinstance(text, str):
            raise ValueError(f"{tier}.{name}: expected a condition text, got {text!r}")
    if "when" not in condition:
        raise ValueError(f"{tier}.when: required: the condition that puts an alert at this tier")


def _severity(value: object) -> object:
    if isinstance(value, str):
        if value not in TIERS:
            raise ValueError(
                f"must be one of {', '.join(TIERS)} or a mapping tier -> condition, got {value!r}"
            )
        return value
    if isinstance(value, Mapping):
        if not value:
            raise ValueError("the mapping tier -> condition is empty")
        for tier, condition in value.items():
            if tier not in TIERS:
                raise ValueError(f"unknown tier {tier!r}; tiers are {', '.join(TIERS)}")
            _tier_condition(tier, condition)
        return dict(value)
    raise ValueError(
        f"must be one of {', '.join(TIERS)} or a mapping tier -> condition, got {value!r}"
    )


def _params(value: object) -> object:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping name -> number, got {value!r}")
    problems = []
    for name, number in value.items():
        if not isinstance(name, str) or not _PARAM_NAME.match(name) or "__" in name:
            problems.append(f"{name!r} is not a valid parameter name (letters, digits, '_')")
        elif isinstance(number, bool) or not isinstance(number, int | float):
            problems.append(f"'{name}' must be a number, got {number!r}")
        elif not math.isfinite(number):
            problems.append(f"'{name}' must be finite, got {number!r}")
    if problems:
        raise ValueError("; ".join(problems))
    return {name: float(number) for name, number in value.items()}


class Rule(BaseModel):
    """One alert rule: when it fires, at which tier, when it clears, and for whom."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: RuleId
    description: str = ""
    enabled: bool = True
    scope: Scope = Field(default_factory=Scope)
    params: Annotated[dict[str, float], BeforeValidator(_params)] = Field(default_factory=dict)
    when: str | None = None
    severity: Annotated[Tier | dict[Tier, str | TierCondition], BeforeValidator(_severity)] = (
        "warning"
    )
    clear_when: str | None = None
    for_: Duration | None = Field(default=None, alias="for")
    deescalate_after: Duration | None = Field(
        default=None,
        description="How long (event time) a higher tier must stay clear before an open alert "
        "moves down to a lower one; by default at once.",
    )
    repeat_interval: Duration | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    update_on: tuple[str, ...] = Field(
        default=(),
        description="Facts whose move of more than 10 % re-notifies an open alert as updated; "
        "by default only a change of severity does.",
    )

    _compiled: CompiledRule | None = PrivateAttr(default=None)

    @field_validator("update_on")
    @classmethod
    def _known_facts(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in names if name not in FACTS]
        if unknown:
            hint = _suggestion(unknown[0], FACTS)
            raise ValueError(f"unknown fact '{unknown[0]}'{hint}")
        return names

    _fingerprint: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _compile(self) -> Rule:
        problems: list[str] = []
        if self.enabled and not self.description.strip():
            problems.append("description: required: one sentence saying what the alert means")
        sources: list[tuple[Tier, str, str]] = []  # tier, text, field path
        clear_sources: dict[Tier, str] = {}  # tier -> its own clear_when
        if isinstance(self.severity, str):
            if self.when is not None:
                sources.append((self.severity, self.when, "when"))
            elif self.enabled:
                problems.append("when: required: the condition that raises the alert")
        else:
            if self.when is not None:
                if "info" in self.severity:
                    problems.append(
                        "when: with a severity mapping, 'when' is the info condition; "
                        "give it once, either as 'when' or as severity.info"
                    )
                else:
                    sources.append(("info", self.when, "when"))
            for tier, spec in self.severity.items():
                if isinstance(spec, str):
                    sources.append((tier, spec, f"severity.{tier}"))
                    continue
                sources.append((tier, spec.when, f"severity.{tier}.when"))
                if spec.clear_when is not None:
                    clear_sources[tier] = spec.clear_when
        tiers: list[tuple[Tier, Expression]] = []
        for tier, text, path in sources:
            expression = _condition(text, path, self.params, problems)
            if expression is not None:
                tiers.append((tier, expression))
        tier_clears = self._tier_clears(sources, clear_sources, problems)
        clear = None
        if self.clear_when is not None:
            clear = _condition(self.clear_when, "clear_when", self.params, problems)
            if not sources and not problems:
                problems.append("clear_when: given without 'when' or a severity mapping")
        if problems:
            raise ValueError("\n".join(problems))
        if tiers:
            tiers.sort(key=lambda pair: TIERS.index(pair[0]))
            fires = disjunction([expression for _, expression in tiers])
            clear = clear if clear is not None else negation(fires)
            names: set[str] = set()
            for expression in (fires, clear, *filter(None, tier_clears.values())):
                names |= expression.names()
            highest_first = tuple(reversed(tiers))
            self._compiled = CompiledRule(
                tiers=highest_first,
                fires=fires,
                clear=clear,
                names=tuple(sorted(names)),
                for_seconds=parse_duration(self.for_) if self.for_ else 0,
                clear_is_default=self.clear_when is None,
                tier_clears=(
                    tuple(tier_clears.get(tier) for tier, _ in highest_first)
                    if any(clear is not None for clear in tier_clears.values())
                    else ()
                ),
                deescalate_after_seconds=self.deescalate_after_seconds,
            )
        return self

    def _tier_clears(
        self,
        sources: Sequence[tuple[Tier, str, str]],
        clear_sources: Mapping[Tier, str],
        problems: list[str],
    ) -> dict[Tier, Expression | None]:
        """Parse each tier's own ``clear_when``; check it and ``deescalate_after`` make sense."""
        present = sorted({tier for tier, _, _ in sources}, key=TIERS.index)
        clears: dict[Tier, Expression | None] = {}
        for tier, text in clear_sources.items():
            path = f"severity.{tier}.clear_when"
            if present and tier == present[0]:
                problems.append(
                    f"{path}: {tier} is the rule's lowest tier: leaving it resolves the alert, "
                    "so give this condition as the rule's clear_when"
                )
                continue
            clears[tier] = _condition(text, path, self.params, problems)
        if self.deescalate_after is not None and len(present) < 2:
            only = f" ({present[0]})" if present else ""
            problems.append(
                f"deescalate_after: the rule has a single tier{only}, so there is nothing to "
                "de-escalate; give a severity mapping with two or more tiers, or remove it"
            )
        return clears

    @property
    def compiled(self) -> CompiledRule | None:
        """The parsed conditions; ``None`` only for a bare ``{id, enabled: false}`` switch-off."""
        # Straight from pydantic's private store: `self._compiled` goes through a failed
        # attribute lookup first, which costs microseconds on every evaluation.
        return self.__pydantic_private__["_compiled"]  # type: ignore[index]

    @property
    def condition(self) -> Expression:
        """The firing condition (any tier's condition)."""
        return self._require().fires

    @property
    def clear_condition(self) -> Expression:
        """The condition under which an open alert resolves."""
        return self._require().clear

    @property
    def for_seconds(self) -> int:
        """How long the rule must fire (event time) before an alert is raised; 0: at once."""
        compiled = self.compiled
        if compiled is not None:
            return compiled.for_seconds
        return parse_duration(self.for_) if self.for_ else 0

    @property
    def deescalate_after_seconds(self) -> int:
        """How long (event time) a tier must stay clear before an alert moves down; 0: at once."""
        return parse_duration(self.deescalate_after) if self.deescalate_after else 0

    @property
    def fingerprint(self) -> str:
        """A short hash of the rule's content: changes whenever anything in the rule does."""
        if self._fingerprint is None:
            content = json.dumps(
                self.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":")
            )
            self._fingerprint = hashlib.sha256(content.encode()).hexdigest()[:12]
        return self._fingerprint

    def _require(self) -> CompiledRule:
        compiled = self.compiled
        if compiled is None:
            raise ValueError(f"rule '{self.id}' is a bare switch-off and has no conditions")
        return compiled


def _condition(
    text: str, path: str, params: Mapping[str, float], problems: list[str]
) -> Expression | None:
    try:
        expression = parse(text, FACTS, params)
    except ExpressionError as error:
        problems.append(f"{path}: {error}")
        return None
    if expression.kind != "condition":
        problems.append(
            f"{path}: must be a condition (true/false), got a number: '{expression}'; "
            "compare it, e.g. '... > 0'"
        )
        return None
    return expression


@dataclass(frozen=True, slots=True)
class RuleAlertSettings:
    """What the alert lifecycle needs to know about a rule besides its outcomes."""

    for_seconds: int
    """The rule must fire this long (event time) before an alert is raised."""
    labels: Mapping[str, str]
    """Routing hints: owner, channel, ..."""
    repeat_interval_seconds: int
    """An open, unacknowledged, unchanged alert is sent again after this long."""
    update_on: tuple[str, ...]
    """Facts whose material change makes an ``updated`` (besides a severity change)."""
    deescalate_after_seconds: int = 0
    """A higher tier must stay clear this long (event time) before the alert moves down."""


class Inhibition(BaseModel):
    """While ``source`` fires for an item, ``target`` stays silent for items equal on ``equal``.

    Only while the source's alert is at least as severe as the target's
    (``models.alerts.inhibits``): a target that escalates past its source
    notifies, as Alertmanager's inhibit rules from critical to warning do.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: RuleId
    target: RuleId
    equal: tuple[ScopeAttribute, ...] = ("material_id", "warehouse_id")

    @model_validator(mode="after")
    def _check(self) -> Inhibition:
        if self.source == self.target:
            raise ValueError(f"target: rule '{self.source}' cannot inhibit itself")
        if not self.equal:
            raise ValueError("equal: name at least one attribute, e.g. [material_id, warehouse_id]")
        if len(set(self.equal)) != len(self.equal):
            raise ValueError("equal: an attribute is listed twice")
        return self


class Defaults(BaseModel):
    """File-wide settings for the alert lifecycle."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    repeat_interval: Duration = "1d"

    @property
    def repeat_interval_seconds(self) -> int:
        """How often an open, unchanged alert is sent again, in seconds."""
        return parse_duration(self.repeat_interval)


class RuleFile(BaseModel):
    """A rules file: the rules, the inhibitions between them, and defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1]
    rules: tuple[Rule, ...] = ()
    inhibit: tuple[Inhibition, ...] = ()
    defaults: Defaults = Field(default_factory=Defaults)

    _by_id: dict[str, Rule] = PrivateAttr(default_factory=dict)
    _enabled: tuple[Rule, ...] = PrivateAttr(default=())
    _settings: dict[str, RuleAlertSettings] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> RuleFile:
        problems: list[str] = []
        first_index: dict[str, int] = {}
        for index, rule in enumerate(self.rules):
            if rule.id in first_index:
                problems.append(
                    f"rules[{index}]: duplicate rule id '{rule.id}' "
                    f"(also rules[{first_index[rule.id]}])"
                )
            first_index.setdefault(rule.id, index)
        partial = bool(info.context and info.context.get("partial"))
        if not partial:
            for index, inhibition in enumerate(self.inhibit):
                for field in ("source", "target"):
                    rule_id = getattr(inhibition, field)
                    if rule_id not in first_index:
                        hint = _suggestion(rule_id, first_index)
                        problems.append(f"inhibit[{index}].{field}: unknown rule '{rule_id}'{hint}")
        if problems:
            raise ValueError("\n".join(problems))
        self._by_id = {rule.id: rule for rule in self.rules}
        self._enabled = tuple(r for r in self.rules if r.enabled and r.compiled is not None)
        default_repeat = self.defaults.repeat_interval_seconds
        self._settings = {
            rule.id: RuleAlertSettings(
                for_seconds=rule.for_seconds,
                labels=rule.labels,
                repeat_interval_seconds=(
                    parse_duration(rule.repeat_interval) if rule.repeat_interval else default_repeat
                ),
                update_on=rule.update_on,
                deescalate_after_seconds=rule.deescalate_after_seconds,
            )
            for rule in self._enabled
        }
        return self

    def rule(self, rule_id: str) -> Rule | None:
        """The rule with this id, if any."""
        return self._by_id.get(rule_id)

    @property
    def enabled_rules(self) -> tuple[Rule, ...]:
        """The rules to evaluate, in file order."""
        return self._enabled

    def alert_settings(self) -> Mapping[str, RuleAlertSettings]:
        """Rule id -> what the alert lifecycle needs (``for``, labels, repeat, de-escalation)."""
        return self._settings


# --- loading ------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """A safe YAML loader that rejects a key given twice (PyYAML keeps the last silently)."""


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:  # unhashable key: let PyYAML report it
            break
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"the key {key!r} is given twice",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


def parse_yaml(text: str) -> object:
    """YAML text as data, a key given twice refused; ``ValueError`` with a one-line reason.

    Every YAML file stockloop reads (rules, approval policy, review policy,
    transfer lanes) goes through here, so each reports a syntax error alike.
    """
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1} col {mark.column + 1}: " if mark else ""
        problem = " ".join(part for part in (error.context, error.problem) if part)
        raise ValueError(f"not valid YAML: {where}{problem}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"not valid YAML: {error}".splitlines()[0]) from None


def _read(source: str | bytes | os.PathLike[str] | Mapping[str, Any]) -> tuple[Any, str | None]:
    if isinstance(source, Mapping):
        return source, None
    name = None
    if isinstance(source, os.PathLike):
        name = os.fspath(source)
        try:
            source = Path(source).read_text(encoding="utf-8")
        except OSError as error:
            raise RuleSpecError([f"cannot read the rules file: {error}"], name) from None
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as error:
            raise RuleSpecError([f"rules are not UTF-8 text: {error}"], name) from None
    try:
        data = parse_yaml(source)
    except ValueError as error:
        raise RuleSpecError([str(error)], name) from None
    if not isinstance(data, Mapping):
        raise RuleSpecError(
            [f"a rules file is a mapping with 'version: 1' and 'rules', got {type(data).__name__}"],
            name,
        )
    return data, name


def load_rules(
    source: str | bytes | os.PathLike[str] | Mapping[str, Any], *, base: RuleFile | None = None
) -> RuleFile:
    """Read and validate a rules file: YAML (or JSON) text or bytes, a path, or a parsed mapping.

    With ``base``, the file is an override laid over ``base`` (see ``merge``)
    and may refer to ``base``'s rule ids in ``inhibit``. Raises
    ``RuleSpecError`` listing every problem.
    """
    data, name = _read(source)
    try:
        loaded = RuleFile.model_validate(data, context={"partial": base is not None})
    except ValidationError as error:
        raise RuleSpecError(_problems(error, data), name) from None
    if base is None:
        return loaded
    try:
        return merge(base, loaded)
    except RuleSpecError as error:
        raise RuleSpecError(error.problems, name) from None


def merge(base: RuleFile, override: RuleFile) -> RuleFile:
    """``override`` laid over ``base`` by rule id.

    A rule with an id of ``base`` replaces it in place (a bare
    ``{id, enabled: false}`` switches it off); new ids are added after
    ``base``'s rules. Inhibitions are the union; ``defaults`` are the
    override's if it gives them.

    >>> base = load_rules("version: 1\\nrules: [{id: a, description: A, when: on_hand < 0}]")
    >>> off = load_rules("version: 1\\nrules: [{id: a, enabled: false}]")
    >>> [(rule.id, rule.enabled) for rule in merge(base, off).rules]
    [('a', False)]
    """
    problems: list[str] = []
    rules: dict[str, Rule] = {rule.id: rule for rule in base.rules}
    for rule in override.rules:
        if rule.compiled is None and rule.id not in rules:
            problems.append(
                f"rule '{rule.id}': switches off a rule that does not exist"
                f"{_suggestion(rule.id, rules)}"
            )
        rules[rule.id] = rule
    if problems:
        raise RuleSpecError(problems)
    inhibit = list(base.inhibit)
    inhibit += [item for item in override.inhibit if item not in inhibit]
    data = {
        "version": 1,
        "rules": list(rules.values()),
        "inhibit": inhibit,
        "defaults": override.defaults if "defaults" in override.model_fields_set else base.defaults,
    }
    try:
        return RuleFile.model_validate(data)
    except ValidationError as error:
        raise RuleSpecError(_problems(error, data)) from None


@functools.cache
def builtin_rules() -> RuleFile:
    """The built-in rule pack shipped in ``builtin.yaml``."""
    return load_rules(Path(__file__).with_name("builtin.yaml"))


# --- error messages -----------------------------------------------------------------------


def _fields_at(loc: Sequence[str | int]) -> list[str]:
    """The field names allowed where an unknown field ``loc[-1]`` was found."""
    parent = [part for part in loc[:-1] if not isinstance(part, int)]
    model: type[BaseModel] = {
        (): RuleFile,
        ("rules",): Rule,
        ("rules", "scope"): Scope,
        ("scope",): Scope,
        ("inhibit",): Inhibition,
        ("defaults",): Defaults,
    }.get(tuple(parent), Rule)
    return [field.alias or name for name, field in model.model_fields.items()]


def _suggestion(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _rule_label(data: Any, index: int) -> str:
    try:
        rule = data["rules"][index]
        rule_id = rule.get("id") if isinstance(rule, Mapping) else getattr(rule, "id", None)
    except (KeyError, IndexError, TypeError):
        rule_id = None
    return f"rule '{rule_id}'" if isinstance(rule_id, str) and rule_id else f"rules[{index}]"


def _path(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _message(item: Mapping[str, Any]) -> str:
    kind = item["type"]
    if kind == "value_error":
        return str(item["ctx"]["error"])
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        allowed = _fields_at(item["loc"])
        hint = _suggestion(str(item["loc"][-1]), allowed) or f" (allowed: {', '.join(allowed)})"
        return f"unknown field{hint}"
    if kind == "string_pattern_mismatch" and item["loc"][-1] in ("id", "source", "target"):
        return (
            "a rule id is a slug: lowercase letters, digits, '_' or '-', starting with a letter"
            f" (at most 64), got {item.get('input')!r}"
        )
    message = item["msg"]
    given = item.get("input")
    if not isinstance(given, Mapping | list | tuple | BaseModel) and len(repr(given)) <= 60:
        message += f", got {given!r}"
    return message


def _problems(error: ValidationError, data: Any) -> list[str]:
    problems: list[str] = []
    for item in error.errors(include_url=False):
        loc = list(item["loc"])
        label = ""
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            label = _rule_label(data, loc[1])
            loc = loc[2:]
        path = _path(loc)
        for line in _message(item).splitlines():
            problems.append(": ".join(part for part in (label, path, line) if part))
    return problems
