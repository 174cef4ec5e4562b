"""Quiet materials: until when a tick can change nothing for a material, so it is not visited.

A live tick brings every material to the wall clock and evaluates its rules
(``models.step.advance`` with ``evaluate_at_end``). For most materials
nothing happened since the last tick, and within one day nothing can: the
plan is by the day (``MaterialState.replan`` reads the date of its ``now``
only), so re-planning an unchanged material on the same day gives the same
plan. What can still move within a day:

- pending events, applied once time passes them;
- the clocks of its lifecycles: a pending alert's ``for``, an open alert's
  repeat and de-escalation, the start and end of a silence
  (``AlertBook.next_due``), the expiry of an approved purchase request or an
  unshipped transfer (``models.replenishment.next_expiry``), a review's
  deadlines (``models.reviews.escalate_overdue``);
- a category promotion that becomes known (its event time passes);
- rules reading a fact that grows with the clock (``days_since_last_issue``,
  ``batch_age_days``): a condition such as ``batch_age_days > 90`` starts to
  hold at some time of day, and an open alert's numbers move;
- the value at risk of dead stock and aged batches, which grows with the
  time the stock is held: an open alert of such a risk is published again
  once it has risen by ``update_threshold``.

``quiet_until`` returns the time before which none of these can happen:
the next midnight, the first pending event, the next promotion's event
time, the first clock, and the first moment a rule, a review or a value at
risk could change. The last is decided exactly: every rule's conditions are
evaluated over the whole interval with interval arithmetic
(``could_hold``): a rule without an alert must not fire anywhere in it, a
rule with an alert open or pending must give the same outcome throughout
(each of its tiers and clear conditions surely true or surely false), and
the numbers an open alert publishes on must not move materially by its end
(the facts grow with time, the value at risk too, so the end is their
furthest point). When that cannot be shown until midnight, a binary search
finds the last moment it can.

The lifecycle does nothing with an unchanged outcome until a clock is due.
That holds only from a step that itself changed nothing (``settled``): a
step that proposed a transfer changed what the next one reads (the source
warehouse's position counts it, and that warehouse may now be short), so
after any change the next tick visits the material again, and that visit,
changing nothing, opens the window.
tests/unit/models/test_day_change.py replays simulated histories both ways
and compares outputs and states byte for byte.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from models.alerting import value_at_risk_moves
from models.alerts import OpenAlert, alert_key, values_changed
from models.facts import scope_of, warehouse_facts
from models.priority import RiskKind, priority_of, risk_kind
from models.replenishment import next_expiry
from models.reviews import escalate_overdue
from models.rules.expression import Arith, Call, Compare, Fact, Logic, Neg, Node, Not, Num, Param
from models.rules.spec import CompiledRule, Rule
from models.state import MaterialState, WarehouseStock
from models.step import StepContext

GROWING_FACTS = frozenset({"days_since_last_issue", "batch_age_days"})
"""Facts that grow with event time within a day; every other fact is fixed for the day."""
SURE_MARGIN = 1e-6
"""A comparison counts as decided over an interval only by this relative margin, far above
the rule language's own tolerance (1e-9) and any rounding of the interval's ends."""
HALVINGS = 12
"""Steps of the search for the moment a rule could start to fire: one day / 2**12 is 21 s."""
AGING_RISKS = frozenset({RiskKind.DEAD_STOCK, RiskKind.AGED_BATCH})
"""Risks whose value grows with the time the stock is held (``models.priority``)."""


@dataclass(frozen=True, slots=True)
class Span:
    """Every value a number takes over an interval of time: from ``low`` to ``high``."""

    low: float
    high: float


class _Unsure(Exception):
    """The value may change over the interval in a way interval arithmetic cannot follow."""


Value = Span | bool | None


def quiet_until(
    state: MaterialState, now: datetime, context: StepContext, settled: bool = False
) -> datetime:
    """The time before which advancing ``state`` from ``now`` changes nothing and outputs nothing.

    ``now`` is the time the material was just brought to (an advance that
    evaluated it at ``now``, or one that only crossed midnights). ``settled``:
    that advance evaluated it at ``now`` and changed nothing, neither its state
    nor any output; without it, a material whose lifecycles run on the clock is
    not quiet. ``now`` itself when it must be visited every time.

    >>> from datetime import UTC
    >>> from models.rules.spec import builtin_rules
    >>> fresh = MaterialState(material_id="M1")
    >>> quiet_until(fresh, datetime(2026, 3, 1, 9, tzinfo=UTC), StepContext(rules=builtin_rules()))
    datetime.datetime(2026, 3, 2, 0, 0, tzinfo=datetime.timezone.utc)
    """
    midnight = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=now.tzinfo)
    until = min(midnight, _next_promotion(state, now, context))
    if _has_timers(state):
        clock = _next_clock(state, now, context) if settled else now
        until = min(until, clock or until)
    if state.pending:
        until = min(until, state.pending[0].event.event_time)
    if until <= now or state.applied_through is None:
        return max(until, now)
    if state.applied_through.date() != now.date():
        return now  # not brought to today's date yet: the next advance re-plans it
    if not _could_change(state, now, until, context):
        return until
    quiet, changing = now, until  # quiet over [now, quiet]; something may change by ``changing``
    for _ in range(HALVINGS):
        middle = quiet + (changing - quiet) / 2
        if _could_change(state, now, middle, context):
            changing = middle
        else:
            quiet = middle
    return quiet


def _could_change(
    state: MaterialState, start: datetime, end: datetime, context: StepContext
) -> bool:
    if any(escalate_overdue(review, end) is not None for review in state.reviews.open.values()):
        return True
    return any(
        _could_change_in(state, warehouse_id, start, end, context)
        for warehouse_id in state.warehouses
    )


def _has_timers(state: MaterialState) -> bool:
    """Whether anything of it runs on the clock: alerts, silences, requests, transfers, reviews."""
    book = state.alerts
    return bool(
        book.alerts
        or book.pending
        or book.silences
        or state.requests.open
        or state.transfers.open
        or state.reviews.open
    )


def _next_clock(state: MaterialState, now: datetime, context: StepContext) -> datetime | None:
    """The first time after ``now`` at which a clock of the material's lifecycles may act.

    None when no clock runs; ``now`` when an open alert's rule is gone (the
    next step resolves it).
    """
    settings = context.rules.alert_settings()
    if any(alert.rule_id not in settings for alert in state.alerts.alerts.values()):
        return now
    moments = [
        moment
        for moment in (
            state.alerts.next_due(now, settings, context.silences),
            next_expiry(state, context.approval),
        )
        if moment is not None
    ]
    return min(moments, default=None)


def _next_promotion(state: MaterialState, now: datetime, context: StepContext) -> datetime:
    """When a promotion of the material's category next becomes known; ``now`` if one did today.

    The plan counts a category promotion from its event time on; one known
    since today's midnight may be newer than the material's last plan.
    """
    category = state.master.category if state.master else None
    day_start = datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
    times = [
        event.event_time
        for event in (context.category_promotions.get(category, ()) if category else ())
        if event.event_time > day_start
    ]
    if any(at <= now for at in times):
        return now
    return min(times, default=datetime.max.replace(tzinfo=now.tzinfo))


def _could_change_in(
    state: MaterialState, warehouse_id: str, start: datetime, end: datetime, context: StepContext
) -> bool:
    """Whether a rule's outcome, or an open alert's news, could change for one warehouse at
    some time from ``start`` to ``end``."""
    stock = state.warehouses[warehouse_id]
    facts = facts_over(warehouse_facts(state, stock, start), warehouse_facts(state, stock, end))
    if facts is None:
        return True
    book = state.alerts
    scope = scope_of(state, warehouse_id)
    for rule in context.rules.enabled_rules:
        compiled = rule.compiled
        if compiled is None or not rule.scope.matches(scope):
            continue
        key = alert_key(state.material_id, warehouse_id, rule.id)
        alert = book.alerts.get(key)
        if alert is not None or key in book.pending:
            if _outcome_could_change(compiled, facts):
                return True
            if alert is not None and _news_by(alert, rule, facts, stock, end, context):
                return True
        elif could_hold(compiled.fires.node, facts):
            return True
    return False


def _outcome_could_change(compiled: CompiledRule, facts: Mapping[str, Span | None]) -> bool:
    """Whether a rule's outcome could differ within the interval: it is made of its tiers' and
    clear conditions' truth values (``models.rules.evaluate``), so each must be decided."""
    conditions = [condition for _, condition in compiled.tiers]
    conditions += [compiled.clear, *(c for c in compiled.tier_clears if c is not None)]
    try:
        for condition in conditions:
            _condition(_value(condition.node, facts))
    except _Unsure:
        return True
    return False


def _news_by(
    alert: OpenAlert,
    rule: Rule,
    facts: Mapping[str, Span | None],
    stock: WarehouseStock,
    end: datetime,
    context: StepContext,
) -> bool:
    """Whether an open alert's numbers could move materially by ``end`` (an ``updated``).

    A material move is one out of a band around the published number, so a
    fact's span is inside the band when both its ends are. An aging risk's
    value at risk only grows, and is published again once it rises by
    ``update_threshold`` (``models.alerting``): its value at ``end`` is the
    highest.
    """
    for name in rule.update_on:
        span = facts.get(name)
        for value in (None,) if span is None else (span.low, span.high):
            if values_changed(alert.values, {name: value}, (name,)):
                return True
    kind = risk_kind(rule.id, rule.labels)
    if kind not in AGING_RISKS:
        return False  # a shortage's or an overstock's value is by the day
    pricing = context.planning.priority
    value = priority_of(stock, None, end, kind, pricing).value_at_risk
    return value_at_risk_moves(alert, value, pricing.update_threshold)


def facts_over(
    first: Mapping[str, float | None], last: Mapping[str, float | None]
) -> dict[str, Span | None] | None:
    """The facts over an interval, from their values at its two ends; None if that is not enough.

    Only ``GROWING_FACTS`` may differ: they grow monotonically with time, so
    their values in between lie between those at the ends. Any other fact
    that differs (a day boundary crossed) makes the interval unknowable.

    >>> facts_over({"batch_age_days": 3.0, "on_hand": 5.0}, {"batch_age_days": 3.5, "on_hand": 5.0})
    {'batch_age_days': Span(low=3.0, high=3.5), 'on_hand': Span(low=5.0, high=5.0)}
    """
    facts: dict[str, Span | None] = {}
    for name, value in first.items():
        other = last.get(name)
        if value is None or other is None:
            if value is not other:
                return None
            facts[name] = None
            continue
        low, high = float(value), float(other)
        if low != low or high != high:  # NaN is unknown to the rules, at one end only: unsure
            if low == low or high == high:
                return None
            facts[name] = None
            continue
        if low != high and (name not in GROWING_FACTS or high < low):
            return None
        facts[name] = Span(low, high)
    return facts


def could_hold(node: Node, facts: Mapping[str, Span | None]) -> bool:
    """Whether a condition could be true somewhere over the interval the facts span.

    False only when it is surely false or unknown throughout; the rule
    language's three-valued logic (``models.rules.expression``) is followed
    step by step.

    >>> from models.rules.expression import parse
    >>> old = parse("batch_age_days > 90", {"batch_age_days"}, {}).node
    >>> could_hold(old, {"batch_age_days": Span(10.0, 10.5)})
    False
    >>> could_hold(old, {"batch_age_days": Span(89.5, 90.5)})
    True
    """
    try:
        return _value(node, facts) not in (False, None)
    except _Unsure:
        return True


def _value(node: Node, facts: Mapping[str, Span | None]) -> Value:
    match node:
        case Num(value) | Param(_, value):
            return Span(value, value)
        case Fact(name):
            return facts.get(name)
        case Neg(operand):
            inner = _number(_value(operand, facts))
            return None if inner is None else Span(-inner.high, -inner.low)
        case Not(operand):
            condition = _condition(_value(operand, facts))
            return None if condition is None else not condition
        case Logic(op, left, right):
            return _logic(op, _condition(_value(left, facts)), lambda: _value(right, facts))
        case Compare(op, left, right):
            a = _number(_value(left, facts))
            if a is None:
                return None
            b = _number(_value(right, facts))
            return None if b is None else _compare(op, a, b)
        case Arith(op, left, right):
            a = _number(_value(left, facts))
            if a is None:
                return None
            b = _number(_value(right, facts))
            return None if b is None else _arith(op, a, b)
        case Call("missing", (arg,)):
            return _value(arg, facts) is None
        case Call("abs", (arg,)):
            inner = _number(_value(arg, facts))
            if inner is None:
                return None
            if inner.low >= 0:
                return inner
            if inner.high <= 0:
                return Span(-inner.high, -inner.low)
            return Span(0.0, max(-inner.low, inner.high))
        case Call("coalesce", args):
            for arg in args:
                value = _value(arg, facts)
                if value is not None:
                    return value
            return None
        case Call(func, args):  # min, max
            spans = [_number(_value(arg, facts)) for arg in args]
            if any(span is None for span in spans):
                return None
            pick = min if func == "min" else max
            return Span(pick(s.low for s in spans), pick(s.high for s in spans))  # type: ignore[union-attr]
    raise _Unsure


def _number(value: Value) -> Span | None:
    if value is None or isinstance(value, Span):
        return value
    raise _Unsure


def _condition(value: Value) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise _Unsure


def _logic(op: str, a: bool | None, right: object) -> bool | None:
    decisive = op == "or"  # True decides an "or", False an "and"
    if a is decisive:
        return decisive
    b = _condition(right())  # type: ignore[operator]
    if b is decisive:
        return decisive
    return None if a is None or b is None else not decisive


def _sure_below(a: Span, b: Span) -> bool:
    """Every value of ``a`` is below every value of ``b``, by more than the rules' tolerance."""
    scale = max(1.0, abs(a.low), abs(a.high), abs(b.low), abs(b.high))
    return b.low - a.high > SURE_MARGIN * scale


def _compare(op: str, a: Span, b: Span) -> bool:
    match op:
        case "<" | ">":
            low, high = (a, b) if op == "<" else (b, a)
            if _sure_below(low, high):
                return True
            if low.low >= high.high:
                return False
        case "<=" | ">=":
            low, high = (a, b) if op == "<=" else (b, a)
            if low.high <= high.low:
                return True
            if _sure_below(high, low):
                return False
        case "==" | "!=":
            if _sure_below(a, b) or _sure_below(b, a):
                return op == "!="
    raise _Unsure


def _arith(op: str, a: Span, b: Span) -> Span | None:
    if op == "/":
        if b.low == b.high == 0:
            return None  # the language's division by zero: unknown
        if b.low <= 0 <= b.high:
            raise _Unsure
    ends = [_apply(op, x, y) for x in (a.low, a.high) for y in (b.low, b.high)]
    if any(math.isnan(end) for end in ends):
        raise _Unsure
    return Span(min(ends), max(ends))


def _apply(op: str, x: float, y: float) -> float:
    match op:
        case "+":
            return x + y
        case "-":
            return x - y
        case "*":
            return x * y
    return x / y
