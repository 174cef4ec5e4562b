"""The worker's policies in force: published ones parsed once, a bad one never takes over."""

from prometheus_client import REGISTRY

from models.approval import load_approval_policy
from models.response_policies import ResponsePolicies
from models.routing import load_routing
from models.transfers import TransferLanes
from streams.policies import PolicyReader, _parse

APPROVAL = b"currency: EUR\nauto_approve_below: 100000\n"


def errors(policy: str) -> float:
    return REGISTRY.get_sample_value("stockloop_policy_errors_total", {"policy": policy}) or 0.0


def test_nothing_published_is_the_shipped_defaults():
    assert PolicyReader({}).current() == ResponsePolicies()


def test_a_published_policy_is_in_force_and_the_others_stay_default():
    table = {"approval": APPROVAL}
    policies = PolicyReader(table).current()
    assert policies.approval == load_approval_policy(APPROVAL.decode())
    assert policies.reviews == ResponsePolicies().reviews
    assert policies.lanes == TransferLanes()


def test_a_version_is_parsed_once_however_often_it_is_read():
    table = {"transfer-lanes": b"default_days: 7\n"}
    reader = PolicyReader(table)
    before = _parse.cache_info()
    first = reader.current()
    again = PolicyReader(dict(table)).current()
    assert first.lanes is again.lanes
    assert _parse.cache_info().misses - before.misses <= 1


def test_a_bad_version_is_counted_once_and_the_last_good_one_stays_in_force():
    table = {"approval": APPROVAL}
    reader = PolicyReader(table)
    good = reader.current()
    before = errors("approval")
    table["approval"] = b"currency: EUR\nauto_approve_below: -1\n"
    assert reader.current() == good
    assert reader.current() == good
    assert errors("approval") == before + 1


def test_a_bad_first_version_leaves_the_default_in_force():
    reader = PolicyReader({"transfer-lanes": b"lanes: {W1: {W1: 1}}\n"})
    before = errors("transfer-lanes")
    assert reader.current().lanes == TransferLanes()
    assert errors("transfer-lanes") == before + 1


def test_a_tombstone_brings_the_default_back():
    table = {"transfer-lanes": b"default_days: 9\n"}
    reader = PolicyReader(table)
    assert reader.current().lanes.default_days == 9
    del table["transfer-lanes"]
    assert reader.current().lanes == TransferLanes()


def test_a_published_routing_file_is_the_routes_in_force():
    routes = b"people: {ops: {channels: {webhook: ops-hook}}}\nroute: {receivers: ops}\n"
    policies = PolicyReader({"routes": routes}).current()
    assert policies.routes == load_routing(routes.decode())
    assert policies.approval == ResponsePolicies().approval
