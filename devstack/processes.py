"""The `scoreboard` processes, started as an operator starts them, and stopped, every one."""

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

from devstack.net import free_port, listens
from devstack.servers import die_with_parent

SCOREBOARD = str(Path(sys.executable).parent / "scoreboard")


@dataclass
class ServiceProcess:
    """`scoreboard <name> --host --port`, with its environment. Its output goes to `log_path`
    (nowhere when None, the terminal when `inherit_output`); it dies with its parent."""

    name: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    host: str = "127.0.0.1"
    inherit_output: bool = False
    cores: frozenset[int] | None = None  # where it runs (None: anywhere)
    reuse_port: bool = False  # share the port with its siblings (`--reuse-port`)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        if self.inherit_output:
            output: int | None = None
        elif self.log_path is not None:
            output = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        else:
            output = subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                [
                    SCOREBOARD,
                    self.name,
                    "--host",
                    self.host,
                    "--port",
                    str(self.port),
                    *(["--reuse-port"] if self.reuse_port else []),
                ],
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=None if self.inherit_output else subprocess.STDOUT,
                preexec_fn=die_with_parent(signal.SIGTERM, self.cores),
            )
        finally:
            if isinstance(output, int) and output > 2:
                os.close(output)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_until(self, path: str, timeout_s: float) -> None:
        """Until `path` answers 200; RuntimeError when the process exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if not self.alive():
                    code = self.process.returncode if self.process else None
                    raise RuntimeError(f"{self.name} exited with {code}; see {self.log_path or 'its output'}")
                try:
                    # On a shared port a sibling may answer: this one is ready once it listens.
                    mine = not self.reuse_port or listens(self.process.pid, self.port)  # type: ignore[union-attr]
                    if mine and client.get(self.url + path).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer {path} within {timeout_s:.0f} s")

    def start(self, *, wait_for: str = "/healthz", timeout_s: float = 30.0) -> ServiceProcess:
        self.spawn()
        try:
            self.wait_until(wait_for, timeout_s)
        except RuntimeError:
            self.stop()
            raise
        return self

    def send(self, sig: int = signal.SIGTERM) -> None:
        """Ask it to stop (or anything else), without waiting."""
        if self.alive():
            assert self.process is not None
            self.process.send_signal(sig)

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
