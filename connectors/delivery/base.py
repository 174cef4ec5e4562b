"""The one contract every delivery channel keeps, and the two ways an attempt can fail.

A channel (``ChannelSender``) sends one notification to one address per call
of ``send``. It returns when the platform has taken the message, and raises
``RetryLater`` when another attempt may succeed (no answer, a 5xx, a rate
limit) or ``Refused`` when it would not (a 4xx, a bad address, an unknown
endpoint). Either error carries a one-line ``reason`` that names the channel
and the endpoint by name, never a URL, token, signature or secret: reasons go
into ``Delivery`` records on a topic that many people read. ``scrub`` is the
last guard, for text a platform answers with. Channels own no connections: the
HTTP client they share is opened and closed by ``open_channels``.

Timeouts, retries and rate limits are not a channel's business: the sender
(``connectors.delivery.sender``) runs every attempt under its own timeout.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

from models.notifications import Channel, Notification

REASON_TEXT = 120
"""How many characters of a platform's own error message a reason quotes."""


class DeliveryError(Exception):
    """An attempt that did not deliver: ``reason`` is one line without a secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryLater(DeliveryError):
    """Another attempt may succeed; ``retry_after_s`` is the wait the platform asked for."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class Refused(DeliveryError):
    """The platform said no, or the destination cannot be reached this way: do not retry."""


class ChannelSender(ABC):
    """A channel: sends one notification to one address (see the module's contract)."""

    channel: Channel

    def limit_key(self, address: str) -> str:
        """What a rate limit counts against: one robot, one SMS account, one mail server."""
        return f"{self.channel.value}:{address}"

    @abstractmethod
    async def send(self, notification: Notification, address: str) -> None:
        """Deliver ``notification`` to ``address``, or raise ``RetryLater`` / ``Refused``."""


def secrets_in(url: str, *others: str | None) -> list[str]:
    """The strings a reason must never show: a URL, its path, its path segments and query
    values that could be tokens (8 and 6 characters or more), and ``others``.

    Slack and Feishu keep their token in the path, DingTalk and WeCom in the query;
    scrubbing a harmless segment as well costs nothing.

    >>> secrets_in("https://h.example/robot/send?access_token=abcdef123456", "SEC1234")
    ['https://h.example/robot/send?access_token=abcdef123456', '/robot/send', 'abcdef123456', 'SEC1234']
    """  # noqa: E501
    parts = urlsplit(url)
    found = [url]
    if len(parts.path) > 1:
        found.append(parts.path)
        found.extend(segment for segment in parts.path.split("/") if len(segment) >= 8)
    found.extend(value for _, value in parse_qsl(parts.query) if len(value) >= 6)
    found.extend(other for other in others if other)
    return found


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` in one line, cut short, with every one of ``secrets`` replaced by ``***``.

    >>> scrub("bad token abcdef123456\\nsee docs", ["abcdef123456"])
    'bad token *** see docs'
    """
    line = " ".join(text.split())
    for secret in sorted(secrets, key=len, reverse=True):
        line = line.replace(secret, "***")
    return line[:REASON_TEXT]
