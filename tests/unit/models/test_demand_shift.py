"""The demand-shift detector is as fast and as quiet as ``models.demand.SHIFT_DETECTOR`` says.

A smaller sample of ``benchmarks/demand_shift.py`` (seeded, so deterministic):
the bounds are the documented figures with room for the smaller sample.
"""

import pytest

from benchmarks.demand_shift import detection, false_alarms_per_year


@pytest.mark.parametrize(("rate", "median_days", "p90_days"), [(20.0, 4, 6), (5.0, 8, 13)])
def test_a_75_percent_rise_in_demand_is_flagged_within_days(
    rate: float, median_days: int, p90_days: int
):
    found = detection(rate, materials=40)
    assert found.missed == 0
    assert found.quantile(0.5) <= median_days
    assert found.quantile(0.9) <= p90_days


def test_steady_demand_raises_a_false_alarm_less_than_once_in_three_years():
    assert false_alarms_per_year(20.0, materials=20) < 1 / 3
