"""A worker's log, written to a file, holds no terminal escape codes and no routine noise."""

import pytest

from tests.integration.harness import Pipeline

pytestmark = pytest.mark.integration


def test_a_worker_logging_to_a_file_writes_plain_lines_without_routine_warnings(
    idle_pipeline: Pipeline,
):
    idle_pipeline.start()
    idle_pipeline.stop()
    log = idle_pipeline.log_path.read_text()
    assert "\x1b" not in log
    assert "producer buffer full" not in log
    assert "Timer commit is overlapping" not in log
