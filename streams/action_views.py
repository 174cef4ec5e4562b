"""One-click actions from a notification: ``/actions/{token}`` acknowledges or approves.

``GET`` only shows what the link will do, with a button: mail scanners and
chat previews open links on their own, and must not acknowledge anything.
``POST`` verifies the link (``models.action_links``) and writes the action
where the command line would: an acknowledgement on
``stockloop.alert-actions`` with its notice to the material, an approval on
``stockloop.purchase-request-actions``. The worker applies it as it applies
the command line's, and the reminders stop.
"""

from datetime import UTC, datetime
from html import escape

from faust.web import Request, Response, View

from models.action_links import ActionLink, LinkError, verify
from models.alerts import Acknowledge, AlertActionNotice
from models.events import encode
from models.purchasing import PurchaseRequestAction
from streams.app import (
    alert_actions_topic,
    app,
    material_events_topic,
    purchase_request_actions_topic,
    settings,
)

_PAGE = (
    '<!doctype html><html><head><meta charset="utf-8"><title>stockloop</title></head>'
    "<body><p>{text}</p>{form}</body></html>"
)


def _what(link: ActionLink) -> str:
    if link.action == "acknowledge":
        return f"acknowledge alert {link.subject} as {link.by}"
    return f"approve purchase request {link.subject} as {link.by}"


def _verified(token: str) -> ActionLink:
    secret = settings.action_link_secret
    if secret is None:
        raise LinkError("action link: this worker has no key to check it (action_link_secret)")
    return verify(token, secret.get_secret_value().encode(), datetime.now(UTC))


@app.page("/actions/{token}")
class ActionLinkView(View):
    """A signed action link: shown on GET, carried out on POST."""

    async def get(self, request: Request, token: str) -> Response:
        try:
            link = _verified(token)
        except LinkError as error:
            return self._page(str(error), "", 403)
        form = '<form method="post"><button type="submit">Confirm</button></form>'
        return self._page(f"Confirm: {_what(link)}?", form)

    async def post(self, request: Request, token: str) -> Response:
        try:
            link = _verified(token)
        except LinkError as error:
            return self._page(str(error), "", 403)
        now = datetime.now(UTC)
        if link.action == "acknowledge":
            action = Acknowledge(
                alert_key=link.subject,
                alert_id=link.alert_id,
                by=link.by,
                at=now,
                comment="acknowledged from a notification",
            )
            notice = AlertActionNotice(material_id=link.material_id, action=action)
            await alert_actions_topic.send(key=f"ack:{link.subject}".encode(), value=encode(action))
            await material_events_topic.send(key=link.material_id.encode(), value=encode(notice))
        else:
            decision = PurchaseRequestAction(
                action="approve",
                request_id=link.subject,
                material_id=link.material_id,
                by=link.by,
                reason="approved from a notification",
                at=now,
            )
            await purchase_request_actions_topic.send(
                key=link.subject.encode(), value=encode(decision)
            )
        return self._page(f"Done: {_what(link)}.", "")

    def _page(self, text: str, form: str, status: int = 200) -> Response:
        body = _PAGE.format(text=escape(text), form=form)
        return self.bytes(body.encode(), content_type="text/html", status=status)
