"""The agent supervisor restarts crashed actors as Faust's does, and remembers the crashes."""

import asyncio
from types import SimpleNamespace

from mode import Service
from prometheus_client import REGISTRY

from streams.supervision import CountingSupervisor


class FlakyActor(Service):
    """An actor that crashes with ``error`` on each of its first ``crashes`` starts."""

    def __init__(self, crashes: int, error: BaseException) -> None:
        self.agent = SimpleNamespace(name="flaky")
        self.crashes_left = crashes
        self.error = error
        super().__init__()

    async def on_started(self) -> None:
        if self.crashes_left:
            self.crashes_left -= 1
            await self.crash(self.error)


async def supervise(actor: FlakyActor) -> CountingSupervisor:
    supervisor = CountingSupervisor(actor)
    actor.supervisor = supervisor
    await supervisor.start()
    for _ in range(100):
        if actor.crashes_left == 0 and not actor.crashed:
            break
        supervisor.wakeup()
        await asyncio.sleep(0.02)
    await supervisor.stop()
    return supervisor


def crashes_counted() -> float:
    return REGISTRY.get_sample_value("stockloop_agent_crashes_total", {"agent": "flaky"}) or 0.0


def test_crashes_are_counted_with_their_reason_and_the_actor_restarted() -> None:
    before = crashes_counted()

    supervisor = asyncio.run(supervise(FlakyActor(2, ValueError("bad\nrecord"))))

    assert supervisor.recent_crashes(60) == ["ValueError: bad record"] * 2
    assert supervisor.recent_crashes(0) == []
    assert crashes_counted() - before == 2


def test_a_rebalance_restart_is_no_crash() -> None:
    supervisor = asyncio.run(supervise(FlakyActor(1, asyncio.CancelledError())))

    assert supervisor.recent_crashes(60) == []
