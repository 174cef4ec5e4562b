"""Connection security options: what every Kafka client is built with, and its refusals."""

import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from connectors.kafka_security import KafkaSecurity, KafkaSecurityError, refusal

PASSWORD = "correct horse battery staple"
KEY_PASSWORD = "key-secret-42"


def test_a_plaintext_client_gets_neither_tls_nor_a_login() -> None:
    assert KafkaSecurity().kafka_python_kwargs() == {"security_protocol": "PLAINTEXT"}


def test_a_sasl_ssl_client_logs_in_over_tls_that_checks_the_broker() -> None:
    security = KafkaSecurity("SASL_SSL", "SCRAM-SHA-256", "stockloop", PASSWORD)

    kwargs = security.kafka_python_kwargs()

    context = kwargs.pop("ssl_context")
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert kwargs == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "stockloop",
        "sasl_plain_password": PASSWORD,
    }


def test_a_sasl_plaintext_client_logs_in_without_tls() -> None:
    security = KafkaSecurity("SASL_PLAINTEXT", "PLAIN", "stockloop", PASSWORD)

    assert "ssl_context" not in security.kafka_python_kwargs()
    assert security.ssl_context() is None


def test_passwords_are_not_in_the_repr() -> None:
    security = KafkaSecurity(
        "SASL_SSL", username="stockloop", password=PASSWORD, key_password="k3y"
    )

    assert PASSWORD not in repr(security)
    assert "k3y" not in repr(security)
    assert "stockloop" in repr(security)


def test_an_unloadable_certificate_is_one_error_naming_the_files(tmp_path: Path) -> None:
    certificate = tmp_path / "client.pem"
    certificate.write_text("not a certificate\n")

    with pytest.raises(KafkaSecurityError, match=r"client\.pem") as error:
        KafkaSecurity("SSL", certfile=certificate).ssl_context()
    assert "\n" not in str(error.value)


def test_nothing_listening_is_not_a_refusal() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the check: nobody listens

    assert (
        refusal(f"127.0.0.1:{port}", KafkaSecurity("SASL_SSL", username="u", password="p")) is None
    )


@pytest.fixture
def client_certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed client certificate and its key, encrypted with KEY_PASSWORD."""
    key, certificate = tmp_path / "client.key", tmp_path / "client.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-days", "1", "-subj", "/CN=client"]
    files = ["-keyout", str(key), "-out", str(certificate)]
    subprocess.run(
        ["openssl", *request, "-passout", f"pass:{KEY_PASSWORD}", *files],
        check=True,
        capture_output=True,
    )
    return certificate, key


def test_a_client_certificate_with_an_encrypted_key_is_loaded(
    client_certificate: tuple[Path, Path],
) -> None:
    certificate, key = client_certificate
    security = KafkaSecurity("SSL", certfile=certificate, keyfile=key, key_password=KEY_PASSWORD)

    assert security.ssl_context() is not None


def test_a_wrong_key_password_is_one_error_without_the_password(
    client_certificate: tuple[Path, Path],
) -> None:
    certificate, key = client_certificate
    security = KafkaSecurity("SSL", certfile=certificate, keyfile=key, key_password="not-it-77")

    with pytest.raises(KafkaSecurityError) as error:
        security.ssl_context()
    assert "client.key" in str(error.value)
    assert "not-it-77" not in str(error.value)
