"""Provides the generic connectivity Matrix shared by the Kubernetes and nftables engines.

A Matrix is a list of endpoints and, for each allowed (from, to) pair, the ConnSet it allows. A pair
that is absent is denied. Renderers (``kubectl_microseg.render``), the diff and the TUI only see this
type, so every view works for NetworkPolicies and host firewalls alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable, Iterator

from ..model.ports import ConnSet


@dataclass(frozen=True)
class Endpoint:
    """One row/column of the matrix: a workload, a pod, a namespace, a host or an address class."""

    id: str
    """Stable identifier: 'namespace/name' for workloads, a CIDR text for external ranges."""
    kind: str
    """Deployment, StatefulSet, ..., Pod, External; Namespace; Host, AddressClass for nftables."""
    namespace: str | None = None
    name: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    cidrs: tuple[str, ...] = ()
    """For address endpoints: the exact address ranges, as CIDRs."""
    group: str | None = None
    """What the views group by (the namespace; 'external'; a host)."""
    extra: tuple[tuple[str, Any], ...] = ()
    """Additional contract fields (hashable pairs), e.g. ('hostNetwork', True)."""

    @property
    def is_external(self) -> bool:
        return self.kind == "External"

    def to_contract(self) -> dict[str, Any]:
        """The endpoint object of ``matrix -o json``."""
        out: dict[str, Any] = {"id": self.id, "kind": self.kind}
        if self.namespace is not None:
            out["namespace"] = self.namespace
        if self.name is not None:
            out["name"] = self.name
        if self.kind != "External" or self.labels:
            out["labels"] = dict(self.labels)
        if self.cidrs or self.kind == "External":  # a toFQDNs endpoint has none (its "fqdn" names it)
            out["cidrs"] = list(self.cidrs)
        for k, v in self.extra:
            out[k] = v
        return out


@dataclass(frozen=True)
class Cell:
    """An allowed pair: what it allows, and whether the verdict is certain."""

    conns: ConnSet
    uncertain: bool = False
    """True when a policy that could change this verdict was not readable (see Snapshot)."""
    partial: bool = False
    """True when only some pods of the source/destination workload have this connectivity."""
    l7: bool = False
    """Some of its ports pass only the L7 requests a Cilium rule lists (http, dns, kafka): 'L7-filtered'."""
    l7_requests: tuple[str, ...] = ()
    """The requests those rules allow ('http GET /api/.*', 'dns *'), when ``l7``."""
    mesh: Any = None
    """The service-mesh verdict (engine.mesh.MeshResult) when the destination is in an Istio mesh."""

    def with_mesh(self, mesh: Any) -> Cell:
        """This cell with a mesh verdict (engine.mesh.annotate, per cell: ``dataclasses.replace`` is 10x slower)."""
        new = object.__new__(Cell)
        new.__dict__.update(self.__dict__, mesh=mesh)
        return new


@dataclass
class Matrix:
    """Endpoints and the allowed pairs between them."""

    endpoints: list[Endpoint]
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    title: str = "connectivity"
    warnings: list[str] = field(default_factory=list)
    """What the view lacks (unreadable kinds, a partial view): shown in the output itself."""
    uncertain_reasons: dict[str, str] = field(default_factory=dict)
    """Namespace ('*': every pair) -> why verdicts touching it are unknown, absent pairs included."""
    layers: list[Any] = field(default_factory=list)
    """The policy layers evaluated, in order (engine.layers.LayerCount); empty where layers do not apply."""

    def warning_lines(self) -> list[str]:
        """What the view lacks, then which verdicts are unknown and why (views print these in their output)."""
        return list(self.warnings) + [
            f"verdicts {'of every pair' if ns == '*' else 'touching namespace ' + ns} are unknown: {why}"
            for ns, why in sorted(self.uncertain_reasons.items())]

    def uncertain_reason(self, src: str, dst: str) -> str | None:
        """Why the verdict of (src, dst) is unknown (allowed or not), or None when it is known."""
        r = self.uncertain_reasons
        if not r:
            return None
        return r.get("*") or r.get(src.split("/", 1)[0]) or r.get(dst.split("/", 1)[0])

    def endpoint(self, eid: str) -> Endpoint:
        for e in self.endpoints:
            if e.id == eid:
                return e
        raise KeyError(eid)

    def get(self, src: str, dst: str) -> ConnSet:
        """What ``src`` may open to ``dst`` (empty when denied)."""
        c = self.cells.get((src, dst))
        return c.conns if c else ConnSet.none()

    def connections(self) -> Iterator[tuple[str, str, Cell]]:
        """Allowed pairs in endpoint order (deterministic)."""
        order = {e.id: i for i, e in enumerate(self.endpoints)}
        for (s, d) in sorted(self.cells, key=lambda k: (order.get(k[0], 1 << 30), order.get(k[1], 1 << 30), k)):
            yield s, d, self.cells[(s, d)]

    def restrict(self, keep: Iterable[str]) -> Matrix:
        """The sub-matrix over the given endpoint ids (order kept)."""
        ids = set(keep)
        eps = [e for e in self.endpoints if e.id in ids]
        cells = {k: v for k, v in self.cells.items() if k[0] in ids and k[1] in ids}
        return Matrix(eps, cells, list(self.notes), self.title, list(self.warnings), dict(self.uncertain_reasons),
                      list(self.layers))

    def groups(self, unnamed: str = "") -> list[tuple[str, list[Endpoint]]]:
        """The endpoints by group (namespace, 'external', host), in order; ``unnamed`` names the rest."""
        out: dict[str, list[Endpoint]] = {}
        for e in self.endpoints:
            out.setdefault(e.group or e.namespace or unnamed, []).append(e)
        return list(out.items())

    def to_contract(self, lazy: bool = False) -> dict[str, Any]:
        """``matrix -o json`` as in shared/CONTRACT.md; ``lazy``: connections as an iterator, each item
        built when read (a big host firewall's matrix has millions of port items: a writer that encodes
        them one by one never holds them all)."""
        items = (self._connection_item(s, d, cell) for s, d, cell in self.connections())
        conns: Any = items if lazy else list(items)
        doc: dict[str, Any] = {
            "kind": "ConnectivityMatrix",
            "endpoints": [e.to_contract() for e in self.endpoints],
            "connections": conns,
        }
        if self.layers:  # an extension: which layers were evaluated (docs/contract.md)
            doc["layers"] = [c.to_contract() for c in self.layers]
        if self.warnings:
            doc["partial"] = True
            doc["warnings"] = list(self.warnings)
        if self.uncertain_reasons:  # pairs touching these namespaces are unknown, listed or not
            doc["uncertain"] = [{"namespace": ns, "reason": why} for ns, why in sorted(self.uncertain_reasons.items())]
        if self.notes:
            doc["notes"] = [n for n in self.notes if n not in self.warnings]
        return doc

    def _connection_item(self, s: str, d: str, cell: Cell) -> dict[str, Any]:
        item: dict[str, Any] = {"from": s, "to": d, "ports": cell.conns.to_contract()}
        if cell.uncertain:
            item["uncertain"] = True
            reason = self.uncertain_reason(s, d)
            if reason:
                item["reason"] = reason
        if cell.partial:
            item["partial"] = True
        if cell.l7:
            item["l7Filtered"] = True
            if cell.l7_requests:
                item["l7Requests"] = list(cell.l7_requests)
        if cell.mesh is not None:
            item["mesh"] = cell.mesh.to_contract()
        return item
