"""Signatures of outgoing notifications: ours for webhooks, and each chat platform's own.

A receiver checks a signature to know that a message comes from us and was
not changed on the way; the timestamp inside it makes a captured message
useless after a few minutes (replay). Each platform publishes its algorithm:

- stockloop webhook: HMAC-SHA256 with the endpoint's secret over
  ``"{timestamp}.{body}"``, sent as ``X-Stockloop-Timestamp`` (Unix seconds)
  and ``X-Stockloop-Signature: sha256=<hex>``; ``verify`` is the receiver's
  check, with a tolerance window against replays.
- DingTalk custom robot ("加签"): HMAC-SHA256 with the secret as key over
  ``timestamp + "\\n" + secret`` (timestamp in milliseconds), Base64, then
  URL-encoded, sent as the ``timestamp`` and ``sign`` query parameters.
- Feishu/Lark custom bot: ``timestamp + "\\n" + secret`` (seconds) is the HMAC-SHA256
  *key* over an empty message, Base64, sent in the JSON body as ``timestamp``
  and ``sign``.
- Alibaba Cloud RPC APIs (SMS ``SendSms``), signature version 1.0: the
  parameters sorted by name and percent-encoded (RFC 3986) into a canonical
  query, ``StringToSign = METHOD & percent("/") & percent(query)``, HMAC-SHA1
  with key ``AccessKeySecret + "&"``, Base64, sent as the ``Signature``
  parameter.
"""

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote

TIMESTAMP_HEADER = "X-Stockloop-Timestamp"
SIGNATURE_HEADER = "X-Stockloop-Signature"

REPLAY_TOLERANCE_S = 300.0
"""How far a webhook's timestamp may be from the receiver's clock: five minutes, as Stripe
and Slack allow for their own signed requests."""


class SignatureRejected(ValueError):
    """A signed webhook that fails the check: why, in one line (never the secret)."""


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Stockloop-Signature`` value of ``body`` sent at Unix second ``timestamp``.

    >>> webhook_signature("s3cret", 1700000000, b'{"id":"n-1"}')[:7]
    'sha256='
    """
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def webhook_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The two signature headers of a webhook ``body`` sent at ``timestamp``."""
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: webhook_signature(secret, timestamp, body),
    }


def verify(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now: float,
    tolerance_s: float = REPLAY_TOLERANCE_S,
) -> None:
    """Check a received webhook's signature headers; ``SignatureRejected`` says why not.

    ``now`` is the receiver's clock (Unix seconds). A timestamp outside
    ``tolerance_s`` is refused even with a good signature: that is a replay of
    a captured message (or a clock badly off). The comparison takes constant
    time, so the signature cannot be guessed byte by byte.

    >>> body = b'{"id":"n-1"}'
    >>> sent = webhook_headers("s3cret", 1700000000, body)
    >>> verify("s3cret", body, sent[TIMESTAMP_HEADER], sent[SIGNATURE_HEADER], now=1700000060)
    >>> verify("s3cret", body, sent[TIMESTAMP_HEADER], sent[SIGNATURE_HEADER], now=1700000900)
    Traceback (most recent call last):
    ...
    connectors.delivery.signing.SignatureRejected: timestamp 1700000000 is 900 s from now, more than the 300 s allowed (a replay?)
    """  # noqa: E501
    if not timestamp or not signature:
        missing = TIMESTAMP_HEADER if not timestamp else SIGNATURE_HEADER
        raise SignatureRejected(f"header {missing} is missing")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureRejected(f"header {TIMESTAMP_HEADER} is not Unix seconds") from None
    drift = abs(now - sent_at)
    if drift > tolerance_s:
        raise SignatureRejected(
            f"timestamp {sent_at} is {drift:.0f} s from now, more than the "
            f"{tolerance_s:.0f} s allowed (a replay?)"
        )
    if not hmac.compare_digest(webhook_signature(secret, sent_at, body), signature):
        raise SignatureRejected("signature does not match the body and timestamp")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign`` query parameter, already URL-encoded, for ``timestamp_ms``.

    >>> dingtalk_sign("secret", 1700000000000)
    'OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D'
    """
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return quote(base64.b64encode(digest).decode(), safe="")


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu/Lark's ``sign`` body field for ``timestamp_s`` (Unix seconds)."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def aliyun_percent_encode(text: str) -> str:
    """Alibaba Cloud's percent-encoding: RFC 3986, only ``A-Z a-z 0-9 - _ . ~`` kept.

    >>> aliyun_percent_encode("a b*c~/:")
    'a%20b%2Ac~%2F%3A'
    """
    return quote(text, safe="~")


def aliyun_canonical_query(parameters: Mapping[str, str]) -> str:
    """The parameters sorted by name, each ``name=value`` percent-encoded, joined by ``&``."""
    return "&".join(
        f"{aliyun_percent_encode(name)}={aliyun_percent_encode(value)}"
        for name, value in sorted(parameters.items())
    )


def aliyun_signature(parameters: Mapping[str, str], access_key_secret: str, method: str) -> str:
    """The ``Signature`` of an Alibaba Cloud RPC request (signature version 1.0), Base64.

    ``parameters`` are every query parameter but ``Signature`` itself.
    """
    string_to_sign = "&".join(
        [
            method,
            aliyun_percent_encode("/"),
            aliyun_percent_encode(aliyun_canonical_query(parameters)),
        ]
    )
    key = f"{access_key_secret}&".encode()
    return base64.b64encode(hmac.new(key, string_to_sign.encode(), hashlib.sha1).digest()).decode()
