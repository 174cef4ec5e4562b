"""The sender's arithmetic: full-jitter backoff within its bounds, and a rate limit that waits."""

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from connectors.delivery.base import scrub, secrets_in
from connectors.delivery.sender import RetryBudget, SlidingWindow, destination_key
from models.notifications import Channel


@given(
    retry=st.integers(1, 40),
    draw=st.floats(0, 1, exclude_max=True),
    first=st.floats(0, 10),
    extra=st.floats(0, 100),
)
def test_a_backoff_wait_lies_between_zero_and_the_doubled_delay_capped_at_the_maximum(
    retry: int, draw: float, first: float, extra: float
):
    budget = RetryBudget(attempts=3, first_delay_s=first, max_delay_s=first + extra)
    wait = budget.delay(retry, draw)
    assert 0 <= wait <= min(first + extra, first * 2 ** (retry - 1))


class FakeClock:
    """Time that passes only when someone sleeps: the window's waits, measured exactly."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


@given(limit=st.integers(1, 5), period=st.floats(0.5, 120), sends=st.integers(1, 30))
def test_a_rate_limit_lets_every_send_through_in_order_never_more_than_the_limit_per_period(
    limit: int, period: float, sends: int
):
    clock = FakeClock()
    window = SlidingWindow(limit, period, clock=clock, sleep=clock.sleep)
    granted: list[tuple[int, float]] = []

    async def send(number: int) -> None:
        await window.acquire()
        granted.append((number, clock.now))

    async def burst() -> None:
        await asyncio.gather(*(send(number) for number in range(sends)))

    asyncio.run(burst())
    assert [number for number, _ in granted] == list(range(sends))
    times = [at for _, at in granted]
    assert all(times[i + limit] - times[i] >= period - 1e-9 for i in range(sends - limit))
    # Waiting, not more than needed: the first `limit` go at once.
    assert times[: min(limit, sends)] == [0.0] * min(limit, sends)


def test_a_destination_is_one_notification_on_one_channel_to_one_address():
    key = destination_key("ntf-1", Channel.DINGTALK, "buyers")
    assert key != destination_key("ntf-2", Channel.DINGTALK, "buyers")
    assert key != destination_key("ntf-1", Channel.WECOM, "buyers")
    assert key != destination_key("ntf-1", Channel.DINGTALK, "planners")


def test_a_platform_message_is_scrubbed_of_the_url_its_token_and_the_secret():
    url = "https://open.feishu.cn/open-apis/bot/v2/hook/hook-token-123456?x=query-value-99"
    said = f"bad request to {url}; hook hook-token-123456, sign SEC-9 and query-value-99 wrong"
    cleaned = scrub(said, secrets_in(url, "SEC-9"))
    for secret in ("hook-token-123456", "query-value-99", "SEC-9", "open-apis"):
        assert secret not in cleaned
    assert cleaned.startswith("bad request to ***;")
