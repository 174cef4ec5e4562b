"""SMS for critical notifications: one provider interface, Twilio-style and Alibaba-Cloud-style.

The text is the notification's ``short`` (at most 70 characters, so one
message even in Chinese). ``SmsChannel`` is the channel; an ``SmsProvider``
knows one provider's API:

- ``TwilioSms``: a form POST to ``/2010-04-01/Accounts/{sid}/Messages.json``
  with HTTP basic auth (Account SID, auth token); 201 is success, an error
  answer is JSON with Twilio's ``code`` and ``message``.
- ``AliyunSms``: Alibaba Cloud SMS ``SendSms`` as an RPC GET whose query is
  signed (``connectors.delivery.signing.aliyun_signature``); the answer's
  ``Code`` is ``OK`` on success, and its flow-control codes are worth a retry.
"""

import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from connectors.delivery.base import ChannelSender, Refused, RetryLater, scrub, secrets_in
from connectors.delivery.chat import RETRIED_ERRORS, RETRIED_STATUSES
from connectors.delivery.endpoints import SmsAccount
from connectors.delivery.signing import (
    aliyun_canonical_query,
    aliyun_percent_encode,
    aliyun_signature,
)
from models.notifications import Channel, Notification

ALIYUN_RETRIED_CODES = ("isv.BUSINESS_LIMIT_CONTROL", "Throttling")
"""Alibaba Cloud SMS answer codes that mean "too many, too fast": flow control, not a refusal."""


class SmsProvider(ABC):
    """One SMS provider's API: send ``text`` to ``phone``, or raise ``RetryLater`` / ``Refused``."""

    def __init__(self, account: SmsAccount, client: httpx.AsyncClient) -> None:
        self.account = account
        self.client = client
        self.secrets = secrets_in(account.url, account.secret.get_secret_value())

    @abstractmethod
    async def send_sms(self, phone: str, text: str, reference: str) -> None:
        """Send one message; ``reference`` (the notification id) travels with it where it can."""

    async def request(self, method: str, url: str, **options: object) -> httpx.Response:
        """One HTTP request to the provider; its answer, or ``RetryLater`` when worth one."""
        try:
            response = await self.client.request(method, url, **options)  # type: ignore[arg-type]
        except RETRIED_ERRORS as error:
            raise RetryLater(f"{type(error).__name__} from SMS provider {self.name}") from None
        except httpx.HTTPError as error:
            raise Refused(f"{type(error).__name__} calling SMS provider {self.name}") from None
        status = response.status_code
        if status in RETRIED_STATUSES or status >= 500:
            limited = " (rate limited)" if status == 429 else ""
            raise RetryLater(f"HTTP {status} from SMS provider {self.name}{limited}")
        return response

    @property
    def name(self) -> str:
        return self.account.provider


class TwilioSms(SmsProvider):
    """A Twilio-style Messages API."""

    async def send_sms(self, phone: str, text: str, reference: str) -> None:
        account = self.account
        response = await self.request(
            "POST",
            f"{account.url.rstrip('/')}/2010-04-01/Accounts/{account.account}/Messages.json",
            data={"To": phone, "From": account.sender, "Body": text},
            auth=(account.account, account.secret.get_secret_value()),
        )
        if response.is_success:
            return
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        code = answer.get("code") if isinstance(answer, dict) else None
        said = scrub(
            str(answer.get("message", "")) if isinstance(answer, dict) else "", self.secrets
        )
        raise Refused(f"HTTP {response.status_code} from SMS provider twilio (code {code}): {said}")


class AliyunSms(SmsProvider):
    """An Alibaba-Cloud-SMS-style ``SendSms`` API (RPC, signature version 1.0)."""

    def __init__(
        self,
        account: SmsAccount,
        client: httpx.AsyncClient,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        nonce: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        super().__init__(account, client)
        self.now = now
        self.nonce = nonce

    def signed_query(self, phone: str, text: str, reference: str) -> str:
        """The request's query string: every parameter, then its ``Signature``."""
        account = self.account
        parameters = {
            "AccessKeyId": account.account,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": reference,
            "PhoneNumbers": phone,
            "RegionId": account.region,
            "SignName": account.sender,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self.nonce(),
            "SignatureVersion": "1.0",
            "TemplateCode": account.template or "",
            "TemplateParam": json.dumps({"message": text}, ensure_ascii=False),
            "Timestamp": self.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        signature = aliyun_signature(parameters, account.secret.get_secret_value(), "GET")
        return f"Signature={aliyun_percent_encode(signature)}&{aliyun_canonical_query(parameters)}"

    async def send_sms(self, phone: str, text: str, reference: str) -> None:
        query = self.signed_query(phone, text, reference)
        response = await self.request("GET", f"{self.account.url.rstrip('/')}/?{query}")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise Refused(f"SMS provider aliyun answered HTTP {response.status_code} without JSON")
        code = str(answer.get("Code", ""))
        if response.is_success and code == "OK":
            return
        said = scrub(str(answer.get("Message", "")), self.secrets)
        if code.startswith(ALIYUN_RETRIED_CODES):
            raise RetryLater(f"SMS provider aliyun Code {code} (rate limited)")
        raise Refused(f"SMS provider aliyun Code {code or response.status_code}: {said}")


class SmsChannel(ChannelSender):
    """SMS: the notification's ``short`` text to the destination's phone number."""

    channel = Channel.SMS

    def __init__(self, provider: SmsProvider) -> None:
        self.provider = provider

    def limit_key(self, address: str) -> str:
        """Providers limit an account, not a phone: one limit for all numbers."""
        return f"sms:{self.provider.name}"

    async def send(self, notification: Notification, address: str) -> None:
        await self.provider.send_sms(address, notification.short, notification.id)


def sms_provider(account: SmsAccount, client: httpx.AsyncClient) -> SmsProvider:
    """The provider implementation for ``account.provider``."""
    return {"twilio": TwilioSms, "aliyun": AliyunSms}[account.provider](account, client)
