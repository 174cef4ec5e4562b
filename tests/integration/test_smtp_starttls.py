"""Email over STARTTLS: a real aiosmtpd server that refuses to go on without TLS.

The server on 127.0.0.1 offers STARTTLS with a certificate made for the test
by ``openssl`` (a CA of its own, as a company's mail server has), requires it
before anything else and allows a login only over it. The email channel
upgrades the connection, checks the certificate against ``cafile`` and logs
in; without ``cafile`` it does not trust the server and sends nothing.
"""

import asyncio
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr

from connectors.delivery.base import RetryLater
from connectors.delivery.endpoints import SmtpServer
from connectors.delivery.mail import EmailChannel
from models.notifications import Notification

pytestmark = pytest.mark.integration

USER, PASSWORD = "stockloop", "mail-password-5678"


@dataclass
class TlsMailBox:
    """What the server received, and whether each message came over TLS."""

    messages: list[tuple[list[str], bool]] = field(default_factory=list)

    async def handle_DATA(self, server: object, session, envelope) -> str:
        self.messages.append((list(envelope.rcpt_tos), session.ssl is not None))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (USER, PASSWORD)
        return AuthResult(success=ok, handled=False)


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made by openssl."""
    cert, key = directory / "mail-cert.pem", directory / "mail-key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[TlsMailBox, int, Path]]:
    """A mail server requiring STARTTLS, its port, and the certificate to trust."""
    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox, port = TlsMailBox(), _free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=mailbox.authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield mailbox, port, cert
    finally:
        controller.stop()


def _notification() -> Notification:
    return Notification(
        id="ntf-tls-1",
        recipient="buyer-li",
        group_key="rule=stockout/warehouse=SH01",
        urgency="immediate",
        severity="critical",
        at=datetime(2026, 11, 30, 8, 30, tzinfo=UTC),
        language="en",
        destinations=(),
        title="Stock-out HP-200 in SH01",
        body="HP-200 is out of stock in SH01.",
        short="HP-200 out in SH01",
        items=(),
    )


def _server(port: int, cafile: Path | None) -> SmtpServer:
    return SmtpServer(
        host="127.0.0.1",
        port=port,
        user=USER,
        password=SecretStr(PASSWORD),
        starttls=True,
        cafile=cafile,
        sender="stockloop <alerts@example.com>",
    )


def test_email_goes_over_starttls_to_a_server_signed_by_the_given_ca(tls_server):
    mailbox, port, cert = tls_server
    channel = EmailChannel(_server(port, cert), timeout_s=10)
    asyncio.run(channel.send(_notification(), "li.na@example.com"))
    assert mailbox.messages == [(["li.na@example.com"], True)]


def test_a_server_certificate_nobody_vouches_for_is_not_trusted_and_nothing_is_sent(tls_server):
    mailbox, port, _ = tls_server
    channel = EmailChannel(_server(port, None), timeout_s=10)
    with pytest.raises(RetryLater) as refused:
        asyncio.run(channel.send(_notification(), "li.na@example.com"))
    assert PASSWORD not in str(refused.value)
    assert mailbox.messages == []
