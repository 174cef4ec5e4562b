"""The scenario library: seeded, decodable histories whose demand has the class each claims.

Records are decoded as the worker decodes them (the example mapping, the
catalogue's kinds); each material's daily demand is rebuilt from them (order
lines on their due date, issues that ship no order) and classified here by
Syntetos–Boylan's ADI and CV². The stories' outcomes are the backtest's to
check, from each scenario's ``expected`` and ``facts``.
"""

import functools
import itertools
import math
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner

from connectors.cdc import InvalidRecord, decode_production_record, decode_record
from connectors.mapping import load_mapping
from connectors.scenarios import SCENARIOS, scenario_records
from connectors.simulator import Record
from models.events import (
    InTransitLine,
    MaterialMaster,
    PromotionEvent,
    SalesOrderLine,
    StockMovement,
)
from models.forecast import classify
from models.production import BomLine
from streams.catalogue import INPUT_KINDS
from streams.cli.run import simulate
from streams.settings import Settings

MAPPING = load_mapping(Settings().mapping_file)
MAX_BYTES = 65_536
PRODUCTION_KINDS = {"erp.boms": "bom_line", "erp.production-orders": "production_order"}
SMALL = [name for name in SCENARIOS if name != "plant"]


def decoded(record: Record) -> object:
    """The record as the worker decodes it; raises InvalidRecord for a dead letter."""
    if record.topic in PRODUCTION_KINDS:
        return decode_production_record(
            record.value, PRODUCTION_KINDS[record.topic], MAPPING, MAX_BYTES
        )
    return decode_record(record.value, INPUT_KINDS[record.topic], MAPPING, MAX_BYTES)


@functools.cache
def history(name: str, seed: int) -> tuple[tuple[Record, ...], tuple[object, ...]]:
    """A scenario's records and their decoded events (generated and decoded once per run)."""
    records = tuple(scenario_records(name, seed))
    return records, tuple(decoded(record) for record in records)


def daily_demand(name: str, seed: int) -> dict[tuple[str, str], dict[date, float]]:
    """What was asked for, per material, warehouse and day: order lines, issues for no order.

    Issues come signed as the ERP posts them (negative); the worker drops the sign.
    """
    demand: dict[tuple[str, str], dict[date, float]] = defaultdict(lambda: defaultdict(float))
    seen_lines = set()
    for event in history(name, seed)[1]:
        if isinstance(event, SalesOrderLine) and (event.order_id, event.line_id) not in seen_lines:
            seen_lines.add((event.order_id, event.line_id))
            demand[event.material_id, event.warehouse_id][event.due_date] += event.quantity
        elif (
            isinstance(event, StockMovement)
            and event.movement_type == "issue"
            and event.sales_order_id is None
        ):
            day = event.event_time.date()
            demand[event.material_id, event.warehouse_id][day] += abs(event.quantity)
    return demand


def adi_and_cv2(series: list[float]) -> tuple[float, float]:
    """Mean interval between demand days (the first from the series' start) and CV² of sizes."""
    demand_days = [day for day, quantity in enumerate(series) if quantity > 0]
    intervals = [demand_days[0] + 1] + [b - a for a, b in itertools.pairwise(demand_days)]
    sizes = [series[day] for day in demand_days]
    mean = sum(sizes) / len(sizes)
    variance = sum((size - mean) ** 2 for size in sizes) / (len(sizes) - 1)
    return sum(intervals) / len(intervals), variance / mean**2


def test_adi_and_cv2_follow_syntetos_and_boylan():
    adi, cv2 = adi_and_cv2([0, 4, 0, 0, 8, 0])
    assert (adi, round(cv2, 4)) == (2.5, 0.2222)


def test_an_unknown_scenario_is_refused_with_the_names_of_the_known_ones():
    with pytest.raises(ValueError) as refused:
        scenario_records("festivals")
    message = str(refused.value)
    assert "festivals" in message
    assert all(name in message for name in SCENARIOS)


def test_the_library_tells_every_story_of_the_issue():
    assert set(SCENARIOS) == {
        "festival",
        "machinery",
        "retail-chain",
        "fabric-backlog",
        "stranded-parts",
        "plant",
    }
    for name, scenario in SCENARIOS.items():
        assert scenario.name == name
        assert scenario.story and "\n" not in scenario.story
        assert scenario.expected and scenario.facts and scenario.demand


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_same_seed_gives_the_same_records_and_another_seed_others(name: str):
    records, _ = history(name, 42)
    assert records == tuple(scenario_records(name, 42))
    assert records[:3000] != tuple(itertools.islice(scenario_records(name, 43), 3000))


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_record_decodes_and_each_topic_comes_in_event_time_order(name: str):
    records, _ = history(name, 42)
    times: dict[str, list[datetime]] = defaultdict(list)
    refused = []
    for record in records:
        try:
            event = decoded(record)
        except InvalidRecord as error:
            refused.append((record.topic, str(error)))
            continue
        times[record.topic].append(event.event_time)
    assert refused == []
    for topic, event_times in times.items():
        assert event_times == sorted(event_times), topic


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_material_with_demand_claims_a_class_and_has_a_master(name: str):
    scenario = SCENARIOS[name]
    masters = {e.material_id for e in history(name, 42)[1] if isinstance(e, MaterialMaster)}
    with_demand = {material_id for material_id, _ in daily_demand(name, 42)}
    assert with_demand == set(scenario.demand)
    assert with_demand <= masters


@pytest.mark.parametrize(
    ("name", "seed"), [(name, 42) for name in SCENARIOS] + [(name, 7) for name in SMALL]
)
def test_each_materials_daily_demand_has_the_class_it_claims(name: str, seed: int):
    scenario = SCENARIOS[name]
    wrong = []
    for (material_id, warehouse_id), by_day in sorted(daily_demand(name, seed).items()):
        claim = scenario.demand[material_id]
        last_day = scenario.days - 1 if claim.last_day is None else claim.last_day
        days = [scenario.start + timedelta(days=n) for n in range(claim.first_day, last_day + 1)]
        adi, cv2 = adi_and_cv2([by_day.get(day, 0.0) for day in days])
        assert math.isfinite(adi) and math.isfinite(cv2)
        if classify(adi, cv2) != claim.demand_class:
            wrong.append((material_id, warehouse_id, round(adi, 2), round(cv2, 3)))
    assert wrong == []


# --- the stories, as the ERP recorded them ----------------------------------------------


def end_of_day_stock(name: str) -> dict[tuple[str, str], dict[date, float]]:
    """On hand at the end of every day of the history, per material and warehouse."""
    scenario = SCENARIOS[name]
    moved: dict[tuple[str, str], dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for event in history(name, 42)[1]:
        if isinstance(event, StockMovement):
            sign = 1 if event.movement_type == "receipt" else -1
            key = event.material_id, event.warehouse_id
            moved[key][event.event_time.date()] += sign * abs(event.quantity)
    stock = {}
    for key, by_day in moved.items():
        on_hand, stock[key] = 0.0, {}
        for n in range(scenario.days):
            day = scenario.start + timedelta(days=n)
            on_hand += by_day.get(day, 0.0)
            stock[key][day] = on_hand
    return stock


def test_the_festival_is_announced_over_a_lead_time_ahead_and_asks_5_to_10_times_the_usual():
    facts = SCENARIOS["festival"].facts
    [promotion] = [e for e in history("festival", 42)[1] if isinstance(e, PromotionEvent)]
    assert promotion.event_time.date() == date.fromisoformat(facts["announced_on"])
    assert promotion.starts_on == date.fromisoformat(facts["festival_first_day"])
    assert promotion.ends_on == date.fromisoformat(facts["festival_last_day"])
    assert promotion.uplift == facts["announced_uplift"]
    assert (promotion.starts_on - promotion.event_time.date()).days > facts["lead_time_days"]
    demand = daily_demand("festival", 42)[facts["material_id"], facts["warehouse_id"]]
    usual = [q for day, q in demand.items() if day < promotion.starts_on]
    festival = [q for day, q in demand.items() if promotion.starts_on <= day <= promotion.ends_on]
    usual_per_day = sum(usual) / len(usual)
    assert abs(usual_per_day - facts["usual_per_day"]) < 1
    assert len(festival) == 8
    assert facts["spike_low"] < sum(festival) / len(festival) / usual_per_day < facts["spike_high"]


def test_the_machinery_supplier_promises_30_to_65_days_and_announces_25_more():
    facts = SCENARIOS["machinery"].facts
    lines = defaultdict(list)
    for event in history("machinery", 42)[1]:
        if isinstance(event, InTransitLine):
            lines[event.line_id].append(event)
    promised = [
        (versions[0].eta - versions[0].ordered_at.date()).days for versions in lines.values()
    ]
    assert all(facts["lead_time_low"] <= days <= facts["lead_time_high"] for days in promised)
    delayed = [versions for versions in lines.values() if len(versions) > 1]
    assert delayed
    for first, announced in delayed:
        assert announced.event_time.date() == date.fromisoformat(facts["supplier_short_on"])
        assert (announced.eta - first.eta).days == facts["supplier_days_late"]


def test_the_short_store_runs_out_while_the_surplus_store_holds_more_than_its_maximum():
    facts = SCENARIOS["retail-chain"].facts
    stock = end_of_day_stock("retail-chain")
    material_id = facts["material_id"]
    short = stock[material_id, facts["short_warehouse"]]
    surplus = stock[material_id, facts["surplus_warehouse"]]
    out = [day for day, on_hand in short.items() if on_hand <= 0]
    assert out
    assert out[0] > date.fromisoformat(facts["late_from"])
    maximum = (
        facts["static_order_up_to_days"] * facts[f"usual_per_day_{facts['surplus_warehouse']}"]
    )
    assert all(surplus[day] > maximum for day in out)


def test_the_ten_fabrics_are_out_together_and_the_key_customers_line_carries_the_penalty():
    facts = SCENARIOS["fabric-backlog"].facts
    stock = end_of_day_stock("fabric-backlog")
    assert len(stock) == 10
    days = next(iter(stock.values())).keys()
    assert any(all(by_day[day] <= 0 for by_day in stock.values()) for day in days)
    key_lines = [
        e
        for e in history("fabric-backlog", 42)[1]
        if isinstance(e, SalesOrderLine) and e.customer_priority == 1
    ]
    assert key_lines
    assert {(e.material_id, e.customer_id, e.quantity) for e in key_lines} == {
        (facts["key_fabric"], facts["key_customer"], facts["key_order_metres"])
    }
    assert all(e.penalty_per_day_late == facts["penalty_per_day_late"] for e in key_lines)
    assert key_lines[0].due_date == date.fromisoformat(facts["key_order_due"])


def test_the_stranded_parts_are_never_issued_after_the_change_and_their_batches_pass_180_days():
    scenario = SCENARIOS["stranded-parts"]
    facts = scenario.facts
    change = date.fromisoformat(facts["engineering_change_on"])
    stranded = set(facts["stranded_parts"].split(","))
    events = history("stranded-parts", 42)[1]
    movements = [e for e in events if isinstance(e, StockMovement) and e.material_id in stranded]
    assert not [
        e for e in movements if e.movement_type == "issue" and e.event_time.date() >= change
    ]
    stock = end_of_day_stock("stranded-parts")
    for material_id in stranded:
        assert stock[material_id, facts["warehouse_id"]][scenario.end] > 0
        newest = max(e.event_time.date() for e in movements if e.material_id == material_id)
        assert (scenario.end - newest).days > facts["aged_after_days"]
    deleted = {e.component_id for e in events if isinstance(e, BomLine) and e.deleted}
    assert deleted == stranded


# --- stockloop simulate --scenario ---------------------------------------------------------


def simulate_cli(*args: str) -> Result:
    """``stockloop simulate`` with ``args``; none of these reach a broker."""
    app = typer.Typer()
    app.command()(simulate)
    return CliRunner().invoke(app, list(args))


def test_list_scenarios_prints_each_name_and_its_days():
    result = simulate_cli("--list-scenarios")
    assert result.exit_code == 0
    for name, scenario in SCENARIOS.items():
        line = next(line for line in result.output.splitlines() if line.strip().startswith(name))
        assert str(scenario.days) in line


def test_an_unknown_scenario_exits_1_naming_the_known_ones():
    result = simulate_cli("--scenario", "festivals")
    assert result.exit_code == 1
    assert "--scenario festivals: unknown; known: " + ", ".join(SCENARIOS) in " ".join(
        result.output.split()
    )


def test_a_scenario_refuses_the_default_simulations_days():
    result = simulate_cli("--scenario", "plant", "--days", "3")
    assert result.exit_code == 1
    assert "--materials, --days and --start do not apply" in " ".join(result.output.split())
