"""``plant``: 40 weeks of a plant's 200 materials across demand classes, warehouses, suppliers.

The whole of the article in one plant, for the backtest's table: many
materials of every Syntetos–Boylan class under the ERP's static min/max,
several warehouses, suppliers that are late, and production that consumes
components by bill of materials.

The plant, the same for every seed (the numbers inside each group are
drawn):

- 280 days (40 weeks) from Monday 2026-01-05, in three warehouses, SH01,
  SZ02 (also the assembly shop) and WH03; a material is stocked in one,
  two or three of them, each with its own demand.
- 25 smooth materials (``SMO-``: every day, about 5-60 a day), 20 seasonal
  (``SEA-``: the level swings ±50 % over a year around its own peak day;
  smooth to Syntetos–Boylan), 10 erratic (``ERR-``: every day, sizes CV²
  about 1.2), all issued over the counter or to deliveries (``601``), a
  sale not served lost; 70 intermittent spare parts (``INT-``: on 10-35 %
  of days, steady sizes), issued to cost centres (``201``); 50 lumpy project
  materials (``LMP-``: on 8-20 % of days, sizes CV² about 1.2), sold on
  order lines confirmed 5-20 days ahead, backordered when short.
- Five finished products (``FG-``, smooth sales from SZ02) are built once a
  week each, on their own weekday, on a production order released five
  days before; each takes four of the 20 components (``CMP-``, 1, 2 or 4
  per product) issued to the order (``261``) that day: weekly, so
  intermittent. The BOM lines go out with the masters.
- Ten suppliers promise 5-45 days; three of them (V-1008, V-1009, V-1010)
  deliver 35 % of their lines 3-15 days after the date they promised,
  unannounced; on day 150 (2026-06-04) V-1006 announces every open line
  14 days late.
- The ERP's static min/max orders up to 30 more days of average demand
  when the position is at or under the demand over the supplier's longest
  lead time plus a week.

Expected (the backtest's table): against that static min/max, stockloop's
dynamic policy reaches at least the same fill rate with less stock on
average, and its ``stockout_risk`` alerts come before most stock-outs of
the recorded history, by at least the material's lead time on the smooth
and seasonal ones.
"""

from collections.abc import Iterator
from datetime import date, timedelta

from connectors.scenarios import demand as patterns
from connectors.scenarios.ledger import Ledger, Material, Stock
from connectors.scenarios.spec import DemandClaim, Scenario
from connectors.simulator import Record
from models.forecast import DemandClass

START, DAYS = date(2026, 1, 5), 280  # a Monday; 40 weeks
WAREHOUSES, ASSEMBLY = ("SH01", "SZ02", "WH03"), "SZ02"
SUPPLIERS = (  # id, fewest and most days promised, share of lines late
    ("V-1001", (5, 9), 0.0),
    ("V-1002", (7, 12), 0.0),
    ("V-1003", (10, 16), 0.0),
    ("V-1004", (14, 21), 0.0),
    ("V-1005", (20, 30), 0.0),
    ("V-1006", (25, 40), 0.0),
    ("V-1007", (5, 10), 0.0),
    ("V-1008", (7, 14), 0.35),
    ("V-1009", (14, 24), 0.35),
    ("V-1010", (30, 45), 0.35),
)
DAYS_LATE = (3, 15)
ANNOUNCED_DELAY = ("V-1006", 150, 14)  # supplier, day, days late
GROUPS = (  # prefix, category, count, class, pattern
    ("SMO", "CONSUMABLES", 25, DemandClass.SMOOTH, "smooth"),
    ("SEA", "COOLING", 20, DemandClass.SMOOTH, "seasonal"),
    ("ERR", "ELECTRICAL", 10, DemandClass.ERRATIC, "erratic"),
    ("INT", "SPARES", 70, DemandClass.INTERMITTENT, "intermittent"),
    ("LMP", "PROJECT", 50, DemandClass.LUMPY, "lumpy"),
)
PRODUCTS, COMPONENTS_PER_PRODUCT, RELEASE_DAYS_AHEAD = 5, 4, 5
CUSTOMERS = (("C-50001", 1), ("C-50020", 2), ("C-50133", 3), ("C-50270", 4), ("C-50318", 5))


class _Plant:
    """The plant's materials and stocks, drawn from one ledger's generator."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.rng = ledger.rng
        self.materials: list[Material] = []
        self.stocks: list[Stock] = []
        for prefix, category, count, _, pattern in GROUPS:
            for n in range(1, count + 1):
                self._stocked(f"{prefix}-{n:03d}", category, pattern)
        self.products: list[Stock] = []
        self.production: dict[int, tuple[Stock, int]] = {}
        self.bom: list[tuple[str, str, float]] = []
        for p in range(PRODUCTS):
            self._product(p)

    def _material(self, material_id: str, category: str, name: str) -> Material:
        supplier_id, (_, most), _ = self.rng.choice(SUPPLIERS)
        cost = round(self.rng.uniform(0.5, 80.0), 2)
        material = Material(material_id, name, category, cost, float(most), supplier_id)
        self.materials.append(material)
        return material

    def _supply(self, supplier_id: str) -> tuple[tuple[int, int], tuple[float, int, int]]:
        _, lead_time, share = next(s for s in SUPPLIERS if s[0] == supplier_id)
        return lead_time, (share, *DAYS_LATE)

    def _stocked(self, material_id: str, category: str, pattern: str) -> None:
        material = self._material(material_id, category, f"{category.title()} item {material_id}")
        everyday = pattern in ("smooth", "seasonal", "erratic")
        count = self.rng.choice((1, 1, 1, 2) if everyday else (1, 2, 3))
        for warehouse_id in sorted(self.rng.sample(WAREHOUSES, count)):
            demand, mean = self._demand(pattern)
            lead_time, late = self._supply(material.supplier_id)
            reorder_at = mean * (lead_time[1] + 7)
            self.stocks.append(
                Stock(
                    material,
                    warehouse_id,
                    demand,
                    round(reorder_at),
                    round(reorder_at + mean * 30),
                    lead_time=lead_time,
                    opening=round(reorder_at + mean * 15),
                    orders=pattern == "lumpy",
                    issue_code="201" if pattern == "intermittent" else "601",
                    confirm_days=(5, 20),
                    backorders=pattern == "lumpy",
                    customers=CUSTOMERS,
                    late=late,
                )
            )

    def _demand(self, pattern: str) -> tuple[list[float], float]:
        """A stock's daily demand of the pattern, and its mean a day."""
        rng = self.rng
        match pattern:
            case "smooth":
                mean = rng.uniform(5, 60)
                return patterns.smooth(rng, DAYS, mean), mean
            case "seasonal":
                mean = rng.uniform(5, 40)
                peak = rng.randrange(365)
                return patterns.seasonal(rng, DAYS, mean, 0.5, peak), mean
            case "erratic":
                mean = rng.uniform(4, 30)
                return patterns.erratic(rng, DAYS, mean), mean
            case "intermittent":
                probability, size = rng.uniform(0.1, 0.35), rng.uniform(3, 20)
                return patterns.intermittent(rng, DAYS, probability, size), probability * size
            case _:
                probability, size = rng.uniform(0.08, 0.2), rng.uniform(8, 40)
                return patterns.lumpy(rng, DAYS, probability, size), probability * size

    def _product(self, p: int) -> None:
        """A finished product sold from the assembly shop, built weekly from four components."""
        product_id = f"FG-{p + 1:03d}"
        material = self._material(product_id, "FINISHED", f"Finished product {product_id}")
        mean = self.rng.uniform(8, 20)
        product = Stock(
            material,
            ASSEMBLY,
            patterns.smooth(self.rng, DAYS, mean),
            0.0,
            0.0,
            lead_time=(7, 7),
            opening=round(mean * 14),
            purchased=False,
        )
        self.products.append(product)
        builds = [0.0] * DAYS
        for day in range(p, DAYS, 7):
            quantity = round(mean * 7 * self.rng.uniform(0.9, 1.1))
            builds[day] = quantity
            self.production[day] = (product, quantity)
        for c in range(COMPONENTS_PER_PRODUCT):
            component_id = f"CMP-{p * COMPONENTS_PER_PRODUCT + c + 1:03d}"
            component = self._material(component_id, "COMPONENT", f"Component {component_id}")
            per_product = self.rng.choice((1.0, 2.0, 4.0))
            self.bom.append((product_id, component_id, per_product))
            lead_time, late = self._supply(component.supplier_id)
            weekly = mean * 7 * per_product
            reorder_at = weekly * (lead_time[1] / 7 + 2)
            self.stocks.append(
                Stock(
                    component,
                    ASSEMBLY,
                    [per_product * built for built in builds],
                    round(reorder_at),
                    round(reorder_at + weekly * 4),
                    lead_time=lead_time,
                    opening=round(reorder_at + weekly * 2),
                    issue_code="261",
                    backorders=True,
                    late=late,
                )
            )


def records(seed: int) -> Iterator[Record]:
    """The plant's history: masters, BOM lines and opening stock, then 280 days from 2026-01-05."""
    ledger = Ledger(START, seed)
    plant = _Plant(ledger)
    delayed_supplier, delay_day, days_late = ANNOUNCED_DELAY

    def day_hook(day: int) -> Iterator[Record]:
        released = plant.production.get(day + RELEASE_DAYS_AHEAD)
        if released is not None:
            product, quantity = released
            yield ledger.production_order(
                _order_id(product, day + RELEASE_DAYS_AHEAD),
                product.material.material_id,
                ASSEMBLY,
                quantity,
                day + RELEASE_DAYS_AHEAD,
                "released",
                ledger.at(day, 8),
            )
        built = plant.production.get(day)
        if built is not None:
            product, quantity = built
            at = ledger.at(day, 18)
            yield ledger.movement(product, "101", quantity, at)
            order_id = _order_id(product, day)
            material_id = product.material.material_id
            yield ledger.production_order(
                order_id, material_id, ASSEMBLY, quantity, day, "closed", at
            )
        if day == delay_day:
            for stock in plant.stocks:
                if stock.material.supplier_id == delayed_supplier:
                    yield from ledger.delay(stock, day, days_late)

    opening = ledger.at(0, 0)
    yield from ledger.opening(plant.materials, plant.stocks + plant.products)
    for parent_id, component_id, per_product in plant.bom:
        yield ledger.bom_line(parent_id, component_id, per_product, opening)
    yield from ledger.run(
        plant.stocks + plant.products, DAYS, {day: day_hook for day in range(DAYS)}
    )


def _order_id(product: Stock, day: int) -> str:
    return f"MO-{product.material.material_id}-{day:03d}"


def _claims() -> dict[str, DemandClaim]:
    claims = {
        f"{prefix}-{n:03d}": DemandClaim(demand_class, pattern)
        for prefix, _, count, demand_class, pattern in GROUPS
        for n in range(1, count + 1)
    }
    for p in range(PRODUCTS):
        claims[f"FG-{p + 1:03d}"] = DemandClaim(DemandClass.SMOOTH, "smooth")
        for c in range(COMPONENTS_PER_PRODUCT):
            claims[f"CMP-{p * COMPONENTS_PER_PRODUCT + c + 1:03d}"] = DemandClaim(
                DemandClass.INTERMITTENT, "weekly production"
            )
    return claims


SCENARIO = Scenario(
    name="plant",
    story="A plant's 40 weeks: 200 materials of every demand class in three warehouses, late "
    "suppliers, BOMs and weekly production orders.",
    start=START,
    days=DAYS,
    warehouses=WAREHOUSES,
    demand=_claims(),
    expected=(
        "the backtest's table: stockloop's dynamic policy against the static min/max (fill "
        "rate, average stock, alerts per material-month, alert lead before stock-outs) over "
        "smooth, seasonal, erratic, intermittent and lumpy materials"
    ),
    facts={
        "materials": sum(group[2] for group in GROUPS) + PRODUCTS * (1 + COMPONENTS_PER_PRODUCT),
        "warehouses": len(WAREHOUSES),
        "suppliers": len(SUPPLIERS),
        "late_suppliers": "V-1008,V-1009,V-1010",
        "late_share": 0.35,
        "announced_delay_supplier": ANNOUNCED_DELAY[0],
        "announced_delay_on": (START + timedelta(days=ANNOUNCED_DELAY[1])).isoformat(),
        "announced_delay_days": ANNOUNCED_DELAY[2],
        "products": PRODUCTS,
        "components": PRODUCTS * COMPONENTS_PER_PRODUCT,
    },
    build=records,
)
