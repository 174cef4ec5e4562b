"""A stockloop worker: the Faust app with every agent, timer and web view registered."""

import sys

import faust

import agents.control
import agents.decisions
import agents.ingest
import agents.material
import agents.shortages
import streams.action_views
import streams.views
from streams import worker_log
from streams.app import app, settings

AGENT_MODULES = (
    agents.control,
    agents.ingest,
    agents.material,
    agents.decisions,
    agents.shortages,
    streams.views,
)


def run(loglevel: str = "info") -> None:
    """Run the worker until it is stopped (Ctrl-C or SIGTERM).

    Faust creates only the last level of its data directory, so a worker
    started in a fresh directory creates the parents here.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    worker_log.install(settings.commit_interval_s)
    worker = faust.Worker(app, loglevel=loglevel)
    if not sys.stdout.isatty():
        # Faust's start-up spinner draws with terminal escape codes, into log files too.
        worker.spinner = None
    worker.execute_from_commandline()
