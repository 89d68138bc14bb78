"""`scoreboard dev` as a new user runs it: starts everything, survives a kill -9, leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from devstack.net import free_port, port_open
from devstack.processes import SCOREBOARD

pytestmark = pytest.mark.e2e

READY_LINE = "Scoreboard is up"


def _start_dev(data_dir: Path, ports: dict[str, int], log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCOREBOARD_")}
    command = [SCOREBOARD, "dev", "--data-dir", str(data_dir)]
    command += ["--api-port", str(ports["api"]), "--gateway-port", str(ports["gateway"])]
    command += ["--worker-port", str(ports["worker"])]
    process = subprocess.Popen(
        command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=data_dir.parent
    )
    deadline = time.monotonic() + 60
    while READY_LINE not in log.read_text(errors="replace"):
        assert process.poll() is None, log.read_text(errors="replace")[-2000:]
        assert time.monotonic() < deadline, "scoreboard dev did not start in 60 s"
        time.sleep(0.1)
    return process


def _wait_closed(ports: dict[str, int], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while any(port_open(port) for port in ports.values()):
        assert time.monotonic() < deadline, f"still listening: {[p for p in ports.values() if port_open(p)]}"
        time.sleep(0.1)


def _play(data_dir: Path, api_port: int) -> dict[str, object]:
    done = subprocess.run(
        [
            SCOREBOARD,
            "play",
            "--name",
            "Alice",
            "--api",
            f"http://127.0.0.1:{api_port}",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_dev_starts_plays_survives_kill_9_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / ".scoreboard"
    ports = {"api": free_port(), "gateway": free_port(), "worker": free_port()}

    first = _start_dev(data_dir, ports, tmp_path / "first.log")
    assert _play(data_dir, ports["api"])["newScore"] == 1
    assert httpx.get(f"http://127.0.0.1:{ports['api']}/", timeout=5).status_code == 200  # the demo page
    first.kill()  # kill -9: the children must follow
    first.wait()
    _wait_closed(ports)

    second = _start_dev(data_dir, ports, tmp_path / "second.log")
    assert _play(data_dir, ports["api"])["newScore"] == 2  # the data survived
    second.send_signal(signal.SIGINT)  # Ctrl-C
    assert second.wait(60) == 0
    _wait_closed(ports)
    leftovers = subprocess.run(["pgrep", "-f", str(data_dir)], capture_output=True, text=True)
    assert leftovers.stdout == "", f"processes left behind: {leftovers.stdout}"
