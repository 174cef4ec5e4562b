"""Agent supervision: Faust's restart of a crashed agent, counted so that /health can tell.

Faust restarts an agent whose loop raised, after its supervisor's next look
(up to five seconds), and the agent's input waits meanwhile. A worker whose
agent keeps crashing still answers every request, so the crashes are counted
here (``stockloop_agent_crashes_total``) and /health reports recent ones.
"""

import asyncio
import time
from collections import deque
from typing import Any, cast

from faust.types.agents import ActorT
from mode import OneForOneSupervisor, ServiceT

from streams.metrics import AGENT_CRASHES

CRASHES_KEPT = 100
REASON_CHARS = 200


class CountingSupervisor(OneForOneSupervisor):
    """Faust's default agent supervisor, remembering when and why each actor crashed.

    Faust gives every agent its own supervisor (``agent_supervisor``), whose
    services are that agent's actors. A rebalance also stops actors, by
    cancelling them; that restart is no crash.
    """

    def __init__(self, *services: ServiceT, **kwargs: Any) -> None:
        super().__init__(*services, **kwargs)
        self.crashes: deque[tuple[float, str]] = deque(maxlen=CRASHES_KEPT)

    async def restart_service(self, service: ServiceT) -> None:
        reason = service.crash_reason
        if reason is not None and not isinstance(reason, asyncio.CancelledError):
            AGENT_CRASHES.labels(cast(ActorT, service).agent.name).inc()
            line = " ".join(f"{type(reason).__name__}: {reason}".split())
            self.crashes.append((time.monotonic(), line[:REASON_CHARS]))
        await super().restart_service(service)

    def recent_crashes(self, seconds: float) -> list[str]:
        """Why the actors crashed in the last ``seconds``, oldest first."""
        since = time.monotonic() - seconds
        return [reason for at, reason in self.crashes if at >= since]
