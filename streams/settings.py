"""Settings of a stockloop process, from ``STOCKLOOP_*`` environment variables or ``.env``.

One config source (design principle 7): every knob a worker, the CLI or a test
needs is a field here, validated once at start-up.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.kafka_security import KafkaSecurity, SaslMechanism, SecurityProtocol
from models.planning import PlanningConfig
from streams.catalogue import TRANSITION_TOPICS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CACHE_ROOT = Path.home() / ".cache" / "stockloop"


class DeliverySettings(BaseModel):
    """How ``stockloop deliver`` reaches people: endpoints, mail server, SMS provider, patience.

    Set as ``STOCKLOOP_DELIVERY__<FIELD>``, e.g. ``STOCKLOOP_DELIVERY__SMTP_HOST``.
    Secrets (the SMTP password, the SMS secret, the endpoint directory, which
    holds robot URLs with tokens) are ``SecretStr``: never logged or shown.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    endpoints_file: FilePath | None = Field(
        None,
        description="YAML or JSON endpoint directory: webhook, Slack, DingTalk, WeCom and Feishu "
        "endpoint names to URL and secret (connectors/delivery/endpoints.py).",
    )
    endpoints: SecretStr | None = Field(
        None,
        description="The endpoint directory itself, as JSON, for deployments without a file; "
        "used when endpoints_file is not set.",
    )
    smtp_host: str | None = Field(None, description="Mail server for email; none: no email.")
    smtp_port: int = Field(587, ge=1, le=65535, description="Mail server port.")
    smtp_user: str | None = Field(None, description="Mail server login; none: no login.")
    smtp_password: SecretStr | None = Field(None, description="Mail server password.")
    smtp_starttls: bool = Field(True, description="Upgrade the mail connection with STARTTLS.")
    smtp_cafile: FilePath | None = Field(
        None,
        description="PEM file of the CA that signed the mail server's certificate (a company's "
        "own CA); none: the system's trusted CAs.",
    )
    smtp_from: str = Field(
        "stockloop <stockloop@localhost>", min_length=3, description="From header of emails."
    )
    sms_provider: Literal["twilio", "aliyun"] | None = Field(
        None, description="SMS API: twilio (Twilio-style) or aliyun (Alibaba Cloud SMS-style)."
    )
    sms_url: str | None = Field(
        None,
        description="SMS API base URL, e.g. https://api.twilio.com or https://dysmsapi.aliyuncs.com.",
    )
    sms_account: str | None = Field(None, description="Twilio Account SID or AccessKey ID.")
    sms_secret: SecretStr | None = Field(None, description="Twilio auth token or AccessKey secret.")
    sms_sender: str | None = Field(None, description="Twilio From number, or Alibaba SignName.")
    sms_template: str | None = Field(
        None, description="Alibaba TemplateCode; its ${message} variable carries the text."
    )
    timeout_s: float = Field(
        10.0, gt=0, le=300, description="How long one attempt may wait for a platform's answer."
    )
    max_attempts: int = Field(
        5, ge=1, le=50, description="Attempts per destination before it is recorded as failed."
    )
    first_backoff_s: float = Field(
        1.0, ge=0, le=3600, description="Longest wait before the first retry (full jitter)."
    )
    max_backoff_s: float = Field(
        60.0, ge=0, le=3600, description="Longest wait between attempts, however many failed."
    )
    dingtalk_per_minute: int = Field(
        20, ge=1, le=10_000, description="Messages per minute to one DingTalk robot (its limit)."
    )
    wecom_per_minute: int = Field(
        20, ge=1, le=10_000, description="Messages per minute to one WeCom robot (its limit)."
    )
    feishu_per_minute: int = Field(
        100, ge=1, le=10_000, description="Messages per minute to one Feishu bot (its limit)."
    )
    slack_per_minute: int = Field(
        60, ge=1, le=10_000, description="Messages per minute to one Slack incoming webhook."
    )
    webhook_per_minute: int | None = Field(
        None, ge=1, description="Messages per minute to one webhook endpoint; none: no limit."
    )
    sms_per_minute: int | None = Field(
        None, ge=1, description="SMS per minute through the provider account; none: no limit."
    )
    email_per_minute: int | None = Field(
        None, ge=1, description="Emails per minute through the mail server; none: no limit."
    )

    @model_validator(mode="after")
    def _complete(self) -> Self:
        """A half-configured SMS provider is refused at start-up, not at the first SMS."""
        if self.sms_provider is not None:
            needed = ["sms_url", "sms_account", "sms_secret", "sms_sender"]
            if self.sms_provider == "aliyun":
                needed.append("sms_template")
            for name in needed:
                if getattr(self, name) is None:
                    raise ValueError(
                        f"{name.upper()} is required with SMS_PROVIDER={self.sms_provider}"
                    )
        if self.first_backoff_s > self.max_backoff_s:
            raise ValueError("FIRST_BACKOFF_S is longer than MAX_BACKOFF_S")
        return self


class Settings(BaseSettings):
    """Runtime settings; every field can be set as ``STOCKLOOP_<FIELD>``."""

    # Errors never show the input: it holds STOCKLOOP_SASL_PASSWORD.
    model_config = SettingsConfigDict(
        env_prefix="STOCKLOOP_",
        env_file=".env",
        extra="ignore",
        env_nested_delimiter="__",
        hide_input_in_errors=True,
    )

    app_id: str = Field("stockloop", description="Faust app id: consumer group and table prefix.")
    broker_host: str = Field("127.0.0.1", description="Host the local broker listens on.")
    broker_port: int = Field(9092, ge=1, le=65535, description="Kafka listener port.")
    controller_port: int = Field(9093, ge=1, le=65535, description="KRaft controller port.")
    broker_dir: Path = Field(CACHE_ROOT / "broker", description="Local broker data, logs, pid.")
    kafka_jars_dir: Path = Field(CACHE_ROOT / "kafka-jars", description="Maven-fetched jars.")
    broker_keystore_password: SecretStr | None = Field(
        None, description="Local broker: password of the keystore of `broker start --keystore`."
    )
    broker_scram_password: SecretStr | None = Field(
        None, description="Local broker: password of `broker start --scram-user`."
    )
    topic_prefix: str = Field("", description="Prefix for every topic name (isolates test runs).")
    output_prefix: str | None = Field(
        None,
        description="Prefix of the transition topics (alerts, purchase requests, transfers, "
        "reviews) instead of topic_prefix: a replay's worker writes them there, and "
        "`stockloop replay` writes them again under its own prefix in event-time order.",
    )
    topics_file: Path = Field(PROJECT_ROOT / "topics.yaml", description="The topic catalogue.")
    mapping_file: Path = Field(
        PROJECT_ROOT / "connectors" / "mappings" / "example-erp.yaml",
        description="CDC mapping: ERP tables and columns to event fields.",
    )
    data_dir: Path = Field(Path(".stockloop") / "data", description="Faust/RocksDB state dir.")
    web_host: str = Field("127.0.0.1", description="Interface of the worker's web server.")
    web_port: int = Field(6066, ge=1, le=65535, description="Port of the worker's web server.")
    table_store: str = Field(
        "rocksdb://",
        description="Faust table store URL; rocksdb:// is streams.table_store's RocksDB store.",
    )
    max_event_bytes: int = Field(65_536, gt=0, description="Larger input values are dead-lettered.")
    event_time_window_years: int = Field(
        10,
        ge=1,
        le=100,
        description="Input events whose event time is more than this many years before or "
        "after the wall clock are dead-lettered: such a time is a garbled date, not history.",
    )
    tick_interval_s: float = Field(
        60.0, gt=0, description="Wall-clock ticks: how often time-based rules are evaluated."
    )
    clock: Literal["wall", "data"] = Field(
        "wall",
        description="wall: ticks carry the wall clock (live); data: a new event-time day in a "
        "partition ticks it (replay and backtests).",
    )
    planning: PlanningConfig = Field(
        default_factory=PlanningConfig,
        description="Demand counting and policy, e.g. STOCKLOOP_PLANNING__GRACE_DAYS=2.",
    )
    session_timeout_s: float = Field(10.0, gt=0, description="Consumer-group session timeout.")
    commit_interval_s: float = Field(1.0, gt=0, description="Offset commit interval.")
    max_poll_records: int = Field(
        100,
        gt=0,
        description="Records handed to the agents per fetch. Unbounded, a fetch under load "
        "is one large batch, and what ingest forwards waits for the whole batch: at 500 "
        "events/s, 100 halved the ingest-to-applied p50 (1.5 s to 0.7-0.9 s).",
    )
    lateness_s: float = Field(
        3_600.0,
        ge=0,
        description="How far an input partition may deliver events out of event-time order: "
        "while inputs are being caught up on, events are applied once every input has passed "
        "their time by this much (no delay once all inputs are read to their end).",
    )
    watermark_interval_s: float = Field(
        1.0,
        gt=0,
        description="How often ingest reports its input partitions' event time to the "
        "material partitions (and at once when an input partition has been read to its end).",
    )

    erp_handoff_url: str | None = Field(
        None,
        description="ERP hand-off: the endpoint `stockloop requests handoff` posts approved "
        "purchase requests to (docs/erp-handoff.md); its --url overrides it.",
    )
    erp_handoff_token: SecretStr | None = Field(
        None,
        description="ERP hand-off: bearer token sent to the ERP; never logged or shown "
        "(--token-env names another variable that holds it).",
    )
    erp_handoff_reference_field: str = Field(
        "reference",
        min_length=1,
        description="ERP hand-off: the field of the ERP's JSON answer that holds its reference; "
        "a dotted name reaches into an object (data.requisition_no).",
    )

    public_url: str | None = Field(
        None,
        description="Notifications: the worker's address as people reach it (e.g. "
        "https://stockloop.example.com); links to materials and one-click actions start with it. "
        "Unset: notifications carry no links.",
    )
    action_link_secret: SecretStr | None = Field(
        None,
        description="Notifications: the key that signs one-click action links (acknowledge, "
        "approve); unset: notifications offer no actions. Never logged or shown.",
    )
    action_link_ttl_s: float = Field(
        7 * 86_400.0, gt=0, description="Notifications: how long an action link stays valid."
    )

    delivery: DeliverySettings = Field(
        default_factory=DeliverySettings,
        description="Delivery of notifications (`stockloop deliver`), e.g. "
        "STOCKLOOP_DELIVERY__SMTP_HOST=mail.example.com.",
    )

    security_protocol: SecurityProtocol = Field(
        "PLAINTEXT",
        description="How clients reach the broker: PLAINTEXT, SSL (TLS), SASL_PLAINTEXT "
        "(a login, unencrypted) or SASL_SSL (a login over TLS).",
    )
    sasl_mechanism: SaslMechanism = Field(
        "SCRAM-SHA-512", description="SASL login mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512."
    )
    sasl_username: str | None = Field(None, description="SASL user; required with SASL_*.")
    sasl_password: SecretStr | None = Field(
        None, description="SASL password; required with SASL_*, never logged or shown."
    )
    ssl_cafile: FilePath | None = Field(
        None,
        description="PEM CA certificates the broker's certificate is checked against "
        "(default: the system's trust store).",
    )
    ssl_certfile: FilePath | None = Field(
        None, description="PEM client certificate, for brokers that require mutual TLS."
    )
    ssl_keyfile: FilePath | None = Field(None, description="PEM private key of ssl_certfile.")
    ssl_key_password: SecretStr | None = Field(
        None, description="Password of an encrypted ssl_keyfile; never logged or shown."
    )

    @model_validator(mode="after")
    def _security_is_complete(self) -> Self:
        """A security setting that the protocol needs is set, and none that it ignores.

        A TLS or SASL option beside a protocol that does not use it is a mistake (most
        often a forgotten STOCKLOOP_SECURITY_PROTOCOL), so it is refused, not ignored.
        """
        protocol = f"STOCKLOOP_SECURITY_PROTOCOL={self.security_protocol}"
        security = self.kafka_security
        if security.uses_sasl:
            for name in ("sasl_username", "sasl_password"):
                if getattr(self, name) is None:
                    raise ValueError(f"STOCKLOOP_{name.upper()} is required with {protocol}")
        else:
            for name in ("sasl_username", "sasl_password"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"STOCKLOOP_{name.upper()} is set but {protocol} does not log in; "
                        "use SASL_SSL or SASL_PLAINTEXT"
                    )
        if not security.uses_tls:
            for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_key_password"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"STOCKLOOP_{name.upper()} is set but {protocol} does not use TLS; "
                        "use SSL or SASL_SSL"
                    )
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise ValueError("STOCKLOOP_SSL_KEYFILE is set without STOCKLOOP_SSL_CERTFILE")
        return self

    @property
    def kafka_security(self) -> KafkaSecurity:
        """The connection security every Kafka client and the Faust app are built with."""
        return KafkaSecurity(
            protocol=self.security_protocol,
            mechanism=self.sasl_mechanism,
            username=self.sasl_username,
            password=_reveal(self.sasl_password),
            cafile=self.ssl_cafile,
            certfile=self.ssl_certfile,
            keyfile=self.ssl_keyfile,
            key_password=_reveal(self.ssl_key_password),
        )

    @property
    def bootstrap_servers(self) -> str:
        """The Kafka bootstrap address clients connect to."""
        return f"{self.broker_host}:{self.broker_port}"

    def topic(self, name: str) -> str:
        """The physical name of catalogue topic ``name`` under this run's prefix."""
        if self.output_prefix is not None and name in TRANSITION_TOPICS:
            return f"{self.output_prefix}{name}"
        return f"{self.topic_prefix}{name}"


def refused_settings(error: ValidationError) -> list[str]:
    """Why ``Settings`` refused its input: one line per problem, named as its variable.

    The input itself is never part of a line (``hide_input_in_errors``): it may
    be a password.
    """
    lines = []
    for problem in error.errors(include_input=False, include_url=False):
        reason = problem["msg"].removeprefix("Value error, ")
        variable = "__".join(str(part) for part in problem["loc"]).upper()
        lines.append(f"STOCKLOOP_{variable}: {reason}" if variable else reason)
    return lines


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
