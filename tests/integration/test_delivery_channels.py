"""Delivery against real servers started here on 127.0.0.1: signatures checked, retries, limits.

One aiohttp server plays every HTTP platform as it answers: our signed
webhook, Slack, a DingTalk robot (checks ``sign``; rate-limits once with
errcode 130101), a WeCom robot (45009 once), a Feishu bot (checks ``sign``),
Twilio- and Alibaba-Cloud-style SMS APIs (check the basic auth, the query
signature), an endpoint that answers 500 twice, and one that never answers.
An aiosmtpd server takes the email, with a login. Each platform's check is
written here from its published recipe, not with the code under test, except
our own webhook, whose receiver-side check (``signing.verify``) is part of
what we ship. No Kafka: ``test_deliver_broker`` covers the topics.
"""

import asyncio
import base64
import hashlib
import hmac
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from urllib.parse import quote

import orjson
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from connectors.delivery.channels import open_channels
from connectors.delivery.endpoints import EndpointDirectory, SmsAccount, SmtpServer, parse_directory
from connectors.delivery.sender import Deliverer, DeliveryLedger, RateLimit, RetryBudget
from connectors.delivery.signing import SignatureRejected, verify
from models.notifications import (
    Channel,
    Delivery,
    DeliveryStatus,
    Destination,
    Notification,
    NotificationAction,
    NotificationItem,
)

WEBHOOK_SECRET = "whsec-7f3a9c"
DINGTALK_TOKEN = "ding-access-token-5521"
DINGTALK_SECRET = "SEC-ding-secret-91ab"
WECOM_KEY = "wecom-key-693a-77"
FEISHU_HOOK = "feishu-hook-0c1d2e"
FEISHU_SECRET = "feishu-secret-4410"
TWILIO_SID = "AC0123456789"
TWILIO_TOKEN = "twilio-auth-token-55"
ALIYUN_KEY_ID = "LTAI-test-id"
ALIYUN_SECRET = "aliyun-key-secret-88"
SMTP_USER, SMTP_PASSWORD = "stockloop", "smtp-password-31"
EVERY_SECRET = (
    WEBHOOK_SECRET,
    DINGTALK_TOKEN,
    DINGTALK_SECRET,
    WECOM_KEY,
    FEISHU_HOOK,
    FEISHU_SECRET,
    TWILIO_TOKEN,
    ALIYUN_SECRET,
    SMTP_PASSWORD,
)

FAST = RetryBudget(attempts=3, first_delay_s=0.05, max_delay_s=0.2)
TIMEOUT_S = 10.0
"""Generous: on a loaded machine a first connection may take a while, and a timeout would
change the attempts the tests expect."""

SILENT_TIMEOUT_S = 2.0
"""For the test of a receiver that never answers, whose three attempts each wait this long."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the platforms -------------------------------------------------------------------------------


@dataclass
class Received:
    """One request a platform took (whatever it answered)."""

    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    accepted: bool
    at: float = field(default_factory=time.monotonic)

    def json(self) -> dict:
        return orjson.loads(self.body)


@dataclass
class Platforms:
    """The HTTP platforms' state: what each received, and the answers scripted to come first."""

    received: dict[str, list[Received]] = field(default_factory=dict)
    first_answers: dict[str, list[web.Response]] = field(default_factory=dict)

    def take(self, platform: str, request: web.Request, body: bytes, accepted: bool) -> None:
        self.received.setdefault(platform, []).append(
            Received(dict(request.query), dict(request.headers), body, accepted)
        )

    def accepted(self, platform: str) -> list[Received]:
        return [r for r in self.received.get(platform, []) if r.accepted]

    def scripted(self, platform: str) -> web.Response | None:
        answers = self.first_answers.get(platform)
        return answers.pop(0) if answers else None


def _dingtalk_sign_ok(query: dict[str, str]) -> bool:
    # DingTalk: HmacSHA256(key=secret, timestamp + "\n" + secret), Base64; the query value is
    # URL-decoded by the server; the timestamp must be within an hour of the server's clock.
    timestamp = query.get("timestamp", "")
    if not timestamp.isdigit() or abs(time.time() * 1000 - int(timestamp)) > 3_600_000:
        return False
    digest = hmac.new(
        DINGTALK_SECRET.encode(), f"{timestamp}\n{DINGTALK_SECRET}".encode(), hashlib.sha256
    ).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), query.get("sign", ""))


def _feishu_sign_ok(document: dict) -> bool:
    # Feishu: HmacSHA256(key=timestamp + "\n" + secret, message=""), Base64; within an hour.
    timestamp = str(document.get("timestamp", ""))
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 3600:
        return False
    key = f"{timestamp}\n{FEISHU_SECRET}".encode()
    expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, str(document.get("sign", "")))


def _aliyun_signature_ok(query: dict[str, str]) -> bool:
    # Alibaba Cloud RPC signature v1.0: sort, RFC 3986-encode, GET&%2F&encode(query),
    # HMAC-SHA1 with AccessKeySecret + "&", Base64.
    def encode(text: str) -> str:
        return quote(text, safe="-_.~")

    parameters = {name: value for name, value in query.items() if name != "Signature"}
    canonical = "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(parameters.items()))
    to_sign = f"GET&{encode('/')}&{encode(canonical)}"
    digest = hmac.new(f"{ALIYUN_SECRET}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), query.get("Signature", ""))


def _platform_app(state: Platforms) -> web.Application:
    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify(
                WEBHOOK_SECRET,
                body,
                request.headers.get("X-Stockloop-Timestamp"),
                request.headers.get("X-Stockloop-Signature"),
                now=time.time(),
            )
        except SignatureRejected as error:
            state.take("webhook", request, body, accepted=False)
            return web.json_response({"error": str(error)}, status=401)
        state.take("webhook", request, body, accepted=True)
        return web.json_response({"received": True})

    async def slack(request: web.Request) -> web.Response:
        body = await request.read()
        ok = request.match_info["token"] == "T000/B000/slack-path-token" and "text" in orjson.loads(
            body
        )
        state.take("slack", request, body, accepted=ok)
        return web.Response(text="ok") if ok else web.Response(status=404, text="no_service")

    async def dingtalk(request: web.Request) -> web.Response:
        body = await request.read()
        if request.query.get("access_token") != DINGTALK_TOKEN:
            state.take("dingtalk", request, body, accepted=False)
            return web.json_response({"errcode": 300001, "errmsg": "token is not exist"})
        if not _dingtalk_sign_ok(dict(request.query)):
            state.take("dingtalk", request, body, accepted=False)
            return web.json_response({"errcode": 310000, "errmsg": "sign not match"})
        scripted = state.scripted("dingtalk")
        state.take("dingtalk", request, body, accepted=scripted is None)
        return scripted or web.json_response({"errcode": 0, "errmsg": "ok"})

    async def wecom(request: web.Request) -> web.Response:
        body = await request.read()
        if request.query.get("key") != WECOM_KEY:
            state.take("wecom", request, body, accepted=False)
            return web.json_response({"errcode": 93000, "errmsg": "invalid webhook url"})
        scripted = state.scripted("wecom")
        state.take("wecom", request, body, accepted=scripted is None)
        return scripted or web.json_response({"errcode": 0, "errmsg": "ok"})

    async def feishu(request: web.Request) -> web.Response:
        body = await request.read()
        ok = request.match_info["hook"] == FEISHU_HOOK and _feishu_sign_ok(orjson.loads(body))
        state.take("feishu", request, body, accepted=ok)
        if not ok:
            return web.json_response({"code": 19021, "msg": "sign match fail", "data": {}})
        return web.json_response({"code": 0, "msg": "success", "data": {}})

    async def twilio(request: web.Request) -> web.Response:
        body = await request.read()
        expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        ok = request.match_info["sid"] == TWILIO_SID and request.headers.get("Authorization") == (
            expected
        )
        state.take("twilio", request, body, accepted=ok)
        if not ok:
            return web.json_response({"code": 20003, "message": "Authenticate"}, status=401)
        return web.json_response({"sid": "SM1", "status": "queued"}, status=201)

    async def aliyun(request: web.Request) -> web.Response:
        query = dict(request.query)
        ok = query.get("AccessKeyId") == ALIYUN_KEY_ID and _aliyun_signature_ok(query)
        state.take("aliyun", request, b"", accepted=ok)
        if not ok:
            return web.json_response(
                {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched"},
                status=400,
            )
        return web.json_response({"Code": "OK", "Message": "OK", "BizId": "9006197469364984"})

    async def flaky(request: web.Request) -> web.Response:
        body = await request.read()
        scripted = state.scripted("flaky")
        state.take("flaky", request, body, accepted=scripted is None)
        return scripted or web.json_response({"received": True})

    async def never(request: web.Request) -> web.Response:
        state.take("never", request, await request.read(), accepted=False)
        await asyncio.sleep(3600)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hooks/stockloop", webhook)
    app.router.add_post("/services/{token:.+}", slack)
    app.router.add_post("/robot/send", dingtalk)
    app.router.add_post("/cgi-bin/webhook/send", wecom)
    app.router.add_post("/open-apis/bot/v2/hook/{hook}", feishu)
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", twilio)
    app.router.add_get("/", aliyun)
    app.router.add_post("/flaky", flaky)
    app.router.add_post("/never", never)
    return app


@dataclass
class MailBox:
    """What the SMTP server received: each message with its envelope, and the logins."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == SMTP_USER
            and auth_data.password.decode() == SMTP_PASSWORD
        ):
            self.logins.append(SMTP_USER)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@dataclass
class World:
    """The servers of one test and how to reach them."""

    platforms: Platforms
    base: str
    mailbox: MailBox
    smtp_port: int

    def directory(self, **overrides: str) -> EndpointDirectory:
        secrets = {"DINGTALK_SECRET": overrides.get("dingtalk_secret", DINGTALK_SECRET)}
        text = f"""
webhook:
  erp-bridge: {{url: "{self.base}/hooks/stockloop", secret: "{WEBHOOK_SECRET}"}}
  forged: {{url: "{self.base}/hooks/stockloop", secret: "not-the-secret"}}
  flaky: {{url: "{self.base}/flaky"}}
  silent: {{url: "{self.base}/never"}}
slack:
  purchasing: {{url: "{self.base}/services/T000/B000/slack-path-token"}}
dingtalk:
  buyers:
    url: "{self.base}/robot/send?access_token={DINGTALK_TOKEN}"
    secret_env: DINGTALK_SECRET
wecom:
  warehouse: {{url: "{self.base}/cgi-bin/webhook/send?key={WECOM_KEY}"}}
feishu:
  planners: {{url: "{self.base}/open-apis/bot/v2/hook/{FEISHU_HOOK}", secret: "{FEISHU_SECRET}"}}
"""
        return parse_directory(text, "test directory", secrets)

    def smtp(self) -> SmtpServer:
        return SmtpServer(
            host="127.0.0.1",
            port=self.smtp_port,
            user=SMTP_USER,
            password=SMTP_PASSWORD,
            starttls=False,
            sender="stockloop <alerts@stockloop.test>",
        )

    def sms(self, provider: str) -> SmsAccount:
        if provider == "twilio":
            return SmsAccount(
                provider="twilio",
                url=self.base,
                account=TWILIO_SID,
                secret=TWILIO_TOKEN,
                sender="+15005550006",
            )
        return SmsAccount(
            provider="aliyun",
            url=self.base,
            account=ALIYUN_KEY_ID,
            secret=ALIYUN_SECRET,
            sender="库存提醒",
            template="SMS_71390007",
        )


@asynccontextmanager
async def servers() -> AsyncIterator[World]:
    """The HTTP platforms and the SMTP server, on free ports of 127.0.0.1."""
    platforms = Platforms()
    runner = web.AppRunner(_platform_app(platforms), shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    mailbox = MailBox()
    smtp_port = _free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=smtp_port,
        authenticator=mailbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield World(platforms, f"http://127.0.0.1:{port}", mailbox, smtp_port)
    finally:
        controller.stop()
        await runner.cleanup()


def _notification(notification_id: str, *destinations: tuple[Channel, str]) -> Notification:
    at = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)
    return Notification(
        id=notification_id,
        recipient="buyer-li",
        group_key="rule=stockout/warehouse=SH01",
        urgency="immediate",
        severity="critical",
        at=at,
        language="zh-CN",
        destinations=tuple(Destination(channel=c, address=a) for c, a in destinations),
        title="缺货: HP-200 in SH01",
        body="HP-200 is out of stock in SH01.\nOpen orders: 120 units due 2026-12-02.",
        html="<p>HP-200 is out of stock in <b>SH01</b>.</p>",
        short="缺货 HP-200 SH01: 120 due 12-02",
        items=(
            NotificationItem(
                kind="alert",
                id="alert-1/raised",
                subject_id="alert-1",
                at=at,
                severity="critical",
                material_id="HP-200",
                warehouse_id="SH01",
                rule_id="stockout",
                summary="HP-200 out of stock in SH01",
                link="https://stockloop.test/materials/HP-200",
                actions=(
                    NotificationAction(label="Acknowledge", url="https://stockloop.test/a/sig"),
                ),
            ),
        ),
    )


def _run(scenario: Callable[[World], object]) -> None:
    async def main() -> None:
        async with servers() as world:
            await scenario(world)  # type: ignore[misc]

    asyncio.run(main())


def _by_channel(records: list[Delivery]) -> dict[tuple[Channel, str], list[tuple[int, str]]]:
    seen: dict[tuple[Channel, str], list[tuple[int, str]]] = {}
    for record in records:
        seen.setdefault((record.channel, record.address), []).append(
            (record.attempt, record.status.value)
        )
    return seen


def _no_secret_in(records: list[Delivery]) -> None:
    text = "\n".join(record.model_dump_json() for record in records)
    for secret in EVERY_SECRET:
        assert secret not in text, f"a delivery record shows {secret!r}"


# --- the tests ------------------------------------------------------------------------------------


def test_every_channel_delivers_and_each_platform_verifies_what_it_received():
    notification = _notification(
        "ntf-every-channel",
        (Channel.WEBHOOK, "erp-bridge"),
        (Channel.SLACK, "purchasing"),
        (Channel.DINGTALK, "buyers"),
        (Channel.WECOM, "warehouse"),
        (Channel.FEISHU, "planners"),
        (Channel.SMS, "+8613800000000"),
        (Channel.EMAIL, "li@buyers.test"),
    )

    async def scenario(world: World) -> None:
        world.platforms.first_answers = {
            "dingtalk": [web.json_response({"errcode": 130101, "errmsg": "send too fast"})],
            "wecom": [web.json_response({"errcode": 45009, "errmsg": "api freq out of limit"})],
        }
        seen: list[Delivery] = []
        async with open_channels(
            world.directory(), world.smtp(), world.sms("aliyun"), TIMEOUT_S
        ) as channels:
            deliverer = Deliverer(channels, FAST, TIMEOUT_S, on_attempt=seen.append)
            records = await deliverer.deliver(notification)

        assert sorted(records, key=lambda r: r.id) == sorted(seen, key=lambda r: r.id)
        assert _by_channel(records) == {
            (Channel.WEBHOOK, "erp-bridge"): [(1, "delivered")],
            (Channel.SLACK, "purchasing"): [(1, "delivered")],
            (Channel.DINGTALK, "buyers"): [(1, "retrying"), (2, "delivered")],
            (Channel.WECOM, "warehouse"): [(1, "retrying"), (2, "delivered")],
            (Channel.FEISHU, "planners"): [(1, "delivered")],
            (Channel.SMS, "+8613800000000"): [(1, "delivered")],
            (Channel.EMAIL, "li@buyers.test"): [(1, "delivered")],
        }
        reasons = {r.channel: r.reason for r in records if r.status is DeliveryStatus.RETRYING}
        assert reasons == {
            Channel.DINGTALK: "dingtalk 'buyers' errcode 130101 (rate limited)",
            Channel.WECOM: "wecom 'warehouse' errcode 45009 (rate limited)",
        }
        _no_secret_in(records)

        platforms = world.platforms
        [hook] = platforms.accepted("webhook")
        assert hook.headers["Idempotency-Key"] == "ntf-every-channel"
        assert Notification.model_validate_json(hook.body) == notification
        [slack] = platforms.accepted("slack")
        assert slack.json()["text"].startswith("缺货: HP-200 in SH01\n")
        assert slack.json()["blocks"][-1]["elements"][0]["url"] == "https://stockloop.test/a/sig"
        # Both DingTalk posts were correctly signed: the first was only rate-limited.
        assert [r.accepted for r in platforms.received["dingtalk"]] == [False, True]
        assert all(_dingtalk_sign_ok(r.query) for r in platforms.received["dingtalk"])
        ding = platforms.accepted("dingtalk")[0].json()
        assert ding["msgtype"] == "markdown"
        assert (
            "[HP-200 out of stock in SH01](https://stockloop.test/materials/HP-200)"
            in (ding["markdown"]["text"])
        )
        wecom = platforms.accepted("wecom")[0].json()
        assert wecom["markdown"]["content"].startswith("### 缺货: HP-200 in SH01")
        [feishu] = platforms.accepted("feishu")
        assert feishu.json()["msg_type"] == "post"
        assert feishu.json()["content"]["post"]["zh_cn"]["title"] == "缺货: HP-200 in SH01"
        [sms] = platforms.accepted("aliyun")
        assert (sms.query["PhoneNumbers"], sms.query["SignName"], sms.query["OutId"]) == (
            "+8613800000000",
            "库存提醒",
            "ntf-every-channel",
        )
        assert orjson.loads(sms.query["TemplateParam"]) == {"message": notification.short}

        [(sender, recipients, raw)] = world.mailbox.messages
        assert (sender, recipients, world.mailbox.logins) == (
            "alerts@stockloop.test",
            ["li@buyers.test"],
            [SMTP_USER],
        )
        mail = message_from_bytes(raw, policy=policy.default)
        assert mail["Subject"] == notification.title
        assert mail.get_content_type() == "multipart/alternative"
        assert [part.get_content_type() for part in mail.iter_parts()] == [
            "text/plain",
            "text/html",
        ]
        assert mail.get_body(("plain",)).get_content().startswith("HP-200 is out of stock")
        assert mail.get_body(("html",)).get_content().strip() == notification.html

    _run(scenario)


def test_twilio_style_sms_carries_the_short_text_with_basic_auth():
    notification = _notification("ntf-twilio", (Channel.SMS, "+8613911112222"))

    async def scenario(world: World) -> None:
        async with open_channels(world.directory(), None, world.sms("twilio"), TIMEOUT_S) as ch:
            records = await Deliverer(ch, FAST, TIMEOUT_S).deliver(notification)
        assert _by_channel(records) == {(Channel.SMS, "+8613911112222"): [(1, "delivered")]}
        [sms] = world.platforms.accepted("twilio")
        form = dict(pair.split("=", 1) for pair in sms.body.decode().split("&"))
        assert form["To"] == quote("+8613911112222", safe="")
        assert form["From"] == quote("+15005550006", safe="")

    _run(scenario)


def test_500s_are_retried_and_a_receiver_that_never_answers_fails_after_the_budget():
    notification = _notification(
        "ntf-patience",
        (Channel.WEBHOOK, "flaky"),
        (Channel.WEBHOOK, "silent"),
        (Channel.WEBHOOK, "erp-bridge"),
    )

    async def scenario(world: World) -> None:
        world.platforms.first_answers = {
            "flaky": [web.Response(status=500), web.Response(status=500)]
        }
        async with open_channels(world.directory(), None, None, SILENT_TIMEOUT_S) as channels:
            records = await Deliverer(channels, FAST, SILENT_TIMEOUT_S).deliver(notification)

        assert _by_channel(records) == {
            (Channel.WEBHOOK, "flaky"): [(1, "retrying"), (2, "retrying"), (3, "delivered")],
            (Channel.WEBHOOK, "silent"): [(1, "retrying"), (2, "retrying"), (3, "failed")],
            (Channel.WEBHOOK, "erp-bridge"): [(1, "delivered")],
        }
        reasons = [(r.address, r.reason) for r in records if r.reason]
        assert ("flaky", "HTTP 500 from webhook 'flaky'") in reasons
        assert (
            "silent",
            "no answer from webhook 'silent' within 2 s; gave up after 3 attempts",
        ) in reasons
        assert len(world.platforms.received["never"]) == 3
        assert len(world.platforms.accepted("flaky")) == 1

    _run(scenario)


def test_a_redelivered_notification_is_not_sent_twice():
    notification = _notification(
        "ntf-once", (Channel.WEBHOOK, "erp-bridge"), (Channel.DINGTALK, "buyers")
    )

    async def scenario(world: World) -> None:
        async with open_channels(world.directory(), None, None, TIMEOUT_S) as channels:
            deliverer = Deliverer(channels, FAST, TIMEOUT_S)
            # The same record twice in one poll, sent side by side, then once more.
            first, beside = await asyncio.gather(
                deliverer.deliver(notification), deliverer.deliver(notification)
            )
            again = await deliverer.deliver(notification)
            # A restarted process that read the deliveries topic back.
            ledger = DeliveryLedger()
            for record in first + beside:
                ledger.add(record)
            restarted = await Deliverer(channels, FAST, TIMEOUT_S, ledger=ledger).deliver(
                notification
            )
        assert len(first) == 2
        assert (beside, again, restarted) == ([], [], [])
        assert len(world.platforms.received["webhook"]) == 1
        assert len(world.platforms.received["dingtalk"]) == 1

    _run(scenario)


def test_refusals_fail_at_once_with_reasons_that_hold_no_secret():
    notification = _notification(
        "ntf-refused",
        (Channel.DINGTALK, "buyers"),
        (Channel.WEBHOOK, "forged"),
        (Channel.WEBHOOK, "nobody"),
        (Channel.SMS, "+8613800000000"),
    )

    async def scenario(world: World) -> None:
        directory = world.directory(dingtalk_secret="SEC-a-stale-secret")
        async with open_channels(directory, None, None, TIMEOUT_S) as channels:
            records = await Deliverer(channels, FAST, TIMEOUT_S).deliver(notification)
        assert {(r.address, r.attempt, r.status.value, r.reason) for r in records} == {
            ("buyers", 1, "failed", "dingtalk 'buyers' errcode 310000: sign not match"),
            (
                "forged",
                1,
                "failed",
                "HTTP 401 from webhook 'forged': "
                '{"error": "signature does not match the body and timestamp"}',
            ),
            ("nobody", 1, "failed", "no webhook endpoint named 'nobody' in the directory"),
            ("+8613800000000", 1, "failed", "no sms channel is configured for delivery"),
        }
        _no_secret_in(records)
        assert "SEC-a-stale-secret" not in "".join(r.model_dump_json() for r in records)

    _run(scenario)


def test_a_rate_limited_robot_gets_every_message_in_turn_never_more_than_the_limit():
    limit, period_s, count = 3, 1.0, 8
    notifications = [
        _notification(f"ntf-burst-{n}", (Channel.WECOM, "warehouse")) for n in range(count)
    ]

    async def scenario(world: World) -> None:
        async with open_channels(world.directory(), None, None, TIMEOUT_S) as channels:
            deliverer = Deliverer(
                channels, FAST, TIMEOUT_S, limits={Channel.WECOM: RateLimit(limit, period_s)}
            )
            results = await asyncio.gather(*(deliverer.deliver(n) for n in notifications))
        assert all([r.status for r in records] == [DeliveryStatus.DELIVERED] for records in results)
        arrivals = [r.at for r in world.platforms.received["wecom"]]
        assert len(arrivals) == count
        # Arrivals carry the network's jitter on top of the limiter's schedule (the first
        # ones open connections), so the check allows half a period of it: never more than
        # the limit within half a period (all at once without a limit), and the whole burst
        # spread over the periods it needs.
        half = [arrivals[i + limit] - arrivals[i] for i in range(count - limit)]
        assert min(half) > period_s / 2, half
        assert arrivals[-1] - arrivals[0] >= (count - 1) // limit * period_s - period_s / 2

    _run(scenario)
