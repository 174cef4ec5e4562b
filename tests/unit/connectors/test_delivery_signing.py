"""Every signature delivery computes, against a worked example, and the webhook check's refusals.

Each expected value is either a platform's published example or computed
here, independently, with ``hmac`` from the platform's published recipe
(sources in each test's comment).
"""

import base64
import hashlib
import hmac
from urllib.parse import quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.delivery.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureRejected,
    aliyun_canonical_query,
    aliyun_signature,
    dingtalk_sign,
    feishu_sign,
    verify,
    webhook_headers,
    webhook_signature,
)

SENT_AT = 1_764_460_800  # 2025-11-30T00:00:00Z


def test_webhook_signature_is_hmac_sha256_of_timestamp_dot_body_in_hex():
    body = b'{"id":"ntf-1","title":"Stock-out HP-200"}'
    expected = hmac.new(b"whsec-1", b"1764460800." + body, hashlib.sha256).hexdigest()
    assert webhook_signature("whsec-1", SENT_AT, body) == f"sha256={expected}"
    assert webhook_headers("whsec-1", SENT_AT, body) == {
        TIMESTAMP_HEADER: "1764460800",
        SIGNATURE_HEADER: f"sha256={expected}",
    }


@given(secret=st.text(min_size=1), body=st.binary(), drift=st.integers(-300, 300))
def test_a_signed_webhook_verifies_within_the_tolerance(secret: str, body: bytes, drift: int):
    headers = webhook_headers(secret, SENT_AT, body)
    verify(secret, body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], SENT_AT + drift)


@given(body=st.binary(min_size=1), position=st.integers(min_value=0), flip=st.integers(1, 255))
def test_a_tampered_body_is_rejected(body: bytes, position: int, flip: int):
    headers = webhook_headers("whsec-1", SENT_AT, body)
    index = position % len(body)
    tampered = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    with pytest.raises(SignatureRejected, match="does not match"):
        verify("whsec-1", tampered, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], SENT_AT)


@pytest.mark.parametrize("drift", [301, -301, 86_400])
def test_a_stale_or_future_timestamp_is_rejected_even_with_a_good_signature(drift: int):
    body = b'{"id":"ntf-1"}'
    headers = webhook_headers("whsec-1", SENT_AT, body)
    with pytest.raises(SignatureRejected, match="a replay"):
        verify(
            "whsec-1", body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], SENT_AT + drift
        )


def test_a_replayed_message_with_a_fresh_timestamp_header_is_rejected():
    body = b'{"id":"ntf-1"}'
    old = webhook_headers("whsec-1", SENT_AT, body)
    later = SENT_AT + 3600
    with pytest.raises(SignatureRejected, match="does not match"):
        verify("whsec-1", body, str(later), old[SIGNATURE_HEADER], later)


@pytest.mark.parametrize(
    ("timestamp", "signature", "why"),
    [
        (None, "sha256=00", "X-Stockloop-Timestamp is missing"),
        ("1764460800", None, "X-Stockloop-Signature is missing"),
        ("yesterday", "sha256=00", "not Unix seconds"),
    ],
)
def test_missing_or_malformed_headers_are_rejected_saying_which(
    timestamp: str | None, signature: str | None, why: str
):
    with pytest.raises(SignatureRejected, match=why):
        verify("whsec-1", b"{}", timestamp, signature, SENT_AT)


def test_a_signature_made_with_another_secret_is_rejected_without_showing_either():
    body = b'{"id":"ntf-1"}'
    headers = webhook_headers("their-secret", SENT_AT, body)
    with pytest.raises(SignatureRejected) as rejected:
        verify("our-secret", body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], SENT_AT)
    assert "secret" not in str(rejected.value)


def test_dingtalk_sign_matches_a_published_worked_example():
    # DingTalk custom robot "加签": HmacSHA256(key=secret, timestamp + "\n" + secret), Base64,
    # urlEncode (open.dingtalk.com, custom robot security settings); this pair is the worked
    # example in the `dingding` crate's tests (docs.rs/crate/dingding, src/signature.rs).
    assert dingtalk_sign("secret", 1_700_000_000_000) == (
        "OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D"
    )


def test_dingtalk_sign_follows_the_published_recipe():
    # The recipe of DingTalk's own Python sample (timestamp in milliseconds).
    secret = "SEC5a3ecf88f2b3eb50db30ecfc00f53033ac909c99bf7f88fd612bda89d7f3a9dc"
    timestamp_ms = 1_764_460_800_123
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    assert dingtalk_sign(secret, timestamp_ms) == quote_plus(base64.b64encode(digest))


def test_feishu_sign_is_an_hmac_of_nothing_keyed_by_timestamp_and_secret():
    # Feishu/Lark custom bot signature verification (open.feishu.cn, bot-v3/add-custom-bot):
    # string_to_sign = timestamp + "\n" + secret is the HMAC-SHA256 key, the message is
    # empty, the result is Base64; the timestamp is in seconds.
    secret = "demo-feishu-secret"
    key = f"{SENT_AT}\n{secret}".encode()
    expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert feishu_sign(secret, SENT_AT) == expected
    assert feishu_sign(secret, SENT_AT + 1) != expected


def test_aliyun_signature_matches_the_published_describe_regions_example():
    # Alibaba Cloud "Signature mechanism" (RPC APIs, signature version 1.0) worked example:
    # DescribeRegions with AccessKey testid / testsecret gives CT9X0VtwR86fNWSnsc6v8YGOjuE=
    # (help.aliyun.com signature mechanism; developer.aliyun.com/ask/210168).
    parameters = {
        "TimeStamp": "2016-02-23T12:46:24Z",
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "Version": "2014-05-26",
        "SignatureVersion": "1.0",
    }
    assert aliyun_canonical_query(parameters) == (
        "AccessKeyId=testid&Action=DescribeRegions&Format=XML&SignatureMethod=HMAC-SHA1"
        "&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureVersion=1.0"
        "&TimeStamp=2016-02-23T12%3A46%3A24Z&Version=2014-05-26"
    )
    assert aliyun_signature(parameters, "testsecret", "GET") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


def test_aliyun_signature_encodes_chinese_spaces_and_stars_as_rfc_3986():
    # The SMS sign name is Chinese and the template parameter JSON; the published rules:
    # UTF-8, space as %20 (not +), * as %2A, ~ kept, then the whole query encoded again.
    parameters = {"SignName": "阿里云短信测试", "TemplateParam": '{"message":"a *b~"}'}
    query = "SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95"
    query += "&TemplateParam=%7B%22message%22%3A%22a%20%2Ab~%22%7D"
    assert aliyun_canonical_query(parameters) == query
    to_sign = "POST&%2F&" + query.replace("%", "%25").replace("&", "%26").replace("=", "%3D")
    expected = base64.b64encode(hmac.new(b"key&", to_sign.encode(), hashlib.sha1).digest())
    assert aliyun_signature(parameters, "key", "POST") == expected.decode()
