"""Rendering notifications: summaries and items of every record, messages in en and zh-CN."""

import unicodedata
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.alerts import AlertBook, AlertTransition, Evaluation, RuleSettings
from models.bom import ComponentShortage, ShortageResult
from models.notifications import NotificationAction, NotificationItem, Urgency
from models.purchasing import approve_automatically, await_approval, mark_ordered, propose
from models.rendering import SMS_LIMIT, cut, item_of, ordered, render, summary_of
from models.reviews import default_review_policy, open_review
from models.transfers import TransferSuggestion, propose_transfer
from tests.alerts import as_alert

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
BASE = "https://stockloop.example/"


def stockout(status: str = "raised") -> AlertTransition:
    book = AlertBook(material_id="HP-200")
    scope = {"material_id": "HP-200", "warehouse_id": "SH01", "category": "audio", "abc_class": "A"}
    rules = {"stockout_risk": RuleSettings(labels={"owner": "buyer", "channel": "immediate"})}
    values = {"projected_stockout_days": 15.0, "lead_time_days": 21.0, "available": 40.0}
    fires = Evaluation("stockout_risk", firing=True, severity="critical", values=values)
    (raised,) = book.step([fires], scope, T0, rules)
    if status == "raised":
        return raised
    clear = Evaluation("stockout_risk", firing=False, clear=True, values=values)
    (resolved,) = book.step([clear], scope, T0 + timedelta(hours=1), rules)
    return resolved


def request(amount_band: str = "pending"):
    proposed = propose(
        material_id="HP-200",
        warehouse_id="SH01",
        unit="EA",
        unit_cost=25.0,
        moq=0,
        pack_size=10,
        supplier_id="S1",
        reorder_point=120,
        order_up_to=300,
        projected_stockout_date=date(2026, 3, 17),
        lead_time_days=14,
        position=40,
        alert_ids=["a1"],
        now=T0,
        raised=0,
        currency="CNY",
    )
    if amount_band == "pending":
        return await_approval(proposed, "wang", T0, "amount 6500 CNY above 5000 CNY")
    approved = approve_automatically(proposed, T0, "small")
    return mark_ordered(approved, 260, T0 + timedelta(days=1), "PO-1")


def transfer():
    suggestion = TransferSuggestion(
        from_warehouse="BJ03", to_warehouse="SH01", quantity=80, lead_time_days=2, surplus=120
    )
    return propose_transfer("HP-200", suggestion, now=T0, raised=0, alert_ids=["a1"])


def review():
    batches = [("B7", 40.0, 2.5, T0 - timedelta(days=400))]
    return open_review("SPARE-8", "BJ03", ["a9"], batches, "zhao", T0, default_review_policy())


def shortage(missing: float = 40.0, rush: bool = False) -> ShortageResult:
    part = ComponentShortage(
        component_id="PCB-1",
        level=1,
        assembly=False,
        required=50,
        available=10,
        arriving_in_time=50 - 10 - missing,
        to_build=0,
        missing=missing,
        covered_by=None if missing else date(2026, 3, 10),
    )
    return ShortageResult(
        id="s1",
        order_id="MO-7",
        order_event_id="e1",
        analysed_at=T0,
        material_id="FAN-1",
        warehouse_id="SH01",
        quantity=50,
        need_date=date(2026, 3, 10),
        rush=rush,
        components=(part,),
        missing_components=("PCB-1",) if missing else (),
        kit_completeness=0.0 if missing else 1.0,
        quantity_completeness=0.2 if missing else 1.0,
        earliest_feasible_start=None if missing else date(2026, 3, 10),
        orders_ahead=(),
    )


# --- summaries and items ----------------------------------------------------------------------


@pytest.mark.parametrize("record", [stockout(), as_alert(stockout())], ids=["transition", "alert"])
def test_an_alert_summary_names_rule_material_warehouse_and_its_key_numbers(record):
    assert summary_of(record, "en") == (
        "stock-out risk HP-200 @ SH01: stock-out in 15 d, lead time 21 d, available 40"
    )
    assert summary_of(record, "zh-CN") == (
        "缺货风险 HP-200 @ SH01：15 天后断货，采购周期 21 天，可用库存 40"
    )


def test_a_resolved_alert_says_so_in_both_languages():
    assert summary_of(stockout("resolved"), "en").startswith("Resolved: stock-out risk")
    assert summary_of(stockout("resolved"), "zh-CN").startswith("已解除：缺货风险")


@pytest.mark.parametrize(
    ("record", "en", "zh"),
    [
        (
            request(),
            "Purchase request pr-",
            "采购申请 pr-",
        ),
        (transfer(), "Transfer ", "调拨 "),
        (review(), "Dead-stock review ", "呆滞料评审 "),
        (shortage(), "MO-7: 50 FAN-1 in SH01", "缺料分析 MO-7"),
    ],
    ids=["request", "transfer", "review", "shortage"],
)
def test_every_response_has_a_summary_in_both_languages(record, en, zh):
    assert summary_of(record, "en").startswith(en)
    assert summary_of(record, "zh-CN").startswith(zh)
    assert summary_of(record, "en") != summary_of(record, "zh-CN")


def test_a_request_summary_carries_quantity_amount_order_date_and_approver():
    text = summary_of(request(), "en")
    assert "pending approval: 260 EA of HP-200 for SH01, 6500 CNY" in text
    assert "order by 2026-03-03" in text and "approver wang" in text
    assert "待审批" in summary_of(request(), "zh-CN")


def test_an_alert_item_carries_ids_link_and_the_labels_routes_match_on():
    transition = stockout()
    item, labels = item_of(transition, "zh-CN", BASE)
    assert (item.kind, item.id, item.subject_id) == ("alert", transition.id, transition.alert_id)
    assert item.severity == "critical" and not item.closes
    assert item.link == "https://stockloop.example/materials/HP-200"
    assert item.summary == summary_of(transition, "zh-CN")
    assert labels == {
        "event": "alert",
        "rule_id": "stockout_risk",
        "severity": "critical",
        "status": "raised",
        "material_id": "HP-200",
        "warehouse_id": "SH01",
        "category": "audio",
        "abc_class": "A",
        "owner": "buyer",
        "channel": "immediate",
    }
    # The published record also carries the money at risk, which ranks items of a severity.
    assert item_of(as_alert(transition), "zh-CN", BASE) == (
        item.model_copy(update={"value_at_risk": 0.0}),
        labels,
    )


def test_items_of_a_severity_are_listed_by_money_at_risk():
    alert = as_alert(stockout())
    cheap, dear = (
        item_of(alert.model_copy(update={"id": f"a-{n}"}), "en", None)[0].model_copy(
            update={"value_at_risk": value}
        )
        for n, value in ((1, 50.0), (2, 5_000.0))
    )
    assert [i.value_at_risk for i in ordered([cheap, dear])] == [5_000.0, 50.0]


def test_a_material_id_is_quoted_in_its_link_and_no_base_means_no_link():
    odd = shortage().model_copy(update={"material_id": "FAN/1 x"})
    assert item_of(odd, "en", BASE)[0].link == "https://stockloop.example/materials/FAN%2F1%20x"
    assert item_of(odd, "en", None)[0].link is None


@pytest.mark.parametrize(
    ("record", "kind", "subject", "severity", "closes", "extra"),
    [
        (request(), "purchase_request", "request_id", "warning", False, {"approver": "wang"}),
        (request("ordered"), "purchase_request", "request_id", "info", True, {}),
        (transfer(), "transfer", "transfer_id", "warning", False, {"from_warehouse_id": "BJ03"}),
        (review(), "review", "review_id", "info", False, {"owner": "zhao"}),
        (shortage(), "shortage", "order_id", "warning", False, {"order_id": "MO-7"}),
        (shortage(rush=True), "shortage", "order_id", "critical", False, {}),
        (shortage(missing=0), "shortage", "order_id", "info", True, {}),
        (stockout("resolved"), "alert", "alert_id", "critical", True, {"status": "resolved"}),
    ],
)
def test_each_record_gives_its_kind_subject_severity_and_whether_it_closes(
    record, kind, subject, severity, closes, extra
):
    item, labels = item_of(record, "en", BASE)
    assert (item.kind, item.subject_id, item.severity, item.closes) == (
        kind,
        getattr(record, subject),
        severity,
        closes,
    )
    assert labels["event"] == kind and labels["severity"] == severity
    assert extra.items() <= labels.items()


def test_an_unknown_language_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"language 'fr': not shipped, use one of en, zh-CN"):
        summary_of(stockout(), "fr")


# --- messages ---------------------------------------------------------------------------------


def notice(n: int, severity: str, summary: str | None = None, **changes) -> NotificationItem:
    return NotificationItem(
        kind="alert",
        id=f"i{n}",
        subject_id=f"s{n}",
        at=T0 + timedelta(minutes=n),
        severity=severity,
        material_id=f"M{n}",
        summary=summary or f"item {n} is {severity}",
        link=f"https://stockloop.example/materials/M{n}",
        **changes,
    )


ACK = NotificationAction(label="Acknowledge", url="https://stockloop.example/actions/abc")


@pytest.mark.parametrize("language", ["en", "zh-CN"])
@pytest.mark.parametrize("urgency", list(Urgency))
def test_every_message_carries_each_items_summary_link_and_actions(language, urgency):
    items = [notice(1, "warning", actions=(ACK,)), notice(2, "critical")]
    message = render(urgency, items, language, recipient_name="Li", escalated_from="Zhang")
    for part in (message.body, message.html):
        for it in items:
            assert it.summary in part and it.link in part
        assert ACK.url in part and ACK.label in part
    assert "Li" in message.body
    assert len(message.short) <= SMS_LIMIT and message.title


def test_the_two_languages_speak_their_own_words():
    items = [notice(1, "critical")]
    en = render(Urgency.IMMEDIATE, items, "en", recipient_name="Li")
    zh = render(Urgency.IMMEDIATE, items, "zh-CN", recipient_name="李")
    assert en.title.startswith("[Critical]") and zh.title.startswith("[严重]")
    assert "new item" in en.body and "新通知" in zh.body
    assert '<html lang="en">' in en.html and '<html lang="zh-CN">' in zh.html
    escalated = render(Urgency.ESCALATION, items, "zh-CN", recipient_name="王", escalated_from="李")
    assert "李 未在规定时间内确认" in escalated.body


def test_html_is_escaped_and_plain_text_is_not():
    nasty = '<script>alert("x")</script> & Co'
    link = "https://x.example/materials/a?b=1&c=<2>"
    item = notice(1, "warning", nasty).model_copy(update={"link": link})
    message = render(Urgency.IMMEDIATE, [item], "en", recipient_name="<b>Li</b>")
    assert "<script>" not in message.html and "<b>Li</b>" not in message.html
    assert "&lt;script&gt;" in message.html and "&amp; Co" in message.html
    assert "&lt;b&gt;Li&lt;/b&gt;" in message.html
    assert 'href="https://x.example/materials/a?b=1&amp;c=&lt;2&gt;"' in message.html
    assert nasty in message.body and "<b>Li</b>" in message.body


def test_a_digest_lists_items_by_severity_most_severe_first():
    items = [notice(1, "info"), notice(2, "critical"), notice(3, "warning"), notice(4, "critical")]
    message = render(Urgency.DIGEST, items, "en", recipient_name="Li")
    body = message.body
    positions = [body.index(f"item {n} is") for n in (2, 4, 3, 1)]
    assert positions == sorted(positions)
    assert body.index("Critical (2)") < body.index("Warning (1)") < body.index("Info (1)")
    assert message.title == "Daily digest: 4 items (2 Critical, 1 Warning, 1 Info)"
    zh = render(Urgency.DIGEST, items, "zh-CN", recipient_name="李")
    assert zh.title == "每日汇总：4 条（严重 2，警告 1，提示 1）"
    assert zh.html.index("严重（2）") < zh.html.index("警告（1）") < zh.html.index("提示（1）")


def test_a_message_lists_the_same_whatever_order_its_items_came_in():
    items = [notice(n, s) for n, s in enumerate(["info", "critical", "warning", "critical"])]
    forward = render(Urgency.DIGEST, items, "en", recipient_name="Li")
    assert render(Urgency.DIGEST, items[::-1], "en", recipient_name="Li") == forward


summaries = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=256
)


@settings(max_examples=80, deadline=None)
@given(
    summaries,
    st.sampled_from(["en", "zh-CN"]),
    st.sampled_from(list(Urgency)),
    st.integers(1, 3),
)
def test_the_sms_is_one_line_of_at_most_70_characters(summary, language, urgency, count):
    items = [notice(n, "critical", summary) for n in range(count)]
    short = render(urgency, items, language, recipient_name="Li", escalated_from="Wang").short
    assert len(short) <= SMS_LIMIT
    assert "\n" not in short


@given(summaries, st.integers(2, 100))
def test_cutting_keeps_the_limit_and_never_strands_a_combining_mark(text, limit):
    result = cut(text, limit)
    assert len(result) <= limit
    if result.endswith("…"):
        kept = result[:-1]
        assert " ".join(text.split()).startswith(kept)
        rest = " ".join(text.split())[len(kept) :]
        assert not rest or not unicodedata.combining(rest[0])
    else:
        assert result == " ".join(text.split())


def test_an_sms_names_the_severity_and_how_many_more():
    items = [notice(1, "critical", "stock-out risk HP-200 @ SH01: stock-out in 4 d")]
    items += [notice(2, "warning"), notice(3, "warning")]
    assert render(Urgency.IMMEDIATE, items, "en", recipient_name="Li").short == (
        "[Critical, +2] stock-out risk HP-200 @ SH01: stock-out in 4 d"
    )
    assert render(Urgency.IMMEDIATE, items, "zh-CN", recipient_name="李").short == (
        "[严重 另2条] stock-out risk HP-200 @ SH01: stock-out in 4 d"
    )
