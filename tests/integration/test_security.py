"""TLS and SCRAM end to end: a broker with a SASL_SSL listener, and the pipeline through it.

The test makes its own CA and broker certificate with ``openssl``, starts a broker
of its own with ``stockloop broker start --sasl-ssl-port`` (its SCRAM user created
by Kafka's storage formatter), and connects the worker, the topic admin and the CLI
only through the SASL_SSL listener.
"""

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from tests.integration.harness import STOCKLOOP, Pipeline, wait_until

pytestmark = pytest.mark.integration

PLAINTEXT_PORT = 19410  # the broker's own listener; the controller is on 19411
SASL_SSL_PORT = 19412
USER = "stockloop-it"
PASSWORD = "it pa=ss-w0rd!"  # a space and an equals sign: quoting must hold
KEYSTORE_PASSWORD = "keystore-secret"
T = "2026-05-04T08:00:00Z"


@dataclass(frozen=True)
class Certificates:
    """A test CA, and the broker's key and certificate (signed by it) in a PKCS12 keystore."""

    ca: Path
    keystore: Path


def _openssl(*arguments: str) -> None:
    subprocess.run(["openssl", *arguments], check=True, capture_output=True)


def make_certificates(directory: Path) -> Certificates:
    """A CA and a broker certificate for 127.0.0.1 (an IP subjectAltName: clients check it)."""
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    key, request, certificate = (directory / f"broker.{ext}" for ext in ("key", "csr", "pem"))
    san = directory / "san.ext"
    san.write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=stockloop test CA", "-keyout", str(ca_key), "-out", str(ca),
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", str(key), "-out", str(request),
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(san), "-out", str(certificate),
    )  # fmt: skip
    keystore = directory / "broker.p12"
    _openssl(
        "pkcs12", "-export", "-in", str(certificate), "-inkey", str(key), "-certfile", str(ca),
        "-name", "broker", "-passout", f"pass:{KEYSTORE_PASSWORD}", "-out", str(keystore),
    )  # fmt: skip
    return Certificates(ca=ca, keystore=keystore)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def secure_broker(
    tmp_path_factory: pytest.TempPathFactory, certificates: Certificates
) -> Iterator[None]:
    """A broker of this module's own, started by the CLI with a SASL_SSL listener."""
    env = dict(os.environ) | {
        "STOCKLOOP_BROKER_PORT": str(PLAINTEXT_PORT),
        "STOCKLOOP_CONTROLLER_PORT": str(PLAINTEXT_PORT + 1),
        "STOCKLOOP_BROKER_DIR": str(tmp_path_factory.mktemp("secure-broker")),
        "STOCKLOOP_BROKER_KEYSTORE_PASSWORD": KEYSTORE_PASSWORD,
        "STOCKLOOP_BROKER_SCRAM_PASSWORD": PASSWORD,
    }
    listener = ["--sasl-ssl-port", str(SASL_SSL_PORT), "--keystore", str(certificates.keystore)]
    subprocess.run(
        [STOCKLOOP, "broker", "start", *listener, "--scram-user", USER],
        env=env,
        check=True,
        capture_output=True,
    )
    yield
    subprocess.run([STOCKLOOP, "broker", "stop"], env=env, check=True, capture_output=True)


def _cli(settings: dict[str, object], *arguments: str) -> subprocess.CompletedProcess[str]:
    """``stockloop ARGUMENTS`` with ``settings`` (None: unset) as its environment."""
    env = {f"STOCKLOOP_{name.upper()}": str(value) for name, value in settings.items() if value}
    return subprocess.run(
        [STOCKLOOP, *arguments],
        env=dict(os.environ) | env | {"COLUMNS": "250"},
        capture_output=True,
        text=True,
        check=False,
    )


def _secure(certificates: Certificates) -> dict[str, object]:
    """Settings that reach the broker through its SASL_SSL listener only."""
    return {
        "broker_port": SASL_SSL_PORT,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": USER,
        "sasl_password": PASSWORD,
        "ssl_cafile": certificates.ca,
    }


def test_the_pipeline_runs_through_a_sasl_ssl_listener(
    secure_broker: None, certificates: Certificates, tmp_path: Path
) -> None:
    pipeline = Pipeline(tmp_path, **_secure(certificates))  # creates its topics through it
    movements = tmp_path / "movements.jsonl"
    movements.write_bytes(
        b"".join(
            orjson.dumps(
                {
                    "event_id": event_id,
                    "event_time": T,
                    "material_id": "M-1",
                    "movement_type": "receipt" if event_id == "r1" else "issue",
                    "warehouse_id": "W1",
                    "quantity": quantity,
                }
            )
            + b"\n"
            for event_id, quantity in (("r1", 100), ("i1", 30), ("bad", "lots"))
        )
    )
    try:
        pipeline.start()
        pipeline.send(
            "erp.materials",
            {"event_id": "m1", "event_time": T, "material_id": "M-1", "name": "Cotton fabric"},
        )
        pipeline.flush()
        pipeline.cli("produce", "erp.stock-movements", str(movements))  # the CLI's producer

        state = wait_until(
            lambda: (s := pipeline.material("M-1")) and s["events_applied"] == 3 and s
        )
        letters = wait_until(lambda: "lots" in (out := pipeline.cli("dead-letters")) and out)

        assert state["warehouses"]["W1"]["on_hand"] == 70
        assert "quantity" in letters  # read back by the CLI's consumer
        assert PASSWORD not in httpx.get(f"{pipeline.url}/metrics", timeout=10).text
        assert PASSWORD not in pipeline.log_path.read_text()
    finally:
        pipeline.close()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sasl_password": "wrong-" + PASSWORD}, f"refused the login of {USER!r}"),
        ({"ssl_cafile": None}, "certificate verify failed"),
        ({"broker_port": PLAINTEXT_PORT}, "expects another STOCKLOOP_SECURITY_PROTOCOL"),
    ],
    ids=["wrong password", "broker certificate not trusted", "plaintext port"],
)
def test_a_refused_client_fails_with_one_line_that_hides_the_password(
    secure_broker: None,
    certificates: Certificates,
    change: dict[str, object],
    reason: str,
) -> None:
    result = _cli(_secure(certificates) | change, "topics", "list")

    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert reason in result.stderr
    assert "pa=ss-w0rd" not in result.stdout + result.stderr


def test_the_broker_user_logs_in_with_scram_sha_256_too(
    secure_broker: None, certificates: Certificates
) -> None:
    result = _cli(_secure(certificates) | {"sasl_mechanism": "SCRAM-SHA-256"}, "topics", "list")

    assert result.returncode == 0, result.stderr


def test_a_worker_whose_login_is_refused_says_why_in_one_line(
    secure_broker: None, certificates: Certificates
) -> None:
    result = _cli(_secure(certificates) | {"sasl_password": "wrong-" + PASSWORD}, "worker")

    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"refused the login of {USER!r}" in result.stderr
    assert "pa=ss-w0rd" not in result.stdout + result.stderr
