"""The Page-Hinkley demand-shift detector flags the same days as river's reference."""

import random

import pytest
from river.drift import PageHinkley as RiverPageHinkley

from models.demand import SHIFT_DETECTOR
from models.drift import PageHinkley


def _level_shifts(seed: int) -> list[float]:
    """Daily values around three levels in turn: up 60 %, then down below the start."""
    rng = random.Random(seed)
    levels = [(10.0, 300), (16.0, 300), (8.0, 300)]
    return [rng.gauss(level, 2.0) for level, days in levels for _ in range(days)]


@pytest.mark.parametrize("params", [{}, SHIFT_DETECTOR], ids=["river defaults", "stockloop"])
@pytest.mark.parametrize("seed", range(10))
def test_flags_the_same_days_as_river_page_hinkley(params: dict[str, float], seed: int):
    ours, reference = PageHinkley(**params), RiverPageHinkley(**params)
    our_flags, reference_flags = [], []
    for day, value in enumerate(_level_shifts(seed)):
        if ours.update(value):
            our_flags.append(day)
        reference.update(value)
        if reference.drift_detected:
            reference_flags.append(day)
    assert reference_flags, "the stream must contain shifts for the comparison to mean anything"
    assert our_flags == reference_flags


def test_state_survives_a_json_round_trip_mid_stream():
    detector = PageHinkley(**SHIFT_DETECTOR)
    values = _level_shifts(seed=1)
    for value in values[:350]:
        detector.update(value)
    restored = PageHinkley.model_validate_json(detector.model_dump_json())
    assert [restored.update(v) for v in values[350:]] == [detector.update(v) for v in values[350:]]
