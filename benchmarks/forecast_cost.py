"""Forecast cost benchmark: what one day of demand costs each model, in time and in state.

Every closed day of every material updates its ``DemandForecaster`` and the
material's state, with the forecaster inside, goes to a changelog. This
prints, for each method on its own and for the whole forecaster, the cost of
one ``learn_one`` in µs and the size of the state as JSON (what the changelog
carries), plus the cost of dumping and loading the forecaster's JSON. River's
``time_series.HoltWinters(alpha, beta, gamma, seasonality=7)`` with the same
constants is measured beside ours (update cost and pickled size: its state is
not JSON).

The demand is deterministic (seeded): a weekly pattern with noise and a
share of zero days. Models are warmed up for ``--warm-up`` days first, so
every component is live, then timed over ``--days`` more days; the best of
``--repeat`` runs is shown. Run::

    .venv/bin/python benchmarks/forecast_cost.py
"""

import copy
import pickle
import random
import time
from collections.abc import Callable
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from river import time_series

from models.forecast import (
    SBA,
    TSB,
    Croston,
    DemandForecaster,
    HoltWinters,
    SimpleExponentialSmoothing,
)

WEEK = [1.3, 1.2, 1.1, 1.0, 0.9, 0.4, 0.1]


def demand(days: int, seed: int) -> list[float]:
    """Daily demand around 20 with a weekly pattern, noise and about 15 % zero days."""
    rng = random.Random(seed)
    return [
        0.0 if rng.random() < 0.15 else max(0.0, rng.gauss(20.0 * WEEK[t % 7], 4.0))
        for t in range(days)
    ]


def per_call_us(learn: Callable[[float], object], days: list[float], repeat: int) -> float:
    """Best over ``repeat`` runs of the mean µs per call of ``learn`` over ``days``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for y in days:
            learn(y)
        best = min(best, (time.perf_counter_ns() - start) / len(days) / 1000)
    return best


def timed(fn: Callable[[], object], number: int, repeat: int) -> float:
    """Best over ``repeat`` runs of the mean µs per call of ``fn``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter_ns() - start) / number / 1000)
    return best


def main(
    warm_up: Annotated[int, typer.Option(help="Days learned before timing.")] = 365,
    days: Annotated[int, typer.Option(help="Days learned per timed run.")] = 20_000,
    repeat: Annotated[int, typer.Option(help="Timed runs; the best is shown.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the demand series.")] = 1,
) -> None:
    """Print µs per update and state size of each forecasting model, and river's Holt-Winters."""
    history = demand(warm_up, seed)
    timed_days = demand(days, seed + 1)
    hw_defaults = HoltWinters()

    ours: dict[str, BaseModel] = {
        "SimpleExponentialSmoothing": SimpleExponentialSmoothing(),
        "HoltWinters (damped, m=7)": HoltWinters(),
        "Croston": Croston(),
        "SBA": SBA(),
        "TSB": TSB(),
        "DemandForecaster": DemandForecaster.new(),
    }
    river_hw = time_series.HoltWinters(
        alpha=hw_defaults.alpha, beta=hw_defaults.beta, gamma=hw_defaults.gamma, seasonality=7
    )

    table = Table(title=f"one day's update ({days:,} days timed after {warm_up} warm-up days)")
    table.add_column("model")
    table.add_column("µs / learn_one", justify="right")
    table.add_column("JSON bytes", justify="right")
    table.add_column("pickle bytes", justify="right")
    for name, model in ours.items():
        for y in history:
            model.learn_one(y)
        size_json = len(model.model_dump_json())
        size_pickle = len(pickle.dumps(model))
        cost = per_call_us(copy.deepcopy(model).learn_one, timed_days, repeat)
        table.add_row(name, f"{cost:.2f}", str(size_json), str(size_pickle))
    for y in history:
        river_hw.learn_one(y)
    river_cost = per_call_us(copy.deepcopy(river_hw).learn_one, timed_days, repeat)
    table.add_row(
        "river time_series.HoltWinters (m=7)",
        f"{river_cost:.2f}",
        "n/a",
        str(len(pickle.dumps(river_hw))),
    )

    forecaster = ours["DemandForecaster"]
    assert isinstance(forecaster, DemandForecaster)
    record = forecaster.model_dump_json()
    number = 5_000
    io = Table(title="DemandForecaster state and reads")
    io.add_column("operation")
    io.add_column("µs / call", justify="right")
    io.add_row("model_dump_json()", f"{timed(forecaster.model_dump_json, number, repeat):.2f}")
    io.add_row(
        "model_validate_json()",
        f"{timed(lambda: DemandForecaster.model_validate_json(record), number, repeat):.2f}",
    )
    io.add_row("forecast(60)", f"{timed(lambda: forecaster.forecast(60), number, repeat):.2f}")
    io.add_row("sigma_daily", f"{timed(lambda: forecaster.sigma_daily, number, repeat):.2f}")

    console = Console()
    console.print(table)
    console.print(io)
    console.print(
        f"DemandForecaster after {warm_up} days: class {forecaster.demand_class}, "
        f"method {forecaster.method}, daily demand {forecaster.daily_demand:.2f}, "
        f"σ {forecaster.sigma_daily:.2f}"
    )


if __name__ == "__main__":
    typer.run(main)
