"""Provides the CNI a cluster runs (from its pods' images) and the likely cause of a model/network disagreement.

The known caveats, each from its primary source:
- endPort: "If your cluster uses a CNI plugin that does not support endPort, the policy applies only to the
  single port field" (kubernetes.io, Network Policies, "Targeting a range of ports"). Cilium lists port ranges
  (endPort) and SCTP among the NetworkPolicy features it does not implement (docs.cilium.io, Kubernetes
  Network Policy, "Known missing features"); cilium/cilium#28684: the range is silently ignored.
- SCTP: needs a CNI that supports it (kubernetes.io, Network Policies, "Protocol" notes).
- ipBlock and pod IPs: the API leaves open whether an ipBlock matches pod IPs (kubernetes.io: "ipBlock ...
  cluster-external IPs"; CNIs differ); the model's default is outside addresses only.
- hostNetwork pods: undefined by the API (kubernetes.io, Network Policies, "hostNetwork pods").
- Named ports are resolved per destination pod and protocol; a CNI that resolves them differently (or a name
  on another container) makes the rule open a different port.
- Flannel alone implements no NetworkPolicy at all (it provides connectivity only; Canal adds Calico's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable

from ..model.cluster import Cluster
from ..model.objects import SourceObject
from ..vocab import FlowVerdict
from .cells import Cell

# (CNI name, pattern on a container image of a pod, DaemonSet or Deployment)
_IMAGES = (
    ("Cilium", re.compile(r"(^|/)cilium(-[a-z]+)?(:|@|$)|/cilium/cilium")),
    ("Calico", re.compile(r"calico/node|calico-node|/calico/cni")),
    ("Antrea", re.compile(r"antrea")),
    ("Weave Net", re.compile(r"weave-(kube|npc)")),
    ("kube-router", re.compile(r"kube-router")),
    ("OVN-Kubernetes", re.compile(r"ovn-kubernetes|ovnkube")),
    ("AWS VPC CNI", re.compile(r"amazon-k8s-cni|aws-network-policy-agent")),
    ("Azure NPM", re.compile(r"azure-npm")),
    ("kindnet", re.compile(r"kindnet")),
    ("Flannel", re.compile(r"flannel")),
)


@dataclass(frozen=True)
class Cni:
    name: str
    version: str = ""

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()


def _images(raw: dict[str, Any]) -> Iterable[str]:
    spec = raw.get("spec") or {}
    if raw.get("kind") != "Pod":
        spec = ((spec.get("template") or {}).get("spec")) or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if isinstance(c, dict) and c.get("image"):
            yield str(c["image"])


def detect_cni(objects: Iterable[SourceObject]) -> list[Cni]:
    """Every CNI whose agent runs in the snapshot (by image), with the image tag as version; [] if none is seen."""
    found: dict[str, str] = {}
    for obj in objects:
        if obj.raw.get("kind") not in ("Pod", "DaemonSet", "Deployment"):
            continue
        for image in _images(obj.raw):
            for name, pat in _IMAGES:
                if pat.search(image) and name not in found:
                    tag = image.split("@")[0].rpartition(":")[2] if ":" in image.split("/")[-1] else ""
                    found[name] = tag
    if "Calico" in found and "Flannel" in found:
        found.pop("Flannel")  # Canal: Flannel for connectivity, Calico for policy
    return [Cni(n, v) for n, v in found.items()]


@dataclass(frozen=True)
class Features:
    """What the policies that can decide a cell use."""

    end_port: bool = False
    named_port: bool = False
    sctp: bool = False
    ip_block: bool = False


def features(cluster: Cluster, cell: Cell) -> Features:
    """The features of the rules of the destination's namespace (ingress) and the source's (egress) that can
    concern this cell: an endPort range around its port, a port name the destination gives its port, SCTP,
    an ipBlock."""
    end = named = sctp = ipb = False
    dst_ns = cell.dst_pod.namespace if cell.dst_pod else None
    for entry in cluster.policies:
        raw = entry.source.raw
        ns = (raw.get("metadata") or {}).get("namespace") or "default"
        spec = raw.get("spec") or {}
        rules = []
        if ns == dst_ns:
            rules += [(False, r) for r in spec.get("ingress") or [] if isinstance(r, dict)]
        if ns == cell.src.namespace:
            rules += [(True, r) for r in spec.get("egress") or [] if isinstance(r, dict)]
        for egress_side, r in rules:
            for p in r.get("ports") or []:
                if not isinstance(p, dict):
                    continue
                port, end_port = p.get("port"), p.get("endPort")
                if isinstance(port, int) and isinstance(end_port, int) and cell.port is not None:
                    end |= port < cell.port <= end_port
                if isinstance(port, str):
                    names = {n for n, _, num in (cell.dst_pod.named if cell.dst_pod else ()) if num == cell.port}
                    named |= port in names or (egress_side and not cell.dst_pod)
                sctp |= str(p.get("protocol") or "TCP").upper() == "SCTP"
            for peer in (r.get("from") or []) + (r.get("to") or []):
                ipb |= isinstance(peer, dict) and "ipBlock" in peer
    return Features(end, named, sctp, ipb)


def likely_causes(cell: Cell, network: str, cnis: list[Cni], feats: Features) -> list[str]:
    """The known caveats that explain the model saying ``cell.model`` while the network says ``network``."""
    names = {c.name for c in cnis}
    out: list[str] = []
    pod_dst = cell.dst_pod is not None
    if cell.model == FlowVerdict.ALLOW and network == FlowVerdict.DENY:
        if feats.end_port:
            if "Cilium" in names:
                out.append("Cilium does not implement endPort: only `port` of the range is open (docs.cilium.io, "
                           "Kubernetes Network Policy, known missing features; cilium/cilium#28684)")
            else:
                out.append("a policy uses endPort: a CNI without endPort support opens only `port` (kubernetes.io, "
                           "Network Policies, targeting a range of ports)")
        if cell.protocol == "SCTP" or feats.sctp:
            out.append("SCTP: " + ("Cilium does not implement SCTP in NetworkPolicy" if "Cilium" in names
                                   else "the CNI must support SCTP for the rule to open it"))
        if feats.named_port:
            out.append("a rule names its port: the CNI may resolve the name differently (another container's "
                       "port of that name, or another protocol)")
        if cell.src.host_network or (cell.dst_pod and cell.dst_pod.host_network):
            out.append("hostNetwork pod: the API leaves policies for them undefined; this CNI treats the traffic "
                       "as the node's (try --hostnetwork-as-pods to compare)")
        out.append("a policy the model does not read (CiliumNetworkPolicy, Calico GlobalNetworkPolicy, an admin "
                   "policy out of reach of the reader) or a node firewall drops it")
    elif cell.model == FlowVerdict.DENY and network == FlowVerdict.ALLOW:
        if not cnis:
            out.append("no NetworkPolicy-enforcing CNI was seen in the cluster's pods (the kube-system pods may not "
                       "be readable): policies may not be enforced at all")
        elif names <= {"Flannel"}:
            out.append("Flannel alone does not implement NetworkPolicy: nothing is enforced")
        elif names <= {"kindnet"}:
            out.append("kindnet enforces NetworkPolicy only in recent releases: check its version")
        if feats.ip_block and pod_dst:
            out.append("an ipBlock covers this pod's IP: some CNIs match pod IPs with ipBlock (try "
                       "--ipblock-matches-pods to compare)")
        if cell.src.host_network or (cell.dst_pod and cell.dst_pod.host_network):
            out.append("hostNetwork pod: policies are undefined for them; this CNI does not isolate it")
        if feats.end_port:
            out.append("a policy uses endPort: a CNI that mishandles it may open more than the range")
        out.append("a policy the model does not read allows it (CiliumNetworkPolicy, Calico policy with a "
                   "higher order), or the policy has not reached the node yet")
    return out
