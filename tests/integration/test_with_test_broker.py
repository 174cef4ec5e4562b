"""``scripts/with-test-broker.sh``: a private broker for one command, gone without a trace after."""

import os
import socket
import subprocess

import pytest

from streams.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_private_broker_is_stopped_and_its_directory_removed_afterwards():
    port = _free_port()
    env = os.environ | {
        "STOCKLOOP_TEST_BROKER_PORT": str(port),
        "STOCKLOOP_TEST_CONTROLLER_PORT": str(_free_port()),
    }
    broker_dir = PROJECT_ROOT / ".stockloop" / f"test-broker-{port}"
    result = subprocess.run(
        [
            PROJECT_ROOT / "scripts" / "with-test-broker.sh",
            "sh",
            "-c",
            'ls "$STOCKLOOP_BROKER_DIR"',
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "broker.pid" in result.stdout  # the command ran beside the running broker
    assert not broker_dir.exists()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
