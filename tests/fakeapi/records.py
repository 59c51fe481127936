"""Provides RecordedRequest (what the fake server received) and small helpers shared by its modules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from .resources import Resource


@dataclass
class RecordedRequest:
    """One request the server received (for assertions)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    verb: str = ""
    """The Kubernetes verb: get, list, watch, create, patch, update, delete ('' if not a resource)."""
    resource: str = ""
    namespace: str | None = None
    status: int = 0

    def json(self) -> Any:
        """The request body parsed as YAML/JSON (None if empty)."""
        return yaml.safe_load(self.body) if self.body else None


def typed(obj: dict[str, Any], res: Resource) -> dict[str, Any]:
    """The object with ``kind`` and ``apiVersion`` first (as in watch events and single GETs)."""
    out = {"kind": res.kind, "apiVersion": res.api_version}
    out.update({k: v for k, v in obj.items() if k not in ("kind", "apiVersion")})
    return out


def truthy(v: str | None) -> bool:
    """A boolean query parameter as the API server reads it ('true' or '1')."""
    return v is not None and v.lower() in ("true", "1")
