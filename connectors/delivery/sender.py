"""The delivery loop: every destination of a notification sent, retried, rate-limited, recorded.

For each destination the sender makes attempts until one delivers, the
platform refuses, or the retry budget is spent. Every attempt becomes a
``Delivery`` record (``delivered``; ``retrying`` with the reason; ``failed``
with the reason, at once for a refusal, or after the last attempt). What is
retried is what a later attempt can change: no answer within the timeout, a
lost connection, a 5xx, a platform's rate limit. The wait before retry *n* is
"full jitter" (a uniform draw between 0 and ``min(max_delay, first_delay *
2**(n-1))``), so that many notifications failing together do not come back
together; a platform's own ``Retry-After`` is obeyed instead, up to the
budget's longest wait.

Rate limits wait, they never drop: a robot that takes 20 messages a minute
gets the 21st a little later (``SlidingWindow``).

Delivery is at least once, with exactly-once as the aim: a destination is
identified by (notification id, channel, address), and one already delivered
(known from ``stockloop.deliveries`` at start-up, or from this process) is
not sent again; one being sent is not sent a second time beside it. A crash
between a send and its record can still send twice: the notification id
travels as the idempotency key (webhook ``Idempotency-Key``, the email's
Message-ID, the SMS's OutId) for the receiver to tell.
"""

import asyncio
import hashlib
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.delivery.base import ChannelSender, Refused, RetryLater
from models.notifications import Channel, Delivery, DeliveryStatus, Destination, Notification


@dataclass(frozen=True)
class RetryBudget:
    """How many attempts a destination gets, and how long the waits between them may grow.

    ``attempts`` counts the first one.
    """

    attempts: int = 5
    first_delay_s: float = 1.0
    max_delay_s: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"a retry budget needs at least one attempt, not {self.attempts}")
        if not 0 <= self.first_delay_s <= self.max_delay_s:
            raise ValueError("retry delays need 0 <= first_delay_s <= max_delay_s")

    def delay(self, retry: int, draw: float) -> float:
        """Seconds before retry number ``retry`` (1 for the first), ``draw`` uniform in [0, 1).

        >>> budget = RetryBudget(first_delay_s=1.0, max_delay_s=5.0)
        >>> [budget.delay(retry, 0.999) < cap for retry, cap in ((1, 1), (2, 2), (3, 4), (4, 5))]
        [True, True, True, True]
        >>> budget.delay(9, 0.5)
        2.5
        """
        return draw * min(self.max_delay_s, self.first_delay_s * 2 ** (retry - 1))


class SlidingWindow:
    """At most ``limit`` sends in any ``period_s``: a caller over the limit waits its turn.

    Why not a token bucket: a full bucket of 20 tokens refilled at 20 a minute
    lets 40 messages through within one minute, and DingTalk blocks a robot for
    ten minutes after its 21st. Waiters go in arrival order (the lock is fair).
    """

    def __init__(
        self,
        limit: int,
        period_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or period_s <= 0:
            raise ValueError(
                f"a rate limit needs limit >= 1 and period_s > 0, not {limit}/{period_s}"
            )
        self.limit = limit
        self.period_s = period_s
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Return when one more send fits in the window (at once if it fits now)."""
        async with self._lock:
            while True:
                now = self._clock()
                while self._sent and self._sent[0] + self.period_s <= now:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return
                await self._sleep(self._sent[0] + self.period_s - now)
                # The oldest send has left the window: that is what was waited for (a clock
                # read back may fall a rounding error short of it, and must not wait again).
                self._sent.popleft()


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` messages to one endpoint in any ``period_s`` (DingTalk: 20 a minute)."""

    limit: int
    period_s: float = 60.0


def destination_key(notification_id: str, channel: Channel, address: str) -> str:
    """The identity of one destination of one notification: what is delivered at most once.

    >>> destination_key("n-1", Channel.SMS, "+8613800000000") == destination_key(
    ...     "n-1", Channel.SMS, "+8613800000000")
    True
    """
    text = f"{notification_id}\x1f{channel.value}\x1f{address}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class DeliveryLedger:
    """What has been delivered, and how many attempts each destination has had so far.

    Fed with every ``Delivery`` record, old (read back from the deliveries
    topic at start-up) and new, so that attempt numbers (and so record ids)
    continue where an earlier run stopped.
    """

    delivered: set[str] = field(default_factory=set)
    attempts: dict[str, int] = field(default_factory=dict)

    def add(self, delivery: Delivery) -> None:
        """Take one record into account."""
        key = destination_key(delivery.notification_id, delivery.channel, delivery.address)
        self.attempts[key] = max(self.attempts.get(key, 0), delivery.attempt)
        if delivery.status is DeliveryStatus.DELIVERED:
            self.delivered.add(key)


class Deliverer:
    """Sends notifications on their channels and reports each attempt (see the module).

    ``limits`` are per channel, counted per endpoint (``ChannelSender.limit_key``).
    ``on_attempt`` receives every ``Delivery`` as it happens (``stockloop
    deliver`` sends it to ``stockloop.deliveries``). ``now``, ``draw`` and
    ``sleep`` are the wall clock's parts: tests may shorten them.
    """

    def __init__(
        self,
        channels: Mapping[Channel, ChannelSender],
        budget: RetryBudget,
        timeout_s: float,
        limits: Mapping[Channel, RateLimit] | None = None,
        ledger: DeliveryLedger | None = None,
        on_attempt: Callable[[Delivery], None] = lambda delivery: None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        draw: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.channels = channels
        self.budget = budget
        self.timeout_s = timeout_s
        self.limits = dict(limits or {})
        self.ledger = ledger or DeliveryLedger()
        self.on_attempt = on_attempt
        self._now = now
        self._draw = draw
        self._sleep = sleep
        self._windows: dict[str, SlidingWindow] = {}
        self._in_flight: dict[str, asyncio.Task[list[Delivery]]] = {}

    async def deliver(self, notification: Notification) -> list[Delivery]:
        """Send ``notification`` to each of its destinations at once; this call's records.

        Returns when every destination is delivered or failed. A destination
        already delivered gives no record; one being sent by another call is
        waited for, and its records belong to that call.
        """
        destinations = list(dict.fromkeys(notification.destinations))
        results = await asyncio.gather(
            *(self._destination(notification, destination) for destination in destinations)
        )
        return [delivery for records in results for delivery in records]

    async def _destination(
        self, notification: Notification, destination: Destination
    ) -> list[Delivery]:
        key = destination_key(notification.id, destination.channel, destination.address)
        if key in self.ledger.delivered:
            return []
        running = self._in_flight.get(key)
        if running is not None:
            await asyncio.shield(running)
            return []
        task = asyncio.create_task(self._attempts(notification, destination, key))
        self._in_flight[key] = task
        try:
            return await task
        finally:
            del self._in_flight[key]

    async def _attempts(
        self, notification: Notification, destination: Destination, key: str
    ) -> list[Delivery]:
        records: list[Delivery] = []
        sender = self.channels.get(destination.channel)
        first = self.ledger.attempts.get(key, 0) + 1
        for number in range(1, self.budget.attempts + 1):
            attempt = first + number - 1
            failure: RetryLater | Refused | None
            if sender is None:
                failure = Refused(
                    f"no {destination.channel.value} channel is configured for delivery"
                )
            else:
                failure = await self._attempt(sender, notification, destination.address)
            if failure is None:
                records.append(
                    self._record(notification, destination, key, attempt, DeliveryStatus.DELIVERED)
                )
                return records
            last = number == self.budget.attempts
            if isinstance(failure, Refused) or last:
                reason = failure.reason
                if isinstance(failure, RetryLater):
                    reason += f"; gave up after {number} attempts"
                records.append(
                    self._record(
                        notification, destination, key, attempt, DeliveryStatus.FAILED, reason
                    )
                )
                return records
            records.append(
                self._record(
                    notification, destination, key, attempt, DeliveryStatus.RETRYING, failure.reason
                )
            )
            wait = self.budget.delay(number, self._draw())
            if failure.retry_after_s is not None:
                wait = min(failure.retry_after_s, self.budget.max_delay_s)
            await self._sleep(wait)
        return records  # not reached: the last attempt returns above

    async def _attempt(
        self, sender: ChannelSender, notification: Notification, address: str
    ) -> RetryLater | Refused | None:
        """One attempt under the rate limit and the timeout: None if delivered, else why not."""
        await self._window(sender, address)
        try:
            async with asyncio.timeout(self.timeout_s):
                await sender.send(notification, address)
        except (RetryLater, Refused) as failure:
            return failure
        except TimeoutError:
            return RetryLater(
                f"no answer from {sender.channel.value} {address!r} within {self.timeout_s:g} s"
            )
        except (
            Exception
        ) as error:  # a channel's bug must not stop the others: no message, it may hold a secret
            return Refused(f"{type(error).__name__} in the {sender.channel.value} channel")
        return None

    async def _window(self, sender: ChannelSender, address: str) -> None:
        limit = self.limits.get(sender.channel)
        if limit is None:
            return
        name = sender.limit_key(address)
        window = self._windows.get(name)
        if window is None:
            window = SlidingWindow(limit.limit, limit.period_s)
            self._windows[name] = window
        await window.acquire()

    def _record(
        self,
        notification: Notification,
        destination: Destination,
        key: str,
        attempt: int,
        status: DeliveryStatus,
        reason: str | None = None,
    ) -> Delivery:
        delivery = Delivery(
            id=f"{key}-{attempt}",
            notification_id=notification.id,
            recipient=notification.recipient,
            channel=destination.channel,
            address=destination.address,
            attempt=attempt,
            status=status,
            at=self._now(),
            reason=reason,
        )
        self.ledger.add(delivery)
        self.on_attempt(delivery)
        return delivery
