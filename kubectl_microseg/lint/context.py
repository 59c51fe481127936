"""Provides LintContext: the analyzed cluster plus what rules need to point at objects and lines.

Rules stay pure: file text (for YAML comments) comes through ``read_lines``, which the command supplies
(and tests replace). Everything else is read from the engine's public attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable, Iterable

from ..engine.k8s import Analyzer
from ..model.cluster import Cluster, PolicyEntry, Workload
from ..model.objects import FieldPath, SourceObject
from ..model.policy import format_path
from .finding import Finding, Location, RuleInfo

ReadLines = Callable[[str], "list[str] | None"]


def no_files(_path: str) -> list[str] | None:
    """A ``read_lines`` that knows no file (comments are then never found)."""
    return None


@dataclass
class LintContext:
    """One lint run over one cluster model."""

    analyzer: Analyzer
    read_lines: ReadLines = no_files
    partial: bool = False
    """The view lacks objects that exist (unreadable kinds or namespaces): rules that report something
    missing ("matches no namespace", "cannot reach DNS") cannot tell, and do not run."""
    _lines: dict[str, list[str] | None] = field(default_factory=dict, repr=False)

    @property
    def cluster(self) -> Cluster:
        return self.analyzer.cluster

    # -- objects and places ------------------------------------------------------------------------
    def location(self, source: SourceObject | None, path: FieldPath = ()) -> Location:
        """File and line of ``path`` inside ``source`` (the object's first line when path is empty)."""
        if source is None:
            return Location()
        o = source.origin
        if o.file is None:
            return Location(cluster=o.cluster)
        return Location(o.file, source.line_of(path))

    def finding(self, info: RuleInfo, message: str, obj: str, source: SourceObject | None, path: FieldPath = (),
                fix: str = "", severity: str | None = None) -> Finding:
        """A Finding of rule ``info`` located at ``path`` inside ``source``."""
        return Finding(info.id, severity or info.severity, message, obj, self.location(source, path), fix,
                       format_path(path) if path else None)

    def lines_of(self, file: str) -> list[str] | None:
        """The lines of a source file (cached), or None when it cannot be read."""
        if file not in self._lines:
            self._lines[file] = self.read_lines(file)
        return self._lines[file]

    # -- workloads ---------------------------------------------------------------------------------
    def pod_workloads(self) -> list[Workload]:
        """Workloads that NetworkPolicies can select (hostNetwork ones are the node's traffic)."""
        a = self.analyzer
        return [w for w in self.cluster.workloads
                if any(not a.classes[c].host_network for c in a.workload_classes[w.id])]

    def namespace_has_pods(self, namespace: str) -> bool:
        """True when the input has a pod (or template) of ``namespace`` that policies can select."""
        return any(not self.analyzer.classes[i].host_network for i in self.analyzer.by_namespace.get(namespace, ()))

    def policies(self) -> Iterable[PolicyEntry]:
        return self.cluster.policies


def workload_ref(w: Workload) -> str:
    """'CronJob batch/report-generator'."""
    return f"{w.kind} {w.namespace}/{w.name}"


def policy_ref(entry: PolicyEntry) -> str:
    """'NetworkPolicy monitoring/grafana'."""
    return f"NetworkPolicy {entry.policy.namespace}/{entry.policy.name}"
