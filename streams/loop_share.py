"""Background work that shares the event loop with the records instead of holding it."""

import asyncio
import time

SLICE_S = 0.01
"""How long background work runs before records and the web API get their turn: within the
20 ms any background work may hold the event path (issue #13)."""


async def give_way(budget_s: float) -> None:
    """Let every other task that is ready run first, for up to ``budget_s``.

    Work done in slices (ticks) calls this between two slices with the time
    the slice took, so that it takes at most half of a busy loop and all of
    an idle one. Yielding a single round of the loop was not enough: Faust
    hands a record to an agent through a dozen rounds, and each waited for a
    slice. ``_ready`` is the queue of callbacks due in the loop's next round
    (CPython's event loop); a loop without it gets a pause of ``budget_s``.
    """
    loop = asyncio.get_running_loop()
    ready = getattr(loop, "_ready", None)
    if ready is None:
        await asyncio.sleep(budget_s)
        return
    deadline = time.perf_counter() + budget_s
    await asyncio.sleep(0)
    while ready and time.perf_counter() < deadline:
        await asyncio.sleep(0)
