"""Provides simulation: a set of objects plus changes -> the new set, and the diff between two sets.

``apply_changes`` is what ``kubectl apply`` and ``kubectl delete`` would do to the objects' identities:
an object of the changes replaces the base object with the same (kind, namespace, name), or is added;
a deletion removes a NetworkPolicy. ``compare`` turns two object sets (or two analyzers) into a
``MatrixDiff`` with causes and guard findings. The CLI commands (simulate, diff, apply) and the TUI's
simulate view all use these two functions. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Iterable

from ..errors import BadDeletion, UnknownDeletion
from ..model.cluster import expand_lists
from ..model.objects import CLUSTER_SCOPED, ObjectKey, SourceObject
from ..model.snapshot import Snapshot
from ..vocab import ChangeAction
from .analyze import analyze
from .causes import attribute
from .diff import MatrixDiff, diff_matrices
from .guards import ExpectedFlow, run_guards
from .k8s import Analyzer, Options

@dataclass(frozen=True)
class Deletion:
    """A NetworkPolicy to delete, by namespace and name."""

    namespace: str
    name: str
    kind: str = "NetworkPolicy"

    @classmethod
    def parse(cls, text: str, default_namespace: str = "default") -> Deletion:
        """'ns/name' or 'name' (in ``default_namespace``)."""
        parts = text.strip().split("/")
        if len(parts) == 1 and parts[0]:
            return cls(default_namespace, parts[0])
        if len(parts) == 2 and all(parts):
            return cls(parts[0], parts[1])
        raise BadDeletion(text)

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class ObjectChange:
    """What happened to one object: added, replaced or deleted."""

    action: ChangeAction
    kind: str
    namespace: str
    name: str
    origin: str = ""
    """Where the new object came from ('file.yaml, document 2'), empty for deletions."""

    def describe(self) -> str:
        what = f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"
        return f"{self.action} {what}" + (f" ({self.origin})" if self.origin else "")


@dataclass
class Simulation:
    """The new object set and the list of changes that produced it."""

    objects: list[SourceObject]
    changes: list[ObjectChange] = field(default_factory=list)


def object_key(obj: SourceObject, default_namespace: str = "default") -> ObjectKey:
    """(kind, namespace, name) with kubectl's defaulting: namespaced kinds without one get the default. The
    kind is qualified by its API group where names clash (``SourceObject.key_kind``: a Calico NetworkPolicy
    is not the Kubernetes NetworkPolicy of the same name)."""
    ns = "" if obj.kind in CLUSTER_SCOPED else (obj.namespace or default_namespace)
    return (obj.key_kind, ns, obj.name)


def apply_changes(base: Iterable[SourceObject], changed: Iterable[SourceObject] = (),
                  deletions: Iterable[Deletion] = (), *, default_namespace: str = "default") -> Simulation:
    """The objects after applying ``changed`` (add or replace) and ``deletions`` to ``base``.

    Raises:
        UnknownDeletion: a deletion names a NetworkPolicy that is in neither the base nor the changes.
    """
    objs = expand_lists(base)
    index = {object_key(o, default_namespace): i for i, o in enumerate(objs)}
    out: list[SourceObject | None] = list(objs)
    changes: list[ObjectChange] = []
    for obj in expand_lists(changed):
        key = object_key(obj, default_namespace)
        if not obj.namespace and obj.kind not in CLUSTER_SCOPED and isinstance(obj.raw.get("metadata"), dict):
            obj = SourceObject({**obj.raw, "metadata": {**obj.raw["metadata"], "namespace": key[1]}},
                               obj.origin, obj.locate)
        where = obj.origin.describe()
        if key in index and out[index[key]] is not None:
            out[index[key]] = obj
            changes.append(ObjectChange(ChangeAction.REPLACE, obj.kind, key[1], key[2], where))
        else:
            index[key] = len(out)
            out.append(obj)
            changes.append(ObjectChange(ChangeAction.ADD, obj.kind, key[1], key[2], where))
    for d in deletions:
        key = (d.kind, d.namespace, d.name)
        if key not in index or out[index[key]] is None:
            raise UnknownDeletion(d.id)
        out[index[key]] = None
        changes.append(ObjectChange(ChangeAction.DELETE, d.kind.partition(".")[0], d.namespace, d.name))
    return Simulation([o for o in out if o is not None], changes)


def compare(before: Analyzer, after: Analyzer, *, expectations: Iterable[ExpectedFlow] = (),
            external: bool = True, before_title: str = "before", after_title: str = "after") -> MatrixDiff:
    """The connectivity diff between two analyzed states, with causes and guard findings."""
    mb = before.matrix(external=external)
    ma = after.matrix(external=external)
    diff = diff_matrices(mb, ma)
    diff.before_title, diff.after_title = before_title, after_title
    attribute(diff, before, after)
    diff.findings = run_guards(diff, mb, ma, before, after, expectations)
    diff.notes = list(dict.fromkeys(list(before.cluster.notes) + list(after.cluster.notes)))
    from .guards import mesh_guards
    from .mesh import MeshAnalyzer, annotate, mesh_changes

    mesh_b, mesh_a = MeshAnalyzer(before.cluster, before.options.mesh), MeshAnalyzer(after.cluster, after.options.mesh)
    if mesh_b.active or mesh_a.active:  # the service-mesh layer on top (docs/mesh.md): its changes too
        diff.mesh_changes = mesh_changes(annotate(mb, mesh_b), annotate(ma, mesh_a), mesh_b, mesh_a)
        diff.findings.extend(mesh_guards(diff.mesh_changes))
    return diff


def simulate(base: Iterable[SourceObject], changed: Iterable[SourceObject] = (), deletions: Iterable[Deletion] = (),
             *, options: Options | None = None, expectations: Iterable[ExpectedFlow] = (),
             default_namespace: str = "default", base_title: str = "current") -> tuple[MatrixDiff, Simulation]:
    """Base objects + changes -> (the diff from base to the changed state, the simulation)."""
    base = list(base)
    sim = apply_changes(base, changed, deletions, default_namespace=default_namespace)
    before = analyze(Snapshot(base, base_title), options)
    after = analyze(Snapshot(sim.objects, base_title), options)
    diff = compare(before, after, expectations=expectations, before_title=base_title,
                   after_title=f"{base_title} with {len(sim.changes)} change(s)")
    return diff, sim
