"""The CLI at its edges, on the real broker: keyed loads, missing topics, no broker at all."""

import os
import socket
import subprocess
import time
import uuid
from collections import defaultdict
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaTimeoutError

from tests.debezium import change, item_master, so_line
from tests.integration.harness import STOCKLOOP, Pipeline

pytestmark = pytest.mark.integration

NO_BROKER_WAIT_S = 15.0
"""How long a command may wait for a broker that is not there, beyond its own startup
(which on a loaded machine alone can take seconds): kafka-python's default was 30 s, and the
commands give up after about 2 s; a CI rehearsal on a loaded machine measured 5.03 s, so the
bound proves "fails fast, not after the default" without timing the machine."""


def _run(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STOCKLOOP, *arguments],
        env=env | {"COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _jsonl(path: Path, lines: list[object]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def _existing_topics(bootstrap_servers: str) -> set[str]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers)
    try:
        return consumer.topics()
    finally:
        consumer.close()


def test_versions_of_an_order_line_and_its_delete_land_on_one_partition_in_order(
    idle_pipeline: Pipeline, tmp_path: Path
) -> None:
    """15 order lines created, updated, then deleted, keyed by --key-field from the row.

    The delete has no ``after``; its key comes from ``before``, so it follows its
    create to the same partition and cannot overtake it.
    """
    lines = [so_line(so_no=f"SO-{n}") for n in range(15)]
    created = [change("so_line", "c", after=line) for line in lines]
    updated = [change("so_line", "u", before=line, after=line) for line in lines]
    deleted = [change("so_line", "d", before=line) for line in lines]
    export = _jsonl(tmp_path / "so_line.jsonl", created + updated + deleted)

    result = _run(
        idle_pipeline.env, "produce", "erp.sales-orders", str(export), "--key-field", "so_no"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "sent 45, failed 0 (sent: keyed 45, unkeyed 0, tombstones 0)" in result.stdout
    records = idle_pipeline.read_all("erp.sales-orders", expected=45)
    partitions: dict[bytes, set[int]] = defaultdict(set)
    ops: dict[bytes, list[str]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        partitions[record.key].add(record.partition)
        ops[record.key].append(orjson.loads(record.value)["op"])
    assert sorted(partitions) == sorted(f"SO-{n}".encode() for n in range(15))
    assert all(len(used) == 1 for used in partitions.values())
    assert len(set().union(*partitions.values())) > 1  # the lines spread over partitions
    assert all(sequence == ["c", "u", "d"] for sequence in ops.values())


def test_a_tombstone_line_arrives_as_a_null_value_under_its_key(
    idle_pipeline: Pipeline, tmp_path: Path
) -> None:
    key = {"so_no": "SO-1", "line_no": 10}
    export = _jsonl(
        tmp_path / "so_line.jsonl",
        [
            {"key": key, "value": change("so_line", "d", before=so_line(so_no="SO-1"))},
            {"key": key, "value": None},
        ],
    )

    result = _run(idle_pipeline.env, "produce", "erp.sales-orders", str(export))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "sent 2, failed 0 (sent: keyed 1, unkeyed 0, tombstones 1)" in result.stdout
    records = idle_pipeline.read_all("erp.sales-orders", expected=2)
    assert [(r.key, r.value is None) for r in records] == [
        (b'{"line_no":10,"so_no":"SO-1"}', False),
        (b'{"line_no":10,"so_no":"SO-1"}', True),
    ]


def test_a_debezium_row_with_its_key_is_accepted_by_the_compacted_materials_topic(
    idle_pipeline: Pipeline, tmp_path: Path
) -> None:
    row = change("item_master", "r", after=item_master())
    export = _jsonl(
        tmp_path / "item_master.jsonl", [{"key": {"item_no": "BRG-6204-2RS"}, "value": row}]
    )

    result = _run(idle_pipeline.env, "produce", "erp.materials", str(export))

    assert result.returncode == 0, result.stdout + result.stderr
    [record] = idle_pipeline.read_all("erp.materials", expected=1)
    assert record.key == b'{"item_no":"BRG-6204-2RS"}'
    assert orjson.loads(record.value) == row


def test_a_row_without_a_key_for_a_compacted_topic_stops_the_load_before_sending(
    idle_pipeline: Pipeline, tmp_path: Path
) -> None:
    keyed = {"key": {"item_no": "A"}, "value": change("item_master", "r", after=item_master())}
    unkeyed = change("item_master", "r", after=item_master(item_no="B"))
    export = _jsonl(tmp_path / "item_master.jsonl", [keyed, unkeyed])

    result = _run(idle_pipeline.env, "produce", "erp.materials", str(export))

    assert result.returncode == 1
    assert result.stdout == ""
    [message] = result.stderr.splitlines()
    assert "line 2: no key" in message and "is compacted" in message
    assert message.endswith("nothing was sent")
    assert idle_pipeline.read_all("erp.materials", expected=1, timeout=3) == []


def test_the_broker_does_not_create_a_topic_a_client_asks_for(idle_pipeline: Pipeline) -> None:
    """kafka-python's producer asks for auto-creation; the local broker must refuse it."""
    missing = f"nothing-{uuid.uuid4().hex[:8]}.stockloop.alerts"
    producer = KafkaProducer(
        bootstrap_servers=idle_pipeline.settings.bootstrap_servers, max_block_ms=3000
    )
    try:
        with pytest.raises(KafkaTimeoutError):
            producer.send(missing, b"{}")
    finally:
        producer.close()

    assert missing not in _existing_topics(idle_pipeline.settings.bootstrap_servers)


@pytest.mark.parametrize(
    ("command", "topic"),
    [
        (["dead-letters"], "stockloop.dead-letter"),
        (["alerts", "ack", "M-1|SH01|stockout_risk", "--by", "ana"], "stockloop.alert-actions"),
        (["rules", "apply", "RULES"], "stockloop.rules"),
        (["produce", "erp.stock-movements", "EXPORT"], "erp.stock-movements"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else value,
)
def test_a_missing_topic_is_one_line_naming_it_and_is_not_created(
    idle_pipeline: Pipeline, tmp_path: Path, command: list[str], topic: str
) -> None:
    prefix = f"nothing-{uuid.uuid4().hex[:8]}."
    files = {
        "RULES": tmp_path / "rules.yaml",
        "EXPORT": _jsonl(tmp_path / "moves.jsonl", [{"material_id": "M-1"}]),
    }
    files["RULES"].write_text("version: 1\nrules: []\n")
    arguments = [str(files[a]) if a in files else a for a in command]

    result = _run(idle_pipeline.env | {"STOCKLOOP_TOPIC_PREFIX": prefix}, *arguments)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: topic {prefix}{topic} does not exist; "
        "create the catalogue's topics with `stockloop topics apply`"
    ]
    existing = _existing_topics(idle_pipeline.settings.bootstrap_servers)
    assert not any(name.startswith(prefix) for name in existing)


def test_dry_run_without_material_state_says_a_worker_creates_it(
    idle_pipeline: Pipeline, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nrules: []\n")

    result = _run(idle_pipeline.env, "rules", "dry-run", str(rules))

    assert result.returncode == 1
    changelog = f"{idle_pipeline.settings.app_id}-materials-changelog"
    assert result.stderr.splitlines() == [
        f"error: topic {changelog} does not exist; it appears when the first worker "
        f"with STOCKLOOP_APP_ID={idle_pipeline.settings.app_id} starts"
    ]
    assert changelog not in _existing_topics(idle_pipeline.settings.bootstrap_servers)


def _port_with_nothing_listening() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "command",
    [
        ["dead-letters"],
        ["rules", "dry-run", "RULES"],
        ["alerts", "ack", "M-1|SH01|stockout_risk", "--by", "ana"],
        ["produce", "erp.stock-movements", "EXPORT"],
        ["topics", "list"],
    ],
    ids=" ".join,
)
def test_without_a_broker_a_command_fails_fast_with_one_line_naming_the_address(
    tmp_path: Path, command: list[str]
) -> None:
    port = _port_with_nothing_listening()
    files = {
        "RULES": tmp_path / "rules.yaml",
        "EXPORT": _jsonl(tmp_path / "moves.jsonl", [{"material_id": "M-1"}]),
    }
    files["RULES"].write_text("version: 1\nrules: []\n")
    arguments = [str(files[a]) if a in files else a for a in command]
    env = dict(os.environ) | {"STOCKLOOP_BROKER_PORT": str(port)}

    startup = _seconds(env, *arguments, "--help")
    started = time.monotonic()
    result = _run(env, *arguments)
    waited = time.monotonic() - started - startup

    assert result.returncode == 1
    output = (result.stdout + result.stderr).splitlines()
    assert len(output) == 1, output
    assert f"127.0.0.1:{port}" in output[0] and "stockloop broker start" in output[0]
    assert waited < NO_BROKER_WAIT_S, f"gave up after {waited:.1f}s (startup {startup:.1f}s)"


def _seconds(env: dict[str, str], *arguments: str) -> float:
    """How long the command takes to start and answer without Kafka (its --help)."""
    started = time.monotonic()
    assert _run(env, *arguments).returncode == 0
    return time.monotonic() - started
