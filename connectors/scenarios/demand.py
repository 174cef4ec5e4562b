"""Daily demand of the patterns a plant sees, drawn from a seeded generator.

Each pattern aims at one Syntetos–Boylan class with a margin from the
cut-offs (ADI 1.32, CV² 0.49), so that a few hundred days of it land in
that class whatever the seed: smooth and seasonal demand every day with
sizes varying little (CV² about 0.05 and 0.2); erratic every day with
sizes varying a lot (mostly small, now and then big: CV² about 1.2);
intermittent on a share of days with steady sizes; lumpy on a share of
days with sizes varying a lot. Sizes are whole units, at least one.

>>> import random
>>> days = smooth(random.Random(1), 365, mean=20)
>>> len(days), min(days) > 0, 18 < sum(days) / 365 < 22
(365, True, True)
"""

import math
import random

BIG_SHARE, BIG, SMALL = 0.25, 3.0, 0.35
"""Erratic and lumpy sizes: a quarter of them big (3x a base), the rest small (0.35x), so
CV² = 0.25·9 / (0.25·3 + 0.75·0.35)² - 1 ≈ 1.2, and a few dozen sizes already show it."""


def _size(rng: random.Random, mean: float, cv: float) -> float:
    return float(max(1, round(rng.gauss(mean, cv * mean))))


def _mixed_size(rng: random.Random, mean: float) -> float:
    base = mean / (BIG_SHARE * BIG + (1 - BIG_SHARE) * SMALL)
    level = BIG if rng.random() < BIG_SHARE else SMALL
    return _size(rng, base * level, 0.15)


def smooth(rng: random.Random, days: int, mean: float, cv: float = 0.22) -> list[float]:
    """Demand every day around ``mean``, varying by ``cv`` (its coefficient of variation)."""
    return [_size(rng, mean, cv) for _ in range(days)]


def seasonal(
    rng: random.Random, days: int, mean: float, amplitude: float = 0.5, peak_day: int = 0
) -> list[float]:
    """Smooth demand whose level swings ``amplitude`` either side of ``mean`` over a year.

    The level peaks on ``peak_day`` (counted from the first day). The swing
    adds its own variance to the sizes: amplitude 0.5 gives CV² about
    0.5²/2 + 0.05 ≈ 0.17, still smooth to Syntetos–Boylan.
    """
    return [
        _size(rng, mean * (1 + amplitude * math.cos(2 * math.pi * (day - peak_day) / 365)), 0.2)
        for day in range(days)
    ]


def erratic(rng: random.Random, days: int, mean: float) -> list[float]:
    """Demand every day, sizes mixed (mostly small, a quarter big) around ``mean``: CV² ≈ 1.2."""
    return [_mixed_size(rng, mean) for _ in range(days)]


def intermittent(
    rng: random.Random, days: int, probability: float, size: float, cv: float = 0.25
) -> list[float]:
    """Demand on a share ``probability`` of days, sizes around ``size`` varying by ``cv``."""
    return [_size(rng, size, cv) if rng.random() < probability else 0.0 for _ in range(days)]


def lumpy(rng: random.Random, days: int, probability: float, size: float) -> list[float]:
    """Demand on a share ``probability`` of days, sizes mixed around ``size`` (CV² ≈ 1.2)."""
    return [_mixed_size(rng, size) if rng.random() < probability else 0.0 for _ in range(days)]
