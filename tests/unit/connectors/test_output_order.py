"""A replay's transitions in event-time order: the same keys' records, however interleaved,
give one order; each key keeps its own; a record sent twice is written once."""

import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.output_order import Transition, event_time_ms, in_event_time_order

START = datetime(2026, 3, 1, tzinfo=UTC)


def transition(key: str, day: int, status: str = "raised") -> Transition:
    value = orjson.dumps({"at": (START + timedelta(days=day)).isoformat(), "status": status})
    return Transition(key.encode(), value)


def interleave(sequences: list[list[Transition]], rng: random.Random) -> list[Transition]:
    """One of the ways a worker could have written these keys' sequences into a partition."""
    cursors = [0] * len(sequences)
    merged = []
    while any(c < len(s) for c, s in zip(cursors, sequences, strict=True)):
        choice = rng.choice([i for i, s in enumerate(sequences) if cursors[i] < len(s)])
        merged.append(sequences[choice][cursors[choice]])
        cursors[choice] += 1
    return merged


def test_a_partition_is_ordered_by_event_time_then_key():
    written = [transition("b", 2), transition("a", 3), transition("a", 2), transition("c", 1)]
    ordered = in_event_time_order(written)
    assert [(t.key, at) for at, t in ordered] == [
        (b"c", event_time_ms(written[3].value)),
        (b"b", event_time_ms(written[0].value)),
        (b"a", event_time_ms(written[1].value)),
        (b"a", event_time_ms(written[1].value)),
    ]


def test_a_key_keeps_its_order_even_where_its_times_go_back():
    raised, resolved = transition("a", 3, "raised"), transition("a", 2, "resolved")
    ordered = [t for _, t in in_event_time_order([raised, resolved, transition("b", 2)])]
    assert ordered == [transition("b", 2), raised, resolved]


def test_a_record_sent_twice_is_written_once():
    first, second = transition("a", 1), transition("a", 2, "resolved")
    assert [t for _, t in in_event_time_order([first, second, first, second])] == [first, second]


@pytest.mark.parametrize(
    "value", [b"not json", b'{"status": "raised"}', b'{"at": "yesterday"}', b'{"at": 3}']
)
def test_a_value_without_an_event_time_is_refused_saying_why(value: bytes):
    with pytest.raises(ValueError, match="no event time"):
        in_event_time_order([Transition(b"a", value)])


keys = st.sampled_from(["m1|WH1|stockout_risk", "m2|WH1|below_ss", "PR-1", "PR-2"])
records = st.lists(st.tuples(keys, st.integers(0, 40), st.sampled_from(["raised", "resolved"])))


@given(records, st.integers(0, 2**32 - 1))
def test_any_interleaving_of_the_same_keys_gives_the_same_partition(
    drawn: list[tuple[str, int, str]], seed: int
):
    by_key: dict[str, list[Transition]] = {}
    for key, day, status in drawn:
        by_key.setdefault(key, []).append(transition(key, day, status))
    sequences = list(by_key.values())
    one = in_event_time_order(interleave(sequences, random.Random(seed)))
    other = in_event_time_order(interleave(sequences[::-1], random.Random(seed + 1)))
    assert one == other
    for key, sequence in by_key.items():
        kept = [t for _, t in one if t.key == key.encode()]
        assert kept == list(dict.fromkeys(sequence))
    assert [at for at, _ in one] == sorted(at for at, _ in one)
