"""Each scenario's story, checked in the backtest: what stockloop does that static min/max does not.

Issue #10 asks that each scenario's expected outcome (``docs/scenarios.md``,
``SCENARIOS[name].expected`` and ``facts``) happen when its seed-42 history
is backtested. The backtest's figures (stock-outs, stock on hand, reorder
points, dead stock, per policy) come from ``models.backtest.backtest``
itself, run in process on the decoded records as ``stockloop backtest
--scenario NAME`` runs it. What the core proposed along the way (transfers,
reviews, each alert's value at risk) is not part of the backtest's figures,
so it is read from the same pure step played the same way: every material's
events in the step's order, ``receive`` then ``advance`` to each event's
time, and to the scenario's end at last.

Not here (docs/scenarios.md says why): the machinery spindle's warning a
full lead time ahead, which the current core does not give, and the
plant's frontier, which holds on the whole plant (12 CPU minutes) and,
since the ``--act`` fixes, on a 14-material sample too, but the sample
takes 40 CPU seconds: too slow for the unit suite.
"""

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from connectors.mapping import load_mapping
from connectors.scenarios import SCENARIOS, scenario_records
from models.alerting import Alert
from models.alerts import TransitionStatus
from models.backtest import BacktestConfig, BacktestResult, MaterialBacktest, Policy, backtest
from models.events import MaterialEvent
from models.purchasing import PurchaseRequest
from models.reviews import Review
from models.rules.spec import builtin_rules
from models.state import MaterialState
from models.step import AppliedEventIds, StepContext, StepResult, advance, receive
from models.transfers import Transfer
from streams.cli.backtest import decode_records
from streams.settings import Settings

MAPPING = load_mapping(Settings().mapping_file)
SEED = 42


@functools.cache
def history(name: str) -> tuple[MaterialEvent, ...]:
    """The scenario's material events, decoded as ``stockloop backtest --scenario`` decodes them."""
    events, skipped = decode_records(scenario_records(name, SEED), MAPPING)
    assert skipped == []
    return tuple(events)


@functools.cache
def backtested(name: str) -> BacktestResult:
    """The backtest of the scenario with the recorded supply, default window."""
    return backtest(history(name), BacktestConfig(seed=SEED))


def material(name: str, material_id: str) -> MaterialBacktest:
    return next(m for m in backtested(name).materials if m.material_id == material_id)


@dataclass
class Played:
    """What the core did over one material's history: transitions, and on hand after each event."""

    alerts: list[Alert] = field(default_factory=list)
    requests: list[PurchaseRequest] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    on_hand: list[tuple[datetime, str, float]] = field(default_factory=list)

    def raised(self, rule_id: str) -> list[Alert]:
        return [a for a in self.alerts if a.rule_id == rule_id and a.status == "raised"]


@functools.cache
def played(name: str) -> dict[str, Played]:
    """Every material's history through the pure step, as the backtest feeds it."""
    context = StepContext(rules=builtin_rules())
    scenario_end = SCENARIOS[name].end + timedelta(days=1)
    end = datetime.combine(scenario_end, time(), UTC)
    by_material: dict[str, list[MaterialEvent]] = {}
    for envelope in history(name):
        if envelope.event.material_id is not None:
            by_material.setdefault(envelope.event.material_id, []).append(envelope)
    out = {}
    for material_id, events in sorted(by_material.items()):
        state = MaterialState(material_id=material_id)
        applied = AppliedEventIds()
        run = out[material_id] = Played()
        for envelope in sorted(events, key=_step_order):
            receive(state, envelope, applied, context.planning)
            _take(run, advance(state, envelope.event.event_time, context))
            for warehouse_id, stock in state.warehouses.items():
                run.on_hand.append((envelope.event.event_time, warehouse_id, stock.on_hand))
        _take(run, advance(state, end, context))
    return out


_KIND_ORDER = {"material": 0, "promotion": 1, "in_transit": 2, "order_line": 3, "movement": 4}


def _step_order(envelope: MaterialEvent) -> tuple[datetime, int, str]:
    event = envelope.event
    return (event.event_time, _KIND_ORDER[event.kind], event.event_id)


def _take(run: Played, result: StepResult) -> None:
    run.alerts += result.alerts
    run.requests += result.requests
    run.transfers += result.transfers
    run.reviews += result.reviews


def open_alerts_at(alerts: list[Alert], at: datetime) -> Iterator[Alert]:
    """The latest transition of every alert open at ``at`` (raised and not yet resolved)."""
    latest: dict[tuple[str, str], Alert] = {}
    for alert in alerts:
        if alert.at > at:
            break
        key = (alert.rule_id, alert.warehouse_id)
        if alert.status == TransitionStatus.RESOLVED:
            latest.pop(key, None)
        else:
            latest[key] = alert
    yield from latest.values()


# --- machinery: a slow spindle unit, a long and variable lead time, a critical customer --------


def test_machinery_spindles_static_min_max_runs_out_repeatedly_while_orders_are_on_the_way():
    """The story's ERP: the recorded history is the static min/max's (10/16, three days of
    e-mail), and it runs out more than once in the backtest's window, leaving demand unfilled."""
    facts = SCENARIOS["machinery"].facts
    recorded = material("machinery", facts["material_id"]).policies[Policy.RECORDED]
    assert recorded.stockouts >= 2
    assert recorded.fill_rate < 1.0


def test_machinery_spindles_stockout_risk_comes_with_a_purchase_request_at_once():
    """The story: no three days of e-mail; the alert and the request are one step."""
    facts = SCENARIOS["machinery"].facts
    run = played("machinery")[facts["material_id"]]
    first = run.raised("stockout_risk")[0]
    at_once = [
        r
        for r in run.requests
        if r.at == first.at and r.warehouse_id == first.warehouse_id and r.status == "proposed"
    ]
    assert at_once, f"no request with the stockout_risk raised at {first.at}"
    assert at_once[0].quantity > 0
    assert first.at.date() < date.fromisoformat(facts["supplier_short_on"])


def test_machinery_spindles_reorder_point_covers_the_lead_time_spread_above_the_static_minimum():
    """The story: SS = z·sqrt(LT·σd² + d²·σLT²) lifts the reorder point over the ERP's 10 and
    over the backtest's own min/max (lead-time demand, no margin for the spread)."""
    facts = SCENARIOS["machinery"].facts
    spindle = material("machinery", facts["material_id"])
    planned = [
        (rop, ss)
        for rop, ss in zip(spindle.reorder_point, spindle.safety_stock, strict=True)
        if rop > 0
    ]
    assert len(planned) > 0.9 * len(spindle.reorder_point)
    static_minimum = spindle.levels[Policy.MIN_MAX][facts["warehouse_id"]].minimum
    assert all(ss > 0 for _, ss in planned)
    assert all(rop > facts["static_reorder_at"] for rop, _ in planned)
    assert all(rop > static_minimum for rop, _ in planned)


def test_machinery_spindle_acting_on_its_requests_fills_the_window_as_well_as_min_max():
    """With --act the core's own requests supply the spindle from the window start: the
    warm-up's request left waiting for approval no longer counts in its position (it filled
    35.9 % against min/max's 100 % while it did). A margin of 2 points, not an equality:
    the lead times are drawn."""
    facts = SCENARIOS["machinery"].facts
    result = backtest(history("machinery"), BacktestConfig(seed=SEED, act=True))
    spindle = next(m for m in result.materials if m.material_id == facts["material_id"])
    dynamic, min_max = spindle.policies[Policy.DYNAMIC], spindle.policies[Policy.MIN_MAX]
    assert dynamic.requests >= 1
    assert dynamic.fill_rate >= min_max.fill_rate - 0.02


# --- retail-chain: a best-seller out at one store, a surplus at another ---------------------------


def test_retail_chain_proposes_the_surplus_store_to_the_short_one_before_the_shelf_runs_empty():
    facts = SCENARIOS["retail-chain"].facts
    short, surplus = facts["short_warehouse"], facts["surplus_warehouse"]
    late_from = datetime.combine(date.fromisoformat(facts["late_from"]), time(), UTC)
    run = played("retail-chain")[facts["material_id"]]
    empty = [
        at for at, warehouse_id, on_hand in run.on_hand if warehouse_id == short and on_hand <= 0
    ]
    stockout = min(at for at in empty if at >= late_from)
    assert (
        material("retail-chain", facts["material_id"]).policies[Policy.RECORDED].stockout_days >= 7
    )  # the recorded history was out for days
    transfers = [
        t
        for t in run.transfers
        if t.status == "proposed"
        and (t.from_warehouse, t.to_warehouse) == (surplus, short)
        and late_from <= t.at < stockout
    ]
    assert transfers, f"no transfer {surplus} -> {short} between {late_from} and {stockout}"
    first = transfers[0]
    assert stockout - first.at >= timedelta(days=first.lead_time_days)
    surplus_then = [
        q for at, warehouse_id, q in run.on_hand if warehouse_id == surplus and at <= first.at
    ][-1]
    assert surplus_then > facts["static_order_up_to_days"] * facts[f"usual_per_day_{surplus}"]


# --- fabric-backlog: ten fabrics short at once, one blocking a key customer's penalty order -------


def test_fabric_backlog_all_ten_fabrics_are_out_of_stock_on_the_same_days():
    result = backtested("fabric-backlog")
    fabrics = [m for m in result.materials if m.material_id.startswith("FAB-")]
    assert len(fabrics) == 10
    out_together = [
        day
        for day in range(result.window_days)
        if all(m.daily_on_hand[Policy.RECORDED][day] <= 0 for m in fabrics)
    ]
    assert len(out_together) >= 3
    assert all(m.policies[Policy.RECORDED].stockouts >= 1 for m in fabrics)


def test_fabric_backlog_ranks_the_key_customers_fabric_first_and_the_out_of_season_one_last():
    """docs/scenarios.md: on 04-08, 04-12 and 04-15 FAB-07 leads (its 40 m for C-40001 weigh 3x
    and carry 1,500 a day late) although six fabrics sell more; FAB-10 comes last."""
    facts = SCENARIOS["fabric-backlog"].facts
    runs = played("fabric-backlog")
    for day in ("2026-04-08", "2026-04-12", "2026-04-15"):
        at = datetime.combine(date.fromisoformat(day), time(23, 59), UTC)
        at_risk = {
            material_id: max(
                (a.priority.value_at_risk for a in open_alerts_at(run.alerts, at)), default=0.0
            )
            for material_id, run in runs.items()
        }
        ranking = sorted(at_risk, key=at_risk.__getitem__, reverse=True)
        assert ranking[0] == facts["key_fabric"], (day, at_risk)
        assert ranking[-1] == facts["off_season_fabric"], (day, at_risk)
        assert at_risk[ranking[0]] > 1.5 * at_risk[ranking[1]], (day, at_risk)
        assert all(at_risk[m] > 0 for m in ranking), (day, at_risk)  # ten short at once


# --- stranded-parts: a design change strands special-purpose parts -------------------------------


def test_stranded_parts_each_get_a_dead_stock_review_after_their_issues_stop():
    facts = SCENARIOS["stranded-parts"].facts
    change = datetime.combine(date.fromisoformat(facts["engineering_change_on"]), time(), UTC)
    runs = played("stranded-parts")
    for material_id in facts["stranded_parts"].split(","):
        run = runs[material_id]
        reviews = [r for r in run.reviews if r.status == "open"]
        assert reviews, f"no dead-stock review for {material_id}"
        assert all(r.created_at > change for r in reviews)
        assert reviews[0].total_value > 0
        assert [a.at for a in run.raised("aged_batch")], material_id
    for material_id in facts["replacement_parts"].split(","):
        assert runs[material_id].reviews == [], material_id


def test_stranded_parts_are_the_backtests_dead_stock_at_the_end():
    """docs/scenarios.md: 230 A parts worth 41,262 at cost; the B parts are not dead."""
    facts = SCENARIOS["stranded-parts"].facts
    dead = {
        m.material_id: m.policies[Policy.RECORDED].dead_stock_value
        for m in backtested("stranded-parts").materials
    }
    stranded = facts["stranded_parts"].split(",")
    assert all(dead[material_id] > 0 for material_id in stranded)
    assert round(sum(dead[material_id] for material_id in stranded)) == 41_262
    assert all(dead[material_id] == 0 for material_id in facts["replacement_parts"].split(","))
