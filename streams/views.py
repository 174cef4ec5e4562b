"""The worker's read API: health, material state, the rules in force and Prometheus metrics."""

import yaml
from faust.web import Request, Response, View
from prometheus_client import generate_latest

from agents.material import load_state, states
from models.rules.spec import RuleSpecError, builtin_rules, load_rules
from streams.app import app, materials_table, rules_table
from streams.metrics import CONSUMER_LAG, READY
from streams.supervision import CountingSupervisor


@app.page("/health")
class Health(View):
    """Readiness: 200 once this worker owns partitions and can route reads, 503 before.

    A 503 names what the worker still waits for, so a worker that never gets
    ready can be diagnosed from outside, or which agent crashed recently: Faust
    restarts it, so the worker answers while that agent's input stalls.
    """

    async def get(self, request: Request) -> Response:
        waiting_for = _waiting_for()
        if waiting_for:
            return self.json(
                {"status": "starting", "app": app.conf.id, "waiting_for": waiting_for}, status=503
            )
        crashing = _crashing()
        if crashing:
            return self.json(
                {"status": "crashing", "app": app.conf.id, "crashing": crashing}, status=503
            )
        return self.json({"status": "ok", "app": app.conf.id})


CRASH_WINDOW_S = 300.0


def _crashing() -> str | None:
    """The first agent that crashed in the last ``CRASH_WINDOW_S``: how often, and why last."""
    for agent in app.agents.values():
        if isinstance(agent.supervisor, CountingSupervisor):
            crashes = agent.supervisor.recent_crashes(CRASH_WINDOW_S)
            if crashes:
                return (
                    f"agent {agent.name} crashed {len(crashes)} times in the last "
                    f"{CRASH_WINDOW_S:.0f} s; last: {crashes[-1]}"
                )
    return None


def _waiting_for() -> str | None:
    """What keeps this worker from serving reads, or None once it can.

    Reads are routed by the materials changelog's partition count, which
    ``table_route`` takes from the producer's metadata. aiokafka refreshes
    metadata only for the topics its producer has asked about, so a topic it
    saw in an early all-topics refresh drops out once another is added, until
    this worker writes a changelog record. Asking for the topic here keeps it
    in every later refresh.
    """
    if app.rebalancing:
        return "rebalance"
    if not app.consumer.assignment():
        return "partition assignment"
    client = app.producer._ensure_producer().client
    changelog = materials_table.changelog_topic.get_topic_name()
    if client.cluster.partitions_for_topic(changelog) is None:
        client.add_topic(changelog)
        return "metadata of the materials changelog"
    return None


@app.page("/materials/{material_id}")
class Material(View):
    """Full state of one material, from whichever worker owns its partition."""

    async def get(self, request: Request, material_id: str) -> Response:
        if _waiting_for():
            return self.json({"error": "worker is starting; retry"}, status=503)
        return await self._routed_get(request, material_id=material_id)

    @app.table_route(table=materials_table, match_info="material_id")
    async def _routed_get(self, request: Request, material_id: str) -> Response:
        if states.stored(material_id) is None:
            return self.json({"error": f"unknown material {material_id!r}"}, status=404)
        return self.bytes(
            load_state(material_id).model_dump_json().encode(), content_type="application/json"
        )


@app.page("/rules")
class Rules(View):
    """The rules in force: the built-in pack with the published rule file laid over it.

    YAML by default, a complete rule file that ``stockloop rules validate``
    accepts back; JSON with ``Accept: application/json`` or ``?format=json``.
    The ``X-Stockloop-Rules`` header says whether a published file is in force.
    """

    async def get(self, request: Request) -> Response:
        published = rules_table.get("active")
        source = "builtin" if published is None else "builtin+published"
        try:
            rules = (
                builtin_rules()
                if published is None
                else load_rules(published, base=builtin_rules())
            )
        except RuleSpecError as error:
            # `stockloop rules apply` validates first; a file written around it lands here.
            message = (
                f"the published rule file is invalid, workers keep their previous rules: {error}"
            )
            return self.json({"error": message}, status=500)
        document = rules.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        headers = {"X-Stockloop-Rules": source}
        if _wants_json(request):
            return self.json(document, headers=headers)
        text = f"# rules in force ({source}); JSON: GET /rules?format=json\n" + yaml.safe_dump(
            document, sort_keys=False, allow_unicode=True
        )
        return self.bytes(text.encode(), content_type="text/yaml", headers=headers)


def _wants_json(request: Request) -> bool:
    return request.query.get("format") == "json" or "application/json" in request.headers.get(
        "Accept", ""
    )


@app.page("/metrics")
class Metrics(View):
    """Prometheus exposition of this worker's counters."""

    async def get(self, request: Request) -> Response:
        # aiohttp refuses a charset inside content_type; the text format is UTF-8 anyway.
        return self.bytes(generate_latest(), content_type="text/plain; version=0.0.4")


@app.timer(interval=5.0)
async def measure_consumer_lag() -> None:
    """Records between each assigned partition's position and its high watermark.

    A partition this worker no longer owns loses its value, so that after a
    rebalance only the new owner reports it.
    """
    consumer = app.consumer
    assigned = consumer.assignment()
    owned = {(tp.topic, str(tp.partition)) for tp in assigned}
    for labels in _lag_labels() - owned:
        CONSUMER_LAG.remove(*labels)
    for tp in assigned:
        highwater = consumer.highwater(tp)
        position = await consumer.position(tp)
        if highwater is not None and position is not None:
            CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(highwater - position, 0))


def _lag_labels() -> set[tuple[str, str]]:
    """The (topic, partition) pairs the lag gauge holds a value for."""
    return {
        (sample.labels["topic"], sample.labels["partition"])
        for family in CONSUMER_LAG.collect()
        for sample in family.samples
    }


@app.timer(interval=5.0)
async def measure_readiness() -> None:
    """``stockloop_ready``: what ``/health`` would answer, for Prometheus to alert on."""
    READY.labels(app.conf.id).set(0 if _waiting_for() or _crashing() else 1)
