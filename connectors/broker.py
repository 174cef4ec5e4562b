"""The local Kafka broker: one KRaft node (broker and controller) run from Maven Central jars.

Integration tests run against a real Apache Kafka (design principle 1), and a machine
without Docker still needs one. This module fetches the jars named by ``broker/pom.xml``
with Maven, formats a data directory once, and runs ``kafka.Kafka`` detached in its own
session so that it outlives the command that started it. Everything it writes lives in
``settings.broker_dir``: ``server.properties``, ``data/`` (kept between restarts),
``logs/server.log``, ``broker.out`` (the JVM's console) and ``broker.pid``.
"""

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from streams.settings import PROJECT_ROOT, Settings

BROKER_FILES = PROJECT_ROOT / "broker"
POM_FILE = BROKER_FILES / "pom.xml"
LOG_CONFIG_FILE = BROKER_FILES / "log4j2.yaml"

# A test broker on a 2-core machine: a small heap, and the JVM options of Kafka's own
# start script (G1 with short pauses).
JVM_OPTIONS = (
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
NODE_ID = 1
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
SCRAM_UNSAFE = ',[]"'
SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
LOG_TAIL_LINES = 25
PROBE_TIMEOUT_S = 2.0


class BrokerError(Exception):
    """The local broker could not be fetched, started or stopped.

    ``message`` is one line saying what went wrong and what to do; ``detail`` (often the
    tail of a log) backs it up.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message}\n{self.detail}" if self.detail else self.message


class JavaNotFoundError(BrokerError):
    """No ``java`` on PATH: the broker is a JVM program."""


class MavenNotFoundError(BrokerError):
    """No ``mvn`` on PATH, and the Kafka jars have not been fetched yet."""


class JarFetchError(BrokerError):
    """Maven ran but could not fetch the Kafka jars."""


class BrokerConfigError(BrokerError):
    """The settings cannot describe a working broker (e.g. one port for two listeners)."""


class PortInUseError(BrokerError):
    """A port the broker needs is held by a process that is not this broker."""


class BrokerStartError(BrokerError):
    """The broker was launched but died, or did not answer in time."""


class BrokerStopError(BrokerError):
    """The broker process could not be ended."""


@dataclass(frozen=True)
class ScramUser:
    """A SCRAM login the broker knows, created when its storage is formatted."""

    username: str
    password: str = field(repr=False)
    mechanism: str = "SCRAM-SHA-512"

    def __post_init__(self) -> None:
        # The formatter splits its --add-scram argument at these, quoted or not.
        if any(char in SCRAM_UNSAFE for char in self.username + self.password):
            raise BrokerConfigError(
                f"the name or password of SCRAM user {self.username!r} contains one of "
                f"{' '.join(SCRAM_UNSAFE)}, which Kafka's storage formatter cannot take; "
                "choose another"
            )
        if self.mechanism not in SCRAM_MECHANISMS:
            raise BrokerConfigError(
                f"SCRAM user {self.username!r}: mechanism {self.mechanism!r} is not one of "
                f"{', '.join(SCRAM_MECHANISMS)}"
            )


@dataclass(frozen=True)
class SaslSslListener:
    """A second client listener that, like a production cluster's, takes only TLS + SCRAM.

    ``keystore`` is a PKCS12 file with the broker's private key and certificate chain;
    the certificate must name the broker's host (for 127.0.0.1, an IP subjectAltName),
    since clients check it. The plaintext listener stays: the broker uses it itself,
    and so do the probe and every other test.
    """

    port: int
    keystore: Path
    keystore_password: str = field(repr=False)
    users: tuple[ScramUser, ...] = ()


@dataclass(frozen=True)
class BrokerStatus:
    """What ``stockloop broker status`` reports about the broker in one ``broker_dir``."""

    running: bool
    pid: int | None
    host: str
    port: int
    answering: bool
    data_dir: Path
    kafka_version: str


def kafka_version(pom_file: Path = POM_FILE) -> str:
    """The Kafka version the pom fetches: its ``kafka.version`` property, set nowhere else."""
    if not pom_file.exists():
        raise BrokerConfigError(
            f"{pom_file} is missing; the local broker runs from a stockloop source checkout"
        )
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ET.parse(pom_file).getroot().findtext("m:properties/m:kafka.version", None, namespace)
    if not version:
        raise BrokerConfigError(f"{pom_file} has no <properties><kafka.version>; restore it")
    return version.strip()


def new_cluster_id() -> str:
    """A fresh KRaft cluster id, as ``kafka-storage.sh random-uuid`` prints it.

    Generated here to spare a JVM start: 16 random bytes, URL-safe base64 without
    padding. Kafka avoids ids that start with ``-`` because they read like an option.

    >>> cluster_id = new_cluster_id()
    >>> len(cluster_id), cluster_id.startswith("-")
    (22, False)
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, or a note that it is empty or missing."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    if not text.strip():
        return f"({path} is empty)"
    return f"--- last lines of {path} ---\n" + "\n".join(text.splitlines()[-lines:])


def _port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now.

    SO_REUSEADDR, as Kafka's own server socket uses, so that connections of a broker
    that just stopped (TIME_WAIT) do not count as "in use".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _accepts_connections(host: str, port: int) -> bool:
    """Whether anything listens on ``host:port``; cheap, so probes fail fast."""
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def _answers_metadata(host: str, port: int) -> bool:
    """Whether a Kafka broker at ``host:port`` answers and is registered and unfenced."""
    if not _accepts_connections(host, port):
        return False
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=f"{host}:{port}",
            client_id="stockloop-broker-probe",
            bootstrap_timeout_ms=int(PROBE_TIMEOUT_S * 1000),
            request_timeout_ms=int(PROBE_TIMEOUT_S * 1000),
        )
    except KafkaError:
        return False
    try:
        cluster = admin.describe_cluster()
    except KafkaError:
        return False
    finally:
        admin.close()
    return any(not broker.get("is_fenced", False) for broker in cluster["brokers"])


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists; reaps it first if it is our own exited child."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped:
            return False
    except ChildProcessError:
        pass  # not our child: the usual case, the broker was started by another command
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _sasl_ssl_properties(
    listener: SaslSslListener, host: str, plain: dict[str, str]
) -> dict[str, str]:
    """The properties that add ``listener`` beside the plaintext ones in ``plain``.

    SCRAM needs no user list in the file: the users are records in the cluster's
    metadata, written by the storage formatter (``--add-scram``).
    """
    prefix = "listener.name.sasl_ssl"
    address = f"SASL_SSL://{host}:{listener.port}"
    properties = {
        "listeners": f"{plain['listeners']},{address}",
        "advertised.listeners": f"{plain['advertised.listeners']},{address}",
        "listener.security.protocol.map": (
            f"{plain['listener.security.protocol.map']},SASL_SSL:SASL_SSL"
        ),
        "sasl.enabled.mechanisms": ",".join(SCRAM_MECHANISMS),
        f"{prefix}.ssl.keystore.type": "PKCS12",
        f"{prefix}.ssl.keystore.location": str(listener.keystore),
        f"{prefix}.ssl.keystore.password": listener.keystore_password,
    }
    for mechanism in SCRAM_MECHANISMS:
        properties[f"{prefix}.{mechanism.lower()}.sasl.jaas.config"] = SCRAM_LOGIN_MODULE
    return properties


def _read_properties(path: Path) -> dict[str, str]:
    """The ``key=value`` lines of a Java properties file written by this module."""
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


class LocalBroker:
    """A single-node KRaft Kafka broker owned by one ``settings.broker_dir``.

    Every method is idempotent and safe to call from separate commands: the pid file in
    ``broker_dir`` is the only shared state. ``progress`` receives one line per slow step
    (fetching jars, formatting, waiting), so a CLI can show it without this class printing.
    """

    def __init__(
        self,
        settings: Settings,
        progress: Callable[[str], None] | None = None,
        sasl_ssl: SaslSslListener | None = None,
    ) -> None:
        self.settings = settings
        self.sasl_ssl = sasl_ssl
        self._progress = progress or (lambda _message: None)
        self.version = kafka_version()
        broker_dir = settings.broker_dir
        self.properties_file = broker_dir / "server.properties"
        self.data_dir = broker_dir / "data"
        self.logs_dir = broker_dir / "logs"
        self.server_log = self.logs_dir / "server.log"
        self.console_log = broker_dir / "broker.out"
        self.pid_file = broker_dir / "broker.pid"
        self.jars_marker = settings.kafka_jars_dir / f".fetched-kafka-{self.version}"

    def server_properties(self) -> str:
        """The ``server.properties`` of this broker: combined mode, plaintext, replication 1.

        With a SASL_SSL listener, they hold its keystore password, as any Kafka
        broker's do; the file is readable by its owner only.
        """
        host = self.settings.broker_host
        port = self.settings.broker_port
        controller_port = self.settings.controller_port
        if port == controller_port:
            raise BrokerConfigError(
                f"broker and controller both on port {port}; "
                "set STOCKLOOP_CONTROLLER_PORT to another free port"
            )
        if self.sasl_ssl is not None and self.sasl_ssl.port in (port, controller_port):
            raise BrokerConfigError(
                f"the SASL_SSL listener's port {self.sasl_ssl.port} is also the broker's or "
                "the controller's; give it a port of its own"
            )
        properties = {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            "controller.quorum.voters": f"{NODE_ID}@{host}:{controller_port}",
            "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://{host}:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            # One node: every internal topic can only have one replica.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # The 50 partitions Kafka gives its internal topics by default take seconds
            # to create on the first consumer group; a test broker needs few.
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.num.partitions": "4",
            # Tests start consumer groups often; waiting for late joiners only slows them.
            "group.initial.rebalance.delay.ms": "0",
            "num.partitions": "1",
            # As on production clusters: a client asking for a topic that does not exist
            # must not create it with num.partitions (1, where the catalogue says 4).
            "auto.create.topics.enable": "false",
        }
        if self.sasl_ssl is not None:
            properties |= _sasl_ssl_properties(self.sasl_ssl, host, properties)
        header = (
            "# Written by `stockloop broker start` from STOCKLOOP_* settings; edits are lost.\n"
        )
        return header + "".join(f"{key}={value}\n" for key, value in properties.items())

    def fetch_jars(self) -> bool:
        """Fetch the Kafka jars with Maven unless this version's are already there.

        Returns whether it fetched. The marker file names the Kafka version, so bumping
        ``kafka.version`` in the pom refetches; old jars are removed first because two
        Kafka versions on one classpath do not run.
        """
        if self.jars_marker.exists():
            return False
        mvn = shutil.which("mvn")
        jars_dir = self.settings.kafka_jars_dir
        if mvn is None:
            raise MavenNotFoundError(
                f"`mvn` is not on PATH; it fetches the Kafka {self.version} jars once. "
                "Install Maven (Debian/Ubuntu: `apt-get install maven`, macOS: "
                f"`brew install maven`), or put the jars in {jars_dir} and create "
                f"{self.jars_marker}"
            )
        jars_dir.mkdir(parents=True, exist_ok=True)
        for stale in [*jars_dir.glob("*.jar"), *jars_dir.glob(".fetched-kafka-*")]:
            stale.unlink()
        self._progress(
            f"fetching Kafka {self.version} jars from Maven Central into {jars_dir} "
            "(first start only; about a minute)"
        )
        command = [
            mvn,
            "--batch-mode",
            "--quiet",
            "-Dstyle.color=never",
            "--file",
            str(POM_FILE),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={jars_dir}",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip().splitlines()
            raise JarFetchError(
                f"Maven could not fetch the Kafka {self.version} jars (exit {result.returncode}); "
                "check access to Maven Central and ~/.m2/settings.xml",
                "\n".join(output[-LOG_TAIL_LINES:]),
            )
        self.jars_marker.write_text(f"kafka {self.version} jars fetched by {POM_FILE}\n")
        return True

    def start(self, timeout: float = 60.0) -> bool:
        """Start the broker and wait until it answers a metadata request.

        Returns False if it was already running and answering (nothing was done), True if
        this call launched it. Storage is formatted on the first start only, so topics and
        offsets survive a restart.
        """
        java = self._require_java()
        pid = self._running_pid()
        if pid is not None:
            self._check_running_port(pid)
            if _answers_metadata(self.settings.broker_host, self.settings.broker_port):
                return False
            self._progress(f"already starting (pid {pid}); waiting for it to answer")
            self._wait_until_answering(pid, timeout)
            return False
        self._check_ports_free()
        self.fetch_jars()
        for directory in (self.data_dir, self.logs_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.properties_file.touch(mode=0o600)
        self.properties_file.chmod(0o600)
        self.properties_file.write_text(self.server_properties())
        if not (self.data_dir / "meta.properties").exists():
            self._format_storage(java)
        elif self.sasl_ssl is not None and self.sasl_ssl.users:
            self._progress(
                f"SCRAM users were created when {self.data_dir} was first formatted and are "
                "kept: a new user or password takes a fresh STOCKLOOP_BROKER_DIR"
            )
        self._progress(f"launching Kafka {self.version} on {self._address}")
        with self.console_log.open("w") as console:
            process = subprocess.Popen(
                [*self._java_command(java), "kafka.Kafka", str(self.properties_file)],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                cwd=self.settings.broker_dir,
                start_new_session=True,  # outlives this command and its terminal's signals
            )
        self.pid_file.write_text(f"{process.pid}\n")
        self._progress(f"waiting for the broker (pid {process.pid}) to answer")
        self._wait_until_answering(process.pid, timeout)
        return True

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker: SIGTERM (a clean shutdown), then SIGKILL after ``timeout`` s.

        Returns whether a running broker was stopped; the pid file is gone afterwards.
        """
        pid = self._running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        self._progress(f"stopping the broker (pid {pid})")
        with contextlib.suppress(ProcessLookupError):  # it may have exited since we looked
            os.kill(pid, signal.SIGTERM)
        if not self._wait_for_exit(pid, timeout):
            self._progress(f"no exit after {timeout:g}s; killing pid {pid}")
            os.kill(pid, signal.SIGKILL)
            if not self._wait_for_exit(pid, 10.0):
                raise BrokerStopError(f"pid {pid} survived SIGKILL; check `ps -p {pid}`")
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> BrokerStatus:
        """Whether the broker runs, on which port, and whether it answers."""
        pid = self._running_pid()
        port = self._running_port() if pid is not None else self.settings.broker_port
        return BrokerStatus(
            running=pid is not None,
            pid=pid,
            host=self.settings.broker_host,
            port=port,
            answering=_answers_metadata(self.settings.broker_host, port),
            data_dir=self.data_dir,
            kafka_version=self.version,
        )

    @property
    def _address(self) -> str:
        return self.settings.bootstrap_servers

    def _require_java(self) -> str:
        java = shutil.which("java")
        if java is None:
            raise JavaNotFoundError(
                "`java` is not on PATH; the Kafka broker needs a Java 17+ runtime. "
                "Install one (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`, "
                "macOS: `brew install openjdk@17`) and retry"
            )
        return java

    def _running_pid(self) -> int | None:
        """The pid of this broker_dir's broker if it runs; a stale pid file is removed."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _pid_alive(pid) and self._is_this_broker(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def _is_this_broker(self, pid: int) -> bool:
        """Whether ``pid`` runs Kafka with this broker_dir's properties (not a reused pid)."""
        if not Path("/proc/self/cmdline").exists():
            return True  # no procfs (macOS): trust the pid file
        try:
            arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            return False
        return b"kafka.Kafka" in arguments and str(self.properties_file).encode() in arguments

    def _running_port(self) -> int:
        """The port the running broker was started with, whatever the settings say now."""
        advertised = _read_properties(self.properties_file)["advertised.listeners"]
        return int(advertised.rsplit(":", 1)[1])

    def _check_running_port(self, pid: int) -> None:
        running_port = self._running_port()
        if running_port != self.settings.broker_port:
            raise PortInUseError(
                f"the broker in {self.settings.broker_dir} already runs (pid {pid}) on port "
                f"{running_port}, not {self.settings.broker_port}; "
                "run `stockloop broker stop` first to move it"
            )

    def _check_ports_free(self) -> None:
        host = self.settings.broker_host
        ports = [
            ("STOCKLOOP_BROKER_PORT", self.settings.broker_port),
            ("STOCKLOOP_CONTROLLER_PORT", self.settings.controller_port),
        ]
        if self.sasl_ssl is not None:
            ports.append(("the SASL_SSL listener's port", self.sasl_ssl.port))
        for name, port in ports:
            if not _port_is_free(host, port):
                who = "another Kafka broker" if _answers_metadata(host, port) else "another process"
                raise PortInUseError(
                    f"port {port} on {host} is taken by {who}, not the broker in "
                    f"{self.settings.broker_dir}; stop it or choose a free port ({name})"
                )

    def _java_command(self, java: str) -> list[str]:
        return [
            java,
            *JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={LOG_CONFIG_FILE}",
            f"-Dkafka.logs.dir={self.logs_dir}",
            "-cp",
            str(self.settings.kafka_jars_dir / "*"),
        ]

    def _format_storage(self, java: str) -> None:
        """Write the KRaft metadata (cluster id, node id) into the empty data dir."""
        self._progress(f"formatting {self.data_dir} (first start only)")
        result = subprocess.run(
            [
                *self._java_command(java),
                "kafka.tools.StorageTool",
                "format",
                "--cluster-id",
                new_cluster_id(),
                "--config",
                str(self.properties_file),
                *self._scram_arguments(),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            output = result.stdout + result.stderr
            for user in self.sasl_ssl.users if self.sasl_ssl else ():
                output = output.replace(user.password, "***")
            raise BrokerStartError(
                f"formatting {self.data_dir} failed (exit {result.returncode}); "
                "see the formatter's output below",
                output.strip(),
            )

    def _scram_arguments(self) -> list[str]:
        """``--add-scram`` arguments creating the SASL_SSL listener's users.

        Kafka's formatter writes them into the cluster's first metadata, so they exist
        before the broker accepts a connection (no admin request, no extra JVM).
        """
        arguments = []
        for user in self.sasl_ssl.users if self.sasl_ssl else ():
            credential = f"{user.mechanism}=[name={user.username},password={user.password}]"
            arguments += ["--add-scram", credential]
        return arguments

    def _wait_until_answering(self, pid: int, timeout: float) -> None:
        """Wait for the broker to answer; a dead or hung broker fails with its log tail."""
        deadline = time.monotonic() + timeout
        while not _answers_metadata(self.settings.broker_host, self.settings.broker_port):
            if not _pid_alive(pid):
                self.pid_file.unlink(missing_ok=True)
                # The console gets JVM errors and log4j errors only: the cause, if any.
                has_console = self.console_log.exists() and self.console_log.stat().st_size > 0
                raise BrokerStartError(
                    f"the broker exited during start-up; see {self.server_log}",
                    _tail(self.console_log if has_console else self.server_log),
                )
            if time.monotonic() > deadline:
                # A half-started broker would hold the ports and confuse the next start.
                self.stop()
                raise BrokerStartError(
                    f"the broker did not answer on {self._address} within {timeout:g}s and was "
                    "stopped; retry with a longer --timeout or read the log",
                    _tail(self.server_log),
                )
            time.sleep(0.25)

    def _wait_for_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while _pid_alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True
