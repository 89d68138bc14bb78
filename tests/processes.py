"""Start the real `scoreboard` processes, as an operator would, and stop every one of them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from scoreboard.embedded import free_port

SCOREBOARD = str(Path(sys.executable).parent / "scoreboard")


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait_for: str = "/healthz", timeout_s: float = 30.0) -> ServiceProcess:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [SCOREBOARD, self.name, "--host", "127.0.0.1", "--port", str(self.port)],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
            try:
                if httpx.get(self.url + wait_for, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {wait_for} within {timeout_s} s")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


@contextlib.contextmanager
def running(services: dict[str, ServiceProcess]) -> Iterator[dict[str, ServiceProcess]]:
    """Start each service (ready on /readyz) in order; stop every one of them afterwards."""
    try:
        for service in services.values():
            service.start(wait_for="/readyz")
        yield services
    finally:
        for service in services.values():
            service.stop()
