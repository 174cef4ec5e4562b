"""The dashboard's assets and the alert actions its buttons ask for (streams.dashboard_views)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.alerts import ALERT_ACTIONS, Acknowledge, ActionOutcome, OpenAlert, Silence
from models.events import encode
from models.state import MaterialState
from streams.dashboard_views import ASSETS, ActionRefused, content_type, page_action

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
KEY = "M-1|W1|stockout_risk"


def _state(acknowledged_by: str | None = None) -> MaterialState:
    """A material with one open critical stock-out alert in W1."""
    state = MaterialState(material_id="M-1")
    raised = NOW - timedelta(days=1)
    state.alerts.alerts[KEY] = OpenAlert(
        id="a-17",
        rule_id="stockout_risk",
        warehouse_id="W1",
        severity="critical",
        active_since=raised,
        raised_at=raised,
        updated_at=raised,
        last_notified_at=raised,
        acknowledged_by=acknowledged_by,
        acknowledged_at=raised if acknowledged_by else None,
    )
    return state


def _refusal(query: dict[str, str]) -> ActionRefused:
    with pytest.raises(ActionRefused) as refused:
        page_action(query, _state(), NOW, "s1")
    return refused.value


def test_every_asset_the_page_loads_ships_with_the_package_and_none_comes_from_the_internet():
    page = (ASSETS / "index.html").read_text()
    loaded = re.findall(r'(?:src|href)="/dashboard/([^"]+)"', page)
    assert sorted(loaded) == ["app.js", "style.css"]
    for name in ["index.html", *loaded]:
        text = (ASSETS / name).read_text()
        assert content_type(name) is not None
        assert not re.search(r"(?:src|href|url\()\s*=?\s*[\"']?https?://", text), name
        assert text.isascii(), f"{name}: keep assets ASCII, whatever charset a proxy claims"


@given(st.text(), st.sampled_from(["/", "\\", "../", "..\\"]), st.text())
def test_no_asset_name_reaches_outside_the_asset_folder(before: str, separator: str, after: str):
    assert content_type(f"{before}{separator}{after}.js") is None


def test_an_unknown_suffix_or_a_hidden_file_is_not_served():
    assert content_type("settings.py") is None
    assert content_type(".env") is None
    assert content_type("style.css") == "text/css; charset=utf-8"


def test_acknowledging_pins_the_open_alert_and_is_recorded_as_the_command_line_records_it():
    label, action = page_action(
        {"action": "acknowledge", "alert_key": KEY, "by": "ann"}, _state(), NOW, "unused"
    )
    assert label == f"ack:{KEY}"
    assert isinstance(action, Acknowledge)
    assert (action.alert_id, action.by, action.at) == ("a-17", "ann", NOW)
    # The worker decodes it from the actions topic and applies it to the book.
    decoded = ALERT_ACTIONS.validate_json(encode(action))
    book = _state().alerts
    assert book.apply(decoded) is ActionOutcome.APPLIED
    assert book.alerts[KEY].acknowledged_by == "ann"


def test_an_alert_acknowledged_already_asks_for_nothing():
    query = {"action": "acknowledge", "alert_key": KEY, "by": "bob"}
    assert page_action(query, _state(acknowledged_by="ann"), NOW, "s1") is None


def test_a_silence_mutes_that_alert_only_for_the_hours_chosen():
    query = {"action": "silence", "alert_key": KEY, "by": "ann", "hours": "72"}
    label, action = page_action(query, _state(), NOW, "s1")
    assert label == "silence:s1"
    assert isinstance(action, Silence)
    assert action.matchers == {
        "material_id": "M-1",
        "warehouse_id": "W1",
        "rule_id": "stockout_risk",
    }
    assert (action.starts_at, action.ends_at) == (NOW, NOW + timedelta(hours=72))
    book = _state().alerts
    assert book.apply(ALERT_ACTIONS.validate_json(encode(action))) is ActionOutcome.APPLIED
    assert book.mutes(action, NOW + timedelta(hours=71))
    assert not book.mutes(action, NOW + timedelta(hours=72))


def test_an_alert_not_open_is_a_404_that_suggests_the_key_meant():
    refused = _refusal({"action": "acknowledge", "alert_key": "M-1|W1|stockout_rsk", "by": "a"})
    assert refused.status == 404
    assert f"did you mean {KEY!r}" in str(refused)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"action": "approve", "alert_key": KEY, "by": "ann"}, "action='approve'"),
        ({"action": "silence", "alert_key": KEY, "by": "ann", "hours": "0"}, "hours='0'"),
        ({"action": "silence", "alert_key": KEY, "by": "ann", "hours": "1e3"}, "hours='1e3'"),
        ({"action": "acknowledge", "alert_key": KEY, "by": ""}, "query by:"),
        ({"action": "silence", "alert_key": KEY}, "query created_by:"),
    ],
)
def test_a_bad_request_is_a_400_naming_the_parameter(query: dict[str, str], named: str):
    refused = _refusal(query)
    assert refused.status == 400
    assert named in str(refused)
    assert "\n" not in str(refused)
