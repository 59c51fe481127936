"""Provides the cells to probe (source pod, destination address, protocol, port) and what the model says of each.

Ways to choose them: every pair of running pods' endpoints in a namespace (``in_namespace``), the flows of a
``test`` flows file (``from_flows``), one pod of every pair of pod classes, sampled (``class_sample``), or one
pair (``one_pair``). The destination port of a pod cell is one its containers declare (a connection can
only succeed where something listens); a flow names its own. DNS and external-egress cells are the seed
script's tests 2 and 3 (``dns_cells``, ``external_cells``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable

from ..engine.explain import explain_pair, find_workload, resolve_port
from ..engine.k8s import Analyzer
from ..errors import BadProbeTarget, PortRequired, UsageError
from ..model.addresses import is_ip
from ..vocab import FlowVerdict
from .pods import PodRef, class_key


class Kind:
    POD = "pod"
    DNS = "dns"
    EXTERNAL = "external"


@dataclass
class Cell:
    """One probe: from ``src`` to ``address:port/protocol``; ``model`` is the policy's verdict."""

    src: PodRef
    dst: str
    """The destination endpoint id (or the address, outside the cluster)."""
    address: str
    protocol: str
    port: int | None
    kind: str = Kind.POD
    dst_pod: PodRef | None = None
    name: str = ""
    """For DNS cells: the name looked up."""
    model: str = ""
    because: list[str] = field(default_factory=list)
    uncertain: bool = False

    def label(self) -> str:
        if self.kind == Kind.DNS:
            return f"{self.src.id} -> DNS {self.name} ({self.dst})"
        where = self.dst_pod.id if self.dst_pod else self.address
        return f"{self.src.id} -> {where} {self.protocol}/{self.port}"


def _view(analyzer: Analyzer, pod: PodRef):
    w = find_workload(analyzer, pod.workload, None)
    return w.pod_view(pod.name) if pod.name != w.name and pod.name in w.pods else w


def judge(analyzer: Analyzer, cell: Cell) -> Cell:
    """Fill in the model's verdict (and its reasons) for a cell."""
    src = _view(analyzer, cell.src)
    dst = _view(analyzer, cell.dst_pod) if cell.dst_pod else analyzer.atom_for(cell.address)
    e = explain_pair(analyzer, src, dst)
    ok = e.allowed.allows(cell.protocol, cell.port)
    cell.model = FlowVerdict.ALLOW if ok else FlowVerdict.DENY
    cell.because = [r.short() for r in e.deciding(cell.protocol, cell.port)]
    cell.uncertain = bool(e.uncertain)
    return cell


def _by_endpoint(pods: Iterable[PodRef]) -> dict[str, list[PodRef]]:
    out: dict[str, list[PodRef]] = {}
    for p in pods:
        out.setdefault(p.workload, []).append(p)
    return out


def _pod_cells(src: PodRef, dst: PodRef, ports: Iterable[tuple[str, int]] | None = None) -> list[Cell]:
    return [Cell(src, dst.workload, dst.ip, proto, port, Kind.POD, dst)
            for proto, port in (dst.ports if ports is None else ports)]


def _pick_other(candidates: list[PodRef], src: PodRef) -> PodRef | None:
    """A pod of the destination endpoint that is not the source pod (a pod's traffic to itself never leaves it)."""
    return next((p for p in candidates if p != src), None)


def in_namespace(pods: list[PodRef], namespace: str) -> tuple[list[Cell], list[str]]:
    """One pod of every endpoint of the namespace to one pod of every endpoint of it, on every declared port."""
    by = _by_endpoint(p for p in pods if p.namespace == namespace)
    cells, notes = [], []
    for s_id, s_pods in by.items():
        for d_id, d_pods in by.items():
            src = s_pods[0]
            dst = _pick_other(d_pods, src)
            if dst is None:
                continue
            if not dst.ports:
                notes.append(f"{s_id} -> {d_id}: not probed, {d_id} declares no containerPorts (name a port in a "
                             "flows file)")
                continue
            cells.extend(_pod_cells(src, dst))
    if not by:
        notes.append(f"namespace {namespace} has no running pod with an IP")
    return cells, notes


def class_sample(pods: list[PodRef], limit: int, seed: int = 0) -> tuple[list[Cell], list[str]]:
    """One pod of every pod class to one pod of every other class on its declared ports; at most ``limit`` cells
    (a reproducible random sample when there are more)."""
    classes: dict[tuple, list[PodRef]] = {}
    for p in pods:
        classes.setdefault(class_key(p), []).append(p)
    reps = list(classes.values())
    cells: list[Cell] = []
    for s in reps:
        for d in reps:
            dst = _pick_other(d, s[0])
            if dst is not None:
                cells.extend(_pod_cells(s[0], dst))
    notes = [f"{len(classes)} pod classes, {len(cells)} cells"]
    if len(cells) > limit:
        cells = random.Random(seed).sample(cells, limit)
        cells.sort(key=lambda c: (c.src.id, c.dst, c.protocol, c.port or 0))
        notes.append(f"sampled {limit} of them (--max-cells; --seed {seed})")
    return cells, notes


def one_pair(analyzer: Analyzer, pods: list[PodRef], src: str, dst: str, port: str | int | None,
             protocol: str) -> list[Cell]:
    """The cells of one pair: ``port`` (a number or a name of the destination), or every declared port."""
    s_pod = pod_for(analyzer, pods, src)
    if is_ip(dst):
        if port is None:
            raise PortRequired(dst, external=True)
        return [Cell(s_pod, dst, dst, protocol, int(port), Kind.EXTERNAL)]
    d_pod = pod_for(analyzer, pods, dst, avoid=s_pod)
    if port is None:
        if not d_pod.ports:
            raise PortRequired(d_pod.id, external=False)
        return _pod_cells(s_pod, d_pod)
    number = resolve_port(analyzer, _view(analyzer, d_pod), port, protocol)
    return _pod_cells(s_pod, d_pod, [(protocol, number)])


def from_flows(analyzer: Analyzer, pods: list[PodRef], flows: list[Any]) -> tuple[list[Cell], list[str]]:
    """The flows of a ``test`` flows file (``commands.test.Flow``); flows from outside addresses cannot be sent."""
    cells, notes = [], []
    for f in flows:
        if is_ip(f.src):
            notes.append(f"flow {f.index + 1} ({f.src} -> {f.dst}): not probed, the source is outside the cluster")
            continue
        try:
            cells.extend(one_pair(analyzer, pods, f.src, f.dst, f.port, f.protocol))
        except UsageError as exc:
            notes.append(f"flow {f.index + 1} ({f.src} -> {f.dst}): not probed, {exc}")
    return cells, notes


def pod_for(analyzer: Analyzer, pods: list[PodRef], ref: str, avoid: PodRef | None = None) -> PodRef:
    """A running pod of an endpoint (``ns/name``, a workload or pod name); not ``avoid`` when there is another."""
    w = find_workload(analyzer, ref, None)
    cands = [p for p in pods if p.workload == w.id and (w.only_pod is None or p.name == w.only_pod)]
    if not cands:
        raise UsageError(f"{w.id} has no running pod with an IP to probe")
    return next((p for p in cands if p != avoid), cands[0])


def dns_cells(pods: list[PodRef], sources: list[PodRef], name: str) -> tuple[list[Cell], list[str]]:
    """The seed's test 2: from each source pod, resolve ``name`` through the cluster DNS (pods labelled
    k8s-app=kube-dns, the label CoreDNS and kube-dns carry in kube-system)."""
    dns = [p for p in pods if ("k8s-app", "kube-dns") in p.labels]
    if not dns:
        return [], ["DNS not probed: no running pod labelled k8s-app=kube-dns in the model"]
    return [Cell(s, dns[0].workload, dns[0].ip, "UDP", 53, Kind.DNS, dns[0], name=name) for s in sources], []


def external_cells(sources: list[PodRef], targets: list[str]) -> list[Cell]:
    """The seed's test 3: from each source pod, a TCP connection to an address outside the cluster (ADDR:PORT)."""
    out: list[Cell] = []
    for t in targets:
        addr, _, port = t.rpartition(":")
        addr = addr.strip("[]")
        if not is_ip(addr) or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise BadProbeTarget(t)
        out.extend(Cell(s, addr, addr, "TCP", int(port), Kind.EXTERNAL) for s in sources)
    return out


