"""A stockloop worker: the Faust app with every agent, timer and web view registered."""

import faust

import agents.control
import agents.ingest
import agents.material
import streams.rewind
import streams.views
from streams.app import app

AGENT_MODULES = (agents.control, agents.ingest, agents.material, streams.rewind, streams.views)


def run(loglevel: str = "info") -> None:
    """Run the worker until it is stopped (Ctrl-C or SIGTERM)."""
    faust.Worker(app, loglevel=loglevel).execute_from_commandline()
