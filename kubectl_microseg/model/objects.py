"""Provides SourceObject: one raw Kubernetes object (a plain dict) with the place it came from.

Every source (manifest files, the demo, the live cluster) produces SourceObjects; the core turns them
into the model (``model.cluster.build_cluster``). Objects stay plain dicts until then: the kubernetes
client's typed models reject unknown fields, and raw dicts let the core give located messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Origin


@dataclass(frozen=True)
class SourceObject:
    """A raw object (``apiVersion``, ``kind``, ``metadata``, ...) and its origin."""

    raw: dict[str, Any]
    origin: Origin = field(default_factory=Origin)

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

    def key(self) -> tuple[str, str, str]:
        """(kind, namespace or '', name): identity of the object, as the API server keys it."""
        return (self.kind, self.namespace or "", self.name)
