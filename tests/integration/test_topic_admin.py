"""Topic admin against the real broker that ``make test`` starts (STOCKLOOP_BROKER_PORT).

Each test works under its own topic prefix, so tests never see each other's topics even
on a broker shared with other runs, and deletes its topics afterwards.
"""

import socket
from collections.abc import Iterator
from uuid import uuid4

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from connectors.topic_admin import (
    BrokerUnreachableError,
    TopicAction,
    apply_catalogue,
    list_topics,
)
from streams.catalogue import ALERTS, MATERIALS, TopicSpec, load_catalogue
from streams.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings() -> Settings:
    return Settings(topic_prefix=f"t{uuid4().hex[:8]}.")


@pytest.fixture
def catalogue(settings: Settings) -> dict[str, TopicSpec]:
    return load_catalogue(settings.topics_file)


@pytest.fixture
def admin(settings: Settings) -> Iterator[KafkaAdminClient]:
    """An independent admin client: checks what the broker really has; cleans up after."""
    client = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    yield client
    ours = [topic for topic in client.list_topics() if topic.startswith(settings.topic_prefix)]
    if ours:
        client.delete_topics(ours)
    client.close()


def _configs(admin: KafkaAdminClient, topic: str, keys: list[str]) -> dict[str, str]:
    resource = ConfigResource(ConfigResourceType.TOPIC, topic, keys)
    described = admin.describe_configs([resource], config_filter="all")["topic"][topic]
    return {key: entry["value"] for key, entry in described.items()}


def test_apply_creates_every_catalogue_topic_with_declared_partitions_and_configs(
    settings: Settings, catalogue: dict[str, TopicSpec], admin: KafkaAdminClient
) -> None:
    reports = apply_catalogue(catalogue, settings)

    assert [r.topic for r in reports] == [settings.topic(name) for name in catalogue]
    assert {r.action for r in reports} == {TopicAction.CREATED}
    described = {t["name"]: t for t in admin.describe_topics([r.topic for r in reports])}
    for spec in catalogue.values():
        topic = settings.topic(spec.name)
        assert len(described[topic]["partitions"]) == spec.partitions, topic
        assert _configs(admin, topic, list(spec.config)) == spec.config, topic


def test_second_apply_creates_nothing_and_reports_every_topic_ok(
    settings: Settings, catalogue: dict[str, TopicSpec], admin: KafkaAdminClient
) -> None:
    apply_catalogue(catalogue, settings)

    again = apply_catalogue(catalogue, settings)

    assert [(r.action, r.details) for r in again] == [(TopicAction.OK, ())] * len(catalogue)


def test_topic_with_fewer_partitions_is_reported_as_drift_and_left_alone(
    settings: Settings, catalogue: dict[str, TopicSpec], admin: KafkaAdminClient
) -> None:
    alerts = settings.topic(ALERTS)
    admin.create_topics(
        {
            alerts: {
                "num_partitions": 1,
                "replication_factor": 1,
                "configs": catalogue[ALERTS].config,
            }
        }
    )

    reports = {r.topic: r for r in apply_catalogue(catalogue, settings)}

    assert reports[alerts].action is TopicAction.DRIFT
    assert any("1 partition," in detail for detail in reports[alerts].details)
    assert len(admin.describe_topics([alerts])[0]["partitions"]) == 1  # not "fixed"
    others = {r.action for topic, r in reports.items() if topic != alerts}
    assert others == {TopicAction.CREATED}


def test_topic_with_a_different_config_is_reported_as_drift(
    settings: Settings, catalogue: dict[str, TopicSpec], admin: KafkaAdminClient
) -> None:
    materials = settings.topic(MATERIALS)
    spec = catalogue[MATERIALS]
    wrong = {**spec.config, "cleanup.policy": "delete"}
    admin.create_topics(
        {materials: {"num_partitions": spec.partitions, "replication_factor": 1, "configs": wrong}}
    )

    reports = {r.topic: r for r in apply_catalogue(catalogue, settings)}

    assert reports[materials].action is TopicAction.DRIFT
    assert reports[materials].details == (
        "cleanup.policy=delete, catalogue declares cleanup.policy=compact",
    )
    assert _configs(admin, materials, ["cleanup.policy"]) == {"cleanup.policy": "delete"}


def test_list_shows_missing_topics_then_their_partitions_once_applied(
    settings: Settings, catalogue: dict[str, TopicSpec], admin: KafkaAdminClient
) -> None:
    before = list_topics(catalogue, settings)
    apply_catalogue(catalogue, settings)
    after = list_topics(catalogue, settings)

    assert [(t.exists, t.partitions) for t in before] == [(False, None)] * len(catalogue)
    assert [(t.exists, t.partitions) for t in after] == [
        (True, spec.partitions) for spec in catalogue.values()
    ]
    assert [t.description for t in after] == [spec.description for spec in catalogue.values()]


def test_apply_without_a_broker_says_how_to_start_one(catalogue: dict[str, TopicSpec]) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    nowhere = Settings(broker_port=free_port)

    with pytest.raises(BrokerUnreachableError, match="stockloop broker start"):
        apply_catalogue(catalogue, nowhere)
