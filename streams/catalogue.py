"""The topic catalogue (``topics.yaml``): the one place topics and their schemas are declared."""

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

MATERIALS = "erp.materials"
STOCK_MOVEMENTS = "erp.stock-movements"
SALES_ORDERS = "erp.sales-orders"
SHIPMENTS = "erp.shipments"
PROMOTIONS = "erp.promotions"
MATERIAL_EVENTS = "stockloop.material-events"
ALERTS = "stockloop.alerts"
RULES = "stockloop.rules"
POLICIES = "stockloop.policies"
ALERT_ACTIONS = "stockloop.alert-actions"
DEAD_LETTER = "stockloop.dead-letter"
PURCHASE_REQUESTS = "stockloop.purchase-requests"
PURCHASE_REQUEST_ACTIONS = "stockloop.purchase-request-actions"
TRANSFERS = "stockloop.transfers"
TRANSFER_ACTIONS = "stockloop.transfer-actions"
REVIEWS = "stockloop.reviews"
REVIEW_ACTIONS = "stockloop.review-actions"
SHORTAGES = "stockloop.shortages"
PRODUCTION_ORDERS = "erp.production-orders"
BOMS = "erp.boms"
AVAILABILITY = "stockloop.availability"
NOTIFICATION_INBOX = "stockloop.notification-inbox"
NOTIFICATIONS = "stockloop.notifications"
DELIVERIES = "stockloop.deliveries"

INPUT_KINDS = {
    MATERIALS: "material",
    STOCK_MOVEMENTS: "movement",
    SALES_ORDERS: "order_line",
    SHIPMENTS: "in_transit",
    PROMOTIONS: "promotion",
}
"""The event kind a plain JSON record on each input topic is, unless it says otherwise."""
INPUT_TOPICS = tuple(INPUT_KINDS)
TRANSITION_TOPICS = (ALERTS, PURCHASE_REQUESTS, TRANSFERS, REVIEWS)
"""What the material step decides, each record a transition stamped with its event time (``at``)."""


class TopicSpec(BaseModel):
    """One topic as declared: layout, broker configs and what its records hold.

    ``schemas`` name the pydantic models of its values (``module.Class``), so
    the schema export reads its list from here: a new record type on a topic
    is one more line in ``topics.yaml``. A ``planned`` topic is declared for
    consumers to plan with, but nothing writes it yet. It may already name its
    schemas (the model exists in the core before an agent writes it), so that a
    consumer can build against the published schema; a topic that is written
    must name them. ``planned`` changes nothing else: ``topics apply`` creates
    a planned topic like any other.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    partitions: int = Field(gt=0)
    replication_factor: int = Field(gt=0)
    config: dict[str, str] = Field(default_factory=dict)
    key: str
    value: str
    value_format: Literal["json", "yaml"] = "json"
    schemas: tuple[str, ...] = ()
    planned: bool = False

    @model_validator(mode="after")
    def _schemas_unless_planned(self) -> "TopicSpec":
        if not self.planned and not self.schemas:
            raise ValueError(
                f"{self.name}: name the schema of its values (schemas: [module.Class]), "
                "or mark it planned: true"
            )
        return self


class _Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partitions: int = Field(4, gt=0)
    replication_factor: int = Field(1, gt=0)


@dataclass(frozen=True)
class ValueSchema:
    """A model whose JSON Schema is published, and the catalogue topics that carry it."""

    name: str
    model: type[BaseModel]
    topics: tuple[str, ...]
    value_format: str


class CatalogueError(ValueError):
    """``topics.yaml`` names a schema that is not a pydantic model, or two under one name."""


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


def value_schemas(catalogue: Mapping[str, TopicSpec]) -> dict[str, ValueSchema]:
    """Every value schema the catalogue names, by class name, with the topics that carry it.

    The class name is the published name (``Alert.v1.schema.json``), so two
    models of one name would overwrite each other's file: that is an error.
    """
    found: dict[str, ValueSchema] = {}
    for spec in catalogue.values():
        for dotted in spec.schemas:
            model = _import_model(dotted, spec.name)
            name = model.__name__
            known = found.get(name)
            if known is not None and known.model is not model:
                raise CatalogueError(
                    f"{spec.name}: schema {dotted} has the same name as "
                    f"{known.model.__module__}.{name} (on {', '.join(known.topics)})"
                )
            topics = (*known.topics, spec.name) if known else (spec.name,)
            found[name] = ValueSchema(name, model, topics, spec.value_format)
    return found


def _import_model(dotted: str, topic: str) -> type[BaseModel]:
    module_name, _, class_name = dotted.rpartition(".")
    try:
        model = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise CatalogueError(f"{topic}: schema {dotted!r} cannot be imported: {exc}") from exc
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise CatalogueError(f"{topic}: schema {dotted!r} is not a pydantic model")
    return model
