"""Alert quality: each alert's outcome (acted on, acknowledged, unheard, resolved, ignored)."""

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.alert_quality import (
    AlertQuality,
    AlertRecord,
    Outcome,
    closing_outcome,
    summarise,
    time_to_acknowledge,
)
from models.alerts import (
    Acknowledge,
    AlertBook,
    AlertTransition,
    Evaluation,
    Inhibition,
    RuleSettings,
    alert_key,
)
from models.purchasing import PurchaseRequestAction, apply_action, propose
from models.reviews import ReviewAction, ReviewPolicy, apply_review_action, open_review
from models.transfers import TransferSuggestion, approve, propose_transfer, reject, ship

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SCOPE = {"material_id": "M1", "warehouse_id": "W1"}
OWNERS = {
    "low": RuleSettings(labels={"owner": "planner"}),
    "stockout": RuleSettings(labels={"owner": "buyer"}),
}


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def fire(rule: str = "low", severity: str = "warning") -> Evaluation:
    return Evaluation(rule, firing=True, severity=severity, values={"available": 1.0})


def clear(rule: str = "low") -> Evaluation:
    return Evaluation(rule, firing=False, clear=True, values={"available": 99.0})


def out(rule: str = "low") -> Evaluation:
    return Evaluation(rule, in_scope=False)


def request_for(alert_ids: list[str], now: datetime):
    return propose(
        material_id="M1",
        warehouse_id="W1",
        unit="EA",
        unit_cost=2.5,
        moq=0,
        pack_size=1,
        supplier_id="V1",
        reorder_point=100,
        order_up_to=300,
        projected_stockout_date=None,
        lead_time_days=10,
        position=40,
        alert_ids=alert_ids,
        now=now,
        raised=0,
        currency="EUR",
    )


def decide(request, kind: str, when: datetime):
    action = PurchaseRequestAction(
        request_id=request.request_id, material_id="M1", action=kind, by="lin", at=when
    )
    return apply_action(request, action)


def fold(*items) -> AlertQuality:
    quality = AlertQuality()
    for item in items:
        add(quality, item)
    return quality


def add(quality: AlertQuality, item) -> None:
    match item:
        case AlertTransition():
            quality.add_alert(item)
        case Acknowledge():
            quality.add_action(item)
        case _ if hasattr(item, "request_id"):
            quality.add_request(item)
        case _ if hasattr(item, "transfer_id"):
            quality.add_transfer(item)
        case _:
            quality.add_review(item)


def outcomes(quality: AlertQuality) -> dict[str, Outcome]:
    return {fate.rule_id: fate.outcome for fate in quality.fates()}


def test_an_alert_that_clears_unanswered_resolved_on_its_own():
    book = AlertBook(material_id="M1")
    ts = book.step([fire()], SCOPE, at(0)) + book.step([clear()], SCOPE, at(5))
    (fate,) = fold(*ts).fates()
    assert fate.outcome is Outcome.RESOLVED_ON_ITS_OWN
    assert fate.time_to_ack is None and fate.time_to_action is None


def test_an_open_or_out_of_scope_alert_without_an_answer_was_ignored():
    book = AlertBook(material_id="M1")
    ts = book.step([fire("low"), fire("stockout")], SCOPE, at(0))
    ts += book.step([out("stockout")], SCOPE, at(5))
    assert outcomes(fold(*ts)) == {"low": Outcome.IGNORED, "stockout": Outcome.IGNORED}


def test_an_acknowledged_alert_counts_its_time_to_acknowledgement_from_the_action():
    book = AlertBook(material_id="M1")
    (raised,) = book.step([fire()], SCOPE, at(0))
    ack = Acknowledge(alert_key=raised.key, alert_id=raised.alert_id, by="lin", at=at(1.5))
    book.apply(ack)
    (published,) = book.step([fire()], SCOPE, at(4))
    assert published.acknowledged_by == "lin"
    (fate,) = fold(raised, published, ack).fates()
    assert fate.outcome is Outcome.ACKNOWLEDGED and fate.time_to_ack == timedelta(hours=1.5)
    (without_action,) = fold(raised, published).fates()
    assert without_action.time_to_ack == timedelta(hours=4), "the transition's time, else"
    assert time_to_acknowledge(published) == timedelta(hours=4), "the live metric's view"
    assert time_to_acknowledge(raised) is None


def test_an_acknowledgement_by_key_counts_only_for_the_alert_open_at_its_time():
    book = AlertBook(material_id="M1")
    first = book.step([fire()], SCOPE, at(0)) + book.step([clear()], SCOPE, at(1))
    second = book.step([fire()], SCOPE, at(2))
    late_for_first = Acknowledge(alert_key=alert_key("M1", "W1", "low"), by="lin", at=at(3))
    quality = fold(*first, *second, late_for_first)
    fates = {fate.alert_id: fate for fate in quality.fates()}
    assert fates[first[0].alert_id].outcome is Outcome.RESOLVED_ON_ITS_OWN
    assert fates[second[0].alert_id].outcome is Outcome.ACKNOWLEDGED
    assert fates[second[0].alert_id].time_to_ack == timedelta(hours=1)


def test_an_approved_or_ordered_request_acts_on_its_alerts_a_rejected_one_does_not():
    book = AlertBook(material_id="M1")
    ts = book.step([fire("low"), fire("stockout")], SCOPE, at(0))
    by_rule = {t.rule_id: t.alert_id for t in ts}
    approved = request_for([by_rule["low"]], at(0))
    rejected = request_for([by_rule["stockout"]], at(0))
    quality = fold(*ts, approved, decide(approved, "approve", at(2)))
    add(quality, rejected)
    add(quality, decide(rejected, "reject", at(3)))
    assert outcomes(quality) == {"low": Outcome.ACTED_ON, "stockout": Outcome.IGNORED}
    fate = next(f for f in quality.fates() if f.rule_id == "low")
    assert fate.time_to_action == timedelta(hours=2)


def test_a_shipped_transfer_acts_on_its_alert_a_rejected_one_does_not():
    book = AlertBook(material_id="M1")
    ts = book.step([fire("low"), fire("stockout")], SCOPE, at(0))
    by_rule = {t.rule_id: t.alert_id for t in ts}
    suggestion = TransferSuggestion(
        from_warehouse="W2", to_warehouse="W1", quantity=10, surplus=20, lead_time_days=2
    )
    made = propose_transfer("M1", suggestion, now=at(0), raised=0, alert_ids=[by_rule["low"]])
    refused = propose_transfer(
        "M1", suggestion, now=at(0), raised=1, alert_ids=[by_rule["stockout"]]
    )
    quality = fold(
        *ts,
        made,
        ship(made, quantity=10, at=at(6)),
        refused,
        reject(refused, by="lin", at=at(1)),
    )
    assert outcomes(quality) == {"low": Outcome.ACTED_ON, "stockout": Outcome.IGNORED}
    assert fold(*ts, approve(made, by="lin", at=at(1))).fates()[0].outcome is Outcome.ACTED_ON


def test_a_decided_review_acts_on_the_alerts_under_review():
    book = AlertBook(material_id="M1")
    (raised,) = book.step([fire("dead_stock")], SCOPE, at(0))
    review = open_review("M1", "W1", [raised.alert_id], [], None, at(0), ReviewPolicy())
    decision = ReviewAction(
        action="decide",
        review_id=review.review_id,
        material_id="M1",
        by="chen",
        decision="discount",
        at=at(30),
    )
    (only_opened,) = fold(raised, review).fates()
    assert only_opened.outcome is Outcome.IGNORED
    (fate,) = fold(raised, review, apply_review_action(review, decision)).fates()
    assert fate.outcome is Outcome.ACTED_ON and fate.time_to_action == timedelta(hours=30)


def test_an_alert_inhibited_all_its_life_is_unheard_not_ignored():
    book = AlertBook(material_id="M1")
    inhibit = [Inhibition(source="stockout", target="low")]
    ts = book.step([fire("stockout"), fire("low")], SCOPE, at(0), inhibitions=inhibit)
    ts += book.step([fire("stockout"), clear("low")], SCOPE, at(3), inhibitions=inhibit)
    assert outcomes(fold(*ts)) == {"stockout": Outcome.IGNORED, "low": Outcome.UNHEARD}


def test_report_groups_by_rule_or_by_the_owner_label_and_starts_at_since():
    book = AlertBook(material_id="M1")
    ts = book.step([fire("low"), fire("stockout")], SCOPE, at(0), OWNERS)
    ts += book.step([clear("low"), fire("stockout")], SCOPE, at(1), OWNERS)
    ts += book.step([fire("low"), fire("stockout")], SCOPE, at(2), OWNERS)
    quality = fold(*ts)
    by_rule = {row.group: row for row in summarise(quality.fates(), by="rule")}
    assert by_rule["low"].alerts == 2 and by_rule["stockout"].alerts == 1
    assert by_rule["low"].share(Outcome.RESOLVED_ON_ITS_OWN) == 0.5
    by_receiver = {row.group: row.alerts for row in summarise(quality.fates(), by="receiver")}
    assert by_receiver == {"planner": 2, "buyer": 1}
    recent = summarise(quality.fates(since=at(1)), by="rule")
    assert [(row.group, row.alerts) for row in recent] == [("low", 1)]


def test_median_time_to_acknowledgement_is_over_the_acknowledged_alerts_only():
    records = [
        AlertRecord(f"a{n}", "low", "planner", at(0), at=at(0), notified=True) for n in range(3)
    ]
    quality = fold()
    for record in records:
        quality.add_alert(record)
    quality.add_acknowledgement("a0", "", at(1))
    quality.add_acknowledgement("a1", "", at(3))
    (row,) = summarise(quality.fates())
    assert row.median_time_to_ack == timedelta(hours=2)
    assert row.counts == {Outcome.ACKNOWLEDGED: 2, Outcome.IGNORED: 1}


# --- properties ------------------------------------------------------------------------------

RULES = ("low", "stockout", "dead_stock")
evaluation_st = st.sampled_from(("fire", "fire", "clear", "out"))
step_st = st.tuples(
    st.integers(1, 24),  # hours since the previous step
    st.fixed_dictionaries({rule: evaluation_st for rule in RULES}),
    st.sampled_from(("none", "ack", "ack", "request")),  # what a person does before the step
)


def history(steps) -> list:
    """Transitions of a book driven through ``steps``, with the acks and requests made."""
    book, now, items = AlertBook(material_id="M1"), T0, []
    inhibit = [Inhibition(source="stockout", target="low")]
    makers = {"fire": fire, "clear": clear, "out": out}
    for hours, specs, answer in steps:
        now += timedelta(hours=hours)
        open_ids = [alert.id for alert in book.alerts.values()]
        if answer == "ack":
            for key, alert in book.alerts.items():
                ack = Acknowledge(alert_key=key, alert_id=alert.id, by="lin", at=now)
                book.apply(ack)
                items.append(ack)
        elif answer == "request" and open_ids:
            request = request_for(open_ids, now)
            items += [request, decide(request, "approve", now)]
        evaluations = [makers[kind](rule) for rule, kind in specs.items()]
        items += book.step(evaluations, SCOPE, now, OWNERS, inhibit)
    return items


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(step_st, max_size=30), seed=st.integers(0, 2**32))
def test_fates_do_not_depend_on_the_order_records_are_read_in_nor_on_duplicates(steps, seed):
    items = history(steps)
    shuffled = items + items[: len(items) // 2]
    random.Random(seed).shuffle(shuffled)
    assert fold(*shuffled).fates() == fold(*items).fates()


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(step_st, max_size=30))
def test_every_raised_alert_has_exactly_one_outcome_and_the_shares_add_up(steps):
    items = history(steps)
    raised = {i.alert_id for i in items if isinstance(i, AlertTransition) and i.status == "raised"}
    fates = fold(*items).fates()
    assert {fate.alert_id for fate in fates} == raised
    for by in ("rule", "receiver"):
        rows = summarise(fates, by=by)
        assert sum(row.alerts for row in rows) == len(raised)
        for row in rows:
            assert sum(row.counts.values()) == row.alerts
            assert abs(sum(row.share(outcome) for outcome in Outcome) - 1.0) < 1e-9


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(step_st, max_size=30))
def test_an_alert_is_acknowledged_or_acted_on_exactly_when_someone_answered_it(steps):
    items = history(steps)
    acked = {i.alert_id for i in items if isinstance(i, AlertTransition) and i.acknowledged_by}
    acked |= {i.alert_id for i in items if isinstance(i, Acknowledge)}
    acted = {a for i in items if hasattr(i, "request_id") for a in i.alert_ids}
    for fate in fold(*items).fates():
        answered = fate.outcome in (Outcome.ACTED_ON, Outcome.ACKNOWLEDGED)
        assert answered == (fate.alert_id in acked | acted)
        assert (fate.outcome is Outcome.ACTED_ON) == (fate.alert_id in acted)
        assert (fate.time_to_ack is not None) == (fate.alert_id in acked)


def test_the_live_view_of_a_closing_transition_names_acknowledged_cleared_or_ignored():
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    closed = AlertRecord("a1", "low", "li", t0, t0, resolved=True)
    assert closing_outcome(closed) is Outcome.IGNORED
    assert closing_outcome(AlertRecord("a1", "low", "li", t0, t0)) is None
    cleared = AlertRecord("a1", "low", "li", t0, t0, resolved=True, cleared=True, acknowledged=True)
    assert closing_outcome(cleared) is Outcome.ACKNOWLEDGED
