"""Webhooks and chat robots: our signed JSON webhook, Slack, DingTalk, WeCom and Feishu/Lark.

Each is a named endpoint of the directory (``connectors.delivery.endpoints``)
reached with one HTTP POST. They differ in the message they take and in how
they say no: Slack and our webhook by HTTP status; DingTalk and WeCom answer
HTTP 200 with an ``errcode`` (0 is success; 130101 and 45009 are their rate
limits, worth waiting for); Feishu answers with a ``code`` (0 is success).
What every HTTP answer means is decided once, in ``HttpChannel.post``:
no answer, 408, 429 and 5xx are worth another attempt, any other non-2xx is a refusal.
"""

import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from connectors.delivery.base import (
    ChannelSender,
    Refused,
    RetryLater,
    scrub,
    secrets_in,
)
from connectors.delivery.endpoints import Endpoint, EndpointDirectory, EndpointError
from connectors.delivery.signing import dingtalk_sign, feishu_sign, webhook_headers
from models.events import encode
from models.notifications import Channel, Notification, NotificationAction

RETRIED_STATUSES = frozenset({408, 429})
"""Answers below 500 that a later attempt can change."""

RETRIED_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
"""Transport failures worth another attempt (the message may not have arrived)."""

DINGTALK_RATE_LIMITED = 130101
"""DingTalk robot errcode: more than 20 messages in a minute ("send too fast")."""

WECOM_RATE_LIMITED = 45009
"""WeCom robot errcode: the API's frequency limit is exceeded."""

MARKDOWN_BYTES = {Channel.DINGTALK: 18_000, Channel.WECOM: 4_096}
"""The most a robot's markdown message may hold, in UTF-8 bytes (WeCom documents 4096)."""


class HttpChannel(ChannelSender):
    """A channel whose address names an endpoint of the directory, reached by HTTP POST."""

    def __init__(
        self,
        directory: EndpointDirectory,
        client: httpx.AsyncClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.client = client
        self.clock = clock

    def endpoint(self, name: str) -> Endpoint:
        """The endpoint ``name`` of this channel; ``Refused`` if the directory has none."""
        try:
            return self.directory.endpoint(self.channel, name)
        except EndpointError as error:
            raise Refused(str(error)) from None

    def where(self, name: str) -> str:
        """How reasons name the endpoint: its channel and name, e.g. ``dingtalk 'buyers'``."""
        return f"{self.channel.value} {name!r}"

    async def post(
        self,
        name: str,
        endpoint: Endpoint,
        body: bytes,
        headers: dict[str, str] | None = None,
        url: str | None = None,
    ) -> httpx.Response:
        """POST ``body`` (JSON) to the endpoint; its answer if 2xx, else the error it means."""
        secrets = secrets_in(endpoint.url.get_secret_value(), _reveal(endpoint.secret))
        try:
            response = await self.client.post(
                url or endpoint.url.get_secret_value(),
                content=body,
                headers={"Content-Type": "application/json", **(headers or {})},
            )
        except RETRIED_ERRORS as error:
            raise RetryLater(f"{type(error).__name__} from {self.where(name)}") from None
        except httpx.HTTPError as error:
            raise Refused(f"{type(error).__name__} posting to {self.where(name)}") from None
        if response.is_success:
            return response
        problem = f"HTTP {response.status_code} from {self.where(name)}"
        if response.status_code == 429:
            raise RetryLater(
                f"{problem} (rate limited)", _retry_after(response.headers.get("Retry-After"))
            )
        if response.status_code in RETRIED_STATUSES or response.status_code >= 500:
            raise RetryLater(problem)
        said = scrub(response.text, secrets)
        raise Refused(f"{problem}: {said}" if said else problem)

    def answer(self, name: str, response: httpx.Response) -> dict[str, Any]:
        """The JSON object a robot answered with; ``Refused`` if it is not one."""
        try:
            document = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            document = None
        if not isinstance(document, dict):
            raise Refused(f"{self.where(name)} answered HTTP {response.status_code} without JSON")
        return document

    def said(self, name: str, endpoint: Endpoint, message: object) -> str:
        """A robot's own error message, scrubbed of the endpoint's secrets."""
        secrets = secrets_in(endpoint.url.get_secret_value(), _reveal(endpoint.secret))
        return scrub(str(message), secrets)

    def check_errcode(
        self, address: str, endpoint: Endpoint, answer: dict[str, Any], rate_limited: int
    ) -> None:
        """A robot's answer in a 200: ``errcode`` 0 is delivered, its rate-limit code is
        retried, any other is refused with the platform's ``errmsg`` (scrubbed)."""
        code = answer.get("errcode", 0)
        if code == rate_limited:
            raise RetryLater(f"{self.where(address)} errcode {code} (rate limited)")
        if code != 0:
            said = self.said(address, endpoint, answer.get("errmsg", ""))
            raise Refused(f"{self.where(address)} errcode {code}: {said}")


class WebhookChannel(HttpChannel):
    """Our generic webhook: the notification's JSON, signed, with its id as Idempotency-Key."""

    channel = Channel.WEBHOOK

    async def send(self, notification: Notification, address: str) -> None:
        endpoint = self.endpoint(address)
        body = encode(notification)
        headers = {"Idempotency-Key": notification.id}
        if endpoint.secret is not None:
            headers |= webhook_headers(endpoint.secret.get_secret_value(), int(self.clock()), body)
        await self.post(address, endpoint, body, headers)


class SlackChannel(HttpChannel):
    """A Slack incoming webhook: ``text`` for notifications, blocks with buttons for actions."""

    channel = Channel.SLACK

    async def send(self, notification: Notification, address: str) -> None:
        endpoint = self.endpoint(address)
        await self.post(address, endpoint, orjson.dumps(slack_message(notification)))


class DingTalkChannel(HttpChannel):
    """A DingTalk custom robot: a markdown message, signed in the URL when it has a secret."""

    channel = Channel.DINGTALK

    async def send(self, notification: Notification, address: str) -> None:
        endpoint = self.endpoint(address)
        url = endpoint.url.get_secret_value()
        if endpoint.secret is not None:
            timestamp_ms = int(self.clock() * 1000)
            sign = dingtalk_sign(endpoint.secret.get_secret_value(), timestamp_ms)
            url += f"{'&' if '?' in url else '?'}timestamp={timestamp_ms}&sign={sign}"
        message = {
            "msgtype": "markdown",
            "markdown": {
                "title": notification.title,
                "text": fit(markdown(notification), MARKDOWN_BYTES[Channel.DINGTALK]),
            },
        }
        response = await self.post(address, endpoint, orjson.dumps(message), url=url)
        self.check_errcode(address, endpoint, self.answer(address, response), DINGTALK_RATE_LIMITED)


class WeComChannel(HttpChannel):
    """A WeCom (WeChat Work) group robot: a markdown message; its key is in the URL."""

    channel = Channel.WECOM

    async def send(self, notification: Notification, address: str) -> None:
        endpoint = self.endpoint(address)
        message = {
            "msgtype": "markdown",
            "markdown": {"content": fit(markdown(notification), MARKDOWN_BYTES[Channel.WECOM])},
        }
        response = await self.post(address, endpoint, orjson.dumps(message))
        self.check_errcode(address, endpoint, self.answer(address, response), WECOM_RATE_LIMITED)


class FeishuChannel(HttpChannel):
    """A Feishu/Lark custom bot: a rich-text ``post`` message, signed in the body."""

    channel = Channel.FEISHU

    async def send(self, notification: Notification, address: str) -> None:
        endpoint = self.endpoint(address)
        message: dict[str, Any] = {}
        if endpoint.secret is not None:
            timestamp_s = int(self.clock())
            message["timestamp"] = str(timestamp_s)
            message["sign"] = feishu_sign(endpoint.secret.get_secret_value(), timestamp_s)
        message |= feishu_post(notification)
        response = await self.post(address, endpoint, orjson.dumps(message))
        answer = self.answer(address, response)
        code = answer.get("code", answer.get("StatusCode", 0))
        if code != 0:
            said = self.said(address, endpoint, answer.get("msg", answer.get("StatusMessage", "")))
            raise Refused(f"{self.where(address)} code {code}: {said}")


# --- messages ---------------------------------------------------------------------------------


def markdown(notification: Notification) -> str:
    """The notification as DingTalk and WeCom robots render markdown: title, body, then links.

    An item with a link or actions gets a line of its own: its summary, linked to
    the material, and its one-click actions; the notification's own actions follow.
    """
    lines = [f"### {notification.title}", "", notification.body]
    links = []
    for item in notification.items:
        if item.link or item.actions:
            summary = f"[{item.summary}]({item.link})" if item.link else item.summary
            links.append(" · ".join([summary, *(f"[{a.label}]({a.url})" for a in item.actions)]))
    links += [f"[{action.label}]({action.url})" for action in notification.actions]
    if links:
        lines += ["", *(f"- {link}" for link in links)]
    return "\n".join(lines)


def every_action(notification: Notification) -> list[NotificationAction]:
    """The notification's one-click actions, then its items', in order."""
    return [*notification.actions, *(a for item in notification.items for a in item.actions)]


def slack_message(notification: Notification) -> dict[str, Any]:
    """A Slack message: ``text`` (shown in notifications) and blocks with action buttons.

    >>> from datetime import UTC, datetime
    >>> n = Notification(id="n-1", recipient="p", group_key="g", urgency="immediate",
    ...     severity="critical", at=datetime(2026, 1, 1, tzinfo=UTC), language="en",
    ...     destinations=(), title="Stock-out", body="HP-200 is out", short="HP-200 out",
    ...     items=())
    >>> slack_message(n)["text"]
    'Stock-out\\nHP-200 is out'
    """
    text = f"{notification.title}\n{notification.body}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*{notification.title}*\n{notification.body}"[:3000],
            },
        }
    ]
    actions = every_action(notification)
    if actions:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": action.label[:75]},
                        "url": action.url,
                    }
                    for action in actions[:5]
                ],
            }
        )
    return {"text": text, "blocks": blocks}


def feishu_post(notification: Notification) -> dict[str, Any]:
    """A Feishu ``post`` message in the recipient's language: title, lines, then links."""
    paragraphs: list[list[dict[str, str]]] = [
        [{"tag": "text", "text": line}] for line in notification.body.splitlines() or [""]
    ]
    for item in notification.items:
        if item.link or item.actions:
            summary = {"tag": "a", "text": item.summary, "href": item.link} if item.link else None
            paragraphs.append(
                ([summary] if summary else [{"tag": "text", "text": item.summary}])
                + [{"tag": "a", "text": f" {a.label}", "href": a.url} for a in item.actions]
            )
    paragraphs += [
        [{"tag": "a", "text": action.label, "href": action.url}] for action in notification.actions
    ]
    language = "zh_cn" if notification.language == "zh-CN" else "en_us"
    return {
        "msg_type": "post",
        "content": {"post": {language: {"title": notification.title, "content": paragraphs}}},
    }


def fit(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes, never inside a character.

    >>> fit("库存不足", 7)
    '库…'
    >>> fit("short", 10)
    'short'
    """
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    ellipsis = "…".encode()
    return data[: max_bytes - len(ellipsis)].decode(errors="ignore") + "…"


def _retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for; None unless it is a number of seconds."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _reveal(secret: Any) -> str | None:
    return secret.get_secret_value() if secret is not None else None
