"""Provides the running pods of a snapshot: address, containers, declared ports, and the workload they stand under."""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable

from ..model.cluster import Cluster
from ..model.objects import SourceObject


@dataclass(frozen=True)
class PodRef:
    """One running pod that can send or receive probes."""

    namespace: str
    name: str
    ip: str
    workload: str
    """The id of the endpoint it stands under (``ns/name``)."""
    containers: tuple[str, ...]
    ports: tuple[tuple[str, int], ...]
    """(protocol, containerPort) of its containers, as declared."""
    labels: tuple[tuple[str, str], ...] = ()
    host_network: bool = False
    images: tuple[str, ...] = ()
    named: tuple[tuple[str, str, int], ...] = ()
    """(name, protocol, containerPort) of its named ports."""

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"


def running_pods(objects: Iterable[SourceObject], cluster: Cluster, *, running_only: bool = True) -> list[PodRef]:
    """Pods in phase Running with an IP, each with the endpoint id it stands under, sorted by namespace/name.

    With ``running_only=False`` (to map flows observed in the past), every pod with an IP whose phase is not
    Succeeded or Failed (those no longer hold their address), a phase left out included."""
    owner = {(w.namespace, p): w.id for w in cluster.workloads for p in w.pods}
    owner.update({(w.namespace, w.name): w.id for w in cluster.workloads if w.kind == "Pod"})
    out = []
    for obj in objects:
        raw = obj.raw
        if raw.get("kind") != "Pod" or not isinstance(raw.get("metadata"), dict):
            continue
        meta, spec, status = raw["metadata"], raw.get("spec") or {}, raw.get("status") or {}
        ns, name = str(meta.get("namespace") or "default"), str(meta.get("name") or "")
        ip = status.get("podIP") or next((e.get("ip") for e in status.get("podIPs") or [] if isinstance(e, dict)),
                                         None)
        phase = status.get("phase")
        if (phase != "Running" if running_only else phase in ("Succeeded", "Failed")) or not ip \
                or (ns, name) not in owner:
            continue
        containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
        ports = tuple(sorted({(str(p.get("protocol") or "TCP"), int(p["containerPort"]))
                              for c in containers for p in c.get("ports") or []
                              if isinstance(p, dict) and isinstance(p.get("containerPort"), int)}))
        named = tuple(sorted({(str(p["name"]), str(p.get("protocol") or "TCP"), int(p["containerPort"]))
                              for c in containers for p in c.get("ports") or []
                              if isinstance(p, dict) and p.get("name") and isinstance(p.get("containerPort"), int)}))
        labels = tuple(sorted((str(k), str(v)) for k, v in (meta.get("labels") or {}).items()))
        out.append(PodRef(ns, name, str(ip), owner[(ns, name)], tuple(str(c.get("name")) for c in containers),
                          ports, labels, bool(spec.get("hostNetwork")),
                          tuple(str(c.get("image") or "") for c in containers), named))
    return sorted(out, key=lambda p: (p.namespace, p.name))


def class_key(p: PodRef) -> tuple:
    """What makes pods indistinguishable to every policy: namespace, labels, named ports, hostNetwork.

    Declared ports stand in for named ports here (a pod's named ports are among them); two pods of one class
    may only differ in what policies cannot see.
    """
    return (p.namespace, p.labels, p.ports, p.host_network)
