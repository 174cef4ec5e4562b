"""``stockloop topics delete``: a finished run takes its topics with it, and only its own."""

from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient

from tests.integration.harness import Pipeline

pytestmark = pytest.mark.integration


def test_topics_delete_removes_the_runs_catalogue_and_worker_topics_only(
    idle_pipeline: Pipeline, tmp_path: Path
):
    other = Pipeline(tmp_path / "other")
    try:
        idle_pipeline.start()
        idle_pipeline.stop()
        settings = idle_pipeline.settings

        output = idle_pipeline.cli("topics", "delete", "--yes")

        admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
        try:
            left = admin.list_topics()
        finally:
            admin.close()
        assert f"{settings.app_id}-materials-changelog" in output
        assert f"{settings.topic_prefix}stockloop.alerts" in output
        assert not [t for t in left if t.startswith((settings.topic_prefix, f"{settings.app_id}-"))]
        assert f"{other.settings.topic_prefix}stockloop.alerts" in left
    finally:
        other.close()
