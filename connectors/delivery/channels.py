"""Every delivery channel, opened together over one HTTP client, ready to send on."""

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from connectors.delivery.base import ChannelSender
from connectors.delivery.chat import (
    DingTalkChannel,
    FeishuChannel,
    SlackChannel,
    WebhookChannel,
    WeComChannel,
)
from connectors.delivery.endpoints import EndpointDirectory, SmsAccount, SmtpServer
from connectors.delivery.mail import EmailChannel
from connectors.delivery.sms import SmsChannel, sms_provider
from models.notifications import Channel


@asynccontextmanager
async def open_channels(
    directory: EndpointDirectory,
    smtp: SmtpServer | None,
    sms: SmsAccount | None,
    timeout_s: float,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[dict[Channel, ChannelSender]]:
    """The channels that can be sent on, by channel; closed (their HTTP client) on exit.

    Email needs ``smtp`` and SMS needs ``sms``; without them those channels are
    absent, and a destination on them fails with a reason that says so.
    ``clock`` (Unix seconds) dates the signatures.
    """
    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client:
        channels: dict[Channel, ChannelSender] = {
            sender.channel: sender
            for sender in (
                WebhookChannel(directory, client, clock),
                SlackChannel(directory, client, clock),
                DingTalkChannel(directory, client, clock),
                WeComChannel(directory, client, clock),
                FeishuChannel(directory, client, clock),
            )
        }
        if smtp is not None:
            channels[Channel.EMAIL] = EmailChannel(smtp, timeout_s)
        if sms is not None:
            channels[Channel.SMS] = SmsChannel(sms_provider(sms, client))
        yield channels
