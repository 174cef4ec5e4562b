"""ERP hand-off: an approved purchase request posted to the ERP as its purchase requisition.

One request is one ``POST`` of its JSON document (``request_document``) to the
ERP's endpoint, with the request id as ``Idempotency-Key``. The id is
deterministic, so after a restart, a lost answer or a retry the same request
is posted again under the same key, and the ERP answers with the reference it
gave the first time instead of creating a second requisition. The contract
for ERP engineers is ``docs/erp-handoff.md``.

What is retried is what a later attempt can change: no connection, a timeout,
a connection dropped before the answer (the ERP may have created the
requisition: the key makes the retry safe), 408, 429 and 5xx. The wait grows
exponentially with jitter, so that many workers retrying after an ERP outage
do not arrive in step; a ``Retry-After`` from the ERP is obeyed instead. Any
other answer outside 2xx is the ERP saying no (``HandoffRefused``): posting it
again would be refused again.

The client is synchronous and sleeps between attempts; an asyncio caller runs
``send`` in a thread (``asyncio.to_thread``), never on the event loop.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import httpx
import orjson

from connectors.request_export import RequestLike, request_document

RETRIED_STATUSES = frozenset({408, 429})
"""Answers below 500 that a later attempt can change: request timeout and too many requests."""

RETRIED_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
"""Transport failures worth another attempt; a bad URL or a local protocol error is not one."""

BODY_SHOWN = 200
"""How many characters of a refusal's body its message shows."""


class HandoffError(Exception):
    """A purchase request did not reach the ERP, or the ERP's answer is unusable."""

    def __init__(self, message: str, request_id: str) -> None:
        super().__init__(message)
        self.request_id = request_id


class HandoffRefused(HandoffError):
    """The ERP said no (a 4xx other than 408/429, or a 3xx): retrying would not change it."""

    def __init__(self, request_id: str, status: int, body: str) -> None:
        self.status = status
        self.body_start = " ".join(body.split())[:BODY_SHOWN]
        super().__init__(
            f"ERP refused purchase request {request_id} with HTTP {status}: "
            f"{self.body_start or '(empty body)'}",
            request_id,
        )


class HandoffUnavailable(HandoffError):
    """The ERP could not be reached or stayed unavailable: post the request again later."""


class ReferenceMissing(HandoffError):
    """The ERP accepted the request but its answer names no reference to record."""


@dataclass(frozen=True)
class ErpEndpoint:
    """Where the ERP takes purchase requisitions, and how to read its answer.

    ``reference_field`` names the field of the JSON answer that holds the ERP's
    reference (the requisition number); a dotted name reaches into an object
    (``data.requisition_no``). Without it in the answer, the ``Location``
    header is the reference.
    """

    url: str
    token: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0
    reference_field: str = "reference"

    def __post_init__(self) -> None:
        if httpx.URL(self.url).scheme not in {"http", "https"}:
            raise ValueError(f"ERP endpoint {self.url!r} is not an http:// or https:// URL")
        if self.timeout_s <= 0:
            raise ValueError(f"ERP timeout must be positive, not {self.timeout_s}")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is posted before the hand-off gives up.

    ``attempts`` counts the first post. A ``Retry-After`` longer than
    ``max_delay_s`` is not waited for: the hand-off gives up at once
    (``HandoffUnavailable``) and the request is posted again on a later run.
    """

    attempts: int = 5
    first_delay_s: float = 0.5
    max_delay_s: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"a retry policy needs at least one attempt, not {self.attempts}")
        if not 0 <= self.first_delay_s <= self.max_delay_s:
            raise ValueError("retry delays need 0 <= first_delay_s <= max_delay_s")

    def delay(self, retry: int, draw: float) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first), ``draw`` in [0, 1).

        The nominal wait doubles with each retry up to ``max_delay_s``; the jitter
        takes between half of it and all of it, so it never collapses to zero.

        >>> policy = RetryPolicy(first_delay_s=1.0, max_delay_s=5.0)
        >>> [policy.delay(retry, 0.0) for retry in (1, 2, 3, 4)]
        [0.5, 1.0, 2.0, 2.5]
        >>> policy.delay(2, 0.999) < 2.0
        True
        """
        nominal = min(self.max_delay_s, self.first_delay_s * 2 ** (retry - 1))
        return nominal * (0.5 + draw / 2)


class ErpHandoff:
    """The connector that posts approved purchase requests to the ERP and returns its reference.

    ``sleep``, ``draw`` and ``now`` are the wall clock's parts (waiting, jitter,
    and the date an HTTP-date ``Retry-After`` is counted from); tests replace
    them to run retries without waiting.
    """

    def __init__(
        self,
        endpoint: ErpEndpoint,
        retry: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.endpoint = endpoint
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._draw = draw
        self._now = now
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if endpoint.token is not None:
            headers["Authorization"] = f"Bearer {endpoint.token}"
        self._client = httpx.Client(headers=headers, timeout=endpoint.timeout_s)

    def send(self, request: RequestLike) -> str:
        """Post one approved purchase request; the ERP's reference for it.

        Raises ``HandoffRefused`` when the ERP says no, ``HandoffUnavailable``
        when every attempt failed, ``ReferenceMissing`` when the ERP accepted
        it without naming a reference, ``RequestDocumentError`` (before any post)
        when the request has no request id.
        """
        document = request_document(request)
        request_id = document["request_id"]
        body = orjson.dumps(document)
        for attempt in range(1, self.retry.attempts + 1):
            try:
                response = self._client.post(
                    self.endpoint.url, content=body, headers={"Idempotency-Key": request_id}
                )
            except RETRIED_ERRORS as error:
                problem, asked_wait = f"{type(error).__name__}: {error}", None
            else:
                if response.is_success:
                    return self._reference(request_id, response)
                if not _retried(response.status_code):
                    raise HandoffRefused(request_id, response.status_code, response.text)
                problem = f"HTTP {response.status_code}"
                asked_wait = _retry_after(response.headers.get("Retry-After"), self._now())
            if attempt == self.retry.attempts:
                break
            wait = asked_wait if asked_wait is not None else self.retry.delay(attempt, self._draw())
            if wait > self.retry.max_delay_s:
                raise HandoffUnavailable(
                    f"ERP asks to retry purchase request {request_id} after {wait:.0f} s "
                    f"({problem}), longer than the {self.retry.max_delay_s:g} s this run waits",
                    request_id,
                )
            self._sleep(wait)
        raise HandoffUnavailable(
            f"ERP did not take purchase request {request_id} in {self.retry.attempts} "
            f"attempts; last: {problem}",
            request_id,
        )

    def _reference(self, request_id: str, response: httpx.Response) -> str:
        """The ERP's reference: the configured field of the JSON answer, else ``Location``."""
        reference = _field(_json_or_none(response.content), self.endpoint.reference_field)
        if reference is None:
            reference = response.headers.get("Location") or None
        if reference is None:
            raise ReferenceMissing(
                f"ERP accepted purchase request {request_id} (HTTP {response.status_code}) "
                f"but its answer has no {self.endpoint.reference_field!r} field and no "
                "Location header",
                request_id,
            )
        return reference

    def close(self) -> None:
        """Close the connections to the ERP."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _retried(status: int) -> bool:
    return status in RETRIED_STATUSES or status >= 500


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` asks for (delay seconds or an HTTP date); None if absent or bad.

    >>> _retry_after("7", datetime(2026, 1, 1, tzinfo=UTC))
    7.0
    >>> _retry_after("Thu, 01 Jan 2026 00:00:30 GMT", datetime(2026, 1, 1, tzinfo=UTC))
    30.0
    >>> _retry_after("soon", datetime(2026, 1, 1, tzinfo=UTC)) is None
    True
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def _json_or_none(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


def _field(document: Any, dotted: str) -> str | None:
    """The text of a (dotted) field of a JSON answer; None if missing, empty or not a scalar."""
    value = document
    for name in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value) or None
