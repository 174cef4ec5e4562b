"""The backtest as one self-contained HTML page: totals, and per material its stock over time.

A planner reads the table to see who wins and the pictures to see why: per
material, the dynamic policy's end-of-day stock inside its safety-stock band
and under its reorder point, beside the static min/max's stock; below them
a timeline of warnings and stock-outs, and the demand of each week against
what stockloop's forecast expected of it (a bar above the line is demand the
plan had not counted on). Everything is inline (SVG, CSS): the page opens
from a mail attachment, with no network and no script.
"""

import html
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from models.backtest import (
    BacktestResult,
    Frontier,
    FrontierPoint,
    MaterialBacktest,
    Policy,
    notifications_per_material_month,
)
from models.service_metrics import ServiceMetrics

WIDTH, HEIGHT, TIMELINE, DEMAND = 760, 190, 46, 74
WEEK = 7
"""Days per bar of the demand panel: the daily demand of a slow mover is mostly zeros."""
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP = 56, 12, 10
MAX_MATERIALS = 100
"""Materials drawn, the largest average stock value under stockloop first."""
COLOURS = {
    Policy.DYNAMIC: "#1f77b4",
    Policy.MIN_MAX: "#ff7f0e",
    Policy.TUNED: "#2ca02c",
    Policy.RECORDED: "#7f7f7f",
}
_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 20px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
h2 { margin-top: 28px; font-size: 16px; }
.legend span { margin-right: 16px; white-space: nowrap; }
.small { color: #666; font-size: 12px; }
svg { display: block; }
"""

_ROWS: dict[str, Callable[[ServiceMetrics, int], str]] = {
    "fill rate": lambda m, _: f"{m.fill_rate:.1%}",
    "cycle service level": lambda m, _: f"{m.cycle_service_level:.1%}",
    "stock-out days": lambda m, _: f"{m.stockout_days:,}",
    "backordered quantity": lambda m, _: f"{m.backordered:,.0f}",
    "average stock quantity": lambda m, _: f"{m.average_on_hand:,.0f}",
    "average stock value": lambda m, _: f"{m.average_value:,.0f}",
    "turnover per year": lambda m, d: "-" if m.turnover(d) is None else f"{m.turnover(d):.1f}",
    "dead stock value at the end": lambda m, _: f"{m.dead_stock_value:,.0f}",
    "alerts raised": lambda m, _: f"{m.alerts_raised:,}",
    "alerts per material-month": lambda m, _: f"{m.alerts_per_material_month:.2f}",
    "notifications per material-month": lambda m, _: f"{notifications_per_material_month(m):.2f}",
    "stock-outs": lambda m, _: f"{m.stockouts:,}",
    "warned before": lambda m, _: f"{m.warned:,}",
    "warned at least one lead time ahead": lambda m, _: f"{m.warned_in_time:,}",
    "median warning, in lead times": lambda m, _: (
        "-" if m.median_warning_lead is None else f"{m.median_warning_lead:.2f}"
    ),
    "orders or purchase requests": lambda m, _: f"{m.requests:,}",
    "their value": lambda m, _: f"{m.request_value:,.0f}",
    "auto-approved": lambda m, _: f"{m.auto_approved:,}",
}


def render_report(result: BacktestResult, source: str, frontier: Frontier | None = None) -> str:
    """The whole page for ``result`` of a backtest of ``source`` (and its efficient frontier)."""
    mode = (
        "each policy makes its own supply (--act)"
        if result.act
        else "recorded receipts for every policy: the policies differ in their warnings"
    )
    served = [m for m in result.materials if m.policies[Policy.RECORDED].demand > 0]
    drawn = sorted(served, key=lambda m: -m.policies[Policy.DYNAMIC].average_value)
    drawn = drawn[:MAX_MATERIALS]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>stockloop backtest: {_e(source)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Backtest of {_e(source)}</h1>",
        f"<p>{len(result.materials)} materials, window {result.window_start:%Y-%m-%d} to "
        f"{result.end:%Y-%m-%d} ({result.window_days} days); {_e(mode)}.</p>",
        _table(result.totals, result.window_days),
        _frontier(frontier) if frontier is not None else "",
        _legend(),
        f"<p class='small'>{len(drawn)} of {len(served)} materials with demand, the largest "
        "average stock value under stockloop first.</p>",
    ]
    parts += [_material(m, result) for m in drawn]
    parts.append("</body></html>")
    return "\n".join(parts)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _table(metrics: dict[Policy, ServiceMetrics], days: int) -> str:
    head = "".join(f"<th>{_e(p.value)}</th>" for p in Policy)
    rows = "".join(
        f"<tr><td>{_e(label)}</td>" + "".join(f"<td>{show(metrics[p], days)}</td>" for p in Policy)
        for label, show in _ROWS.items()
    )
    return f"<table><tr><th></th>{head}</tr>{rows}</table>"


def _frontier(frontier: Frontier) -> str:
    """Average stock value against fill rate: stockloop's service levels, min/max's multiples."""
    points = frontier.dynamic + frontier.static
    if not points:
        return ""
    width, height, left, bottom, right = 600, 300, 70, 40, 90
    fills = [p.fill_rate for p in points]
    values = [p.average_value for p in points]
    f_low, f_high = min(fills), max(fills)
    f_high = f_high if f_high > f_low else f_low + 0.01
    v_high = max(values) or 1.0

    def x(fill: float) -> float:
        return left + (width - left - right) * (fill - f_low) / (f_high - f_low)

    def y(value: float) -> float:
        return 12 + (height - bottom - 12) * (1 - value / v_high)

    shapes = [
        f"<line x1='{left}' y1='{height - bottom}' x2='{width - right}' y2='{height - bottom}' "
        "stroke='#999'/>",
        f"<line x1='{left}' y1='12' x2='{left}' y2='{height - bottom}' stroke='#999'/>",
        f"<text x='{(left + width) / 2:.0f}' y='{height - 8}' text-anchor='middle' "
        "font-size='12'>fill rate</text>",
        f"<text x='14' y='{(height - bottom) / 2:.0f}' font-size='12' "
        f"transform='rotate(-90 14 {(height - bottom) / 2:.0f})' text-anchor='middle'>"
        "average stock value</text>",
        f"<text x='{left}' y='{height - bottom + 14}' font-size='10'>{f_low:.1%}</text>",
        f"<text x='{width - right}' y='{height - bottom + 14}' font-size='10' text-anchor='end'>"
        f"{f_high:.1%}</text>",
        f"<text x='{left - 4}' y='16' font-size='10' text-anchor='end'>{v_high:,.0f}</text>",
        f"<text x='{left - 4}' y='{height - bottom}' font-size='10' text-anchor='end'>0</text>",
    ]
    series: tuple[tuple[Policy, list[FrontierPoint], str], ...] = (
        (Policy.DYNAMIC, frontier.dynamic, "service level {:g}"),
        (Policy.MIN_MAX, frontier.static, "{:g} x min"),
    )
    for policy, curve, label in series:
        ordered = sorted(curve, key=lambda p: p.fill_rate)
        colour = COLOURS[policy]
        line = " ".join(f"{x(p.fill_rate):.1f},{y(p.average_value):.1f}" for p in ordered)
        shapes.append(f"<polyline points='{line}' fill='none' stroke='{colour}'/>")
        for point in ordered:
            px, py = x(point.fill_rate), y(point.average_value)
            shapes.append(f"<circle cx='{px:.1f}' cy='{py:.1f}' r='3.5' fill='{colour}'/>")
            shapes.append(
                f"<text x='{px + 5:.1f}' y='{py - 5:.1f}' font-size='9' fill='{colour}'>"
                f"{_e(label.format(point.setting))}</text>"
            )
    rows = "".join(
        f"<tr><td>service level {p.setting:g}</td><td>{p.fill_rate:.2%}</td>"
        f"<td>{p.average_value:,.0f}</td><td>{'-' if saved is None else f'{saved:.0%}'}</td></tr>"
        for p, saved in frontier.savings()
    )
    return (
        "<h2>Efficient frontier</h2><p class='small'>Every run with --act; stockloop at several "
        "service levels (blue), min/max with its minimum scaled (orange). Lower and further "
        "right is better.</p>"
        f"<svg width='{width}' height='{height}' viewBox='0 0 {width} {height}'>"
        f"{''.join(shapes)}</svg>"
        "<table><tr><th>stockloop</th><th>fill rate</th><th>average stock value</th>"
        f"<th>stock saved vs min/max at that fill rate</th></tr>{rows}</table>"
    )


def _legend() -> str:
    return (
        "<p class='legend'>"
        f"<span style='color:{COLOURS[Policy.DYNAMIC]}'>&#9644; stockloop stock</span>"
        f"<span style='color:{COLOURS[Policy.MIN_MAX]}'>&#9476; min/max stock</span>"
        "<span style='color:#9bd39b'>&#9632; safety stock</span>"
        "<span style='color:#444'>&#8943; reorder point</span>"
        f"<span style='color:{COLOURS[Policy.DYNAMIC]}'>&#9650; stockloop warning</span>"
        f"<span style='color:{COLOURS[Policy.MIN_MAX]}'>&#9650; min/max warning</span>"
        "<span style='color:#d62728'>&#10005; stock-out</span>"
        "<span style='color:#999'>&#9646; demand per week</span>"
        f"<span style='color:{COLOURS[Policy.DYNAMIC]}'>&#9472; stockloop's forecast of it</span>"
        "</p>"
    )


def _material(material: MaterialBacktest, result: BacktestResult) -> str:
    dynamic = material.policies[Policy.DYNAMIC]
    static = material.policies[Policy.MIN_MAX]
    summary = (
        f"fill rate {dynamic.fill_rate:.1%} vs min/max {static.fill_rate:.1%}; average stock "
        f"{dynamic.average_on_hand:,.0f} vs {static.average_on_hand:,.0f}; lead time "
        f"{material.lead_time_days:.1f} days"
    )
    return f"<h2>{_e(material.material_id)}</h2><p class='small'>{_e(summary)}</p>" + _chart(
        material, result
    )


def _chart(material: MaterialBacktest, result: BacktestResult) -> str:
    days = result.window_days
    lines = {p: material.daily_on_hand[p] for p in (Policy.DYNAMIC, Policy.MIN_MAX)}
    values = [v for series in lines.values() for v in series]
    values += material.reorder_point + material.safety_stock + [0.0]
    low, high = min(values), max(values)
    high = high if high > low else low + 1
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT

    def x(day: float) -> float:
        return MARGIN_LEFT + plot_w * day / max(days - 1, 1)

    def y(quantity: float) -> float:
        return MARGIN_TOP + (HEIGHT - 2 * MARGIN_TOP) * (high - quantity) / (high - low)

    def path(series: Sequence[float]) -> str:
        return " ".join(f"{x(n):.1f},{y(v):.1f}" for n, v in enumerate(series))

    shapes = []
    if material.safety_stock:
        band = path(material.safety_stock)
        base = f"{x(len(material.safety_stock) - 1):.1f},{y(0):.1f} {x(0):.1f},{y(0):.1f}"
        shapes.append(f"<polygon points='{band} {base}' fill='#9bd39b' fill-opacity='0.5'/>")
        shapes.append(
            f"<polyline points='{path(material.reorder_point)}' fill='none' stroke='#444' "
            "stroke-dasharray='2 3'/>"
        )
    shapes.append(
        f"<line x1='{MARGIN_LEFT}' x2='{WIDTH - MARGIN_RIGHT}' y1='{y(0):.1f}' y2='{y(0):.1f}' "
        "stroke='#bbb'/>"
    )
    shapes.append(
        f"<polyline points='{path(lines[Policy.MIN_MAX])}' fill='none' "
        f"stroke='{COLOURS[Policy.MIN_MAX]}' stroke-dasharray='5 3'/>"
    )
    shapes.append(
        f"<polyline points='{path(lines[Policy.DYNAMIC])}' fill='none' "
        f"stroke='{COLOURS[Policy.DYNAMIC]}' stroke-width='1.5'/>"
    )
    shapes += [
        f"<text x='{MARGIN_LEFT - 6}' y='{y(v) + 4:.1f}' text-anchor='end' font-size='11'>"
        f"{v:,.0f}</text>"
        for v in (low, high)
    ]
    shapes += _timeline(material, result, x)
    shapes += _demand(material, x)
    total = HEIGHT + TIMELINE + DEMAND
    frame = f"width='{WIDTH}' height='{total}' viewBox='0 0 {WIDTH} {total}'"
    return f"<svg {frame}>{''.join(shapes)}</svg>"


def _timeline(
    material: MaterialBacktest, result: BacktestResult, x: Callable[[float], float]
) -> list[str]:
    """Warnings (triangles) and stock-outs (crosses), one row per policy, dates at the ends."""
    start = result.window_start

    def day(moment: datetime) -> float:
        return (moment - start) / timedelta(days=1)

    shapes = []
    for row, policy in enumerate((Policy.DYNAMIC, Policy.MIN_MAX)):
        top = HEIGHT + 6 + row * 16
        colour = COLOURS[policy]
        shapes.append(
            f"<text x='{MARGIN_LEFT - 6}' y='{top + 9}' text-anchor='end' font-size='10'>"
            f"{_e(policy.value)}</text>"
        )
        for moment in material.warnings[policy]:
            if 0 <= day(moment) <= result.window_days:
                cx = x(day(moment))
                shapes.append(
                    f"<polygon points='{cx - 4:.1f},{top + 10} {cx + 4:.1f},{top + 10} "
                    f"{cx:.1f},{top + 2}' fill='{colour}'/>"
                )
        for moment in material.stockouts[policy]:
            cx = x(day(moment))
            shapes.append(
                f"<text x='{cx:.1f}' y='{top + 10}' text-anchor='middle' font-size='11' "
                "fill='#d62728'>&#10005;</text>"
            )
    bottom = HEIGHT + TIMELINE - 4
    shapes.append(f"<text x='{MARGIN_LEFT}' y='{bottom}' font-size='10'>{start:%Y-%m-%d}</text>")
    shapes.append(
        f"<text x='{WIDTH - MARGIN_RIGHT}' y='{bottom}' text-anchor='end' font-size='10'>"
        f"{result.end:%Y-%m-%d}</text>"
    )
    return shapes


def _demand(material: MaterialBacktest, x: Callable[[float], float]) -> list[str]:
    """Demand per week (bars) against the forecast stockloop planned that week with (line).

    A week's forecast is the sum of its days' forecast daily demand as the
    plan stood at the end of each day: what the plan expected the week to
    take, so a bar above the line is demand the plan had not counted on.
    """
    actual = _weekly(material.demand)
    expected = _weekly(material.forecast)
    if not actual:
        return []
    top, height = HEIGHT + TIMELINE + 8, DEMAND - 20
    high = max(actual + expected) or 1.0

    def y(quantity: float) -> float:
        return top + height * (1 - quantity / high)

    shapes = [
        f"<text x='{MARGIN_LEFT - 6}' y='{top + 9}' text-anchor='end' font-size='10'>"
        f"{high:,.0f}</text>",
        f"<text x='{MARGIN_LEFT - 6}' y='{top + height}' text-anchor='end' font-size='10'>"
        "0 a week</text>",
    ]
    for week, quantity in enumerate(actual):
        left, right = x(week * WEEK), x((week + 1) * WEEK - 1)
        shapes.append(
            f"<rect x='{left:.1f}' y='{y(quantity):.1f}' width='{max(right - left, 1.0):.1f}' "
            f"height='{top + height - y(quantity):.1f}' fill='#ccc'/>"
        )
    points = " ".join(
        f"{x(week * WEEK + (WEEK - 1) / 2):.1f},{y(quantity):.1f}"
        for week, quantity in enumerate(expected)
    )
    shapes.append(
        f"<polyline points='{points}' fill='none' stroke='{COLOURS[Policy.DYNAMIC]}' "
        "stroke-width='1.5'/>"
    )
    return shapes


def _weekly(daily: Sequence[float]) -> list[float]:
    """Sums of the whole weeks from the first day (a part week at the end would look like a
    drop in demand).

    >>> _weekly([1, 2, 3, 4, 5, 6, 7, 8, 9])
    [28]
    """
    return [sum(daily[start : start + WEEK]) for start in range(0, len(daily) - WEEK + 1, WEEK)]
