"""A stockloop worker: the Faust app with every agent, timer and web view registered."""

import sys

import faust

import agents.control
import agents.decisions
import agents.ingest
import agents.material
import agents.notifier
import agents.shortages
import streams.action_views
import streams.api_views
import streams.dashboard_views
import streams.views
from connectors.topic_admin import ensure_changelogs
from streams import worker_log
from streams.app import app, settings

AGENT_MODULES = (
    agents.control,
    agents.ingest,
    agents.material,
    agents.decisions,
    agents.shortages,
    agents.notifier,
    streams.action_views,
    streams.api_views,
    streams.views,
)


def run(loglevel: str = "info") -> None:
    """Run the worker until it is stopped (Ctrl-C or SIGTERM).

    Faust creates only the last level of its data directory, so a worker
    started in a fresh directory creates the parents here; it declares table
    changelogs racing its own subscription, so they are created here first
    (``ensure_changelogs``).
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_changelogs(
        settings,
        {table.changelog_topic.get_topic_name(): table.partitions for table in app.tables.values()},
        app.conf.topic_replication_factor,
    )
    worker_log.install(settings.commit_interval_s)
    worker = faust.Worker(app, loglevel=loglevel)
    if not sys.stdout.isatty():
        # Faust's start-up spinner draws with terminal escape codes, into log files too.
        worker.spinner = None
    worker.execute_from_commandline()
