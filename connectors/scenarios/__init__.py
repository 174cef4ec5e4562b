"""The simulator's scenario library: seeded ERP histories, each a story with checkable numbers.

Each scenario is one of the article's cases (or a whole plant) told as the
records an ERP integration produces, the same kinds as
``connectors/simulator.py``: Debezium change events of the example mapping
for stock transactions and sales order lines, plain JSON for masters,
purchase order lines, BOM lines, production orders and promotions. No
broken records: every one decodes. The same name and seed give the same
bytes. ``stockloop simulate --scenario NAME`` publishes one;
the backtest replays one in-process.

>>> "festival" in SCENARIOS
True
>>> next(scenario_records("festival")).topic
'erp.materials'
"""

from collections.abc import Iterator, Mapping
from types import MappingProxyType

from connectors.scenarios import (
    fabric_backlog,
    festival,
    machinery,
    plant,
    retail_chain,
    stranded_parts,
)
from connectors.scenarios.spec import DemandClaim, Scenario
from connectors.simulator import Record

__all__ = ["SCENARIOS", "DemandClaim", "Scenario", "scenario_records"]

SCENARIOS: Mapping[str, Scenario] = MappingProxyType(
    {
        scenario.name: scenario
        for scenario in (
            festival.SCENARIO,
            machinery.SCENARIO,
            retail_chain.SCENARIO,
            fabric_backlog.SCENARIO,
            stranded_parts.SCENARIO,
            plant.SCENARIO,
        )
    }
)
"""Every scenario by name, in the order the docs tell them."""


def scenario_records(name: str, seed: int = 42) -> Iterator[Record]:
    """The records of scenario ``name``, each topic in event-time order; same seed, same bytes."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise ValueError(f"scenario {name!r}: unknown; known: {', '.join(SCENARIOS)}")
    return scenario.records(seed)
