"""The inventory-health dashboard: the page at ``/``, its assets, and its alert buttons.

The page is three files shipped in the package (``streams/dashboard/``): an
HTML shell, our own JavaScript that draws bars and the risk map from the
JSON API (``streams.api_views``), and a style sheet. Nothing comes from a
CDN, so the page works on a plant network without internet access. Every
worker serves it; the API behind it answers for all partitions.

Acknowledge and silence on the page ``POST /dashboard/actions/{material_id}``.
The request is routed to the worker that owns the material (as a read of
``/api/materials/{id}``), which finds the alert open in the material's state
and writes the action exactly as ``stockloop alerts ack|silence`` does: the
action on ``stockloop.alert-actions`` and its notice on
``stockloop.material-events`` keyed by the material, so the material agent
applies it at once. Faust routes a request without its body, so the
action's fields are query parameters. A request must carry the header
``X-Stockloop-Dashboard``: a form on another site cannot set it, so a page
elsewhere cannot acknowledge alerts through a planner's browser.
"""

import difflib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from importlib.resources import files

import orjson
from faust.web import Request, Response, View
from pydantic import ValidationError

from agents.material import states
from models.alerts import Acknowledge, AlertActionNotice, Silence
from models.events import encode
from models.state import MaterialState
from streams.app import alert_actions_topic, app, material_events_topic, materials_table
from streams.views import _waiting_for

ASSETS = files("streams") / "dashboard"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
ACTION_HEADER = "X-Stockloop-Dashboard"
MAX_SILENCE_HOURS = 24 * 30
"""The longest silence the page sets: a month; longer ones belong to the command line."""


def content_type(name: str) -> str | None:
    """The content type of a dashboard asset, None for a name the dashboard does not ship.

    Only plain file names with a known suffix: no directories, so no path
    leads out of the asset folder.

    >>> content_type("app.js"), content_type("../settings.py"), content_type("a/b.css")
    ('text/javascript; charset=utf-8', None, None)
    """
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    suffix = name[name.rfind(".") :] if "." in name else ""
    return CONTENT_TYPES.get(suffix)


class ActionRefused(ValueError):
    """An action the page asked for that cannot be taken: its HTTP status and one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def page_action(
    query: Mapping[str, str], state: MaterialState, now: datetime, silence_id: str
) -> tuple[str, Acknowledge | Silence] | None:
    """The alert action a dashboard button asks for: its record key and the action.

    ``query`` holds ``action`` (``acknowledge`` or ``silence``), ``alert_key``,
    ``by``, ``comment`` and, for a silence, ``hours`` (default 24). The alert
    must be open in ``state``; an acknowledgement is pinned to its id, as the
    command line pins it, and None means it is acknowledged already. A
    silence matches the alert's material, warehouse and rule, from ``now``.
    """
    kind = query.get("action", "")
    if kind not in ("acknowledge", "silence"):
        raise ActionRefused(400, f"query action={kind!r}: must be acknowledge or silence")
    alert_key = query.get("alert_key", "")
    alert = state.alerts.alerts.get(alert_key)
    if alert is None:
        close = difflib.get_close_matches(alert_key, state.alerts.alerts, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ActionRefused(
            404, f"no open alert of {state.material_id} has key {alert_key!r}{hint}"
        )
    by = query.get("by", "")
    comment = query.get("comment", "")
    try:
        if kind == "acknowledge":
            if alert.acknowledged_by:
                return None
            action: Acknowledge | Silence = Acknowledge(
                alert_key=alert_key,
                alert_id=alert.id,
                by=by,
                at=now,
                comment=comment or "acknowledged on the dashboard",
            )
            return f"ack:{alert_key}", action
        hours = query.get("hours") or "24"
        if not hours.isdigit() or not 1 <= int(hours) <= MAX_SILENCE_HOURS:
            raise ActionRefused(
                400, f"query hours={hours!r}: must be a whole number from 1 to {MAX_SILENCE_HOURS}"
            )
        action = Silence(
            id=silence_id,
            matchers={
                "material_id": state.material_id,
                "warehouse_id": alert.warehouse_id,
                "rule_id": alert.rule_id,
            },
            starts_at=now,
            ends_at=now + timedelta(hours=int(hours)),
            created_by=by,
            comment=comment or "silenced on the dashboard",
        )
        return f"silence:{silence_id}", action
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(map(str, problem["loc"])) or "query"
        raise ActionRefused(400, f"query {field}: {problem['msg']}") from error


@app.page("/")
class Dashboard(View):
    """The dashboard page; its sections are hash routes of this one page."""

    async def get(self, request: Request) -> Response:
        return _asset(self, "index.html")


@app.page("/dashboard/{name}")
class Asset(View):
    """A script, style sheet or picture of the dashboard, from the package."""

    async def get(self, request: Request, name: str) -> Response:
        return _asset(self, name)


def _asset(view: View, name: str) -> Response:
    kind = content_type(name)
    path = ASSETS / name
    if kind is None or not path.is_file():
        return view.bytes(b"not found", content_type="text/plain", status=404)
    # no-cache: a browser asks again (cheaply) after an upgrade instead of running old code.
    headers = {"Content-Type": kind, "Cache-Control": "no-cache"}
    return view.bytes(path.read_bytes(), headers=headers)


@app.page("/dashboard/actions/{material_id}")
class AlertAction(View):
    """Acknowledge or silence an open alert from the page, as the command line does."""

    async def post(self, request: Request, material_id: str) -> Response:
        if ACTION_HEADER not in request.headers:
            return _json(self, {"error": f"header {ACTION_HEADER} missing"}, 403)
        if _waiting_for():
            return _json(self, {"error": "worker is starting; retry"}, 503)
        return await self._routed_post(request, material_id=material_id)

    @app.table_route(table=materials_table, match_info="material_id")
    async def _routed_post(self, request: Request, material_id: str) -> Response:
        stored = states.stored(material_id)
        if stored is None:
            return _json(self, {"error": f"unknown material {material_id!r}"}, 404)
        state = MaterialState.model_validate_json(stored)
        try:
            taken = page_action(request.query, state, datetime.now(UTC), uuid.uuid4().hex[:12])
        except ActionRefused as refused:
            return _json(self, {"error": str(refused)}, refused.status)
        if taken is None:
            alert = state.alerts.alerts[request.query["alert_key"]]
            return _json(self, {"done": f"already acknowledged by {alert.acknowledged_by}"})
        label, action = taken
        notice = AlertActionNotice(material_id=material_id, action=action)
        await alert_actions_topic.send(key=label.encode(), value=encode(action))
        await material_events_topic.send(key=material_id.encode(), value=encode(notice))
        return _json(self, {"done": f"published {label}", "action": action.model_dump(mode="json")})


def _json(view: View, document: object, status: int = 200) -> Response:
    return view.bytes(orjson.dumps(document), content_type="application/json", status=status)
