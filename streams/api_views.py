"""The JSON API behind the inventory-health dashboard: summary, materials, alerts, requests.

Every worker answers every read for all partitions. Each worker keeps the
inventory health of the partitions it owns (``streams.health``); the worker
asked gathers the answers of every owner (its own, and the others' over
``/api/local/...``), merges them and checks that every partition answered,
so the numbers are the same whichever worker is asked. A page of a list is
placed from each owner's sampled keys and the keys between two bounds, so
only its own rows are built, however deep it is. ``/api/materials/{id}``
is routed to the material's owner, like ``/materials/{id}``. Filters are
query parameters (``warehouse``, ``category``, ``abc``, ``severity``; ``-``
is a material without a category or ABC class); lists take ``page`` and
``per_page``. The table of endpoints is ``docs/dashboard-api.md``.
"""

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson
from faust.web import Request, Response, View
from pydantic import ValidationError

from agents.material import states
from models.health import NONE, SEVERITIES, HealthFilter, health_of, summary_report
from models.material_charts import material_charts
from models.ranking import REQUEST_ORDER
from models.state import MaterialState
from streams.app import (
    app,
    catalogue,
    health_cells_table,
    health_materials_table,
    materials_table,
    settings,
)
from streams.catalogue import MATERIAL_EVENTS
from streams.health import (
    MAX_PER_PAGE,
    Key,
    Sampled,
    Window,
    listing_of,
    local_sampled,
    local_window,
    merged_summary,
    page_bounds,
    page_keys,
    rankings_of,
    rows_of,
    sample_step,
    summary_cells,
    summary_from_cells,
)
from streams.material_states import material_partition
from streams.views import _waiting_for

rankings = rankings_of(health_materials_table, material_partition)
PARTITIONS = catalogue[MATERIAL_EVENTS].partitions
ABC_CLASSES = ("A", "B", "C", NONE)


class BadQuery(ValueError):
    """A query parameter the API cannot use; the message names it, its value and why."""


def _choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = query.get(name) or None
    if value is not None and value not in allowed:
        raise BadQuery(f"query {name}={value!r}: must be one of {', '.join(allowed)}")
    return value


def _number(query: Mapping[str, str], name: str, default: int, highest: int) -> int:
    text = query.get(name) or str(default)
    if not text.isdigit() or not 1 <= int(text) <= highest:
        raise BadQuery(f"query {name}={text!r}: must be a whole number from 1 to {highest}")
    return int(text)


def health_filter(query: Mapping[str, str]) -> HealthFilter:
    """The filter a request's query asks for; ``BadQuery`` for a value it cannot be."""
    try:
        return HealthFilter(
            warehouse=query.get("warehouse") or None,
            category=query.get("category") or None,
            abc=_choice(query, "abc", ABC_CLASSES),
            severity=_choice(query, "severity", SEVERITIES),
        )
    except ValidationError as error:
        raise BadQuery(f"query: {error.errors()[0]['msg']}") from error


def paging(query: Mapping[str, str]) -> tuple[int, int]:
    """``page`` (from 1) and ``per_page`` (default 50, at most ``MAX_PER_PAGE``)."""
    return _number(query, "page", 1, 1_000_000), _number(query, "per_page", 50, MAX_PER_PAGE)


class NotReady(Exception):
    """Some partition has no owner that answered; the message says which (a 503: ask again)."""


def owned_partitions() -> set[int]:
    """The partitions of the materials table this worker owns now."""
    changelog = materials_table.changelog_topic.get_topic_name()
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == changelog}


def _ident(url: object) -> tuple[str, int]:
    parts = urlsplit(str(url))
    return parts.hostname or "", parts.port or 80


def local_answer(kind: str, query: Mapping[str, str]) -> dict[str, object]:
    """This worker's part of an answer: its own partitions only; for a list, sampled keys."""
    partitions = owned_partitions()
    chosen = health_filter(query)
    answer: dict[str, object] = {"partitions": sorted(partitions)}
    if kind == "summary":
        answer["cells"] = summary_cells(merged_summary(health_cells_table.items(), partitions))
        return answer
    page, per_page = paging(query)
    status = _choice(query, "status", REQUEST_ORDER)
    limit = page * per_page
    step = sample_step(limit, per_page)
    sampled = local_sampled(rankings, kind, chosen, status, partitions, limit, step)
    answer["sampled"] = [part.as_json() for part in sampled]
    return answer


def local_part(kind: str, query: Mapping[str, str], asked: Mapping[str, Any]) -> object:
    """This worker's answer to a list's later questions: the keys between two bounds, or rows.

    ``asked`` is ``{"bounds": [low, high]}`` (its ``Window`` of the page's
    first ``page x per_page`` rows) or ``{"keys": [...]}`` (the rows of
    those keys, ``None`` for one gone since).
    """
    chosen = health_filter(query)
    if "keys" in asked:
        return rows_of(rankings, kind, chosen, asked["keys"])
    page, per_page = paging(query)
    status = _choice(query, "status", REQUEST_ORDER)
    low, high = asked["bounds"]
    bounds = (None if low is None else tuple(low), None if high is None else tuple(high))
    windows = local_window(
        rankings, kind, chosen, status, owned_partitions(), page * per_page, bounds
    )
    return [window.model_dump(mode="json") for window in windows]


Host = str | None
"""Where an owner's part came from: another worker's URL, or None for this worker."""


async def _fetched(url: str, params: Mapping[str, str], body: bytes | None = None) -> Any:
    """Another worker's JSON answer (a POST when there is a body); ``NotReady`` unless a 200."""
    request = app.http_client.get if body is None else app.http_client.post
    async with request(url, params=dict(params), data=body) as response:
        if response.status != 200:
            raise NotReady(f"worker at {url} answered {response.status}; retry")
        return orjson.loads(await response.read())


async def gathered(kind: str, request: Request) -> list[tuple[Host, dict]]:
    """Every owner's part of an answer: this worker's, and the other owners' over HTTP."""
    own = _ident(app.conf.canonical_url)
    hosts = {
        _ident(host): str(host).rstrip("/")
        for host in app.router.table_metadata(materials_table.name)
        if _ident(host) != own
    }
    answers: list[tuple[Host, dict]] = [(None, local_answer(kind, request.query))]
    for host in hosts.values():
        answer = await _fetched(f"{host}/api/local/{kind}", request.query)
        answers.append((host, answer))
    answered = [p for _, answer in answers for p in answer["partitions"]]
    missing = set(range(PARTITIONS)) - set(answered)
    if missing or len(answered) != len(set(answered)):
        raise NotReady(f"partitions {sorted(missing)} not answered (rebalancing?); retry")
    return answers


async def asked_of(kind: str, request: Request, host: Host, asked: dict[str, Any]) -> Any:
    """An owner's answer to a list's later question (``local_part``), this worker's or another's."""
    if host is None:
        return local_part(kind, request.query, asked)
    return await _fetched(f"{host}/api/local/{kind}", request.query, orjson.dumps(asked))


async def page_rows(
    kind: str, request: Request, owners: list[Host], on_page: list[tuple[int, Key]]
) -> list[dict]:
    """The rows of a page's keys, in their order: each owner asked once, for its keys alone."""
    rows: list[dict | None] = [None] * len(on_page)
    for n, host in enumerate(owners):
        positions = [at for at, (owner, _) in enumerate(on_page) if owner == n]
        if positions:
            keys = [on_page[at][1] for at in positions]
            found = await asked_of(kind, request, host, {"keys": keys})
            for at, row in zip(positions, found, strict=True):
                rows[at] = row
    return [row for row in rows if row is not None]


class Refused(Exception):
    """A read the API cannot answer now: its HTTP status and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class JsonView(View):
    """A read-only view answering JSON: a one-line 400 for a bad query, 503 while rebalancing."""

    def answer(self, document: object, status: int = 200) -> Response:
        return self.bytes(orjson.dumps(document), content_type="application/json", status=status)

    async def gather(self, kind: str, request: Request) -> list[tuple[Host, dict]]:
        """Every owner's part of the answer; ``Refused`` for a bad query or a partition missing."""
        try:
            health_filter(request.query)
            paging(request.query)
            _choice(request.query, "status", REQUEST_ORDER)
        except BadQuery as error:
            raise Refused(400, str(error)) from error
        if _waiting_for():
            raise Refused(503, "worker is starting; retry")
        try:
            return await gathered(kind, request)
        except NotReady as error:
            raise Refused(503, str(error)) from error

    async def listing(self, kind: str, request: Request) -> Response:
        """A page of a list: owners' samples bound it, their keys between place it, then rows.

        Three questions to each other owner, however deep the page: its
        total and sampled keys, its keys between the bounds, its rows on
        the page (``streams.health``). A row that moves between them may
        show on two pages or none: the next refresh puts it right.
        """
        try:
            answers = await self.gather(kind, request)
            page, per_page = paging(request.query)
            start = (page - 1) * per_page
            owners = [host for host, _ in answers]
            parts, owner_of = [], []  # one part per partition, and its owner's index
            for n, (_, answer) in enumerate(answers):
                parts += [Sampled.model_validate(part) for part in answer["sampled"]]
                owner_of += [n] * len(answer["sampled"])
            bounds = page_bounds(parts, start, start + per_page)
            windows = []
            for host in owners:
                asked = await asked_of(kind, request, host, {"bounds": bounds})
                windows += [Window.model_validate(window) for window in asked]
            if len(windows) != len(parts):
                raise NotReady("partitions moved while the page was placed (rebalancing?); retry")
            on_page = [(owner_of[n], key) for n, key in page_keys(windows, start, per_page)]
            items = await page_rows(kind, request, owners, on_page)
        except Refused as refused:
            return self.answer({"error": str(refused)}, status=refused.status)
        except NotReady as error:
            return self.answer({"error": str(error)}, status=503)
        document: dict[str, object] = {
            "filters": health_filter(request.query).model_dump(exclude_none=True)
        }
        if kind == "requests":
            by_status: dict[str, int] = {}
            for part in parts:
                for status, count in part.by_status.items():
                    by_status[status] = by_status.get(status, 0) + count
            document["by_status"] = by_status
        listing = listing_of(sum(part.total for part in parts), page, per_page, items)
        return self.answer({**document, **listing.model_dump(mode="json")})


@app.page("/api/local/{kind}")
class Local(JsonView):
    """This worker's part of an answer (its own partitions), for the worker that gathers them.

    GET: the summary's cells, or a list's total and sampled keys. POST
    with ``{"bounds": [low, high]}``: its keys between them and how many
    lie before; with ``{"keys": [...]}`` (keys it sent): their rows, in
    order, ``null`` for a row gone since (``local_part``).
    """

    async def get(self, request: Request, kind: str) -> Response:
        refused = self._refused(kind)
        if refused is not None:
            return refused
        try:
            return self.answer(local_answer(kind, request.query))
        except BadQuery as error:
            return self.answer({"error": str(error)}, status=400)

    async def post(self, request: Request, kind: str) -> Response:
        refused = self._refused(kind)
        if refused is not None:
            return refused
        try:
            return self.answer(local_part(kind, request.query, orjson.loads(await request.read())))
        except BadQuery as error:
            return self.answer({"error": str(error)}, status=400)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            reason = f"body: not {{'bounds': [low, high]}} nor {{'keys': [...]}}: {error}"
            return self.answer({"error": reason}, status=400)

    def _refused(self, kind: str) -> Response | None:
        if kind not in ("summary", "materials", "alerts", "requests"):
            return self.answer({"error": f"unknown list {kind!r}"}, status=404)
        if _waiting_for():
            # Its tables may still be restoring: an index built now would miss their rest.
            return self.answer({"error": "worker is rebalancing; retry"}, status=503)
        return None


@app.page("/api/summary")
class Summary(JsonView):
    """Inventory health over all partitions: totals and by warehouse, category, ABC, risk map."""

    async def get(self, request: Request) -> Response:
        try:
            answers = await self.gather("summary", request)
        except Refused as refused:
            return self.answer({"error": str(refused)}, status=refused.status)
        summary = summary_from_cells(answer["cells"] for _, answer in answers)
        report = summary_report(summary, health_filter(request.query))
        report["partitions"] = PARTITIONS
        return self.answer(report)


@app.page("/api/materials")
class Materials(JsonView):
    """The materials behind the summary or one of its cells, highest value at risk first."""

    async def get(self, request: Request) -> Response:
        return await self.listing("materials", request)


@app.page("/api/materials/{material_id}")
class Material(JsonView):
    """One material's health (overall, per warehouse), charts and full state, from its owner."""

    async def get(self, request: Request, material_id: str) -> Response:
        if _waiting_for():
            return self.answer({"error": "worker is starting; retry"}, status=503)
        return await self._routed_get(request, material_id=material_id)

    @app.table_route(table=materials_table, match_info="material_id")
    async def _routed_get(self, request: Request, material_id: str) -> Response:
        stored = states.stored(material_id)
        if stored is None:
            return self.answer({"error": f"unknown material {material_id!r}"}, status=404)
        state = MaterialState.model_validate_json(stored)
        health = health_of(state)
        charts = (
            material_charts(state, health.as_of.date(), settings.planning) if health.as_of else {}
        )
        return self.answer(
            {
                "material_id": material_id,
                "name": health.name,
                "category": health.category,
                "abc_class": health.abc_class,
                "as_of": health.as_of,
                "health": health.totals().report(),
                "warehouses": {w: t.report() for w, t in health.stocks.items()},
                "alerts": [a.model_dump(mode="json") for a in health.alerts],
                "closed_alerts": [c.model_dump(mode="json") for c in reversed(state.alerts.closed)],
                "requests": [r.model_dump(mode="json") for r in health.requests],
                "charts": {w: c.model_dump(mode="json") for w, c in charts.items()},
                "state": state.model_dump(mode="json"),
            }
        )


@app.page("/api/alerts")
class Alerts(JsonView):
    """Open alerts over all partitions, highest value at risk first."""

    async def get(self, request: Request) -> Response:
        return await self.listing("alerts", request)


@app.page("/api/requests")
class Requests(JsonView):
    """Open purchase requests over all partitions: how many in each state, and a page of them."""

    async def get(self, request: Request) -> Response:
        return await self.listing("requests", request)
