"""Rule files: validation with rule/field/problem messages, durations, merging, evaluation."""

import json
from pathlib import Path

import pytest

from models.rules.evaluate import evaluate_all, evaluate_rule
from models.rules.spec import (
    Rule,
    RuleFile,
    RuleSpecError,
    Scope,
    builtin_rules,
    load_rules,
    merge,
    parse_duration,
)

ITEM = {"material_id": "M1", "warehouse_id": "W1", "category": "spares", "abc_class": "A"}


def rules_yaml(body: str, extra: str = "") -> str:
    return f"version: 1\nrules:\n{body}\n{extra}"


def problems(text: str, base: RuleFile | None = None) -> list[str]:
    with pytest.raises(RuleSpecError) as caught:
        load_rules(text, base=base)
    assert list(caught.value.problems) == str(caught.value).splitlines()
    return list(caught.value.problems)


def one_rule(**fields) -> Rule:
    data = {"id": "r", "description": "A rule.", **fields}
    return load_rules({"version": 1, "rules": [data]}).rules[0]


# --- a valid rule -------------------------------------------------------------------------


def test_a_minimal_rule_gets_the_documented_defaults():
    rule = one_rule(when="available < safety_stock")
    assert (rule.severity, rule.enabled, rule.scope, rule.params, rule.labels) == (
        "warning",
        True,
        Scope(),
        {},
        {},
    )
    assert str(rule.condition) == "available < safety_stock"
    assert str(rule.clear_condition) == "not (available < safety_stock)"
    assert rule.for_seconds == 0


def test_a_full_rule_reads_as_written():
    rules = load_rules(
        rules_yaml("""
  - id: low_stock_a
    description: Available below safety stock for A items.
    scope: {abc_classes: [A], warehouses: [W1, W2]}
    params: {margin: 0.05}
    when: available < safety_stock
    severity: critical
    clear_when: available >= safety_stock * (1 + $margin)
    for: 2h
    labels: {owner: planner, channel: immediate}
    enabled: true
""")
    )
    rule = rules.rule("low_stock_a")
    assert rule is not None
    assert rule.scope == Scope(abc_classes=("A",), warehouses=("W1", "W2"))
    assert rule.params == {"margin": 0.05}
    assert rule.for_ == "2h" and rule.for_seconds == 7_200
    assert rule.compiled.for_seconds == 7_200
    assert str(rule.clear_condition) == "available >= safety_stock * (1 + $margin)"
    assert rule.labels == {"owner": "planner", "channel": "immediate"}
    assert rule.compiled.names == ("available", "safety_stock")


def test_a_severity_mapping_orders_tiers_highest_first_and_when_is_the_info_tier():
    rule = one_rule(
        when="on_hand > 0",
        severity={"warning": "on_hand > 10", "critical": "on_hand > 100"},
    )
    assert [tier for tier, _ in rule.compiled.tiers] == ["critical", "warning", "info"]
    assert str(rule.condition) == "on_hand > 0 or on_hand > 10 or on_hand > 100"


# --- validation errors name the rule, the field and the problem ---------------------------


def test_an_unknown_fact_in_a_tier_names_rule_field_position_and_suggestion():
    assert problems(
        rules_yaml("""
  - id: dead_stock
    description: Dead stock.
    severity:
      warning: on_hand > 0
      critical: on_hnd > 0
""")
    ) == [
        "rule 'dead_stock': severity.critical: at col 1: unknown fact 'on_hnd' "
        "(did you mean 'on_hand'?)"
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"when": "available"}, "rule 'r': when: must be a condition (true/false), got a number"),
        ({"when": "on_hand > $x"}, "rule 'r': when: at col 11: unknown parameter '$x'"),
        ({"when": "on_hand > 1", "clear_when": "on_hand <"}, "rule 'r': clear_when: at col 10:"),
        ({}, "rule 'r': when: required"),
        ({"when": "on_hand > 1", "description": " "}, "rule 'r': description: required"),
        ({"when": "on_hand > 1", "severity": "high"}, "rule 'r': severity: must be one of info"),
        ({"severity": {"high": "on_hand > 1"}}, "rule 'r': severity: unknown tier 'high'"),
        ({"severity": {}}, "rule 'r': severity: the mapping tier -> condition is empty"),
        ({"severity": {"info": 3}}, "rule 'r': severity: info: expected a condition text"),
        (
            {"when": "on_hand > 1", "severity": {"info": "on_hand > 2"}},
            "rule 'r': when: with a severity mapping, 'when' is the info condition",
        ),
        ({"when": "on_hand > 1", "params": {"x": "3"}}, "rule 'r': params: 'x' must be a number"),
        ({"when": "on_hand > 1", "params": {"x": True}}, "rule 'r': params: 'x' must be a number"),
        ({"when": "on_hand > 1", "params": {"a b": 1}}, "rule 'r': params: 'a b' is not a valid"),
        ({"when": "on_hand > 1", "for": "2 days"}, "rule 'r': for: expected a duration like '2d'"),
        ({"when": "on_hand > 1", "for": 90}, "rule 'r': for: expected a duration"),
        ({"when": 5}, "rule 'r': when: Input should be a valid string, got 5"),
        ({"when": "on_hand > 1", "clear_if": "x"}, "rule 'r': clear_if: unknown field (did you "),
        ({"when": "on_hand > 1", "labels": {"owner": 1}}, "rule 'r': labels.owner: Input should"),
        (
            {"when": "on_hand > 1", "scope": {"material_ids": [123]}},
            "rule 'r': scope.material_ids: each of material_ids must be text; quote it in YAML",
        ),
        (
            {"when": "on_hand > 1", "scope": {"abc": ["A"]}},
            "rule 'r': scope.abc: unknown field (allowed: material_ids, categories, abc_classes",
        ),
        ({"when": "on_hand > 1", "id": "Bad Id"}, "rule 'Bad Id': id: a rule id is a slug"),
    ],
)
def test_invalid_rules_are_reported_by_rule_and_field(fields, message):
    data = {"version": 1, "rules": [{"id": "r", "description": "A rule.", **fields}]}
    with pytest.raises(RuleSpecError) as caught:
        load_rules(data)
    assert str(caught.value).startswith(message), str(caught.value)


def test_every_problem_in_a_file_is_reported_at_once():
    found = problems(
        rules_yaml("""
  - id: one
    description: One.
    when: stok > 0
    clear_when: stock < 1
  - description: No id.
    when: on_hand > 0
  - id: three
    description: Three.
    when: on_hand > 0
    severity: urgent
""")
    )
    assert found == [
        "rule 'one': when: at col 1: unknown fact 'stok'",
        "rule 'one': clear_when: at col 1: unknown fact 'stock'",
        "rules[1]: id: required",
        "rule 'three': severity: must be one of info, warning, critical or a mapping "
        "tier -> condition, got 'urgent'",
    ]


def test_duplicate_rule_ids_are_rejected():
    body = "  - {id: a, description: A., when: on_hand > 0}\n" * 2
    assert problems(rules_yaml(body)) == ["rules[1]: duplicate rule id 'a' (also rules[0])"]


def test_inhibitions_must_name_existing_rules():
    body = "  - {id: stockout_risk, description: S., when: on_hand < 0}"
    assert problems(rules_yaml(body, "inhibit: [{source: stockout_rsk, target: other}]")) == [
        "inhibit[0].source: unknown rule 'stockout_rsk' (did you mean 'stockout_risk'?)",
        "inhibit[0].target: unknown rule 'other'",
    ]


def test_a_rule_cannot_inhibit_itself():
    body = "  - {id: a, description: A., when: on_hand < 0}"
    assert problems(rules_yaml(body, "inhibit: [{source: a, target: a}]")) == [
        "inhibit[0]: target: rule 'a' cannot inhibit itself"
    ]


def test_inhibition_defaults_to_the_same_material_and_warehouse():
    body = "  - {id: a, description: A., when: on_hand < 0}\n"
    body += "  - {id: b, description: B., when: on_hand < 1}"
    (inhibition,) = load_rules(rules_yaml(body, "inhibit: [{source: a, target: b}]")).inhibit
    assert inhibition.equal == ("material_id", "warehouse_id")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 2\nrules: []", "version: Input should be 1, got 2"),
        ("rules: []", "version: required"),
        ("version: 1\nrulez: []", "rulez: unknown field (did you mean 'rules'?)"),
        ("- a\n- b", "a rules file is a mapping with 'version: 1' and 'rules', got list"),
        ("version: 1\nrules: [\n", "not valid YAML: line 3 col 1:"),
        ("version: 1\ndefaults: {repeat_interval: 5}", "defaults.repeat_interval: expected a"),
        (
            "version: 1\nrules:\n  - id: a\n    id: b\n",
            "not valid YAML: line 4 col 5: while reading a mapping the key 'id' is given twice",
        ),
    ],
)
def test_file_level_problems_are_reported(text, message):
    assert problems(text)[0].startswith(message)


def test_an_unreadable_path_is_a_rule_spec_error(tmp_path):
    with pytest.raises(RuleSpecError, match="cannot read the rules file"):
        load_rules(tmp_path / "missing.yaml")


# --- durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 1_800),
        ("12h", 43_200),
        ("2d", 172_800),
        ("1w", 604_800),
        ("90s", 90),
        ("1d12h", 129_600),
        ("1d 12h", 129_600),
        ("0s", 0),
    ],
)
def test_durations_parse_to_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2", "2 days", "1.5d", "-1d", "d", "2y", "P2D"])
def test_malformed_durations_are_rejected(text):
    with pytest.raises(ValueError, match="expected a duration like"):
        parse_duration(text)


def test_repeat_interval_defaults_to_a_day():
    assert load_rules("version: 1").defaults.repeat_interval_seconds == 86_400
    assert load_rules("version: 1\ndefaults: {repeat_interval: 4h}").defaults == (
        load_rules({"version": 1, "defaults": {"repeat_interval": "4h"}}).defaults
    )


# --- sources ------------------------------------------------------------------------------


def test_rules_load_from_text_bytes_json_path_and_mapping(tmp_path: Path):
    data = {"version": 1, "rules": [{"id": "a", "description": "A.", "when": "on_hand < 0"}]}
    path = tmp_path / "rules.yaml"
    path.write_text(json.dumps(data))
    loaded = [
        load_rules(json.dumps(data)),
        load_rules(json.dumps(data).encode()),
        load_rules(path),
        load_rules(data),
    ]
    assert all(rules == loaded[0] for rules in loaded)


def test_a_path_is_named_on_the_error(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text("version: 1\nrules: [{id: a, description: A., when: stok < 0}]")
    with pytest.raises(RuleSpecError) as caught:
        load_rules(path)
    assert caught.value.source == str(path)


# --- merging over the built-in pack -------------------------------------------------------


def test_the_same_id_replaces_the_rule_in_place():
    override = load_rules(
        rules_yaml("""
  - id: dead_stock
    description: Dead after 120 days.
    params: {dead_days: 120}
    when: on_hand > 0 and days_since_last_issue >= $dead_days
""")
    )
    merged = merge(builtin_rules(), override)
    assert [rule.id for rule in merged.rules] == [rule.id for rule in builtin_rules().rules]
    assert merged.rule("dead_stock").params == {"dead_days": 120.0}
    assert merged.rule("stockout_risk") is builtin_rules().rule("stockout_risk")


def test_enabled_false_switches_a_rule_off():
    merged = load_rules(rules_yaml("  - {id: dead_stock, enabled: false}"), base=builtin_rules())
    assert merged.rule("dead_stock").enabled is False
    assert "dead_stock" not in [rule.id for rule in merged.enabled_rules]
    facts = {"on_hand": 10, "days_since_last_issue": 400}
    assert "dead_stock" not in [o.rule_id for o in evaluate_all(merged, facts, ITEM)]


def test_switching_off_an_unknown_rule_is_an_error_with_a_suggestion():
    assert problems(rules_yaml("  - {id: dead_stok, enabled: false}"), base=builtin_rules()) == [
        "rule 'dead_stok': switches off a rule that does not exist (did you mean 'dead_stock'?)"
    ]


def test_new_ids_are_added_after_the_built_in_rules():
    body = "  - {id: negative_stock, description: Negative stock., when: on_hand < 0}"
    merged = load_rules(rules_yaml(body), base=builtin_rules())
    assert merged.rules[-1].id == "negative_stock"
    assert len(merged.rules) == len(builtin_rules().rules) + 1


def test_an_override_may_inhibit_built_in_rules_and_keeps_the_built_in_inhibitions():
    merged = load_rules(
        rules_yaml("  []", "inhibit: [{source: dead_stock, target: overstock}]"),
        base=builtin_rules(),
    )
    assert [(i.source, i.target) for i in merged.inhibit] == [
        ("stockout_risk", "below_safety_stock"),
        ("stockout_risk", "reorder_point_reached"),
        ("dead_stock", "aged_batch"),
        ("dead_stock", "overstock"),
    ]
    with pytest.raises(RuleSpecError, match=r"inhibit\[3\].target: unknown rule 'overstok'"):
        load_rules(
            rules_yaml("  []", "inhibit: [{source: dead_stock, target: overstok}]"),
            base=builtin_rules(),
        )


def test_defaults_come_from_the_override_only_when_it_gives_them():
    base = builtin_rules()
    assert load_rules("version: 1", base=base).defaults == base.defaults
    merged = load_rules("version: 1\ndefaults: {repeat_interval: 4h}", base=base)
    assert merged.defaults.repeat_interval_seconds == 14_400


def test_the_fingerprint_changes_with_the_rule():
    rule = builtin_rules().rule("dead_stock")
    same = load_rules(rules_yaml("  []"), base=builtin_rules()).rule("dead_stock")
    data = rule.model_dump(by_alias=True)
    data["params"]["dead_days"] = 120
    changed = Rule.model_validate(data)
    assert rule.fingerprint == same.fingerprint != changed.fingerprint


# --- evaluation semantics -----------------------------------------------------------------


def test_the_highest_tier_that_holds_wins():
    rule = one_rule(
        when="on_hand > 0", severity={"warning": "on_hand > 10", "critical": "on_hand > 100"}
    )
    assert [evaluate_rule(rule, {"on_hand": x}, ITEM).severity for x in (0, 5, 50, 500)] == [
        None,
        "info",
        "warning",
        "critical",
    ]


def test_clear_holds_only_when_not_firing():
    rule = one_rule(when="on_hand < 10", clear_when="on_hand < 100")  # overlapping on purpose
    outcome = evaluate_rule(rule, {"on_hand": 5}, ITEM)
    assert (outcome.firing, outcome.clear) == (True, False)


def test_the_hysteresis_band_neither_fires_nor_clears():
    rule = one_rule(when="on_hand < 10", clear_when="on_hand >= 20")
    states = [evaluate_rule(rule, {"on_hand": x}, ITEM) for x in (9, 15, 20)]
    assert [(o.firing, o.clear) for o in states] == [(True, False), (False, False), (False, True)]


def test_missing_data_neither_fires_nor_clears_with_the_default_clear():
    rule = one_rule(severity={"warning": "on_hand < 10", "critical": "on_hand < 5"})
    outcome = evaluate_rule(rule, {}, ITEM)
    assert (outcome.firing, outcome.clear, outcome.severity) == (False, False, None)
    assert evaluate_rule(rule, {"on_hand": 50}, ITEM).clear is True


def test_the_outcome_carries_the_numbers_and_the_deciding_condition():
    rule = one_rule(
        params={"share": 0.5},
        severity={
            "warning": "projected_stockout_days <= lead_time_days",
            "critical": "projected_stockout_days <= lead_time_days * $share",
        },
        labels={"owner": "buyer"},
        **{"for": "1h"},
    )
    outcome = evaluate_rule(rule, {"projected_stockout_days": 3.0, "lead_time_days": 10}, ITEM)
    assert outcome.rule_id == "r" and outcome.in_scope
    assert outcome.severity == "critical"
    assert outcome.values == {"lead_time_days": 10, "projected_stockout_days": 3.0}
    assert outcome.expression == "projected_stockout_days <= lead_time_days * $share"
    assert (outcome.params, outcome.for_seconds, outcome.labels) == (
        {"share": 0.5},
        3_600,
        {"owner": "buyer"},
    )
    assert outcome.explain() == (
        "r critical: projected_stockout_days <= lead_time_days * $share "
        "(lead_time_days=10, projected_stockout_days=3, share=0.5)"
    )
    cleared = evaluate_rule(rule, {"projected_stockout_days": 30.0, "lead_time_days": 10}, ITEM)
    assert cleared.expression == (
        "not (projected_stockout_days <= lead_time_days or "
        "projected_stockout_days <= lead_time_days * $share)"
    )


@pytest.mark.parametrize(
    ("scope", "in_scope"),
    [
        ({}, True),
        ({"material_ids": ["M1", "M2"]}, True),
        ({"material_ids": ["M2"]}, False),
        ({"warehouses": ["W1"], "abc_classes": ["A", "B"]}, True),
        ({"warehouses": ["W1"], "abc_classes": ["C"]}, False),
        ({"categories": ["spares"]}, True),
        ({"categories": "spares"}, True),
    ],
)
def test_scope_limits_the_items_a_rule_applies_to(scope, in_scope):
    rule = one_rule(when="on_hand < 0", scope=scope)
    outcome = evaluate_rule(rule, {"on_hand": -1}, ITEM)
    assert (outcome.in_scope, outcome.firing) == (in_scope, in_scope)


def test_an_item_out_of_scope_clears_so_an_alert_from_an_older_scope_resolves():
    rule = one_rule(when="on_hand < 0", scope={"abc_classes": ["A"]})
    outcome = evaluate_rule(rule, {"on_hand": -1}, {**ITEM, "abc_class": None})
    assert (outcome.in_scope, outcome.firing, outcome.clear, outcome.values) == (
        False,
        False,
        True,
        {},
    )


def test_evaluate_all_keeps_file_order_and_skips_disabled_rules():
    rules = load_rules(
        rules_yaml("""
  - {id: b, description: B., when: on_hand < 0}
  - {id: paused, description: Paused., when: on_hand < 0, enabled: false}
  - {id: a, description: A., when: on_hand < 0, severity: critical}
""")
    )
    outcomes = evaluate_all(rules, {"on_hand": -1}, ITEM)
    assert [(o.rule_id, o.severity) for o in outcomes] == [("b", "warning"), ("a", "critical")]
    assert evaluate_all(list(rules.rules), {"on_hand": -1}, ITEM) == outcomes
    assert evaluate_rule(rules.rule("paused"), {"on_hand": -1}, ITEM).in_scope is False


# --- what the alert lifecycle reads -------------------------------------------------------


def test_alert_settings_give_each_enabled_rule_its_for_labels_and_repeat_interval():
    rules = load_rules(
        rules_yaml(
            """
  - {id: a, description: A., when: on_hand < 0, for: 30m, labels: {owner: buyer}}
  - {id: b, description: B., when: on_hand < 1, repeat_interval: 4h}
  - {id: c, description: C., when: on_hand < 2, enabled: false}
""",
            "defaults: {repeat_interval: 2d}",
        )
    )
    settings = rules.alert_settings()
    assert sorted(settings) == ["a", "b"]
    assert (settings["a"].for_seconds, settings["a"].labels) == (1_800, {"owner": "buyer"})
    assert settings["a"].repeat_interval_seconds == 2 * 86_400
    assert settings["b"].repeat_interval_seconds == 4 * 3_600


# --- tier hysteresis ----------------------------------------------------------------------

EPS = 0.01
TIERED = {
    "params": {"share": 0.5, "clear_share": 0.7},
    "severity": {
        "warning": "projected_stockout_days <= lead_time_days",
        "critical": {
            "when": "projected_stockout_days <= lead_time_days * $share",
            "clear_when": "projected_stockout_days > lead_time_days * $clear_share",
        },
    },
    "deescalate_after": "1d",
}


def test_a_tier_with_its_own_clear_condition_and_deescalate_after_reads_as_written():
    rule = one_rule(**TIERED)
    assert rule.deescalate_after_seconds == 86_400
    assert rule.compiled.deescalate_after_seconds == 86_400
    assert [tier for tier, _ in rule.compiled.tiers] == ["critical", "warning"]
    assert [str(c) if c else None for c in rule.compiled.tier_clears] == [
        "projected_stockout_days > lead_time_days * $clear_share",
        None,
    ]
    settings = load_rules({"version": 1, "rules": [rule]}).alert_settings()
    assert settings["r"].deescalate_after_seconds == 86_400


def test_rules_without_tier_hysteresis_de_escalate_at_once():
    rule = one_rule(severity={"warning": "on_hand < 10", "critical": "on_hand < 5"})
    assert (rule.deescalate_after_seconds, rule.compiled.tier_clears) == (0, ())


@pytest.mark.parametrize(
    ("days", "severity", "holding"),
    [
        (5 - EPS, "critical", ()),
        (5, "critical", ()),  # lead_time_days * $share: critical fires
        (5 + EPS, "warning", ("critical",)),  # band of critical: (5, 7]
        (7, "warning", ("critical",)),  # lead_time_days * $clear_share must be exceeded
        (7 + EPS, "warning", ()),  # critical has cleared
        (10, "warning", ()),
        (10 + EPS, None, ()),  # not firing, and the rule clears: nothing to keep
    ],
)
def test_a_higher_tier_holds_until_its_own_clear_condition(days, severity, holding):
    rule = one_rule(**TIERED)
    outcome = evaluate_rule(rule, {"projected_stockout_days": days, "lead_time_days": 10}, ITEM)
    assert (outcome.severity, outcome.holding) == (severity, holding)


def test_a_tier_without_its_own_clear_condition_holds_only_on_unknown_data():
    rule = one_rule(
        severity={"warning": "on_hand < 10", "critical": "on_hand < 5 and available < 0"}
    )
    facts = {"on_hand": 3}
    assert evaluate_rule(rule, {**facts, "available": None}, ITEM).holding == ("critical",)
    assert evaluate_rule(rule, {**facts, "available": 1}, ITEM).holding == ()


def test_in_the_rule_s_band_every_uncleared_tier_is_holding():
    rule = one_rule(**TIERED, clear_when="projected_stockout_days > lead_time_days * 1.1")
    outcome = evaluate_rule(rule, {"projected_stockout_days": 10.5, "lead_time_days": 10}, ITEM)
    assert (outcome.firing, outcome.clear, outcome.holding) == (False, False, ())
    outcome = evaluate_rule(rule, {"projected_stockout_days": None, "lead_time_days": 10}, ITEM)
    assert (outcome.firing, outcome.clear, outcome.holding) == (
        False,
        False,
        ("critical", "warning"),
    )


def test_the_tier_clear_condition_s_numbers_are_carried():
    rule = one_rule(
        severity={
            "warning": "on_hand < 10",
            "critical": {"when": "on_hand < 5", "clear_when": "available > 7"},
        }
    )
    assert rule.compiled.names == ("available", "on_hand")


def test_the_explanation_says_when_a_higher_tier_is_kept():
    rule = one_rule(**TIERED)
    outcome = evaluate_rule(rule, {"projected_stockout_days": 6, "lead_time_days": 10}, ITEM)
    assert outcome.explain(kept="critical").startswith("r critical (kept; warning now): ")
    assert outcome.explain(kept="warning").startswith("r warning: ")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {
                "severity": {
                    "warning": "on_hand < 9",
                    "critical": {"when": "on_hand < 5", "clear": "x"},
                }
            },
            "rule 'r': severity: critical.clear: unknown field (did you mean 'clear_when'?)",
        ),
        (
            {"severity": {"warning": "on_hand < 9", "critical": {"clear_when": "on_hand > 7"}}},
            "rule 'r': severity: critical.when: required: the condition that puts an alert at "
            "this tier",
        ),
        (
            {"severity": {"critical": {"when": "on_hand < 5", "clear_when": 7}}},
            "rule 'r': severity: critical.clear_when: expected a condition text, got 7",
        ),
        (
            {"severity": {"critical": ["on_hand < 5"]}},
            "rule 'r': severity: critical: expected a condition text or a mapping with 'when' "
            "and 'clear_when'",
        ),
        (
            {
                "severity": {
                    "warning": "on_hand < 9",
                    "critical": {"when": "on_hand < 5", "clear_when": "on_hnd > 7"},
                }
            },
            "rule 'r': severity.critical.clear_when: at col 1: unknown fact 'on_hnd' "
            "(did you mean 'on_hand'?)",
        ),
        (
            {
                "severity": {
                    "warning": "on_hand < 9",
                    "critical": {"when": "on_hand < 5", "clear_when": "on_hand"},
                }
            },
            "rule 'r': severity.critical.clear_when: must be a condition (true/false)",
        ),
        (
            {
                "severity": {
                    "warning": {"when": "on_hand < 9", "clear_when": "on_hand > 12"},
                    "critical": "on_hand < 5",
                }
            },
            "rule 'r': severity.warning.clear_when: warning is the rule's lowest tier: leaving "
            "it resolves the alert, so give this condition as the rule's clear_when",
        ),
        (
            {
                "when": "on_hand < 20",
                "severity": {"warning": {"when": "on_hand < 9", "clear_when": "on_hand > 12"}},
                "clear_when": "on_hand > 25",
            },
            None,  # valid: 'when' is the info tier, so warning is not the lowest
        ),
        (
            {"when": "on_hand < 5", "severity": "critical", "deescalate_after": "1d"},
            "rule 'r': deescalate_after: the rule has a single tier (critical), so there is "
            "nothing to de-escalate",
        ),
        (
            {
                "severity": {"warning": "on_hand < 9", "critical": "on_hand < 5"},
                "deescalate_after": "a day",
            },
            "rule 'r': deescalate_after: expected a duration like '2d'",
        ),
        (
            {"severity": {"warning": "on_hand < 9"}, "deescalate_after": "1d"},
            "rule 'r': deescalate_after: the rule has a single tier (warning)",
        ),
        (
            {"when": "on_hand < 9", "deescalate_afer": "1d"},
            "rule 'r': deescalate_afer: unknown field (did you mean 'deescalate_after'?)",
        ),
    ],
)
def test_invalid_tier_hysteresis_is_reported_by_rule_field_and_problem(fields, message):
    data = {"version": 1, "rules": [{"id": "r", "description": "A rule.", **fields}]}
    if message is None:
        load_rules(data)
        return
    with pytest.raises(RuleSpecError) as caught:
        load_rules(data)
    assert str(caught.value).startswith(message), str(caught.value)


def test_the_fingerprint_changes_with_the_tier_hysteresis():
    assert (
        one_rule(**TIERED).fingerprint
        != one_rule(**{**TIERED, "deescalate_after": "2d"}).fingerprint
    )
