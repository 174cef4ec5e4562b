"""``stockloop alerts open``: ranked by money, each alert with what its value at risk is made of.

The rows are the API's (``models.health.AlertRow``, from the material's state);
each must say what the alert's last transition on the alerts topic said.
"""

import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from rich.console import Console
from typer.testing import CliRunner

from models.alerting import Alert, evaluate_alerts
from models.events import MaterialEvent, SalesOrderLine, StockMovement
from models.health import AlertRow, health_of
from models.rules.spec import builtin_rules
from models.state import MaterialState
from streams.cli.alerts import PER_PAGE, by_value_at_risk, listing, made_of
from streams.cli.alerts import app as alerts_app

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
RULES = builtin_rules()


def receipt(material_id: str, quantity: float, unit_cost: float, at: datetime) -> MaterialEvent:
    return MaterialEvent(
        event=StockMovement(
            event_id=f"{material_id}-r",
            event_time=at,
            material_id=material_id,
            movement_type="receipt",
            warehouse_id="W1",
            quantity=quantity,
            unit_cost=unit_cost,
        )
    )


def rows_of(state: MaterialState, published: list[Alert]) -> list[tuple[AlertRow, Alert]]:
    """Each published alert beside its row as the API lists it from the state."""
    rows = {row.key: row for row in health_of(state).alerts}
    return [(rows[alert.key], alert) for alert in published]


def short_fabric(now: datetime) -> list[tuple[AlertRow, Alert]]:
    """A key customer's 60 m of fabric due in 5 days, with 20 m on hand and a penalty."""
    state = MaterialState(material_id="FAB-7")
    state.apply(receipt("FAB-7", 20, 10.0, now - timedelta(days=1)))
    order = SalesOrderLine(
        event_id="so",
        event_time=now,
        material_id="FAB-7",
        order_id="SO1",
        line_id="1",
        warehouse_id="W1",
        quantity=60,
        due_date=now.date() + timedelta(days=5),
        status="confirmed",
        unit_price=19.0,
        customer_priority=1,
        penalty_per_unit_short=5.0,
    )
    state.apply(MaterialEvent(event=order))
    published = evaluate_alerts(state, RULES, now)
    return rows_of(state, [a for a in published if a.rule_id == "supply_demand_gap"])


def dead_spare(now: datetime) -> list[tuple[AlertRow, Alert]]:
    """100 spare parts at 250 received 181 days before ``now`` and never issued."""
    state = MaterialState(material_id="SPARE-1")
    state.apply(receipt("SPARE-1", 100, 250.0, now - timedelta(days=181)))
    state.replan(now)
    published = evaluate_alerts(state, RULES, now)
    return rows_of(state, [a for a in published if a.rule_id == "dead_stock"])


def render(alerts: list[AlertRow], width: int = 250) -> str:
    console = Console(width=width, record=True)  # as wide as the integration tests run it
    console.print(listing(alerts, limit=30, all_=False))
    return console.export_text()


def test_a_row_says_what_the_alerts_last_transition_published():
    for row, alert in [*short_fabric(T0), *dead_spare(T0)]:
        assert row.why == alert.explanation.text != ""
        assert row.made_of == alert.priority.made_of.model_dump(exclude_defaults=True)
        assert row.value_at_risk == alert.priority.value_at_risk
        assert row.updated_at == alert.at


def test_open_alerts_rank_by_money_across_shortage_and_dead_stock():
    ((gap, published_gap),) = short_fabric(T0)
    ((dead, _),) = dead_spare(T0)
    assert published_gap.priority.value_at_risk == 40 * 19.0 * 3.0 + 40 * 5.0
    assert dead.value_at_risk > gap.value_at_risk
    assert by_value_at_risk([gap, dead]) == [dead, gap]


def test_the_listing_says_what_each_value_at_risk_is_made_of():
    text = render([row for row, _ in [*short_fabric(T0), *dead_spare(T0)]])
    dead_row = next(line for line in text.splitlines() if "SPARE-1" in line)
    assert "15,599.32" in dead_row
    assert "holding 3,099 + write-off 12,500 of 25,000 tied up" in dead_row
    gap_row = next(line for line in text.splitlines() if "FAB-7" in line)
    assert "2,480.00" in gap_row and "orders 2,280 + penalties 200" in gap_row
    assert text.index("SPARE-1") < text.index("FAB-7")


def test_an_alert_last_published_before_the_parts_were_kept_shows_no_made_of():
    ((gap, _),) = short_fabric(T0)
    old = gap.model_copy(update={"made_of": {}, "why": ""})
    assert made_of(old) == ""
    assert made_of(gap) == "orders 2,280 + penalties 200"
    assert "FAB-7" in render([old])


class Pages(BaseHTTPRequestHandler):
    """A stand-in worker answering GET /api/alerts from ``self.server.rows`` page by page."""

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        page, per_page = int(query["page"][0]), int(query["per_page"][0])
        rows = self.server.rows  # type: ignore[attr-defined]
        self.server.asked.append(page)  # type: ignore[attr-defined]
        body = {
            "page": page,
            "per_page": per_page,
            "total": len(rows),
            "pages": max(-(-len(rows) // per_page), 1),
            "items": rows[(page - 1) * per_page : page * per_page],
        }
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


def serve(rows: list[dict]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    server.rows, server.asked = rows, []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_alerts_open_reads_every_page_of_the_api_and_hides_the_suppressed(monkeypatch):
    ((gap, _),) = short_fabric(T0)
    ((dead, _),) = dead_spare(T0)
    rows = [
        gap.model_copy(update={"key": f"FAB-{n}|W1|supply_demand_gap", "value_at_risk": n})
        for n in range(1, 1 + PER_PAGE + 3)
    ]
    rows.append(dead.model_copy(update={"silenced": True}))
    server = serve([row.model_dump(mode="json") for row in rows])
    try:
        monkeypatch.setenv("STOCKLOOP_WEB_PORT", str(server.server_address[1]))
        monkeypatch.setenv("COLUMNS", "250")
        result = CliRunner().invoke(alerts_app, ["open", "--limit", "2"])
        everything = CliRunner().invoke(alerts_app, ["open", "--all", "--limit", "1"])
    finally:
        server.shutdown()
    assert result.exit_code == 0, result.output
    assert server.asked == [1, 2, 1, 2]
    assert f"{PER_PAGE + 3} open alerts" in result.output
    shown = [line for line in result.output.splitlines() if "supply_demand_gap" in line]
    assert [line.split("│")[2].strip() for line in shown] == [
        f"FAB-{PER_PAGE + 3}|W1|supply_demand_gap",
        f"FAB-{PER_PAGE + 2}|W1|supply_demand_gap",
    ]
    assert "1 silenced or inhibited alert(s) not shown (--all)" in result.output
    row = next(line for line in everything.output.splitlines() if "SPARE-1" in line)
    assert "silenced" in row and "15,599.32" in row


def test_alerts_open_without_a_worker_fails_in_one_line_naming_its_address(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("STOCKLOOP_WEB_PORT", str(port))
    result = CliRunner().invoke(alerts_app, ["open"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: no worker answers at http://127.0.0.1:{port}/api/alerts")
