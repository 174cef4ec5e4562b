"""The broker stopped and restarted mid-stream: the worker resumes, nothing lost, nothing doubled.

The test runs a broker of its own, so the broker the other tests share is
untouched, and stops it as ``stockloop broker stop`` does while the worker
still has a backlog. The worker stays up through the outage: its commits,
fetches and sends fail until the broker is back, and then it must go on
from where it was, with the stock a clean run gives and every input record
counted once.

faust-streaming issue 606 (offsets committed past records still in flight)
needs an agent with ``concurrency`` above 1. Every stockloop agent runs with
Faust's default of one instance (``agents/ingest.py``, ``agents/material.py``,
``agents/control.py``), so records are acknowledged in order and a commit
never passes one in flight; this test covers the commits stockloop does make.
"""

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.integration.harness import (
    Pipeline,
    PrivateBroker,
    clean_run,
    synthetic_stream,
    topic_of,
    wait_until,
)

pytestmark = pytest.mark.integration

BROKER_PORT = 19512
EVENTS = 1800
SENT_BEFORE_THE_OUTAGE = 1300
OUTAGE_S = 4.0
OUTCOMES = ("applied", "duplicate", "dead_lettered", "tombstone")
# The stream is history (March 2026), so it is replayed on the data clock: a wall-clock
# tick would move every material to today, and the rest of the stream would then be
# refused as older than the de-duplication horizon.
REPLAY = "data"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    broker = PrivateBroker(tmp_path / "broker", BROKER_PORT)
    broker.start()
    yield broker
    broker.stop()


def test_broker_restarted_mid_stream_loses_no_event_and_applies_none_twice(
    tmp_path: Path, broker: PrivateBroker
) -> None:
    (tmp_path / "worker").mkdir()
    pipeline = Pipeline(tmp_path / "worker", broker_port=broker.port, clock=REPLAY)
    with closing(pipeline):
        events = synthetic_stream(EVENTS)
        pipeline.send_events(events[:SENT_BEFORE_THE_OUTAGE])
        pipeline.start()
        wait_until(lambda: pipeline.applied() > 150)

        stop_s = broker.stop()
        applied_at_outage = pipeline.applied()
        assert applied_at_outage < SENT_BEFORE_THE_OUTAGE, "the worker had no backlog left"
        time.sleep(OUTAGE_S)
        start_s = broker.start()
        back = time.monotonic()
        pipeline.send_events(events[SENT_BEFORE_THE_OUTAGE:])
        wait_until(lambda: pipeline.applied() > applied_at_outage, timeout=60)
        resumed_s = time.monotonic() - back
        pipeline.assert_caught_up(clean_run(events), timeout=120, events=events)
        caught_up_s = time.monotonic() - back

        counters = pipeline.counters()
        for topic, sent in Counter(topic_of(event) for event in events).items():
            outcomes = {outcome: counters.get((topic, outcome), 0) for outcome in OUTCOMES}
            assert counters[(topic, "received")] == sum(outcomes.values()), (topic, counters)
            assert outcomes["applied"] == sent, (topic, counters)
        pipeline.wait_ready(timeout=30)
        print(
            f"\nbroker stopped after {applied_at_outage:.0f} of {SENT_BEFORE_THE_OUTAGE} applied "
            f"(stop {stop_s:.1f} s, down {OUTAGE_S:g} s, start {start_s:.1f} s); worker applying "
            f"again {resumed_s:.1f} s after the broker was back, all {EVENTS} events applied "
            f"after {caught_up_s:.1f} s; counters {counters}"
        )
