"""Alert lifecycle: for, hysteresis, updates, repeats, acknowledgements, silences, inhibition."""

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from models.alerts import (
    ALERT_ACTIONS,
    MAX_CLOSED_ALERTS,
    TIER_RANK,
    Acknowledge,
    ActionOutcome,
    AlertBook,
    AlertBookError,
    AlertTransition,
    Evaluation,
    Expire,
    Inhibition,
    RuleSettings,
    Silence,
    alert_id,
    alert_key,
    values_changed,
)
from models.rules.evaluate import evaluate_rule
from models.rules.spec import builtin_rules

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SHANGHAI = timezone(timedelta(hours=8))
SCOPE = {"material_id": "M1", "warehouse_id": "W1"}
KEY = alert_key("M1", "W1", "low")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fire(
    rule: str = "low",
    severity: str = "warning",
    holding: tuple[str, ...] = (),
    **values: float | None,
) -> Evaluation:
    return Evaluation(
        rule,
        firing=True,
        severity=severity,
        values=values or {"available": 10.0},
        holding=holding,
    )


def band(rule: str = "low", holding: tuple[str, ...] = (), **values: float | None) -> Evaluation:
    return Evaluation(rule, firing=False, clear=False, values=values, holding=holding)


def clear(rule: str = "low", **values: float | None) -> Evaluation:
    return Evaluation(rule, firing=False, clear=True, values=values)


def out(rule: str = "low") -> Evaluation:
    return Evaluation(rule, in_scope=False)


def statuses(transitions: list[AlertTransition]) -> list[str]:
    return [f"{t.rule_id}:{t.status}" for t in transitions]


def silence(start: float = 0, end: float = 60, silence_id: str = "s1", **matchers: str) -> Silence:
    return Silence(
        id=silence_id,
        matchers=matchers or {"rule_id": "low"},
        starts_at=at(start),
        ends_at=at(end),
        created_by="planner",
    )


# --- raise, resolve, for, hysteresis -------------------------------------------------


def test_firing_condition_raises_once_and_clear_resolves():
    book = AlertBook(material_id="M1")
    raised = book.step([fire()], SCOPE, at(0))
    assert statuses(raised) == ["low:raised"]
    assert book.step([fire()], SCOPE, at(5)) == []
    resolved = book.step([clear(available=120.0)], SCOPE, at(10))
    assert statuses(resolved) == ["low:resolved"]
    assert resolved[0].reason == "cleared"
    assert resolved[0].values == {"available": 120.0}
    assert resolved[0].alert_id == raised[0].alert_id
    assert book.alerts == {}


def test_raised_transition_carries_the_numbers_labels_and_expression():
    book = AlertBook(material_id="M1")
    evaluation = Evaluation(
        "low",
        firing=True,
        severity="critical",
        values={"available": 3.0, "reorder_point": 40.0},
        expression="available < reorder_point",
    )
    settings_ = {"low": RuleSettings(labels={"team": "buyers"})}
    (t,) = book.step([evaluation], {**SCOPE, "category": "bearings"}, at(0), settings_)
    assert t.key == KEY and t.id == f"{t.alert_id}-0" and t.sequence == 0
    assert t.severity == "critical" and t.previous_severity is None
    assert t.values == {"available": 3.0, "reorder_point": 40.0}
    assert t.expression == "available < reorder_point"
    assert t.labels == {
        "category": "bearings",
        "team": "buyers",
        "material_id": "M1",
        "warehouse_id": "W1",
        "rule_id": "low",
        "severity": "critical",
    }
    assert t.raised_at == t.updated_at == t.active_since == t.at == at(0)
    assert t.notify


def test_the_material_masters_owner_wins_over_the_owner_role_the_rule_names():
    firing = Evaluation("low", firing=True, severity="warning", values={"available": 3.0})
    settings_ = {"low": RuleSettings(labels={"owner": "buyer", "team": "buyers"})}
    (owned,) = AlertBook(material_id="M1").step(
        [firing], {**SCOPE, "owner": "li.na"}, at(0), settings_
    )
    (unowned,) = AlertBook(material_id="M1").step([firing], SCOPE, at(0), settings_)
    assert (owned.labels["owner"], owned.labels["team"]) == ("li.na", "buyers")
    assert unowned.labels["owner"] == "buyer"


def test_for_duration_waits_then_raises_with_the_time_the_condition_began():
    book = AlertBook(material_id="M1")
    wait = {"low": RuleSettings(for_seconds=600)}
    assert book.step([fire()], SCOPE, at(0), wait) == []
    assert book.pending == {KEY: at(0)}
    assert book.step([fire()], SCOPE, at(9), wait) == []
    (t,) = book.step([fire()], SCOPE, at(10), wait)
    assert t.status == "raised"
    assert t.active_since == at(0) and t.raised_at == at(10)
    assert book.pending == {}


def test_condition_false_in_between_restarts_the_for_wait():
    book = AlertBook(material_id="M1")
    wait = {"low": RuleSettings(for_seconds=600)}
    book.step([fire()], SCOPE, at(0), wait)
    book.step([band()], SCOPE, at(5), wait)
    assert book.pending == {}
    assert book.step([fire()], SCOPE, at(10), wait) == []
    assert book.step([fire()], SCOPE, at(19), wait) == []
    assert statuses(book.step([fire()], SCOPE, at(20), wait)) == ["low:raised"]


def test_out_of_scope_resolves_the_open_alert_and_forgets_pending():
    book = AlertBook(material_id="M1")
    wait = {"low": RuleSettings(), "slow": RuleSettings(for_seconds=600)}
    book.step([fire(), fire("slow")], SCOPE, at(0), wait)
    assert set(book.pending) == {alert_key("M1", "W1", "slow")}
    (t,) = book.step([out(), out("slow")], SCOPE, at(1), wait)
    assert (t.status, t.reason) == ("resolved", "out_of_scope")
    assert book.alerts == {} and book.pending == {}


def test_value_in_hysteresis_band_keeps_the_alert_open_without_transitions():
    book = AlertBook(material_id="M1")
    repeat = {"low": RuleSettings(repeat_interval_seconds=60)}
    book.step([fire(available=5.0)], SCOPE, at(0), repeat)
    before = book.model_copy(deep=True)
    for minute, available in enumerate([80.0, 95.0, 60.0, 99.0], start=1):
        assert book.step([band(available=available)], SCOPE, at(minute * 30), repeat) == []
    assert book == before
    assert statuses(book.step([clear(available=130.0)], SCOPE, at(200), repeat)) == ["low:resolved"]


def test_a_rule_without_clear_condition_resolves_when_it_stops_firing():
    book = AlertBook(material_id="M1")
    book.step([fire()], SCOPE, at(0))
    assert statuses(book.step([Evaluation("low", firing=False)], SCOPE, at(1))) == ["low:resolved"]


# --- tier hysteresis ------------------------------------------------------------------

DAY_MINUTES = 24 * 60
ONE_DAY = {"low": RuleSettings(deescalate_after_seconds=86_400)}


def severities(transitions: list[AlertTransition]) -> list[str]:
    return [f"{t.status}:{t.previous_severity}->{t.severity}" for t in transitions]


def test_escalation_is_immediate_even_with_deescalate_after():
    book = AlertBook(material_id="M1")
    book.step([fire(severity="info")], SCOPE, at(0), ONE_DAY)
    assert severities(book.step([fire(severity="critical")], SCOPE, at(1), ONE_DAY)) == [
        "updated:info->critical"
    ]


def test_a_higher_tier_in_its_band_is_kept_without_transitions():
    book = AlertBook(material_id="M1")
    book.step([fire(severity="critical")], SCOPE, at(0))
    for minute in range(1, 10):
        assert book.step([fire(severity="warning", holding=("critical",))], SCOPE, at(minute)) == []
    assert book.alerts[KEY].severity == "critical"


def test_a_higher_tier_that_cleared_de_escalates_at_once_by_default():
    book = AlertBook(material_id="M1")
    book.step([fire(severity="critical")], SCOPE, at(0))
    (t,) = book.step([fire(severity="warning")], SCOPE, at(1))
    assert (t.status, t.reason, t.previous_severity, t.severity) == (
        "updated",
        "severity",
        "critical",
        "warning",
    )


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        (DAY_MINUTES - 1, []),  # just below deescalate_after
        (DAY_MINUTES, ["updated:critical->warning"]),  # at it
        (DAY_MINUTES + 1, ["updated:critical->warning"]),  # just above it
    ],
)
def test_deescalate_after_waits_for_the_tier_to_stay_clear_that_long(minutes, expected):
    book = AlertBook(material_id="M1")
    book.step([fire(severity="critical")], SCOPE, at(0), ONE_DAY)
    assert book.step([fire(severity="warning")], SCOPE, at(60), ONE_DAY) == []
    assert book.alerts[KEY].deescalating_since == at(60)
    assert severities(book.step([fire(severity="warning")], SCOPE, at(60 + minutes), ONE_DAY)) == (
        expected
    )


@pytest.mark.parametrize(
    "interruption",
    [
        fire(severity="critical"),  # the higher tier fires again
        fire(severity="warning", holding=("critical",)),  # back in the higher tier's band
        band(holding=("critical",)),  # the rule's band, the higher tier not cleared
    ],
    ids=["fires", "tier band", "rule band"],
)
def test_an_evaluation_where_the_tier_has_not_cleared_restarts_the_wait(interruption):
    book = AlertBook(material_id="M1")
    book.step([fire(severity="critical")], SCOPE, at(0), ONE_DAY)
    book.step([fire(severity="warning")], SCOPE, at(10), ONE_DAY)
    assert book.step([interruption], SCOPE, at(600), ONE_DAY) == []
    assert book.alerts[KEY].deescalating_since is None
    book.step([fire(severity="warning")], SCOPE, at(700), ONE_DAY)
    assert book.step([fire(severity="warning")], SCOPE, at(10 + DAY_MINUTES), ONE_DAY) == []
    assert severities(
        book.step([fire(severity="warning")], SCOPE, at(700 + DAY_MINUTES), ONE_DAY)
    ) == ["updated:critical->warning"]


def test_the_rule_s_band_with_the_tier_cleared_keeps_the_clock_but_never_de_escalates():
    book = AlertBook(material_id="M1")
    book.step([fire(severity="critical")], SCOPE, at(0), ONE_DAY)
    book.step([fire(severity="warning")], SCOPE, at(10), ONE_DAY)
    assert book.step([band()], SCOPE, at(10 + 2 * DAY_MINUTES), ONE_DAY) == []
    assert book.alerts[KEY].severity == "critical"
    assert severities(
        book.step([fire(severity="warning")], SCOPE, at(11 + 2 * DAY_MINUTES), ONE_DAY)
    ) == ["updated:critical->warning"]


def test_de_escalation_stops_at_the_highest_lower_tier_still_holding():
    book = AlertBook(material_id="M1")
    book.step([fire(severity="critical")], SCOPE, at(0))
    (t,) = book.step([fire(severity="info", holding=("warning",))], SCOPE, at(1))
    assert (t.previous_severity, t.severity) == ("critical", "warning")
    (t,) = book.step([fire(severity="info")], SCOPE, at(2))
    assert (t.previous_severity, t.severity) == ("warning", "info")


def test_resolution_is_not_delayed_by_deescalate_after():
    book = AlertBook(material_id="M1")
    book.step([fire(severity="critical")], SCOPE, at(0), ONE_DAY)
    book.step([fire(severity="warning")], SCOPE, at(1), ONE_DAY)
    assert statuses(book.step([clear()], SCOPE, at(2), ONE_DAY)) == ["low:resolved"]


def test_a_kept_tier_is_still_repeated_at_its_interval():
    settings_ = {"low": RuleSettings(repeat_interval_seconds=3600, deescalate_after_seconds=86_400)}
    book = AlertBook(material_id="M1")
    book.step([fire(severity="critical")], SCOPE, at(0), settings_)
    (t,) = book.step([fire(severity="warning")], SCOPE, at(60), settings_)
    assert (t.status, t.severity) == ("repeated", "critical")


def test_the_de_escalation_clock_survives_a_json_round_trip():
    book = AlertBook(material_id="M1")
    book.step([fire(severity="critical")], SCOPE, at(0), ONE_DAY)
    book.step([fire(severity="warning")], SCOPE, at(60), ONE_DAY)
    stored = book.model_dump_json()
    assert '"deescalating_since"' in stored
    book = AlertBook.model_validate_json(stored)
    assert book.alerts[KEY].deescalating_since == at(60)
    assert severities(
        book.step([fire(severity="warning")], SCOPE, at(60 + DAY_MINUTES), ONE_DAY)
    ) == ["updated:critical->warning"]
    assert "deescalating_since" not in book.model_dump_json()


def test_deescalate_after_must_not_be_negative():
    with pytest.raises(ValidationError):
        RuleSettings(deescalate_after_seconds=-1)


# --- updates and repeats -------------------------------------------------------------


def test_severity_escalation_is_an_update_with_previous_severity():
    book = AlertBook(material_id="M1")
    (raised,) = book.step([fire(severity="warning")], SCOPE, at(0))
    (t,) = book.step([fire(severity="critical")], SCOPE, at(5))
    assert (t.status, t.reason) == ("updated", "severity")
    assert (t.previous_severity, t.severity) == ("warning", "critical")
    assert t.alert_id == raised.alert_id and t.sequence == 1
    assert t.updated_at == at(5) and t.raised_at == at(0)
    assert book.alerts[KEY].severity == "critical"


def test_value_jitter_below_ten_percent_is_not_an_update():
    book = AlertBook(material_id="M1")
    book.step([fire(available=100.0)], SCOPE, at(0))
    for minute, available in enumerate([100.000001, 95.0, 109.9, 91.0], start=1):
        assert book.step([fire(available=available)], SCOPE, at(minute)) == []


def test_slow_drift_is_reported_once_it_adds_up_to_ten_percent():
    book = AlertBook(material_id="M1")
    book.step([fire(available=100.0)], SCOPE, at(0))
    assert book.step([fire(available=95.0)], SCOPE, at(1)) == []
    (t,) = book.step([fire(available=89.0)], SCOPE, at(2))
    assert (t.status, t.reason, t.values) == ("updated", "values", {"available": 89.0})
    assert book.alerts[KEY].values == {"available": 89.0}


def test_update_on_limits_which_numbers_make_an_update():
    book = AlertBook(material_id="M1")
    only_available = {"low": RuleSettings(update_on=("available",))}
    book.step([fire(available=10.0, forecast=5.0)], SCOPE, at(0), only_available)
    assert book.step([fire(available=10.0, forecast=50.0)], SCOPE, at(1), only_available) == []
    assert statuses(
        book.step([fire(available=20.0, forecast=50.0)], SCOPE, at(2), only_available)
    ) == ["low:updated"]


def test_values_changed_treats_appearing_numbers_and_infinities_as_material():
    assert values_changed({"cover": None}, {"cover": 3.0})
    assert values_changed({}, {"cover": 3.0})
    assert values_changed({"cover": math.inf}, {"cover": 3.0})
    assert not values_changed({"cover": math.inf}, {"cover": math.inf})
    assert not values_changed({"cover": math.nan}, {"cover": math.nan})
    assert values_changed({"cover": math.nan}, {"cover": 1.0})


def test_repeat_interval_repeats_a_still_firing_alert():
    book = AlertBook(material_id="M1")
    hourly = {"low": RuleSettings(repeat_interval_seconds=3600)}
    book.step([fire()], SCOPE, at(0), hourly)
    assert book.step([fire()], SCOPE, at(59), hourly) == []
    (t,) = book.step([fire()], SCOPE, at(60), hourly)
    assert (t.status, t.reason, t.sequence) == ("repeated", "repeat_interval", 1)
    assert book.step([fire()], SCOPE, at(90), hourly) == []
    assert statuses(book.step([fire()], SCOPE, at(120), hourly)) == ["low:repeated"]


def test_an_update_restarts_the_repeat_interval():
    book = AlertBook(material_id="M1")
    hourly = {"low": RuleSettings(repeat_interval_seconds=3600)}
    book.step([fire(severity="warning")], SCOPE, at(0), hourly)
    book.step([fire(severity="critical")], SCOPE, at(30), hourly)
    assert book.step([fire(severity="critical")], SCOPE, at(60), hourly) == []
    assert statuses(book.step([fire(severity="critical")], SCOPE, at(90), hourly)) == [
        "low:repeated"
    ]


# --- acknowledgements ---------------------------------------------------------------


def test_acknowledged_alert_is_not_repeated_until_its_severity_changes():
    book = AlertBook(material_id="M1")
    hourly = {"low": RuleSettings(repeat_interval_seconds=3600)}
    (raised,) = book.step([fire()], SCOPE, at(0), hourly)
    ack = Acknowledge(alert_key=KEY, alert_id=raised.alert_id, by="lin", at=at(10))
    assert book.apply(ack) == ActionOutcome.APPLIED
    assert book.apply(ack) == ActionOutcome.DUPLICATE
    (acked,) = book.step([fire()], SCOPE, at(60), hourly)
    assert (acked.status, acked.reason, acked.notify) == ("updated", "acknowledged", False)
    assert book.step([fire()], SCOPE, at(120), hourly) == []
    (t,) = book.step([fire(severity="critical")], SCOPE, at(130), hourly)
    assert t.status == "updated" and t.acknowledged_by is None
    assert statuses(book.step([fire(severity="critical")], SCOPE, at(190), hourly)) == [
        "low:repeated"
    ]


def test_acknowledgement_of_a_previous_alert_under_the_same_key_is_ignored():
    book = AlertBook(material_id="M1")
    (first,) = book.step([fire()], SCOPE, at(0))
    book.step([clear()], SCOPE, at(5))
    book.step([fire()], SCOPE, at(10))
    stale = Acknowledge(alert_key=KEY, alert_id=first.alert_id, by="lin", at=at(11))
    too_early = Acknowledge(alert_key=KEY, by="lin", at=at(3))
    unknown = Acknowledge(alert_key="M1|W9|low", by="lin", at=at(11))
    assert [book.apply(a) for a in (stale, too_early, unknown)] == [ActionOutcome.IGNORED] * 3
    assert book.alerts[KEY].acknowledged_by is None


# --- silences -----------------------------------------------------------------------


def test_silenced_alert_is_tracked_and_reappears_when_the_silence_ends():
    book = AlertBook(material_id="M1")
    assert book.apply(silence(0, 60)) == ActionOutcome.APPLIED
    (raised,) = book.step([fire(severity="warning")], SCOPE, at(0))
    assert raised.status == "raised" and raised.silenced and not raised.notify
    assert raised.silence_ids == ("s1",)
    (updated,) = book.step([fire(severity="critical")], SCOPE, at(30))
    assert updated.status == "updated" and updated.silenced
    (back,) = book.step([fire(severity="critical")], SCOPE, at(60))
    assert (back.status, back.reason, back.notify) == ("repeated", "unsuppressed", True)
    assert back.alert_id == raised.alert_id
    assert book.silences == {}
    assert book.step([fire(severity="critical")], SCOPE, at(61)) == []


def test_silence_ending_while_the_value_is_in_the_band_brings_the_open_alert_back():
    book = AlertBook(material_id="M1")
    book.apply(silence(0, 60))
    book.step([fire()], SCOPE, at(0))
    (back,) = book.step([band(available=10.0)], SCOPE, at(70))
    assert (back.status, back.reason, back.notify) == ("repeated", "unsuppressed", True)
    assert book.step([fire()], SCOPE, at(80)) == []


def test_silence_that_never_muted_a_notified_alert_does_not_repeat_it():
    book = AlertBook(material_id="M1")
    book.apply(silence(100, 160))
    assert book.step([fire()], SCOPE, at(0))[0].notify
    assert book.step([fire()], SCOPE, at(50)) == []
    assert book.step([fire()], SCOPE, at(170)) == []


def test_alert_notified_then_silenced_is_repeated_when_the_silence_ends():
    book = AlertBook(material_id="M1")
    book.step([fire()], SCOPE, at(0))
    book.apply(silence(10, 20))
    assert statuses(book.step([fire()], SCOPE, at(15))) == ["low:updated"]
    assert statuses(book.step([fire()], SCOPE, at(20))) == ["low:repeated"]


def test_expire_ends_a_silence_early():
    book = AlertBook(material_id="M1")
    book.apply(silence(0, 600))
    book.step([fire()], SCOPE, at(0))
    assert book.apply(Expire(silence_id="s1", at=at(30))) == ActionOutcome.APPLIED
    assert book.apply(Expire(silence_id="s1", at=at(40))) == ActionOutcome.DUPLICATE
    assert book.apply(Expire(silence_id="nope", at=at(40))) == ActionOutcome.IGNORED
    assert book.step([fire()], SCOPE, at(29)) == []
    (back,) = book.step([fire()], SCOPE, at(30))
    assert back.reason == "unsuppressed" and back.notify


def test_expire_before_the_silence_starts_removes_it():
    book = AlertBook(material_id="M1")
    book.apply(silence(60, 120))
    assert book.apply(Expire(silence_id="s1", at=at(10))) == ActionOutcome.APPLIED
    assert book.silences == {}


def test_silence_matches_labels_exactly_including_severity():
    book = AlertBook(material_id="M1")
    book.apply(silence(0, 600, severity="info", warehouse_id="W1"))
    assert book.step([fire(severity="info")], SCOPE, at(0))[0].silenced
    (t,) = book.step([fire(severity="critical")], SCOPE, at(1))
    assert t.status == "updated" and not t.silenced


def test_silence_for_another_material_is_ignored_by_this_book():
    book = AlertBook(material_id="M1")
    assert book.apply(silence(material_id="M2")) == ActionOutcome.IGNORED
    assert book.silences == {}


def test_silences_held_by_the_caller_mute_too():
    book = AlertBook(material_id="M1")
    (t,) = book.step([fire()], SCOPE, at(0), silences=[silence(0, 60)])
    assert t.silenced and t.silence_ids == ("s1",)
    assert book.silences == {}


def test_resolved_alert_while_silenced_is_marked_silenced():
    book = AlertBook(material_id="M1")
    book.apply(silence(0, 60))
    book.step([fire()], SCOPE, at(0))
    (t,) = book.step([clear()], SCOPE, at(10))
    assert t.status == "resolved" and t.silenced


# --- inhibition ---------------------------------------------------------------------


STOCKOUT_INHIBITS_LOW = [Inhibition(source="stockout", target="low")]


def test_stockout_inhibits_below_safety_stock_until_it_resolves():
    book = AlertBook(material_id="M1")
    inh = STOCKOUT_INHIBITS_LOW
    first = book.step([fire("stockout"), fire("low")], SCOPE, at(0), inhibitions=inh)
    assert statuses(first) == ["stockout:raised", "low:raised"]
    assert first[0].notify and first[1].inhibited
    assert first[1].inhibited_by == (alert_key("M1", "W1", "stockout"),)
    assert book.step([fire("stockout"), fire("low")], SCOPE, at(5), inhibitions=inh) == []
    back = book.step([clear("stockout"), fire("low")], SCOPE, at(10), inhibitions=inh)
    assert statuses(back) == ["stockout:resolved", "low:repeated"]
    assert back[1].reason == "unsuppressed" and back[1].notify


def test_inhibition_is_decided_after_the_whole_step_whatever_the_order():
    book = AlertBook(material_id="M1")
    ts = book.step([fire("low"), fire("stockout")], SCOPE, at(0), inhibitions=STOCKOUT_INHIBITS_LOW)
    assert [t.inhibited for t in ts] == [True, False]


def test_inhibition_needs_equal_labels():
    book = AlertBook(material_id="M1")
    inh = STOCKOUT_INHIBITS_LOW
    book.step([fire("stockout")], {"material_id": "M1", "warehouse_id": "W2"}, at(0))
    (t,) = book.step([fire("low")], SCOPE, at(1), inhibitions=inh)
    assert not t.inhibited
    across = [Inhibition(source="stockout", target="low", equal=("material_id",))]
    (t,) = book.step([fire("low")], {**SCOPE, "warehouse_id": "W3"}, at(2), inhibitions=across)
    assert t.inhibited


def test_pending_source_does_not_inhibit():
    book = AlertBook(material_id="M1")
    wait = {"stockout": RuleSettings(for_seconds=600)}
    ts = book.step(
        [fire("stockout"), fire("low")], SCOPE, at(0), wait, inhibitions=STOCKOUT_INHIBITS_LOW
    )
    assert statuses(ts) == ["low:raised"] and ts[0].notify


def test_a_milder_source_does_not_inhibit_a_worse_target():
    book = AlertBook(material_id="M1")
    inh = STOCKOUT_INHIBITS_LOW
    ts = book.step(
        [fire("stockout", "warning"), fire("low", "critical")], SCOPE, at(0), inhibitions=inh
    )
    assert [(t.rule_id, t.inhibited, t.notify) for t in ts] == [
        ("stockout", False, True),
        ("low", False, True),
    ]
    assert not book.alerts[KEY].inhibited


def test_an_equally_severe_source_inhibits_its_target():
    book = AlertBook(material_id="M1")
    ts = book.step(
        [fire("stockout", "critical"), fire("low", "critical")],
        SCOPE,
        at(0),
        inhibitions=STOCKOUT_INHIBITS_LOW,
    )
    assert ts[1].inhibited and not ts[1].notify


def test_a_target_that_escalates_past_its_source_is_released_and_notifies():
    book = AlertBook(material_id="M1")
    inh = STOCKOUT_INHIBITS_LOW
    first = book.step([fire("stockout"), fire("low")], SCOPE, at(0), inhibitions=inh)
    assert first[1].inhibited
    (worse,) = book.step([fire("stockout"), fire("low", "critical")], SCOPE, at(5), inhibitions=inh)
    assert (worse.status, worse.reason, worse.severity) == ("updated", "severity", "critical")
    assert (worse.inhibited, worse.inhibited_by, worse.notify) == (False, (), True)
    assert not book.alerts[KEY].inhibited


def test_a_source_that_de_escalates_below_its_target_releases_it_as_unsuppressed():
    book = AlertBook(material_id="M1")
    inh = STOCKOUT_INHIBITS_LOW
    both_critical = [fire("stockout", "critical"), fire("low", "critical")]
    book.step(both_critical, SCOPE, at(0), inhibitions=inh)
    milder, back = book.step(
        [fire("stockout", "warning"), fire("low", "critical")], SCOPE, at(5), inhibitions=inh
    )
    assert (milder.rule_id, milder.severity) == ("stockout", "warning")
    assert (back.status, back.reason, back.inhibited, back.notify) == (
        "repeated",
        "unsuppressed",
        False,
        True,
    )


def test_a_target_that_de_escalates_to_its_source_severity_is_inhibited_again():
    book = AlertBook(material_id="M1")
    inh = STOCKOUT_INHIBITS_LOW
    book.step([fire("stockout"), fire("low", "critical")], SCOPE, at(0), inhibitions=inh)
    (milder,) = book.step([fire("stockout"), fire("low")], SCOPE, at(5), inhibitions=inh)
    assert (milder.status, milder.severity, milder.inhibited, milder.notify) == (
        "updated",
        "warning",
        True,
        False,
    )


# --- ids, rules reload, errors, serialisation ----------------------------------------


def test_ids_are_deterministic_and_new_for_every_raise():
    assert alert_id(KEY, at(0), 0) == alert_id(KEY, at(0).astimezone(SHANGHAI), 0)
    book = AlertBook(material_id="M1")
    (first,) = book.step([fire()], SCOPE, at(0))
    book.step([clear()], SCOPE, at(1))
    (second,) = book.step([fire()], SCOPE, at(2))
    assert first.alert_id == alert_id(KEY, at(0), 0)
    assert second.alert_id == alert_id(KEY, at(2), 1) != first.alert_id
    assert len(first.alert_id) == 16


def test_event_time_in_another_timezone_gives_the_same_transitions():
    book_utc, book_local = AlertBook(material_id="M1"), AlertBook(material_id="M1")
    utc = book_utc.step([fire()], SCOPE, at(0))
    local = book_local.step([fire()], SCOPE, at(0).astimezone(SHANGHAI))
    assert utc == local


def test_retire_rules_resolves_alerts_of_removed_rules():
    book = AlertBook(material_id="M1")
    wait = {"slow": RuleSettings(for_seconds=600)}
    book.step([fire("low"), fire("gone"), fire("slow")], SCOPE, at(0), wait)
    ts = book.retire_rules({"low"}, at(5))
    assert [(t.rule_id, t.status, t.reason) for t in ts] == [("gone", "resolved", "rule_removed")]
    assert set(book.alerts) == {KEY} and book.pending == {}


def test_scope_of_another_material_is_rejected():
    with pytest.raises(AlertBookError, match="book is 'M1'"):
        AlertBook(material_id="M1").step([fire()], {**SCOPE, "material_id": "M2"}, at(0))


def test_naive_event_time_is_rejected():
    with pytest.raises(AlertBookError, match="no timezone"):
        AlertBook(material_id="M1").step([fire()], SCOPE, datetime(2026, 3, 1))


def test_two_evaluations_of_one_rule_in_a_step_are_rejected():
    with pytest.raises(AlertBookError, match="evaluated twice"):
        AlertBook(material_id="M1").step([fire(), clear()], SCOPE, at(0))


def test_actions_decode_from_json():
    raw = (
        b'{"kind":"silence","id":"s9","matchers":{"warehouse_id":"W1"},'
        b'"starts_at":"2026-03-01T08:00:00+08:00","ends_at":"2026-03-02T00:00:00Z",'
        b'"created_by":"lin","comment":"stock take"}'
    )
    action = ALERT_ACTIONS.validate_json(raw)
    assert isinstance(action, Silence) and action.starts_at == at(0)
    ack = ALERT_ACTIONS.validate_json(
        b'{"kind":"acknowledge","alert_key":"M1|W1|low","by":"lin","at":"2026-03-01T00:00:00Z"}'
    )
    assert isinstance(ack, Acknowledge)
    expire = ALERT_ACTIONS.validate_json(
        b'{"kind":"expire","silence_id":"s9","at":"2026-03-01T00:00:00Z"}'
    )
    assert isinstance(expire, Expire)


def test_silence_must_end_after_it_starts_and_match_something():
    with pytest.raises(ValidationError, match="must be after"):
        silence(10, 10)
    with pytest.raises(ValidationError):
        Silence(id="s", matchers={}, starts_at=at(0), ends_at=at(1), created_by="lin")


def test_book_json_round_trip_keeps_open_alerts_and_infinite_values():
    book = AlertBook(material_id="M1")
    book.apply(silence(0, 600, silence_id="s2", warehouse_id="W2"))
    book.step([fire(days_of_cover=math.inf, available=0.0)], SCOPE, at(0))
    book.step([fire("slow")], SCOPE, at(0), {"slow": RuleSettings(for_seconds=60)})
    raw = book.model_dump_json()
    restored = AlertBook.model_validate_json(raw)
    assert restored == book
    assert restored.alerts[KEY].values["days_of_cover"] == math.inf


def test_stored_alert_leaves_out_defaults_and_times_equal_to_raised_at():
    book = AlertBook(material_id="M1")
    book.step([fire(available=1.0)], SCOPE, at(0))
    raw = book.model_dump_json()
    for left_out in ("updated_at", "last_notified_at", "active_since", "acknowledged", "pending"):
        assert left_out not in raw
    assert len(raw) < 300
    book.step([fire(severity="critical", available=1.0)], SCOPE, at(5))
    assert "updated_at" in book.model_dump_json()
    assert AlertBook.model_validate_json(book.model_dump_json()) == book


def test_transition_serialises_to_json():
    (t,) = AlertBook(material_id="M1").step([fire(cover=math.inf)], SCOPE, at(0))
    assert AlertTransition.model_validate_json(t.model_dump_json()) == t


# --- properties ---------------------------------------------------------------------

RULES = ("a", "b", "c")
WAREHOUSES = ("W1", "W2")
KINDS = ("fire", "fire", "band", "clear", "out")
SEVERITIES = ("info", "warning", "critical")
NUMBERS = (0.0, 10.0, 10.5, 12.0, 50.0, math.inf, None)

HOLDING = ((), (), ("critical",), ("critical", "warning"))
evaluation_st = st.tuples(
    st.sampled_from(KINDS),
    st.sampled_from(SEVERITIES),
    st.sampled_from(NUMBERS),
    st.sampled_from(HOLDING),
)
step_st = st.tuples(
    st.integers(0, 90),  # minutes since the previous step
    st.sampled_from(WAREHOUSES),
    st.fixed_dictionaries({rule: evaluation_st for rule in RULES}),
    st.booleans(),  # acknowledge every open alert before this step
)
settings_st = st.fixed_dictionaries(
    {
        rule: st.builds(
            RuleSettings,
            for_seconds=st.sampled_from([0.0, 600.0, 1800.0]),
            repeat_interval_seconds=st.sampled_from([None, 3600.0]),
            deescalate_after_seconds=st.sampled_from([0.0, 0.0, 1800.0]),
        )
        for rule in RULES
    }
)


def evaluation(rule: str, spec: tuple) -> Evaluation:
    kind, severity, number, *rest = spec
    values = {"x": number}
    holding = tuple(tier for tier in (rest[0] if rest else ()) if tier != severity)
    match kind:
        case "fire":
            return Evaluation(rule, firing=True, severity=severity, values=values, holding=holding)
        case "band":
            return Evaluation(rule, firing=False, clear=False, values=values, holding=holding)
        case "clear":
            return Evaluation(rule, firing=False, clear=True, values=values)
    return Evaluation(rule, in_scope=False)


def run(
    steps,
    rules_settings,
    inhibitions=(),
    silences=(),
    acknowledge=True,
    restart_every_step=False,
    check=None,
):
    """Drive a fresh book through ``steps``; returns the transitions of every step."""
    book = AlertBook(material_id="M1")
    for s in silences:
        book.apply(s)
    now, out_ = T0, []
    for minutes, warehouse, specs, ack in steps:
        now += timedelta(minutes=minutes)
        if acknowledge and ack:
            for key, alert in book.alerts.items():
                book.apply(Acknowledge(alert_key=key, by="lin", at=max(now, alert.raised_at)))
        if restart_every_step:
            book = AlertBook.model_validate_json(book.model_dump_json())
        evaluations = [evaluation(rule, spec) for rule, spec in specs.items()]
        scope = {"material_id": "M1", "warehouse_id": warehouse}
        transitions = book.step(evaluations, scope, now, rules_settings, inhibitions)
        if check is not None:
            check(book, now, warehouse, specs, transitions)
        out_.append(transitions)
    return book, out_


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(step_st, max_size=40), rules_settings=settings_st)
def test_lifecycle_keeps_one_open_alert_per_key_and_alternates_raised_and_resolved(
    steps, rules_settings
):
    open_ids: dict[str, str] = {}
    last_sequence: dict[str, int] = {}
    inhibitions = [Inhibition(source="a", target="b")]
    silences = [
        Silence(
            id="s", matchers={"rule_id": "c"}, starts_at=at(60), ends_at=at(600), created_by="lin"
        )
    ]

    def check(book, now, warehouse, specs, transitions):
        assert len({t.key for t in transitions}) == len(transitions)
        for t in transitions:
            if t.status == "raised":
                assert t.key not in open_ids, "raised twice without a resolved between"
                assert t.sequence == 0
                open_ids[t.key] = t.alert_id
            else:
                assert open_ids.get(t.key) == t.alert_id, f"{t.status} of an alert not open"
                assert t.sequence == last_sequence[t.alert_id] + 1
                if t.status == "resolved":
                    del open_ids[t.key]
            last_sequence[t.alert_id] = t.sequence
            assert t.id == f"{t.alert_id}-{t.sequence}"
        assert {k: a.id for k, a in book.alerts.items()} == open_ids
        assert not set(book.pending) & set(book.alerts)

    run(steps, rules_settings, inhibitions, silences, check=check)


@settings(max_examples=200, deadline=None)
@given(
    severity=st.sampled_from(SEVERITIES),
    band_steps=st.lists(
        st.tuples(st.integers(0, 600), st.sampled_from(NUMBERS), st.sampled_from(SEVERITIES)),
        max_size=30,
    ),
)
def test_value_oscillating_in_the_hysteresis_band_produces_no_transitions(severity, band_steps):
    book = AlertBook(material_id="M1")
    repeat = {"low": RuleSettings(repeat_interval_seconds=60)}
    book.step([fire(severity=severity)], SCOPE, at(0), repeat)
    now = at(0)
    for minutes, number, band_severity in band_steps:
        now += timedelta(minutes=minutes)
        in_band = Evaluation(
            "low", firing=False, clear=False, severity=band_severity, values={"available": number}
        )
        assert book.step([in_band], SCOPE, now, repeat) == []
    assert KEY in book.alerts


# Mostly steady numbers and severity, so that a suppressed alert often has nothing to
# update when its suppression ends: only the reappearance can make it visible again.
steady_evaluation_st = st.tuples(
    st.sampled_from(("fire", "fire", "fire", "band", "clear", "out")),
    st.sampled_from(("warning", "warning", "warning", "critical")),
    st.sampled_from((10.0, 10.5, 10.0, 50.0)),
)
steady_settings_st = st.fixed_dictionaries(
    {
        rule: st.builds(
            RuleSettings,
            for_seconds=st.sampled_from([0.0, 0.0, 600.0]),
            repeat_interval_seconds=st.sampled_from([None, None, 3600.0]),
        )
        for rule in RULES
    }
)
single_warehouse_step_st = st.tuples(
    st.integers(0, 90),
    st.just("W1"),
    st.fixed_dictionaries({r: steady_evaluation_st for r in RULES}),
    st.just(False),
)


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(single_warehouse_step_st, max_size=40),
    rules_settings=steady_settings_st,
    window=st.tuples(st.integers(0, 1200), st.integers(1, 1200)),
)
def test_silenced_alert_is_never_notified_while_silenced_and_reappears_after(
    steps, rules_settings, window
):
    start, length = window
    muting = Silence(
        id="s",
        matchers={"rule_id": "a"},
        starts_at=at(start),
        ends_at=at(start + length),
        created_by="lin",
    )
    key_a = alert_key("M1", "W1", "a")
    hidden = False

    def check(book, now, warehouse, specs, transitions):
        nonlocal hidden
        muted = muting.starts_at <= now < muting.ends_at
        mine = [t for t in transitions if t.rule_id == "a"]
        for t in mine:
            assert t.silenced == muted
        is_open = key_a in book.alerts
        if is_open and hidden and not muted:
            assert mine and mine[0].notify and mine[0].status != "raised"
        if is_open and muted and not hidden:
            assert mine and mine[0].silenced and not mine[0].notify
        hidden = is_open and muted

    run(steps, rules_settings, silences=[muting], acknowledge=False, check=check)


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(single_warehouse_step_st, max_size=40), rules_settings=steady_settings_st)
def test_inhibited_alert_is_never_notified_while_an_as_severe_source_is_open_and_reappears_after(
    steps, rules_settings
):
    key_a, key_b = alert_key("M1", "W1", "a"), alert_key("M1", "W1", "b")
    hidden = False

    def check(book, now, warehouse, specs, transitions):
        nonlocal hidden
        source, target = book.alerts.get(key_a), book.alerts.get(key_b)

        def inhibited(severity: str) -> bool:
            return source is not None and TIER_RANK[source.severity] >= TIER_RANK[severity]

        mine = [t for t in transitions if t.rule_id == "b"]
        for t in mine:
            assert t.inhibited == inhibited(t.severity)
            assert t.inhibited_by == ((key_a,) if inhibited(t.severity) else ())
        is_open = target is not None
        inhibiting = is_open and inhibited(target.severity)
        if is_open and hidden and not inhibiting:
            assert mine and mine[0].notify and mine[0].status != "raised"
        if is_open and inhibiting and not hidden:
            assert mine and mine[0].inhibited and not mine[0].notify
        hidden = is_open and inhibiting

    inhibitions = [Inhibition(source="a", target="b")]
    run(steps, rules_settings, inhibitions, acknowledge=False, check=check)


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(step_st, max_size=40), rules_settings=settings_st)
def test_an_inhibited_alert_is_never_more_severe_than_its_inhibiting_source(steps, rules_settings):
    inhibitions = [
        Inhibition(source="a", target="b"),
        Inhibition(source="c", target="b"),
        Inhibition(source="b", target="c"),
    ]

    def check(book, now, warehouse, specs, transitions):
        for t in transitions:
            assert t.inhibited == bool(t.inhibited_by)
            for source_key in t.inhibited_by:
                source = book.alerts[source_key]
                assert TIER_RANK[source.severity] >= TIER_RANK[t.severity]
        sources_of = {"b": ("a", "c"), "c": ("b",)}
        for alert in book.alerts.values():
            if alert.inhibited and alert.warehouse_id == warehouse:
                assert any(
                    source.rule_id in sources_of.get(alert.rule_id, ())
                    and source.warehouse_id == warehouse
                    and TIER_RANK[source.severity] >= TIER_RANK[alert.severity]
                    for source in book.alerts.values()
                )

    run(steps, rules_settings, inhibitions, check=check)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(step_st, max_size=30), rules_settings=settings_st)
def test_same_input_gives_same_transitions_and_ids_even_across_restarts(steps, rules_settings):
    inhibitions = [Inhibition(source="a", target="b")]
    silences = [
        Silence(
            id="s",
            matchers={"severity": "info"},
            starts_at=at(0),
            ends_at=at(300),
            created_by="lin",
        )
    ]
    book1, first = run(steps, rules_settings, inhibitions, silences)
    book2, again = run(steps, rules_settings, inhibitions, silences)
    book3, restarted = run(steps, rules_settings, inhibitions, silences, restart_every_step=True)
    dump = [[t.model_dump() for t in ts] for ts in first]
    assert dump == [[t.model_dump() for t in ts] for ts in again]
    assert dump == [[t.model_dump() for t in ts] for ts in restarted]
    assert book1 == book2 == book3


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(step_st, max_size=30), rules_settings=settings_st)
def test_book_survives_a_json_round_trip(steps, rules_settings):
    book, _ = run(steps, rules_settings, [Inhibition(source="a", target="b")])
    assert AlertBook.model_validate_json(book.model_dump_json()) == book


# --- tier hysteresis with the built-in stockout_risk rule -------------------------------

STOCKOUT = builtin_rules()
STOCKOUT_RULE = STOCKOUT.rule("stockout_risk")
STOCKOUT_SETTINGS = STOCKOUT.alert_settings()
STOCKOUT_KEY = alert_key("M1", "W1", "stockout_risk")
RANK = {"info": 0, "warning": 1, "critical": 2}


def stockout_step(book: AlertBook, days: float | None, lead_time: float, now: datetime):
    facts = {"projected_stockout_days": days, "lead_time_days": lead_time}
    outcome = evaluate_rule(STOCKOUT_RULE, facts, SCOPE)
    return outcome, book.step([outcome], SCOPE, now, STOCKOUT_SETTINGS)


@settings(max_examples=200, deadline=None)
@given(
    lead_time=st.floats(2, 60),
    warning_share=st.floats(0.71, 1.0),
    oscillation=st.lists(
        st.tuples(
            st.integers(1, 3 * 24 * 60),  # minutes since the previous evaluation
            st.floats(0.0, 0.7),  # projected stock-out as a share of the lead time
        ),
        min_size=1,
        max_size=40,
    ),
)
def test_stockout_oscillating_in_the_critical_band_flips_no_severity_after_escalating(
    lead_time, warning_share, oscillation
):
    """Across critical's boundary but within its band: one escalation, then no severity update."""
    book = AlertBook(material_id="M1")
    (raised,) = stockout_step(book, warning_share * lead_time, lead_time, T0)[1]
    assert raised.severity == "warning"
    now, escalated = T0, False
    for minutes, share in oscillation:
        now += timedelta(minutes=minutes)
        outcome, transitions = stockout_step(book, share * lead_time, lead_time, now)
        severity_updates = [t for t in transitions if t.reason == "severity"]
        if not escalated and outcome.severity == "critical":
            # escalation is immediate, at the first evaluation where critical holds
            assert [(t.previous_severity, t.severity) for t in severity_updates] == [
                ("warning", "critical")
            ]
            escalated = True
        else:
            assert severity_updates == []
        assert book.alerts[STOCKOUT_KEY].severity == ("critical" if escalated else "warning")


@settings(max_examples=300, deadline=None)
@given(
    lead_time=st.floats(2, 60),
    steps=st.lists(
        st.tuples(
            st.integers(0, 18 * 60),
            st.one_of(st.none(), st.floats(0.0, 1.3)),  # share of the lead time, or unknown
        ),
        max_size=50,
    ),
)
def test_stockout_escalates_at_once_and_de_escalates_only_after_a_clear_day(lead_time, steps):
    book = AlertBook(material_id="M1")
    clear_share = STOCKOUT_RULE.params["critical_clear_share"]
    wait = timedelta(seconds=STOCKOUT_RULE.deescalate_after_seconds)
    now, cleared_since = T0, None  # since when critical has been cleared at every evaluation
    for minutes, share in steps:
        now += timedelta(minutes=minutes)
        days = None if share is None else share * lead_time
        before = book.alerts.get(STOCKOUT_KEY)
        before_severity = before.severity if before else None
        outcome, transitions = stockout_step(book, days, lead_time, now)
        critical_cleared = days is not None and days > clear_share * lead_time
        cleared_since = (cleared_since or now) if critical_cleared else None
        after = book.alerts.get(STOCKOUT_KEY)
        if after is None:
            cleared_since = None
            continue
        if outcome.firing:
            assert RANK[after.severity] >= RANK[outcome.severity]  # never below what fires
            if before is not None and RANK[outcome.severity] > RANK[before_severity]:
                (t,) = transitions
                assert (t.reason, t.severity) == ("severity", outcome.severity)
        if before is not None and RANK[after.severity] < RANK[before_severity]:
            assert cleared_since is not None and now - cleared_since >= wait
        waited = cleared_since is not None and now - cleared_since >= wait
        if before_severity == "critical" and outcome.firing and not waited:
            assert after.severity == "critical"  # kept while not cleared for long enough


# --- unique ids, published suppression and acknowledgements (issues 7.4, 8.1, 8.5) --------


def test_an_alert_raised_again_at_the_same_event_time_gets_new_ids():
    book = AlertBook(material_id="M1")
    (first,) = book.step([fire()], SCOPE, at(0))
    (resolved,) = book.step([clear()], SCOPE, at(0))
    (again,) = book.step([fire()], SCOPE, at(0))
    (repeated,) = book.step(
        [fire()], SCOPE, at(60), {"low": RuleSettings(repeat_interval_seconds=60)}
    )
    ids = [t.id for t in (first, resolved, again, repeated)]
    assert len(set(ids)) == 4, ids
    assert again.alert_id != first.alert_id


# Many steps at one event time: raised, resolved and raised again in one instant.
same_instant_step_st = st.tuples(
    st.sampled_from((0, 0, 0, 1, 60)),
    st.sampled_from(WAREHOUSES),
    st.fixed_dictionaries({rule: evaluation_st for rule in RULES}),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(same_instant_step_st, max_size=40), rules_settings=settings_st)
def test_no_two_different_transitions_share_an_id_and_a_replay_gives_the_same_ids(
    steps, rules_settings
):
    inhibitions = [Inhibition(source="a", target="b")]
    silences = [
        Silence(
            id="s", matchers={"rule_id": "c"}, starts_at=at(30), ends_at=at(300), created_by="lin"
        )
    ]
    _, first = run(steps, rules_settings, inhibitions, silences)
    _, replayed = run(steps, rules_settings, inhibitions, silences, restart_every_step=True)
    published = [t for ts in first for t in ts]
    assert len({t.id for t in published}) == len(published)
    assert [t.id for ts in replayed for t in ts] == [t.id for t in published]


def test_an_open_alert_that_becomes_silenced_is_published_as_updated_silenced():
    book = AlertBook(material_id="M1")
    (raised,) = book.step([fire()], SCOPE, at(0))
    book.apply(silence(10, 20))
    (muted,) = book.step([fire()], SCOPE, at(15))
    assert (muted.status, muted.reason, muted.silenced, muted.notify) == (
        "updated",
        "silenced",
        True,
        False,
    )
    assert (muted.alert_id, muted.sequence, muted.silence_ids) == (raised.alert_id, 1, ("s1",))
    (back,) = book.step([fire()], SCOPE, at(20))
    assert (back.status, back.reason, back.notify) == ("repeated", "unsuppressed", True)


def test_an_open_alert_that_becomes_inhibited_is_published_as_updated_inhibited():
    book = AlertBook(material_id="M1")
    inh = STOCKOUT_INHIBITS_LOW
    book.step([fire("low")], SCOPE, at(0), inhibitions=inh)
    raised, inhibited = book.step([fire("stockout"), fire("low")], SCOPE, at(5), inhibitions=inh)
    assert statuses([raised, inhibited]) == ["stockout:raised", "low:updated"]
    assert (inhibited.reason, inhibited.inhibited, inhibited.notify) == ("inhibited", True, False)
    assert inhibited.inhibited_by == (alert_key("M1", "W1", "stockout"),)
    assert book.alerts[KEY].inhibited


def test_an_alert_in_its_band_follows_its_suppression_too():
    book = AlertBook(material_id="M1")
    inh = STOCKOUT_INHIBITS_LOW
    book.step([fire("low")], SCOPE, at(0), inhibitions=inh)
    _, (inhibited,) = (
        book.step([fire("stockout")], SCOPE, at(5)),
        book.step([band("low")], SCOPE, at(5), inhibitions=inh),
    )
    assert (inhibited.status, inhibited.reason) == ("updated", "inhibited")
    book.step([clear("stockout")], SCOPE, at(10))
    (back,) = book.step([band("low")], SCOPE, at(10), inhibitions=inh)
    assert (back.status, back.reason, back.notify) == ("repeated", "unsuppressed", True)


def test_an_acknowledged_alert_whose_suppression_ends_is_updated_without_notifying():
    book = AlertBook(material_id="M1")
    (raised,) = book.step([fire()], SCOPE, at(0))
    book.apply(Acknowledge(alert_key=KEY, alert_id=raised.alert_id, by="lin", at=at(1)))
    book.step([fire()], SCOPE, at(1))
    book.apply(silence(10, 20))
    (muted,) = book.step([fire()], SCOPE, at(15))
    assert (muted.reason, muted.acknowledged_by) == ("silenced", "lin")
    (back,) = book.step([fire()], SCOPE, at(25))
    assert (back.status, back.reason, back.silenced, back.notify) == (
        "updated",
        "unsuppressed",
        False,
        False,
    )


def test_an_acknowledgement_is_published_by_the_next_step_once():
    book = AlertBook(material_id="M1")
    (raised,) = book.step([fire()], SCOPE, at(0))
    ack = Acknowledge(alert_key=KEY, alert_id=raised.alert_id, by="lin", at=at(3))
    assert book.apply(ack) == ActionOutcome.APPLIED
    (acked,) = book.step([band(available=10.0)], SCOPE, at(5))
    assert (acked.status, acked.reason, acked.acknowledged_by, acked.notify) == (
        "updated",
        "acknowledged",
        "lin",
        False,
    )
    assert acked.acknowledged_at == at(3) and acked.sequence == 1
    assert book.step([fire()], SCOPE, at(6)) == []
    assert book.apply(ack) == ActionOutcome.DUPLICATE
    assert book.step([fire()], SCOPE, at(7)) == []


def test_the_book_stores_its_raise_count_and_closed_alerts_in_a_few_bytes():
    book = AlertBook(material_id="M1")
    book.step([fire()], SCOPE, at(0))
    book.step([clear()], SCOPE, at(0))
    stored = book.model_dump(mode="json")
    closed = stored.pop("closed")
    assert stored == {"material_id": "M1", "raised": 1}
    assert [(c["rule_id"], c["warehouse_id"], c["reason"]) for c in closed] == [
        ("low", "W1", "cleared")
    ]


def test_the_book_remembers_only_its_last_closed_alerts_newest_last():
    book = AlertBook(material_id="M1")
    for n in range(MAX_CLOSED_ALERTS + 3):
        book.step([fire()], SCOPE, at(2 * n))
        book.step([clear()], SCOPE, at(2 * n + 1))
    assert [c.resolved_at for c in book.closed] == [
        at(2 * n + 1) for n in range(3, MAX_CLOSED_ALERTS + 3)
    ]
    assert all(c.raised_at == c.resolved_at - timedelta(minutes=1) for c in book.closed)
