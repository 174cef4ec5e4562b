"""The inventory-health dashboard in a real browser: Debian's chromium driven by Playwright.

A live worker on the real broker is fed materials with old and new stock,
issues, and orders it cannot serve; the test opens ``/``, checks that the
overview shows the numbers of ``/api/summary``, clicks a risk-map cell and
sees the materials behind it, opens a material and sees its policy numbers,
its demand history, projected stock and closed alerts as the API gives them, and
acknowledges and silences alerts from the page until ``/api/alerts`` reports
them so.
It saves the screenshots the README shows (``docs/img/dashboard-*.png``).
"""

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from streams.settings import PROJECT_ROOT
from tests.integration.harness import Pipeline, api_json, stock_movement, wait_until

pytestmark = pytest.mark.integration

MATERIALS = [f"DASH-{n:02d}" for n in range(9)]
CATEGORIES = ("fabric", "yarn", "trim")
# Close to the wall clock, which the worker's ticks bring every material to.
T1 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=6)
T0 = T1 - timedelta(days=100)
SCREENSHOTS = PROJECT_ROOT / "docs" / "img"
PLANNER = "planner-ann"
TIMEOUT_MS = 90_000
KPIS = {
    "value_on_hand": lambda t: t["value_on_hand"],
    "quantity_on_hand": lambda t: t["quantity_on_hand"],
    "stock_items": lambda t: t["stock_items"],
    "dead_stock_value": lambda t: t["dead_stock"]["value"],
    "days_of_supply": lambda t: t["days_of_supply"],
    "value_at_risk": lambda t: t["value_at_risk"],
    "alerts_critical": lambda t: t["open_alerts"]["critical"],
    "alerts_warning": lambda t: t["open_alerts"]["warning"],
    "alerts_info": lambda t: t["open_alerts"]["info"],
    "requests_proposed": lambda t: t["requests"]["proposed"],
    "requests_pending_approval": lambda t: t["requests"]["pending_approval"],
    "requests_approved": lambda t: t["requests"]["approved"],
    "requested_amount": lambda t: t["requests"]["amount"],
    "turnover_30d": lambda t: t["turnover"]["30d"]["turns"],
    "turnover_90d": lambda t: t["turnover"]["90d"]["turns"],
    "turnover_365d": lambda t: t["turnover"]["365d"]["turns"],
    "fill_rate": lambda t: t["fill_rate"]["last_30d"],
    "stockout_rate": lambda t: t["stockout_rate"]["last_30d"],
}
"""What each overview figure (``data-kpi``) shows, read from the summary's totals."""


def feed(worker: Pipeline) -> int:
    """Masters, an old and a new receipt, issues and unservable orders; the records sent.

    Three categories in two warehouses; every third material has an order
    far beyond its stock (a shortage alert), the old receipts in W1 are
    never issued for some (dead stock); one issue in W2 takes more than
    the shelf holds (a fill rate below 1).

    The history (masters, the receipts of 100 days ago) is applied before
    the rest is sent: sent together, a sales order (another topic) could
    reach its material first, and the old receipt would be older than the
    de-duplication horizon before the material's newest event.
    """
    history: list[tuple[str, dict]] = []
    records: list[tuple[str, dict]] = []
    for n, material in enumerate(MATERIALS):
        history += [
            (
                "erp.materials",
                {
                    "event_id": f"m-{n}",
                    "event_time": (T0 - timedelta(days=1)).isoformat(),
                    "material_id": material,
                    "name": f"{CATEGORIES[n % 3]} {n}",
                    "category": CATEGORIES[n % 3],
                    "abc_class": "ABC"[n % 3],
                    "unit_cost": 2.0 + n,
                },
            ),
            stock_movement(f"r0-{n}", T0, material, "W1", "receipt", 40 + 10 * n, 2.0 + n),
        ]
        records.append(
            stock_movement(f"r1-{n}", T1, material, f"W{1 + n % 2}", "receipt", 30 + 5 * n, 3.0 + n)
        )
        for day in range(0, 5, 2):
            if n % 3 != 2:
                at = T1 + timedelta(days=day, hours=3)
                records.append(stock_movement(f"i-{n}-{day}", at, material, "W1", "issue", 3, None))
        if n == 5:
            at = T1 + timedelta(days=1)
            records.append(stock_movement(f"short-{n}", at, material, "W2", "issue", 70, None))
        if n % 3 == 1:
            records.append(
                (
                    "erp.sales-orders",
                    {
                        "event_id": f"so-{n}",
                        "event_time": (T1 + timedelta(days=3)).isoformat(),
                        "material_id": material,
                        "order_id": f"SO-{n}",
                        "line_id": "1",
                        "warehouse_id": "W1",
                        "quantity": 800,
                        "due_date": (T1 + timedelta(days=8)).date().isoformat(),
                        "status": "confirmed",
                        "unit_price": 12.0 + n,
                        "customer_id": "KEY-1",
                        "customer_priority": 1,
                    },
                )
            )
    worker.send_all(history)
    wait_until(lambda: worker.applied() >= len(history), timeout=120)
    worker.send_all(records)
    return len(history) + len(records)


def _fed(worker: Pipeline) -> dict | None:
    """The summary once every material's stock and an open alert show in it."""
    summary = api_json(worker, "/api/summary")
    totals = summary["totals"]
    stocked = totals["stock_items"] == len(MATERIALS) + len(MATERIALS) // 2
    alerting = totals["open_alerts"]["critical"] + totals["open_alerts"]["warning"] > 0
    return summary if stocked and alerting and totals["dead_stock"]["items"] else None


def _page_numbers(page: Page, attribute: str, within: str = "") -> dict[str, float | None]:
    """The numbers the page shows (``data-value``), named by ``attribute`` of their elements."""
    pairs = page.locator(f"{within}[{attribute}]").evaluate_all(
        f"els => els.map(e => [e.getAttribute('{attribute}'), e.dataset.value])"
    )
    return {name: (None if value in ("", None) else float(value)) for name, value in pairs}


def _matching(check):
    """Poll until ``check`` returns (page, api) equal; the page refreshes every few seconds."""
    seen: list[object] = []

    def equal() -> bool:
        shown, expected = check()
        seen[:] = [shown, expected]
        return shown == expected

    wait_until(equal, timeout=TIMEOUT_MS / 1000, interval=1.0, describe=lambda: seen)


def _overview_matches_summary(page: Page, worker: Pipeline) -> None:
    def check():
        totals = api_json(worker, "/api/summary")["totals"]
        expected = {name: read(totals) for name, read in KPIS.items()}
        expected.update({f"age_{a['bucket']}": a["value"] for a in totals["age"]})
        expected.update(
            {
                "trend_turnover_30d": totals["turnover"]["previous_30d"]["turns"],
                "trend_fill_rate": totals["fill_rate"]["previous_30d"],
                "trend_stockout_rate": totals["stockout_rate"]["previous_30d"],
                "trend_supply_days": totals["supply_days"]["previous_30d"],
            }
        )
        shown = _page_numbers(page, "data-kpi")
        shown.update({f"age_{k}": v for k, v in _page_numbers(page, "data-age-bucket").items()})
        shown.update({f"trend_{k}": v for k, v in _page_numbers(page, "data-trend").items()})
        return shown, {k: (None if v is None else float(v)) for k, v in expected.items()}

    _matching(check)


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    """The conftest's started worker, with a longer session than the harness's 6 s.

    A material's first receipt is 100 days old: bringing it to today plans
    every day between, and on a machine at a load of 16 that kept the
    worker's loop from its heartbeat for longer than 6 s, so that it
    rebalanced again and again and never caught up.
    """
    deployment = Pipeline(tmp_path, session_timeout_s=30.0)
    deployment.start()
    yield deployment
    deployment.close()


def test_dashboard_shows_the_api_numbers_drills_down_to_a_material_and_acts_on_alerts(
    pipeline: Pipeline,
):
    feed(pipeline)
    wait_until(
        lambda: _fed(pipeline),
        timeout=180,
        interval=1.0,
        describe=lambda: api_json(pipeline, "/api/summary")["totals"],
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{pipeline.url}/")
            page.locator("[data-kpi=value_on_hand][data-value]").wait_for()
            _overview_matches_summary(page, pipeline)
            page.screenshot(path=SCREENSHOTS / "dashboard-overview.png")

            page.get_by_role("link", name="Risk map", exact=True).click()
            cell = page.locator("main[data-section=risk] [data-cell][data-severity=critical]").first
            cell.wait_for()
            warehouse = cell.get_attribute("data-warehouse")
            category = cell.get_attribute("data-category")
            page.screenshot(path=SCREENSHOTS / "dashboard-risk-map.png")
            cell.click()

            def listed():
                behind = api_json(
                    pipeline, "/api/materials", warehouse=warehouse, category=category
                )
                shown = page.locator("[data-material-row]").evaluate_all(
                    "rows => rows.map(r => r.dataset.materialRow)"
                )
                return shown, [row["material_id"] for row in behind["items"]]

            _matching(listed)
            material = page.locator("[data-material-row]").first
            material_id = material.get_attribute("data-material-row")
            material.get_by_role("link", name=material_id).click()

            def policy():
                state = api_json(pipeline, f"/api/materials/{material_id}")["state"]
                snapshot = state["warehouses"][warehouse]["policy"]
                names = ("safety_stock", "reorder_point", "order_up_to", "lead_time_days")
                shown = _page_numbers(page, "data-policy", f'[data-warehouse="{warehouse}"]')
                expected = {name: snapshot[name] for name in names}
                return {k: v for k, v in shown.items() if k in names}, expected

            page.locator(f'[data-warehouse="{warehouse}"][data-policy=safety_stock]').wait_for()
            _matching(policy)

            def charts():
                answer = api_json(pipeline, f"/api/materials/{material_id}")
                chart = answer["charts"][warehouse]
                within = f'[data-stock="{warehouse}"] '
                shown = (
                    _page_numbers(page, "data-demand-day", within),
                    _page_numbers(page, "data-stock-day", within),
                    page.locator("[data-closed-alert]").count(),
                )
                return shown, (
                    {d["day"]: d["demand"] for d in chart["history"]},
                    {d["day"]: d["stock"] for d in chart["ahead"]},
                    len(answer["closed_alerts"]),
                )

            _matching(charts)
            page.locator(f'[data-stock="{warehouse}"]').screenshot(
                path=SCREENSHOTS / "dashboard-material.png"
            )

            page.get_by_role("link", name="Alerts", exact=True).click()
            page.locator("#you").fill(PLANNER)
            alert_key = page.locator(
                "main[data-section=alerts] [data-alert-key]"
            ).first.get_attribute("data-alert-key")
            row = page.locator(f'main[data-section=alerts] [data-alert-key="{alert_key}"]')
            row.get_by_role("button", name="Acknowledge").click()

            def alert(key: str) -> dict:
                alerts = api_json(pipeline, "/api/alerts", per_page=500)["items"]
                return next(a for a in alerts if a["key"] == key)

            wait_until(lambda: alert(alert_key)["acknowledged_by"], timeout=TIMEOUT_MS / 1000)
            assert alert(alert_key)["acknowledged_by"] == PLANNER
            row.locator(f'[data-acknowledged-by="{PLANNER}"]').wait_for()

            loud = page.locator(
                "main[data-section=alerts] [data-alert-key]:has(button:text('Silence'))"
            )
            silenced_key = loud.last.get_attribute("data-alert-key")
            row = page.locator(f'main[data-section=alerts] [data-alert-key="{silenced_key}"]')
            row.get_by_role("button", name="Silence").click()
            wait_until(lambda: alert(silenced_key)["silenced"], timeout=TIMEOUT_MS / 1000)
        finally:
            browser.close()
