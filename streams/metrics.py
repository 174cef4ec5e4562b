"""Prometheus metrics of a worker.

Input accounting follows principle 4 (nothing lost, nothing doubled): per
source topic, ``received`` equals ``applied + duplicate + dead_lettered +
tombstone``, and the test suite checks that it does. A CDC mapping adds three
ends a change may have: ``skipped`` (a row its ``when`` leaves out, or an edit
of a row already counted), ``reference`` (a row kept for lookups) and
``held`` (waiting for its reference row; ``released`` when it is read again).
"""

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "stockloop_events",
    "Input records by source topic and outcome (received, applied, duplicate, dead_lettered, "
    "tombstone; with a CDC mapping also skipped, reference, held and released).",
    ["topic", "outcome"],
)
PROCESSING_SECONDS = Histogram(
    "stockloop_processing_seconds",
    "Time spent handling one record, by stage (ingest, material, tick: a partition scan, "
    "its slices summed without the records served between them).",
    ["stage"],
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0),
)
END_TO_END_SECONDS = Histogram(
    "stockloop_end_to_end_seconds",
    "From a material event being written by ingest to its being applied to material state.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
CONSUMER_LAG = Gauge(
    "stockloop_consumer_lag",
    "Records behind the partition's high watermark, per assigned topic-partition.",
    ["topic", "partition"],
)
ALERTS = Counter(
    "stockloop_alerts",
    "Alert transitions published, by rule, status and severity.",
    ["rule", "status", "severity"],
)
TRANSFERS = Counter(
    "stockloop_transfers",
    "Transfer transitions between warehouses published, by status.",
    ["status"],
)
RESENT_OUTPUTS = Counter(
    "stockloop_resent_outputs",
    "Output records sent again on taking over a partition: a previous owner may have "
    "stopped before they reached their topic (at least once; consumers deduplicate by id).",
)
REVIEWS = Counter(
    "stockloop_reviews",
    "Dead-stock review transitions published, by status.",
    ["status"],
)
PURCHASE_REQUESTS = Counter(
    "stockloop_purchase_requests",
    "Purchase request transitions published, by status.",
    ["status"],
)
NOTIFICATIONS = Counter(
    "stockloop_notifications",
    "Notifications published for delivery, by urgency (immediate, reminder, escalation, digest).",
    ["urgency"],
)
INBOX_RECORDS = Counter(
    "stockloop_inbox_records",
    "Records the notification inboxes took, by kind (item, settled, tick).",
    ["kind"],
)
ROUTING_ERRORS = Counter(
    "stockloop_routing_errors",
    "Alert or response records the notification router could not read or route (logged).",
)
RULE_ERRORS = Counter(
    "stockloop_rule_errors",
    "Published rule files that failed validation (the previous rules stayed in force).",
)
POLICY_ERRORS = Counter(
    "stockloop_policy_errors",
    "Published response policies that failed validation, by policy (approval, reviews, "
    "transfer-lanes, routes); the previous one, or the default, stayed in force.",
    ["policy"],
)
LATE_DEMAND = Counter(
    "stockloop_late_demand_events",
    "Demand events for a day already closed (past the grace period): stock moved, "
    "the forecast did not.",
)
FORECAST_ERROR = Histogram(
    "stockloop_forecast_scaled_error",
    "One-step forecast error of the demand days a step closed, per material and warehouse: "
    "their mean absolute error over the naive forecast's (tomorrow as today). Its mean over "
    "days is the MASE; below 1 the forecast beats the naive one.",
    buckets=(0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
)
TICKED_MATERIALS = Counter(
    "stockloop_ticked_materials",
    "Materials brought to a tick's time, by whether their state changed (changed: written to "
    "the table and its changelog; unchanged: not written).",
    ["outcome"],
)
CONTROL_RECORDS = Counter(
    "stockloop_control_records",
    "Records of the control topics (rules, policies, alert actions) copied into this worker's "
    "tables.",
    ["topic"],
)
WATERMARK_SECONDS = Gauge(
    "stockloop_watermark_seconds",
    "Event time (Unix seconds) every input has passed, per partition of material-events: "
    "events up to it are applied, newer ones wait (README: ordering).",
    ["partition"],
)
PENDING_MATERIALS = Gauge(
    "stockloop_pending_materials",
    "Materials with events waiting for the watermark, per partition of material-events.",
    ["partition"],
)
DEAD_LETTER_FAILURES = Counter(
    "stockloop_dead_letter_failures",
    "Dead letters the producer or broker refused. The record still counts as dead_lettered; "
    "the worker log names its source position, reason and value sha256.",
)
AGENT_CRASHES = Counter(
    "stockloop_agent_crashes",
    "Agent crashes Faust restarted, by agent; each pauses the agent's input (see /health).",
    ["agent"],
)
HELD_BACK_PARTITIONS = Gauge(
    "stockloop_held_back_input_partitions",
    "Input partitions this worker holds back for being ahead of the slowest one in event time "
    "by more than STOCKLOOP_LATENESS_S (a backlog is read roughly in event-time order).",
)
SHORTAGE_SECONDS = Histogram(
    "stockloop_shortage_analysis_seconds",
    "Time to analyse one production order version: read the BOM, the open orders and the "
    "components' availability from the mirrored tables, explode and net.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
)
DELIVERIES = Counter(
    "stockloop_deliveries",
    "Delivery attempts of `stockloop deliver`, by channel and outcome "
    "(delivered, retrying, failed: the retry budget is spent).",
    ["channel", "outcome"],
)
DELIVERY_SECONDS = Histogram(
    "stockloop_delivery_seconds",
    "From a notification's creation to its delivery on a channel, by channel.",
    ["channel"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0),
)
ALERTS_CLOSED = Counter(
    "stockloop_alerts_closed",
    "Alerts that ended, by rule, receiver (the owner label) and what their closing transition "
    "shows: acknowledged, resolved_on_its_own, ignored. The answers by requests, transfers "
    "and reviews are in `stockloop rules report`.",
    ["rule", "receiver", "outcome"],
)
ACKNOWLEDGE_SECONDS = Histogram(
    "stockloop_alert_acknowledge_seconds",
    "From an alert's raising to its acknowledgement, by rule.",
    ["rule"],
    buckets=(60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400),
)
READY = Gauge(
    "stockloop_ready",
    "1 while this worker can serve reads (GET /health answers 200); 0 while it starts, "
    "rebalances, or an agent of it crashed in the last five minutes.",
    ["app"],
)
