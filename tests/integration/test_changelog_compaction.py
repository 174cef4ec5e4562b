"""A worker on a new host recovers every material from a changelog the log cleaner compacted.

faust-streaming issue 176: table recovery that never finishes once the
changelog's first offsets are gone. Faust 0.15.3 starts reading a changelog
partition at its earliest offset minus one; when that offset is above zero,
the seek is out of range, and the consumer's offset reset decides where
reading resumes (stockloop resets to ``earliest``).

Compaction alone does not move a partition's earliest offset: Kafka 4.1
keeps the log start at 0 and serves the first record that survived. So the
test runs twice: on the compacted changelog as the cleaner left it, and with
its log start then moved up to that first surviving record (DeleteRecords,
which removes nothing the cleaner had not already removed): the state
issue 176 describes, where the earliest offset is above zero.
"""

import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from kafka import TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from tests.integration.harness import (
    ChangelogExtent,
    Pipeline,
    PrivateBroker,
    clean_run,
    stock_view,
    synthetic_stream,
    wait_until,
)

pytestmark = pytest.mark.integration

BROKER_PORT = 19510
# The cleaner looks for work every 15 s by default; every 0.2 s here.
CLEANER = {"log.cleaner.backoff.ms": "200"}
# Small segments, cleanable at once: the cleaner compacts while the test writes.
COMPACTING = {
    "segment.ms": "300",
    "min.cleanable.dirty.ratio": "0.01",
    "min.compaction.lag.ms": "0",
}
# Kafka deletes records only from a topic that allows deletion; infinite retention deletes
# nothing by age.
DELETABLE = {"cleanup.policy": "compact,delete", "retention.ms": "-1"}
WAVES = 3
EVENTS = 300
# The stream is history (March 2026): replayed on the data clock. A wall-clock tick would
# move every material to today, between the two workers' reads.
REPLAY = "data"


@pytest.fixture(scope="module")
def cleaner_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateBroker]:
    broker = PrivateBroker(tmp_path_factory.mktemp("cleaner-broker"), BROKER_PORT, CLEANER)
    broker.start()
    yield broker
    broker.stop()


@pytest.mark.parametrize(
    "log_start_moved",
    [
        pytest.param(False, id="compacted"),
        pytest.param(True, id="compacted-earliest-offset-above-zero"),
    ],
)
def test_worker_with_empty_data_dir_recovers_every_material_from_a_compacted_changelog(
    tmp_path: Path, cleaner_broker: PrivateBroker, log_start_moved: bool
) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    settings = {"broker_port": cleaner_broker.port, "clock": REPLAY}
    first = Pipeline(tmp_path / "first", **settings)
    second = Pipeline(
        tmp_path / "second",
        app_id=first.settings.app_id,
        topic_prefix=first.settings.topic_prefix,
        **settings,
    )
    with closing(first), closing(second):
        events = synthetic_stream(EVENTS)
        first.start()
        assert first.changelog_topic("materials") in first.configure_changelogs(COMPACTING)
        write_in_waves(first, events)

        extent = wait_until(lambda: compacted(first), timeout=30, describe=lambda: extent_of(first))
        if log_start_moved:
            extent = move_log_start_to_first_record(first, extent)
            assert all(part.log_start > 0 for part in extent.values()), extent
        before = {m: settled(first.material(m)) for m in clean_run(events)}
        first.stop()

        started = time.monotonic()
        second.start()  # a new host: an empty data directory, state from the changelog only
        ready_s = time.monotonic() - started
        wait_until(lambda: all(settled(second.material(m)) == state for m, state in before.items()))
        recovered_s = time.monotonic() - started
        for material, state in before.items():
            assert settled(second.material(material)) == state, material
        assert {m: stock_view(s) for m, s in before.items()} == clean_run(events)
        print(
            f"\nchangelog {summary(extent)}; new host ready in {ready_s:.1f} s, "
            f"all {len(before)} materials equal in {recovered_s:.1f} s"
        )


def settled(state: dict | None) -> dict | None:
    """A material's state without its outbox: outputs in flight, which the new host sends
    again and drops once their cause is committed, as it should; everything else must match."""
    return None if state is None else {k: v for k, v in state.items() if k != "outbox"}


def write_in_waves(pipeline: Pipeline, events: list) -> None:
    """Send ``events`` in waves, each applied and written before the next, so that the changelog
    rolls segments and each wave overwrites the last.

    A material's state reaches the changelog once per commit, so a wave is given two commit
    intervals after it is applied: waves applied within one commit were written as one record
    per material, and the cleaner found nothing to remove.
    """
    size = len(events) // WAVES
    written_s = 2 * pipeline.settings.commit_interval_s + int(COMPACTING["segment.ms"]) / 1000
    for sent in range(size, len(events) + 1, size):
        pipeline.send_events(events[sent - size : sent])
        wait_until(lambda sent=sent: pipeline.applied() >= sent, timeout=60)
        time.sleep(written_s)


def extent_of(pipeline: Pipeline) -> dict[int, ChangelogExtent]:
    return pipeline.changelog_extent("materials")


def compacted(pipeline: Pipeline) -> dict[int, ChangelogExtent] | None:
    """The materials changelog once the cleaner removed its first records in every partition."""
    extent = extent_of(pipeline)
    if all(part.first_record and part.first_record > 0 for part in extent.values()):
        return extent
    return None


def move_log_start_to_first_record(
    pipeline: Pipeline, extent: dict[int, ChangelogExtent]
) -> dict[int, ChangelogExtent]:
    """Delete the records below each partition's first surviving one: nothing, after the cleaner,
    but the broker's earliest offset becomes that record's."""
    topic = pipeline.changelog_topic("materials")
    admin = KafkaAdminClient(
        bootstrap_servers=pipeline.settings.bootstrap_servers,
        **pipeline.settings.kafka_security.kafka_python_kwargs(),
    )
    try:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs=DELETABLE)])
        admin.delete_records(
            {TopicPartition(topic, p): part.first_record for p, part in extent.items()}
        )
    finally:
        admin.close()
    moved = extent_of(pipeline)
    assert {p: part.log_start for p, part in moved.items()} == {
        p: part.first_record for p, part in extent.items()
    }
    return moved


def summary(extent: dict[int, ChangelogExtent]) -> str:
    records = sum(part.records for part in extent.values())
    written = sum(part.end for part in extent.values())
    starts = ", ".join(f"p{p}@{part.log_start}" for p, part in sorted(extent.items()))
    return f"{records} of {written} records left by the cleaner, earliest offsets {starts}"
