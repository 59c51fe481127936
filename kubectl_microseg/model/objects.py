"""Provides SourceObject: one raw Kubernetes object (a plain dict) with the place it came from.

Every source (manifest files, the demo, the live cluster) produces SourceObjects; the core turns them
into the model (``model.cluster.build_cluster``). Objects stay plain dicts until then: the kubernetes
client's typed models reject unknown fields, and raw dicts let the core give located messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from ..errors import InputError, Origin

FieldPath = tuple[Any, ...]
"""Where a field is in a raw object: keys and list indexes from the top (``("spec", "ingress", 0, "from")``)."""

Locate = Callable[[FieldPath], "int | None"]

ObjectKey = tuple[str, str, str]
"""An object's identity: (kind, namespace or '', name)."""

CLUSTER_SCOPED = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding", "AdminNetworkPolicy",
                            "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy", "IngressClass", "Node",
                            "CiliumClusterwideNetworkPolicy", "CiliumCIDRGroup",
                            "GlobalNetworkPolicy", "GlobalNetworkSet", "Tier", "StagedGlobalNetworkPolicy"})
"""Kinds without a namespace (everything else defaults to the namespace given, like kubectl)."""

QUALIFIED_GROUPS = frozenset(("projectcalico.org", "crd.projectcalico.org"))
"""API groups whose kinds carry the group in object keys (Calico's NetworkPolicy is not Kubernetes')."""


@dataclass(frozen=True)
class SourceObject:
    """A raw object (``apiVersion``, ``kind``, ``metadata``, ...) and its origin."""

    raw: dict[str, Any]
    origin: Origin = field(default_factory=Origin)
    locate: Locate | None = field(default=None, compare=False, repr=False)
    """Maps a field path inside ``raw`` to its 1-based line in the file (None where unknown)."""

    @property
    def kind(self) -> str:
        return str(self.raw.get("kind") or "")

    @property
    def name(self) -> str:
        meta = self.raw.get("metadata")
        return str(meta.get("name") or "") if isinstance(meta, dict) else ""

    @property
    def namespace(self) -> str | None:
        meta = self.raw.get("metadata")
        ns = meta.get("namespace") if isinstance(meta, dict) else None
        return str(ns) if ns else None

    @property
    def group(self) -> str:
        """The API group ('' for the core group): ``networking.k8s.io`` of ``networking.k8s.io/v1``."""
        return str(self.raw.get("apiVersion") or "").rpartition("/")[0]

    @property
    def key_kind(self) -> str:
        """The kind as object keys hold it: ``Kind.group`` for the groups in ``QUALIFIED_GROUPS``, whose kinds
        share names with Kubernetes' (a projectcalico.org NetworkPolicy and a networking.k8s.io one may have
        the same namespace and name and are different objects), the bare kind otherwise."""
        group = self.group
        return f"{self.kind}.{group}" if group in QUALIFIED_GROUPS else self.kind

    def key(self) -> ObjectKey:
        """(kind, namespace or '', name): identity of the object, as the API server keys it (the kind
        qualified by its API group where names clash: ``key_kind``)."""
        return (self.key_kind, self.namespace or "", self.name)

    def line_of(self, path: FieldPath) -> int | None:
        """The line of the field at ``path`` (or of its nearest known parent)."""
        if self.locate is None:
            return self.origin.line
        return self.locate(path)

    def error(self, path: FieldPath, message: str) -> InputError:
        """A located InputError for the field at ``path`` (the caller raises it)."""
        from .policy import format_path

        return InputError(message, self.origin, line=self.line_of(path), path=format_path(path) if path else None)

    def locate_item(self, index: int) -> Locate | None:
        """The locator of item ``index`` of a List object."""
        if self.locate is None:
            return None
        outer = self.locate
        return lambda path: outer(("items", index) + tuple(path))
