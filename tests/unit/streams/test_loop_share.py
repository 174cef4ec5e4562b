import asyncio
import time

from streams.loop_share import give_way


async def _rounds(count: int, done: list[int]) -> None:
    for step in range(count):
        done.append(step)
        await asyncio.sleep(0)


def test_give_way_lets_a_task_that_needs_many_rounds_finish_first():
    async def scenario() -> list[int]:
        done: list[int] = []
        other = asyncio.create_task(_rounds(50, done))
        await asyncio.sleep(0)
        await give_way(5.0)
        finished = list(done)
        await other
        return finished

    assert asyncio.run(scenario()) == list(range(50))


def test_give_way_on_an_idle_loop_returns_without_using_its_budget():
    async def scenario() -> float:
        started = time.perf_counter()
        await give_way(5.0)
        return time.perf_counter() - started

    assert asyncio.run(scenario()) < 1.0


def test_give_way_returns_after_its_budget_when_others_never_stop():
    async def scenario() -> float:
        stop = asyncio.Event()

        async def busy() -> None:
            while not stop.is_set():
                await asyncio.sleep(0)

        other = asyncio.create_task(busy())
        await asyncio.sleep(0)
        started = time.perf_counter()
        await give_way(0.05)
        waited = time.perf_counter() - started
        stop.set()
        await other
        return waited

    assert 0.05 <= asyncio.run(scenario()) < 5.0
