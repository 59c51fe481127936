"""A fake Kubernetes API server for tests: real HTTP on 127.0.0.1, the real REST and watch protocol.

The official ``kubernetes`` client (and kubectl-like code built on it) talks to it over HTTP, so tests
exercise the real client, not a mock. Typical use (see ``fixtures.py`` for the pytest fixtures)::

    from tests.fakeapi import FakeApiServer, write_kubeconfig

    with FakeApiServer() as api:
        api.load_yaml(open("cluster.yaml").read())
        kubeconfig = write_kubeconfig(tmp_path / "config", api)
        api.faults.drop_watch(resource="pods", after_events=1)
        api.rbac.deny("list", "networkpolicies", namespace="secret")
        ...
        assert api.requests_matching(verb="patch", resource="networkpolicies")

See docs/live.md ("The fake API server") for the protocol it speaks and how it was checked.
"""

from .faults import Fault, Faults
from .kubeconfig import write_kubeconfig
from .rbac import Rbac, Rule
from .resources import RESOURCES, Resource
from .podexec import ExecCall, ExecResult, PodRuntime
from .server import FakeApiServer, RecordedRequest

__all__ = [
           "RESOURCES",
           "ExecCall",
           "ExecResult",
           "FakeApiServer",
           "Fault",
           "Faults",
           "PodRuntime",
           "Rbac",
           "RecordedRequest",
           "Resource",
           "Rule",
           "write_kubeconfig",
]
