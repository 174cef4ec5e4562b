"""Response policies: the approval policy, the review policy, the transfer lanes and the routes.

Each is a YAML file with a default shipped beside its model
(``models/approval.yaml``, ``models/reviews.yaml``,
``models/transfer_lanes.yaml``, ``models/routes.yaml``). A planner publishes
their own under the policy's name (``approval``, ``reviews``,
``transfer-lanes``, ``routes``) on the compacted ``stockloop.policies``
topic, and workers apply it live, as they do rule files; removing it brings
the default back. ``load_policy`` validates any of them the same way, so the
command line and the worker cannot disagree on what a file means.

>>> load_policy("transfer-lanes", "default_days: 3", "lanes.yaml").default_days
3.0
>>> try:
...     load_policy("approval", "currency: EUR\\nauto_approve_below: -1", "my.yaml")
... except PolicyError as error:
...     print(error)
my.yaml: auto_approve_below: an amount must not be negative, got -1
>>> describe(default_policy("reviews"))
'roles sales 7d, engineering 7d, finance 10d; decision within 14d; default owner \
inventory-controller'
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from models.approval import (
    ApprovalPolicy,
    ApprovalPolicyError,
    default_approval_policy,
    load_approval_policy,
)
from models.reviews import (
    ReviewPolicy,
    ReviewPolicyError,
    default_review_policy,
    load_review_policy,
)
from models.routing import RoutingError, RoutingFile, default_routing, load_routing, route_tree
from models.transfers import (
    TransferLanes,
    TransferLanesError,
    default_transfer_lanes,
    load_transfer_lanes,
)

APPROVAL = "approval"
REVIEWS = "reviews"
TRANSFER_LANES = "transfer-lanes"
ROUTES = "routes"
POLICY_NAMES = (APPROVAL, REVIEWS, TRANSFER_LANES, ROUTES)
"""The names a policy is published under: the keys of ``stockloop.policies``."""

Policy = ApprovalPolicy | ReviewPolicy | TransferLanes | RoutingFile

_DEFAULT_FILES = {
    APPROVAL: "approval.yaml",
    REVIEWS: "reviews.yaml",
    TRANSFER_LANES: "transfer_lanes.yaml",
    ROUTES: "routes.yaml",
}


class PolicyError(ValueError):
    """A policy file that cannot be accepted; ``problems`` holds one line per problem.

    Each line starts with the file (or where the text came from), then names
    the field, the value and why.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


def _check(name: str) -> str:
    if name not in POLICY_NAMES:
        raise ValueError(f"unknown policy {name!r}; policies are {', '.join(POLICY_NAMES)}")
    return name


def load_policy(name: str, text: str | bytes, source: str) -> Policy:
    """Read and validate the policy ``name`` from YAML text; ``source`` names it in errors.

    Raises ``PolicyError`` (one line per problem, each starting with
    ``source``), or ``ValueError`` for a name that is not a policy.
    """
    _check(name)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise PolicyError([f"{source}: not UTF-8 text: {error}"]) from None
    try:
        if name == APPROVAL:
            return load_approval_policy(text, source)
        if name == REVIEWS:
            return load_review_policy(text)
        if name == ROUTES:
            return load_routing(text, source)
        return load_transfer_lanes(text, source)
    except (ApprovalPolicyError, TransferLanesError, RoutingError) as error:
        raise PolicyError(error.problems) from None
    except ReviewPolicyError as error:
        raise PolicyError([f"{source}: {error}"]) from None


def default_policy(name: str) -> Policy:
    """The policy ``name`` as shipped (``default_file(name)``)."""
    _check(name)
    if name == APPROVAL:
        return default_approval_policy()
    if name == REVIEWS:
        return default_review_policy()
    if name == ROUTES:
        return default_routing()
    return default_transfer_lanes()


def default_file(name: str) -> Path:
    """The shipped file of the policy ``name``, in force until another one is published."""
    return Path(__file__).with_name(_DEFAULT_FILES[_check(name)])


def describe(policy: Policy) -> str:
    """One line that says what a policy decides, for a planner checking what they publish.

    >>> describe(default_policy("approval"))
    'auto-approve below 5,000.00 EUR (0 category and 0 ABC-class limits); approvers buyer \
below 20,000.00, purchasing_manager below 100,000.00, then cfo; never above 3x the usual \
order; approved requests expire after 14 days'
    >>> describe(load_policy("transfer-lanes", "lanes: {W2: {W1: 1}}", "lanes.yaml"))
    'default 2 days; 1 lane: W2->W1 1d'
    >>> describe(default_policy("routes"))
    '8 people in 10 groups; routes approvals, responses, reviews, critical, critical/slow, \
warnings, info; otherwise buyers'
    """
    if isinstance(policy, ApprovalPolicy):
        currency = policy.currency
        bands = ", ".join(
            f"{band.approver} below {band.below:,.2f}"
            for band in policy.approvers
            if band.below is not None
        )
        last = policy.approvers[-1].approver
        approvers = f"{bands}, then {last}" if bands else f"all {last}"
        return (
            f"auto-approve below {policy.auto_approve_below:,.2f} {currency} "
            f"({len(policy.categories)} category and {len(policy.abc_classes)} ABC-class "
            f"limits); approvers {approvers}; never above {policy.max_usual_multiple:g}x the "
            f"usual order; approved requests expire after {policy.expiry_days} days"
        )
    if isinstance(policy, ReviewPolicy):
        roles = ", ".join(f"{role} {task.deadline_days:g}d" for role, task in policy.roles.items())
        return (
            f"roles {roles}; decision within {policy.decision_deadline_days:g}d; "
            f"default owner {policy.default_owner}"
        )
    if isinstance(policy, RoutingFile):
        routes = [path.removeprefix("root/") for path, _, _ in route_tree(policy.route)][1:]
        named = ", ".join(routes[:8]) + (f", +{len(routes) - 8} more" if len(routes) > 8 else "")
        return (
            f"{len(policy.people)} people in {len(policy.groups)} groups; "
            f"routes {named or 'none below the root'}; "
            f"otherwise {', '.join(policy.route.receivers or ())}"
        )
    lanes = [
        f"{source}->{target} {days:g}d"
        for source, targets in sorted(policy.lanes.items())
        for target, days in sorted(targets.items())
    ]
    shown = ", ".join(lanes[:5]) + (f", +{len(lanes) - 5} more" if len(lanes) > 5 else "")
    count = f"{len(lanes)} lane" + ("" if len(lanes) == 1 else "s")
    return f"default {policy.default_days:g} days; {count}" + (f": {shown}" if lanes else "")


@dataclass(frozen=True)
class ResponsePolicies:
    """The response policies in force together: what the material step and the router act by."""

    approval: ApprovalPolicy = field(default_factory=default_approval_policy)
    reviews: ReviewPolicy = field(default_factory=default_review_policy)
    lanes: TransferLanes = field(default_factory=default_transfer_lanes)
    routes: RoutingFile = field(default_factory=default_routing)

    def with_policy(self, name: str, policy: Policy) -> "ResponsePolicies":
        """These policies with ``policy`` in force as the policy ``name``."""
        attribute, kind = _ATTRIBUTES[_check(name)]
        if not isinstance(policy, kind):
            raise TypeError(f"policy {name!r} must be {kind.__name__}, got {type(policy).__name__}")
        return dataclasses.replace(self, **{attribute: policy})


_ATTRIBUTES: dict[str, tuple[str, type[Policy]]] = {
    APPROVAL: ("approval", ApprovalPolicy),
    REVIEWS: ("reviews", ReviewPolicy),
    TRANSFER_LANES: ("lanes", TransferLanes),
    ROUTES: ("routes", RoutingFile),
}
