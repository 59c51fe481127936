"""Provides LiveModel: the analysis of a changing cluster, updated per event instead of rebuilt.

Everything a namespace holds (its pods and workloads, its NetworkPolicies, its labels) can only change
the verdicts of pairs in which one side is a pod of that namespace: a NetworkPolicy selects pods of its
own namespace only, and a pod or a label change alters the pod classes of that namespace only. So an
event in namespace N re-reads N's objects, replaces N's pod classes and policies inside the Analyzer
(keeping every other class and compiled rule: ``Analyzer.replace_namespace``), and recomputes just the
class pairs that involve N, through the same decision pipeline as the full matrix.
Cluster-scoped admin policies can touch any pair: a change to them rebuilds everything (so does a
CiliumCIDRGroup), and so does a change to a Calico object (its tiers order policies of every namespace; a
GlobalNetworkPolicy selects any pod). Pod and namespace events on a Calico cluster stay incremental:
``replace_namespace`` recompiles the Calico tiers for the new classes (their pairs are decided again, the
others keep their verdicts). Cilium policies (CNP/CCNP) span namespaces but decide only their subjects'
verdicts: a change to one compiles the Cilium layer again (``Analyzer.replace_cilium``) and recomputes the
pairs of the classes the policy selected before or selects now; a namespace event with Cilium policies
present compiles the layer again onto the namespace's new classes (``Analyzer.replace_namespace``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ..model.admin import ADMIN_KINDS
from ..model.calico import API_GROUPS as CALICO_API_GROUPS
from ..model.calico import CALICO_KINDS
from ..model.cilium import (
    CIDR_GROUP_KIND,
    TWO_CNIS_NOTE,
    CiliumEntry,
    cidr_groups,
    parse_entries,
    sort_entries,
    summary_notes,
)
from ..model.cilium import POLICY_KINDS as CILIUM_POLICY_KINDS
from ..model.cilium import uses_service_accounts as cilium_uses_service_accounts
from ..model.cluster import WORKLOAD_KINDS, Cluster, build_cluster
from ..model.istio import MESH_KINDS
from ..model.objects import ObjectKey, SourceObject
from ..model.ports import ConnSet
from ..model.snapshot import Snapshot
from ..vocab import DIRECTIONS
from .analyze import analyze
from .k8s import Analyzer, Options, iter_bits
from .matrix import Matrix

REBUILD_KINDS = frozenset(ADMIN_KINDS) | frozenset(MESH_KINDS) | {CIDR_GROUP_KIND} | frozenset(
    f"{k}.{g.partition('/')[0]}" for k in CALICO_KINDS for g in CALICO_API_GROUPS)
"""Kinds (as object keys hold them: ``SourceObject.key_kind``) whose change rebuilds the model (Istio's: a
root-namespace policy is mesh-wide, and the mesh layer reads the whole cluster's objects; a
CiliumCIDRGroup: the Cilium policies that name it are parsed again; Calico's: the tiers are compiled from
every namespace's Calico objects). CNP/CCNP events are incremental (``LiveModel._apply_cilium``)."""

POD_KINDS = frozenset(("Pod",) + WORKLOAD_KINDS)
"""Kinds that change pod classes only (never a namespace's policies or labels)."""


def _namespace_of(obj: SourceObject) -> str | None:
    """The namespace an object's analysis belongs to (None: cluster-wide)."""
    if obj.key_kind in REBUILD_KINDS or obj.kind in CILIUM_POLICY_KINDS:
        return None
    if obj.kind == "Namespace":
        return obj.name
    return obj.namespace or "default"


def _policy_key(obj: SourceObject) -> tuple[str, str | None, str]:
    """A CNP/CCNP object's (kind, namespace, name) as its model.cilium.CiliumPolicy values carry them."""
    ns = (obj.namespace or "default") if obj.kind == CILIUM_POLICY_KINDS[0] else None
    return (obj.kind, ns, obj.name)


@dataclass
class Update:
    """What one call to :meth:`LiveModel.apply` changed."""

    namespaces: set[str] = field(default_factory=set)
    rebuilt: bool = False
    """True when the whole model was rebuilt (a cluster-scoped policy changed)."""
    pairs: set[tuple[str, str]] | None = None
    """The (source, destination) cells of :meth:`LiveModel.matrix` whose value changed (None: any may have:
    after a rebuild, new address-range boundaries, or before the matrix was first asked for)."""


class LiveModel:
    """Objects by key, an Analyzer over them, and the class-level matrix, kept current event by event."""

    analyzer: Analyzer
    cluster: Cluster
    class_cells: dict[tuple[int, int], ConnSet]
    _notes_of: dict[str, list[str]]
    """Namespace -> the notes (parse warnings) about its objects in ``cluster.notes``, once re-analysed."""
    _matrix: Matrix | None
    _external: bool
    _cilium_notes: list[str]
    """The notes about the Cilium policies as a whole in ``cluster.notes`` (replaced on a CNP/CCNP event)."""

    def __init__(self, objects: Iterable[SourceObject], options: Options | None = None):
        self.options = options or Options()
        self.objects: dict[ObjectKey, SourceObject] = {o.key(): o for o in objects}
        self._keys_of: dict[str | None, set[ObjectKey]] = {}
        """Namespace (None: cluster-wide) -> the keys of its objects."""
        for k, o in self.objects.items():
            self._keys_of.setdefault(_namespace_of(o), set()).add(k)
        self._rebuild()

    # ------------------------------------------------------------------ public
    def apply(self, changed: Iterable[SourceObject] = (), deleted: Iterable[ObjectKey] = ()) -> Update:
        """Apply added/modified objects and deletions (by key); update the analysis incrementally."""
        up = Update()
        changed, deleted = list(changed), list(deleted)
        cilium = {o.key() for o in changed if o.kind in CILIUM_POLICY_KINDS}
        cilium |= {k for k in deleted if k[0] in CILIUM_POLICY_KINDS}
        if cilium:  # handled by _apply_cilium, after the rest
            cil_changed = [o for o in changed if o.kind in CILIUM_POLICY_KINDS]
            changed = [o for o in changed if o.kind not in CILIUM_POLICY_KINDS]
            deleted = [k for k in deleted if k[0] not in CILIUM_POLICY_KINDS]
            up = self.apply(changed, deleted) if changed or deleted else up
            self._apply_cilium(cil_changed, [k for k in cilium if k not in {o.key() for o in cil_changed}], up)
            return up
        accounts = {o.key() for o in changed if o.kind == "ServiceAccount"} | {k for k in deleted
                                                                              if k[0] == "ServiceAccount"}
        by_account = bool(accounts) and self.cluster.calico.uses_service_accounts
        """Calico policies match by service account: their labels may change any such match (rebuild)."""
        if accounts and not by_account:  # nothing else reads ServiceAccounts: keep them, analyse nothing
            for o in changed:
                if o.key() in accounts:
                    self.objects[o.key()] = o
                    self._keys_of.setdefault(_namespace_of(o), set()).add(o.key())
            for k in deleted:
                if k in accounts and (gone_sa := self.objects.pop(k, None)) is not None:
                    self._keys_of.get(_namespace_of(gone_sa), set()).discard(k)
            changed = [o for o in changed if o.key() not in accounts]
            deleted = [k for k in deleted if k not in accounts]
            if not changed and not deleted:
                return up
        for ns in {_namespace_of(o) for o in changed} | {_namespace_of(self.objects[k]) for k in deleted
                                                            if k in self.objects}:
            if ns is not None and ns not in self._notes_of:  # what the full build said about it, to replace
                self._notes_of[ns] = build_cluster(self.objects[k] for k in self._keys_of.get(ns, ())).notes
        global_change = False
        policy_nss = {_namespace_of(o) for o in changed if o.kind not in POD_KINDS}
        policy_nss |= {_namespace_of(self.objects[k]) for k in deleted if k in self.objects
                       and self.objects[k].kind not in POD_KINDS}
        for obj in changed:
            self.objects[obj.key()] = obj
            ns = _namespace_of(obj)
            self._keys_of.setdefault(ns, set()).add(obj.key())
            global_change |= ns is None
            if ns is not None:
                up.namespaces.add(ns)
        for key in deleted:
            if key not in self.objects:
                continue
            obj = self.objects.pop(key)
            ns = _namespace_of(obj)
            self._keys_of.get(ns, set()).discard(key)
            global_change |= ns is None
            if ns is not None:
                up.namespaces.add(ns)
        if global_change or by_account:
            self._rebuild()
            up.rebuilt = True
            return up
        atoms = [a.cidrs for a in self.analyzer.atoms]
        gone = {w.id for w in self.cluster.workloads if w.namespace in up.namespaces}
        touched: set[int] = set()
        same = True
        for ns in sorted(up.namespaces):
            classes, kept = self._replace_namespace(ns, ns in policy_nss)
            touched |= classes
            same &= kept
        if self._matrix is not None:
            if atoms != [a.cidrs for a in self.analyzer.atoms]:  # new ipBlock boundaries: every external cell
                self._matrix = None
            elif same:
                up.pairs = self._relabel_matrix(up.namespaces)
            else:
                up.pairs = self._patch_matrix(up.namespaces, touched, gone)
        return up

    def matrix(self, *, external: bool = True) -> Matrix:
        """The workload-level matrix of the current state: computed once, then patched by :meth:`apply`
        (only the cells touching the namespaces it re-analysed). Read-only: each update makes a new one."""
        if self._matrix is None or self._external != external:
            self._matrix = self.analyzer.matrix(external=external, class_cells=self.class_cells)
            self._external = external
        matrix = self._matrix
        matrix.notes = list(self.cluster.notes)
        return matrix

    # ------------------------------------------------------------------ internals
    def _cilium_summary(self, entries: list[CiliumEntry]) -> list[str]:
        """The cluster notes about the Cilium policies as a whole (and about both CNIs' objects)."""
        return summary_notes(entries) + ([TWO_CNIS_NOTE] if entries and self.cluster.calico else [])

    def _apply_cilium(self, changed: list[SourceObject], deleted: list[ObjectKey], up: Update) -> None:
        """CNP/CCNP events: parse the Cilium policies again, compile the layer again, and recompute the pairs
        of the classes the changed objects' policies select before or after (a policy decides only its
        subjects' verdicts: ingress rules the pairs into them, egress rules the pairs out of them)."""
        keys = {_policy_key(o) for o in changed} | {_policy_key(self.objects[k]) for k in deleted if k in self.objects}
        for obj in changed:
            self.objects[obj.key()] = obj
            self._keys_of.setdefault(None, set()).add(obj.key())
        for key in deleted:
            if self.objects.pop(key, None) is not None:
                self._keys_of.get(None, set()).discard(key)
        if up.rebuilt:
            self._rebuild()
            return
        a = self.analyzer
        before = a.cilium_touches(keys)
        # parse only the changed objects; keep the other rule objects (CIDR groups did not change: they rebuild)
        groups = cidr_groups([self.objects[k] for k in self._keys_of.get(None, ()) if k[0] == CIDR_GROUP_KIND])
        fresh = parse_entries(changed, groups)  # raises InputError on a bad object, like a rebuild would
        if not a.by_service_account and cilium_uses_service_accounts([e.policy for e in fresh]):
            up.rebuilt = True  # pods must now be classed by service account too
            self._rebuild()
            return
        kept = [e for e in self.cluster.cilium if (e.policy.kind, e.policy.namespace, e.policy.name) not in keys]
        entries = sort_entries(kept + fresh)
        notes = self._cilium_summary(entries)
        old_notes = set(self._cilium_notes)
        self.cluster.notes[:] = [n for n in self.cluster.notes if n not in old_notes] + notes
        self._cilium_notes = notes
        atoms = [x.cidrs for x in a.atoms] + [x.id for x in a.fqdn_atoms]
        a.replace_cilium(entries, keys)
        touched = before | a.cilium_touches(keys)
        live = a.live_classes()
        redo = set(iter_bits(touched & live))
        self.class_cells = {k: v for k, v in self.class_cells.items() if k[0] not in redo and k[1] not in redo}
        self._decide(redo, live)
        up.namespaces |= {w.namespace for c in redo for w in a.class_workloads[c]}
        if self._matrix is not None:
            if atoms != [x.cidrs for x in a.atoms] + [x.id for x in a.fqdn_atoms]:
                self._matrix = None  # new address ranges or toFQDNs names: every external cell
                up.pairs = None
            else:
                ids = {w.id for c in redo for w in a.class_workloads[c]}
                up.pairs = (up.pairs or set()) | self._patch_matrix(set(), redo, ids, ids)

    def _rebuild(self) -> None:
        self.analyzer = analyze(Snapshot(list(self.objects.values()), "live model"), self.options)
        self.cluster = self.analyzer.cluster
        self.class_cells = self.analyzer.class_matrix()
        self._notes_of = {}
        self._matrix = None
        self._external = True
        self._cilium_notes = self._cilium_summary(self.cluster.cilium)

    def _patch_matrix(self, namespaces: set[str], classes: set[int], gone: set[str],
                      now: set[str] | None = None) -> set[tuple[str, str]]:
        """Replace the kept matrix's cells that touch ``namespaces`` (whose workloads were ``gone`` before and
        whose classes were or are ``classes``; or the workloads ``now``) by a new matrix; return the cells
        whose value changed."""
        old = self._matrix
        assert old is not None
        if now is None:
            now = {w.id for w in self.cluster.workloads if w.namespace in namespaces}
        fresh = {k: v for k, v in self.class_cells.items() if k[0] in classes or k[1] in classes}
        part = self.analyzer.matrix(external=self._external, class_cells=fresh, touching=now)
        dead = gone | now
        cells, dropped = {}, []
        for k, v in old.cells.items():
            if k[0] in dead or k[1] in dead:
                dropped.append(k)
            else:
                cells[k] = v
        cells.update(part.cells)
        changed = {k for k in dropped if cells.get(k) != old.cells[k]}
        changed.update(k for k, v in part.cells.items() if old.cells.get(k) != v)
        ids = {e.id: e for e in old.endpoints}
        ids.update((e.id, e) for e in part.endpoints)
        endpoints = [ids[w.id] for w in self.cluster.workloads]
        endpoints.extend(e for e in part.endpoints if e.is_external)
        self._matrix = replace(old, endpoints=endpoints, cells=cells, notes=list(self.cluster.notes))
        return changed

    def _relabel_matrix(self, namespaces: set[str]) -> set[tuple[str, str]]:
        """The kept matrix with the namespaces' workload endpoints made anew (their labels), every cell as it
        was: every workload kept its classes up to twins (:meth:`_replace_namespace`). No cell changed."""
        old = self._matrix
        assert old is not None
        a = self.analyzer
        fresh = {e.id: e for e in (a.workload_endpoint(w) for w in self.cluster.workloads if w.namespace in namespaces)}
        endpoints = [fresh.get(e.id, e) if e.namespace in namespaces else e for e in old.endpoints]
        self._matrix = replace(old, endpoints=endpoints, notes=list(self.cluster.notes))
        return set()

    def _replace_namespace(self, ns: str, policies_changed: bool = True) -> tuple[set[int], bool]:
        """Re-analyse one namespace; return its class indices before and after (the pairs that can change),
        and whether its workload cells all stand (every workload is still there, its classes each new ones'
        twins or kept: none of its cells can differ).

        Without ``policies_changed`` (only pods and workloads of ``ns`` changed: its policies and labels are
        as they were), a class the namespace kept is selected by exactly the rules it was selected by, so its
        verdicts with every other kept class stand; only the pairs of its new classes are decided, and a new
        class selected like a class that died (a relabelled pod template whose new label no rule reads: the
        CoreDNS event) takes the dead class's verdicts (:meth:`_twins`)."""
        a = self.analyzer
        part = build_cluster(self.objects[k] for k in self._keys_of.get(ns, ()))
        before = self._signatures(a.by_namespace.get(ns, ())) if not policies_changed and self._twinnable() else {}
        had = {w.id: a.workload_classes.get(w.id, []) for w in self.cluster.workloads if w.namespace == ns} \
            if before else {}
        old, current = a.replace_namespace(ns, part, policies_changed)
        stale = set(self._notes_of.get(ns, ()))
        kept = [n for n in self.cluster.notes if n not in stale]
        self.cluster.notes[:] = kept + [n for n in part.notes if n not in kept]
        self._notes_of[ns] = part.notes
        # the class pairs that involve the namespace
        touched = old | current
        redo = touched if policies_changed else old ^ current  # the dead and the new classes
        decide = current if policies_changed else current - old
        twins = self._twins(before, old - current, current - old) if before else {}
        previous = self.class_cells
        self.class_cells = {k: v for k, v in previous.items() if k[0] not in redo and k[1] not in redo}
        if twins:
            decide = decide - twins.keys()
            self._inherit(previous, twins, redo)
        self._decide(decide, a.live_classes())
        same = bool(before) and not decide and len(had) == len(part.workloads) and all(
            had.get(w.id) == [twins.get(i, i) for i in a.workload_classes.get(w.id, ())] for w in part.workloads)
        return touched, same

    def _decide(self, classes: set[int], live: int) -> None:
        """Decide every allowed pair of live classes that involves ``classes`` (each pair once), into
        ``class_cells``: only the candidates the analyzer's reverse indexes name (``may_admit``/``may_reach``)."""
        a = self.analyzer
        for b in classes:
            for src in iter_bits(a.may_admit(b) & live):
                c = a.class_allows(src, b)
                if c:
                    self.class_cells[(src, b)] = c
        for src in classes:
            for b in iter_bits(a.may_reach(src) & live):
                if b not in classes:
                    c = a.class_allows(src, b)
                    if c:
                        self.class_cells[(src, b)] = c

    # ------------------------------------------------------------------ twins: new classes decided like dead ones
    def _twinnable(self) -> bool:
        """True when a class's verdicts follow from how the NetworkPolicy rules select it, nothing else: no
        admin, Calico or Cilium layer (those read labels themselves). This is the condition under which
        ``engine.pipeline.allowed`` skips the layer loop and reads only the compiled rules."""
        a = self.analyzer
        return not a.has_admin and a.cilium is None and not a.calico_tiers \
            and not any(a.calico_selects.values())

    def _signatures(self, classes: Iterable[int]) -> dict[int, tuple[Any, ...]]:
        """What the NetworkPolicy tier sees of each class: its namespace, hostNetwork, named ports, the
        policies isolating it and their rules per direction, and every compiled rule whose peers select it.
        Two classes with one signature get the same verdict with every peer (``pipeline.allowed``)."""
        a = self.analyzer
        classes = [i for i in classes if a.classes[i].ips is None]  # pod IPs in ipBlocks: never twinned
        hit: dict[int, list[tuple[str, str, int]]] = {i: [] for i in classes}
        if not classes:
            return {}
        for key, cr in a.compiled.items():
            bits = cr.classes
            for i in classes:
                if bits >> i & 1:
                    hit[i].append(key)
        out = {}
        for i in classes:
            c = a.classes[i]
            out[i] = (c.namespace, c.host_network, c.named_ports, c.networks,
                      tuple(tuple(p.id for p in a.isolating[d][i]) for d in DIRECTIONS),
                      tuple(tuple((cr.policy.id, cr.rule.index) for cr in a.rules_of[d][i]) for d in DIRECTIONS),
                      frozenset(hit[i]))
        return out

    def _twins(self, before: dict[int, tuple[Any, ...]], dead: set[int], new: set[int]) -> dict[int, int]:
        """New class -> a dead class of the same signature (taken before the namespace was replaced)."""
        by_sig = {before[i]: i for i in sorted(dead) if i in before}
        if not by_sig or not new:
            return {}
        return {i: by_sig[sig] for i, sig in self._signatures(new).items() if sig in by_sig}

    def _inherit(self, previous: dict[tuple[int, int], ConnSet], twins: dict[int, int], redo: set[int]) -> None:
        """Give each twinned new class its dead twin's cells (with every class still there, and with each
        other through their twins); pairs with a new class that has no twin are decided afresh."""
        heirs: dict[int, list[int]] = {}
        for i, t in twins.items():
            heirs.setdefault(t, []).append(i)
        for (x, y), v in previous.items():
            xs, ys = heirs.get(x), heirs.get(y)
            if xs is None and ys is None:
                continue
            for nx in xs if xs is not None else (() if x in redo else (x,)):
                for ny in ys if ys is not None else (() if y in redo else (y,)):
                    self.class_cells[(nx, ny)] = v
