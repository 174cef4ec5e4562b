"""Topic admin: make the broker's topics match the catalogue (``topics.yaml``).

``apply_catalogue`` creates what is missing and reports, never repairs, what differs:
adding partitions moves keys to other partitions (and so breaks per-material ordering
and table ownership), and changing a retention or cleanup policy can drop data, so
both are decisions for a person, not for a deploy step.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import kafka.errors
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.errors import KafkaError

from connectors.kafka_client import BOOTSTRAP_TIMEOUT_MS
from connectors.kafka_security import BrokerRefusedError, KafkaSecurityError, refusals_explained
from streams.catalogue import TopicSpec
from streams.settings import Settings

CREATE_TIMEOUT_MS = 30_000


class TopicAdminError(Exception):
    """Topics could not be read or created."""


class BrokerUnreachableError(TopicAdminError):
    """No Kafka broker answers at the configured address."""


class TopicCreateError(TopicAdminError):
    """The broker refused to create a catalogue topic."""


class TopicAction(StrEnum):
    """What ``apply_catalogue`` found or did for one topic."""

    CREATED = "created"
    OK = "ok"
    DRIFT = "drift"


@dataclass(frozen=True)
class TopicReport:
    """The outcome of applying one catalogue topic; ``details`` explain a drift."""

    topic: str
    action: TopicAction
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class TopicListing:
    """A catalogue topic as declared, beside what the broker has (``partitions`` if it exists)."""

    topic: str
    exists: bool
    partitions: int | None
    declared_partitions: int
    description: str
    key: str
    value: str


@contextmanager
def admin_client(settings: Settings) -> Iterator[KafkaAdminClient]:
    """A connected admin client, closed on exit; fails fast with what to do if none answers."""
    security = settings.kafka_security
    try:
        with refusals_explained(settings.bootstrap_servers, security):
            client = KafkaAdminClient(
                bootstrap_servers=settings.bootstrap_servers,
                client_id=f"{settings.app_id}-topic-admin",
                bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
                **security.kafka_python_kwargs(),
            )
    except (BrokerRefusedError, KafkaSecurityError) as exc:
        raise TopicAdminError(str(exc)) from exc
    except KafkaError as exc:
        raise BrokerUnreachableError(
            f"no broker answers at {settings.bootstrap_servers}; run `stockloop broker start` "
            "(or set STOCKLOOP_BROKER_HOST / STOCKLOOP_BROKER_PORT)"
        ) from exc
    try:
        yield client
    except KafkaError as exc:
        raise TopicAdminError(
            f"the broker at {settings.bootstrap_servers} failed a request: {exc}"
        ) from exc
    finally:
        client.close()


def apply_catalogue(catalogue: Mapping[str, TopicSpec], settings: Settings) -> list[TopicReport]:
    """Create the missing catalogue topics and report drift of the others, in catalogue order.

    Idempotent: once every topic exists as declared, every report is ``ok``.
    """
    specs = {settings.topic(spec.name): spec for spec in catalogue.values()}
    with admin_client(settings) as admin:
        existing = _describe_topics(admin, list(specs))
        missing = {topic: spec for topic, spec in specs.items() if topic not in existing}
        created = _create_topics(admin, missing)
        # Topics another process created between our describe and create get checked too.
        existing.update(_describe_topics(admin, [t for t in missing if t not in created]))
        configs = _describe_configs(admin, {t: specs[t] for t in existing})
        reports = []
        for topic, spec in specs.items():
            if topic in created:
                reports.append(TopicReport(topic, TopicAction.CREATED, (_summary(spec),)))
                continue
            drift = _partition_drift(spec, existing[topic]) + _config_drift(spec, configs[topic])
            reports.append(
                TopicReport(topic, TopicAction.DRIFT if drift else TopicAction.OK, drift)
            )
    return reports


def list_topics(catalogue: Mapping[str, TopicSpec], settings: Settings) -> list[TopicListing]:
    """Every catalogue topic with whether it exists and its partition count on the broker."""
    with admin_client(settings) as admin:
        existing = _describe_topics(admin, [settings.topic(name) for name in catalogue])
    listings = []
    for spec in catalogue.values():
        described = existing.get(settings.topic(spec.name))
        listings.append(
            TopicListing(
                topic=settings.topic(spec.name),
                exists=described is not None,
                partitions=len(described["partitions"]) if described else None,
                declared_partitions=spec.partitions,
                description=spec.description,
                key=spec.key,
                value=spec.value,
            )
        )
    return listings


def _describe_topics(admin: KafkaAdminClient, topics: list[str]) -> dict[str, dict[str, Any]]:
    """Metadata of those ``topics`` that exist, by name (never auto-creates one)."""
    if not topics:
        return {}
    described = admin.describe_topics(topics)
    return {topic["name"]: topic for topic in described if topic["error_code"] == 0}


def _create_topics(admin: KafkaAdminClient, specs: Mapping[str, TopicSpec]) -> set[str]:
    """Create ``specs`` (by physical name); the names created, minus any that appeared meanwhile."""
    if not specs:
        return set()
    request = {
        topic: {
            "num_partitions": spec.partitions,
            "replication_factor": spec.replication_factor,
            "configs": spec.config,
        }
        for topic, spec in specs.items()
    }
    response = admin.create_topics(request, timeout_ms=CREATE_TIMEOUT_MS, raise_errors=False)
    created = set()
    for result in response["topics"]:
        error = kafka.errors.for_code(result["error_code"])
        if error is kafka.errors.NoError:
            created.add(result["name"])
        elif error is not kafka.errors.TopicAlreadyExistsError:
            raise TopicCreateError(
                f"the broker refused to create {result['name']}: {error.__name__}: "
                f"{result['error_message']}; fix its entry in topics.yaml"
            )
    # Created is not yet usable: wait until every partition has a leader.
    admin.wait_for_topics(sorted(created), timeout_ms=CREATE_TIMEOUT_MS)
    return created


def _describe_configs(
    admin: KafkaAdminClient, specs: Mapping[str, TopicSpec]
) -> dict[str, dict[str, str]]:
    """The broker's effective value of every config key each topic declares, by topic."""
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, topic, list(spec.config))
        for topic, spec in specs.items()
        if spec.config
    ]
    described = admin.describe_configs(resources, config_filter="all") if resources else {}
    by_topic = described.get("topic", {})
    return {
        topic: {key: entry["value"] for key, entry in by_topic.get(topic, {}).items()}
        for topic in specs
    }


def _partition_drift(spec: TopicSpec, described: Mapping[str, Any]) -> tuple[str, ...]:
    partitions = described["partitions"]
    drift = []
    if len(partitions) < spec.partitions:
        drift.append(
            f"{_partitions(len(partitions))}, catalogue declares {spec.partitions}; adding "
            "partitions moves keys (do it deliberately, e.g. kafka-topics.sh --alter)"
        )
    elif len(partitions) > spec.partitions:
        drift.append(
            f"{_partitions(len(partitions))}, catalogue declares {spec.partitions}; Kafka cannot "
            "remove partitions: recreate the topic or update topics.yaml"
        )
    replicas = min(len(partition["replica_nodes"]) for partition in partitions)
    if replicas != spec.replication_factor:
        drift.append(f"replication factor {replicas}, catalogue declares {spec.replication_factor}")
    return tuple(drift)


def _config_drift(spec: TopicSpec, actual: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(
        f"{key}={actual.get(key, '<unset>')}, catalogue declares {key}={value}"
        for key, value in spec.config.items()
        if actual.get(key) != value
    )


def _summary(spec: TopicSpec) -> str:
    configs = ", ".join(f"{key}={value}" for key, value in spec.config.items())
    layout = f"{_partitions(spec.partitions)}, replication {spec.replication_factor}"
    return f"{layout}; {configs}" if configs else layout


def _partitions(count: int) -> str:
    return "1 partition" if count == 1 else f"{count} partitions"


def ensure_changelogs(
    settings: Settings, partitions: Mapping[str, int], replication_factor: int
) -> set[str]:
    """Create the compacted table changelogs (by physical name) that are missing; those created.

    Faust subscribes to a table's changelog and only then declares it. The
    subscription of the last table declared can reach the broker first, and
    aiokafka ignores a missing topic until its next metadata refresh (five
    minutes): the table's agent fails with PartitionsMismatch until then (seen
    with the notification inboxes). Created before the worker starts, every
    changelog is there when it subscribes.
    """
    specs = {
        topic: TopicSpec(
            name=topic,
            description="changelog of a worker table",
            partitions=count,
            replication_factor=replication_factor,
            config={"cleanup.policy": "compact"},
            key="table key",
            value="table value",
            planned=True,
        )
        for topic, count in partitions.items()
    }
    with admin_client(settings) as admin:
        existing = _describe_topics(admin, list(specs))
        return _create_topics(admin, {t: s for t, s in specs.items() if t not in existing})
