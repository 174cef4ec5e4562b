"""Approval policy: limits at their edges, overrides, blocks, approver bands, validation."""

import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.approval import (
    ApprovalDecision,
    ApprovalPolicy,
    ApprovalPolicyError,
    ApproverBand,
    decide,
    default_approval_policy,
    load_approval_policy,
)

POLICY = load_approval_policy(
    """
currency: EUR
auto_approve_below: 5000
categories:
  fasteners: {auto_approve_below: 8000}
abc_classes:
  A: {auto_approve_below: 2000}
max_usual_multiple: 3
approvers:
  - {below: 20000, approver: buyer}
  - {below: 100000, approver: purchasing_manager}
  - {approver: cfo}
""",
    "policy.yaml",
)


def decision(
    amount: float,
    *,
    quantity: float = 10,
    category: str | None = None,
    abc_class: str | None = None,
    usual_quantity: float | None = None,
    critical_demand_shift: bool = False,
    policy: ApprovalPolicy = POLICY,
) -> ApprovalDecision:
    return decide(
        policy,
        amount=amount,
        quantity=quantity,
        category=category,
        abc_class=abc_class,
        usual_quantity=usual_quantity,
        critical_demand_shift=critical_demand_shift,
    )


def problems(text: str) -> list[str]:
    with pytest.raises(ApprovalPolicyError) as caught:
        load_approval_policy(text, "policy.yaml")
    assert list(caught.value.problems) == str(caught.value).splitlines()
    assert all(line.startswith("policy.yaml: ") for line in caught.value.problems)
    return [line.removeprefix("policy.yaml: ") for line in caught.value.problems]


# --- the auto-approval limit --------------------------------------------------------------


def test_an_amount_exactly_at_the_limit_is_not_auto_approved():
    result = decision(5000)
    assert not result.auto_approved
    assert result.approver == "buyer"
    assert result.reason == (
        "amount 5,000.00 EUR not below auto-approval limit 5,000.00 EUR (default): needs buyer"
    )


def test_an_amount_just_below_the_limit_is_auto_approved():
    result = decision(4999.99)
    assert result.auto_approved
    assert result.approver is None
    assert result.reason == "amount 4,999.99 EUR below auto-approval limit 5,000.00 EUR (default)"


def test_a_category_limit_beats_the_abc_class_limit_and_the_default():
    result = decision(7000, category="fasteners", abc_class="A")
    assert result.auto_approved
    assert result.reason.endswith("limit 8,000.00 EUR (category fasteners)")


def test_an_abc_class_limit_beats_the_default():
    assert not decision(3000, abc_class="A").auto_approved
    assert decision(3000, abc_class="B").auto_approved
    assert decision(1999, abc_class="A").reason.endswith("limit 2,000.00 EUR (ABC class A)")


def test_a_category_without_a_limit_of_its_own_falls_back_to_the_abc_class():
    result = decision(3000, category="bearings", abc_class="A")
    assert not result.auto_approved
    assert "(ABC class A)" in result.reason


def test_an_item_without_category_or_class_gets_the_default_limit():
    assert POLICY.auto_approval_limit(None, None) == (5000.0, "default")
    assert POLICY.auto_approval_limit("bearings", "C") == (5000.0, "default")


def test_a_limit_of_zero_switches_auto_approval_off():
    policy = ApprovalPolicy(currency="EUR", categories={"chemicals": {"auto_approve_below": 0}})
    result = decision(0, category="chemicals", policy=policy)
    assert not result.auto_approved
    assert result.approver == "buyer"


# --- blocks -------------------------------------------------------------------------------


def test_a_quantity_above_k_times_the_usual_order_is_never_auto_approved():
    result = decision(100, quantity=900, usual_quantity=200)
    assert not result.auto_approved
    assert result.reason == "quantity 900 is 4.5x the usual order 200 (limit 3x): needs buyer"


def test_a_quantity_exactly_k_times_the_usual_order_is_not_held_back():
    assert decision(100, quantity=600, usual_quantity=200).auto_approved


def test_an_unknown_usual_quantity_holds_nothing_back():
    assert decision(100, quantity=1e9, usual_quantity=None).auto_approved
    assert decision(100, quantity=1e9, usual_quantity=0).auto_approved


def test_an_open_critical_demand_shift_blocks_auto_approval():
    result = decision(100, critical_demand_shift=True)
    assert not result.auto_approved
    assert result.reason == "open critical demand_shift alert: needs buyer"


def test_the_demand_shift_block_can_be_switched_off():
    policy = load_approval_policy("currency: EUR\nblock_on_critical_demand_shift: false")
    assert decision(100, critical_demand_shift=True, policy=policy).auto_approved


def test_every_reason_that_holds_a_request_back_is_named():
    result = decision(150_000, quantity=10, usual_quantity=1, critical_demand_shift=True)
    assert result.approver == "cfo"
    assert result.reason == (
        "open critical demand_shift alert; quantity 10 is 10x the usual order 1 (limit 3x); "
        "amount 150,000.00 EUR not below auto-approval limit 5,000.00 EUR (default): needs cfo"
    )


def test_a_blocked_request_below_the_limit_goes_to_the_band_of_its_amount():
    assert decision(25_000, category="fasteners", critical_demand_shift=True).approver == (
        "purchasing_manager"
    )


@pytest.mark.parametrize(("amount", "quantity"), [(-1, 1), (1, -1), (float("nan"), 1)])
def test_a_negative_or_undefined_amount_or_quantity_is_refused(amount, quantity):
    with pytest.raises(ValueError, match="must be finite and not negative"):
        decision(amount, quantity=quantity)


# --- approver bands -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "approver"),
    [
        (5_000, "buyer"),
        (19_999.99, "buyer"),
        (20_000, "purchasing_manager"),
        (99_999.99, "purchasing_manager"),
        (100_000, "cfo"),
        (1e12, "cfo"),
    ],
)
def test_a_pending_request_goes_to_the_band_its_amount_is_strictly_below(amount, approver):
    assert decision(amount).approver == approver
    assert POLICY.approver_for(amount) == approver


# --- properties ---------------------------------------------------------------------------

amounts = st.floats(min_value=0, max_value=1e9, allow_nan=False)
items = st.fixed_dictionaries(
    {
        "quantity": st.floats(min_value=0, max_value=1e6, allow_nan=False),
        "category": st.sampled_from([None, "fasteners", "bearings"]),
        "abc_class": st.sampled_from([None, "A", "B", "C"]),
        "usual_quantity": st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False),
        "critical_demand_shift": st.booleans(),
    }
)


@given(amounts, amounts, items)
def test_raising_the_amount_never_turns_a_pending_request_into_an_auto_approved_one(
    first, second, item
):
    low, high = sorted((first, second))
    if not decision(low, **item).auto_approved:
        assert not decision(high, **item).auto_approved


@given(amounts, amounts)
def test_the_approver_band_never_falls_as_the_amount_rises(first, second):
    low, high = sorted((first, second))
    order = [band.approver for band in POLICY.approvers]
    assert order.index(POLICY.approver_for(low)) <= order.index(POLICY.approver_for(high))


@given(amounts, items)
def test_an_approver_is_named_exactly_when_the_request_is_pending(amount, item):
    result = decision(amount, **item)
    assert (result.approver is None) == result.auto_approved
    assert "\n" not in result.reason


# --- the shipped default ------------------------------------------------------------------


def test_the_shipped_default_policy_loads_with_the_documented_defaults():
    policy = default_approval_policy()
    assert policy.currency == "EUR"
    assert policy.auto_approve_below == 5000
    assert policy.max_usual_multiple == 3.0
    assert policy.block_on_critical_demand_shift is True
    assert policy.expiry_days == 14
    assert policy.approvers == (
        ApproverBand(below=20_000, approver="buyer"),
        ApproverBand(below=100_000, approver="purchasing_manager"),
        ApproverBand(approver="cfo"),
    )


def test_a_policy_giving_only_its_currency_equals_the_shipped_default():
    assert load_approval_policy("currency: EUR") == default_approval_policy()


def test_the_default_policy_file_is_shipped_with_the_package():
    pyproject = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())
    assert "approval.yaml" in pyproject["tool"]["setuptools"]["package-data"]["models"]


# --- validation errors: one line each, naming the field and the value ----------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "currency: EUR\nauto_approve_below: -5",
            "auto_approve_below: an amount must not be negative, got -5",
        ),
        (
            "currency: EUR\ncategories: {fasteners: {auto_approve_below: -0.5}}",
            "categories.fasteners.auto_approve_below: an amount must not be negative, got -0.5",
        ),
        (
            "currency: EUR\nauto_approve_below: 5,000",
            "auto_approve_below: an amount must be a plain number (e.g. 5000), got '5,000'",
        ),
        (
            "currency: EUR\nauto_approve_below: .inf",
            "auto_approve_below: an amount must be finite, got inf",
        ),
        (
            "currency: EUR\nauto_approve_below: true",
            "auto_approve_below: an amount must be a plain number (e.g. 5000), got True",
        ),
        (
            "currency: EUR\nauto_aprove_below: 5000",
            "auto_aprove_below: unknown field (did you mean 'auto_approve_below'?)",
        ),
        (
            "currency: EUR\nabc_classes: {D: {auto_approve_below: 1000}}",
            "abc_classes: unknown ABC class 'D'; ABC classes are A, B, C",
        ),
        (
            "currency: EUR\nabc_classes: {a: {auto_approve_below: 1000}}",
            "abc_classes: unknown ABC class 'a' (did you mean 'A'?); ABC classes are A, B, C",
        ),
        (
            "currency: EUR\ncategories: {123: {auto_approve_below: 1000}}",
            "categories: the name 123 must be text; quote it in YAML (e.g. '123')",
        ),
        (
            "currency: EUR\ncategories: {fasteners: 8000}",
            "categories.fasteners: expected a mapping, e.g. {auto_approve_below: 2000}, got 8000",
        ),
        (
            "currency: eur",
            "currency: a currency is a three-letter ISO 4217 code such as EUR, got 'eur'",
        ),
        ("auto_approve_below: 5000", "currency: required"),
        (
            "currency: EUR\nmax_usual_multiple: 0.5",
            "max_usual_multiple: must be at least 1 (below 1 would hold back requests of the "
            "usual size), got 0.5",
        ),
        (
            "currency: EUR\nmax_usual_multiple: three",
            "max_usual_multiple: the multiple must be a plain number (e.g. 3), got 'three'",
        ),
        (
            "currency: EUR\nblock_on_critical_demand_shift: 'no'",
            "block_on_critical_demand_shift: Input should be a valid boolean, got 'no'",
        ),
        (
            "currency: EUR\nexpiry_days: 0",
            "expiry_days: Input should be greater than or equal to 1, got 0",
        ),
        (
            "currency: EUR\nexpiry_days: 1.5",
            "expiry_days: Input should be a valid integer, got 1.5",
        ),
        (
            "currency: EUR\napprovers: []",
            "approvers: give at least one band; the last one without 'below' "
            "(e.g. {approver: cfo})",
        ),
        (
            "currency: EUR\napprovers: [{below: 20000, approver: buyer}, {below: 10000, "
            "approver: manager}, {approver: cfo}]",
            "approvers[1].below: bands must grow (they would overlap): 10,000 is not above "
            "approvers[0].below 20,000",
        ),
        (
            "currency: EUR\napprovers: [{below: 20000, approver: buyer}, {below: 20000, "
            "approver: manager}, {approver: cfo}]",
            "approvers[1].below: bands must grow (they would overlap): 20,000 is not above "
            "approvers[0].below 20,000",
        ),
        (
            "currency: EUR\napprovers: [{approver: buyer}, {approver: cfo}]",
            "approvers[0].below: required: only the last band is open-ended (approver 'buyer' "
            "would take every amount after it)",
        ),
        (
            "currency: EUR\napprovers: [{below: 20000, approver: buyer}]",
            "approvers[0].below: the last band must be open-ended (no 'below') so that every "
            "amount has an approver, got 20,000",
        ),
        (
            "currency: EUR\napprovers: [{below: 0, approver: buyer}, {approver: cfo}]",
            "approvers[0].below: no amount is below 0, so the band is empty",
        ),
        (
            "currency: EUR\napprovers: [{below: -1, approver: buyer}, {approver: cfo}]",
            "approvers[0].below: an amount must not be negative, got -1",
        ),
        (
            "currency: EUR\napprovers: [{below: 100, approver: ' '}, {approver: cfo}]",
            "approvers[0].approver: an approver is a role or person, as non-empty text "
            "(e.g. buyer), got ' '",
        ),
        (
            "currency: EUR\napprovers: [cfo]",
            "approvers[0]: expected a mapping, e.g. {below: 20000, approver: buyer}, got 'cfo'",
        ),
        (
            "currency: EUR\napprovers: {cfo: 1}",
            "approvers: expected a list of bands, e.g. [{below: 20000, approver: buyer}, "
            "{approver: cfo}], got {'cfo': 1}",
        ),
        (
            "currency: EUR\napprovers: [{below: 100, aprover: buyer}, {approver: cfo}]",
            "approvers[0].aprover: unknown field (did you mean 'approver'?)",
        ),
        ("currency: EUR\nversion: 2", "version: Input should be 1, got 2"),
        (
            "currency: EUR\ncurrency: USD",
            "not valid YAML: line 2 col 1: while reading a mapping the key 'currency' is "
            "given twice",
        ),
        (
            "currency: [EUR",
            "not valid YAML: line 1 col 15: while parsing a flow sequence expected ',' or ']', "
            "but got '<stream end>'",
        ),
        ("- EUR", "an approval policy is a mapping with at least 'currency', got list"),
        ("", "the policy is empty; give at least 'currency'"),
    ],
)
def test_an_invalid_policy_is_refused_naming_the_field_and_the_value(text, expected):
    assert expected in problems(text)


def test_every_problem_in_a_policy_is_reported_at_once():
    found = problems("currency: eur\nauto_approve_below: -1\nexpiry_days: 0")
    assert [line.split(":")[0] for line in found] == [
        "currency",
        "auto_approve_below",
        "expiry_days",
    ]
