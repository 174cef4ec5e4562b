"""Rule evaluation: what each rule says about one (material, warehouse) right now.

Pure functions of a rule, the item's facts and its scope attributes; the
rules were parsed once at load, so an evaluation only runs the compiled
conditions. The alert lifecycle turns the outcomes into raise / update /
resolve transitions; the meaning of the fields it relies on:

- ``firing``: the rule's condition holds; ``severity`` is the highest tier
  whose condition holds (``None`` when not firing).
- ``clear``: the rule's clear condition holds and it does not fire: an open
  alert resolves. Neither ``firing`` nor ``clear`` is the hysteresis band (or
  missing data): an open alert stays open, a closed one stays closed.
- ``in_scope`` false: the rule does not apply to this item (any longer);
  ``clear`` is true so an alert left open by an older rule version resolves.
- ``for_seconds``: how long (event time) the rule must keep firing before an
  alert is raised; the lifecycle keeps that pending clock.
- ``holding``: the tiers above ``severity`` (every tier when not firing) that
  do not fire but have not cleared either: in their own hysteresis band
  (``severity.<tier>.clear_when`` does not hold) or, for a tier without one,
  unknown. An open alert at such a tier keeps it; the lifecycle de-escalates
  only from a tier that is not holding (and after ``deescalate_after``).

>>> from models.rules.spec import builtin_rules
>>> rules = builtin_rules()
>>> facts = {"projected_stockout_days": 4.0, "lead_time_days": 10.0}
>>> item = {"material_id": "M1", "warehouse_id": "W1"}
>>> outcome = evaluate_rule(rules.rule("stockout_risk"), facts, item)
>>> outcome.firing, outcome.severity, outcome.expression
(True, 'critical', 'projected_stockout_days <= lead_time_days * $critical_share')
>>> outcome.explain()
'stockout_risk critical: projected_stockout_days <= lead_time_days * $critical_share \
(lead_time_days=10, projected_stockout_days=4, critical_share=0.5)'

Six days is warning, but not far enough from critical to leave it:

>>> facts["projected_stockout_days"] = 6.0
>>> outcome = evaluate_rule(rules.rule("stockout_risk"), facts, item)
>>> outcome.severity, outcome.holding
('warning', ('critical',))
>>> outcome.explain(kept="critical")
'stockout_risk critical (kept; warning now): projected_stockout_days <= lead_time_days \
+ $order_margin_days (lead_time_days=10, projected_stockout_days=6, order_margin_days=5)'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from models.rules.spec import CompiledRule, Rule, RuleFile, Tier

__all__ = ["RuleOutcome", "evaluate_all", "evaluate_rule"]

_WORD = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_]*")


class RuleOutcome(NamedTuple):
    """What one rule says about one item: firing or not, at which tier, and on which numbers.

    Immutable (a named tuple: built once per rule per evaluation, it is about
    four times cheaper to make than a frozen dataclass); ``_asdict()`` gives a
    plain dict.
    """

    rule_id: str
    in_scope: bool
    firing: bool
    severity: Tier | None
    clear: bool
    values: Mapping[str, float | None]
    """Every fact the rule's conditions read, as given (``None``: unknown)."""
    expression: str
    """Canonical text of the deciding condition: the winning tier's when firing,
    the clear condition when clearing, else the firing condition."""
    params: Mapping[str, float]
    """The rule's parameters (thresholds), for the explanation."""
    for_seconds: int
    labels: Mapping[str, str]
    holding: tuple[Tier, ...] = ()
    """Tiers above ``severity`` (all when not firing), highest first, in their
    hysteresis band: an open alert at one of them keeps it."""

    def explain(self, kept: str | None = None) -> str:
        """One line for a person: rule, tier or state, condition and the numbers behind it.

        ``kept``: the severity the alert keeps, if the lifecycle holds it above
        the tier that fires now (tier hysteresis).
        """
        if not self.in_scope:
            return f"{self.rule_id} not in scope"
        state = self.severity if self.firing else "clear" if self.clear else "holding"
        if self.firing and kept is not None and kept != self.severity:
            state = f"{kept} (kept; {self.severity} now)"
        used = set(_WORD.findall(self.expression))
        numbers = [
            f"{name}={_number(value)}" for name, value in self.values.items() if name in used
        ]
        numbers += [
            f"{name}={_number(value)}" for name, value in self.params.items() if f"${name}" in used
        ]
        return f"{self.rule_id} {state}: {self.expression} ({', '.join(numbers)})"


def _number(value: object) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def evaluate_rule(
    rule: Rule, facts: Mapping[str, object], scope_attrs: Mapping[str, str | None]
) -> RuleOutcome:
    """Evaluate one rule for one item.

    ``facts`` maps fact names (``FACTS``) to numbers or ``None``; a missing
    key is unknown. ``scope_attrs`` has the item's ``material_id``,
    ``warehouse_id``, ``category`` and ``abc_class``. A disabled rule is
    out of scope.
    """
    compiled = rule.compiled
    if compiled is None or not rule.enabled or not rule.scope.matches(scope_attrs):
        for_seconds = compiled.for_seconds if compiled else 0
        return RuleOutcome(
            rule.id, False, False, None, True, {}, "", rule.params, for_seconds, rule.labels
        )
    severity: Tier | None = None
    deciding = compiled.fires
    all_false = True
    unknown: list[Tier] = []
    above = 0  # tiers above the firing one (all of them when not firing)
    for tier, condition in compiled.tiers:
        value = condition.evaluate(facts)
        if value is True:
            severity, deciding = tier, condition
            break
        above += 1
        all_false = all_false and value is False
        if value is None:
            unknown.append(tier)
    if severity is not None:
        clear = False
    elif compiled.clear_is_default:
        # not (t1 or t2 ...) holds exactly when every tier is false (not unknown).
        clear = all_false
    else:
        clear = compiled.clear.holds(facts)
    if clear:
        deciding = compiled.clear
        holding: tuple[Tier, ...] = ()  # the alert resolves: no tier to keep
    else:
        holding = _holding(compiled, above, unknown, facts)
    return RuleOutcome(
        rule.id,
        True,
        severity is not None,
        severity,
        clear,
        {name: facts.get(name) for name in compiled.names},  # type: ignore[misc]
        str(deciding),
        rule.params,
        compiled.for_seconds,
        rule.labels,
        holding,
    )


def _holding(
    compiled: CompiledRule, above: int, unknown: list[Tier], facts: Mapping[str, object]
) -> tuple[Tier, ...]:
    """The first ``above`` tiers (none of them fires) that have not cleared: they keep an alert.

    A tier with its own ``clear_when`` has cleared when that holds; a tier
    without one when its condition is false (``unknown`` lists those that
    were neither).
    """
    if not compiled.tier_clears:
        return tuple(unknown)
    return tuple(
        tier
        for (tier, _), tier_clear in zip(
            compiled.tiers[:above], compiled.tier_clears[:above], strict=True
        )
        if (tier in unknown if tier_clear is None else not tier_clear.holds(facts))
    )


def evaluate_all(
    rules: RuleFile | Iterable[Rule],
    facts: Mapping[str, object],
    scope_attrs: Mapping[str, str | None],
) -> list[RuleOutcome]:
    """Evaluate every enabled rule for one item, in file order.

    Disabled rules give no outcome: the lifecycle resolves alerts of rules
    that are gone or switched off.
    """
    enabled = rules.enabled_rules if isinstance(rules, RuleFile) else rules
    return [
        evaluate_rule(rule, facts, scope_attrs)
        for rule in enabled
        if rule.enabled and rule.compiled is not None
    ]
