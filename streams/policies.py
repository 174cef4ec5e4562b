"""The response policies in force on this worker: the published ones, else the shipped defaults.

``stockloop policies apply`` publishes a policy on ``stockloop.policies``;
the control agent mirrors it into the global ``policies`` table, which every
worker reads here. Each stored version is parsed once (``_parse`` is cached by
its bytes), so reading the policies for every record costs one table read per
policy (approval, reviews, transfer-lanes, routes).

A stored policy that fails validation should not happen (the command line
validates before it publishes), but a record written by another tool could:
it is logged and counted once per version (``stockloop_policy_errors``), and
the last good policy, or the default, stays in force, as a bad rule file does.
"""

import logging
from collections.abc import Mapping
from functools import lru_cache

from models.response_policies import (
    POLICY_NAMES,
    Policy,
    PolicyError,
    ResponsePolicies,
    default_policy,
    load_policy,
)
from streams.app import policies_table
from streams.catalogue import POLICIES
from streams.metrics import POLICY_ERRORS

__all__ = ["PolicyReader", "ResponsePolicies", "current_policies"]

log = logging.getLogger(__name__)


@lru_cache(maxsize=16)
def _parse(name: str, stored: bytes) -> Policy:
    """The policy ``name`` stored as ``stored`` (parsed once per version)."""
    return load_policy(name, stored, f"{POLICIES}[{name}]")


class PolicyReader:
    """The response policies a table of published policies holds, as of each call.

    ``table`` maps a policy name to its published YAML; a name it lacks (never
    published, or reset by a tombstone) is the shipped default.
    """

    def __init__(self, table: Mapping[str, bytes]) -> None:
        self._table = table
        self._seen: dict[str, bytes | None] = dict.fromkeys(POLICY_NAMES)
        self._policies = ResponsePolicies()

    def current(self) -> ResponsePolicies:
        """The policies in force now; a version that fails validation leaves the last good one."""
        for name in POLICY_NAMES:
            stored = self._table.get(name)
            if stored != self._seen[name]:
                self._seen[name] = stored
                self._take(name, stored)
        return self._policies

    def _take(self, name: str, stored: bytes | None) -> None:
        try:
            policy = default_policy(name) if stored is None else _parse(name, stored)
        except PolicyError as error:
            POLICY_ERRORS.labels(name).inc()
            log.error("%s: keeping the policy in force: %s", POLICIES, "; ".join(error.problems))
            return
        self._policies = self._policies.with_policy(name, policy)


_reader = PolicyReader(policies_table)


def current_policies() -> ResponsePolicies:
    """The approval policy, review policy, transfer lanes and routes in force on this worker now."""
    return _reader.current()
