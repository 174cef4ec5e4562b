"""Integration fixtures: an isolated pipeline per test (see ``harness``)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import Pipeline


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    """A started worker with its own topics; stopped after the test."""
    deployment = Pipeline(tmp_path)
    deployment.start()
    yield deployment
    _close_still_ready(deployment)


@pytest.fixture
def idle_pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    """Topics applied, worker not yet started: for tests that start, kill and restart it."""
    deployment = Pipeline(tmp_path)
    yield deployment
    deployment.close()


@pytest.fixture
def ticking_pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    """A started worker whose wall-clock ticks come every second (time-based rules)."""
    deployment = Pipeline(tmp_path, tick_interval_s=1.0)
    deployment.start()
    yield deployment
    _close_still_ready(deployment)


def _close_still_ready(deployment: Pipeline) -> None:
    """Stop the worker, checking first that it can still serve reads (kept its routing)."""
    try:
        deployment.wait_ready(timeout=30)
    finally:
        deployment.close()
