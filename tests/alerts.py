"""Alert records as ``stockloop.alerts`` carries them, built from ``AlertBook`` transitions.

Tests of what reads that topic (rendering, routing, the notifier) need the
record the material agent publishes, with a priority and an explanation,
but not the material step that computes them.
"""

from models.alerting import Alert
from models.alerts import AlertTransition


def as_alert(
    transition: AlertTransition, text: str = "projected_stockout_days 15 <= lead_time_days 21"
) -> Alert:
    """The record on stockloop.alerts that carries ``transition``, nothing at risk."""
    return Alert.model_validate(
        transition.model_dump()
        | {
            "priority": {
                "value_at_risk": 0.0,
                "unserved_quantity": 0.0,
                "next_receipt": None,
                "score": 0.0,
            },
            "explanation": {
                "text": text,
                "condition": transition.expression,
                "values": transition.values,
                "params": {},
                "open_order_value": 0.0,
            },
            "notify": transition.notify,
        }
    )
