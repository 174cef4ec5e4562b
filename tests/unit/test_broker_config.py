"""The local broker's pure parts and its refusals, none of which start a JVM."""

import dataclasses
import os
import re
import socket
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.broker import (
    BrokerConfigError,
    BrokerStartError,
    JavaNotFoundError,
    LocalBroker,
    MavenNotFoundError,
    PortInUseError,
    SaslSslListener,
    ScramUser,
    kafka_version,
)
from streams.cli.broker import app as broker_cli
from streams.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        broker_port=19192,
        controller_port=19193,
        broker_dir=tmp_path / "broker",
        kafka_jars_dir=tmp_path / "jars",
    )


def _properties(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


@pytest.fixture
def path_with_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set PATH to a fresh directory holding stand-ins for the named programs only."""

    def make(*programs: str) -> None:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        for program in programs:
            stand_in = bin_dir / program
            stand_in.write_text("#!/bin/sh\nexit 1\n")
            stand_in.chmod(stand_in.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", str(bin_dir))

    return make


def test_server_properties_listen_on_the_configured_ports(settings: Settings) -> None:
    properties = _properties(LocalBroker(settings).server_properties())

    assert properties["listeners"] == ("PLAINTEXT://127.0.0.1:19192,CONTROLLER://127.0.0.1:19193")
    assert properties["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19192"
    assert properties["controller.quorum.voters"] == "1@127.0.0.1:19193"
    assert properties["process.roles"] == "broker,controller"


def test_server_properties_keep_data_in_the_broker_dir(settings: Settings) -> None:
    properties = _properties(LocalBroker(settings).server_properties())

    assert properties["log.dirs"] == str(settings.broker_dir / "data")


def test_internal_topics_of_a_single_node_have_one_replica(settings: Settings) -> None:
    properties = _properties(LocalBroker(settings).server_properties())

    replication_keys = [key for key in properties if key.endswith("replication.factor")]
    assert replication_keys  # offsets, transactions, share groups
    assert {properties[key] for key in replication_keys} == {"1"}


def test_clients_cannot_create_topics_by_asking_for_them(settings: Settings) -> None:
    properties = _properties(LocalBroker(settings).server_properties())

    assert properties["auto.create.topics.enable"] == "false"


def test_one_port_for_broker_and_controller_is_refused(settings: Settings) -> None:
    clash = settings.model_copy(update={"controller_port": settings.broker_port})

    with pytest.raises(BrokerConfigError, match="STOCKLOOP_CONTROLLER_PORT"):
        LocalBroker(clash).server_properties()


def test_kafka_version_comes_from_the_pom() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", kafka_version())


def test_start_without_java_says_to_install_it(
    settings: Settings, path_with_only: Callable[..., None]
) -> None:
    path_with_only()  # an empty PATH: no java

    with pytest.raises(JavaNotFoundError, match="install"):
        LocalBroker(settings).start(timeout=1)
    assert not settings.broker_dir.exists()  # refused before writing anything


def test_fetch_without_maven_says_to_install_it(
    settings: Settings, path_with_only: Callable[..., None]
) -> None:
    path_with_only("java")

    with pytest.raises(MavenNotFoundError, match="apt-get install maven"):
        LocalBroker(settings).fetch_jars()


def test_jars_of_this_kafka_version_are_not_fetched_again(
    settings: Settings, path_with_only: Callable[..., None]
) -> None:
    path_with_only()  # no mvn: fetching would fail
    broker = LocalBroker(settings)
    broker.jars_marker.parent.mkdir(parents=True)
    broker.jars_marker.touch()

    assert broker.fetch_jars() is False


def test_start_refuses_a_port_held_by_another_process(
    settings: Settings, path_with_only: Callable[..., None]
) -> None:
    path_with_only("java")  # a java that would fail if start went as far as running it
    with socket.socket() as squatter:
        squatter.bind((settings.broker_host, settings.broker_port))
        squatter.listen()

        with pytest.raises(PortInUseError, match=str(settings.broker_port)):
            LocalBroker(settings).start(timeout=1)


def test_a_stale_pid_file_is_not_a_running_broker(settings: Settings) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    settings.broker_dir.mkdir(parents=True)
    broker = LocalBroker(settings)
    broker.pid_file.write_text(f"{finished.pid}\n")

    status = broker.status()

    assert (status.running, status.pid) == (False, None)
    assert not broker.pid_file.exists()


def test_a_pid_file_naming_another_live_process_is_stale(settings: Settings) -> None:
    settings.broker_dir.mkdir(parents=True)
    broker = LocalBroker(settings)
    broker.pid_file.write_text(f"{os.getpid()}\n")  # alive, but pytest is not Kafka

    assert broker.stop() is False
    assert not broker.pid_file.exists()


@pytest.fixture
def sasl_ssl(tmp_path: Path) -> SaslSslListener:
    return SaslSslListener(
        port=19194,
        keystore=tmp_path / "broker.p12",
        keystore_password="store-secret",
        users=(ScramUser("stockloop", "user-secret"),),
    )


def test_a_sasl_ssl_listener_is_added_beside_the_plaintext_one(
    settings: Settings, sasl_ssl: SaslSslListener
) -> None:
    properties = _properties(LocalBroker(settings, sasl_ssl=sasl_ssl).server_properties())

    assert properties["listeners"] == (
        "PLAINTEXT://127.0.0.1:19192,CONTROLLER://127.0.0.1:19193,SASL_SSL://127.0.0.1:19194"
    )
    assert properties["advertised.listeners"] == (
        "PLAINTEXT://127.0.0.1:19192,SASL_SSL://127.0.0.1:19194"
    )
    assert properties["listener.security.protocol.map"].endswith(",SASL_SSL:SASL_SSL")
    assert properties["inter.broker.listener.name"] == "PLAINTEXT"
    assert properties["sasl.enabled.mechanisms"] == "SCRAM-SHA-256,SCRAM-SHA-512"
    assert properties["listener.name.sasl_ssl.ssl.keystore.location"] == str(sasl_ssl.keystore)
    assert "ScramLoginModule" in properties["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]


def test_without_a_sasl_ssl_listener_the_broker_takes_no_logins(settings: Settings) -> None:
    properties = _properties(LocalBroker(settings).server_properties())

    assert "SASL_SSL" not in properties["listeners"]
    assert not [key for key in properties if key.startswith(("sasl.", "listener.name."))]


def test_a_sasl_ssl_listener_on_the_broker_port_is_refused(
    settings: Settings, sasl_ssl: SaslSslListener
) -> None:
    clash = dataclasses.replace(sasl_ssl, port=settings.broker_port)

    with pytest.raises(BrokerConfigError, match="port of its own"):
        LocalBroker(settings, sasl_ssl=clash).server_properties()


def test_listener_and_users_keep_passwords_out_of_their_repr(sasl_ssl: SaslSslListener) -> None:
    assert "secret" not in repr(sasl_ssl)


def test_a_scram_password_the_formatter_would_split_is_refused_without_showing_it() -> None:
    with pytest.raises(BrokerConfigError, match="'stockloop'") as refused:
        ScramUser("stockloop", "pass,word")

    assert "pass,word" not in str(refused.value)


def test_the_sasl_ssl_port_must_be_free_too(
    settings: Settings, sasl_ssl: SaslSslListener, path_with_only: Callable[..., None]
) -> None:
    path_with_only("java")
    with socket.socket() as squatter:
        squatter.bind((settings.broker_host, sasl_ssl.port))
        squatter.listen()

        with pytest.raises(PortInUseError, match=str(sasl_ssl.port)):
            LocalBroker(settings, sasl_ssl=sasl_ssl).start(timeout=1)


def test_broker_start_with_a_sasl_ssl_port_names_what_else_it_needs(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKLOOP_BROKER_DIR", str(settings.broker_dir))
    monkeypatch.setenv("STOCKLOOP_BROKER_SCRAM_PASSWORD", "user-secret")
    monkeypatch.delenv("STOCKLOOP_BROKER_KEYSTORE_PASSWORD", raising=False)

    result = CliRunner().invoke(broker_cli, ["start", "--sasl-ssl-port", "19194"])

    assert result.exit_code == 1
    assert "--sasl-ssl-port needs --keystore, --scram-user, STOCKLOOP_BROKER_KEYSTORE_PASSWORD" in (
        " ".join(result.output.split())
    )
    assert not settings.broker_dir.exists()  # refused before writing anything


def test_a_restart_says_that_scram_users_come_from_the_first_start(
    settings: Settings, sasl_ssl: SaslSslListener, path_with_only: Callable[..., None]
) -> None:
    path_with_only("java")  # a java that exits at once: the start fails after the notice
    steps: list[str] = []
    broker = LocalBroker(settings, progress=steps.append, sasl_ssl=sasl_ssl)
    broker.jars_marker.parent.mkdir(parents=True)
    broker.jars_marker.touch()
    broker.data_dir.mkdir(parents=True)
    (broker.data_dir / "meta.properties").touch()  # formatted by an earlier start

    with pytest.raises(BrokerStartError):
        broker.start(timeout=5)

    assert any("SCRAM users were created when" in step for step in steps), steps
