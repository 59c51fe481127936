"""Provides structured explanations: why a workload can or cannot reach, or be reached by, a peer.

Explanations are data (``PairExplanation``, ``Reason``); the CLI and the TUI only render them. A peer is
a workload id or an external address range (``ExternalAtom``). A workload whose pods differ (labels,
named ports) is explained per distinct pod class, and the union is its verdict.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from ..errors import AmbiguousName, UsageError
from ..model.cluster import Workload
from ..model.ports import ConnSet
from ..vocab import Direction, Effect, ReasonKind
from .k8s import Analyzer, ExternalAtom, Reason, Verdict
from .matrix import Matrix

Peer = "Workload | ExternalAtom"


@dataclass
class PairExplanation:
    """The verdict for traffic from ``src`` to ``dst`` with every reason, per direction."""

    src: str
    dst: str
    allowed: ConnSet
    egress: list[Reason]
    ingress: list[Reason]
    egress_allowed: ConnSet
    ingress_allowed: ConnSet
    verdicts: list[Verdict] = field(default_factory=list)
    uncertain: bool = False
    mesh: Any = None
    """The service-mesh verdict (engine.mesh.MeshResult) of a pair L4 allows, when the destination is in a mesh."""

    def deciding(self, proto: str | None = None, port: int | None = None) -> list[Reason]:
        """The reasons that decided: the allowing ones when allowed, those of the denying direction(s) otherwise."""

        def covers(conns: ConnSet) -> bool:
            return conns.allows(proto, port) if proto else bool(conns)

        ok = covers(self.allowed)
        out: list[Reason] = []
        for reasons, dir_allowed in ((self.egress, self.egress_allowed), (self.ingress, self.ingress_allowed)):
            if ok:
                out.extend(r for r in reasons if r.effect == Effect.ALLOW and r.conns and covers(r.conns))
            elif not covers(dir_allowed):
                deny = [r for r in reasons if r.effect == Effect.DENY and (not r.conns or covers(r.conns))]
                out.extend(deny)
                if not deny and reasons:
                    d = reasons[0].direction
                    what = dir_allowed.describe() if dir_allowed else "nothing"
                    out.append(Reason(d, ReasonKind.PORT_NOT_ALLOWED, ConnSet.none(),
                                      text=f"{d}: the matching rules allow only {what}"))
        return list(dict.fromkeys(out))


def find_workload(analyzer: Analyzer, name: str, namespace: str | None) -> Workload:
    """Resolve 'ns/name', a workload name, a Pod name, or a generated pod name ('api-7d9f-x2x') to a workload.

    A Pod named by its own name stands for itself: the view of its workload narrowed to it (its pods may
    differ, e.g. mid-rollout, and the question is about this one)."""
    if "/" in name:
        namespace, name = name.split("/", 1)
    cands = [w for w in analyzer.cluster.workloads if namespace is None or w.namespace == namespace]
    tests: tuple[Callable[[Workload], bool], ...] = (
        lambda w: w.name == name or f"{w.name}[{w.kind}]" == name, lambda w: name in w.pods,
        lambda w: name.startswith(w.name + "-") and w.kind != "Pod")
    for test in tests:
        hits = [w for w in cands if test(w)]
        if len(hits) == 1:
            w = hits[0]
            return w.pod_view(name) if name in w.pods and name != w.name else w
        if len(hits) > 1:
            raise AmbiguousName(name, [w.id for w in hits])
    where = f" in namespace {namespace}" if namespace else ""
    raise UsageError(f"no pod or workload named {name!r}{where}")


def resolve_peer(analyzer: Analyzer, text: str, namespace: str | None) -> Workload | ExternalAtom:
    """A workload reference, an IP address (an address outside the cluster) or ``fqdn:NAME`` (a Cilium
    toFQDNs name or pattern)."""
    if text.startswith("fqdn:"):
        try:
            return analyzer.fqdn_atom(text)
        except KeyError:
            known = ", ".join(f.id for f in analyzer.fqdn_atoms) or "none"
            raise UsageError(f"no toFQDNs name or pattern {text!r} in the Cilium policies (known: {known})") from None
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if namespace is not None and "/" not in text:
            try:
                return find_workload(analyzer, text, namespace)
            except UsageError:
                return find_workload(analyzer, text, None)  # not in the pod's namespace: look everywhere
        return find_workload(analyzer, text, namespace)
    return analyzer.atom_for(text)


def explain_pair(analyzer: Analyzer, src: Workload | ExternalAtom, dst: Workload | ExternalAtom) -> PairExplanation:
    """Explain traffic from ``src`` to ``dst`` (at least one is a workload)."""
    src_classes = analyzer.classes_of(src) if isinstance(src, Workload) else [src]
    dst_classes = analyzer.classes_of(dst) if isinstance(dst, Workload) else [dst]
    verdicts = [analyzer.verdict_classes(a, b, src.id, dst.id) for a in src_classes for b in dst_classes]
    allowed = eg_allowed = in_allowed = ConnSet.none()
    egress: list[Reason] = []
    ingress: list[Reason] = []
    for v in verdicts:
        allowed = allowed | v.allowed
        eg_allowed = eg_allowed | v.egress.allowed
        in_allowed = in_allowed | v.ingress.allowed
        egress.extend(r for r in v.egress.reasons if r not in egress)
        ingress.extend(r for r in v.ingress.reasons if r not in ingress)
    # a rule that could decide but is not evaluated (admin nodes/domainNames, Cilium FQDN/entities) also counts
    uncertain = analyzer._uncertain(src.id, dst.id) or any(v.uncertain for v in verdicts)
    return PairExplanation(src.id, dst.id, allowed, egress, ingress, eg_allowed, in_allowed, verdicts, uncertain)


def resolve_port(analyzer: Analyzer, dst: Workload | ExternalAtom, port: str | int, proto: str) -> int:
    """A port number, or a named port resolved against the destination's containers."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    if isinstance(dst, Workload):
        for m in dst.members:
            for name, p, num in m.named_ports:
                if name == port and p == proto:
                    return num
    raise UsageError(f"port {port!r} ({proto}) is not a named container port of {dst.id}")


def quick_allowed(analyzer: Analyzer, src: Workload | ExternalAtom, dst: Workload | ExternalAtom) -> ConnSet:
    """What ``src`` may open to ``dst``, without building reasons (the matrix's path; same answer as
    ``explain_pair(...).allowed``, which a test checks)."""
    src_classes = analyzer.classes_of(src) if isinstance(src, Workload) else [src]
    dst_classes = analyzer.classes_of(dst) if isinstance(dst, Workload) else [dst]
    out = ConnSet.none()
    for a in src_classes:
        for b in dst_classes:
            if isinstance(a, int) and isinstance(b, int):
                out = out | analyzer.class_allows(a, b)
            elif isinstance(a, int):
                out = out | analyzer.decide(Direction.EGRESS, a, b, frozenset())
            elif isinstance(b, int):
                out = out | analyzer.decide(Direction.INGRESS, b, a, analyzer.classes[b].named_ports)
            # between two outside addresses: no pod is involved, nothing to allow
    return out


def deciding_rules(analyzer: Analyzer, m: Matrix, *, max_pairs: int = 40_000) -> dict[tuple[str, str], list[str]]:
    """The rules that decide each pair of a matrix (``Reason.short()``), for the views that show them per cell.

    Pairs between two outside ranges have none (no NetworkPolicy applies). Every pair is explained when
    there are at most ``max_pairs`` (about 200 endpoints; ~65 us a pair); beyond that only the allowed
    pairs are, so the page of a large cluster is still written in seconds.
    """
    peers: dict[str, Workload | ExternalAtom] = {w.id: w for w in analyzer.cluster.workloads}
    peers.update((a.id, a) for a in analyzer.atoms)
    peers.update((a.id, a) for a in analyzer.fqdn_atoms)
    ids = [e.id for e in m.endpoints if e.id in peers]
    if len(ids) ** 2 <= max_pairs:
        pairs = [(s, d) for s in ids for d in ids]
    else:
        pairs = [(s, d) for s, d in m.cells if s in peers and d in peers]
    out = {}
    for s, d in pairs:
        src, dst = peers[s], peers[d]
        if isinstance(src, ExternalAtom) and isinstance(dst, ExternalAtom):
            continue
        out[(s, d)] = [r.short() for r in explain_pair(analyzer, src, dst).deciding()]
    return out
