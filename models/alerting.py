"""Alerting for one material: facts → rules → alert lifecycle → alert events.

The output event (``Alert``, on ``stockloop.alerts``) explains itself: the
rule's condition and the numbers it read, the policy behind them (forecast,
σ, lead time, z, safety stock, reorder point, cover, projected stock-out),
and the value at risk that ranks it among other alerts.
"""

from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from models.alerts import Acknowledge, AlertTransition, Silence
from models.events import SCHEMA_VERSION
from models.facts import scope_of, warehouse_facts
from models.priority import Priority, priority_of
from models.rules.evaluate import RuleOutcome, evaluate_all
from models.rules.spec import RuleFile
from models.state import MaterialState, WarehouseStock

SAFETY_STOCK_FORMULA = (
    "SS = z * sqrt(sigma_LTD^2 + d^2 * sigma_LT^2), sigma_LTD = sigma of forecast errors "
    "over LT; ROP = d * LT + SS"
)


class Explanation(BaseModel):
    """Why an alert fired: the condition, its numbers, and the policy numbers behind them."""

    text: str = Field(description="One line for a person.")
    condition: str
    values: dict[str, float | None]
    params: dict[str, float]
    formula: str = SAFETY_STOCK_FORMULA
    forecast_daily: float | None = None
    sigma_daily_demand: float | None = None
    sigma_lead_time_demand: float | None = None
    demand_class: str | None = None
    lead_time_days: float | None = None
    sigma_lead_time_days: float | None = None
    service_level: float | None = None
    z: float | None = None
    safety_stock: float | None = None
    reorder_point: float | None = None
    days_of_cover: float | None = None
    projected_stockout_date: date | None = None
    open_order_value: float = Field(description="Value of open confirmed orders in the warehouse.")


class Alert(BaseModel):
    """One alert transition on ``stockloop.alerts``: raised, updated, repeated or resolved.

    ``id`` is the idempotency key (alert id and sequence): a consumer that
    sees an id twice after a restart or a replay can drop the second.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = SCHEMA_VERSION
    id: str
    alert_id: str
    key: str
    sequence: int
    rule_id: str
    status: str
    reason: str
    severity: str | None
    previous_severity: str | None
    material_id: str
    warehouse_id: str
    at: datetime
    raised_at: datetime
    updated_at: datetime
    labels: dict[str, str]
    priority: Priority
    explanation: Explanation
    silenced: bool
    inhibited: bool
    acknowledged_by: str | None
    notify: bool


def evaluate_alerts(
    state: MaterialState,
    rules: RuleFile,
    now: datetime,
    silences: Iterable[Silence] = (),
    acknowledgements: Mapping[str, Acknowledge] | None = None,
    warehouses: Collection[str] | None = None,
) -> list[Alert]:
    """Evaluate every rule for the warehouses of ``state`` at event time ``now``.

    ``warehouses`` limits evaluation to stocks that changed (None: all). The
    material's alert book is updated in place; the returned alerts are the
    transitions to publish.
    """
    book = state.alerts
    acknowledgements = acknowledgements or {}
    for key in book.alerts.keys() & acknowledgements.keys():
        book.apply(acknowledgements[key])
    silences = tuple(silences)
    settings = rules.alert_settings()
    alerts: list[Alert] = []
    transitions = book.retire_rules([rule.id for rule in rules.enabled_rules], now)
    for warehouse_id in state.warehouses if warehouses is None else warehouses:
        stock = state.warehouses[warehouse_id]
        facts = warehouse_facts(state, stock, now)
        scope = scope_of(state, warehouse_id)
        outcomes = evaluate_all(rules, facts, scope)
        by_rule = {outcome.rule_id: outcome for outcome in outcomes}
        for transition in book.step(outcomes, scope, now, settings, rules.inhibit, silences):
            outcome = by_rule.get(transition.rule_id)
            alerts.append(_alert(transition, stock, facts, outcome))
    for transition in transitions:
        stock = state.warehouses.get(transition.warehouse_id)
        if stock is not None:
            alerts.append(_alert(transition, stock, warehouse_facts(state, stock, now), None))
    return alerts


def _alert(
    transition: AlertTransition,
    stock: WarehouseStock,
    facts: Mapping[str, float | None],
    outcome: RuleOutcome | None,
) -> Alert:
    policy = stock.policy
    priority = priority_of(stock, facts.get("days_of_cover"))
    open_value = sum(
        line.open_quantity * line.unit_price for line in stock.committed_lines.values()
    )
    explanation = Explanation(
        # The severity may be kept above the tier that fires now (tier hysteresis): say so.
        text=(
            outcome.explain(kept=transition.severity)
            if outcome is not None
            else f"{transition.rule_id} removed"
        ),
        condition=transition.expression,
        values=dict(transition.values),
        params=dict(outcome.params) if outcome is not None else {},
        forecast_daily=policy.daily_demand if policy else None,
        sigma_daily_demand=policy.sigma_daily_demand if policy else None,
        sigma_lead_time_demand=policy.sigma_lead_time_demand if policy else None,
        demand_class=policy.demand_class if policy else None,
        lead_time_days=policy.lead_time_days if policy else None,
        sigma_lead_time_days=policy.sigma_lead_time_days if policy else None,
        service_level=policy.service_level if policy else None,
        z=policy.z if policy else None,
        safety_stock=policy.safety_stock if policy else None,
        reorder_point=policy.reorder_point if policy else None,
        days_of_cover=policy.days_of_cover if policy else None,
        projected_stockout_date=policy.projected_stockout_date if policy else None,
        open_order_value=round(open_value, 2),
    )
    return Alert(
        id=transition.id,
        alert_id=transition.alert_id,
        key=transition.key,
        sequence=transition.sequence,
        rule_id=transition.rule_id,
        status=transition.status,
        reason=transition.reason,
        severity=transition.severity,
        previous_severity=transition.previous_severity,
        material_id=transition.material_id,
        warehouse_id=transition.warehouse_id,
        at=transition.at,
        raised_at=transition.raised_at,
        updated_at=transition.updated_at,
        labels=dict(transition.labels),
        priority=priority,
        explanation=explanation,
        silenced=transition.silenced,
        inhibited=transition.inhibited,
        acknowledged_by=transition.acknowledged_by,
        notify=transition.notify,
    )
