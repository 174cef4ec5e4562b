"""Kafka for the commands: read a topic or publish to one, or exit with one clear line.

Every command that talks to Kafka goes through here, so that each connects the
same way (``connection``: address and TLS/SASL from the settings) and each
fails the same way: no broker, a broker that refuses the login or the
certificate, or a topic that does not exist, is one line on stderr that says
what to do, and exit code 1, never a traceback.
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import typer
from kafka.consumer.fetcher import ConsumerRecord
from rich.console import Console

from connectors.kafka_client import (
    BrokerUnreachableError,
    KafkaConnection,
    TopicMissingError,
    require_topics,
)
from connectors.kafka_security import BrokerRefusedError, KafkaSecurityError
from connectors.producer import OutgoingRecord, ProduceSummary, produce
from connectors.topic_reader import read_topic
from streams.settings import Settings

CREATE_TOPICS = "create the catalogue's topics with `stockloop topics apply`"
err_console = Console(stderr=True)


def connection(settings: Settings) -> KafkaConnection:
    """How this process reaches the broker, from its settings."""
    return KafkaConnection(settings.bootstrap_servers, settings.kafka_security)


def fail(message: str) -> typer.Exit:
    """Print ``message`` as one error line on stderr; the exit to raise."""
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


@contextmanager
def kafka_errors(missing_topic_hint: str = CREATE_TOPICS) -> Iterator[None]:
    """Turn no broker, a refusal or a missing topic into one line and exit code 1.

    ``missing_topic_hint`` says how the topic comes to exist (most come from
    ``topics apply``; a table's changelog from the first worker).
    """
    try:
        yield
    except (BrokerUnreachableError, BrokerRefusedError, KafkaSecurityError) as error:
        raise fail(str(error)) from None
    except TopicMissingError as error:
        raise fail(f"{error}; {missing_topic_hint}") from None


def read(
    settings: Settings, topic: str, idle_ms: int = 3000, missing_topic_hint: str = CREATE_TOPICS
) -> Iterator[ConsumerRecord]:
    """Every record of physical topic ``topic`` so far (see ``read_topic``), or exit."""
    with kafka_errors(missing_topic_hint):
        yield from read_topic(topic, connection(settings), idle_ms)


def publish(
    settings: Settings,
    records: Iterable[OutgoingRecord],
    on_record: Callable[[], None] = lambda: None,
) -> ProduceSummary:
    """Send (label, physical topic, key, value) records (see ``produce``), or exit."""
    with kafka_errors():
        return produce(records, connection(settings), on_record)


def check_topics(settings: Settings, topics: Iterable[str]) -> None:
    """Exit with one line unless the broker answers and has every one of ``topics``.

    Called before a progress bar starts, so that a refused load prints only why.
    """
    with kafka_errors():
        require_topics(connection(settings), topics)
