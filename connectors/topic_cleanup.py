"""Removing a deployment's topics: a demo or test run leaves nothing behind on a shared broker.

A deployment is a topic prefix and an app id: its topics are the catalogue's
under ``STOCKLOOP_TOPIC_PREFIX`` and the ones Faust creates under
``STOCKLOOP_APP_ID`` (a changelog per table, the partition assignor's leader
topic). Deleting drops their records for good, so it is for runs that are
over, never a deploy step.
"""

from collections.abc import Iterable

from connectors.topic_admin import admin_client
from streams.settings import Settings

DELETE_TIMEOUT_MS = 30_000
FAUST_TOPIC_ENDINGS = ("-changelog", "-repartition", "-__assignor-__leader")
"""How the names of the topics Faust creates for an app end (after ``<app id>-``)."""


def deployment_topics(
    existing: Iterable[str], catalogue_topics: Iterable[str], prefix: str, app_id: str
) -> list[str]:
    """The topics of ``existing`` that belong to this deployment: catalogue first, then Faust's.

    >>> deployment_topics(
    ...     ["demo-1.erp.materials", "erp.materials", "demo-1-materials-changelog", "other-x"],
    ...     ["erp.materials"], prefix="demo-1.", app_id="demo-1")
    ['demo-1.erp.materials', 'demo-1-materials-changelog']
    """
    existing = set(existing)
    catalogue = sorted(existing & {f"{prefix}{name}" for name in catalogue_topics})
    internal = sorted(
        topic
        for topic in existing - set(catalogue)
        if topic.startswith(f"{app_id}-") and topic.endswith(FAUST_TOPIC_ENDINGS)
    )
    return catalogue + internal


def find_deployment_topics(catalogue_topics: Iterable[str], settings: Settings) -> list[str]:
    """The broker's topics of the deployment ``settings`` describe (see ``deployment_topics``)."""
    with admin_client(settings) as admin:
        existing = admin.list_topics()
    return deployment_topics(existing, catalogue_topics, settings.topic_prefix, settings.app_id)


def delete_topics(topics: list[str], settings: Settings) -> None:
    """Delete ``topics`` and wait until the broker has accepted the deletion of each."""
    if not topics:
        return
    with admin_client(settings) as admin:
        admin.delete_topics(topics, timeout_ms=DELETE_TIMEOUT_MS)
