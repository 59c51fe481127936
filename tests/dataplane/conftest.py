"""Fixtures of the probe tests: the fake API server with a small cluster and a simulated network behind exec."""

from __future__ import annotations

import shlex
import threading
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable

import pytest

from tests.fakeapi import ExecCall, ExecResult, FakeApiServer
from tests.fakeapi.fixtures import fake_api, fake_kubeconfig, isolated_kubeconfig  # noqa: F401 - fixtures
from tests.fakeapi.podexec import terminate

SAMPLES = Path(__file__).parent / "samples"
CLUSTER = (SAMPLES / "cluster.yaml").read_text()

IPS = {"frontend": "10.244.1.10", "api": "10.244.1.20", "db": "10.244.1.30", "coredns-1": "10.244.0.5"}


@dataclass
class Network:
    """The simulated dataplane behind the fake kubelet's exec: which (source pod, address, port) connect.

    ``open`` lists what a Cilium 1.14 would let through for the cluster above: everything the policies allow,
    except the endPort range beyond its first port (Cilium ignores endPort), plus DNS.
    """

    open: set[tuple[str, str, int]] = field(default_factory=lambda: {
        ("frontend", IPS["api"], 8080), ("api", IPS["db"], 5432),
        ("frontend", IPS["coredns-1"], 53), ("api", IPS["coredns-1"], 53), ("db", IPS["coredns-1"], 53)})
    listening: set[tuple[str, int]] = field(default_factory=lambda: {(IPS["api"], 8080), (IPS["db"], 5432),
                                                                     (IPS["db"], 5433), (IPS["frontend"], 80)})
    missing_tools: bool = False
    on_exec: Callable[[ExecCall], None] | None = None
    api: FakeApiServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, call: ExecCall) -> ExecResult:
        if self.on_exec:
            self.on_exec(call)
        cmd = list(call.command)
        if cmd[:2] == ["sh", "-c"] and "kill" in cmd[2] and call.ephemeral:
            assert self.api is not None
            terminate(self.api, call.namespace, call.pod, call.container)
            return ExecResult(exit_code=0)
        if cmd and cmd[0] == "timeout":
            cmd = cmd[2:]
        if self.missing_tools:
            return ExecResult(stderr=f'exec: "{cmd[0]}": executable file not found in $PATH', exit_code=127)
        if cmd[0] == "nslookup":
            if (call.pod, IPS["coredns-1"], 53) in self.open:
                return ExecResult(stdout=f"Server: 10.96.0.10\nName: {cmd[1]}\nAddress: 10.96.0.1\n")
            return ExecResult(stdout=";; connection timed out; no servers could be reached\n", exit_code=1)
        if cmd[0] == "nc":
            addr, port = cmd[-2], int(cmd[-1])
            if (call.pod, addr, port) not in self.open:
                return ExecResult(stderr=f"nc: connect to {addr} port {port} (tcp) timed out: Operation now in "
                                  "progress\n", exit_code=1)
            if (addr, port) not in self.listening:
                return ExecResult(stderr=f"nc: connect to {addr} port {port} (tcp) failed: Connection refused\n",
                                  exit_code=1)
            return ExecResult(stderr=f"Connection to {addr} {port} port [tcp/*] succeeded!\n")
        return ExecResult(stderr=f"sh: {shlex.join(cmd)}: not found", exit_code=127)


@pytest.fixture
def cluster(fake_api: FakeApiServer, fake_kubeconfig: Path) -> FakeApiServer:  # noqa: F811
    fake_api.load_yaml(CLUSTER)
    fake_api.runtime.start_delay = 0.05
    return fake_api


@pytest.fixture
def network(cluster: FakeApiServer) -> Network:
    net = Network(api=cluster)
    cluster.runtime.exec_handler = net
    return net
