"""The one place Kafka clients are built: their options, and no broker said at once."""

import socket
import time

import pytest

from connectors.kafka_client import (
    BOOTSTRAP_TIMEOUT_MS,
    BrokerUnreachableError,
    KafkaConnection,
    open_consumer,
    open_producer,
)
from connectors.kafka_security import KafkaSecurity


def test_no_client_asks_the_broker_to_create_a_topic() -> None:
    assert KafkaConnection("127.0.0.1:9092").client_options()["allow_auto_create_topics"] is False


def test_every_client_gets_the_connection_s_login() -> None:
    security = KafkaSecurity(protocol="SASL_PLAINTEXT", username="ana", password="s3cret")

    options = KafkaConnection("broker:9093", security).client_options()

    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("ana", "s3cret")


@pytest.mark.parametrize("open_client", [open_consumer, open_producer])
def test_without_a_broker_a_client_gives_up_in_seconds_naming_the_address(open_client) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: refused

        started = time.monotonic()
        with pytest.raises(BrokerUnreachableError, match=f"no Kafka broker answers at {address}"):
            open_client(KafkaConnection(address))

    assert time.monotonic() - started < BOOTSTRAP_TIMEOUT_MS / 1000 + 2
