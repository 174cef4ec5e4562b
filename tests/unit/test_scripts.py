"""``make clean`` (scripts/clean.sh) removes run leftovers, never from under a running process."""

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.settings import PROJECT_ROOT


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A directory laid out like the project after a few runs, with its own copy of the script."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(PROJECT_ROOT / "scripts" / "clean.sh", tmp_path / "scripts" / "clean.sh")
    for leftover in ("test-broker-19092/data", "demo-20261129/materials", ".hypothesis"):
        (tmp_path / ".stockloop" / leftover).mkdir(parents=True)
    (tmp_path / ".pytest_cache").mkdir()
    return tmp_path


@pytest.fixture
def live_pid() -> Iterator[int]:
    process = subprocess.Popen(["sleep", "60"])
    yield process.pid
    process.kill()
    process.wait()


def clean(checkout: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [checkout / "scripts" / "clean.sh"], capture_output=True, text=True, check=False
    )


def test_clean_removes_test_broker_data_demo_state_and_caches(checkout: Path):
    (checkout / ".stockloop" / "test-broker-19092" / "broker.pid").write_text("999999999\n")
    result = clean(checkout)
    assert result.returncode == 0, result.stderr
    assert not (checkout / ".stockloop").exists()
    assert not (checkout / ".pytest_cache").exists()


def test_clean_refuses_while_a_broker_runs_from_stockloop_and_says_how_to_stop_it(
    checkout: Path, live_pid: int
):
    broker_dir = checkout / ".stockloop" / "test-broker-19092"
    (broker_dir / "broker.pid").write_text(f"{live_pid}\n")
    result = clean(checkout)
    assert result.returncode == 1
    assert f"STOCKLOOP_BROKER_DIR={broker_dir} .venv/bin/stockloop broker stop" in result.stderr
    assert (broker_dir / "data").is_dir()


def test_clean_refuses_while_a_kept_demo_worker_runs(checkout: Path, live_pid: int):
    (checkout / ".stockloop" / "demo-worker.pid").write_text(f"{live_pid}\n")
    result = clean(checkout)
    assert result.returncode == 1
    assert "scripts/demo.sh stop" in result.stderr
    assert (checkout / ".stockloop" / "demo-20261129").is_dir()
