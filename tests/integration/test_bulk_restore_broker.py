"""Workers restore their tables in bulk from the changelogs (streams.bulk_restore).

Two workers on one deployment take turns, each on its own data directory,
so each start reads changelog records the other wrote: the first start of
``second`` is cold (empty directory), its restart is warm (it restores only
from the offsets its stores persisted, over the state it already holds).
After each start every material answers with what a clean run gives.
"""

from contextlib import closing
from pathlib import Path

import pytest
from rocksdict import AccessType, Options, Rdict

from tests.integration.harness import Pipeline, clean_run, synthetic_stream

pytestmark = pytest.mark.integration

OFFSET_KEY = b"__faust\0offset__"


def persisted_offsets(pipeline: Pipeline, table: str) -> dict[int, int]:
    """The changelog offset each partition's store of ``table`` says it holds, read once the
    worker has stopped."""
    offsets = {}
    for path in sorted(pipeline.settings.data_dir.rglob(f"{table}-*.db")):
        db = Rdict(str(path), access_type=AccessType.read_only())
        try:
            if (offset := db.get(OFFSET_KEY)) is not None:
                offsets[int(path.stem.rsplit("-", 1)[1])] = int(offset)
        finally:
            db.close()
    return offsets


def stored_content(pipeline: Pipeline, table: str) -> dict[bytes, bytes]:
    """What the stores of ``table`` hold over all partitions, read once the worker has stopped."""
    content = {}
    for path in sorted(pipeline.settings.data_dir.rglob(f"{table}-*.db")):
        db = Rdict(str(path), options=Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            content.update((key, value) for key, value in db.items() if key != OFFSET_KEY)
        finally:
            db.close()
    return content


def test_cold_and_warm_starts_restore_what_the_changelog_holds(tmp_path: Path):
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    events = synthetic_stream(3000)
    waves = [events[:1000], events[1000:2000], events[2000:]]
    first = Pipeline(tmp_path / "first")
    second = Pipeline(
        tmp_path / "second",
        app_id=first.settings.app_id,
        topic_prefix=first.settings.topic_prefix,
    )
    with closing(first), closing(second):
        first.send_events(waves[0])
        first.start()
        first.assert_caught_up(clean_run(waves[0]), timeout=120, events=waves[0])
        first.stop()

        second.send_events(waves[1])
        second.start()
        second.assert_caught_up(clean_run(waves[0] + waves[1]), timeout=120, events=events)
        second.stop()
        cold = persisted_offsets(second, "materials")
        assert cold, "the cold start persisted no changelog offset"
        # A global table, every partition restored by every worker.
        availability = second.changelog_content("availability")
        assert availability, "no material published its availability"
        assert stored_content(second, "availability") == availability

        first.send_events(waves[2])
        first.start()
        first.assert_caught_up(clean_run(events), timeout=120, events=events)
        first.stop()

        second.start()
        second.assert_caught_up(clean_run(events), timeout=120, events=events)
        second.stop()
        warm = persisted_offsets(second, "materials")
        assert all(warm[partition] > offset for partition, offset in cold.items())
