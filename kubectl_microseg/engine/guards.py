"""Provides the guards of a connectivity diff: changes a reviewer must not miss.

- ``dns-broken``: a workload that could reach the cluster DNS (UDP or TCP port 53) before cannot after.
  DNS servers are the workloads labelled ``k8s-app: kube-dns`` (CoreDNS keeps that label on kubeadm and
  most managed clusters), ``k8s-app: coredns`` or ``app.kubernetes.io/name: coredns``; when the input
  has none, any destination of port 53 counts.
- ``expectation-cut`` / ``expectation-opened``: a flow of the user's expectations file (the ``test``
  format) that was allowed and is now denied (expected allow, or no expectation given), or that is
  expected to be denied and is now allowed.
- ``open-to-cluster``: a workload whose ingress now admits every pod of every other namespace (on some
  port), and did not before; only its own ingress policies count, not the sources' egress.
- ``open-to-internet``: a workload that now accepts connections from public addresses (outside the
  private, shared, loopback, link-local and multicast ranges) it did not accept before.
- ``mesh-cut``: a pair L4 still allows that the service mesh (engine/mesh.py) now denies, refuses or allows for
  fewer requests, with the mesh objects that cause it; ``mesh-plaintext``: a pair that had mTLS and now
  gets plaintext (its identity unknown to AuthorizationPolicies, its traffic unencrypted).

Pure: matrices and analyzers in, findings out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable

from ..errors import MicrosegError, UsageError
from ..model.ports import ConnSet
from .diff import MatrixDiff, PairDiff, endpoint_addresses
from .explain import explain_pair, resolve_peer, resolve_port
from .exposure import NON_PUBLIC, cluster_exposure, sensitive_ports
from .k8s import Analyzer
from .matrix import Endpoint, Matrix
from .mesh import MeshVerdict, MtlsState
from ..vocab import FlowVerdict, StrEnum

DNS_PORT = 53
DNS_LABELS: tuple[tuple[str, str], ...] = (
    ("k8s-app", "kube-dns"), ("k8s-app", "coredns"), ("app.kubernetes.io/name", "coredns"),
)


class GuardKind(StrEnum):
    """Which guard fired (the module's docstring says what each means; ``simulate -o json`` ``guards[].kind``)."""

    DNS_BROKEN = "dns-broken"
    EXPECTATION_CUT = "expectation-cut"
    EXPECTATION_OPENED = "expectation-opened"
    OPEN_TO_CLUSTER = "open-to-cluster"
    OPEN_TO_INTERNET = "open-to-internet"
    MESH_CUT = "mesh-cut"
    MESH_PLAINTEXT = "mesh-plaintext"


@dataclass(frozen=True)
class Finding:
    """One guard that fired."""

    kind: GuardKind
    namespace: str
    """The namespace of the workload concerned (where a reviewer should look)."""
    subject: str
    """The workload (or flow) concerned."""
    message: str
    breaking: bool = False
    """True for guards about connectivity lost (DNS, expected flows cut)."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "namespace": self.namespace, "subject": self.subject, "message": self.message}


@dataclass(frozen=True)
class ExpectedFlow:
    """One flow of an expectations file (the ``test`` format)."""

    src: str
    dst: str
    port: int | str | None
    protocol: str = "TCP"
    expect: str | None = None
    """'allow', 'deny', or None (only listed)."""

    def describe(self) -> str:
        port = f" {self.protocol}/{self.port}" if self.port is not None else f" {self.protocol}"
        return f"{self.src} -> {self.dst}{port}"


# ------------------------------------------------------------------------------------------------ DNS
def is_dns_server(e: Endpoint) -> bool:
    labels = dict(e.labels)
    return any(labels.get(k) == v for k, v in DNS_LABELS)


def _dns_servers(m: Matrix) -> tuple[list[str], bool]:
    """(the DNS servers of a matrix, whether they were found by label; else every endpoint counts)."""
    servers = [e.id for e in m.endpoints if not e.is_external and is_dns_server(e)]
    return (servers, True) if servers else ([e.id for e in m.endpoints], False)


def _dns_reach(m: Matrix, src: str, targets: list[str]) -> set[str]:
    """The protocols of port 53 on which ``src`` reaches some target."""
    out: set[str] = set()
    for t in targets:
        if t == src:
            continue
        conns = m.get(src, t)
        out.update(p for p in ("UDP", "TCP") if conns.allows(p, DNS_PORT))
        if len(out) == 2:
            break
    return out


def dns_findings(before: Matrix, after: Matrix) -> list[Finding]:
    """Workloads that lose DNS (UDP or TCP 53 to every DNS server)."""
    out = []
    after_ids = {e.id for e in after.endpoints}
    targets_b, _ = _dns_servers(before)
    targets_a, by_label = _dns_servers(after)
    externals_b = [e.id for e in before.endpoints if e.is_external]
    externals_a = [e.id for e in after.endpoints if e.is_external]
    for e in before.endpoints:
        if e.is_external or e.id not in after_ids:
            continue
        if is_dns_server(e):  # the DNS server itself: its upstream resolvers are outside the cluster
            lost = sorted(_dns_reach(before, e.id, externals_b) - _dns_reach(after, e.id, externals_a))
            if lost:
                out.append(Finding(GuardKind.DNS_BROKEN, e.namespace or "", e.id,
                                   f"the cluster DNS server {e.id} (CoreDNS) can no longer reach its upstream "
                                   f"resolvers outside the cluster over {' and '.join(lost)} port 53: names outside "
                                   "the cluster stop resolving for every pod", breaking=True))
            continue
        lost = sorted(_dns_reach(before, e.id, targets_b) - _dns_reach(after, e.id, targets_a))
        if lost:
            where = f"CoreDNS: {', '.join(targets_a)}" if by_label else "any DNS server"
            out.append(Finding(GuardKind.DNS_BROKEN, e.namespace or "", e.id,
                               f"{e.id} can no longer reach DNS ({where}) over {' and '.join(lost)} port 53",
                               breaking=True))
    return out


# --------------------------------------------------------------------------------------- expectations
def _verdict(analyzer: Analyzer, f: ExpectedFlow) -> bool | MicrosegError:
    """Whether the flow is allowed in this state; the error when it does not resolve here."""
    try:
        src = resolve_peer(analyzer, f.src, None)
        dst = resolve_peer(analyzer, f.dst, None)
        port = resolve_port(analyzer, dst, f.port, f.protocol) if f.port is not None else None
    except MicrosegError as exc:
        return exc
    except KeyError as exc:
        return UsageError(f"unknown endpoint {exc}")
    return explain_pair(analyzer, src, dst).allowed.allows(f.protocol, port)


def expectation_findings(flows: Iterable[ExpectedFlow], before: Analyzer, after: Analyzer) -> list[Finding]:
    """Expected flows that the change cuts (or, for expect: deny, opens)."""
    out = []
    for f in flows:
        b, a = _verdict(before, f), _verdict(after, f)
        if isinstance(b, MicrosegError) and isinstance(a, MicrosegError):
            # named in neither state: a typo that would silently switch the guard off
            raise UsageError(f"expected flow {f.describe()}: {a}")
        if isinstance(b, MicrosegError) or isinstance(a, MicrosegError) or a == b:
            continue  # an endpoint the change adds or removes: nothing to compare
        ns = f.dst.split("/", 1)[0] if "/" in f.dst else f.src.split("/", 1)[0] if "/" in f.src else ""
        if b and not a and f.expect in (None, FlowVerdict.ALLOW):
            out.append(Finding(GuardKind.EXPECTATION_CUT, ns, f.describe(),
                               f"expected flow {f.describe()} (expect {f.expect or 'listed'}) is cut: allowed before, "
                               "denied after", breaking=True))
        elif a and not b and f.expect == FlowVerdict.DENY:
            out.append(Finding(GuardKind.EXPECTATION_OPENED, ns, f.describe(),
                               f"flow {f.describe()} is expected to be denied and is now allowed"))
    return out


# ------------------------------------------------------------------------------------------- exposure
def is_public(e: Endpoint) -> bool:
    """Whether an external endpoint contains any public address."""
    return bool(endpoint_addresses(e) - NON_PUBLIC)


def internet_findings(diff: MatrixDiff) -> list[Finding]:
    """Workloads that newly accept connections from public addresses."""
    per: dict[str, list[PairDiff]] = {}
    for p in diff.differences():
        if (p.src_endpoint is not None and p.src_endpoint.is_external and is_public(p.src_endpoint)
                and p.newly_allowed and not p.new_endpoint and p.dst_endpoint is not None):
            per.setdefault(p.dst, []).append(p)
    out = []
    for dst, pairs in sorted(per.items()):
        ports = ConnSet.none()
        for p in pairs:
            ports = ports | p.newly_allowed
        ep = pairs[0].dst_endpoint
        ranges = "; ".join(p.src for p in pairs)
        out.append(Finding(GuardKind.OPEN_TO_INTERNET, (ep.namespace if ep else "") or "", dst,
                           f"{dst} now accepts connections from the internet ({ranges}) on {ports.describe()}"
                           + _sensitive_tail(ports)))
    return out


open_to_cluster = cluster_exposure
"""What a workload's ingress accepts from every pod of every other namespace (``engine.exposure``)."""


def _sensitive_tail(ports: ConnSet) -> str:
    names = sensitive_ports(ports)
    return f"; sensitive: {', '.join(names)}" if names else ""


def cluster_findings(before: Analyzer, after: Analyzer) -> list[Finding]:
    """Workloads whose ingress now admits every pod of every other namespace (on ports it did not before)."""
    return cluster_findings_from(exposures(before), exposures(after))


def exposures(analyzer: Analyzer, namespaces: set[str] | None = None) -> dict[str, ConnSet]:
    """Workload id -> what its ingress admits from the whole cluster (``open_to_cluster``), for the workloads
    of ``namespaces`` (None: every one), in the cluster's order."""
    return {w.id: open_to_cluster(analyzer, w.id) for w in analyzer.cluster.workloads
            if namespaces is None or w.namespace in namespaces}


def cluster_findings_from(before: dict[str, ConnSet], after: dict[str, ConnSet]) -> list[Finding]:
    """:func:`cluster_findings` from the two states' :func:`exposures` (only workloads of both count)."""
    out = []
    for wid, conns in after.items():
        if wid not in before:
            continue
        newly = conns - before[wid]
        if newly:  # a workload id is namespace/name
            out.append(Finding(GuardKind.OPEN_TO_CLUSTER, wid.split("/", 1)[0], wid,
                               f"{wid} now accepts connections from every pod of every namespace on "
                               f"{newly.describe()} (its ingress policies admit the whole cluster)"
                               + _sensitive_tail(newly)))
    return out


def mesh_guards(changes: Iterable[dict[str, Any]]) -> list[Finding]:
    """The guards of the service-mesh changes (``engine.mesh.mesh_changes``, with causes)."""
    out = []
    for c in changes:
        b, a = c["before"] or {}, c["after"] or {}
        because = "; ".join(x["text"] for x in c.get("causes", ())) or "no mesh object named"
        ns = c["to"].split("/", 1)[0] if "/" in c["to"] else ""
        if c["newlyDenied"]:
            what = "refuses it (mTLS STRICT, the client has no sidecar)" if a.get("mtls") == MtlsState.REFUSED else \
                {MeshVerdict.DENIED: "denies it at L7", MeshVerdict.SOME: "allows only some requests"}[a["verdict"]]
            out.append(Finding(GuardKind.MESH_CUT, ns, f"{c['from']} -> {c['to']}",
                               f"{c['from']} -> {c['to']}: the mesh now {what} (was {b.get('verdict', 'outside the mesh')})"
                               f" [{because}]", breaking=True))
        elif b.get("mtls") == MtlsState.MTLS and a.get("mtls") == MtlsState.PLAINTEXT:
            out.append(Finding(GuardKind.MESH_PLAINTEXT, ns, f"{c['from']} -> {c['to']}",
                               f"{c['from']} -> {c['to']}: mTLS -> plaintext [{because}]"))
    return out


def run_guards(diff: MatrixDiff, before: Matrix, after: Matrix, before_an: Analyzer | None = None,
               after_an: Analyzer | None = None, expectations: Iterable[ExpectedFlow] = ()) -> list[Finding]:
    """Every guard, in a stable order (DNS, expectations, cluster, internet)."""
    found = dns_findings(before, after)
    flows = list(expectations)
    if flows and before_an is not None and after_an is not None:
        found += expectation_findings(flows, before_an, after_an)
    if before_an is not None and after_an is not None:
        found += cluster_findings(before_an, after_an)
    found += internet_findings(diff)
    return found
