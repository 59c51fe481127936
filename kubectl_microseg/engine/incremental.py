"""Provides LiveModel: the analysis of a changing cluster, updated per event instead of rebuilt.

Everything a namespace holds (its pods and workloads, its NetworkPolicies, its labels) can only change
the verdicts of pairs in which one side is a pod of that namespace: a NetworkPolicy selects pods of its
own namespace only, and a pod or a label change alters the pod classes of that namespace only. So an
event in namespace N re-reads N's objects, replaces N's pod classes and policies inside the Analyzer
(keeping every other class and compiled rule: ``Analyzer.replace_namespace``), and recomputes just the
class pairs that involve N, through the same decision pipeline as the full matrix.
Cluster-scoped admin policies can touch any pair: a change to them rebuilds everything; so does any
event while Cilium policies are present (their rules are compiled across namespaces).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from ..model.admin import ADMIN_KINDS
from ..model.cilium import KINDS as CILIUM_KINDS
from ..model.istio import MESH_KINDS
from ..model.cluster import Cluster, build_cluster
from ..model.objects import SourceObject
from ..model.ports import ConnSet
from .k8s import Analyzer, Options, iter_bits
from .matrix import Matrix

Key = tuple[str, str, str]
CLUSTER_SCOPED = frozenset(ADMIN_KINDS) | frozenset(MESH_KINDS) | frozenset(CILIUM_KINDS)
"""Kinds whose change rebuilds the model (Istio's: a root-namespace policy is mesh-wide, and the mesh layer
reads the whole cluster's objects; Cilium's: a CNP's peers may name other namespaces and engine.cilium
compiles them onto every class, which replace_namespace does not redo)."""


def _namespace_of(obj: SourceObject) -> str | None:
    """The namespace an object's analysis belongs to (None: cluster-wide)."""
    if obj.kind in CLUSTER_SCOPED:
        return None
    if obj.kind == "Namespace":
        return obj.name
    return obj.namespace or "default"


@dataclass
class Update:
    """What one call to :meth:`LiveModel.apply` changed."""

    namespaces: set[str] = field(default_factory=set)
    rebuilt: bool = False
    """True when the whole model was rebuilt (a cluster-scoped policy changed)."""


class LiveModel:
    """Objects by key, an Analyzer over them, and the class-level matrix, kept current event by event."""

    def __init__(self, objects: Iterable[SourceObject], options: Options | None = None):
        self.options = options or Options()
        self.objects: dict[Key, SourceObject] = {o.key(): o for o in objects}
        self._rebuild()

    # ------------------------------------------------------------------ public
    def apply(self, changed: Iterable[SourceObject] = (), deleted: Iterable[Key] = ()) -> Update:
        """Apply added/modified objects and deletions (by key); update the analysis incrementally."""
        up = Update()
        global_change = False
        for obj in changed:
            self.objects[obj.key()] = obj
            ns = _namespace_of(obj)
            global_change |= ns is None
            if ns is not None:
                up.namespaces.add(ns)
        for key in deleted:
            obj = self.objects.pop(key, None)
            if obj is None:
                continue
            ns = _namespace_of(obj)
            global_change |= ns is None
            if ns is not None:
                up.namespaces.add(ns)
        if global_change or self.analyzer.cilium is not None:  # Cilium rules span namespaces: rebuild
            self._rebuild()
            up.rebuilt = True
            return up
        for ns in sorted(up.namespaces):
            self._replace_namespace(ns)
        return up

    def matrix(self, *, external: bool = True) -> Matrix:
        """The workload-level matrix of the current state."""
        return self.analyzer.matrix(external=external, class_cells=self.class_cells)

    # ------------------------------------------------------------------ internals
    def _rebuild(self) -> None:
        self.cluster: Cluster = build_cluster(self.objects.values())
        self.analyzer = Analyzer(self.cluster, self.options)
        self.class_cells: dict[tuple[int, int], ConnSet] = self.analyzer.class_matrix()

    def _replace_namespace(self, ns: str) -> None:
        a = self.analyzer
        part = build_cluster(o for o in self.objects.values() if _namespace_of(o) == ns)
        old, current = a.replace_namespace(ns, part)
        # the class pairs that involve the namespace
        touched = old | current
        live = a.live_classes()
        self.class_cells = {k: v for k, v in self.class_cells.items() if k[0] not in touched and k[1] not in touched}
        for b in current:
            for src in iter_bits(a.may_admit(b) & live):
                c = a.class_allows(src, b)
                if c:
                    self.class_cells[(src, b)] = c
        for src in current:
            for b in iter_bits(a.may_reach(src) & live):
                if b in current:
                    continue
                c = a.class_allows(src, b)
                if c:
                    self.class_cells[(src, b)] = c
