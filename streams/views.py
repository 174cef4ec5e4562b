"""The worker's read API: health, material state and Prometheus metrics."""

from faust.web import Request, Response, View
from prometheus_client import generate_latest

from agents.material import load_state
from streams.app import app, materials_table, rules_table
from streams.metrics import CONSUMER_LAG


@app.page("/health")
class Health(View):
    """Readiness: 200 once this worker owns partitions and can route reads, 503 before."""

    async def get(self, request: Request) -> Response:
        if not _ready():
            return self.json({"status": "starting", "app": app.conf.id}, status=503)
        return self.json({"status": "ok", "app": app.conf.id})


def _ready() -> bool:
    """Partitions are assigned and the producer knows the table's partitions (for routing)."""
    if app.rebalancing or not app.consumer.assignment():
        return False
    metadata = app.producer._ensure_producer().client.cluster
    return (
        metadata.partitions_for_topic(materials_table.changelog_topic.get_topic_name()) is not None
    )


@app.page("/materials/{material_id}")
class Material(View):
    """Full state of one material, from whichever worker owns its partition."""

    async def get(self, request: Request, material_id: str) -> Response:
        if not _ready():
            return self.json({"error": "worker is starting; retry"}, status=503)
        return await self._routed_get(request, material_id=material_id)

    @app.table_route(table=materials_table, match_info="material_id")
    async def _routed_get(self, request: Request, material_id: str) -> Response:
        if material_id not in materials_table:
            return self.json({"error": f"unknown material {material_id!r}"}, status=404)
        return self.bytes(
            load_state(material_id).model_dump_json().encode(), content_type="application/json"
        )


@app.page("/rules")
class Rules(View):
    """The rule file published on stockloop.rules, as this worker holds it (empty: built-ins)."""

    async def get(self, request: Request) -> Response:
        return self.bytes(rules_table.get("active") or b"", content_type="text/yaml")


@app.page("/metrics")
class Metrics(View):
    """Prometheus exposition of this worker's counters."""

    async def get(self, request: Request) -> Response:
        # aiohttp refuses a charset inside content_type; the text format is UTF-8 anyway.
        return self.bytes(generate_latest(), content_type="text/plain; version=0.0.4")


@app.task
async def learn_table_partitions() -> None:
    """Let ``table_route`` hash keys before this worker has written its first changelog record.

    Faust routes a read by the changelog topic's partition count, which the
    producer only learns from metadata; without this, reads of a fresh worker fail.
    """
    await app.producer._ensure_producer().partitions_for(
        materials_table.changelog_topic.get_topic_name()
    )


@app.timer(interval=5.0)
async def measure_consumer_lag() -> None:
    """Records between each assigned partition's position and its high watermark."""
    consumer = app.consumer
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp)
        position = await consumer.position(tp)
        if highwater is not None and position is not None:
            CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(highwater - position, 0))
