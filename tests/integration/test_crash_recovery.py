"""A worker killed with SIGKILL mid-stream loses nothing and counts nothing twice."""

from contextlib import closing
from pathlib import Path

import pytest

from tests.integration.harness import Pipeline, clean_run, synthetic_stream, wait_until

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("commit_interval_s", "elsewhere"),
    [
        pytest.param(1.0, False, id="between-commits"),
        # Killed before Faust ever commits: recovery must not skip the
        # records fetched while tables recovered (see streams/transport.py).
        pytest.param(600.0, False, id="before-the-first-commit"),
        # Restarted on another host, without the local RocksDB: the state
        # comes back from the changelog alone.
        pytest.param(1.0, True, id="restarted-elsewhere"),
    ],
)
def test_sigkill_mid_stream_then_restart_equals_a_clean_run(
    tmp_path: Path, commit_interval_s: float, elsewhere: bool
):
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = Pipeline(tmp_path / "first", commit_interval_s=commit_interval_s)
    second = (
        Pipeline(
            tmp_path / "second",
            app_id=first.settings.app_id,
            topic_prefix=first.settings.topic_prefix,
            commit_interval_s=commit_interval_s,
        )
        if elsewhere
        else first
    )
    with closing(first), closing(second):
        kill_mid_stream_and_restart(first, second)


def kill_mid_stream_and_restart(pipeline: Pipeline, restarted: Pipeline) -> None:
    """Kill ``pipeline``'s worker mid-stream; ``restarted`` (maybe the same) takes over."""
    events = synthetic_stream(4000)
    first, second = events[:2500], events[2500:]
    pipeline.send_events(first)
    pipeline.start()
    wait_until(lambda: pipeline.counters().get(("erp.stock-movements", "applied"), 0) > 150)
    pipeline.kill()

    restarted.send_events(second)
    restarted.start()
    restarted.assert_caught_up(clean_run(events), timeout=180, events=events)
