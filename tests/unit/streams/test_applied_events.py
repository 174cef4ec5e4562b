"""Pruning the applied-events ids: what goes, what stays, and the loop's share while it runs."""

import asyncio
from datetime import UTC, datetime, timedelta

from streams.applied_events import _key, prune

HORIZON = timedelta(days=30)
NEWEST = datetime(2026, 6, 1, tzinfo=UTC)


def entry(material_id: str, event_id: str, days_before_newest: float) -> tuple[str, bytes]:
    at = NEWEST - timedelta(days=days_before_newest)
    return _key(material_id, event_id), f"{at.isoformat()}\x1fstock-movements/0/1".encode()


def newest_of_partition(material_id: str) -> datetime | None:
    """Materials named OTHER-* belong to another partition."""
    return None if material_id.startswith("OTHER-") else NEWEST


def run(table: dict[str, bytes], go_on=lambda: True) -> int:
    return asyncio.run(prune(table, HORIZON, newest_of_partition, go_on))


def test_ids_older_than_the_horizon_before_their_materials_newest_event_go():
    table = dict(
        [
            entry("MAT-1", "old", 31),
            entry("MAT-1", "recent", 29),
            entry("MAT-2", "old", 400),
            entry("OTHER-1", "old", 400),
        ]
    )
    assert run(table) == 2
    assert set(table) == {_key("MAT-1", "recent"), _key("OTHER-1", "old")}


def test_a_long_prune_lets_other_tasks_run_between_its_slices():
    table = dict(entry(f"MAT-{n % 1000}", f"e{n}", 31 + n % 3) for n in range(60_000))
    turns_while_pruning = 0
    pruning = True

    async def scenario() -> tuple[int, int]:
        nonlocal pruning

        async def other() -> None:
            nonlocal turns_while_pruning
            while pruning:
                turns_while_pruning += 1
                await asyncio.sleep(0)

        running = asyncio.create_task(other())
        await asyncio.sleep(0)
        turns_before = turns_while_pruning
        dropped = await prune(table, HORIZON, newest_of_partition, lambda: True)
        pruning = False
        await running
        return dropped, turns_before

    dropped, turns_before = asyncio.run(scenario())
    assert dropped == 60_000
    assert table == {}
    # More than one slice's give-way: the read alone takes several slices.
    assert turns_while_pruning - turns_before > 2, "nothing else ran while it pruned"


def test_a_prune_told_to_stop_leaves_the_rest_for_the_next():
    table = dict(entry(f"MAT-{n}", "old", 31) for n in range(100))
    assert run(table, go_on=lambda: False) == 0
    assert len(table) == 100
