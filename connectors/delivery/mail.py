"""Email: a multipart message (plain text and HTML) handed to an SMTP server with aiosmtplib.

The server may want STARTTLS and a login (``SmtpServer``). Its answers have
SMTP's own meaning: a 4xx reply is temporary (another attempt may succeed), a
5xx reply is permanent (a refused recipient, a failed login). The message's
``Message-ID`` is derived from the notification id, so that a mail system or
client that sees the same notification twice can tell.
"""

import hashlib
import html
from email.message import EmailMessage
from email.utils import formatdate
from typing import NoReturn

import aiosmtplib

from connectors.delivery.base import ChannelSender, Refused, RetryLater, scrub
from connectors.delivery.endpoints import SmtpServer
from models.notifications import Channel, Notification


class EmailChannel(ChannelSender):
    """Email through one SMTP server."""

    channel = Channel.EMAIL

    def __init__(self, server: SmtpServer, timeout_s: float) -> None:
        self.server = server
        self.timeout_s = timeout_s
        self.secrets = [self.server.password.get_secret_value()] if self.server.password else []

    def limit_key(self, address: str) -> str:
        """A mail server limits its client, not one recipient."""
        return f"email:{self.server.host}"

    async def send(self, notification: Notification, address: str) -> None:
        server = self.server
        where = f"SMTP server {server.host}:{server.port}"
        try:
            await aiosmtplib.send(
                email_message(notification, server.sender, address),
                hostname=server.host,
                port=server.port,
                username=server.user,
                password=server.password.get_secret_value() if server.password else None,
                start_tls=server.starttls,
                cert_bundle=str(server.cafile) if server.cafile else None,
                timeout=self.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            refusal = error.recipients[0]
            self._raise(refusal.code, f"{where} refused {address}: {refusal.message}")
        except aiosmtplib.SMTPResponseException as error:
            self._raise(error.code, f"{where} answered {error.code}: {error.message}")
        except (aiosmtplib.SMTPException, OSError) as error:
            raise RetryLater(f"{type(error).__name__} from {where}") from None

    def _raise(self, code: int, problem: str) -> NoReturn:
        reason = scrub(problem, self.secrets)
        if 400 <= code < 500:
            raise RetryLater(reason)
        raise Refused(reason)


def email_message(notification: Notification, sender: str, address: str) -> EmailMessage:
    """The notification as an email: plain text, and HTML beside it (rendered, else escaped).

    >>> from datetime import UTC, datetime
    >>> n = Notification(id="n-1", recipient="p", group_key="g", urgency="digest",
    ...     severity="warning", at=datetime(2026, 1, 1, tzinfo=UTC), language="en",
    ...     destinations=(), title="Daily digest", body="3 < 5", short="digest", items=())
    >>> message = email_message(n, "stockloop <a@example.com>", "buyer@example.com")
    >>> [part.get_content_type() for part in message.iter_parts()]
    ['text/plain', 'text/html']
    >>> "3 &lt; 5" in message.get_body(("html",)).get_content()
    True
    """
    message = EmailMessage()
    message["Subject"] = notification.title
    message["From"] = sender
    message["To"] = address
    message["Date"] = formatdate(localtime=False)
    digest = hashlib.sha256(notification.id.encode()).hexdigest()[:32]
    message["Message-ID"] = f"<{digest}@stockloop>"
    message["X-Stockloop-Notification"] = notification.id
    message.set_content(notification.body)
    message.add_alternative(notification.html or _html(notification.body), subtype="html")
    return message


def _html(body: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in body.splitlines())
    return f"<html><body>{paragraphs}</body></html>"
