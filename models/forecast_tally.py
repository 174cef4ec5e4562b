"""The forecast errors a step scored: what the SRE dashboard's forecast-error panel plots.

Each warehouse's forecaster scores its one-step forecast of every demand day
it closes (``models.forecast.ForecastError``), summing the errors over the
whole history. The worker observes the errors of the days each step closed,
as a difference of those sums before and after the step, so the metric
costs the state nothing.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.state import MaterialState

Tally = dict[str, tuple[int, float]]
"""Per warehouse: forecast errors scored so far, and the sum of their absolute values."""


def tally(state: "MaterialState") -> Tally:
    """The material's forecast errors scored so far, per warehouse."""
    return {
        warehouse_id: (stock.demand.forecaster.error.n, stock.demand.forecaster.error.sum_abs)
        for warehouse_id, stock in state.warehouses.items()
    }


def scaled_errors(state: "MaterialState", before: Tally) -> list[float]:
    """Per warehouse that scored days since ``before``: their mean absolute error over the
    naive forecast's mean absolute error of the whole history (a MASE of those days).

    Below 1 the forecast beat "tomorrow as today". A warehouse whose demand
    never changed has no naive error to scale by and is left out.

    >>> from datetime import UTC, datetime, timedelta
    >>> from models.events import MaterialEvent, StockMovement
    >>> from models.state import MaterialState
    >>> def issue(day: int, quantity: float) -> MaterialEvent:
    ...     at = datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(days=day)
    ...     return MaterialEvent(event=StockMovement(event_id=f"i{day}", event_time=at,
    ...         material_id="M1", movement_type="issue", warehouse_id="W1", quantity=quantity))
    >>> state = MaterialState(material_id="M1")
    >>> for day, quantity in enumerate([4, 6, 4, 6, 4, 6, 4]):
    ...     _ = state.apply(issue(day, quantity))
    >>> before = tally(state)
    >>> _ = state.apply(issue(9, 6))  # closes days 6 to 7
    >>> [round(error, 3) for error in scaled_errors(state, before)]
    [1.014]
    """
    errors = []
    for warehouse_id, stock in state.warehouses.items():
        error = stock.demand.forecaster.error
        scored, absolute = before.get(warehouse_id, (0, 0.0))
        naive = error.naive_abs / error.naive_n if error.naive_n else 0.0
        if error.n > scored and naive > 0.0:
            errors.append((error.sum_abs - absolute) / (error.n - scored) / naive)
    return errors
