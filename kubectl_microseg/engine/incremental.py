"""Provides LiveModel: the analysis of a changing cluster, updated per event instead of rebuilt.

Everything a namespace holds (its pods and workloads, its NetworkPolicies, its labels) can only change
the verdicts of pairs in which one side is a pod of that namespace: a NetworkPolicy selects pods of its
own namespace only, and a pod or a label change alters the pod classes of that namespace only. So an
event in namespace N re-reads N's objects, replaces N's pod classes and policies inside the Analyzer
(keeping every other class and compiled rule), and recomputes just the class pairs that involve N.
Cluster-scoped admin policies can touch any pair: a change to them rebuilds everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from ..model.cluster import Cluster, build_cluster
from ..model.objects import SourceObject
from ..model.ports import ConnSet
from .k8s import DIRECTIONS, Analyzer, CompiledRule, Options, iter_bits
from .matrix import Matrix

Key = tuple[str, str, str]
CLUSTER_SCOPED = frozenset({"AdminNetworkPolicy", "BaselineAdminNetworkPolicy"})


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
        if global_change:
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
        cluster = self.cluster
        # 1. the cluster's lists
        old_wl = [w for w in cluster.workloads if w.namespace == ns]
        old_pol = [e for e in cluster.policies if e.policy.namespace == ns]
        cluster.workloads = sorted([w for w in cluster.workloads if w.namespace != ns] + part.workloads,
                                   key=lambda w: (w.namespace, w.name, w.kind))
        cluster.policies = sorted([e for e in cluster.policies if e.policy.namespace != ns] + part.policies,
                                  key=lambda e: (e.policy.namespace, e.policy.name))
        labels_changed = False
        if ns in part.namespaces:
            new_ns = part.namespaces[ns]
            labels_changed = a.ns_labels.get(ns) != new_ns.labels
            cluster.namespaces[ns] = new_ns
            a.ns_labels[ns] = new_ns.labels
        if labels_changed:
            a._cache = {k: v for k, v in a._cache.items() if k[0] != "ns"}

        # 2. classes: drop the namespace's workloads, add the new ones (reusing equal classes)
        old_classes = set(a.by_namespace.get(ns, ()))
        for w in old_wl:
            for i in a.workload_classes.pop(w.id, ()):
                a.class_workloads[i] = [x for x in a.class_workloads[i] if x.id != w.id]
                a.class_members.pop((w.id, i), None)
        created: list[int] = []
        for w in part.workloads:
            created.extend(a._add_workload(w))
        current = {i for i in a.by_namespace.get(ns, ()) if a.class_workloads[i]}
        dead = old_classes - current
        a.all_classes = (1 << len(a.classes)) - 1
        for i in dead:  # a class nobody belongs to any more: forget it everywhere, never reuse its index
            a.class_workloads[i] = []
            a._class_keys.pop(a._key_of[i], None)
        a.by_namespace[ns] = sorted(current)
        dead_mask = sum(1 << i for i in dead)
        live_mask = a.all_classes & ~dead_mask
        a.ip_classes = [c for c in a.classes if c.ips is not None and (live_mask >> c.index) & 1]
        # selector caches of this namespace are stale
        a._cache = {k: v for k, v in a._cache.items() if not (k[0] == "pod" and k[1] == ns) and k[0] != "atoms"}

        # 3. policies of the namespace: forget the old ones, compile the new ones
        for e in old_pol:
            pid = e.policy.id
            a.policy_selects.pop(pid, None)
            for d in DIRECTIONS:
                for r in e.policy.rules(d):
                    a.compiled.pop((pid, d, r.index), None)
        n = len(a.classes)
        for d in DIRECTIONS:
            for lst in (a.isolating[d], a.rules_of[d]):
                lst.extend([] for _ in range(n - len(lst)))
            for i in old_classes | current:
                a.isolating[d][i] = []
                a.rules_of[d][i] = []
        for e in part.policies:
            pol = e.policy
            selected = a.selected_classes(pol)
            a.policy_selects[pol.id] = selected
            for d in DIRECTIONS:
                if not pol.affects(d):
                    continue
                crs = [a._compile_rule(pol, r) for r in pol.rules(d)]
                for i in iter_bits(selected):
                    a.isolating[d][i].append(pol)
                    a.rules_of[d][i].extend(crs)

        # 4. every other compiled rule: clear dead classes, evaluate the new (or relabelled) ones
        fresh = set(created) | (current if labels_changed else set())
        own = {(e.policy.id, d, r.index) for e in part.policies for d in DIRECTIONS for r in e.policy.rules(d)}
        for key, cr in a.compiled.items():
            if key in own:
                continue
            cr.classes &= ~dead_mask
            for i in fresh:
                if _rule_matches(a, cr, i):
                    cr.classes |= 1 << i
        if a.has_admin:
            a._compile_admin()
        a._build_atoms()

        # 5. the class pairs that involve the namespace
        touched = old_classes | current
        self.class_cells = {k: v for k, v in self.class_cells.items() if k[0] not in touched and k[1] not in touched}
        for b in current:
            for src in iter_bits(_admitted(a, b) & live_mask):
                c = a.class_allows(src, b)
                if c:
                    self.class_cells[(src, b)] = c
        for src in current:
            for b in iter_bits(_reachable(a, src) & live_mask):
                if b in current:
                    continue
                c = a.class_allows(src, b)
                if c:
                    self.class_cells[(src, b)] = c


def _rule_matches(a: Analyzer, cr: CompiledRule, i: int) -> bool:
    """Whether a compiled rule's peers select class ``i`` (same rules as Analyzer.peer_classes)."""
    if cr.all_peers:
        return True
    c = a.classes[i]
    if c.host_network:
        return any(p.ip_block is not None and c.ips is not None and (c.ips & p.ip_block) for p in cr.rule.peers or ())
    for p in cr.rule.peers or ():
        if p.ip_block is not None:
            if c.ips is not None and (c.ips & p.ip_block):
                return True
        elif p.namespace_selector is None:
            if c.namespace == cr.policy.namespace and (p.pod_selector is None or p.pod_selector.matches(c.labels)):
                return True
        elif p.namespace_selector.matches(a.ns_labels.get(c.namespace, {})) and (
                p.pod_selector is None or p.pod_selector.matches(c.labels)):
            return True
    return False


def _admitted(a: Analyzer, b: int) -> int:
    """Classes that b's ingress may admit (a superset; ports are checked per pair)."""
    if a.has_admin or not a.isolating["ingress"][b]:
        return a.all_classes
    bits = 0
    for cr in a.rules_of["ingress"][b]:
        bits |= cr.classes
    return bits


def _reachable(a: Analyzer, src: int) -> int:
    """Classes that src's egress may reach (a superset)."""
    if a.has_admin or not a.isolating["egress"][src]:
        return a.all_classes
    bits = 0
    for cr in a.rules_of["egress"][src]:
        bits |= cr.classes
    return bits
