"""Approval policy: which purchase requests approve themselves, and who approves the rest.

A buyer should decide the large and the unusual requests, not type the small
routine ones into the ERP. The policy is a YAML file beside the rules
(``models/approval.yaml`` is the default), validated the same way: a mistake
is reported as the file, the field path, the value and why, one line per
problem, e.g. ``policy.yaml: approvers[1].below: bands must grow: 10,000.00
is not above approvers[0].below 20,000.00``.

Amounts are in the policy's ``currency``, the currency of the material
master's ``unit_cost`` (a request's amount is its quantity times the unit
cost). Money is ``float``, as everywhere in stockloop (see ``models.events``).

The rules of ``decide``, in the order they are checked:

1. **Blocks.** Whatever its amount, a request is never approved
   automatically when its quantity is more than ``max_usual_multiple`` times
   the material's usual order quantity (only when a usual quantity is known:
   a material without order history is not blocked), or when
   ``block_on_critical_demand_shift`` is on and the material has an open
   critical ``demand_shift`` alert: the plan behind the quantity is in doubt.
   Nor is a request whose amount is unknown: neither the material master
   nor the stock on the shelf gives a unit cost, and the amount of 0 it
   carries says nothing.
2. **Amount.** A request is approved automatically when its amount is
   strictly *below* the auto-approval limit; a request of exactly the limit
   is not. The limit is the most specific one given: the material's category
   (``categories``), else its ABC class (``abc_classes``), else the policy's
   ``auto_approve_below``. A limit of 0 switches auto-approval off.
3. **Approver.** A request that is not approved automatically goes to the
   first band of ``approvers`` whose ``below`` its amount is strictly under;
   the last band has no ``below`` and takes every larger amount.

An approved request that is not ordered within ``expiry_days`` expires.

>>> policy = load_approval_policy('''
... currency: EUR
... auto_approve_below: 5000
... categories: {fasteners: {auto_approve_below: 8000}}
... approvers: [{below: 20000, approver: buyer}, {approver: cfo}]
... ''')
>>> decide(policy, amount=4800, quantity=200, category=None, abc_class="A",
...        usual_quantity=None, critical_demand_shift=False).reason
'amount 4,800.00 EUR below auto-approval limit 5,000.00 EUR (default)'
>>> decide(policy, amount=25000, quantity=10, category="fasteners", abc_class=None,
...        usual_quantity=None, critical_demand_shift=False).reason
'amount 25,000.00 EUR not below auto-approval limit 8,000.00 EUR (category fasteners): needs cfo'
>>> decide(policy, amount=900, quantity=900, category=None, abc_class=None,
...        usual_quantity=200, critical_demand_shift=False).reason
'quantity 900 is 4.5x the usual order 200 (limit 3x): needs buyer'
>>> try:
...     load_approval_policy("currency: EUR\\nauto_approve_below: -5", "policy.yaml")
... except ApprovalPolicyError as error:
...     print(error)
policy.yaml: auto_approve_below: an amount must not be negative, got -5
"""

from __future__ import annotations

import difflib
import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from models.events import AbcClass
from models.rules.spec import parse_yaml

__all__ = [
    "ApprovalDecision",
    "ApprovalPolicy",
    "ApprovalPolicyError",
    "ApproverBand",
    "AutoApprovalLimit",
    "decide",
    "default_approval_policy",
    "load_approval_policy",
]

_ABC_CLASSES = tuple(member.value for member in AbcClass)


class ApprovalPolicyError(ValueError):
    """An approval policy that cannot be accepted; ``problems`` holds one line per problem.

    Each line names the source (file), the field path, the value and why.
    """

    def __init__(self, problems: Sequence[str], source: str) -> None:
        self.problems = tuple(f"{source}: {problem}" for problem in problems)
        self.source = source
        super().__init__("\n".join(self.problems))


def _number(value: float) -> str:
    """A number as a person writes it: thousands separated, no trailing zeros.

    >>> _number(900.0), _number(4.5), _number(1234567.25)
    ('900', '4.5', '1,234,567.25')
    """
    return f"{value:,.6f}".rstrip("0").rstrip(".")


def _real(value: object, what: str, example: str) -> float:
    """A finite number; YAML turns ``5,000`` or ``5k`` into text, and ``yes`` into true."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a plain number (e.g. {example}), got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return float(value)


def _amount(value: object) -> float:
    amount = _real(value, "an amount", "5000")
    if amount < 0:
        raise ValueError(f"an amount must not be negative, got {value!r}")
    return amount


Amount = Annotated[float, BeforeValidator(_amount)]
"""A non-negative amount of money in the policy's currency."""


def _approver(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"an approver is a role or person, as non-empty text (e.g. buyer), got {value!r}"
        )
    return value.strip()


Approver = Annotated[str, BeforeValidator(_approver), Field(max_length=128)]


class AutoApprovalLimit(BaseModel):
    """An auto-approval limit for one category or ABC class, overriding the policy's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_approve_below: Amount
    """Requests strictly below this amount approve themselves; 0: none does."""


class ApproverBand(BaseModel):
    """Who approves pending requests whose amount is strictly below ``below``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    below: Amount | None = None
    """Upper bound of the band, excluded; ``None`` only for the last, open-ended band."""
    approver: Approver


_DEFAULT_BANDS = (
    ApproverBand(below=20_000, approver="buyer"),
    ApproverBand(below=100_000, approver="purchasing_manager"),
    ApproverBand(approver="cfo"),
)


class ApprovalPolicy(BaseModel):
    """The approval policy: auto-approval limits, blocks, approver bands and expiry.

    See the module docstring for how ``decide`` applies it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    """ISO 4217 code of every amount in the policy and in the requests it judges."""
    auto_approve_below: Amount = 5_000.0
    """Requests strictly below this amount approve themselves, unless an override applies."""
    categories: dict[str, AutoApprovalLimit] = Field(default_factory=dict)
    """Category -> its own limit; wins over the ABC class's and the default."""
    abc_classes: dict[AbcClass, AutoApprovalLimit] = Field(default_factory=dict)
    """ABC class -> its own limit; wins over the default."""
    max_usual_multiple: float = 3.0
    """Never auto-approve a quantity above this multiple of the material's usual order."""
    block_on_critical_demand_shift: Annotated[bool, Field(strict=True)] = True
    """Never auto-approve while the material has an open critical demand_shift alert."""
    approvers: tuple[ApproverBand, ...] = _DEFAULT_BANDS
    """Amount bands for pending requests, smallest first; the last one is open-ended."""
    expiry_days: Annotated[int, Field(ge=1, le=3650, strict=True)] = 14
    """An approved request not ordered within this many days expires."""

    @field_validator("categories", "abc_classes", mode="before")
    @classmethod
    def _overrides(cls, value: object, info: ValidationInfo) -> object:
        if value is None:  # every example commented out: no overrides
            return {}
        if not isinstance(value, Mapping):
            return value  # pydantic reports the type
        for key in value:
            if not isinstance(key, str):
                raise ValueError(f"the name {key!r} must be text; quote it in YAML (e.g. '{key}')")
            if info.field_name == "abc_classes" and key not in _ABC_CLASSES:
                close = [name for name in _ABC_CLASSES if name == key.strip().upper()]
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ValueError(
                    f"unknown ABC class {key!r}{hint}; ABC classes are {', '.join(_ABC_CLASSES)}"
                )
        return value

    @field_validator("max_usual_multiple", mode="before")
    @classmethod
    def _multiple(cls, value: object) -> float:
        multiple = _real(value, "the multiple", "3")
        if multiple < 1:
            raise ValueError(
                f"must be at least 1 (below 1 would hold back requests of the usual size), "
                f"got {value!r}"
            )
        return multiple

    @model_validator(mode="after")
    def _bands(self) -> ApprovalPolicy:
        bands = self.approvers
        if not bands:
            raise ValueError(
                "approvers: give at least one band; the last one without 'below' "
                "(e.g. {approver: cfo})"
            )
        problems: list[str] = []
        last = len(bands) - 1
        for index, band in enumerate(bands):
            if band.below is None and index < last:
                problems.append(
                    f"approvers[{index}].below: required: only the last band is open-ended "
                    f"(approver {band.approver!r} would take every amount after it)"
                )
            if band.below is not None and index == last:
                problems.append(
                    f"approvers[{index}].below: the last band must be open-ended (no 'below') "
                    f"so that every amount has an approver, got {_number(band.below)}"
                )
        bounded = [(i, band.below) for i, band in enumerate(bands) if band.below is not None]
        if bounded and bounded[0][1] == 0:
            problems.append(
                f"approvers[{bounded[0][0]}].below: no amount is below 0, so the band is empty"
            )
        for (before, low), (index, high) in itertools.pairwise(bounded):
            if high <= low:
                problems.append(
                    f"approvers[{index}].below: bands must grow (they would overlap): "
                    f"{_number(high)} is not above approvers[{before}].below {_number(low)}"
                )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def auto_approval_limit(self, category: str | None, abc_class: str | None) -> tuple[float, str]:
        """The auto-approval limit for an item, and which setting gave it.

        The most specific wins: category, then ABC class, then the default.

        >>> policy = ApprovalPolicy(currency="EUR", abc_classes={"A": {"auto_approve_below": 1000}})
        >>> policy.auto_approval_limit("bearings", "A"), policy.auto_approval_limit(None, "C")
        ((1000.0, 'ABC class A'), (5000.0, 'default'))
        """
        if category is not None and category in self.categories:
            return self.categories[category].auto_approve_below, f"category {category}"
        if abc_class is not None and abc_class in self.abc_classes:
            return self.abc_classes[abc_class].auto_approve_below, f"ABC class {abc_class}"
        return self.auto_approve_below, "default"

    def approver_for(self, amount: float) -> str:
        """The approver of the first band whose ``below`` the amount is strictly under.

        >>> policy = ApprovalPolicy(currency="EUR")
        >>> policy.approver_for(19_999.99), policy.approver_for(20_000), policy.approver_for(1e9)
        ('buyer', 'purchasing_manager', 'cfo')
        """
        for band in self.approvers:
            if band.below is None or amount < band.below:
                return band.approver
        raise AssertionError("the last band is open-ended")  # guaranteed by validation


class ApprovalDecision(BaseModel):
    """What the policy says about one purchase request, and why, in one line."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_approved: bool
    approver: str | None
    """Who must approve a request that is not auto-approved; ``None`` when it is."""
    reason: str
    """The limit that applied, with the numbers, e.g. 'amount 4,800.00 EUR below ...'."""

    @model_validator(mode="after")
    def _approver_iff_pending(self) -> ApprovalDecision:
        if self.auto_approved != (self.approver is None):
            raise ValueError("an approver is named exactly when the request is not auto-approved")
        return self


def decide(
    policy: ApprovalPolicy,
    *,
    amount: float,
    quantity: float,
    category: str | None,
    abc_class: str | None,
    usual_quantity: float | None,
    critical_demand_shift: bool,
    priced: bool = True,
) -> ApprovalDecision:
    """Whether a purchase request approves itself, or who must approve it.

    ``usual_quantity`` is the material's usual order quantity, ``None`` (or 0)
    when not known; ``critical_demand_shift`` whether the material has an
    open critical ``demand_shift`` alert. Every reason that holds a request
    back is named, so a buyer sees all of them at once.

    ``priced``: whether ``amount`` rests on a known unit cost. A request for a
    material nobody has priced carries an amount of 0, and approving it as
    if it cost nothing would let any quantity through: it goes to the first
    approver band, whose buyer knows what the material costs.

    >>> policy = ApprovalPolicy(currency="EUR")
    >>> decide(policy, amount=5000, quantity=10, category=None, abc_class=None,
    ...        usual_quantity=10, critical_demand_shift=True).reason
    'open critical demand_shift alert; amount 5,000.00 EUR not below auto-approval limit \
5,000.00 EUR (default): needs buyer'
    """
    for name, value in (("amount", amount), ("quantity", quantity)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be finite and not negative, got {value!r}")
    currency = policy.currency
    limit, source = policy.auto_approval_limit(category, abc_class)
    held: list[str] = []
    if critical_demand_shift and policy.block_on_critical_demand_shift:
        held.append("open critical demand_shift alert")
    if usual_quantity is not None and usual_quantity > 0:
        multiple = quantity / usual_quantity
        if multiple > policy.max_usual_multiple:
            held.append(
                f"quantity {_number(quantity)} is {_number(round(multiple, 2))}x the usual order "
                f"{_number(usual_quantity)} (limit {_number(policy.max_usual_multiple)}x)"
            )
    below = amount < limit
    verdict = "below" if below else "not below"
    amount_reason = (
        f"amount {amount:,.2f} {currency} {verdict} auto-approval limit "
        f"{limit:,.2f} {currency} ({source})"
    )
    if not priced:
        held.append("amount unknown: no unit cost in the material master or on the shelf")
    elif below and not held:
        return ApprovalDecision(auto_approved=True, approver=None, reason=amount_reason)
    elif not below:
        held.append(amount_reason)
    approver = policy.approver_for(amount)
    return ApprovalDecision(
        auto_approved=False, approver=approver, reason=f"{'; '.join(held)}: needs {approver}"
    )


# --- loading ------------------------------------------------------------------------------


def load_approval_policy(text: str, source: str = "<approval policy>") -> ApprovalPolicy:
    """Read and validate an approval policy from YAML text; ``source`` names it in errors.

    Raises ``ApprovalPolicyError`` with one line per problem.
    """
    try:
        data = parse_yaml(text)
    except ValueError as error:
        raise ApprovalPolicyError([str(error)], source) from None
    if data is None:
        raise ApprovalPolicyError(["the policy is empty; give at least 'currency'"], source)
    if not isinstance(data, Mapping):
        raise ApprovalPolicyError(
            [
                "an approval policy is a mapping with at least 'currency', "
                f"got {type(data).__name__}"
            ],
            source,
        )
    try:
        return ApprovalPolicy.model_validate(data)
    except ValidationError as error:
        raise ApprovalPolicyError(_problems(error), source) from None


@functools.cache
def default_approval_policy() -> ApprovalPolicy:
    """The default approval policy shipped in ``approval.yaml``."""
    path = Path(__file__).with_name("approval.yaml")
    return load_approval_policy(path.read_text(encoding="utf-8"), str(path))


# --- error messages -----------------------------------------------------------------------

_MODELS_AT: dict[tuple[str, ...], type[BaseModel]] = {
    (): ApprovalPolicy,
    ("categories",): AutoApprovalLimit,
    ("abc_classes",): AutoApprovalLimit,
    ("approvers",): ApproverBand,
}


def _allowed_fields(loc: Sequence[str | int]) -> list[str]:
    """The field names allowed where the unknown field ``loc[-1]`` was found."""
    # (field,) at the top; (categories, <name>, field) or (approvers, <index>, field) below.
    parent = (str(loc[0]),) if len(loc) > 1 else ()
    return list(_MODELS_AT.get(parent, ApprovalPolicy).model_fields)


def _path(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _message(item: Mapping[str, Any]) -> str:
    kind, loc, given = item["type"], item["loc"], item.get("input")
    if kind == "value_error":
        return str(item["ctx"]["error"])
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        allowed = _allowed_fields(loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"
        return f"unknown field{hint}"
    if kind == "string_pattern_mismatch" and loc == ("currency",):
        return f"a currency is a three-letter ISO 4217 code such as EUR, got {given!r}"
    if kind == "model_type":
        example = "{below: 20000, approver: buyer}"
        if loc[0] != "approvers":
            example = "{auto_approve_below: 2000}"
        return f"expected a mapping, e.g. {example}, got {given!r}"
    if kind == "tuple_type":
        return (
            "expected a list of bands, e.g. [{below: 20000, approver: buyer}, {approver: cfo}], "
            f"got {given!r}"
        )
    message = item["msg"]
    if not isinstance(given, Mapping | list | tuple) and len(repr(given)) <= 60:
        message += f", got {given!r}"
    return message


def _problems(error: ValidationError) -> list[str]:
    problems: list[str] = []
    for item in error.errors(include_url=False):
        path = _path(item["loc"])
        for line in _message(item).splitlines():
            problems.append(": ".join(part for part in (path, line) if part))
    return problems
