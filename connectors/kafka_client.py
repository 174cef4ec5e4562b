"""Kafka clients of the CLI and the connectors: one place that builds them, and its refusals.

Every kafka-python producer and consumer of the CLI is built here from a
``KafkaConnection``: the bootstrap address and the TLS/SASL security, so each
connects as the worker does, and a broker that refuses the login or the
certificate is said so (``BrokerRefusedError``). Two options are not defaults
of kafka-python:

- no topic is ever created by asking for it: kafka-python's clients ask the
  broker to auto-create a topic they request metadata for, and a broker that
  allows it creates it with its default layout (1 partition where the catalogue
  declares 4), so a typo or a wrong prefix left a broken topic behind;
- a broker that does not answer is given up on after a few seconds, not the
  30 s kafka-python waits by default, so a command without a broker says so
  at once.
"""

from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaConnectionError, KafkaTimeoutError

from connectors.kafka_security import KafkaSecurity, refusals_explained

BOOTSTRAP_TIMEOUT_MS = 2_000
"""How long a client tries to reach the broker before it gives up.

A local or same-datacentre broker answers within milliseconds; a command
whose broker is down then fails within about three seconds, startup included."""


UNREACHABLE = (KafkaTimeoutError, KafkaConnectionError)
"""What kafka-python raises when it cannot bootstrap and the broker did not refuse us."""


class BrokerUnreachableError(ConnectionError):
    """No Kafka broker answers at the bootstrap address."""

    def __init__(self, bootstrap_servers: str) -> None:
        super().__init__(
            f"no Kafka broker answers at {bootstrap_servers}; start one (`stockloop broker "
            "start`) or set STOCKLOOP_BROKER_HOST / STOCKLOOP_BROKER_PORT"
        )
        self.bootstrap_servers = bootstrap_servers


class TopicMissingError(LookupError):
    """A topic to read or write does not exist (and is never created by a client)."""

    def __init__(self, topic: str) -> None:
        super().__init__(f"topic {topic} does not exist")
        self.topic = topic


@dataclass(frozen=True)
class KafkaConnection:
    """Where the broker is and how to reach it: plain options, not the app's settings."""

    bootstrap_servers: str
    security: KafkaSecurity = field(default_factory=KafkaSecurity)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments every kafka-python client of stockloop is built with."""
        return {
            "bootstrap_servers": self.bootstrap_servers,
            "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS,
            "allow_auto_create_topics": False,
            **self.security.kafka_python_kwargs(),
        }


def open_consumer(connection: KafkaConnection, **options: Any) -> KafkaConsumer:
    """A connected consumer with ``options`` (no topics: the caller assigns partitions)."""
    try:
        with refusals_explained(connection.bootstrap_servers, connection.security):
            return KafkaConsumer(**connection.client_options(), **options)
    except UNREACHABLE as error:
        raise BrokerUnreachableError(connection.bootstrap_servers) from error


def open_producer(connection: KafkaConnection, **options: Any) -> KafkaProducer:
    """A connected producer with ``options``."""
    try:
        with refusals_explained(connection.bootstrap_servers, connection.security):
            return KafkaProducer(**connection.client_options(), **options)
    except UNREACHABLE as error:
        raise BrokerUnreachableError(connection.bootstrap_servers) from error


def partitions_of(consumer: KafkaConsumer, topic: str) -> set[int]:
    """The partition ids of ``topic``; ``TopicMissingError`` if it does not exist.

    The lookup asks the broker for the metadata of all topics, which never
    creates one, whatever the broker allows.
    """
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise TopicMissingError(topic)
    return partitions


def require_topics(connection: KafkaConnection, topics: Iterable[str]) -> None:
    """Check that the broker answers and has ``topics``, before a command starts its work."""
    with closing(open_consumer(connection)) as consumer:
        for topic in topics:
            partitions_of(consumer, topic)
