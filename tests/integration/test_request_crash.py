"""A worker killed with SIGKILL mid-stream loses no purchase request and doubles none by id.

The stream drives many material-warehouses short: receipts, issues and
confirmed sales orders over twenty materials and twelve days, with masters
whose unit costs make some requests approve themselves and leave others
waiting for an approver. The worker runs on the data clock (no wall-clock
ticks), so what it publishes depends on the events alone, and is compared
with the same events stepped in memory (``models.step``), which is what a
clean run publishes (the step's outputs do not depend on how far each
advance goes: see ``models.step``).

After a crash a transition may be published again (at least once), but only
ever as the same record: a consumer deduplicating by ``id`` sees exactly the
clean run's transitions.
"""

import random
import time
from collections import Counter
from collections.abc import Collection
from contextlib import closing
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import orjson
import pytest

from models.events import MaterialEvent, MaterialMaster, SalesOrderLine, StockMovement
from models.purchasing import PurchaseRequest
from models.rules.spec import builtin_rules
from models.state import MaterialState
from models.step import AppliedEventIds, StepContext, advance, receive
from tests.integration.harness import Pipeline, stock_view, wait_until

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 2, tzinfo=UTC)
MATERIALS = [f"PR-{n:02d}" for n in range(20)]
REQUESTS = "stockloop.purchase-requests"

ErpEvent = MaterialMaster | StockMovement | SalesOrderLine


def short_stream(days: int = 12, per_day: int = 200, seed: int = 11) -> list[ErpEvent]:
    """Masters, then receipts, issues and confirmed orders that leave warehouses short often.

    Even materials cost 4 a unit (their requests approve themselves), odd ones
    180 (theirs wait for an approver); every third has an MOQ.
    """
    rng = random.Random(seed)
    events: list[ErpEvent] = [
        MaterialMaster(
            event_id=f"{material_id}-master",
            event_time=START,
            material_id=material_id,
            name=f"Part {material_id}",
            unit_cost=4.0 if index % 2 == 0 else 180.0,
            pack_size=5,
            moq=10 if index % 3 == 0 else 0,
            preferred_supplier=f"S{index % 3}",
            default_lead_time_days=5,
        )
        for index, material_id in enumerate(MATERIALS)
    ]
    for day in range(days):
        for slot in range(per_day):
            number = len(events)
            at = START + timedelta(days=day, minutes=5 + slot * (1430 // per_day))
            material_id, warehouse_id = rng.choice(MATERIALS), rng.choice(["W1", "W2"])
            roll = rng.random()
            if roll < 0.15:
                events.append(
                    SalesOrderLine(
                        event_id=f"so-{number}",
                        event_time=at,
                        material_id=material_id,
                        order_id=f"SO{rng.randrange(60)}",
                        line_id="10",
                        warehouse_id=warehouse_id,
                        quantity=rng.randrange(5, 60),
                        due_date=(at + timedelta(days=rng.randrange(2, 10))).date(),
                        status="confirmed",
                    )
                )
                continue
            receipt = roll < 0.4
            events.append(
                StockMovement(
                    event_id=f"mv-{number}",
                    event_time=at,
                    material_id=material_id,
                    movement_type="receipt" if receipt else "issue",
                    warehouse_id=warehouse_id,
                    quantity=rng.randrange(20, 120) if receipt else rng.randrange(5, 40),
                    batch_id=f"B{number}" if receipt else None,
                    unit_cost=5.0 if receipt else None,
                )
            )
    return events


def stepped_in_memory(events: list[ErpEvent]) -> tuple[dict[str, dict], list[PurchaseRequest]]:
    """What a clean run ends with: each material's stock view, and every request transition."""
    context = StepContext(rules=builtin_rules())
    applied = AppliedEventIds()
    states: dict[str, MaterialState] = {}
    for event in events:
        state = states.setdefault(event.material_id, MaterialState(material_id=event.material_id))
        receive(state, MaterialEvent(event=event), applied)
    newest = max(event.event_time for event in events)
    requests = [
        request
        for material_id in sorted(states)
        for request in advance(states[material_id], newest, context).requests
    ]
    views = {m: stock_view(s.model_dump(mode="json")) for m, s in states.items()}
    return views, requests


def send(pipeline: Pipeline, events: list[ErpEvent]) -> None:
    """Produce events to their ERP topics, keyed by material."""
    for event in events:
        topic = {
            "material": "erp.materials",
            "order_line": "erp.sales-orders",
            "movement": "erp.stock-movements",
        }[event.kind]
        pipeline.send(topic, event.model_dump(mode="json"), key=event.material_id.encode())
    pipeline.flush()


def published(pipeline: Pipeline, expected: int) -> list[bytes]:
    """Every record value on the purchase-requests topic, in the order read."""
    return [record.value for record in pipeline.read_all(REQUESTS, expected, timeout=30)]


def published_when_complete(
    pipeline: Pipeline, ids: Collection[str], timeout: float
) -> list[bytes]:
    """The topic's records once every id in ``ids`` is among them, or as they are at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        values = published(pipeline, len(ids))
        seen = {orjson.loads(value)["id"] for value in values}
        if set(ids) <= seen or time.monotonic() > deadline:
            return values
        time.sleep(1.0)


def run_with_kills(pipeline: Pipeline, events: list[ErpEvent], kills: int) -> None:
    """Send the stream in ``kills + 1`` parts; SIGKILL the worker while it applies each part
    but the last, once a quarter of it is applied (requests are being published by then)."""
    bounds = [i * len(events) // (kills + 1) for i in range(kills + 2)]
    parts = [events[start:end] for start, end in pairwise(bounds)]
    for part in parts[:-1]:
        send(pipeline, part)
        pipeline.start()
        kill_once_applied(pipeline, len(part) // 4)
    send(pipeline, parts[-1])
    pipeline.start()


def kill_once_applied(pipeline: Pipeline, applied: int) -> None:
    """SIGKILL the worker once it has applied more than ``applied`` events since it started."""
    wait_until(lambda: pipeline.applied() > applied, timeout=120)
    pipeline.kill()


def test_sigkill_mid_stream_loses_no_request_and_doubles_none_by_id(tmp_path: Path):
    events = short_stream()
    views, clean = stepped_in_memory(events)
    clean_by_id = {request.id: request for request in clean}
    assert len(clean_by_id) == len(clean), "the clean run itself gives every transition its id"
    statuses = Counter(request.status.value for request in clean)
    assert statuses["approved"] and statuses["pending_approval"], statuses

    pipeline = Pipeline(tmp_path, clock="data", commit_interval_s=1.0)
    with closing(pipeline):
        run_with_kills(pipeline, events, kills=2)
        pipeline.assert_caught_up(views, timeout=180, events=events)
        crashed = published_when_complete(pipeline, clean_by_id.keys(), timeout=30)

    by_id: dict[str, list[bytes]] = {}
    for value in crashed:
        by_id.setdefault(orjson.loads(value)["id"], []).append(value)
    repeated = {i: values for i, values in by_id.items() if len(values) > 1}
    lost = sorted(clean_by_id.keys() - by_id.keys())
    unexpected = sorted(by_id.keys() - clean_by_id.keys())
    differing = sorted(i for i, values in by_id.items() if len(set(values)) > 1)
    unlike_clean = sorted(
        i
        for i, values in by_id.items()
        if i in clean_by_id and PurchaseRequest.model_validate_json(values[0]) != clean_by_id[i]
    )
    print(
        f"\n{len(events)} events; clean run: {len(clean)} request transitions "
        f"({len({r.request_id for r in clean})} requests; {dict(statuses)}); "
        f"killed twice: {len(crashed)} records, {len(by_id)} distinct ids, "
        f"{len(repeated)} ids published more than once "
        f"({sum(len(values) - 1 for values in repeated.values())} repeats); "
        f"{len(lost)} ids lost, {len(unexpected)} unexpected, {len(differing)} with different "
        f"records, {len(unlike_clean)} unlike the clean run's"
    )
    assert not lost, f"lost: {lost[:10]}"
    assert not unexpected, f"not in the clean run: {unexpected[:10]}"
    assert not differing, f"different records under one id: {differing[:10]}"
    assert not unlike_clean, f"records unlike the clean run's: {unlike_clean[:10]}"
