"""Fuzzed input over a real broker: every record ends in exactly one outcome, no agent crashes.

A few hundred records, mostly mutations of valid plain and Debezium records,
plus each trigger that once crashed the ingest agent (issue 7): an event time
whose zone offset leaves the calendar, JSON nested a thousand deep, a value of
almost a mebibyte, event times centuries off, dates at the end of the calendar.
"""

import random
import re
from collections import Counter

import httpx
import orjson
import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from connectors.simulator import ErpSimulator
from models.events import DeadLetter
from streams.catalogue import INPUT_TOPICS
from tests.integration.harness import Pipeline, wait_until
from tests.json_paths import paths, replaced

pytestmark = pytest.mark.integration

OUTCOMES = ("applied", "duplicate", "tombstone", "dead_lettered")
T = "2026-09-03T08:00:00Z"
MOVEMENT = {
    "event_id": "fz-mv",
    "event_time": T,
    "material_id": "FZ-1",
    "movement_type": "receipt",
    "warehouse_id": "W1",
    "quantity": 5,
}
ORDER_LINE = {
    "event_id": "fz-so",
    "event_time": T,
    "material_id": "FZ-1",
    "order_id": "SO-1",
    "line_id": "10",
    "warehouse_id": "W1",
    "quantity": 3,
    "due_date": "2026-09-10",
    "status": "confirmed",
}
DEEP = b"[" * 1000 + b"1" + b"]" * 1000


def triggers() -> list[tuple[str, bytes]]:
    """The records that crashed ingest or failed in planning before issue 7."""
    return [
        ("erp.stock-movements", orjson.dumps(MOVEMENT | {"event_time": "0001-01-01T00:30+05:00"})),
        ("erp.stock-movements", orjson.dumps(MOVEMENT | {"event_time": "9999-12-31T23:30-05:00"})),
        ("erp.stock-movements", orjson.dumps(MOVEMENT | {"event_id": "@"}).replace(b'"@"', DEEP)),
        ("erp.stock-movements", orjson.dumps(MOVEMENT | {"batch_id": "B" * 950_000})),
        ("erp.stock-movements", orjson.dumps(MOVEMENT | {"event_time": "2200-01-01T00:00:00Z"})),
        ("erp.stock-movements", orjson.dumps(MOVEMENT | {"event_time": "0005-01-01T00:00:00Z"})),
        ("erp.sales-orders", orjson.dumps(ORDER_LINE | {"due_date": "9999-12-31"})),
        ("erp.stock-movements", orjson.dumps(MOVEMENT | {"x" * 60_000: 1})),
    ]


def _is_json(value: bytes) -> bool:
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError:
        return False
    return True


REPLACEMENTS = [
    None,
    True,
    -1,
    0,
    2**63 - 1,
    1e308,
    "",
    "x" * 300,
    "\u2028",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31",
    "2200-06-01T00:00:00Z",
    [],
    {"a": [1, {"b": None}]},
]


def mutated(rng: random.Random, value: bytes) -> bytes:
    """One valid record, broken at random: in its JSON, or in its bytes."""
    if rng.random() < 0.6:
        document = orjson.loads(value)
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(paths(document))
            document = replaced(document, path, rng.choice(REPLACEMENTS))
        return orjson.dumps(document)
    data = bytearray(value)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(data))
        match rng.randrange(3):
            case 0:
                data[at] = rng.randrange(256)
            case 1:
                del data[at:]
            case _:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        if not data:
            break
    return bytes(data)


def fuzzed_records(seed: int = 11) -> list[tuple[str, bytes | None, bytes | None]]:
    """Valid records, mutations of them, re-sends, tombstones and the triggers, shuffled."""
    rng = random.Random(seed)
    # The material history only: this test counts the outcomes of the input topics.
    history = ErpSimulator(materials=4).run(days=6)
    valid = [(r.topic, r.key, r.value) for r in history if r.topic in INPUT_TOPICS]
    records: list[tuple[str, bytes | None, bytes | None]] = list(valid)
    # The simulator ends with a few broken records; mutations start from the JSON ones.
    documents = [record for record in valid if _is_json(record[2])]
    records += [
        (topic, key, mutated(rng, value)) for topic, key, value in rng.choices(documents, k=260)
    ]
    records += rng.choices(valid, k=20)  # the ERP sends some twice
    records += [(topic, b"TOMB", None) for topic in rng.choices(INPUT_TOPICS, k=5)]
    records += [(topic, b"FZ-1", value) for topic, value in triggers()]
    rng.shuffle(records)
    return records


def metric_total(pipeline: Pipeline, name: str) -> float:
    """The sum of every sample of metric ``name`` the worker exposes (0 when it has none)."""
    text = httpx.get(f"{pipeline.url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


def test_fuzzed_records_each_end_in_exactly_one_outcome_without_a_crash(pipeline: Pipeline):
    records = fuzzed_records()
    sent = Counter(topic for topic, _, _ in records)
    for topic, key, value in records:
        pipeline.send(topic, value, key=key)
    pipeline.flush()

    def settled() -> dict | None:
        counts = pipeline.counters()
        for topic in INPUT_TOPICS:
            outcomes = sum(counts.get((topic, outcome), 0) for outcome in OUTCOMES)
            if counts.get((topic, "received"), 0) != sent[topic] or outcomes != sent[topic]:
                return None
        return counts

    counts = wait_until(settled, timeout=180, interval=1.0, describe=pipeline.counters)
    totals = {o: sum(counts.get((t, o), 0) for t in INPUT_TOPICS) for o in OUTCOMES}
    print(f"\nsent {len(records)} records: {dict(sent)}; outcomes {totals}")
    assert sum(totals.values()) == len(records)

    letters = [
        DeadLetter.model_validate_json(record.value)
        for record in pipeline.read_all("stockloop.dead-letter", int(totals["dead_lettered"]))
    ]
    assert len(letters) == totals["dead_lettered"]
    reasons = [letter.reason for letter in letters]
    assert all(len(reason.splitlines()) == 1 and len(reason) <= 1_200 for reason in reasons)
    internal = [reason for reason in reasons if "internal error" in reason]
    print(f"dead letters: {len(letters)}, internal errors: {internal}")
    assert not internal

    huge = next(letter for letter in letters if letter.value_size and letter.value_size > 900_000)
    assert huge.truncated and huge.value_sha256 and len(huge.value) > 600_000
    assert "dead letter keeps the first" in huge.reason
    assert huge.source.topic == pipeline.settings.topic("erp.stock-movements")
    for fragment in ("0001-01-01", "9999-12-31T23:30", "2200-01-01", "0005-01-01", "9999-12-31"):
        assert any(fragment in reason for reason in reasons), fragment

    assert metric_total(pipeline, "stockloop_agent_crashes_total") == 0
    assert metric_total(pipeline, "stockloop_dead_letter_failures_total") == 0
    log = pipeline.log_path.read_text()
    assert not re.search(r"Crashed reason|Restarting dead", log), log[-3000:]


def test_a_dead_letter_the_broker_refuses_is_counted_and_the_record_keeps_its_outcome(
    pipeline: Pipeline,
):
    # The topic's limit shrinks behind the worker's back: its letters no longer fit.
    admin = KafkaAdminClient(bootstrap_servers=pipeline.settings.bootstrap_servers)
    try:
        topic = pipeline.settings.topic("stockloop.dead-letter")
        admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": "2000"})]
        )
    finally:
        admin.close()
    oversized = orjson.dumps(MOVEMENT | {"quantity": "lots", "batch_id": "B" * 5_000})
    pipeline.send("erp.stock-movements", oversized, key=b"FZ-1")
    pipeline.send("erp.stock-movements", MOVEMENT, key=b"FZ-1")
    pipeline.flush()

    wait_until(lambda: metric_total(pipeline, "stockloop_dead_letter_failures_total") == 1)
    counts = wait_until(
        lambda: (c := pipeline.counters()).get(("erp.stock-movements", "applied")) == 1 and c
    )
    assert counts[("erp.stock-movements", "received")] == 2
    assert counts[("erp.stock-movements", "dead_lettered")] == 1
    log = pipeline.log_path.read_text()
    assert re.search(r"dead letter of \S+erp.stock-movements:\d+:0 not delivered", log), log[-3000:]
    assert "sha256" in log
    assert not re.search(r"Crashed reason", log)
