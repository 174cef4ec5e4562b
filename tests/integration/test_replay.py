"""``stockloop replay``: two replays of one recorded history give the same output topics, byte
for byte and timestamp for timestamp, and the alerts of the in-process replay (the backtest's
core) of the same events."""

import uuid
from collections import Counter
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from typer.testing import CliRunner

from connectors.mapping import load_mapping
from connectors.output_order import event_time_ms
from connectors.replay import topics_starting
from connectors.simulator import ErpSimulator, Record
from connectors.topic_admin import apply_catalogue
from models.events import MaterialEvent, PromotionEvent, encode
from models.rules.spec import builtin_rules
from models.step import StepContext, replay
from streams.catalogue import ALERTS, PURCHASE_REQUESTS, REVIEWS, TRANSFERS, load_catalogue
from streams.cli.backtest import decode_records
from streams.cli.kafka import connection
from streams.cli.replay import ARRIVAL_PREFIX, app
from streams.settings import Settings
from tests.integration.harness import HISTORY_BATCH_BYTES, HISTORY_LINGER_MS

pytestmark = pytest.mark.integration
runner = CliRunner()
MATERIALS, DAYS = 2, 30
"""Two simulated materials (and the desk fan's parts) over 30 days: about 230 records, a
festival, stock-outs, purchase requests and a transfer."""
OUTPUTS = (ALERTS, PURCHASE_REQUESTS, TRANSFERS, REVIEWS)

OutputRecord = tuple[bytes, bytes, int, tuple[tuple[str, bytes], ...]]
Partitioned = dict[int, list[OutputRecord]]
"""Each partition's (key, value, timestamp, headers) records in offset order."""


def record_history(settings: Settings, history: list[Record]) -> None:
    """The source deployment's input topics, holding ``history`` as an ERP integration wrote it."""
    apply_catalogue(load_catalogue(settings.topics_file), settings)
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=HISTORY_LINGER_MS,
        batch_size=HISTORY_BATCH_BYTES,
    )
    try:
        for record in history:
            producer.send(settings.topic(record.topic), key=record.key, value=record.value)
        producer.flush()
    finally:
        producer.close()


def read_topic(settings: Settings, topic: str) -> Partitioned:
    """Every (key, value, timestamp, headers) of a topic, per partition in offset order."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        records: Partitioned = {tp.partition: [] for tp in partitions}
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for tp, batch in consumer.poll(timeout_ms=1000).items():
                records[tp.partition] += [
                    (r.key, r.value, r.timestamp, tuple(r.headers or ()))
                    for r in batch
                    if r.offset < ends[tp]
                ]
        return records
    finally:
        consumer.close()


def in_process_alerts(history: list[Record], settings: Settings) -> Counter[bytes]:
    """The alerts of the same records through the pure step in memory, as the backtest runs it."""
    events, _ = decode_records(history, load_mapping(settings.mapping_file))
    promotions: dict[str, list[PromotionEvent]] = {}
    materials: list[MaterialEvent] = []
    for envelope in events:
        event = envelope.event
        if isinstance(event, PromotionEvent) and event.category is not None:
            promotions.setdefault(event.category, []).append(event)
        else:
            materials.append(envelope)
    context = StepContext(rules=builtin_rules(), category_promotions=promotions)
    return Counter(encode(alert) for alert in replay(materials, context, {}))


def run_replay(source: Settings, prefix: str, data_dir: Path) -> str:
    environment = {
        "STOCKLOOP_TOPIC_PREFIX": source.topic_prefix,
        "STOCKLOOP_APP_ID": source.app_id,
        "STOCKLOOP_DATA_DIR": str(data_dir / "data"),
    }
    result = runner.invoke(app, ["--prefix", prefix, "--timeout", "240"], env=environment)
    assert result.exit_code == 0, result.output
    return result.output


def test_two_replays_give_identical_outputs_and_the_in_process_alerts(tmp_path: Path):
    run_id = uuid.uuid4().hex[:8]
    source = Settings(topic_prefix=f"src-{run_id}.", app_id=f"src-{run_id}")
    history = list(ErpSimulator(materials=MATERIALS, seed=42).run(DAYS))
    record_history(source, history)

    first, second = f"rpa-{run_id}.", f"rpb-{run_id}."
    output = run_replay(source, first, tmp_path / "a")
    run_replay(source, second, tmp_path / "b")

    assert f"copied {len(history)} records" in output
    assert "caught up" in output and "demand events came after" not in output
    assert "transitions in event-time order" in output
    replays = [Settings(topic_prefix=prefix) for prefix in (first, second)]
    for topic in OUTPUTS:
        outputs = [read_topic(s, s.topic(topic)) for s in replays]
        assert outputs[0] == outputs[1], topic
        assert sum(map(len, outputs[0].values())) > 0 or topic in (TRANSFERS, REVIEWS), topic
        for key, value, timestamp, _ in (r for records in outputs[0].values() for r in records):
            assert timestamp == event_time_ms(value), (topic, key)
    alerts = read_topic(replays[0], replays[0].topic(ALERTS))
    replayed = Counter(record[1] for records in alerts.values() for record in records)
    assert replayed == in_process_alerts(history, source)
    left = topics_starting(connection(replays[0]), f"{first}{ARRIVAL_PREFIX}")
    assert left == [], "the worker's own transition topics are deleted once ordered"


def test_a_missing_source_topic_is_one_line_naming_it(tmp_path: Path):
    result = runner.invoke(
        app,
        ["--no-run"],
        env={"STOCKLOOP_TOPIC_PREFIX": "nothing-here.", "STOCKLOOP_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 1
    assert "no such topic: nothing-here.erp." in result.output
    assert "Traceback" not in result.output
