"""A stockloop worker: the Faust app with every agent, timer and web view registered."""

import faust

import agents.control
import agents.ingest
import agents.material
import streams.views
from streams.app import app, settings

AGENT_MODULES = (agents.control, agents.ingest, agents.material, streams.views)


def run(loglevel: str = "info") -> None:
    """Run the worker until it is stopped (Ctrl-C or SIGTERM).

    Faust creates only the last level of its data directory, so a worker
    started in a fresh directory creates the parents here.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    faust.Worker(app, loglevel=loglevel).execute_from_commandline()
