"""The endpoint directory: where each named webhook, Slack, DingTalk, WeCom or Feishu endpoint is.

A notification's destination names an endpoint (``dingtalk`` / ``buyers``),
never its URL: a robot's URL holds its access token, and the token and the
signing secret must stay out of notifications, logs and delivery records.
The directory is a YAML or JSON document, from a file or from one setting::

    dingtalk:
      buyers:
        url: https://oapi.dingtalk.com/robot/send?access_token=...
        secret_env: DINGTALK_BUYERS_SECRET   # or secret: SEC..., kept out of files in git
    webhook:
      erp-bridge: {url: https://erp.example.com/hooks/stockloop, secret_env: ERP_HOOK_SECRET}

URLs and secrets are ``SecretStr``: printing an endpoint shows ``**********``.
The SMTP server and the SMS provider are the other two things delivery
reaches; ``SmtpServer`` and ``SmsAccount`` hold their connection arguments.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from models.notifications import Channel


class EndpointError(ValueError):
    """The directory is unusable, or names no endpoint for a destination: one line, no secret."""


class Endpoint(BaseModel):
    """One named endpoint: its URL (which may hold a token) and its signing secret."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    url: SecretStr
    secret: SecretStr | None = None

    @model_validator(mode="after")
    def _http_url(self) -> Self:
        if not self.url.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("url is not an http:// or https:// URL")
        return self


class EndpointDirectory(BaseModel):
    """Endpoints by channel and name; ``endpoint`` finds the one a destination names."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    webhook: dict[str, Endpoint] = Field(default_factory=dict)
    slack: dict[str, Endpoint] = Field(default_factory=dict)
    dingtalk: dict[str, Endpoint] = Field(default_factory=dict)
    wecom: dict[str, Endpoint] = Field(default_factory=dict)
    feishu: dict[str, Endpoint] = Field(default_factory=dict)

    def endpoint(self, channel: Channel, name: str) -> Endpoint:
        """The endpoint ``name`` of ``channel``; ``EndpointError`` if the directory lacks it."""
        try:
            return getattr(self, channel.value)[name]
        except (AttributeError, KeyError):
            raise EndpointError(
                f"no {channel.value} endpoint named {name!r} in the directory"
            ) from None


def parse_directory(text: str, source: str, environ: Mapping[str, str]) -> EndpointDirectory:
    """The directory in ``text`` (YAML, so JSON too), read from ``source`` (named in errors).

    An endpoint's ``secret_env: NAME`` is replaced by the value of ``environ[NAME]``;
    a variable that is not set is an error, not a missing secret.
    """
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise EndpointError(f"{source}{where}: not YAML or JSON") from None
    if not isinstance(document, dict):
        raise EndpointError(f"{source}: a mapping of channel to endpoints is expected")
    for channel, endpoints in document.items():
        if not isinstance(endpoints, dict):
            continue
        for name, fields in endpoints.items():
            if isinstance(fields, dict) and "secret_env" in fields:
                fields = dict(fields)
                variable = str(fields.pop("secret_env"))
                if not environ.get(variable):
                    raise EndpointError(
                        f"{source}: {channel}.{name}.secret_env: environment variable "
                        f"{variable} is not set or empty"
                    )
                fields["secret"] = environ[variable]
                endpoints[name] = fields
    try:
        return EndpointDirectory.model_validate(document)
    except ValidationError as error:
        problem = error.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in problem["loc"])
        reason = problem["msg"].removeprefix("Value error, ")
        raise EndpointError(f"{source}: {field}: {reason}") from None


def load_directory(path: Path, environ: Mapping[str, str]) -> EndpointDirectory:
    """The directory in the YAML or JSON file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise EndpointError(
            f"{path}: cannot read the endpoint directory ({error.strerror})"
        ) from None
    return parse_directory(text, str(path), environ)


class SmtpServer(BaseModel):
    """The mail server email notifications are handed to, and how to log in to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int = Field(587, ge=1, le=65535)
    user: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    cafile: Path | None = None
    """PEM certificates to trust for the server's TLS certificate (a company's own CA);
    none: the system's."""
    sender: str  # the From header, e.g. "stockloop <alerts@example.com>"


class SmsAccount(BaseModel):
    """An SMS provider account: which API, its base URL and credentials.

    ``twilio``: ``account`` is the Account SID, ``secret`` its auth token,
    ``sender`` the From number. ``aliyun`` (Alibaba Cloud SMS): ``account`` is
    the AccessKey ID, ``secret`` the AccessKey secret, ``sender`` the SignName
    and ``template`` the TemplateCode whose ``${message}`` variable carries the text.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Literal["twilio", "aliyun"]
    url: str  # e.g. https://api.twilio.com, https://dysmsapi.aliyuncs.com
    account: str
    secret: SecretStr
    sender: str
    template: str | None = None
    region: str = "cn-hangzhou"

    @model_validator(mode="after")
    def _aliyun_has_template(self) -> Self:
        if self.provider == "aliyun" and not self.template:
            raise ValueError("an aliyun SMS account needs the template (TemplateCode)")
        return self
