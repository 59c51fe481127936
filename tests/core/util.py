"""Shared helpers of the core tests: build a cluster from inline YAML, analyze it, run the CLI.

Everything runs in-process (no subprocess) so the rule tests stay fast.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from kubectl_microseg import cli
from kubectl_microseg.engine.k8s import Analyzer, Options
from kubectl_microseg.engine.matrix import Matrix
from kubectl_microseg.model.cluster import Cluster, build_cluster
from kubectl_microseg.model.ports import ConnSet
from kubectl_microseg.plugins.manifests import parse_text

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("MICROSEG_SHARED") or REPO.parent / "shared")
GOLDEN = REPO / "tests" / "golden"

ALL = ConnSet.all()
NONE = ConnSet.none()


def tcp(port: int, end: int | None = None) -> ConnSet:
    return ConnSet.ports("TCP", port, end)


def udp(port: int, end: int | None = None) -> ConnSet:
    return ConnSet.ports("UDP", port, end)


def sctp(port: int, end: int | None = None) -> ConnSet:
    return ConnSet.ports("SCTP", port, end)


def cluster_of(text: str, name: str = "inline.yaml") -> Cluster:
    return build_cluster(parse_text(textwrap.dedent(text), name))


def analyzer(text: str, **options) -> Analyzer:
    return Analyzer(cluster_of(text), Options(**options))


def matrix(text: str, **options) -> Matrix:
    return analyzer(text, **options).matrix()


def conns(m: Matrix, src: str, dst: str) -> ConnSet:
    """What ``src`` may open to ``dst`` in matrix ``m`` (empty when denied); both ids must exist."""
    ids = {e.id for e in m.endpoints}
    assert src in ids, f"{src} not an endpoint: {sorted(ids)}"
    assert dst in ids, f"{dst} not an endpoint: {sorted(ids)}"
    return m.get(src, dst)


def external_ids(m: Matrix) -> list[str]:
    return [e.id for e in m.endpoints if e.is_external]


def external_for(m: Matrix, address: str) -> str:
    """The id of the External endpoint that contains ``address``."""
    from kubectl_microseg.model.addresses import AddressSet

    for e in m.endpoints:
        if e.is_external and any(AddressSet.from_cidr(c).contains(address) for c in e.cidrs):
            return e.id
    raise AssertionError(f"no External endpoint contains {address}")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run ``kubectl-microseg ARGV`` in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- reusable manifest snippets -----------------------------------------------------------------
def _flow(labels: dict) -> str:
    return "{" + ", ".join(f'"{k}": "{v}"' for k, v in labels.items()) + "}"


def ns(name: str, labels: dict | None = None) -> str:
    """A Namespace object with the given labels."""
    return f"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels: {_flow(labels or {})}\n"


def pod(name: str, namespace: str = "default", labels: dict | None = None, ports: str = "",
        host_network: bool = False, ip: str | None = None) -> str:
    """A bare Pod; ``ports`` is a YAML flow list of container ports, e.g. '[{name: http, containerPort: 80}]'."""
    labels = labels if labels is not None else {"app": name}
    lab = _flow(labels)
    extra = "  hostNetwork: true\n" if host_network else ""
    status = f"status:\n  podIP: {ip}\n  podIPs: [{{ip: {ip}}}]\n" if ip else ""
    return f"""---
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {namespace}
  labels: {lab}
spec:
{extra}  containers:
  - name: c
    image: busybox
    ports: {ports or '[]'}
{status}"""


def netpol(name: str, spec: str, namespace: str = "default") -> str:
    """A NetworkPolicy with ``spec`` given as YAML (indented by the caller or not: it is re-indented)."""
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    return f"""---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: {namespace}
spec:
{body}
"""
