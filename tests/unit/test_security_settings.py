"""Security settings: refused when incomplete or contradictory, and never showing a secret."""

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from streams.cli import main
from streams.settings import Settings, refused_settings

PASSWORD = "hunter2-not-for-logs"


def _error(**settings: object) -> str:
    """The one reason ``Settings(**settings)`` is refused."""
    with pytest.raises(ValidationError) as refused:
        Settings(**settings)
    errors = refused.value.errors()
    assert len(errors) == 1, errors
    return errors[0]["msg"].removeprefix("Value error, ")


def test_plaintext_is_the_default() -> None:
    assert Settings().kafka_security.protocol == "PLAINTEXT"


def test_sasl_without_a_username_names_the_missing_setting() -> None:
    message = _error(security_protocol="SASL_SSL", sasl_password=PASSWORD)

    assert message == (
        "STOCKLOOP_SASL_USERNAME is required with STOCKLOOP_SECURITY_PROTOCOL=SASL_SSL"
    )


def test_sasl_without_a_password_names_the_missing_setting() -> None:
    message = _error(security_protocol="SASL_PLAINTEXT", sasl_username="stockloop")

    assert message.startswith("STOCKLOOP_SASL_PASSWORD is required")


def test_a_tls_file_without_a_tls_protocol_is_refused(tmp_path: Path) -> None:
    cafile = tmp_path / "ca.pem"
    cafile.write_text("")

    message = _error(ssl_cafile=cafile)

    assert message.startswith(
        "STOCKLOOP_SSL_CAFILE is set but STOCKLOOP_SECURITY_PROTOCOL=PLAINTEXT"
    )


def test_a_login_without_a_sasl_protocol_is_refused() -> None:
    message = _error(security_protocol="SSL", sasl_username="stockloop")

    assert "STOCKLOOP_SASL_USERNAME is set but" in message


def test_a_key_without_its_certificate_is_refused(tmp_path: Path) -> None:
    keyfile = tmp_path / "client.key"
    keyfile.write_text("")

    message = _error(security_protocol="SSL", ssl_keyfile=keyfile)

    assert message == "STOCKLOOP_SSL_KEYFILE is set without STOCKLOOP_SSL_CERTFILE"


def test_an_unknown_mechanism_is_refused() -> None:
    with pytest.raises(ValidationError, match="sasl_mechanism"):
        Settings(sasl_mechanism="GSSAPI")


def test_the_password_is_never_in_the_settings_repr_or_errors() -> None:
    settings = Settings(
        security_protocol="SASL_SSL", sasl_username="stockloop", sasl_password=PASSWORD
    )
    with pytest.raises(ValidationError) as refused:  # the raw input holds the password
        Settings(security_protocol="SASL_SSL", sasl_password=PASSWORD)

    for shown in (repr(settings), str(settings), repr(settings.kafka_security), str(refused.value)):
        assert PASSWORD not in shown


def test_clients_get_the_settings_login(tmp_path: Path) -> None:
    cafile = tmp_path / "ca.pem"
    cafile.write_text("")
    settings = Settings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="stockloop",
        sasl_password=PASSWORD,
        ssl_cafile=cafile,
    )

    security = settings.kafka_security

    assert (security.protocol, security.mechanism) == ("SASL_SSL", "SCRAM-SHA-256")
    assert (security.username, security.password, security.cafile) == (
        "stockloop",
        PASSWORD,
        cafile,
    )


def test_refused_settings_are_named_as_their_variables() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(planning={"grace_days": -1})

    assert refused_settings(refused.value) == [
        "STOCKLOOP_PLANNING__GRACE_DAYS: Input should be greater than or equal to 0"
    ]


def test_the_command_line_says_a_refused_setting_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STOCKLOOP_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("STOCKLOOP_SASL_PASSWORD", PASSWORD)
    monkeypatch.setattr(sys, "argv", ["stockloop", "topics", "list"])

    with pytest.raises(SystemExit) as exited:
        main()

    output = capsys.readouterr()
    assert exited.value.code == 1
    assert " ".join(output.err.split()) == (
        "error: STOCKLOOP_SASL_USERNAME is required with STOCKLOOP_SECURITY_PROTOCOL=SASL_SSL"
    )
    assert PASSWORD not in output.out + output.err
