"""The Faust app: topics and tables of a stockloop worker, in the order data flows.

Keys and values travel as raw bytes; ``models.events.encode`` and pydantic
decode them, so there is one codec and validation errors stay precise.
"""

from collections.abc import Iterable
from typing import Any, TypeVar

import faust
from faust.types import TP, EventT
from faust.types.auth import CredentialsT

from connectors.kafka_security import KafkaSecurity
from streams import table_store
from streams.bulk_restore import TableManager
from streams.catalogue import (
    ALERT_ACTIONS,
    ALERTS,
    AVAILABILITY,
    BOMS,
    DEAD_LETTER,
    INPUT_TOPICS,
    MATERIAL_EVENTS,
    NOTIFICATION_INBOX,
    NOTIFICATIONS,
    POLICIES,
    PRODUCTION_ORDERS,
    PROMOTIONS,
    PURCHASE_REQUEST_ACTIONS,
    PURCHASE_REQUESTS,
    REVIEW_ACTIONS,
    REVIEWS,
    RULES,
    SHORTAGES,
    TRANSFER_ACTIONS,
    TRANSFERS,
    load_catalogue,
)
from streams.settings import get_settings
from streams.supervision import CountingSupervisor
from streams.transport import Transport


def broker_credentials(security: KafkaSecurity) -> CredentialsT | None:
    """Faust's credentials for ``security``: the same TLS context and login as the CLI's.

    Faust hands them to every aiokafka client it makes (consumer, producer, and
    the client that creates its changelog topics); None is a plaintext connection.
    """
    context = security.ssl_context()
    if security.uses_sasl:
        return faust.SASLCredentials(
            username=security.username,
            password=security.password,
            ssl_context=context,
            mechanism=security.mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


settings = get_settings()
catalogue = load_catalogue(settings.topics_file)
table_store.register()

app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.bootstrap_servers}",
    broker_credentials=broker_credentials(settings.kafka_security),
    store=settings.table_store,
    datadir=str(settings.data_dir),
    web_host=settings.web_host,
    web_port=settings.web_port,
    web_bind=settings.web_host,
    topic_partitions=catalogue[MATERIAL_EVENTS].partitions,
    topic_replication_factor=catalogue[MATERIAL_EVENTS].replication_factor,
    # Also what makes table recovery finish after the log cleaner: Faust seeks one before a
    # compacted changelog's first offset and relies on the reset (faust-streaming#176;
    # tests/integration/test_changelog_compaction.py).
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=settings.session_timeout_s,
    broker_heartbeat_interval=settings.session_timeout_s / 5,
    broker_commit_interval=settings.commit_interval_s,
    producer_acks=-1,
    broker_max_poll_records=settings.max_poll_records,
    table_cleanup_interval=60.0,
    agent_supervisor=CountingSupervisor,
    TableManager=TableManager,
)
app.transport = Transport(app.conf.broker_consumer, app)


def _raw_topic(*names: str) -> faust.TopicT:
    return app.topic(
        *(settings.topic(name) for name in names),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )


erp_topics = _raw_topic(*INPUT_TOPICS)
material_events_topic = _raw_topic(MATERIAL_EVENTS)
dead_letter_topic = _raw_topic(DEAD_LETTER)
alerts_topic = _raw_topic(ALERTS)
rules_topic = _raw_topic(RULES)
policies_topic = _raw_topic(POLICIES)
alert_actions_topic = _raw_topic(ALERT_ACTIONS)
purchase_requests_topic = _raw_topic(PURCHASE_REQUESTS)
purchase_request_actions_topic = _raw_topic(PURCHASE_REQUEST_ACTIONS)
transfers_topic = _raw_topic(TRANSFERS)
transfer_actions_topic = _raw_topic(TRANSFER_ACTIONS)
reviews_topic = _raw_topic(REVIEWS)
review_actions_topic = _raw_topic(REVIEW_ACTIONS)
availability_topic = _raw_topic(AVAILABILITY)
production_topics = _raw_topic(PRODUCTION_ORDERS, BOMS)
shortages_topic = _raw_topic(SHORTAGES)
notification_sources_topic = _raw_topic(ALERTS, PURCHASE_REQUESTS, TRANSFERS, REVIEWS, SHORTAGES)
notification_inbox_topic = _raw_topic(NOTIFICATION_INBOX)
notifications_topic = _raw_topic(NOTIFICATIONS)


class RawTable(faust.Table):
    """A table of material ids to JSON bytes that stockloop encodes itself.

    Faust would JSON-encode keys and values again; raw keys also make
    ``table_route`` hash a material id exactly as the producer of
    ``stockloop.material-events`` does, so reads reach the owning worker.
    """

    def _serializer_from_type(self, typ: object) -> str:
        return "raw"


class RawGlobalTable(RawTable, faust.GlobalTable):
    """A raw-bytes table every worker holds in full and keeps reading.

    ``synchronize_all_active_partitions``: Faust otherwise stops reading the
    changelog partitions a worker owns once recovered, and records written
    by others (the CLI, another worker's ingest) would never arrive.

    ``changes`` moves whenever the content may have: a write here, records
    read from the changelog (another worker's writes), a recovery (which
    may have written the store in bulk, ``streams.bulk_restore``), a
    rebalance. What is derived from the whole table is derived again only
    when it moved (``agents.material.AlertContext``).
    """

    def __init__(self, app: faust.App, **kwargs: object) -> None:
        super().__init__(app, is_global=True, synchronize_all_active_partitions=True, **kwargs)
        self.changes = 0

    def on_key_set(self, key: Any, value: Any) -> None:
        super().on_key_set(key, value)
        self.changes += 1

    def on_key_del(self, key: Any) -> None:
        super().on_key_del(key)
        self.changes += 1

    def apply_changelog_batch(self, batch: Iterable[EventT]) -> None:
        super().apply_changelog_batch(batch)
        self.changes += 1

    async def on_rebalance(
        self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP], generation_id: int = 0
    ) -> None:
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)
        self.changes += 1

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        await super().on_recovery_completed(active_tps, standby_tps)
        self.changes += 1


TableT = TypeVar("TableT", bound=RawTable)


def _table(kind: type[TableT], name: str, partitions: int, help: str) -> TableT:
    """A table keyed by a string, co-partitioned with the topic whose agent writes it."""
    table = kind(
        app,
        name=name,
        beacon=app.tables.beacon,
        key_type=str,
        value_type=bytes,
        partitions=partitions,
        help=help,
    )
    app.tables.add(table)
    return table


materials_table = _table(
    RawTable,
    "materials",
    catalogue[MATERIAL_EVENTS].partitions,
    "MaterialState per material id, as JSON.",
)
category_promotions_table = _table(
    RawGlobalTable,
    "category-promotions",
    catalogue[PROMOTIONS].partitions,
    "PromotionEvent per promotion id, for promotions of a whole category.",
)
rules_table = _table(
    RawGlobalTable,
    "rules",
    catalogue[RULES].partitions,
    "The active rule file (YAML) under key 'active', mirrored from stockloop.rules.",
)
policies_table = _table(
    RawGlobalTable,
    "policies",
    catalogue[POLICIES].partitions,
    "Published response policies (YAML) by name, mirrored from stockloop.policies.",
)
alert_actions_table = _table(
    RawGlobalTable,
    "alert-actions",
    catalogue[ALERT_ACTIONS].partitions,
    "Acknowledgements and silences by key, mirrored from stockloop.alert-actions.",
)
applied_events_table = _table(
    RawTable,
    "applied-events",
    catalogue[MATERIAL_EVENTS].partitions,
    "Event time of every event id a material received, for exact de-duplication, "
    "pruned after the de-duplication horizon (streams.applied_events).",
)
availability_table = _table(
    RawGlobalTable,
    "availability",
    catalogue[AVAILABILITY].partitions,
    "MaterialAvailability per material id, mirrored from stockloop.availability: what every "
    "component offers per warehouse, for the shortage analysis.",
)
bom_lines_table = _table(
    RawGlobalTable,
    "bom-lines",
    catalogue[BOMS].partitions,
    "The current BomLine per 'parent|component', folded from erp.boms (a deleted line is removed).",
)
production_orders_table = _table(
    RawGlobalTable,
    "production-orders",
    catalogue[PRODUCTION_ORDERS].partitions,
    "The latest version of each open ProductionOrder by order id, folded from "
    "erp.production-orders: the orders that compete for components.",
)
inboxes_table = _table(
    RawTable,
    "inboxes",
    catalogue[NOTIFICATION_INBOX].partitions,
    "Inboxes (models.notifying), as JSON: under a recipient's name its groups and digest day, "
    "under 'recipient<US>subject id' each subject, with what waits for it (streams.inboxes).",
)
health_materials_table = _table(
    RawTable,
    "health-materials",
    catalogue[MATERIAL_EVENTS].partitions,
    "MaterialHealth per material id (models.health): what each material adds to the "
    "inventory-health summary; the lists behind the dashboard (streams.health).",
)
health_cells_table = _table(
    RawTable,
    "health-cells",
    catalogue[MATERIAL_EVENTS].partitions,
    "Inventory-health Totals per [partition, warehouse, category, abc] cell: each partition's "
    "summary, kept by its owner; the API gathers them from every owner (streams.health).",
)
