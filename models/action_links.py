"""One-click actions: signed links that let a notification's reader acknowledge or approve.

A link carries what it does (acknowledge an alert, approve a purchase
request), for whom it was made and until when it is valid, signed with
HMAC-SHA256 under a key only the workers hold. Whoever has the link may use
it until it expires, as with any emailed action link; it cannot be altered to
act on another alert, as another person, or for longer. Using a link twice
does the same thing twice, which the actions themselves absorb (a second
acknowledgement changes nothing; a second approval of an approved request is
refused by its life cycle).

Times are arguments: the signer passes the notification's event time, the
verifier the wall clock of the request, so this module stays pure.

>>> from datetime import UTC, datetime, timedelta
>>> at = datetime(2026, 4, 1, 9, tzinfo=UTC)
>>> link = ActionLink(action="acknowledge", subject="M1|W1|stockout_risk", material_id="M1",
...     by="li.wei", expires=at + timedelta(days=7))
>>> token = sign(link, b"key")
>>> verify(token, b"key", at + timedelta(days=1)) == link
True
>>> try:
...     verify(token, b"another key", at)
... except LinkError as error:
...     print(error)
action link: the signature does not match (altered, or signed with another key)
"""

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from models.events import EventTime, Id, Text


class LinkError(ValueError):
    """A link that cannot be used; the message is one line saying why."""


class ActionLink(BaseModel):
    """What a signed link does: the action, its subject, the person, and its expiry.

    ``subject`` is an alert key (``material|warehouse|rule``) for
    ``acknowledge`` and a request id for ``approve``; ``alert_id`` pins an
    acknowledgement to the alert it was made for, so that a late click never
    acknowledges a newer alert under the same key; ``material_id`` routes the
    action to the worker that owns the material.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Literal["acknowledge", "approve"]
    subject: Text
    alert_id: Id | None = None
    material_id: Id
    by: Id
    expires: EventTime


def _digest(payload: bytes, key: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def sign(link: ActionLink, key: bytes) -> str:
    """The link's token: its fields, URL-safe, then their signature."""
    payload = base64.urlsafe_b64encode(orjson.dumps(link.model_dump(mode="json"))).rstrip(b"=")
    return f"{payload.decode()}.{_digest(payload, key)}"


def verify(token: str, key: bytes, now: datetime) -> ActionLink:
    """The link a token stands for, if it is signed with ``key`` and has not expired."""
    payload, _, signature = token.partition(".")
    if not signature:
        raise LinkError("action link: not a stockloop action link (no signature)")
    if not hmac.compare_digest(_digest(payload.encode(), key), signature):
        raise LinkError(
            "action link: the signature does not match (altered, or signed with another key)"
        )
    try:
        padded = payload + "=" * (-len(payload) % 4)
        link = ActionLink.model_validate(orjson.loads(base64.urlsafe_b64decode(padded)))
    except (ValueError, ValidationError) as error:
        raise LinkError(f"action link: unreadable content ({type(error).__name__})") from None
    if now >= link.expires:
        raise LinkError(f"action link: expired at {link.expires.isoformat()}")
    return link
