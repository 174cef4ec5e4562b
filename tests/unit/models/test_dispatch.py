"""Dispatch: each record to the inboxes of the people its routes name, or their settlement."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from models.action_links import verify
from models.alerts import TransitionReason
from models.dispatch import (
    ActionMaker,
    InboxInput,
    RoutedBatch,
    RoutedItem,
    Settled,
    batches,
    dispatch,
)
from models.events import encode
from models.routing import default_routing
from models.transfers import approve
from tests.unit.models.test_rendering import T0, as_alert, request, review, stockout, transfer

ROUTING = default_routing()
KEY = b"signing key"
ACTIONS = ActionMaker(KEY, "https://stockloop.example/", timedelta(days=7))


def owned_by(owner: str, status: str = "raised"):
    """The shipped test alert, owned by ``owner`` as the material master would say."""
    alert = as_alert(stockout(status))
    return alert.model_copy(update={"labels": alert.labels | {"owner": owner}})


def test_a_critical_alert_reaches_its_owner_alone_at_once():
    routed = dispatch(owned_by("li.na"), ROUTING, None)
    assert [(r.recipient, r.match.route) for r in routed] == [("li.na", "root/critical")]
    assert all(isinstance(r, RoutedItem) and not r.match.digest for r in routed)
    assert {r.match.escalate_after for r in routed} == {timedelta(minutes=30)}


def test_a_critical_alert_whose_owner_names_nobody_reaches_the_purchasing_lead():
    routed = dispatch(owned_by("planner"), ROUTING, None)
    assert [r.recipient for r in routed] == ["zhang.wei"]


def test_each_recipient_reads_the_item_in_their_language():
    alert = owned_by("anna").model_copy(update={"severity": "warning"})
    routed = {r.recipient: r.item for r in dispatch(alert, ROUTING, None)}
    assert "stock-out" in routed["anna"].summary.lower()
    assert routed["li.na"].summary != routed["anna"].summary
    assert routed["li.na"].id == routed["anna"].id


def test_an_acknowledgement_settles_the_alert_for_everyone_it_was_routed_to():
    alert = owned_by("li.na")
    acked = alert.model_copy(
        update={
            "reason": TransitionReason.ACKNOWLEDGED,
            "acknowledged_by": "li.na",
            "notify": False,
        }
    )
    routed = dispatch(acked, ROUTING, None)
    assert {type(r) for r in routed} == {Settled}
    # Told as critical to the owner; the buyers hear of its warning days.
    assert {r.recipient for r in routed} == {"li.na", "anna"}
    assert {r.subject_id for r in routed} == {dispatch(alert, ROUTING, None)[0].item.subject_id}


def test_a_resolved_alert_settles_and_tells_nobody_anew():
    routed = dispatch(owned_by("li.na", status="resolved"), ROUTING, None)
    assert routed and all(isinstance(r, Settled) for r in routed)


def test_a_silenced_alert_reaches_nobody():
    silenced = owned_by("li.na").model_copy(update={"silenced": True, "notify": False})
    assert dispatch(silenced, ROUTING, None) == []


def test_a_pending_request_offers_its_approver_a_signed_approve_link_for_that_request():
    pending = request("pending")
    routed = [r for r in dispatch(pending, ROUTING, None, ACTIONS) if isinstance(r, RoutedItem)]
    assert {r.match.route for r in routed} == {"root/approvals"}
    for entry in routed:
        (action,) = entry.item.actions
        token = action.url.removeprefix("https://stockloop.example/actions/")
        link = verify(token, KEY, T0)
        assert (link.action, link.subject, link.by) == (
            "approve",
            pending.request_id,
            entry.recipient,
        )
        assert link.expires == entry.item.at + timedelta(days=7)


def test_an_ordered_request_settles_the_approval_and_is_news_for_the_digest():
    ordered = request("ordered")
    routed = dispatch(ordered, ROUTING, None, ACTIONS)
    settled = [r for r in routed if isinstance(r, Settled)]
    items = [r for r in routed if isinstance(r, RoutedItem)]
    assert settled and items
    assert all(r.match.digest and r.item.actions == () for r in items)


def test_the_same_record_dispatches_the_same_way_every_time():
    alert = owned_by("li.na")
    assert dispatch(alert, ROUTING, None, ACTIONS) == dispatch(alert, ROUTING, None, ACTIONS)


def test_a_dead_stock_review_asks_each_waiting_role_and_its_owner():
    routed = dispatch(review(), ROUTING, None)
    assert {r.match.route for r in routed} == {"root/reviews"}
    # sales, engineering and finance by their roles; the owner "zhao" is not in the
    # directory, so the route's own receiver (inventory control) stands in.
    assert {r.recipient for r in routed} == {"wang.fang", "david", "liu.yang", "ops"}


def test_a_critical_alert_resolved_as_a_warning_settles_the_lead_it_was_told_to():
    # No owner in the directory: the lead was told of it as the critical route's fallback.
    resolved = owned_by("planner", status="resolved").model_copy(update={"severity": "warning"})
    settled = {r.recipient for r in dispatch(resolved, ROUTING, None) if isinstance(r, Settled)}
    assert "zhang.wei" in settled


def test_an_approved_request_settles_the_approvers_it_waited_for():
    pending = request("pending")
    approvers = {r.recipient for r in dispatch(pending, ROUTING, None) if isinstance(r, RoutedItem)}
    approved = pending.model_copy(update={"status": "approved"})
    settled = {r.recipient for r in dispatch(approved, ROUTING, None) if isinstance(r, Settled)}
    assert approvers and approvers <= settled


def test_a_held_transfer_goes_to_its_approver_until_a_decision_settles_it():
    held = transfer().model_copy(update={"approver": "buyer", "amount": 13440.0})
    routed = dispatch(held, ROUTING, None)
    assert "root/approvals" in {r.match.route for r in routed if isinstance(r, RoutedItem)}
    assert {"li.na", "anna"} <= {r.recipient for r in routed}
    decided = approve(held, by="anna", at=T0 + timedelta(hours=2))
    settled = [r for r in dispatch(decided, ROUTING, None) if isinstance(r, Settled)]
    assert {"li.na", "anna"} <= {r.recipient for r in settled}


def test_a_transfer_that_approves_itself_asks_no_approver():
    routed = dispatch(transfer(), ROUTING, None)
    assert "root/approvals" not in {r.match.route for r in routed if isinstance(r, RoutedItem)}


def settlement(recipient: str, subject_id: str) -> Settled:
    return Settled(recipient=recipient, subject_id=subject_id, at=T0)


@given(
    subjects=st.lists(st.text(alphabet="abcxyz/-", min_size=1, max_size=300), max_size=40),
    limit=st.integers(min_value=1, max_value=4_000),
)
def test_batches_hold_every_entry_once_in_order_each_record_near_the_limit(subjects, limit):
    entries = [settlement("li.na", subject) for subject in subjects]
    records = batches("li.na", [encode(entry) for entry in entries], limit)
    taken = [InboxInput.validate_json(record) for record in records]
    assert all(isinstance(batch, RoutedBatch) and batch.recipient == "li.na" for batch in taken)
    assert [entry for batch in taken for entry in batch.entries] == entries
    header = len(encode(RoutedBatch(recipient="li.na", entries=[])))
    for record, batch in zip(records, taken, strict=True):
        assert len(batch.entries) == 1 or len(record) <= limit + header


def test_a_batch_routed_to_one_recipient_refuses_an_entry_of_another():
    stray = RoutedBatch.model_construct(
        recipient="li.na", entries=[settlement("li.na", "a"), settlement("anna", "b")]
    )
    with pytest.raises(ValidationError, match=r"recipient 'anna' in the batch of 'li\.na'"):
        InboxInput.validate_json(encode(stray))
