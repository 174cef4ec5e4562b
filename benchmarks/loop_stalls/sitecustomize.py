"""Which event-loop callbacks of a worker hold the loop longer than 20 ms, and doing what.

Issue #13 asks that no background work hold the event path for more than
20 ms at a time. A worker started with this directory first on its
``PYTHONPATH`` and ``STOCKLOOP_STALL_LOG=PATH`` set writes one line per
callback of its event loop that ran longer than that: when it ended, how
long it ran, and the stack seen most often while it ran (a thread samples
the loop's thread every 5 ms during such a callback). ``[1/1]`` on a long
stall means the sampler itself hardly ran: the process was not on a core,
which is the machine, not the worker.

    PYTHONPATH=benchmarks/loop_stalls:. STOCKLOOP_STALL_LOG=/tmp/stalls \\
        scripts/with-test-broker.sh .venv/bin/python benchmarks/tick_cost.py --sizes 0

Python imports ``sitecustomize`` at start-up in every process; only
``stockloop worker`` processes are watched.
"""

import asyncio.events
import os
import sys
import threading
import time
from collections import Counter
from typing import Any

STALL_S = 0.02
SAMPLE_EVERY_S = 0.005
FRAMES = 8


class StallLog:
    """Times each callback of the loop's thread; samples the stack of those that run long."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._loop_thread = threading.main_thread()
        self._started: float | None = None
        self._stacks: list[tuple[str, ...]] = []

    def install(self) -> None:
        run = asyncio.events.Handle._run

        def timed(handle: asyncio.events.Handle) -> Any:
            if threading.current_thread() is not self._loop_thread:
                return run(handle)
            self._started = started = time.perf_counter()
            try:
                return run(handle)
            finally:
                took = time.perf_counter() - started
                self._started = None
                stacks, self._stacks = self._stacks, []
                if took > STALL_S:
                    self._write(took, handle, stacks)

        asyncio.events.Handle._run = timed  # type: ignore[method-assign]
        threading.Thread(target=self._sample, name="stall-sampler", daemon=True).start()

    def _write(
        self, took: float, handle: asyncio.events.Handle, stacks: list[tuple[str, ...]]
    ) -> None:
        seen = ""
        if stacks:
            stack, count = Counter(stacks).most_common(1)[0]
            seen = f" [{count}/{len(stacks)}] " + " > ".join(stack)
        with open(self._path, "a") as log:
            log.write(f"{time.time():.3f} {took * 1000:.1f}ms {handle!r:.120}{seen}\n")

    def _sample(self) -> None:
        while True:
            time.sleep(SAMPLE_EVERY_S)
            started = self._started
            if started is None or time.perf_counter() - started <= STALL_S:
                continue
            frame = sys._current_frames().get(self._loop_thread.ident or 0)
            names = []
            while frame is not None:
                code = frame.f_code
                names.append(
                    f"{os.path.basename(code.co_filename)}:{frame.f_lineno}:{code.co_name}"
                )
                frame = frame.f_back
            # Outermost first, from the loop's callback on: what the callback was doing.
            names.reverse()
            start = next(
                (i + 1 for i, name in enumerate(names) if name.startswith("events.py:")), 0
            )
            self._stacks.append(tuple(names[start : start + FRAMES]))


if (path := os.environ.get("STOCKLOOP_STALL_LOG")) and sys.argv[1:2] == ["worker"]:
    StallLog(f"{path}.{os.getpid()}").install()
