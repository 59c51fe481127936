"""Provides the connectivity audit trail: who changed which policy, and what it did to connectivity.

``AuditTrail`` follows a live source's events (``sources.Event``) on top of a ``live.LiveState``. Events
about other objects (pods, namespaces, workloads) only update the state. Each policy event becomes an
``AuditRecord``: the object, who changed it as far as the API says, and the connectivity diff it caused
(``engine.simulate.compare``: the matrix before and after, with the rules responsible).

Who changed it: Kubernetes does not store the user. It stores ``metadata.managedFields``: per field
manager (the client's name, e.g. ``kubectl``, ``kubectl-client-side-apply``, ``helm``, ``argocd-controller``)
the operation (Apply or Update) and the time of its last change. The entry with the latest time names
the last writer; annotations that tools set (``kubernetes.io/change-cause``, Helm's release, Argo CD's
tracking id, ``*/changed-by``) are reported alongside. For a deletion, the API says nothing about who
deleted; the record says so and shows the last writer of the deleted object. The user behind a change
is in the API server's audit log, not in the object.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field, replace
from typing import Any

from .engine.diff import MatrixDiff
from .engine.incremental import LiveModel
from .engine.analyze import analyze
from .engine.k8s import Options
from .errors import MicrosegError
from .live import LiveState
from .model.objects import SourceObject
from .sources import Event, Snapshot
from .vocab import EventType

POLICY_KINDS = ("NetworkPolicy", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy")
WHO_ANNOTATIONS = ("kubernetes.io/change-cause", "meta.helm.sh/release-name", "meta.helm.sh/release-namespace",
                   "argocd.argoproj.io/tracking-id", "kustomize.toolkit.fluxcd.io/name",
                   "kustomize.toolkit.fluxcd.io/namespace")
"""Annotations that tell which tool or change wrote an object."""
WHO_SUFFIXES = ("changed-by", "author", "owner", "requested-by", "ticket", "change-request")
"""Annotation name parts (after the prefix) that people use to record who asked for a change."""
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclass(frozen=True)
class Writer:
    """One field manager of an object (an entry of metadata.managedFields)."""

    manager: str
    operation: str
    time: str | None
    subresource: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"manager": self.manager, "operation": self.operation, "time": self.time}
        if self.subresource:
            out["subresource"] = self.subresource
        return out

    def describe(self) -> str:
        when = f" at {self.time}" if self.time else ""
        sub = f" of {self.subresource}" if self.subresource else ""
        return f"{self.manager} ({self.operation}{sub}{when})"


def writers(raw: dict[str, Any]) -> list[Writer]:
    """The object's field managers, latest change last (stable for equal times)."""
    meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    entries = meta.get("managedFields") if isinstance(meta, dict) else None
    out = [Writer(str(m.get("manager") or "?"), str(m.get("operation") or "?"), m.get("time"), m.get("subresource"))
           for m in entries or [] if isinstance(m, dict)]
    return sorted(out, key=lambda w: w.time or "")


def who_annotations(raw: dict[str, Any]) -> dict[str, str]:
    """The annotations that say which tool, release or person changed the object."""
    meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    ann = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(ann, dict):
        return {}
    out = {}
    for k, v in sorted(ann.items()):
        name = str(k).rpartition("/")[2].lower()
        if k in WHO_ANNOTATIONS or name in WHO_SUFFIXES:
            out[str(k)] = str(v)
    return out


def changed_by(raw: dict[str, Any], event_type: EventType) -> dict[str, Any]:
    """What the API says about who made this change (the ``changedBy`` of a record)."""
    ws = writers(raw)
    ann = who_annotations(raw)
    meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    out: dict[str, Any] = {"lastWriter": ws[-1].to_dict() if ws else None,
                           "managers": [w.to_dict() for w in ws], "annotations": ann}
    if isinstance(meta, dict) and LAST_APPLIED in (meta.get("annotations") or {}):
        out["clientSideApply"] = True
    if event_type == EventType.DELETED:
        out["note"] = "the API does not record who deleted an object; lastWriter is the last change before deletion"
    elif not ws:
        out["note"] = "no managedFields: the source does not say who changed it"
    return out


def describe_who(who: dict[str, Any]) -> str:
    """'kubectl (Apply at 2024-05-01T10:00:00Z); kubernetes.io/change-cause=...'."""
    last = who.get("lastWriter")
    parts = []
    if last:
        w = Writer(last["manager"], last["operation"], last.get("time"), last.get("subresource"))
        prefix = "last written by " if "note" in who else "by "
        parts.append(prefix + w.describe())
    else:
        parts.append("by an unknown writer (no managedFields)")
    parts.extend(f"{k}={v}" for k, v in who.get("annotations", {}).items())
    return "; ".join(parts)


@dataclass
class AuditRecord:
    """One policy change: the object, who changed it, and the connectivity diff it caused."""

    time: str
    """When the change was observed (UTC, ISO 8601)."""
    type: str
    """ADDED, MODIFIED or DELETED."""
    kind: str
    namespace: str | None
    name: str
    resource_version: str | None
    who: dict[str, Any]
    diff: MatrixDiff | None
    metadata_only: bool = False
    """Only annotations or labels of the policy changed: connectivity cannot change."""
    error: str | None = None
    """The state after the change could not be analysed (the diff is then unknown)."""
    notes: list[str] = field(default_factory=list)

    @property
    def object_id(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def to_dict(self) -> dict[str, Any]:
        """One JSON line of ``audit --log``."""
        out: dict[str, Any] = {"kind": "PolicyChange", "time": self.time, "type": self.type,
                               "object": {"kind": self.kind, "namespace": self.namespace, "name": self.name,
                                          "resourceVersion": self.resource_version},
                               "changedBy": self.who}
        if self.diff is not None:
            d = self.diff.to_dict()
            out["connectivity"] = {k: d[k] for k in ("summary", "added", "removed", "changed", "endpointsAdded",
                                                     "endpointsRemoved")}
        else:
            out["connectivity"] = None
        if self.metadata_only:
            out["metadataOnly"] = True
        if self.error:
            out["error"] = self.error
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _labels_annotations(raw: dict[str, Any] | None) -> Any:
    meta = m if raw and isinstance(m := raw.get("metadata"), dict) else {}
    return (meta.get("labels"), meta.get("annotations"))


class AuditTrail:
    """Turns a live source's events into AuditRecords (see the module docstring).

    The analysis is the live path's incremental model (``engine.incremental.LiveModel``, with its object
    store): ``audit --watch`` gives it its own, the TUI shares the one its matrix is drawn from. A policy
    change's diff is taken on that model: the state after the change, then the policy put back as it was
    (one namespace re-analysed), then the change applied again. No full analysis is built, except for
    cluster-wide policies (the model rebuilds for those anyway) whose "before" is analysed on its own.
    """

    def __init__(self, snapshot: Snapshot, options: Options | None = None, *, live: LiveState | None = None,
                 model: LiveModel | None = None, external: bool = True):
        self.live = live if live is not None else LiveState(snapshot)
        self.options = options or Options()
        self._model = model
        self._snapshot_objects = snapshot.objects if model is None else None
        self._source = Snapshot([], snapshot.description, list(snapshot.notes))
        """What the snapshot said of itself (its notes), for the analyses of a 'before' state."""
        self.external = external

    @property
    def model(self) -> LiveModel:
        """The incremental model of the current state (built on first use when not shared)."""
        if self._model is None:
            self._model = LiveModel(self._snapshot_objects or [], self.options)
            self._snapshot_objects = None
        return self._model

    @model.setter
    def model(self, model: LiveModel) -> None:
        self._model = model

    def handle(self, event: Event, now: str | None = None) -> AuditRecord | None:
        """Apply one event (to the state and the model); a record when it changed a policy, else None."""
        obj = event.obj
        if event.type == EventType.STATE or obj is None:
            self.live.apply(event)
            return None
        old = self.live.objects.get(obj.key())
        change = self.live.apply(event)
        if change.relevant:
            try:
                if event.type == EventType.DELETED:
                    self.model.apply((), [obj.key()])
                else:
                    self.model.apply([obj])
            except MicrosegError:
                self._model = None  # analysed again from the current objects at the next record
                self._snapshot_objects = self.live.snapshot().objects
        if obj.kind not in POLICY_KINDS:
            return None
        return self.record(event, old, change.relevant, now)

    def record(self, event: Event, old: SourceObject | None, relevant: bool, now: str | None = None) -> AuditRecord | None:
        """The record of one policy event whose change the model already holds (``old``: the object before)."""
        obj = event.obj
        assert obj is not None
        meta_changed = event.type == EventType.MODIFIED and old is not None and \
            _labels_annotations(old.raw) != _labels_annotations(obj.raw)
        if not relevant and not meta_changed:
            return None
        meta = m if isinstance(m := obj.raw.get("metadata"), dict) else {}
        rec = AuditRecord(now or utc_now(), event.type, obj.kind, obj.namespace, obj.name,
                          str(meta.get("resourceVersion")) if meta.get("resourceVersion") else None,
                          changed_by(obj.raw, event.type), None)
        if not relevant:
            rec.metadata_only = True
            return rec
        try:
            model = self.model
        except MicrosegError as exc:
            rec.error = f"the state after this change cannot be analysed: {exc}"
            return rec
        try:
            rec.diff = self._diff(model, obj.key(), old)
        except MicrosegError as exc:
            rec.error = f"the state before this change could not be analysed: {exc}"
            return rec
        if self.live.stale:
            rec.notes.append(f"the watch was {self.live.state}: changes may have been missed before this one")
        return rec

    def _diff(self, model: LiveModel, key: tuple[str, str, str], old: SourceObject | None) -> MatrixDiff:
        """The connectivity diff of putting ``old`` back (None: deleting ``key``), the model's state being after."""
        from .engine.causes import attribute_sides, side
        from .engine.diff import diff_matrices
        from .engine.guards import cluster_findings_from, dns_findings, exposures, internet_findings
        from .engine.incremental import REBUILD_KINDS
        from .engine.simulate import compare

        current = model.objects.get(key)
        after_an = model.analyzer
        ma = model.matrix(external=self.external)
        if key[0] in REBUILD_KINDS:  # the model rebuilds for these: its "before" is analysed on its own
            objects = {k: o for k, o in model.objects.items() if k != key}
            if old is not None:
                objects[key] = old
            before_an = analyze(replace(self._source, objects=list(objects.values())), model.options)
            return compare(before_an, after_an, external=self.external, before_title="before", after_title="after")
        ns = {key[1] or "default"}
        exp_a, notes_a = exposures(after_an, ns), list(after_an.cluster.notes)
        model.apply([old] if old is not None else [], [key] if old is None else [])  # back to before
        try:
            mb = model.matrix(external=self.external)
            diff = diff_matrices(mb, ma)
            diff.before_title, diff.after_title = "before", "after"
            side_b, exp_b, notes_b = side(diff, model.analyzer), exposures(model.analyzer, ns), list(model.cluster.notes)
        finally:
            model.apply([current] if current is not None else [], [key] if current is None else [])  # after again
        attribute_sides(diff, side_b, side(diff, model.analyzer))
        diff.findings = dns_findings(mb, ma) + cluster_findings_from(exp_b, exp_a) + internet_findings(diff)
        diff.notes = list(dict.fromkeys(notes_b + notes_a))
        return diff


def render_record(rec: AuditRecord) -> str:
    """The text form of one record (several lines)."""
    from .render.diff import ports_text

    rv = f" (resourceVersion {rec.resource_version})" if rec.resource_version else ""
    lines = [f"{rec.time} {rec.type} {rec.kind} {rec.object_id}{rv}", f"  {describe_who(rec.who)}"]
    if rec.who.get("note"):
        lines.append(f"  note: {rec.who['note']}")
    if rec.error:
        lines.append(f"  connectivity: unknown ({rec.error})")
    elif rec.metadata_only:
        lines.append("  connectivity: unchanged (only labels or annotations of the policy changed)")
    elif rec.diff is not None:
        d = rec.diff
        pairs = d.removed + d.added + d.changed
        if not pairs:
            lines.append("  connectivity: unchanged")
        else:
            lines.append(f"  connectivity: {len(d.added)} newly allowed, {len(d.removed)} newly denied, "
                         f"{len(d.changed)} with ports changed")
            mark = {"added": "+", "removed": "-", "changed": "~"}
            for p in sorted(pairs, key=lambda p: ("-+~".index(mark[p.kind]), p.src, p.dst)):
                lines.append(f"    {mark[p.kind]} {p.src} -> {p.dst}: {ports_text(p)}")
    lines.extend(f"  note: {n}" for n in rec.notes)
    return "\n".join(lines) + "\n"
