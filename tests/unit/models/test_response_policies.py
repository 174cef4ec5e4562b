"""The response policies by name: one loader for the three files, one-line problems."""

import pytest

from models.approval import ApprovalPolicy
from models.response_policies import (
    POLICY_NAMES,
    PolicyError,
    ResponsePolicies,
    default_file,
    default_policy,
    describe,
    load_policy,
)
from models.routing import default_routing, load_routing
from models.transfers import TransferLanes


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_each_shipped_file_loads_as_its_default_policy(name: str):
    file = default_file(name)
    assert load_policy(name, file.read_bytes(), str(file)) == default_policy(name)
    assert "\n" not in describe(default_policy(name))


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("approval", b"currency: eur\n", "a.yaml: currency: a currency is a three-letter"),
        ("reviews", b"decision_deadline_days: 0\n", "a.yaml: decision_deadline_days=0: "),
        ("transfer-lanes", b"lanes: {W1: {W2: -1}}\n", "a.yaml: lanes.W1.W2: days must not be"),
        ("transfer-lanes", b"\xff\xfe", "a.yaml: not UTF-8 text"),
        ("routes", b"people: {}\nroute: {receivers: [x]}\n", "a.yaml: route root: receivers: "),
    ],
)
def test_every_problem_line_starts_with_the_source_then_names_the_field(name, text, problem):
    with pytest.raises(PolicyError) as refused:
        load_policy(name, text, "a.yaml")
    assert refused.value.problems[0].startswith(problem), refused.value.problems


def test_an_unknown_policy_name_is_refused():
    with pytest.raises(
        ValueError, match=r"policies are approval, reviews, transfer-lanes, routes$"
    ):
        load_policy("lanes", "", "a.yaml")


def test_a_policy_takes_the_place_of_its_own_kind_only():
    lanes = TransferLanes(default_days=5)
    policies = ResponsePolicies().with_policy("transfer-lanes", lanes)
    assert policies.lanes is lanes
    assert policies.approval == ResponsePolicies().approval
    with pytest.raises(TypeError, match="must be ApprovalPolicy, got TransferLanes"):
        policies.with_policy("approval", lanes)
    assert isinstance(policies.approval, ApprovalPolicy)


def test_the_routes_policy_is_the_routing_file_and_takes_its_place():
    text = "people: {ops: {channels: {webhook: ops-hook}}}\nroute: {receivers: [owner, ops]}\n"
    routing = load_policy("routes", text, "r.yaml")
    assert routing == load_routing(text, "r.yaml")
    policies = ResponsePolicies().with_policy("routes", routing)
    assert policies.routes is routing
    assert ResponsePolicies().routes == default_routing()
