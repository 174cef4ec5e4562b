"""The topic catalogue (``topics.yaml``): the one place topics are declared."""

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

MATERIALS = "erp.materials"
STOCK_MOVEMENTS = "erp.stock-movements"
SALES_ORDERS = "erp.sales-orders"
SHIPMENTS = "erp.shipments"
PROMOTIONS = "erp.promotions"
MATERIAL_EVENTS = "stockloop.material-events"
ALERTS = "stockloop.alerts"
RULES = "stockloop.rules"
ALERT_ACTIONS = "stockloop.alert-actions"
DEAD_LETTER = "stockloop.dead-letter"

INPUT_KINDS = {
    MATERIALS: "material",
    STOCK_MOVEMENTS: "movement",
    SALES_ORDERS: "order_line",
    SHIPMENTS: "in_transit",
    PROMOTIONS: "promotion",
}
"""The event kind a plain JSON record on each input topic is, unless it says otherwise."""
INPUT_TOPICS = tuple(INPUT_KINDS)


class TopicSpec(BaseModel):
    """One topic as declared: layout, broker configs and what its records hold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    partitions: int = Field(gt=0)
    replication_factor: int = Field(gt=0)
    config: dict[str, str] = Field(default_factory=dict)
    key: str
    value: str


class _Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partitions: int = Field(4, gt=0)
    replication_factor: int = Field(1, gt=0)


def load_catalogue(path: Path) -> dict[str, TopicSpec]:
    """Read ``topics.yaml``; defaults fill what a topic leaves out."""
    raw = yaml.safe_load(path.read_text())
    defaults = _Defaults.model_validate(raw.get("defaults", {}))
    catalogue: dict[str, TopicSpec] = {}
    for name, spec in raw["topics"].items():
        fields = {**defaults.model_dump(), **spec, "name": name}
        fields["config"] = {k: str(v) for k, v in fields.get("config", {}).items()}
        catalogue[name] = TopicSpec.model_validate(fields)
    return catalogue
