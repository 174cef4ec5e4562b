"""The endpoint directory: names to URLs and secrets, errors in one line that show no secret."""

from pathlib import Path

import pytest

from connectors.delivery.endpoints import EndpointError, load_directory, parse_directory
from models.notifications import Channel

TOKEN_URL = "https://oapi.dingtalk.com/robot/send?access_token=tok-98765"


def test_an_endpoint_is_found_by_channel_and_name_with_its_secret_from_the_environment():
    directory = parse_directory(
        f"dingtalk:\n  buyers: {{url: '{TOKEN_URL}', secret_env: DING_SECRET}}\n",
        "endpoints.yaml",
        {"DING_SECRET": "SEC-abc"},
    )
    buyers = directory.endpoint(Channel.DINGTALK, "buyers")
    assert buyers.url.get_secret_value() == TOKEN_URL
    assert buyers.secret is not None and buyers.secret.get_secret_value() == "SEC-abc"


def test_printing_the_directory_shows_neither_url_nor_secret():
    directory = parse_directory(
        f'{{"dingtalk": {{"buyers": {{"url": "{TOKEN_URL}", "secret": "SEC-abc"}}}}}}', "env", {}
    )
    shown = f"{directory!r} {directory} {directory.model_dump()}"
    assert "tok-98765" not in shown and "SEC-abc" not in shown


def test_an_unknown_endpoint_name_is_named_in_one_line():
    with pytest.raises(EndpointError, match=r"^no slack endpoint named 'ops' in the directory$"):
        parse_directory("slack: {}", "endpoints.yaml", {}).endpoint(Channel.SLACK, "ops")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("slack: [unclosed", "endpoints.yaml line 1: not YAML or JSON"),
        ("- a list", "endpoints.yaml: a mapping of channel to endpoints is expected"),
        (
            "teams: {ops: {url: 'https://x'}}",
            "endpoints.yaml: teams: Extra inputs are not permitted",
        ),
        (
            "wecom: {ops: {url: 'ftp://host/key=wk-secret-55'}}",
            "endpoints.yaml: wecom.ops: url is not an http:// or https:// URL",
        ),
        (
            "feishu: {ops: {url: 'https://x', secret_env: NOT_SET}}",
            "endpoints.yaml: feishu.ops.secret_env: environment variable NOT_SET is not set "
            "or empty",
        ),
    ],
)
def test_a_bad_directory_is_refused_in_one_line_naming_the_field(text: str, why: str):
    with pytest.raises(EndpointError) as refused:
        parse_directory(text, "endpoints.yaml", {})
    assert str(refused.value) == why
    assert "wk-secret-55" not in str(refused.value)


def test_a_directory_file_is_read_and_a_missing_one_is_said_so(tmp_path: Path):
    path = tmp_path / "endpoints.yaml"
    path.write_text("webhook:\n  erp: {url: 'https://erp.example/hooks'}\n", encoding="utf-8")
    assert load_directory(path, {}).endpoint(Channel.WEBHOOK, "erp").secret is None
    with pytest.raises(EndpointError, match="cannot read the endpoint directory"):
        load_directory(tmp_path / "missing.yaml", {})
