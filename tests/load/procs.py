"""Load generators in their own processes (spawned, each with its own uvloop event loop).

The measuring client never shares an event loop with a server. Each generator gets a slot of
shared counters (written only by its own process, read by the parent for the progress line),
a `go` event (start together) and a `stop` event (finish together), and returns one picklable
result through a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import resource
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.sharedctypes import SynchronizedArray
from typing import Any

SLOT_FIELDS = 4  # done, errors, connected, extra
DONE, ERRORS, CONNECTED, EXTRA = range(SLOT_FIELDS)

_CONTEXT = multiprocessing.get_context("spawn")


def raise_open_files_limit() -> int:
    """Lift RLIMIT_NOFILE to the hard limit (10,000 sockets need it); returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 1_048_576 if hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass
class Control:
    """What a generator sees of its siblings and parent."""

    index: int
    counters: Any  # a RawArray('q'); this process writes only its own slot
    go: Any
    stop: Any

    def add(self, field: int, amount: int = 1) -> None:
        self.counters[self.index * SLOT_FIELDS + field] += amount

    def set(self, field: int, value: int) -> None:
        self.counters[self.index * SLOT_FIELDS + field] = value

    async def wait_go(self) -> None:
        while not self.go.is_set():
            await asyncio.sleep(0.01)

    async def wait_stop(self, poll_s: float = 0.05) -> None:
        while not self.stop.is_set():
            await asyncio.sleep(poll_s)


Target = Callable[[Any, Control], Awaitable[Any]]


def _child(target: Target, config: Any, control: Control, results: Any) -> None:
    raise_open_files_limit()
    try:
        import uvloop

        runner: Callable[..., Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        results.put((control.index, runner(target(config, control)), None))
    except BaseException:
        results.put((control.index, None, traceback.format_exc()))


class Generators:
    """A group of generator processes running one target with one config each."""

    def __init__(self, target: Target, configs: list[Any]) -> None:
        self.size = len(configs)
        self.counters: SynchronizedArray[int] = _CONTEXT.RawArray("q", self.size * SLOT_FIELDS)  # type: ignore[assignment]
        self.go = _CONTEXT.Event()
        self.stop = _CONTEXT.Event()
        self._results = _CONTEXT.Queue()
        self._processes = [
            _CONTEXT.Process(
                target=_child,
                args=(target, config, Control(i, self.counters, self.go, self.stop), self._results),
                daemon=True,
                name=f"loadgen-{i}",
            )
            for i, config in enumerate(configs)
        ]

    def __enter__(self) -> Generators:
        for process in self._processes:
            process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def total(self, field: int) -> int:
        return sum(self.counters[i * SLOT_FIELDS + field] for i in range(self.size))

    def alive(self) -> bool:
        return any(process.is_alive() for process in self._processes)

    def results(self, timeout_s: float = 60.0) -> list[Any]:
        """Every generator's result, in index order; a generator that failed raises here."""
        collected: dict[int, Any] = {}
        deadline = time.monotonic() + timeout_s
        while len(collected) < self.size:
            try:
                index, result, error = self._results.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"{self.size - len(collected)} load generator(s) did not finish") from None
            if error:
                raise RuntimeError(f"load generator {index} failed:\n{error}")
            collected[index] = result
        return [collected[i] for i in range(self.size)]

    def close(self) -> None:
        self.stop.set()
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()


async def wait_until(
    condition: Callable[[], bool], timeout_s: float, tick: Callable[[], None] | None = None
) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        if tick:
            tick()
        await asyncio.sleep(0.2)
    return True


async def run_for(seconds: float, tick: Callable[[], None], every_s: float = 1.0) -> None:
    """Sleep for `seconds`, calling tick about once per `every_s` (the progress line)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(every_s, left))
        tick()
