"""Provides the TUI's data layer for Kubernetes: one analysed snapshot, live events applied to it, and its
explanations.

No Textual here. :class:`KubeSession` implements the screens' :class:`~.protocol.Session`. A live update
(:func:`live_session`) or a simulated change gives a new session; :func:`changed_pairs` says which cells
differ when the update cannot name them. Workers call these functions off the UI thread.
"""

from __future__ import annotations

import argparse
import threading
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kubectl_microseg.engine.analyze import analyze
from kubectl_microseg.engine.diff import diff_matrices
from kubectl_microseg.engine.explain import PairExplanation, explain_pair
from kubectl_microseg.engine.k8s import Analyzer, ExternalAtom, Reason
from kubectl_microseg.engine.matrix import Cell, Endpoint, Matrix
from kubectl_microseg.engine.mesh import MeshCandidates
from kubectl_microseg.engine.staged import StagedChange, staged_changes
from kubectl_microseg.gcpause import paused_gc
from kubectl_microseg.model.cluster import PolicyEntry, Workload
from kubectl_microseg.model.objects import ObjectKey, SourceObject
from kubectl_microseg.model.ports import ConnSet
from kubectl_microseg.sources import Snapshot
from kubectl_microseg.vocab import DIRECTIONS, SessionKind

from .explain_doc import Block, explanation_blocks
from .grid import GRANULARITIES, CellFn, Granularity, GridModel
from .protocol import Feature


@dataclass
class KubeSession:
    """One analysed state of the cluster (or files) and how to rebuild it."""

    snapshot: Snapshot
    analyzer: Analyzer
    matrix: Matrix
    args: argparse.Namespace = field(default_factory=argparse.Namespace)
    objects: dict[ObjectKey, SourceObject] = field(default_factory=dict)
    """The objects analysed, by key. On the live path this is the incremental model's own store (no copy per
    event), shared like its analyzer: it holds the newest state; copy it in one step (``list(objects.values())``)."""
    _pods: tuple[list[Endpoint], CellFn] | None = field(default=None, repr=False)
    kind: SessionKind = field(default=SessionKind.K8S, init=False)
    """What the session shows: Kubernetes here, host firewalls in tui/nft_session.py."""
    staged: dict[tuple[str, str], StagedChange] = field(default_factory=dict, repr=False)
    """Pairs whose verdict the Calico staged policies would change if enforced (engine.staged; empty without
    staged policies)."""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    """Held while the live path updates ``analyzer`` in place (LiveModel); readers on the UI thread try it
    without blocking (and say 'updating'), worker threads wait for it."""

    granularities: ClassVar[tuple[Granularity, ...]] = GRANULARITIES
    features: ClassVar[frozenset[Feature]] = frozenset(Feature)
    """Simulate, scaffold, lint findings and probes: every view of a cluster."""

    @property
    def description(self) -> str:
        return self.snapshot.description

    def granularity_word(self, granularity: str) -> str:
        return granularity

    # ------------------------------------------------------------------ what the cursor and explain show
    def one_line(self, src: str, dst: str) -> str:
        """The verdict and each direction's deciding reason; never waits for a live update (says so instead)."""
        if not self.lock.acquire(blocking=False):
            return "the analysis is updating after a change in the cluster …"
        try:
            ex = self.explain(src, dst)
        finally:
            self.lock.release()
        return one_line_reason(ex) if ex is not None else ""

    def explanation_blocks(self, src: str, dst: str) -> list[Block] | None:
        """Both directions and the deciding policies as written (waits for at most one live update)."""
        with self.lock:
            return explanation_blocks(self, src, dst)

    # ------------------------------------------------------------------ endpoints per granularity
    def grid(self, granularity: Granularity, **kw) -> GridModel:
        """The grid model of a granularity (namespace = workloads with every group collapsed)."""
        if granularity == "pod":
            if self._pods is None:
                self._pods = pod_grid(self.analyzer, self.matrix)
            eps, fn = self._pods
            return GridModel(eps, fn, self.matrix.title, granularity="pod", **kw)
        model = GridModel.from_matrix(self.matrix, granularity=granularity, **kw)
        if granularity == "namespace":
            model.collapse_all(True)
        return model

    # ------------------------------------------------------------------ lookups
    def workload(self, eid: str) -> Workload | None:
        return self.analyzer.cluster.workload(eid)

    def atom(self, eid: str) -> ExternalAtom | None:
        for a in [*self.analyzer.atoms, *self.analyzer.fqdn_atoms]:  # address ranges, Cilium toFQDNs names
            if a.id == eid:
                return a
        return None

    def policy_entry(self, policy_id: str) -> PolicyEntry | None:
        """The NetworkPolicy or cluster-wide policy ('[CNP] name') entry of an id (both have policy and source)."""
        for e in self.analyzer.cluster.policies:
            if e.policy.id == policy_id:
                return e
        for a in self.analyzer.cluster.admin_policies:
            if a.policy.id == policy_id:
                return a  # type: ignore[return-value]
        return None

    def isolation(self, w: Workload) -> dict[str, str]:
        """'yes', 'no' or 'partly' per direction: are the workload's pods isolated?"""
        out: dict[str, str] = {}
        classes = self.analyzer.workload_classes.get(w.id, [])
        for d in DIRECTIONS:
            flags = [self.analyzer.is_isolated(c, d) for c in classes]
            out[d] = "yes" if flags and all(flags) else ("partly" if any(flags) else "no")
        return out

    def policy_selects(self, entry: PolicyEntry) -> list[str]:
        """Workload ids a policy's podSelector selects."""
        from kubectl_microseg.engine.k8s import iter_bits

        bits = self.analyzer.policy_selects.get(entry.policy.id, 0)
        ids: dict[str, None] = {}
        for i in iter_bits(bits):
            for w in self.analyzer.class_workloads[i]:
                ids[w.id] = None
        return list(ids)

    def labels(self) -> list[tuple[str, str, int]]:
        """Every (key, value) label on workloads with the number of workloads that carry it."""
        counts: dict[tuple[str, str], int] = {}
        for w in self.analyzer.cluster.workloads:
            for kv in w.labels.items():
                counts[kv] = counts.get(kv, 0) + 1
        return [(k, v, n) for (k, v), n in sorted(counts.items())]

    # ------------------------------------------------------------------ explanations
    def peer(self, eid: str) -> Workload | ExternalAtom | None:
        return self.workload(eid) or self.atom(eid)

    def explain(self, src: str, dst: str) -> PairExplanation | None:
        """Why ``src`` can or cannot open connections to ``dst`` (None for namespace aggregates)."""
        pods = self._pod_classes()
        if src in pods or dst in pods:
            a = pods.get(src) if src in pods else self.atom(src)
            b = pods.get(dst) if dst in pods else self.atom(dst)
            if a is None or b is None:
                return None
            v = self.analyzer.verdict_classes(a, b, src, dst)
            return PairExplanation(src, dst, v.allowed, list(v.egress.reasons), list(v.ingress.reasons),
                                   v.egress.allowed, v.ingress.allowed, [v],
                                   self.analyzer._uncertain(src, dst))
        ps, pd = self.peer(src), self.peer(dst)
        if ps is None or pd is None or (isinstance(ps, ExternalAtom) and isinstance(pd, ExternalAtom)):
            return None
        return explain_pair(self.analyzer, ps, pd)

    def _pod_classes(self) -> dict[str, int]:
        if self._pods is None:
            return {}
        return {e.id: dict(e.extra)["class"] for e in self._pods[0] if e.kind == "Pod"}

    def deciding_policies(self, ex: PairExplanation) -> list[PolicyEntry]:
        """The policies behind an explanation: the allowing rules' and, when denied, the isolating ones."""
        ids: dict[str, None] = {}
        for r in ex.egress + ex.ingress:
            if r.policy is not None:
                ids[r.policy.id] = None
            elif r.admin is not None and r.admin_rule is not None and r.conns:
                ids[r.admin.id] = None  # a cluster-wide rule that accepted, denied or passed ports here
        for v in ex.verdicts:
            for dv in (v.egress, v.ingress):
                if dv.isolated and (not dv.allowed or not ex.allowed):
                    for p in dv.selecting:
                        ids[p.id] = None
        out = [self.policy_entry(i) for i in ids]
        return [e for e in out if e is not None]


def one_line_reason(ex: PairExplanation) -> str:
    """The cursor line: the verdict, then the deciding reason of each direction."""
    def side(reasons: list[Reason], allowed: ConnSet) -> str:
        if not reasons:
            return "-"
        rule_hits = [r.short() for r in reasons if r.policy is not None and r.conns]
        if rule_hits:
            return ", ".join(rule_hits[:2]) + (f" +{len(rule_hits) - 2}" if len(rule_hits) > 2 else "")
        return reasons[0].text
    return f"egress: {side(ex.egress, ex.egress_allowed)} · ingress: {side(ex.ingress, ex.ingress_allowed)}"


def build_session(snapshot: Snapshot, args: argparse.Namespace | None = None,
                  objects: dict[ObjectKey, SourceObject] | None = None) -> KubeSession:
    """Analyse a snapshot (the slow part; run it in a worker)."""
    from kubectl_microseg.load import analyzer_options

    args = args if args is not None else argparse.Namespace()
    analyzer = analyze(snapshot, analyzer_options(args, snapshot))
    m = analyzer.matrix(external=not getattr(args, "no_external", False))
    m.title = f"Effective connectivity ({snapshot.description})"
    m, _ = with_mesh(m, analyzer, args)
    objs = objects if objects is not None else {o.key(): o for o in snapshot.objects}
    return KubeSession(snapshot, analyzer, m, args, objs, staged=_staged(analyzer, objs.values(), args))


def _staged(analyzer: Analyzer, objects: Iterable[SourceObject], args: argparse.Namespace) -> dict:
    """The staged/enforced differences, where the cluster has Calico staged policies (a second analysis)."""
    calico = analyzer.cluster.calico
    if not (calico.staged or calico.staged_k8s):
        return {}
    return staged_changes(list(objects), analyzer.options, external=not getattr(args, "no_external", False))


def live_session(model, snapshot: Snapshot, args: argparse.Namespace, lock: threading.Lock,
                 changed: Iterable[SourceObject] = (), deleted: Iterable[ObjectKey] = (),
                 versions: Iterator[int] | None = None) -> tuple[KubeSession, int, set[tuple[str, str]] | None]:
    """Apply a batch of changes to the shared incremental model (``engine.incremental.LiveModel``, the one
    ``matrix --watch`` uses); return the session of the new state, its version and the cells that changed
    (None: unknown, e.g. after a rebuild).

    Only the namespaces the changes touch are re-analysed, and only their cells of the matrix recomputed.
    ``lock`` is held while the model's analyzer and object store change in place (the session shares both:
    nothing is copied per event), and the version is drawn from ``versions`` under it: versions follow the
    order in which changes reached the model, so the newest version always holds every change applied so far.
    """
    with lock, paused_gc():  # the update builds dicts and tuples, no cycles: a collection would walk the heap
        up = model.apply(list(changed), list(deleted))
        model.cluster.notes[:0] = [n for n in snapshot.notes if n not in model.cluster.notes]
        m = model.matrix(external=not getattr(args, "no_external", False))
        version = next(versions) if versions is not None else 0
        calico = model.analyzer.cluster.calico
        objects = list(model.objects.values()) if calico.staged or calico.staged_k8s else []
        # the mesh's verdicts read the model's cluster: under the lock (engine/mesh.py, ~0.1 s at size L)
        m, mesh_changed = with_mesh(m, model.analyzer, args, _MESHED.get(model), _mesh_candidates(model, up))
        if mesh_changed is not None:
            _MESHED[model] = m
    # the staged verdicts (a second analysis, only with staged policies) from a copy, outside the lock
    staged = _staged(model.analyzer, objects, args) if objects else {}
    m.title = f"Effective connectivity ({snapshot.description})"
    pairs = up.pairs if up.pairs is None or not mesh_changed else up.pairs | mesh_changed
    return KubeSession(snapshot, model.analyzer, m, args, model.objects, staged=staged, lock=lock), version, pairs


_MESHED: weakref.WeakKeyDictionary[Any, Matrix] = weakref.WeakKeyDictionary()
"""A live model -> its last matrix with mesh verdicts (to tell which cells a mesh-only change redraws)."""


def _mesh_candidates(model: Any, up: Any) -> MeshCandidates:
    """The live model's mesh candidates, updated for the namespaces ``up`` (engine.incremental.Update)
    re-analysed; made anew for a new analyzer (the first update, a rebuild)."""
    cands = _CANDIDATES.get(model)
    if cands is None or cands.analyzer is not model.analyzer:
        cands = _CANDIDATES[model] = MeshCandidates(model.analyzer)
    else:
        for ns in up.namespaces:
            cands.update(ns)
    return cands


_CANDIDATES: weakref.WeakKeyDictionary[Any, MeshCandidates] = weakref.WeakKeyDictionary()
"""A live model -> the namespaces that may put a pod in the mesh (kept per event, not rescanned)."""


def with_mesh(m: Matrix, analyzer: Analyzer, args: argparse.Namespace, previous: Matrix | None = None,
              candidates: MeshCandidates | None = None) -> tuple[Matrix, set[tuple[str, str]] | None]:
    """The matrix with the service mesh's verdicts on the cells L4 allows (engine/mesh.py, as ``matrix``
    shows them), as a copy (a live model's matrix is shared and read-only); and the pairs whose mesh verdict
    differs from ``previous`` (None: no mesh now or before). ``candidates`` (a live model's, kept per
    event) skip the mesh layer without reading every workload when nothing may be in a mesh."""
    from dataclasses import replace

    from kubectl_microseg.engine.mesh import annotate
    from kubectl_microseg.load import mesh_analyzer

    may_mesh = candidates is None or candidates.may_mesh()
    mesh = mesh_analyzer(args, analyzer.cluster) if may_mesh else None
    if mesh is None:
        gone = {k for k, c in previous.cells.items() if c.mesh is not None} if previous is not None else None
        return m, gone
    out = annotate(replace(m, cells=dict(m.cells), notes=list(m.notes)), mesh)
    if previous is None:
        return out, set()
    old = previous.cells
    return out, {k for k, c in out.cells.items() if (old[k].mesh if k in old else None) != c.mesh}


def changed_pairs(old: Matrix, new: Matrix) -> set[tuple[str, str]]:
    """The (source, destination) pairs whose cell differs between two matrices: the ports
    (``engine.diff.diff_matrices``, the one matrix diff) or only whether the verdict is certain."""
    d = diff_matrices(old, new, unchanged=False)
    out = {(p.src, p.dst) for p in d.differences()}
    out.update((p.src, p.dst) for p in d.unchanged if old.cells.get((p.src, p.dst)) != new.cells.get((p.src, p.dst)))
    return out


def pod_grid(analyzer: Analyzer, m: Matrix) -> tuple[list[Endpoint], CellFn]:
    """Pod-level endpoints (templates stand for workloads without Pods) and a memoised cell function."""
    eps: list[Endpoint] = []
    cls_of: dict[str, int] = {}
    for w in analyzer.cluster.workloads:
        for i in analyzer.workload_classes.get(w.id, []):
            for mem in analyzer.class_members.get((w.id, i), []):
                name = mem.name or f"{w.name} (template)"
                eid = f"{w.namespace}/{name}"
                if eid in cls_of:
                    continue
                cls_of[eid] = i
                eps.append(Endpoint(eid, "Pod", w.namespace, name, mem.labels, group=w.namespace,
                                    extra=(("class", i), ("workload", w.id))))
    atoms = {a.id: a for a in [*analyzer.atoms, *analyzer.fqdn_atoms]}
    eps.extend(e for e in m.endpoints if e.is_external)
    memo: dict[tuple[object, object], Cell | None] = {}

    def cell(s: str, d: str) -> Cell | None:
        a = cls_of.get(s, atoms.get(s))
        b = cls_of.get(d, atoms.get(d))
        key = (s if not isinstance(a, int) else a, d if not isinstance(b, int) else b)
        if key in memo:
            return memo[key]
        if a is None or b is None or (not isinstance(a, int) and not isinstance(b, int)):
            out = None
        elif isinstance(a, int) and isinstance(b, int):
            c = analyzer.class_allows(a, b)
            out = Cell(c, analyzer._uncertain(s, d)) if c else None
        else:
            out = m.cells.get((s, analyzer.class_workloads[b][0].id)) if isinstance(b, int) else \
                m.cells.get((analyzer.class_workloads[a][0].id, d))  # type: ignore[index]
            if out is not None:
                v = analyzer.verdict_classes(a, b, s, d)
                out = Cell(v.allowed, out.uncertain) if v.allowed else None
        memo[key] = out
        return out

    return eps, cell
