"""Rendering notifications: one-line summaries of records, and messages from Jinja2 templates.

The router turns every record it routes (an alert, a purchase request, a
transfer, a dead-stock review, a shortage result) into a ``NotificationItem``
with ``item_of``: a one-line summary in the recipient's language, a link to
the material, and the labels routes match on. ``render`` then writes the
message a person reads from the templates in ``models/templates``: a title, a
plain body, an HTML body (autoescaped: summaries carry ERP text) and one SMS
of at most ``SMS_LIMIT`` characters. English (``en``) and Simplified Chinese
(``zh-CN``) are shipped; a template per format and language keeps the prose
out of the code, so a translator edits text, not Python.

Examples
--------
>>> from datetime import UTC, datetime
>>> from models.notifications import NotificationItem, Urgency
>>> item = NotificationItem(kind="alert", id="a1-0", subject_id="a1", severity="critical",
...     at=datetime(2026, 3, 1, tzinfo=UTC), material_id="M1", warehouse_id="W1",
...     summary="stock-out risk M1 @ W1: stock-out in 4 d, lead time 21 d")
>>> message = render(Urgency.IMMEDIATE, [item], "en", recipient_name="Li Wei")
>>> message.title
'[Critical] stock-out risk M1 @ W1: stock-out in 4 d, lead time 21 d'
>>> message.short
'[Critical] stock-out risk M1 @ W1: stock-out in 4 d, lead time 21 d'
>>> render(Urgency.IMMEDIATE, [item], "zh-CN", recipient_name="李伟").title
'[严重] stock-out risk M1 @ W1: stock-out in 4 d, lead time 21 d'
"""

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from itertools import groupby
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

import jinja2

from models.alerting import Alert
from models.alerts import TIER_RANK, AlertTransition, TransitionStatus
from models.bom import ShortageResult, describe_shortage
from models.notifications import NotificationItem, Urgency
from models.purchasing import PurchaseRequest, RequestStatus
from models.reviews import Review, ReviewStatus
from models.transfers import Transfer, TransferStatus

LANGUAGES = ("en", "zh-CN")
"""Languages with shipped templates; a person's ``language`` is one of them."""

SMS_LIMIT = 70
"""Characters in one SMS: 70 is the UCS-2 limit, which Chinese text always needs."""

TEXT_LIMIT = 256
"""Length of a title or summary (``Text`` in the schemas)."""

Record = AlertTransition | Alert | PurchaseRequest | Transfer | Review | ShortageResult
"""Everything the router notifies about."""


class Rendered(NamedTuple):
    """A message in one language: title, plain body, HTML body and one SMS."""

    title: str
    body: str
    html: str
    short: str


_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    # Only the HTML templates escape: escaping a plain body or an SMS would show "&amp;".
    autoescape=lambda name: name is not None and name.startswith("html."),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
    # The templates ship with the code: no stat of each file at every message.
    auto_reload=False,
)

_SEVERITY_NAMES = {
    "en": {"critical": "Critical", "warning": "Warning", "info": "Info"},
    "zh-CN": {"critical": "严重", "warning": "警告", "info": "提示"},
}

ACTION_LABELS = {
    "en": {"acknowledge": "Acknowledge", "approve": "Approve"},
    "zh-CN": {"acknowledge": "确认", "approve": "批准"},
}
"""The one-click actions' button labels, by language."""

_RULE_NAMES = {
    "en": {
        "stockout_risk": "stock-out risk",
        "below_safety_stock": "below safety stock",
        "supply_demand_gap": "supply-demand gap",
        "dead_stock": "dead stock",
        "aged_batch": "aged batch",
        "overstock": "overstock",
        "demand_shift": "demand shift",
    },
    "zh-CN": {
        "stockout_risk": "缺货风险",
        "below_safety_stock": "低于安全库存",
        "supply_demand_gap": "供需缺口",
        "dead_stock": "呆滞库存",
        "aged_batch": "批次超龄",
        "overstock": "库存积压",
        "demand_shift": "需求突变",
    },
}

# The numbers a person reads first, in this order; others follow under their own name.
_VALUE_PHRASES = {
    "en": {
        "projected_stockout_days": "stock-out in {} d",
        "lead_time_days": "lead time {} d",
        "value_at_risk": "{} at risk",
        "days_of_cover": "cover {} d",
        "available": "available {}",
        "safety_stock": "safety stock {}",
        "committed_next_7d": "orders due in 7 d {}",
        "in_transit_next_7d": "arriving in 7 d {}",
        "on_hand": "on hand {}",
        "days_since_last_issue": "no issue for {} d",
        "batch_age_days": "batch age {} d",
        "batch_value": "batch value {}",
        "order_up_to": "order-up-to {}",
        "reorder_point": "reorder point {}",
    },
    "zh-CN": {
        "projected_stockout_days": "{} 天后断货",
        "lead_time_days": "采购周期 {} 天",
        "value_at_risk": "风险金额 {}",
        "days_of_cover": "可用 {} 天",
        "available": "可用库存 {}",
        "safety_stock": "安全库存 {}",
        "committed_next_7d": "7 天内订单 {}",
        "in_transit_next_7d": "7 天内到货 {}",
        "on_hand": "在库 {}",
        "days_since_last_issue": "{} 天未出库",
        "batch_age_days": "批次库龄 {} 天",
        "batch_value": "批次金额 {}",
        "order_up_to": "最高库存 {}",
        "reorder_point": "再订货点 {}",
    },
}
_MAX_VALUES = 4

_REQUEST_STATUS = {
    "en": {"pending_approval": "pending approval"},
    "zh-CN": {
        "proposed": "已提议",
        "pending_approval": "待审批",
        "approved": "已批准",
        "rejected": "已驳回",
        "ordered": "已下单",
        "cancelled": "已取消",
        "expired": "已过期",
    },
}
_TRANSFER_STATUS = {
    "en": {},
    "zh-CN": {
        "proposed": "建议",
        "approved": "已批准",
        "shipped": "已发货",
        "received": "已收货",
        "cancelled": "已取消",
        "rejected": "已驳回",
    },
}
_REVIEW_STATUS = {
    "en": {"escalated": "overdue"},
    "zh-CN": {"open": "进行中", "escalated": "已逾期", "decided": "已决策"},
}

_CLOSED_REQUESTS = frozenset(
    {RequestStatus.REJECTED, RequestStatus.ORDERED, RequestStatus.CANCELLED, RequestStatus.EXPIRED}
)
_CLOSED_TRANSFERS = frozenset(
    {TransferStatus.RECEIVED, TransferStatus.CANCELLED, TransferStatus.REJECTED}
)


def _check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r}: not shipped, use one of {', '.join(LANGUAGES)}")
    return language


def number(value: float) -> str:
    """A quantity as a person reads it: whole numbers without decimals, others to one decimal.

    >>> number(21.0), number(4.25), number(1234567.0), number(-0.04)
    ('21', '4.2', '1234567', '0')
    """
    rounded = round(value, 1) + 0.0
    return f"{rounded:.0f}" if rounded.is_integer() else f"{rounded:.1f}"


def cut(text: str, limit: int) -> str:
    """``text`` on one line in at most ``limit`` characters, ending in "…" when cut.

    Cut at a space near the end when there is one (English words stay whole),
    never between a character and its combining marks.

    >>> cut("stock-out risk M1 @ W1: stock-out in 4 d", 20)
    'stock-out risk M1 @…'
    >>> cut("缺货风险 M1 @ W1:4 天后断货,采购周期 21 天", 12)
    '缺货风险 M1 @…'
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    end = limit - 1
    space = text.rfind(" ", max(0, end - 12), end + 1)
    if space > 0:
        end = space
    while end > 0 and unicodedata.combining(text[end]):
        end -= 1
    return text[:end].rstrip() + "…"


def _link(link_base: str | None, material_id: str) -> str | None:
    if link_base is None:
        return None
    return f"{link_base.rstrip('/')}/materials/{quote(material_id, safe='')}"


def _values_phrase(values: Mapping[str, float | None], language: str) -> str:
    phrases = _VALUE_PHRASES[language]
    known = [name for name in phrases if values.get(name) is not None]
    others = sorted(name for name, v in values.items() if v is not None and name not in phrases)
    parts = [
        phrases[name].format(number(values[name])) if name in phrases else f"{name} {number(v)}"
        for name in [*known, *others][:_MAX_VALUES]
        if (v := values[name]) is not None
    ]
    return ("，" if language == "zh-CN" else ", ").join(parts)


def _alert_summary(
    rule_id: str,
    material_id: str,
    warehouse_id: str,
    values: Mapping[str, float | None],
    resolved: bool,
    language: str,
) -> str:
    rule = _RULE_NAMES[language].get(rule_id, rule_id)
    numbers = _values_phrase(values, language)
    if language == "zh-CN":
        head = f"{'已解除：' if resolved else ''}{rule} {material_id} @ {warehouse_id}"
        return f"{head}：{numbers}" if numbers else head
    head = f"{'Resolved: ' if resolved else ''}{rule} {material_id} @ {warehouse_id}"
    return f"{head}: {numbers}" if numbers else head


def _day(moment: date | None) -> str:
    return moment.isoformat() if moment is not None else ""


def _request_summary(request: PurchaseRequest, language: str) -> str:
    status = _REQUEST_STATUS[language].get(request.status, str(request.status))
    qty = f"{number(request.quantity)} {request.unit}"
    money = f"{number(request.amount)} {request.currency}"
    open_ = request.status not in _CLOSED_REQUESTS
    if language == "zh-CN":
        text = f"采购申请 {request.request_id} {status}：{request.material_id} {qty} 至 "
        text += f"{request.warehouse_id}，金额 {money}"
        if open_ and request.latest_order_date is not None:
            text += f"，最晚下单 {_day(request.latest_order_date)}"
        if request.status is RequestStatus.PENDING_APPROVAL and request.approver:
            text += f"，审批人 {request.approver}"
        return text
    text = f"Purchase request {request.request_id} {status}: {qty} of {request.material_id} "
    text += f"for {request.warehouse_id}, {money}"
    if open_ and request.latest_order_date is not None:
        text += f", order by {_day(request.latest_order_date)}"
    if request.status is RequestStatus.PENDING_APPROVAL and request.approver:
        text += f", approver {request.approver}"
    return text


def _transfer_summary(transfer: Transfer, language: str) -> str:
    status = _TRANSFER_STATUS[language].get(transfer.status, str(transfer.status))
    qty = f"{number(transfer.quantity)} {transfer.unit}"
    days = number(transfer.lead_time_days)
    if language == "zh-CN":
        return (
            f"调拨 {transfer.transfer_id} {status}：{transfer.material_id} {qty} 从 "
            f"{transfer.from_warehouse} 到 {transfer.to_warehouse}，{days} 天"
        )
    return (
        f"Transfer {transfer.transfer_id} {status}: {qty} of {transfer.material_id} from "
        f"{transfer.from_warehouse} to {transfer.to_warehouse}, {days} d"
    )


def _review_summary(review: Review, language: str) -> str:
    status = _REVIEW_STATUS[language].get(review.status, str(review.status))
    qty, value = number(review.total_quantity), number(review.total_value)
    if language == "zh-CN":
        text = f"呆滞料评审 {review.review_id} {status}："
        text += f"{review.material_id} @ {review.warehouse_id}，数量 {qty}，金额 {value}"
        text += f"，负责人 {review.owner}"
        if review.decision is not None:
            return f"{text}，决定 {review.decision}"
        return f"{text}，{_day(review.due.date())} 前决策"
    text = f"Dead-stock review {review.review_id} {status}: {review.material_id} @ "
    text += f"{review.warehouse_id}, {qty} worth {value}, owner {review.owner}"
    if review.decision is not None:
        return f"{text}, decision {review.decision}"
    return f"{text}, decide by {_day(review.due.date())}"


def _shortage_summary(result: ShortageResult, language: str) -> str:
    if language == "en":
        return describe_shortage(result)
    head = f"缺料分析 {result.order_id}：{result.warehouse_id} {result.material_id} "
    head += f"{number(result.quantity)} 需于 {_day(result.need_date)}"
    parts = [c for c in result.components if c.missing > 0]
    if not parts:
        return f"{head}：全部齐套"
    named = "，".join(f"{c.component_id} 缺 {number(c.missing)}" for c in parts[:5])
    more = f" 等 {len(parts)} 种" if len(parts) > 5 else ""
    start = result.earliest_feasible_start
    return (
        f"{head}：{len(parts)} 种零件短缺（{named}{more}），齐套率 "
        f"{result.kit_completeness:.0%}，最早开工 {_day(start) if start else '未知'}"
    )


def summary_of(record: Record, language: str = "en") -> str:
    """One line about ``record`` in ``language``: what it is, where, and its key numbers.

    >>> from models.bom import ComponentShortage
    >>> result = ShortageResult(id="s1", order_id="MO-1", order_event_id="e1",
    ...     analysed_at="2026-03-01T08:00:00Z", material_id="FAN", warehouse_id="SH01",
    ...     quantity=50, need_date="2026-03-10", rush=False, components=(ComponentShortage(
    ...         component_id="PCB", level=1, assembly=False, required=50, available=10,
    ...         arriving_in_time=0, to_build=0, missing=40, covered_by=None),),
    ...     missing_components=("PCB",), kit_completeness=0.0, quantity_completeness=0.2,
    ...     earliest_feasible_start=None, orders_ahead=())
    >>> summary_of(result)
    'MO-1: 50 FAN in SH01 by 2026-03-10: 1 of 1 parts short (PCB 40); kit 0%, earliest start \
unknown (some part has no supply coming)'
    >>> for part in summary_of(result, "zh-CN").split("，"):
    ...     print(part)
    缺料分析 MO-1：SH01 FAN 50 需于 2026-03-10：1 种零件短缺（PCB 缺 40）
    齐套率 0%
    最早开工 未知
    """
    _check_language(language)
    if isinstance(record, AlertTransition):
        resolved = record.status is TransitionStatus.RESOLVED
        text = _alert_summary(
            record.rule_id,
            record.material_id,
            record.warehouse_id,
            record.values,
            resolved,
            language,
        )
    elif isinstance(record, Alert):
        resolved = record.status is TransitionStatus.RESOLVED
        text = _alert_summary(
            record.rule_id,
            record.material_id,
            record.warehouse_id,
            record.explanation.values,
            resolved,
            language,
        )
    elif isinstance(record, PurchaseRequest):
        text = _request_summary(record, language)
    elif isinstance(record, Transfer):
        text = _transfer_summary(record, language)
    elif isinstance(record, Review):
        text = _review_summary(record, language)
    elif isinstance(record, ShortageResult):
        text = _shortage_summary(record, language)
    else:
        raise TypeError(f"summary_of: {type(record).__name__} is not a record the router notifies")
    return cut(text, TEXT_LIMIT)


def _labels(**labels: object) -> dict[str, str]:
    return {name: str(value) for name, value in labels.items() if value is not None}


def item_of(
    record: Record, language: str, link_base: str | None
) -> tuple[NotificationItem, dict[str, str]]:
    """The notification item for ``record`` in ``language``, and the labels routes match on.

    Labels: ``event`` (alert, purchase_request, transfer, review, shortage),
    ``severity``, ``status``, ``material_id``, ``warehouse_id`` and what the
    record has besides (an alert's rule labels, ``rule_id``, ``category``,
    ``abc_class``, ``owner``; a request's ``supplier_id`` and ``approver``).
    Severity of a response: ``warning`` when it waits for a person (a request
    pending approval, a proposed transfer, an overdue review, a shortage),
    ``critical`` for a rush order's shortage, else ``info``. ``link_base`` is
    the web address that serves ``/materials/{id}`` (None: no link).
    """
    summary = summary_of(record, language)
    if isinstance(record, AlertTransition | Alert):
        severity = record.severity or "info"
        closes = record.status is TransitionStatus.RESOLVED
        item = NotificationItem(
            kind="alert",
            id=record.id,
            subject_id=record.alert_id,
            at=record.at,
            severity=severity,
            material_id=record.material_id,
            warehouse_id=record.warehouse_id,
            rule_id=record.rule_id,
            summary=summary,
            link=_link(link_base, record.material_id),
            closes=closes,
            value_at_risk=record.priority.value_at_risk if isinstance(record, Alert) else None,
        )
        labels = {**record.labels}
        labels |= _labels(
            event="alert",
            rule_id=record.rule_id,
            severity=severity,
            status=record.status,
            material_id=record.material_id,
            warehouse_id=record.warehouse_id,
        )
        return item, labels
    if isinstance(record, PurchaseRequest):
        severity = "warning" if record.status is RequestStatus.PENDING_APPROVAL else "info"
        kind, subject, material, warehouse = (
            "purchase_request",
            record.request_id,
            record.material_id,
            record.warehouse_id,
        )
        closes = record.status in _CLOSED_REQUESTS
        extra = _labels(supplier_id=record.supplier_id, approver=record.approver)
        at = record.at
    elif isinstance(record, Transfer):
        severity = "warning" if record.status is TransferStatus.PROPOSED else "info"
        kind, subject, material, warehouse = (
            "transfer",
            record.transfer_id,
            record.material_id,
            record.to_warehouse,
        )
        closes = record.status in _CLOSED_TRANSFERS
        extra = _labels(from_warehouse_id=record.from_warehouse, approver=record.approver)
        at = record.at
    elif isinstance(record, Review):
        severity = "warning" if record.status is ReviewStatus.ESCALATED else "info"
        kind, subject, material, warehouse = (
            "review",
            record.review_id,
            record.material_id,
            record.warehouse_id,
        )
        closes = record.status is ReviewStatus.DECIDED
        # The roles whose opinion is still missing: a review asks each of them.
        waiting = [task.role for task in record.tasks if task.opinion is None]
        extra = _labels(owner=record.owner, roles=",".join(waiting) or None)
        at = record.at
    else:
        short = bool(record.missing_components)
        severity = ("critical" if record.rush else "warning") if short else "info"
        kind, subject, material, warehouse = (
            "shortage",
            record.order_id,
            record.material_id,
            record.warehouse_id,
        )
        closes = not short
        extra = _labels(order_id=record.order_id)
        at = record.analysed_at
    status = getattr(record, "status", "short" if not closes else "covered")
    item = NotificationItem(
        kind=kind,
        id=record.id,
        subject_id=subject,
        at=at,
        severity=severity,
        material_id=material,
        warehouse_id=warehouse,
        summary=summary,
        link=_link(link_base, material),
        closes=closes,
    )
    labels = extra | _labels(
        event=kind, severity=severity, status=status, material_id=material, warehouse_id=warehouse
    )
    return item, labels


def severity_rank(severity: str) -> int:
    """Rank of a severity, higher is more severe; an unknown one ranks with ``info``.

    >>> sorted(["info", "critical", "warning"], key=severity_rank, reverse=True)
    ['critical', 'warning', 'info']
    """
    return TIER_RANK.get(severity, 0)


LISTED_ITEMS = 100
"""The items one message lists, the most severe and costly first (``ordered``). A buyer's
digest can hold thousands: listed whole it was past Kafka's 1 MB record limit (the notifier
crashed on one of 1.5 MB), and nobody reads past the first hundred."""


def ordered(items: Iterable[NotificationItem]) -> list[NotificationItem]:
    """Items most severe first, then the most money at risk, then by event time and id: the
    same whatever order they came."""
    return sorted(
        items,
        key=lambda i: (-severity_rank(i.severity), i.severity, -(i.value_at_risk or 0), i.at, i.id),
    )


def render(
    urgency: Urgency,
    items: Sequence[NotificationItem],
    language: str,
    *,
    recipient_name: str,
    escalated_from: str | None = None,
) -> Rendered:
    """The message about ``items`` for one person, in ``language``.

    Each item shows its summary, its link and its one-click actions. Items
    are listed in sections by severity, most severe first (a digest's order);
    ``escalated_from`` names the person who did not acknowledge, for an
    escalation. The title is cut to ``TEXT_LIMIT`` characters and the SMS to
    ``SMS_LIMIT``. Only the first ``LISTED_ITEMS`` are listed, the counts
    and a closing line telling how many more there are.
    """
    _check_language(language)
    if not items:
        raise ValueError("render: a message needs at least one item")
    listed = ordered(items)
    names = _SEVERITY_NAMES[language]

    def severity_name(severity: str) -> str:
        return names.get(severity, severity)

    sections = []
    room = LISTED_ITEMS
    for severity, group in groupby(listed, key=lambda item: item.severity):
        members = list(group)
        shown = members[: max(room, 0)]
        room -= len(shown)
        entries = [{"item": i, "actions": i.actions} for i in shown]
        sections.append({"severity": severity, "count": len(members), "entries": entries})
    context = {
        "urgency": str(urgency),
        "severity": listed[0].severity,
        "first": listed[0],
        "more": len(listed) - 1,
        "total": len(listed),
        "unlisted": max(len(listed) - LISTED_ITEMS, 0),
        "sections": sections,
        "severity_name": severity_name,
        "recipient_name": recipient_name,
        "escalated_from": escalated_from or "",
    }

    def text(kind: str) -> str:
        return _ENVIRONMENT.get_template(f"{kind}.{language}.j2").render(context)

    return Rendered(
        title=cut(text("title"), TEXT_LIMIT),
        body=text("body").strip() + "\n",
        html=text("html").strip() + "\n",
        short=cut(text("sms"), SMS_LIMIT),
    )
