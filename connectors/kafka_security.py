"""How a client proves itself to Kafka and checks the broker: TLS and SASL options.

One small value that every kafka-python client (producer, consumer, admin) and the
Faust app are built from, so that the CLI and the worker connect the same way. It
holds plain options, not the app's settings, like every connector; passwords are kept
out of its ``repr`` so that logging it or an error that shows it leaks nothing.
"""

import asyncio
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiokafka.conn import create_conn
from aiokafka.errors import (
    KafkaConnectionError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from kafka.errors import KafkaConnectionError as KafkaPythonConnectionError
from kafka.errors import KafkaTimeoutError

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
PROBE_TIMEOUT_MS = 5_000


class KafkaSecurityError(Exception):
    """The TLS material could not be loaded (unreadable file, wrong key password)."""


class BrokerRefusedError(ConnectionError):
    """The broker answered but refused the client: a failed login or TLS handshake."""


@dataclass(frozen=True)
class KafkaSecurity:
    """The security protocol of a Kafka connection and what it needs.

    ``SSL`` and ``SASL_SSL`` encrypt and check the broker's certificate against
    ``cafile`` (else the system's trust store); ``certfile``/``keyfile`` add a client
    certificate (mutual TLS). ``SASL_PLAINTEXT`` and ``SASL_SSL`` log in as
    ``username`` with ``mechanism``.
    """

    protocol: SecurityProtocol = "PLAINTEXT"
    mechanism: SaslMechanism = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    key_password: str | None = field(default=None, repr=False)

    @property
    def uses_tls(self) -> bool:
        """Whether the connection is encrypted (and the broker's certificate checked)."""
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        """Whether the client logs in with a user name and password."""
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of an encrypted connection; None without TLS.

        Hostnames are checked: the broker's certificate must name the address the
        client connects to (a DNS name, or an IP address in its subjectAltName).
        """
        if not self.uses_tls:
            return None
        try:
            context = ssl.create_default_context(cafile=str(self.cafile) if self.cafile else None)
            if self.certfile:
                context.load_cert_chain(
                    str(self.certfile),
                    str(self.keyfile) if self.keyfile else None,
                    password=self.key_password,
                )
        except (OSError, ssl.SSLError) as error:
            raise KafkaSecurityError(
                f"cannot load the TLS files (CA {self.cafile}, certificate {self.certfile}, "
                f"key {self.keyfile}): {error}"
            ) from error
        return context

    def kafka_python_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``KafkaProducer``, ``KafkaConsumer`` and ``KafkaAdminClient``."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_tls:
            kwargs["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            kwargs |= {
                "sasl_mechanism": self.mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        return kwargs


def refusal(bootstrap_servers: str, security: KafkaSecurity) -> str | None:
    """Why the first broker of ``bootstrap_servers`` refuses a client with ``security``.

    One line naming the setting to check (a refused login, an untrusted certificate,
    another protocol on this port), or None if the broker accepts the client or does
    not answer at all. The reason never contains the password: it is the broker's or
    the TLS library's, plus the user name.
    """
    address = bootstrap_servers.split(",")[0].strip()
    host, port = address.rsplit(":", 1)
    try:
        asyncio.run(_connect_once(host, int(port), security))
    except SaslAuthenticationFailed as error:
        return (
            f"the broker at {address} refused the login of {security.username!r} "
            f"({security.mechanism}): {error.args[0] if error.args else error}; check "
            "STOCKLOOP_SASL_USERNAME, STOCKLOOP_SASL_PASSWORD and STOCKLOOP_SASL_MECHANISM"
        )
    except UnsupportedSaslMechanismError:
        return (
            f"the broker at {address} does not offer SASL mechanism {security.mechanism}; "
            "set STOCKLOOP_SASL_MECHANISM to one it offers"
        )
    except ssl.SSLError as error:
        return (
            f"no TLS connection to the broker at {address}: {error}; check "
            "STOCKLOOP_SSL_CAFILE (the CA of the broker's certificate) and "
            "STOCKLOOP_SECURITY_PROTOCOL"
        )
    except (ConnectionResetError, KafkaConnectionError):
        return (
            f"the broker at {address} closed the connection of a {security.protocol} client; "
            "it expects another STOCKLOOP_SECURITY_PROTOCOL on this port"
        )
    except (OSError, TimeoutError):
        return None  # nothing answers: not a refusal
    return None


async def _connect_once(host: str, port: int, security: KafkaSecurity) -> None:
    """Open and close one connection, raising whatever made it fail.

    aiokafka's connection, not kafka-python's: kafka-python 3.0 drops a response
    that arrives together with the broker closing the socket, which is how a
    broker answers a failed login, so it often sees only "socket disconnected".
    """
    connection = await create_conn(
        host,
        port,
        client_id="stockloop-connection-check",
        request_timeout_ms=PROBE_TIMEOUT_MS,
        ssl_context=security.ssl_context(),
        security_protocol=security.protocol,
        sasl_mechanism=security.mechanism if security.uses_sasl else None,
        sasl_plain_username=security.username,
        sasl_plain_password=security.password,
    )
    connection.close()


@contextmanager
def refusals_explained(bootstrap_servers: str, security: KafkaSecurity) -> Iterator[None]:
    """Turn the timeout of a kafka-python client the broker refused into why it refused.

    kafka-python retries a refused login or an untrusted certificate until its
    bootstrap times out, then raises only "Unable to bootstrap". When that
    happens inside the block, one connection attempt finds the reason, and
    ``BrokerRefusedError`` says it; a broker that does not answer at all keeps
    kafka-python's error.
    """
    try:
        yield
    except (KafkaTimeoutError, KafkaPythonConnectionError) as error:
        reason = refusal(bootstrap_servers, security)
        if reason is None:
            raise
        raise BrokerRefusedError(reason) from error
